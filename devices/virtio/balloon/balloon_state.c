/* Snapshot save/restore of the balloon. The state file is untrusted input:
 * every field is checked against the config this balloon was made with,
 * against the restored transport, and against what the device itself can
 * reach, before anything changes. */
#include "balloon_queue.h"

#include <core/checked.h>
#include <core/clock.h>
#include <core/err.h>
#include <core/io.h>

#include <errno.h>
#include <stddef.h>
#include <string.h>

/* Raw bytes in the state file: the layout is part of the file format. */
_Static_assert(sizeof(struct balloon_state_config) == 16,
	       "balloon_state_config layout");
_Static_assert(offsetof(struct balloon_state, stats_val) == 64,
	       "balloon_state layout");
_Static_assert(offsetof(struct balloon_state, hint_last_id) == 204,
	       "balloon_state layout");
_Static_assert(sizeof(struct balloon_state) == 224, "balloon_state layout");
_Static_assert(BALLOON_STATS_NR <= 32, "stats_present is 32 bits");

static void save_config(const struct balloon_config *c,
			struct balloon_state_config *sc)
{
	sc->amount_mib = c->amount_mib;
	sc->stats_polling_interval_s = c->stats_polling_interval_s;
	sc->deflate_on_oom = c->deflate_on_oom;
	sc->free_page_reporting = c->free_page_reporting;
	sc->free_page_hinting = c->free_page_hinting;
	sc->require_must_tell_host = c->require_must_tell_host;
	sc->pinned = c->pin.ops != NULL;
}

int balloon_save(struct balloon *b, struct balloon_state *st)
{
	const struct virtio_host *h = balloon_host_lock(b);
	/* Orphans and parked deflates count too: all wait on the engine. */
	if (b->inflight) {
		balloon_host_unlock(h);
		return -EBUSY;
	}
	memset(st, 0, sizeof(*st));
	save_config(&b->cfg, &st->cfg);
	st->num_pages = atomic_load(&b->num_pages);
	st->actual = atomic_load(&b->actual);
	st->poison_val = b->poison_val;
	st->free_page_hint_cmd_id = b->free_page_hint_cmd_id;
	st->offered_features = balloon_features_offered(&b->cfg);
	st->features = atomic_load(&b->features);
	st->stats_interval_s = atomic_load(&b->stats_interval_s);
	st->active = b->active;
	st->broken = b->broken;
	st->stats_held = b->stats_held;
	st->stats_head = b->stats_held ? b->stats_head : 0;
	if (b->stats.valid) {
		st->stats_valid = 1;
		st->stats_present = b->stats.present;
		memcpy(st->stats_val, b->stats.val, sizeof(st->stats_val));
		st->stats_update_sec = b->stats.last_update_realtime.tv_sec;
		st->stats_update_nsec =
			(uint32_t)b->stats.last_update_realtime.tv_nsec;
	}
	const struct balloon_hint *hint = &b->hint;
	st->hint_last_id = hint->last_id;
	st->hint_run_id = hint->run_id;
	st->hint_guest_run = hint->guest_run;
	st->hint_guest_cmd = hint->guest_cmd;
	st->hint_guest_cmd_valid = hint->guest_cmd_valid;
	st->hint_ack_on_stop = hint->ack_on_stop;
	st->hint_guest_stopped = hint->guest_stopped;
	st->hint_state = (uint8_t)hint->state;
	balloon_host_unlock(h);
	return 0;
}

/* ---- checks ---- */

static const char *feature_name(unsigned bit)
{
	static const char *const names[] = {
		[VIRTIO_BALLOON_F_MUST_TELL_HOST] = "VIRTIO_BALLOON_F_MUST_TELL_HOST",
		[VIRTIO_BALLOON_F_STATS_VQ] = "VIRTIO_BALLOON_F_STATS_VQ",
		[VIRTIO_BALLOON_F_DEFLATE_ON_OOM] = "VIRTIO_BALLOON_F_DEFLATE_ON_OOM",
		[VIRTIO_BALLOON_F_FREE_PAGE_HINT] = "VIRTIO_BALLOON_F_FREE_PAGE_HINT",
		[VIRTIO_BALLOON_F_PAGE_POISON] = "VIRTIO_BALLOON_F_PAGE_POISON",
		[VIRTIO_BALLOON_F_REPORTING] = "VIRTIO_BALLOON_F_REPORTING",
	};
	return bit < ARRAY_SIZE(names) && names[bit] ? names[bit]
						      : "an unknown feature";
}

static int check_flags(const struct balloon_state *st, char *err,
		       size_t errlen)
{
	const struct balloon_state_config *c = &st->cfg;
	const uint8_t flags[] = {
		c->deflate_on_oom, c->free_page_reporting, c->free_page_hinting,
		c->require_must_tell_host, c->pinned, st->active, st->broken,
		st->stats_held, st->stats_valid, st->hint_guest_cmd_valid,
		st->hint_ack_on_stop, st->hint_guest_stopped,
	};
	if (!io_all_zero(c->pad, sizeof(c->pad)) || st->pad0)
		return err_set(err, errlen, -EINVAL, "non-zero padding");
	for (size_t i = 0; i < sizeof(flags); i++)
		if (flags[i] > 1)
			return err_set(err, errlen, -EINVAL,
				       "a flag is not 0 or 1");
	return 0;
}

static int check_config(struct balloon *b, const struct balloon_state *st,
			char *err, size_t errlen)
{
	struct balloon_state_config now = {0};
	const struct balloon_state_config *was = &st->cfg;
	save_config(&b->cfg, &now);
#define SAME(field, name)                                                     \
	if (was->field != now.field)                                          \
		return err_set(err, errlen, -EINVAL,                          \
			       "the snapshot was made with %s %u, this "      \
			       "balloon is configured with %u",               \
			       name, (unsigned)was->field, (unsigned)now.field)
	SAME(amount_mib, "amount_mib");
	SAME(deflate_on_oom, "deflate_on_oom");
	SAME(stats_polling_interval_s, "stats_polling_interval_s");
	SAME(free_page_reporting, "free_page_reporting");
	SAME(free_page_hinting, "free_page_hinting");
	SAME(require_must_tell_host, "require_must_tell_host");
	SAME(pinned, "locked guest memory (mem_lock)");
#undef SAME
	uint64_t offered = balloon_features_offered(&b->cfg);
	uint64_t diff = st->offered_features ^ offered;
	if (diff) {
		unsigned bit = (unsigned)__builtin_ctzll(diff);
		bool was = st->offered_features & BALLOON_BIT(bit);
		return err_set(err, errlen, -EINVAL,
			       "%s was %s when the snapshot was made and is %s "
			       "now",
			       feature_name(bit),
			       was ? "offered" : "not offered",
			       was ? "not" : "offered");
	}
	return 0;
}

/* The cmd_id protocol as balloon_hint.c can leave it. */
static int check_hint(const struct balloon_state *st, bool negotiated,
		      char *err, size_t errlen)
{
	const uint32_t run = st->hint_run_id, cmd = st->free_page_hint_cmd_id;
	const uint8_t state = st->hint_state;

	if (st->hint_last_id == VIRTIO_BALLOON_CMD_ID_DONE)
		return err_set(err, errlen, -EINVAL,
			       "hint last_id 1 is reserved");
	if (state > BALLOON_HINT_DONE)
		return err_set(err, errlen, -EINVAL, "hint state %u unknown",
			       state);
	bool idle = state == BALLOON_HINT_IDLE;
	if (!negotiated || !st->active) {
		/* No run before activation; a reset forgets it (only the
		 * last id survives). */
		if (run || st->hint_guest_run || st->hint_guest_cmd ||
		    st->hint_guest_cmd_valid || st->hint_ack_on_stop ||
		    st->hint_guest_stopped || !idle || cmd)
			return err_set(
				err, errlen, -EINVAL,
				"hint run state without an active device "
				"that negotiated "
				"VIRTIO_BALLOON_F_FREE_PAGE_HINT");
		return 0;
	}
	if (run && run != st->hint_last_id)
		return err_set(
			err, errlen, -EINVAL,
			"hint run_id %u is not the last id handed out (%u)",
			run, st->hint_last_id);
	if (idle != (run == 0))
		return err_set(err, errlen, -EINVAL,
			       "hint state %u with run_id %u", state, run);
	if (idle && (st->hint_ack_on_stop || st->hint_guest_stopped))
		return err_set(err, errlen, -EINVAL,
			       "hint flags set with no run");
	if (cmd > VIRTIO_BALLOON_CMD_ID_DONE && cmd != run)
		return err_set(err, errlen, -EINVAL,
			       "free_page_hint_cmd_id %u is not the run id %u",
			       cmd, run);
	if ((state == BALLOON_HINT_REQUESTED || state == BALLOON_HINT_RUNNING) &&
	    cmd != run)
		return err_set(err, errlen, -EINVAL,
			       "hint run %u in progress with cmd id %u", run,
			       cmd);
	if (st->hint_guest_stopped && state != BALLOON_HINT_STOPPED &&
	    state != BALLOON_HINT_DONE)
		return err_set(err, errlen, -EINVAL,
			       "guest STOP in hint state %u", state);
	if (st->hint_guest_run == VIRTIO_BALLOON_CMD_ID_DONE)
		return err_set(err, errlen, -EINVAL,
			       "guest hint run 1 is reserved");
	if (!st->hint_guest_cmd_valid &&
	    (st->hint_guest_cmd || st->hint_guest_run))
		return err_set(err, errlen, -EINVAL,
			       "guest hint cmd without one received");
	return 0;
}

static int check_stats(const struct balloon_state *st, char *err,
		       size_t errlen)
{
	if (st->stats_present >> BALLOON_STATS_NR)
		return err_set(err, errlen, -EINVAL,
			       "stats tags above %u present",
			       BALLOON_STATS_NR - 1);
	if (!st->stats_valid &&
	    (st->stats_present || st->stats_update_sec ||
	     st->stats_update_nsec ||
	     !io_all_zero(st->stats_val, sizeof(st->stats_val))))
		return err_set(err, errlen, -EINVAL,
			       "statistics without a parsed buffer");
	if (st->stats_update_nsec >= 1000000000u)
		return err_set(err, errlen, -EINVAL,
			       "stats update time nsec %u",
			       st->stats_update_nsec);
	if (!st->stats_held && st->stats_head)
		return err_set(err, errlen, -EINVAL,
			       "stats head without a buffer");
	if (st->stats_held &&
	    (!st->active ||
	     balloon_queue_index(st->features, BALLOON_Q_STATS) < 0))
		return err_set(err, errlen, -EINVAL,
			       "a stats buffer held without an active statsq");
	return 0;
}

/* Chains popped and not yet used, per queue, must be the ones the state
 * accounts for: the held stats buffer, plus one activation may have taken
 * since (b->stats_held now). No request was in flight at save. */
static int check_in_flight(struct balloon *b, const struct balloon_state *st,
			   char *err, size_t errlen)
{
	if (!st->active || st->broken)
		return 0;
	int stats_q = balloon_queue_index(st->features, BALLOON_Q_STATS);
	for (unsigned q = 0; q < b->nr_queues; q++) {
		const struct virtq *vq = &b->queues[q];
		if (!vq->ready)
			continue;
		unsigned n = (uint16_t)(vq->last_avail - vq->used_idx);
		unsigned want = (int)q == stats_q
					? (unsigned)st->stats_held + b->stats_held
					: 0;
		if (n != want)
			return err_set(err, errlen, -EINVAL,
				       "queue %u has %u buffers in flight, the "
				       "balloon state accounts for %u",
				       q, n, want);
	}
	return 0;
}

/* Messages name the field; the public entry points prefix "balloon: ". */
static int check_state(struct balloon *b, const struct balloon_state *st,
		       char *err, size_t errlen)
{
	int r;
	if ((r = check_flags(st, err, errlen)) ||
	    (r = check_config(b, st, err, errlen)))
		return r;
	uint64_t dev_bits = st->features & ((1ULL << 24) - 1);
	if (dev_bits & ~st->offered_features)
		return err_set(err, errlen, -EINVAL,
			       "negotiated %s, which the device did not offer",
			       feature_name((unsigned)__builtin_ctzll(
				       dev_bits & ~st->offered_features)));
	if (st->broken && !st->active)
		return err_set(err, errlen, -EINVAL,
			       "broken without being active");
	if (st->num_pages % BALLOON_PAGES_PER_MIB)
		return err_set(err, errlen, -EINVAL,
			       "num_pages %u is not a whole MiB",
			       st->num_pages);
	bool hinting = st->features &
		       BALLOON_BIT(VIRTIO_BALLOON_F_FREE_PAGE_HINT);
	if ((r = check_hint(st, hinting, err, errlen)) ||
	    (r = check_stats(st, err, errlen)))
		return r;
	return 0;
}

int balloon_state_check(struct balloon *b, const struct balloon_state *st,
			char *err, size_t errlen)
{
	char why[256];
	int r = check_state(b, st, why, sizeof(why));
	return r ? err_set(err, errlen, r, "balloon: %s", why) : 0;
}

/* The parts that depend on the transport restored before. */
static int check_against_transport(struct balloon *b,
				   const struct balloon_state *st, char *err,
				   size_t errlen)
{
	uint64_t f = atomic_load(&b->features);
	if (st->features != f)
		return err_set(err, errlen, -EINVAL,
			       "negotiated features 0x%llx, the restored "
			       "transport negotiated 0x%llx (restore the "
			       "transport first)",
			       (unsigned long long)st->features,
			       (unsigned long long)f);
	if (st->active != b->active)
		return err_set(
			err, errlen, -EINVAL,
			"the device was %s, the restored transport %s it "
			"(restore the transport first)",
			st->active ? "active" : "not active",
			b->active ? "activated" : "did not activate");
	if (st->stats_held) {
		/* Active agrees with b: its queues are the transport's. */
		unsigned q = (unsigned)balloon_queue_index(st->features,
							   BALLOON_Q_STATS);
		if (q >= b->nr_queues || st->stats_head >= b->queues[q].size)
			return err_set(err, errlen, -EINVAL,
				       "stats head %u outside the stats queue",
				       st->stats_head);
	}
	return check_in_flight(b, st, err, errlen);
}

/* ---- restore ---- */

static void restore_stats(struct balloon *b, const struct balloon_state *st)
{
	if (st->stats_held) {
		int q = balloon_queue_index(st->features, BALLOON_Q_STATS);
		if (b->stats_held && !st->broken) {
			/* Activation took a buffer the guest posted before the
			 * snapshot: as the old device would have on that kick,
			 * the older one goes back. */
			balloon_complete(b, (unsigned)q, st->stats_head);
		} else {
			b->stats_held = true;
			b->stats_head = st->stats_head;
		}
	}
	/* A buffer parsed at activation is newer than the saved values. */
	if (b->stats.valid || !st->stats_valid)
		return;
	struct balloon_stats *s = &b->stats;
	memcpy(s->val, st->stats_val, sizeof(s->val));
	s->present = st->stats_present;
	s->valid = true;
	s->last_update_realtime.tv_sec = (time_t)st->stats_update_sec;
	s->last_update_realtime.tv_nsec = (long)st->stats_update_nsec;
	/* This process's clock: the buffer's age as the wall clock tells. */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	/* Untrusted seconds: an age that overflows saturates instead. */
	int64_t age_s, age_ns;
	if (__builtin_sub_overflow((int64_t)now.tv_sec, st->stats_update_sec,
				   &age_s) ||
	    __builtin_mul_overflow(age_s, (int64_t)1000000000, &age_ns) ||
	    __builtin_add_overflow(age_ns,
				   (int64_t)now.tv_nsec - st->stats_update_nsec,
				   &age_ns))
		age_ns = st->stats_update_sec > (int64_t)now.tv_sec ? -1
								   : INT64_MAX;
	uint64_t mono = clock_now_ns();
	s->last_update_monotonic_ns =
		age_ns <= 0 ? mono : mono - MIN(mono, (uint64_t)age_ns);
}

static void restore_hint(struct balloon *b, const struct balloon_state *st)
{
	struct balloon_hint *h = &b->hint;
	h->last_id = st->hint_last_id;
	h->run_id = st->hint_run_id;
	h->guest_run = st->hint_guest_run;
	h->guest_cmd = st->hint_guest_cmd;
	h->guest_cmd_valid = st->hint_guest_cmd_valid;
	h->ack_on_stop = st->hint_ack_on_stop;
	h->guest_stopped = st->hint_guest_stopped;
	h->state = (enum balloon_hint_state)st->hint_state;
	/* The bitmaps (cleared at activation) and counts start empty. */
	h->ranges = h->bytes = h->pages = 0;
	uint64_t now = clock_now_ns();
	h->start_ns = h->state != BALLOON_HINT_IDLE ? now : 0;
	h->end_ns = h->state == BALLOON_HINT_STOPPED ||
				    h->state == BALLOON_HINT_DONE
			    ? now
			    : 0;
}

int balloon_restore(struct balloon *b, const struct balloon_state *st,
		    char *err, size_t errlen)
{
	char why[256];
	const struct virtio_host *h = balloon_host_lock(b);
	int r = check_state(b, st, why, sizeof(why));
	if (!r)
		r = check_against_transport(b, st, why, sizeof(why));
	if (r) {
		balloon_host_unlock(h);
		return err_set(err, errlen, r, "balloon: %s", why);
	}
	atomic_store(&b->num_pages, st->num_pages);
	atomic_store(&b->actual, st->actual);
	b->poison_val = st->poison_val;
	b->free_page_hint_cmd_id = st->free_page_hint_cmd_id;
	atomic_store(&b->stats_interval_s, st->stats_interval_s);
	restore_hint(b, st);
	restore_stats(b, st);
	b->broken = st->broken;
	balloon_host_unlock(h);
	return 0;
}
