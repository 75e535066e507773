#include "fakes/recording_discard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int rd_queue(void *be, const struct gmem_region *region,
		    uint64_t offset, uint64_t len, void *cookie)
{
	struct recording_discard *rd = be;
	if (rd->queue_err)
		return rd->queue_err;
	if (!region || len == 0 || offset % GMEM_PAGE_SIZE ||
	    len % GMEM_PAGE_SIZE || offset > region->len ||
	    len > region->len - offset)
		return -EINVAL;
	if (rd->nr == rd->cap) {
		unsigned cap = rd->cap ? rd->cap * 2 : 64;
		void *p = realloc(rd->ranges, cap * sizeof(*rd->ranges));
		if (!p)
			return -ENOMEM;
		rd->ranges = p;
		rd->cap = cap;
	}
	rd->ranges[rd->nr++] = (struct recording_discard_range){
		.region = region, .gpa = region->gpa + offset,
		.offset = offset, .len = len, .cookie = cookie,
	};
	return 0;
}

static int rd_submit(void *be)
{
	struct recording_discard *rd = be;
	rd->submits++;
	for (unsigned i = 0; i < rd->nr && !rd->hold; i++)
		rd->ranges[i].submitted = true;
	if (rd->auto_complete)
		recording_discard_complete_all(rd, 0);
	return 0;
}

static int rd_reap(void *be)
{
	(void)be;
	return 0;
}

static int rd_eventfd(void *be)
{
	(void)be;
	return -1;
}

static bool cookie_pending(const struct recording_discard *rd, void *cookie)
{
	for (unsigned i = 0; i < rd->nr; i++)
		if (rd->ranges[i].cookie == cookie && !rd->ranges[i].completed)
			return true;
	return false;
}

/* Drops ranges never submitted; a cookie left with nothing pending gets
 * done(-ECANCELED), as core/discard.h says. */
static int rd_cancel(void *be)
{
	struct recording_discard *rd = be;
	void *dropped[256];
	unsigned nd = 0, out = 0;
	for (unsigned i = 0; i < rd->nr; i++) {
		struct recording_discard_range *r = &rd->ranges[i];
		if (r->submitted || r->completed) {
			rd->ranges[out++] = *r;
			continue;
		}
		rd->cancels++;
		bool seen = false;
		for (unsigned j = 0; j < nd; j++)
			seen |= dropped[j] == r->cookie;
		if (!seen && nd < 256)
			dropped[nd++] = r->cookie;
	}
	rd->nr = out;
	for (unsigned j = 0; j < nd; j++) {
		if (cookie_pending(rd, dropped[j]))
			continue;
		rd->done_calls++;
		rd->done(dropped[j], -ECANCELED);
	}
	return 0;
}

static const struct discard_ops rd_ops = {
	.queue = rd_queue,
	.submit = rd_submit,
	.reap = rd_reap,
	.eventfd = rd_eventfd,
	.cancel = rd_cancel,
};

void recording_discard_init(struct recording_discard *rd, discard_done_fn done)
{
	memset(rd, 0, sizeof(*rd));
	rd->iface.ops = &rd_ops;
	rd->iface.be = rd;
	rd->done = done;
}

void recording_discard_destroy(struct recording_discard *rd)
{
	free(rd->ranges);
	memset(rd, 0, sizeof(*rd));
}

void recording_discard_clear_completed(struct recording_discard *rd)
{
	unsigned out = 0;
	for (unsigned i = 0; i < rd->nr; i++)
		if (!rd->ranges[i].completed)
			rd->ranges[out++] = rd->ranges[i];
	rd->nr = out;
}

/* Marks the cookie's submitted ranges complete; true if any. */
static bool complete_ranges(struct recording_discard *rd, void *cookie)
{
	bool any = false;
	for (unsigned i = 0; i < rd->nr; i++) {
		struct recording_discard_range *r = &rd->ranges[i];
		if (r->cookie != cookie || !r->submitted || r->completed)
			continue;
		if (rd->zero_fill)
			memset(r->region->hva + r->offset, 0, r->len);
		r->completed = true;
		any = true;
	}
	return any;
}

bool recording_discard_complete_cookie(struct recording_discard *rd,
				       void *cookie, int err)
{
	if (!complete_ranges(rd, cookie))
		return false;
	rd->done_calls++;
	/* done may queue and submit again: it sees a consistent list. */
	rd->done(cookie, err);
	return true;
}

unsigned recording_discard_complete_all(struct recording_discard *rd, int err)
{
	void *cookies[256];
	unsigned calls = 0, n;
	/* Snapshot the cookies first: done callbacks may add new ranges. */
	while ((n = recording_discard_pending_cookies(rd, cookies, 256)) > 0) {
		for (unsigned i = 0; i < n; i++)
			calls += recording_discard_complete_cookie(rd, cookies[i],
								   err);
		if (n < 256)
			break;
	}
	return calls;
}

unsigned recording_discard_pending(const struct recording_discard *rd)
{
	unsigned n = 0;
	for (unsigned i = 0; i < rd->nr; i++)
		n += rd->ranges[i].submitted && !rd->ranges[i].completed;
	return n;
}

unsigned recording_discard_pending_cookies(const struct recording_discard *rd,
					   void **out, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < rd->nr && n < max; i++) {
		const struct recording_discard_range *r = &rd->ranges[i];
		if (!r->submitted || r->completed)
			continue;
		bool seen = false;
		for (unsigned j = 0; j < n; j++)
			seen |= out[j] == r->cookie;
		if (!seen)
			out[n++] = r->cookie;
	}
	return n;
}
