/* Hint-based reclaim: dirty log on, hint run, wait for the guest's STOP on a
 * timer, pause, discard hinted-and-clean pages, DONE, resume (vm_reclaim.h
 * has the reasoning). */
#include "reclaim/vm_reclaim.h"

#include "vm/dirty_log.h"
#include "memory/discard_engine.h"
#include "vm/vm.h"

#include <core/clock.h>
#include <core/err.h>
#include <core/log.h>
#include <devices/inhibit.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* How often the main loop looks for the guest's STOP. */
#define VM_RECLAIM_POLL_NS 2000000L

struct vm_reclaim {
	struct vm *vm;
	int timer_fd;
	struct discard_engine *engine;
	int discard_err;
	bool logging;
	/* Snapshot mode: hand the selection to keep instead of discarding. */
	vm_reclaim_keep_fn keep;
	void *keep_opaque;
	uint64_t *sel[GMEM_MAX_REGIONS];
	/* A hint run started through the API with the log on since its id
	 * was written (vm_reclaim_start_tracked). */
	bool tracking;
	uint32_t track_cmd_id;
	uint64_t start_ns, deadline_ns;
	struct vm_reclaim_result res;
};

static void vm_reclaim_logging_off(struct vm_reclaim *rec)
{
	if (!rec->logging)
		return;
	int r = dirty_log_enable(&rec->vm->dirty, false);
	if (r)
		log_warn("reclaim: dirty logging off: %s", strerror(-r));
	rec->logging = false;
}

static void vm_reclaim_disarm(struct vm_reclaim *rec)
{
	struct itimerspec its = {0};
	timerfd_settime(rec->timer_fd, 0, &its, NULL);
}

static void vm_reclaim_free_sel(struct vm_reclaim *rec)
{
	for (unsigned i = 0; i < GMEM_MAX_REGIONS; i++) {
		free(rec->sel[i]);
		rec->sel[i] = NULL;
	}
}

/* Hands the selection (NULL on failure) to a kept run's callback, once. */
static void vm_reclaim_hand_over(struct vm_reclaim *rec, uint64_t *const *sel)
{
	vm_reclaim_keep_fn keep = rec->keep;
	rec->keep = NULL;
	if (keep)
		keep(rec->keep_opaque, sel, &rec->res);
	vm_reclaim_free_sel(rec);
}

/* Ends the run as failed with err; res.msg already says why (err_set). */
static void vm_reclaim_fail(struct vm_reclaim *rec, int err)
{
	rec->res.state = VM_RECLAIM_FAILED;
	rec->res.err = err;
	vm_reclaim_disarm(rec);
	vm_reclaim_logging_off(rec);
	log_warn("reclaim: %s", rec->res.msg);
	vm_reclaim_hand_over(rec, NULL);
}

static void vm_reclaim_discard_done(void *cookie, int err)
{
	struct vm_reclaim *rec = cookie;
	if (err < 0 && !rec->discard_err)
		rec->discard_err = err;
}

/* Marks the pages of [gpa, gpa+len) inside region g in bits. */
static void vm_reclaim_mark(const struct gmem_region *g, uint64_t *bits,
			    uint64_t gpa, uint64_t len)
{
	uint64_t s = gpa > g->gpa ? gpa : g->gpa;
	uint64_t e = gpa + len < gpa ? UINT64_MAX : gpa + len;
	if (e > g->gpa + g->len)
		e = g->gpa + g->len;
	if (s < e)
		reclaim_bits_set_bytes(bits, g->len / GMEM_PAGE_SIZE, s - g->gpa,
				       e - s);
}

/* Pages the VMM writes behind KVM's back: every virtio queue's rings. */
static void vm_reclaim_device_pages(struct vm *vm, const struct gmem_region *g,
				    uint64_t *bits)
{
	struct virtq_range r[VIRTIO_MMIO_MAX_RING_RANGES];
	for (unsigned s = 0; s < vm->nr_virtio; s++) {
		/* Sized for every queue: never -ENOSPC. */
		int n = virtio_mmio_ring_ranges(&vm->virtio[s].mmio, r,
						VIRTIO_MMIO_MAX_RING_RANGES);
		for (int i = 0; i < n; i++)
			vm_reclaim_mark(g, bits, r[i].gpa, r[i].len);
	}
}

/* Queues region i's pages to discard; 0 or -errno. */
static int vm_reclaim_queue(struct vm_reclaim *rec, const struct gmem_region *g,
			    const uint64_t *bits, uint64_t nr_pages)
{
	struct discard *d = discard_engine_iface(rec->engine);
	uint64_t pos = 0, first, n;
	while (reclaim_bits_next_run(bits, nr_pages, &pos, &first, &n)) {
		uint64_t off = first * GMEM_PAGE_SIZE, len = n * GMEM_PAGE_SIZE;
		int r = d->ops->queue(d->be, g, off, len, rec);
		if (r == -ENOSPC) { /* batch full: start it, go on */
			if ((r = d->ops->submit(d->be)) == 0)
				r = d->ops->queue(d->be, g, off, len, rec);
		}
		if (r)
			return r;
	}
	return 0;
}

/* With the vCPUs paused: region i's pages hinted in run cmd_id that stayed
 * clean since the log was cleared and hold no ring, as a malloc'd bitmap in
 * *out; counts added to c, every logged page to *logged. 0 or -errno. */
static int vm_reclaim_select(struct vm *vm, unsigned i, uint32_t cmd_id,
			     uint64_t **out, struct reclaim_counts *c,
			     uint64_t *logged)
{
	const struct gmem_region *g = &vm->mem.regions[i];
	uint64_t nr_pages = g->len / GMEM_PAGE_SIZE, got = 0;
	size_t words = (size_t)((nr_pages + 63) / 64);
	uint64_t *hint = calloc(words, 8), *dirty = calloc(words, 8),
		 *dev = calloc(words, 8);
	int r = !hint || !dirty || !dev ? -ENOMEM : 0;
	if (!r)
		r = dirty_log_fetch(&vm->dirty, i, dirty);
	if (!r)
		r = balloon_hint_bitmap(vm->balloon, cmd_id, i, hint, words, &got);
	if (!r && got != nr_pages)
		r = -EINVAL;
	for (size_t w = 0; !r && w < words; w++)
		*logged += (uint64_t)__builtin_popcountll(dirty[w]);
	if (!r) {
		vm_reclaim_device_pages(vm, g, dev);
		reclaim_bits_select(hint, dirty, dev, nr_pages, c);
		*out = hint;
		hint = NULL;
	}
	free(hint);
	free(dirty);
	free(dev);
	return r;
}

/* With the vCPUs paused: select and discard (or keep, for a snapshot). */
static int vm_reclaim_discard(struct vm_reclaim *rec)
{
	struct vm *vm = rec->vm;
	int r = 0;
	rec->discard_err = 0;
	for (unsigned i = 0; i < vm->mem.nr_regions && !r; i++) {
		uint64_t *sel = NULL;
		r = vm_reclaim_select(vm, i, rec->res.cmd_id, &sel,
				      &rec->res.pages, &rec->res.pages_logged);
		if (!r && rec->keep) {
			rec->sel[i] = sel;
			sel = NULL;
		} else if (!r) {
			r = vm_reclaim_queue(rec, &vm->mem.regions[i], sel,
					     vm->mem.regions[i].len / GMEM_PAGE_SIZE);
		}
		free(sel);
	}
	if (rec->keep)
		return r;
	struct discard *d = discard_engine_iface(rec->engine);
	int s = d->ops->submit(d->be);
	/* Wait even after an error: nothing may stay in flight past DONE. */
	int w = discard_engine_drain(rec->engine);
	if (!r)
		r = s ? s : w;
	return r ? r : rec->discard_err;
}

/* With the vCPUs paused: select and discard (or keep), then DONE. 0 or
 * -errno with res.msg. */
static int vm_reclaim_paused(struct vm_reclaim *rec)
{
	uint64_t td = clock_now_ns();
	int r = vm_reclaim_discard(rec);
	rec->res.discard_us = (clock_now_ns() - td) / 1000;
	/* The guest owns its hinted pages again; every discard completed. */
	int dr = balloon_hint_done(rec->vm->balloon);
	if (!r && !dr)
		return 0;
	int e = r ? r : dr;
	return err_set(rec->res.msg, sizeof(rec->res.msg), e, "%s: %s",
		       r ? "discard" : "writing DONE", strerror(-e));
}

static void vm_reclaim_log_done(const struct vm_reclaim *rec)
{
	log_info("reclaim: run %u: %llu pages hinted, %llu discarded, %llu "
		 "dirty, %llu device (%s log); hint %llu ms, pause %llu us",
		 rec->res.cmd_id, (unsigned long long)rec->res.pages.hinted,
		 (unsigned long long)rec->res.pages.discard,
		 (unsigned long long)rec->res.pages.dirty,
		 (unsigned long long)rec->res.pages.device,
		 dirty_log_mode(&rec->vm->dirty),
		 (unsigned long long)rec->res.hint_us / 1000,
		 (unsigned long long)rec->res.pause_us);
}

/* The run stopped: pause, discard or keep, DONE, resume (not for a kept
 * run: the snapshot needs the vCPUs paused). */
static void vm_reclaim_finish(struct vm_reclaim *rec)
{
	struct vm *vm = rec->vm;
	vm_reclaim_disarm(rec);
	rec->res.hint_us = (clock_now_ns() - rec->start_ns) / 1000;
	/* A VM the operator paused stays paused. */
	bool pause_here = !vm_paused(vm);
	uint64_t t0 = clock_now_ns();
	int r = pause_here ? vm_pause(vm) : 0;
	if (r) {
		balloon_hint_done(vm->balloon);
		vm_reclaim_fail(rec, err_set(rec->res.msg, sizeof(rec->res.msg),
					     r, "cannot pause the vCPUs: %s",
					     strerror(-r)));
		return;
	}
	r = vm_reclaim_paused(rec);
	if (pause_here && !rec->keep)
		vm_resume(vm);
	rec->res.pause_us = (clock_now_ns() - t0) / 1000;
	vm_reclaim_logging_off(rec);
	if (r) {
		vm_reclaim_fail(rec, r);
		return;
	}
	rec->res.state = VM_RECLAIM_DONE;
	if (rec->keep)
		vm_reclaim_hand_over(rec, rec->sel);
	else
		vm_reclaim_log_done(rec);
}

static void vm_reclaim_on_timer(void *opaque, uint32_t events)
{
	struct vm_reclaim *rec = opaque;
	uint64_t exp;
	(void)events;
	if (read(rec->timer_fd, &exp, sizeof(exp)) < 0 ||
	    rec->res.state != VM_RECLAIM_WAITING)
		return;
	struct balloon_hint_status st;
	balloon_hint_status(rec->vm->balloon, &st);
	if (st.run_id != rec->res.cmd_id || st.state == BALLOON_HINT_DONE ||
	    st.state == BALLOON_HINT_IDLE) {
		vm_reclaim_fail(rec, err_set(rec->res.msg, sizeof(rec->res.msg),
					     -ECANCELED,
					     "hint run %u ended elsewhere (reset or DONE)",
					     rec->res.cmd_id));
		return;
	}
	if (st.state == BALLOON_HINT_STOPPED) {
		rec->res.guest_stopped = st.guest_stopped;
		vm_reclaim_finish(rec);
		return;
	}
	if (clock_now_ns() >= rec->deadline_ns) {
		/* Hints so far stay valid: the dirty log still decides. */
		int r = balloon_hint_stop(rec->vm->balloon);
		if (r) {
			vm_reclaim_fail(rec, err_set(rec->res.msg,
						     sizeof(rec->res.msg), r,
						     "stopping run %u: %s",
						     rec->res.cmd_id,
						     strerror(-r)));
			return;
		}
		rec->res.guest_stopped = false;
		vm_reclaim_finish(rec);
	}
}

static int vm_reclaim_alloc(struct vm *vm)
{
	if (vm->reclaim)
		return 0;
	struct vm_reclaim *rec = calloc(1, sizeof(*rec));
	if (!rec)
		return -ENOMEM;
	rec->vm = vm;
	rec->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	int r = rec->timer_fd < 0 ? -errno : 0;
	/* Its own engine: the balloon's routes completions to its requests. */
	/* Synchronous: the vCPUs wait for it anyway, and no io-wq threads
	 * compete with them. */
	struct discard_engine_opts o;
	discard_engine_default_opts(&o);
	o.kind = DISCARD_ENGINE_SYNC;
	if (!r)
		r = discard_engine_create(&rec->engine, &o,
					  vm_reclaim_discard_done);
	if (!r)
		r = event_loop_add(&vm->loop, rec->timer_fd, 0,
				   vm_reclaim_on_timer, rec);
	if (r) {
		if (rec->engine)
			discard_engine_destroy(rec->engine);
		if (rec->timer_fd >= 0)
			close(rec->timer_fd);
		free(rec);
		return r;
	}
	vm->reclaim = rec;
	return 0;
}

/* discard: a reclaim; else the hints only decide holes of a snapshot, so
 * the backend, locked memory and discard inhibition do not matter. */
static int vm_reclaim_check(struct vm *vm, bool discard, char *msg,
			    size_t msglen)
{
	if (!vm->balloon)
		return err_set(msg, msglen, -ENODEV, "no balloon device");
	if (!vm->cfg->balloon.free_page_hinting)
		return err_set(msg, msglen, -EOPNOTSUPP,
			       "free_page_hinting was not enabled");
	for (unsigned i = 0; discard && i < vm->mem.nr_regions; i++)
		if (vm->mem.regions[i].backend == GMEM_HUGETLB_2M)
			return err_set(msg, msglen, -EOPNOTSUPP,
				       "hugetlb guest memory is discarded in 2 MiB pages, hints are 4 KiB");
	if (discard && vm->cfg->mem_lock)
		return err_set(msg, msglen, -EOPNOTSUPP,
			       "guest memory is locked (mem_lock)");
	struct balloon_info info;
	balloon_get_info(vm->balloon, &info);
	/* A discarded page reads as zeros, not as the poison the guest checks. */
	if (info.page_poison && info.poison_val)
		return err_set(msg, msglen, -EOPNOTSUPP,
			       "the guest poisons free pages with 0x%x",
			       info.poison_val);
	struct inhibit inh;
	balloon_get_inhibit(vm->balloon, &inh);
	if (discard && inhibit_active(&inh))
		return err_set(msg, msglen, -EBUSY,
			       "balloon discards are inhibited");
	if (vm->reclaim && vm->reclaim->res.state == VM_RECLAIM_WAITING)
		return err_set(msg, msglen, -EBUSY, "a reclaim is in progress");
	return 0;
}

/* Every start's first half: refused as vm_reclaim_check says, else set up
 * (once per VM), and a tracked run waiting is forgotten (this run's log
 * start clears its log). */
static int vm_reclaim_prepare(struct vm *vm, bool discard, char *msg,
			      size_t msglen)
{
	int r = vm_reclaim_check(vm, discard, msg, msglen);
	if (r)
		return r;
	if ((r = vm_reclaim_alloc(vm)))
		return err_set(msg, msglen, r, "setup: %s", strerror(-r));
	vm->reclaim->tracking = false;
	return 0;
}

/* Every start's second half: dirty logging on and its log cleared before a
 * run id is written (a hint means free after the id, so any later write
 * must show), then the run. */
static int vm_reclaim_log_and_hint(struct vm_reclaim *rec,
				   bool acknowledge_on_stop, uint32_t *cmd_id,
				   char *msg, size_t msglen)
{
	rec->logging = true;
	int r = dirty_log_enable(&rec->vm->dirty, true);
	if (r) {
		vm_reclaim_logging_off(rec);
		return err_set(msg, msglen, r, "dirty logging: %s",
			       strerror(-r));
	}
	rec->start_ns = clock_now_ns();
	r = balloon_hint_start(rec->vm->balloon, acknowledge_on_stop, cmd_id);
	if (r) {
		vm_reclaim_logging_off(rec);
		return err_set(msg, msglen, r, "starting a hint run: %s",
			       strerror(-r));
	}
	return 0;
}

/* A run with a deadline, polled on the timer; keep NULL: discard. */
static int vm_reclaim_start_timed(struct vm *vm, unsigned timeout_ms,
				  vm_reclaim_keep_fn keep, void *opaque,
				  char *msg, size_t msglen)
{
	int r = vm_reclaim_prepare(vm, !keep, msg, msglen);
	if (r)
		return r;
	struct vm_reclaim *rec = vm->reclaim;
	uint64_t reclaims = rec->res.reclaims;
	rec->res = (struct vm_reclaim_result){.reclaims = reclaims + !keep};
	if ((r = vm_reclaim_log_and_hint(rec, false, &rec->res.cmd_id, msg,
					 msglen)))
		return r;
	rec->deadline_ns = rec->start_ns + (uint64_t)timeout_ms * 1000000ULL;
	struct itimerspec its = {
		.it_interval = {.tv_nsec = VM_RECLAIM_POLL_NS},
		.it_value = {.tv_nsec = VM_RECLAIM_POLL_NS},
	};
	if (timerfd_settime(rec->timer_fd, 0, &its, NULL) < 0) {
		r = -errno;
		balloon_hint_done(vm->balloon);
		vm_reclaim_logging_off(rec);
		return err_set(msg, msglen, r, "timer: %s", strerror(-r));
	}
	rec->res.state = VM_RECLAIM_WAITING;
	rec->keep = keep;
	rec->keep_opaque = opaque;
	return 0;
}

int vm_reclaim_start_discard(struct vm *vm, unsigned timeout_ms, char *msg,
			     size_t msglen)
{
	return vm_reclaim_start_timed(vm, timeout_ms, NULL, NULL, msg, msglen);
}

int vm_reclaim_start_keep(struct vm *vm, unsigned timeout_ms,
			  vm_reclaim_keep_fn keep, void *opaque, char *msg,
			  size_t msglen)
{
	if (!keep)
		return -EINVAL;
	return vm_reclaim_start_timed(vm, timeout_ms, keep, opaque, msg,
				      msglen);
}

int vm_reclaim_start_tracked(struct vm *vm, bool acknowledge_on_stop,
			     uint32_t *cmd_id, char *msg, size_t msglen)
{
	int r = vm_reclaim_prepare(vm, false, msg, msglen);
	if (r)
		return r;
	struct vm_reclaim *rec = vm->reclaim;
	uint32_t id;
	if ((r = vm_reclaim_log_and_hint(rec, acknowledge_on_stop, &id, msg,
					 msglen)))
		return r;
	rec->tracking = true;
	rec->track_cmd_id = id;
	if (cmd_id)
		*cmd_id = id;
	return 0;
}

int vm_reclaim_take_tracked(struct vm *vm, uint64_t **sel,
			    struct reclaim_counts *c)
{
	struct vm_reclaim *rec = vm->reclaim;
	if (!rec || !rec->tracking || !rec->logging)
		return -ENOENT;
	struct balloon_hint_status st;
	balloon_hint_status(vm->balloon, &st);
	int r = st.run_id == rec->track_cmd_id && st.state != BALLOON_HINT_IDLE
			? 0 : -ESTALE;
	uint64_t logged = 0;
	for (unsigned i = 0; !r && i < vm->mem.nr_regions; i++)
		r = vm_reclaim_select(vm, i, rec->track_cmd_id, &sel[i], c,
				      &logged);
	if (r)
		for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
			free(sel[i]);
			sel[i] = NULL;
		}
	rec->tracking = false;
	vm_reclaim_logging_off(rec);
	return r;
}

void vm_reclaim_get(struct vm *vm, struct vm_reclaim_result *out)
{
	if (vm->reclaim)
		*out = vm->reclaim->res;
	else
		*out = (struct vm_reclaim_result){.state = VM_RECLAIM_IDLE};
}

void vm_reclaim_destroy(struct vm *vm)
{
	struct vm_reclaim *rec = vm->reclaim;
	if (!rec)
		return;
	vm_reclaim_logging_off(rec);
	vm_reclaim_free_sel(rec);
	event_loop_del(&vm->loop, rec->timer_fd);
	close(rec->timer_fd);
	discard_engine_destroy(rec->engine);
	free(rec);
	vm->reclaim = NULL;
}
