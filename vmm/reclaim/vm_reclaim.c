/* Hint-based reclaim: dirty log on, hint run, wait for the guest's STOP on a
 * timer, pause, discard hinted-and-clean pages, DONE, resume (vm_reclaim.h
 * has the reasoning). */
#include "reclaim/vm_reclaim.h"

#include "vm/dirty_log.h"
#include "memory/discard_engine.h"
#include "vm/vm.h"

#include <devices/inhibit.h>
#include <core/clock.h>
#include <core/log.h>

#include <errno.h>
#include <stdarg.h>
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
	 * was written (vm_reclaim_track_start). */
	bool tracking;
	uint32_t track_cmd_id;
	uint64_t start_ns, deadline_ns;
	struct vm_reclaim_result res;
};

/* KVM's dirty ring where offered, else its bitmap (dirty_log.c). */
static int vm_reclaim_set_logging(struct vm *vm, bool on)
{
	return dirty_log_enable(vm, on);
}

/* ORs slot i's pages written since the last fetch into bits (zeroed by
 * the caller). */
static int vm_reclaim_get_log(struct vm *vm, unsigned i, uint64_t *bits)
{
	return dirty_log_fetch(vm, i, bits);
}

static void vm_reclaim_logging_off(struct vm_reclaim *rc)
{
	if (!rc->logging)
		return;
	int r = vm_reclaim_set_logging(rc->vm, false);
	if (r)
		log_warn("reclaim: dirty logging off: %s", strerror(-r));
	rc->logging = false;
}

static void vm_reclaim_disarm(struct vm_reclaim *rc)
{
	struct itimerspec its = {0};
	timerfd_settime(rc->timer_fd, 0, &its, NULL);
}

static void vm_reclaim_fail(struct vm_reclaim *rc, int err, const char *fmt,
			    ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rc->res.msg, sizeof(rc->res.msg), fmt, ap);
	va_end(ap);
	rc->res.state = VM_RECLAIM_FAILED;
	rc->res.err = err;
	vm_reclaim_disarm(rc);
	vm_reclaim_logging_off(rc);
	log_warn("reclaim: %s", rc->res.msg);
	for (unsigned i = 0; i < GMEM_MAX_REGIONS; i++) {
		free(rc->sel[i]);
		rc->sel[i] = NULL;
	}
	vm_reclaim_keep_fn keep = rc->keep;
	rc->keep = NULL;
	if (keep)
		keep(rc->keep_opaque, NULL, &rc->res);
}

static void vm_reclaim_discard_done(void *cookie, int err)
{
	struct vm_reclaim *rc = cookie;
	if (err < 0 && !rc->discard_err)
		rc->discard_err = err;
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
static int vm_reclaim_queue(struct vm_reclaim *rc, const struct gmem_region *g,
			    const uint64_t *bits, uint64_t nr_pages)
{
	struct discard *d = discard_engine_iface(rc->engine);
	uint64_t pos = 0, first, n;
	while (reclaim_bits_next_run(bits, nr_pages, &pos, &first, &n)) {
		uint64_t off = first * GMEM_PAGE_SIZE, len = n * GMEM_PAGE_SIZE;
		int r = d->ops->queue(d->be, g, off, len, rc);
		if (r == -ENOSPC) { /* batch full: start it, go on */
			if ((r = d->ops->submit(d->be)) == 0)
				r = d->ops->queue(d->be, g, off, len, rc);
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
		r = vm_reclaim_get_log(vm, i, dirty);
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
static int vm_reclaim_discard(struct vm_reclaim *rc)
{
	struct vm *vm = rc->vm;
	int r = 0;
	rc->discard_err = 0;
	for (unsigned i = 0; i < vm->mem.nr_regions && !r; i++) {
		uint64_t *sel = NULL;
		r = vm_reclaim_select(vm, i, rc->res.cmd_id, &sel,
				      &rc->res.pages, &rc->res.pages_logged);
		if (!r && rc->keep) {
			rc->sel[i] = sel;
			sel = NULL;
		} else if (!r) {
			r = vm_reclaim_queue(rc, &vm->mem.regions[i], sel,
					     vm->mem.regions[i].len / GMEM_PAGE_SIZE);
		}
		free(sel);
	}
	if (rc->keep)
		return r;
	struct discard *d = discard_engine_iface(rc->engine);
	int s = d->ops->submit(d->be);
	/* Wait even after an error: nothing may stay in flight past DONE. */
	int w = discard_engine_drain(rc->engine);
	if (!r)
		r = s ? s : w;
	return r ? r : rc->discard_err;
}

static void vm_reclaim_finish(struct vm_reclaim *rc)
{
	struct vm *vm = rc->vm;
	vm_reclaim_disarm(rc);
	rc->res.hint_us = (clock_now_ns() - rc->start_ns) / 1000;
	/* A VM the operator paused stays paused. */
	bool pause_here = !vm_paused(vm);
	uint64_t t0 = clock_now_ns();
	int r = pause_here ? vm_pause(vm) : 0;
	if (r) {
		balloon_hint_done(vm->balloon);
		vm_reclaim_fail(rc, r, "cannot pause the vCPUs: %s",
				strerror(-r));
		return;
	}
	uint64_t td = clock_now_ns();
	r = vm_reclaim_discard(rc);
	rc->res.discard_us = (clock_now_ns() - td) / 1000;
	/* The guest owns its hinted pages again; every discard completed. */
	int dr = balloon_hint_done(vm->balloon);
	if (pause_here && !rc->keep)
		vm_resume(vm);
	rc->res.pause_us = (clock_now_ns() - t0) / 1000;
	vm_reclaim_logging_off(rc);
	if (r || dr) {
		vm_reclaim_fail(rc, r ? r : dr, "%s: %s",
				r ? "discard" : "writing DONE",
				strerror(-(r ? r : dr)));
		return;
	}
	rc->res.state = VM_RECLAIM_DONE;
	if (rc->keep) {
		vm_reclaim_keep_fn keep = rc->keep;
		rc->keep = NULL;
		keep(rc->keep_opaque, rc->sel, &rc->res);
		for (unsigned i = 0; i < GMEM_MAX_REGIONS; i++) {
			free(rc->sel[i]);
			rc->sel[i] = NULL;
		}
		return;
	}
	log_info("reclaim: run %u: %llu pages hinted, %llu discarded, %llu "
		 "dirty, %llu device (%s log); hint %llu ms, pause %llu us",
		 rc->res.cmd_id, (unsigned long long)rc->res.pages.hinted,
		 (unsigned long long)rc->res.pages.discard,
		 (unsigned long long)rc->res.pages.dirty,
		 (unsigned long long)rc->res.pages.device, dirty_log_mode(vm),
		 (unsigned long long)rc->res.hint_us / 1000,
		 (unsigned long long)rc->res.pause_us);
}

static void vm_reclaim_on_timer(void *opaque, uint32_t events)
{
	struct vm_reclaim *rc = opaque;
	uint64_t exp;
	(void)events;
	if (read(rc->timer_fd, &exp, sizeof(exp)) < 0 ||
	    rc->res.state != VM_RECLAIM_WAITING)
		return;
	struct balloon_hint_status st;
	balloon_hint_status(rc->vm->balloon, &st);
	if (st.run_id != rc->res.cmd_id || st.state == BALLOON_HINT_DONE ||
	    st.state == BALLOON_HINT_IDLE) {
		vm_reclaim_fail(rc, -ECANCELED,
				"hint run %u ended elsewhere (reset or DONE)",
				rc->res.cmd_id);
		return;
	}
	if (st.state == BALLOON_HINT_STOPPED) {
		rc->res.guest_stopped = st.guest_stopped;
		vm_reclaim_finish(rc);
		return;
	}
	if (clock_now_ns() >= rc->deadline_ns) {
		/* Hints so far stay valid: the dirty log still decides. */
		int r = balloon_hint_stop(rc->vm->balloon);
		if (r) {
			vm_reclaim_fail(rc, r, "stopping run %u: %s",
					rc->res.cmd_id, strerror(-r));
			return;
		}
		rc->res.guest_stopped = false;
		vm_reclaim_finish(rc);
	}
}

static int vm_reclaim_alloc(struct vm *vm)
{
	if (vm->reclaim)
		return 0;
	struct vm_reclaim *rc = calloc(1, sizeof(*rc));
	if (!rc)
		return -ENOMEM;
	rc->vm = vm;
	rc->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	int r = rc->timer_fd < 0 ? -errno : 0;
	/* Its own engine: the balloon's routes completions to its requests. */
	/* Synchronous: the vCPUs wait for it anyway, and no io-wq threads
	 * compete with them. */
	struct discard_engine_opts o;
	discard_engine_default_opts(&o);
	o.kind = DISCARD_ENGINE_SYNC;
	if (!r)
		r = discard_engine_create(&rc->engine, &o,
					  vm_reclaim_discard_done);
	if (!r)
		r = event_loop_add(&vm->loop, rc->timer_fd, 0,
				   vm_reclaim_on_timer, rc);
	if (r) {
		if (rc->engine)
			discard_engine_destroy(rc->engine);
		if (rc->timer_fd >= 0)
			close(rc->timer_fd);
		free(rc);
		return r;
	}
	vm->reclaim = rc;
	return 0;
}

/* discard: a reclaim; else the hints only decide holes of a snapshot, so
 * the backend, locked memory and discard inhibition do not matter. */
static int vm_reclaim_check(struct vm *vm, bool discard, char *msg,
			    size_t msglen)
{
	if (!vm->balloon) {
		snprintf(msg, msglen, "no balloon device");
		return -ENODEV;
	}
	if (!vm->cfg->balloon.free_page_hinting) {
		snprintf(msg, msglen, "free_page_hinting was not enabled");
		return -EOPNOTSUPP;
	}
	for (unsigned i = 0; discard && i < vm->mem.nr_regions; i++)
		if (vm->mem.regions[i].backend == GMEM_HUGETLB_2M) {
			snprintf(msg, msglen, "hugetlb guest memory is discarded in 2 MiB pages, hints are 4 KiB");
			return -EOPNOTSUPP;
		}
	if (discard && vm->cfg->mem_lock) {
		snprintf(msg, msglen, "guest memory is locked (mem_lock)");
		return -EOPNOTSUPP;
	}
	struct balloon_info info;
	balloon_get_info(vm->balloon, &info);
	/* A discarded page reads as zeros, not as the poison the guest checks. */
	if (info.page_poison && info.poison_val) {
		snprintf(msg, msglen, "the guest poisons free pages with 0x%x",
			 info.poison_val);
		return -EOPNOTSUPP;
	}
	struct inhibit inh;
	balloon_get_inhibit(vm->balloon, &inh);
	if (discard && inhibit_active(&inh)) {
		snprintf(msg, msglen, "balloon discards are inhibited");
		return -EBUSY;
	}
	if (vm->reclaim && vm->reclaim->res.state == VM_RECLAIM_WAITING) {
		snprintf(msg, msglen, "a reclaim is in progress");
		return -EBUSY;
	}
	return 0;
}

/* Logging on and a cleared log before a run id is written: a hint means
 * free after the id, so any later write must show. */
static int vm_reclaim_log_start(struct vm_reclaim *rc)
{
	rc->logging = true;
	/* Turning logging on forgets what was logged before. */
	int r = vm_reclaim_set_logging(rc->vm, true);
	if (r)
		vm_reclaim_logging_off(rc);
	return r;
}

static int vm_reclaim_begin(struct vm *vm, unsigned timeout_ms,
			    vm_reclaim_keep_fn keep, void *opaque, char *msg,
			    size_t msglen)
{
	int r = vm_reclaim_check(vm, !keep, msg, msglen);
	if (r)
		return r;
	if ((r = vm_reclaim_alloc(vm))) {
		snprintf(msg, msglen, "setup: %s", strerror(-r));
		return r;
	}
	struct vm_reclaim *rc = vm->reclaim;
	/* This run's log start forgets a tracked one's. */
	rc->tracking = false;
	uint64_t reclaims = rc->res.reclaims;
	rc->res = (struct vm_reclaim_result){.reclaims = reclaims + !keep};
	if ((r = vm_reclaim_log_start(rc))) {
		snprintf(msg, msglen, "dirty logging: %s", strerror(-r));
		return r;
	}
	rc->start_ns = clock_now_ns();
	rc->deadline_ns = rc->start_ns + (uint64_t)timeout_ms * 1000000ULL;
	if ((r = balloon_hint_start(vm->balloon, false, &rc->res.cmd_id))) {
		vm_reclaim_logging_off(rc);
		snprintf(msg, msglen, "starting a hint run: %s", strerror(-r));
		return r;
	}
	struct itimerspec its = {
		.it_interval = {.tv_nsec = VM_RECLAIM_POLL_NS},
		.it_value = {.tv_nsec = VM_RECLAIM_POLL_NS},
	};
	if (timerfd_settime(rc->timer_fd, 0, &its, NULL) < 0) {
		r = -errno;
		balloon_hint_done(vm->balloon);
		vm_reclaim_logging_off(rc);
		snprintf(msg, msglen, "timer: %s", strerror(-r));
		return r;
	}
	rc->res.state = VM_RECLAIM_WAITING;
	rc->keep = keep;
	rc->keep_opaque = opaque;
	return 0;
}

int vm_reclaim_start(struct vm *vm, unsigned timeout_ms, char *msg,
		     size_t msglen)
{
	return vm_reclaim_begin(vm, timeout_ms, NULL, NULL, msg, msglen);
}

int vm_reclaim_start_snapshot(struct vm *vm, unsigned timeout_ms,
			      vm_reclaim_keep_fn keep, void *opaque,
			      char *msg, size_t msglen)
{
	if (!keep)
		return -EINVAL;
	return vm_reclaim_begin(vm, timeout_ms, keep, opaque, msg, msglen);
}

int vm_reclaim_track_start(struct vm *vm, bool acknowledge_on_stop,
			   uint32_t *cmd_id, char *msg, size_t msglen)
{
	int r = vm_reclaim_check(vm, false, msg, msglen);
	if (r)
		return r;
	if ((r = vm_reclaim_alloc(vm))) {
		snprintf(msg, msglen, "setup: %s", strerror(-r));
		return r;
	}
	struct vm_reclaim *rc = vm->reclaim;
	rc->tracking = false;
	if ((r = vm_reclaim_log_start(rc))) {
		snprintf(msg, msglen, "dirty logging: %s", strerror(-r));
		return r;
	}
	uint32_t id;
	if ((r = balloon_hint_start(vm->balloon, acknowledge_on_stop, &id))) {
		vm_reclaim_logging_off(rc);
		snprintf(msg, msglen, "starting a hint run: %s", strerror(-r));
		return r;
	}
	rc->tracking = true;
	rc->track_cmd_id = id;
	if (cmd_id)
		*cmd_id = id;
	return 0;
}

int vm_reclaim_take_tracked(struct vm *vm, uint64_t **sel,
			    struct reclaim_counts *c)
{
	struct vm_reclaim *rc = vm->reclaim;
	if (!rc || !rc->tracking || !rc->logging)
		return -ENOENT;
	struct balloon_hint_status st;
	balloon_hint_status(vm->balloon, &st);
	int r = st.run_id == rc->track_cmd_id && st.state != BALLOON_HINT_IDLE
			? 0 : -ESTALE;
	uint64_t logged = 0;
	for (unsigned i = 0; !r && i < vm->mem.nr_regions; i++)
		r = vm_reclaim_select(vm, i, rc->track_cmd_id, &sel[i], c,
				      &logged);
	if (r)
		for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
			free(sel[i]);
			sel[i] = NULL;
		}
	rc->tracking = false;
	vm_reclaim_logging_off(rc);
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
	struct vm_reclaim *rc = vm->reclaim;
	if (!rc)
		return;
	vm_reclaim_logging_off(rc);
	for (unsigned i = 0; i < GMEM_MAX_REGIONS; i++)
		free(rc->sel[i]);
	event_loop_del(&vm->loop, rc->timer_fd);
	close(rc->timer_fd);
	discard_engine_destroy(rc->engine);
	free(rc);
	vm->reclaim = NULL;
}
