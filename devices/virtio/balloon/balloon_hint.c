/* Free page hinting (5.5.6.7): the host writes a run id into
 * free_page_hint_cmd_id, the guest answers on free_page_vq with that id (a
 * 4-byte output buffer), then device-writable buffers of free memory, then
 * STOP (0); DONE (1) from the host lets the guest reuse its hinted pages.
 *
 * Hints are only recorded (a bitmap per region, and the sink): a guest may
 * take a hinted page back before the host acts on it (seed 004), so nothing
 * here discards. Every buffer is used at once with length 0. */
#include "balloon_handlers.h"

#include "balloon_queue.h"
#include "balloon_ranges.h"

#include <core/checked.h>
#include <core/clock.h>
#include <core/log.h>

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CMD_STOP VIRTIO_BALLOON_CMD_ID_STOP
#define CMD_DONE VIRTIO_BALLOON_CMD_ID_DONE
#define CMD_BYTES 4u /* "output buffer size of 4 bytes" (driver, 5.5.6.7) */

static uint64_t bitmap_words(uint64_t nr_pages) { return (nr_pages + 63) / 64; }

/* Sets bits [first, first + n); returns how many were clear. */
static uint64_t bits_set(uint64_t *w, uint64_t first, uint64_t n)
{
	uint64_t added = 0;
	while (n) {
		uint64_t off = first % 64;
		uint64_t k = MIN(n, 64 - off);
		uint64_t mask = (k == 64 ? ~0ULL : (1ULL << k) - 1) << off;
		added += (uint64_t)__builtin_popcountll(mask & ~w[first / 64]);
		w[first / 64] |= mask;
		first += k;
		n -= k;
	}
	return added;
}

static bool negotiated(const struct balloon *b)
{
	return atomic_load(&b->features) &
	       BALLOON_BIT(VIRTIO_BALLOON_F_FREE_PAGE_HINT);
}

/* Writes the device's cmd id and tells the driver (lock held). */
static void write_cmd(struct balloon *b, uint32_t cmd)
{
	const struct virtio_host *h = atomic_load(&b->host);
	b->free_page_hint_cmd_id = cmd;
	if (h)
		h->config_changed(h->t);
}

static void run_ended(struct balloon *b)
{
	struct balloon_hint *h = &b->hint;
	if (h->state == BALLOON_HINT_REQUESTED ||
	    h->state == BALLOON_HINT_RUNNING) {
		h->state = BALLOON_HINT_STOPPED;
		h->end_ns = clock_now_ns();
	}
}

static void write_done(struct balloon *b)
{
	struct balloon_hint *h = &b->hint;
	write_cmd(b, CMD_DONE);
	b->m.hint_dones_written++;
	if (h->state != BALLOON_HINT_IDLE) {
		if (!h->end_ns)
			h->end_ns = clock_now_ns();
		h->state = BALLOON_HINT_DONE;
	}
}

/* The guest's STOP after the current run's id: the run is over for it. */
static void guest_stop(struct balloon *b)
{
	struct balloon_hint *h = &b->hint;
	const struct balloon_hint_sink *sink = &b->cfg.hint_sink;
	h->guest_stopped = true;
	b->m.hint_guest_stops++;
	/* Auto DONE only when the guest ended the run itself: after the host's
	 * own STOP or DONE, the host decides when pages go back. */
	bool by_guest = b->free_page_hint_cmd_id == h->run_id;
	run_ended(b);
	if (h->ack_on_stop && by_guest)
		write_done(b);
	if (sink->ended)
		sink->ended(sink->opaque, h->run_id);
}

static void guest_cmd(struct balloon *b, uint32_t cmd)
{
	struct balloon_hint *h = &b->hint;
	h->guest_cmd = cmd;
	h->guest_cmd_valid = true;

	if (cmd == CMD_STOP) {
		bool ends = h->guest_run && h->guest_run == h->run_id;
		h->guest_run = 0;
		if (ends)
			guest_stop(b);
		else
			b->m.hint_stale_cmds++; /* closes an old or unknown id */
		return;
	}
	/* run_id is 0 or >= 2, so DONE from the guest never matches. */
	if (cmd == h->run_id && b->free_page_hint_cmd_id == h->run_id) {
		h->guest_run = cmd;
		if (h->state == BALLOON_HINT_REQUESTED) {
			h->state = BALLOON_HINT_RUNNING;
			b->m.hint_guest_starts++;
		}
		return;
	}
	/* An earlier run, one the host already stopped, or an id never
	 * written: the pages that follow are ignored (device, 5.5.6.7). */
	h->guest_run = cmd == CMD_DONE ? 0 : cmd;
	b->m.hint_stale_cmds++;
}

static void cmd_seg(struct balloon *b, const struct virtq_seg *s)
{
	uint32_t le;
	if (s->len != CMD_BYTES || gmem_read(b->mem, s->gpa, &le, sizeof(le))) {
		b->m.invalid_hint_ranges++;
		log_ratelimited(LOG_WARN,
				"balloon: free_page_vq output buffer of %u bytes "
				"at gpa 0x%llx is not a 4-byte cmd id",
				s->len, (unsigned long long)s->gpa);
		return;
	}
	guest_cmd(b, le32toh(le));
}

static void hint_seg(struct balloon *b, const struct virtq_seg *s)
{
	struct balloon_hint *h = &b->hint;
	const struct balloon_hint_sink *sink = &b->cfg.hint_sink;

	if (h->state != BALLOON_HINT_RUNNING || h->guest_run != h->run_id ||
	    b->free_page_hint_cmd_id != h->run_id) {
		b->m.hint_outside_run++;
		return;
	}
	const struct gmem_region *r =
		balloon_ranges_region_of(b->mem, s->gpa, s->len);
	size_t idx = r ? (size_t)(r - b->mem->regions) : 0;
	if (!r || idx >= h->nr_regions || !h->bits[idx]) {
		b->m.invalid_hint_ranges++;
		log_ratelimited(LOG_WARN,
				"balloon: hinted range gpa 0x%llx len 0x%x is "
				"not whole pages of guest RAM",
				(unsigned long long)s->gpa, s->len);
		return;
	}
	uint64_t first = (s->gpa - r->gpa) / GMEM_PAGE_SIZE;
	h->pages += bits_set(h->bits[idx], first, s->len / GMEM_PAGE_SIZE);
	h->ranges++;
	h->bytes += s->len;
	b->m.hint_ranges++;
	b->m.hint_bytes += s->len;
	if (sink->hinted)
		sink->hinted(sink->opaque, h->run_id, r, s->gpa, s->len);
}

void balloon_hint_chain(struct balloon *b, unsigned q,
			const struct virtq_chain *chain)
{
	unsigned nsegs = MIN(chain->nr_segs, (unsigned)VIRTQ_CHAIN_MAX);
	/* In order: a chain may carry a cmd id and then its pages. */
	for (unsigned i = 0; i < nsegs; i++) {
		const struct virtq_seg *s = &chain->segs[i];
		if (s->write)
			hint_seg(b, s);
		else
			cmd_seg(b, s);
	}
	balloon_complete(b, q, chain->head);
}

/* ---- lifecycle ---- */

static void free_bitmaps(struct balloon_hint *h)
{
	for (unsigned i = 0; i < GMEM_MAX_REGIONS; i++) {
		free(h->bits[i]);
		h->bits[i] = NULL;
		h->nr_pages[i] = 0;
	}
	h->nr_regions = 0;
}

/* Forgets the run: after a reset the driver reuses every page it hinted. */
static void forget_run(struct balloon_hint *h)
{
	uint32_t last_id = h->last_id;
	uint64_t *bits[GMEM_MAX_REGIONS];
	uint64_t nr_pages[GMEM_MAX_REGIONS];
	unsigned nr_regions = h->nr_regions;
	memcpy(bits, h->bits, sizeof(bits));
	memcpy(nr_pages, h->nr_pages, sizeof(nr_pages));
	memset(h, 0, sizeof(*h));
	h->last_id = last_id; /* ids stay unique across resets */
	memcpy(h->bits, bits, sizeof(bits));
	memcpy(h->nr_pages, nr_pages, sizeof(nr_pages));
	h->nr_regions = nr_regions;
}

int balloon_hint_activate(struct balloon *b, const struct gmem *mem)
{
	struct balloon_hint *h = &b->hint;
	forget_run(h);
	free_bitmaps(h);
	if (!negotiated(b))
		return 0;
	unsigned n = MIN(mem->nr_regions, (unsigned)GMEM_MAX_REGIONS);
	for (unsigned i = 0; i < n; i++) {
		uint64_t pages = mem->regions[i].len / GMEM_PAGE_SIZE;
		h->bits[i] = calloc(bitmap_words(pages) ? bitmap_words(pages) : 1,
				    sizeof(uint64_t));
		if (!h->bits[i]) {
			free_bitmaps(h);
			return -ENOMEM;
		}
		h->nr_pages[i] = pages;
	}
	h->nr_regions = n;
	return 0;
}

void balloon_hint_reset(struct balloon *b)
{
	forget_run(&b->hint);
}

void balloon_hint_destroy(struct balloon *b)
{
	free_bitmaps(&b->hint);
}

/* ---- host API ---- */

/* Lock held. */
static int usable(struct balloon *b)
{
	if (!b->cfg.free_page_hinting)
		return -EOPNOTSUPP;
	if (!atomic_load(&b->host) || !b->active || !negotiated(b))
		return -ENODEV;
	return 0;
}

int balloon_hint_start(struct balloon *b, bool acknowledge_on_stop,
		       uint32_t *cmd_id)
{
	const struct virtio_host *hl = balloon_host_lock(b);
	struct balloon_hint *h = &b->hint;
	uint32_t id = 0;
	int err = usable(b);
	if (!err) {
		/* 0 and 1 are reserved; wrapping takes 2^32 runs. */
		id = h->last_id < 2 || h->last_id == UINT32_MAX
				      ? 2 : h->last_id + 1;
		h->last_id = id;
		h->run_id = id;
		h->state = BALLOON_HINT_REQUESTED;
		h->ack_on_stop = acknowledge_on_stop;
		h->guest_stopped = false;
		h->ranges = h->bytes = h->pages = 0;
		h->start_ns = clock_now_ns();
		h->end_ns = 0;
		for (unsigned i = 0; i < h->nr_regions; i++)
			memset(h->bits[i], 0,
			       bitmap_words(h->nr_pages[i]) * sizeof(uint64_t));
		b->m.hint_runs++;
		write_cmd(b, id);
		if (cmd_id)
			*cmd_id = id;
	}
	balloon_host_unlock(hl);
	if (!err)
		log_info("balloon: free page hinting run %u started%s", id,
			 acknowledge_on_stop ? " (DONE on the guest's STOP)" : "");
	return err;
}

int balloon_hint_stop(struct balloon *b)
{
	const struct virtio_host *hl = balloon_host_lock(b);
	int err = usable(b);
	if (!err) {
		write_cmd(b, CMD_STOP);
		b->m.hint_stops_written++;
		run_ended(b);
	}
	balloon_host_unlock(hl);
	return err;
}

int balloon_hint_done(struct balloon *b)
{
	const struct virtio_host *hl = balloon_host_lock(b);
	int err = usable(b);
	if (!err)
		write_done(b);
	balloon_host_unlock(hl);
	return err;
}

int balloon_hint_status(struct balloon *b, struct balloon_hint_status *st)
{
	const struct virtio_host *hl = balloon_host_lock(b);
	const struct balloon_hint *h = &b->hint;
	memset(st, 0, sizeof(*st));
	st->enabled = b->cfg.free_page_hinting;
	st->negotiated = hl && b->active && negotiated(b);
	st->host_cmd = b->free_page_hint_cmd_id;
	st->guest_cmd_valid = h->guest_cmd_valid;
	st->guest_cmd = h->guest_cmd;
	st->run_id = h->run_id;
	st->state = h->state;
	st->acknowledge_on_stop = h->ack_on_stop;
	st->guest_stopped = h->guest_stopped;
	st->ranges = h->ranges;
	st->bytes = h->bytes;
	st->pages = h->pages;
	st->start_ns = h->start_ns;
	st->end_ns = h->end_ns;
	balloon_host_unlock(hl);
	return st->enabled ? 0 : -EOPNOTSUPP;
}

/* Lock held: 0 when cmd_id is the current or last run and still valid. */
static int run_valid(const struct balloon *b, uint32_t cmd_id)
{
	const struct balloon_hint *h = &b->hint;
	if (cmd_id < 2 || cmd_id != h->run_id || !b->mem)
		return -ESTALE;
	return 0;
}

int balloon_hint_page(struct balloon *b, uint32_t cmd_id, uint64_t gpa)
{
	const struct virtio_host *hl = balloon_host_lock(b);
	const struct balloon_hint *h = &b->hint;
	int ret = run_valid(b, cmd_id);
	if (!ret) {
		const struct gmem_region *r = gmem_region_of(b->mem, gpa, 1);
		size_t idx = r ? (size_t)(r - b->mem->regions) : 0;
		if (!r || idx >= h->nr_regions || !h->bits[idx]) {
			ret = -EFAULT;
		} else {
			uint64_t p = (gpa - r->gpa) / GMEM_PAGE_SIZE;
			ret = (h->bits[idx][p / 64] >> (p % 64)) & 1;
		}
	}
	balloon_host_unlock(hl);
	return ret;
}

int balloon_hint_bitmap(struct balloon *b, uint32_t cmd_id, unsigned idx,
			uint64_t *dst, size_t nr_words, uint64_t *nr_pages)
{
	const struct virtio_host *hl = balloon_host_lock(b);
	const struct balloon_hint *h = &b->hint;
	int ret = run_valid(b, cmd_id);
	if (!ret && (idx >= h->nr_regions || !h->bits[idx]))
		ret = -EINVAL;
	if (!ret) {
		uint64_t words = bitmap_words(h->nr_pages[idx]);
		if (nr_pages)
			*nr_pages = h->nr_pages[idx];
		if (nr_words < words)
			ret = -ENOSPC;
		else
			memcpy(dst, h->bits[idx], words * sizeof(uint64_t));
	}
	balloon_host_unlock(hl);
	return ret;
}
