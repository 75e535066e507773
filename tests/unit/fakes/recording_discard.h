/* A discard backend for tests: records every queued range and completes
 * them only when the test says so (or inside submit, like the synchronous
 * backend, when auto_complete is set). done(cookie, err) runs once per
 * cookie after all of its submitted ranges completed, as core/discard.h
 * requires. Optionally zero-fills completed ranges, as MADV_DONTNEED would
 * make them read back. */
#ifndef TESTS_FAKES_RECORDING_DISCARD_H
#define TESTS_FAKES_RECORDING_DISCARD_H

#include <core/discard.h>
#include <core/gmem.h>

#include <stdbool.h>
#include <stdint.h>

struct recording_discard_range {
	const struct gmem_region *region;
	uint64_t gpa; /* region->gpa + offset */
	uint64_t offset, len;
	void *cookie;
	bool submitted;
	bool completed;
};

struct recording_discard {
	struct discard iface;
	discard_done_fn done;
	bool auto_complete; /* complete inside submit (sync backend) */
	bool hold;          /* submit leaves ranges waiting (a full ring) */
	bool zero_fill;     /* memset completed ranges to 0 */
	int queue_err;      /* non-zero: queue() fails with it */
	struct recording_discard_range *ranges;
	unsigned nr, cap;
	unsigned submits, done_calls;
	unsigned cancels;   /* ranges dropped by cancel() */
};

void recording_discard_init(struct recording_discard *rd, discard_done_fn done);
void recording_discard_destroy(struct recording_discard *rd);
/* Forgets the recorded ranges (keeps pending ones pending). */
void recording_discard_clear_completed(struct recording_discard *rd);

/* Completes every submitted range of cookie, then calls done once. Returns
 * false if the cookie had no pending submitted range. */
bool recording_discard_complete_cookie(struct recording_discard *rd,
				       void *cookie, int err);
/* Completes every submitted range; done once per cookie. Returns the number
 * of done calls. */
unsigned recording_discard_complete_all(struct recording_discard *rd, int err);
/* Submitted ranges not completed yet. */
unsigned recording_discard_pending(const struct recording_discard *rd);
/* Distinct cookies with pending ranges, at most max written to out. */
unsigned recording_discard_pending_cookies(const struct recording_discard *rd,
					   void **out, unsigned max);

#endif
