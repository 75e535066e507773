/* PUT /snapshot/create: quiesce, collect every state section, write the
 * sparse memory file, then commit the state file (snapshot.h). */
#include "snapshot/snapshot.h"

#include "memory/discard_engine.h"
#include "reclaim/vm_reclaim.h"
#include "snapshot/snapfile.h"
#include "snapshot/snapshot_arch.h"
#include "snapshot/snapshot_machine.h"
#include "snapshot/snapshot_mem.h"
#include "vm/vm.h"

#include <core/clock.h>
#include <core/err.h>
#include <core/io.h>
#include <core/log.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

/* Rounds of drain + pending work before in-flight balloon requests count
 * as stuck (each round finishes what the previous one started). */
#define SNAPSHOT_QUIESCE_ROUNDS 8

struct snapshot_job {
	struct vm *vm;
	char *state_path, *mem_path;
	snapshot_done_fn done;
	void *opaque;
	bool use_hints;
	uint64_t t0_ns, pause_ns;
	struct snapshot_create_result res;
};

static void job_free(struct snapshot_job *j)
{
	if (!j)
		return;
	free(j->state_path);
	free(j->mem_path);
	free(j);
}

static void job_finish(struct snapshot_job *j)
{
	j->vm->snapshot_job = NULL;
	if (j->res.err)
		log_warn("snapshot: %s", j->res.msg);
	j->done(j->opaque, &j->res);
	job_free(j);
}

/* Checks the request and makes the VM's one job. 0 or -errno with msg. */
static int job_new(struct vm *vm, const struct snapshot_create_req *req,
		   struct snapshot_job **out, char *msg, size_t msglen)
{
	if (vm->snapshot_job)
		return err_set(msg, msglen, -EBUSY,
			       "a snapshot is already being taken");
	if (!req->snapshot_path || !*req->snapshot_path ||
	    !req->mem_file_path || !*req->mem_file_path)
		return err_set(msg, msglen, -EINVAL,
			       "snapshot_path and mem_file_path are required");
	/* Also /s/vm and /s/./vm, or a linked directory: the second rename
	 * would replace the first file and the answer still be 204. */
	if (io_same_file(req->snapshot_path, req->mem_file_path) == 1)
		return err_set(msg, msglen, -EINVAL,
			       "snapshot_path and mem_file_path are the same file");
	struct snapshot_job *j = calloc(1, sizeof(*j));
	if (!j || !(j->state_path = strdup(req->snapshot_path)) ||
	    !(j->mem_path = strdup(req->mem_file_path))) {
		job_free(j);
		return err_set(msg, msglen, -ENOMEM, "out of memory");
	}
	j->vm = vm;
	j->t0_ns = clock_now_ns();
	j->use_hints = req->use_hints;
	*out = j;
	return 0;
}

/* No balloon request may be half done in the file: finish discards and
 * work they released, until nothing is in flight. */
static int snapshot_quiesce(struct vm *vm)
{
	if (!vm->balloon)
		return 0;
	for (int i = 0; i < SNAPSHOT_QUIESCE_ROUNDS; i++) {
		int r = discard_engine_drain(vm->discard_engine);
		if (r)
			return r;
		vm->discard->ops->reap(vm->discard->be);
		if (!balloon_discards_in_flight(vm->balloon))
			return 0;
		balloon_run_pending(vm->balloon);
	}
	return -EBUSY;
}

static int snapshot_put_devices(struct vm *vm, struct snapfile_writer *w,
				char *msg, size_t msglen)
{
	struct serial_state ss;
	serial_save(&vm->serial, &ss);
	snapfile_put(w, SNAPSHOT_TAG_SERIAL, 0, &ss, sizeof(ss));
	for (unsigned i = 0; i < vm->nr_virtio; i++) {
		struct virtio_mmio_state ms;
		int r = virtio_mmio_save(&vm->virtio[i].mmio, &ms);
		if (r)
			return err_set(msg, msglen, r, "virtio slot %u: %s", i,
				       strerror(-r));
		snapfile_put(w, SNAPSHOT_TAG_VIRTIO_MMIO, i, &ms, sizeof(ms));
	}
	if (vm->balloon) {
		struct balloon_state bs;
		int r = balloon_save(vm->balloon, &bs);
		if (r)
			return err_set(msg, msglen, r, "balloon: %s",
				       r == -EBUSY ? "requests still in flight"
						   : strerror(-r));
		snapfile_put(w, SNAPSHOT_TAG_BALLOON, 0, &bs, sizeof(bs));
	}
	return 0;
}

/* Every section of the state file, in the order a load reads them. */
static int snapshot_put_state(struct snapshot_job *j, struct snapfile_writer *w)
{
	struct vm *vm = j->vm;
	struct snapshot_machine m;
	snapshot_machine_from_vm(vm, &m);
	snapfile_put(w, SNAPSHOT_TAG_MACHINE, 0, &m, sizeof(m));
	snapfile_put(w, SNAPSHOT_TAG_MEM_FILE, 0, j->mem_path,
		     strlen(j->mem_path));
	int r = snapshot_arch_save(vm, w, j->res.msg, sizeof(j->res.msg));
	if (!r)
		r = snapshot_put_devices(vm, w, j->res.msg, sizeof(j->res.msg));
	return r;
}

static void snapshot_log_written(const struct snapshot_job *j,
				 const struct snapshot_mem_stats *ms)
{
	log_info("snapshot: %s + %s: %llu of %llu pages written (%llu zero, "
		 "%llu hinted free), file %llu MiB on disk, state %llu bytes, "
		 "saved in %llu ms",
		 j->state_path, j->mem_path,
		 (unsigned long long)ms->pages_written,
		 (unsigned long long)ms->pages_total,
		 (unsigned long long)j->res.pages_zero,
		 (unsigned long long)ms->pages_skipped,
		 (unsigned long long)(ms->file_bytes >> 20),
		 (unsigned long long)j->res.state_bytes,
		 (unsigned long long)j->res.save_us / 1000);
}

/* With the vCPUs paused: state sections, the memory file, then the state
 * file's commit. skip: holes decided by a hint run, or NULL. 0 or -errno
 * with j->res.msg. */
static int snapshot_write_files(struct snapshot_job *j, uint64_t *const *skip,
				struct snapshot_mem_stats *ms)
{
	struct vm *vm = j->vm;
	char *msg = j->res.msg;
	size_t msglen = sizeof(j->res.msg);
	char why[256];
	struct snapfile_writer w;
	snapfile_writer_init(&w);
	int r = snapshot_put_state(j, &w);
	if (!r && (r = snapshot_mem_write(&vm->mem,
					  (const uint64_t *const *)skip,
					  j->mem_path, ms, why, sizeof(why))))
		err_set(msg, msglen, r, "memory file: %s", why);
	if (!r) {
		const void *img;
		size_t img_len = 0;
		snapfile_writer_image(&w, snapshot_arch_id, &img, &img_len);
		r = snapfile_writer_commit(&w, snapshot_arch_id,
					   j->state_path, why, sizeof(why));
		if (r)
			err_set(msg, msglen, r, "state file: %s", why);
		else
			j->res.state_bytes = img_len;
	}
	snapfile_writer_free(&w);
	return r;
}

/* With the vCPUs paused: everything to disk, the figures into j->res. */
static void snapshot_write(struct snapshot_job *j, uint64_t *const *skip)
{
	uint64_t t0 = clock_now_ns();
	struct snapshot_mem_stats ms;
	int r = snapshot_quiesce(j->vm);
	if (r) {
		j->res.err = err_set(j->res.msg, sizeof(j->res.msg), r,
				     "balloon requests did not finish: %s",
				     strerror(-r));
		return;
	}
	if ((r = snapshot_write_files(j, skip, &ms))) {
		j->res.err = r;
		return;
	}
	j->res.save_us = (clock_now_ns() - t0) / 1000;
	j->res.pages_total = ms.pages_total;
	j->res.pages_written = ms.pages_written;
	j->res.pages_zero = ms.pages_zero + ms.pages_unbacked;
	j->res.mem_file_bytes = ms.file_bytes;
	snapshot_log_written(j, &ms);
}

static void snapshot_paused_write(struct snapshot_job *j,
				  uint64_t *const *skip)
{
	uint64_t *tracked[GMEM_MAX_REGIONS] = {0};
	struct reclaim_counts c = {0};
	/* Paused without a run of our own: a run started through the API
	 * with its dirty log may still decide holes. */
	if (!skip && j->use_hints &&
	    vm_reclaim_take_tracked(j->vm, tracked, &c) == 0) {
		skip = tracked;
		j->res.hinted = true;
		j->res.pages_hinted_clean = c.discard;
		j->res.pages_hinted_dirty = c.dirty + c.device;
	}
	snapshot_write(j, skip);
	for (unsigned i = 0; i < GMEM_MAX_REGIONS; i++)
		free(tracked[i]);
	j->res.pause_us = (clock_now_ns() - j->pause_ns) / 1000;
	job_finish(j);
}

/* vm_reclaim's keep callback: vCPUs paused (or the run failed). */
static void snapshot_on_hints(void *opaque, uint64_t *const *keep,
			      const struct vm_reclaim_result *res)
{
	struct snapshot_job *j = opaque;
	j->res.hint_us = res->hint_us;
	if (!keep) {
		log_warn("snapshot: hint run failed (%s); the memory file will "
			 "hold every non-zero page", res->msg);
		int r = vm_paused(j->vm) ? 0 : vm_pause(j->vm);
		if (r) {
			j->res.err = err_set(j->res.msg, sizeof(j->res.msg), r,
					     "cannot pause the vCPUs: %s",
					     strerror(-r));
			job_finish(j);
			return;
		}
		j->pause_ns = clock_now_ns();
		snapshot_paused_write(j, NULL);
		return;
	}
	j->pause_ns = clock_now_ns() - res->pause_us * 1000;
	j->res.hinted = true;
	j->res.pages_hinted_clean = res->pages.discard;
	j->res.pages_hinted_dirty = res->pages.dirty + res->pages.device;
	snapshot_paused_write(j, keep);
}

static bool snapshot_can_hint(struct vm *vm)
{
	struct balloon_hint_status st;
	return vm->balloon && balloon_hint_status(vm->balloon, &st) == 0 &&
	       st.negotiated;
}

int snapshot_create(struct vm *vm, const struct snapshot_create_req *req,
		    snapshot_done_fn done, void *opaque, char *msg,
		    size_t msglen)
{
	struct snapshot_job *j = NULL;
	int r = snapshot_arch_supported(msg, msglen);
	if (r)
		return r;
	r = job_new(vm, req, &j, msg, msglen);
	if (r)
		return r;
	j->done = done;
	j->opaque = opaque;
	vm->snapshot_job = j;

	if (!vm_paused(vm) && req->use_hints && snapshot_can_hint(vm)) {
		char why[160];
		r = vm_reclaim_start_keep(vm, req->hint_timeout_ms,
					  snapshot_on_hints, j, why,
					  sizeof(why));
		if (!r)
			return 0;
		log_info("snapshot: no hint run (%s)", why);
	}
	r = vm_paused(vm) ? 0 : vm_pause(vm);
	if (r) {
		vm->snapshot_job = NULL;
		job_free(j);
		return err_set(msg, msglen, r, "cannot pause the vCPUs: %s",
			       strerror(-r));
	}
	j->pause_ns = clock_now_ns();
	snapshot_paused_write(j, NULL);
	return 0;
}
