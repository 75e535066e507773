/* PUT /snapshot/create: quiesce, collect every state section, write the
 * sparse memory file, then commit the state file (snapshot.h). */
#include "snapshot/snapshot.h"

#include "memory/discard_engine.h"
#include "snapshot/snapshot_machine.h"
#include "snapshot/snapshot_mem.h"
#include "vm/vm.h"
#include "reclaim/vm_reclaim.h"

#include <arch/cpuid.h>
#include <arch/kvm_state.h>
#include <core/clock.h>
#include <core/log.h>
#include "snapshot/snapfile.h"

#include <errno.h>
#include <stdarg.h>
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

static void job_fail(struct snapshot_job *j, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void job_fail(struct snapshot_job *j, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(j->res.msg, sizeof(j->res.msg), fmt, ap);
	va_end(ap);
	j->res.err = err;
}

static void job_finish(struct snapshot_job *j)
{
	j->vm->snapshot_job = NULL;
	if (j->res.err)
		log_warn("snapshot: %s", j->res.msg);
	j->done(j->opaque, &j->res);
	free(j->state_path);
	free(j->mem_path);
	free(j);
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

static int snapshot_put_cpuid(struct snap_writer *w, struct vcpu *v)
{
	struct kvm_cpuid2 *c;
	int r = x86_cpuid_fetch(v->fd, KVM_GET_CPUID2, &c);
	if (r)
		return r;
	snap_put(w, SNAP_TAG_CPUID, v->id, c,
		 sizeof(*c) + c->nent * sizeof(c->entries[0]));
	free(c);
	return 0;
}

static int snapshot_put_kvm(struct snapshot_job *j, struct snap_writer *w)
{
	struct vm *vm = j->vm;
	char err[160];
	void *blob;
	size_t len;
	int r = x86_vm_state_save(vm->vm_fd, &blob, &len, err, sizeof(err));
	if (r) {
		job_fail(j, r, "VM state: %s", err);
		return r;
	}
	snap_put(w, SNAP_TAG_VM_KVM, 0, blob, len);
	free(blob);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if ((r = snapshot_put_cpuid(w, v))) {
			job_fail(j, r, "vcpu%u CPUID: %s", i, strerror(-r));
			return r;
		}
		r = x86_vcpu_state_save(vm->kvm_fd, v->fd, &blob, &len, err,
					sizeof(err));
		if (r) {
			job_fail(j, r, "vcpu%u state: %s", i, err);
			return r;
		}
		snap_put(w, SNAP_TAG_VCPU, i, blob, len);
		free(blob);
	}
	return 0;
}

static int snapshot_put_devices(struct snapshot_job *j, struct snap_writer *w)
{
	struct vm *vm = j->vm;
	struct serial_state ss;
	serial_save(&vm->serial, &ss);
	snap_put(w, SNAP_TAG_SERIAL, 0, &ss, sizeof(ss));
	for (unsigned i = 0; i < vm->nr_virtio; i++) {
		struct virtio_mmio_state ms;
		int r = virtio_mmio_save(&vm->virtio[i].mmio, &ms);
		if (r) {
			job_fail(j, r, "virtio slot %u: %s", i, strerror(-r));
			return r;
		}
		snap_put(w, SNAP_TAG_VIRTIO_MMIO, i, &ms, sizeof(ms));
	}
	if (vm->balloon) {
		struct balloon_state bs;
		int r = balloon_save(vm->balloon, &bs);
		if (r) {
			job_fail(j, r, "balloon: %s", r == -EBUSY
				 ? "requests still in flight" : strerror(-r));
			return r;
		}
		snap_put(w, SNAP_TAG_BALLOON, 0, &bs, sizeof(bs));
	}
	return 0;
}

/* With the vCPUs paused: everything to disk. skip: holes decided by a
 * hint run, or NULL. */
static void snapshot_write(struct snapshot_job *j, uint64_t *const *skip)
{
	struct vm *vm = j->vm;
	struct snap_writer w;
	char err[256];
	uint64_t t0 = clock_now_ns();
	int r = snapshot_quiesce(vm);
	if (r) {
		job_fail(j, r, "balloon requests did not finish: %s",
			 strerror(-r));
		return;
	}
	snap_writer_init(&w);
	struct snapshot_machine m;
	snapshot_machine_from_vm(vm, &m);
	snap_put(&w, SNAP_TAG_MACHINE, 0, &m, sizeof(m));
	snap_put(&w, SNAP_TAG_MEM_FILE, 0, j->mem_path, strlen(j->mem_path));
	if (snapshot_put_kvm(j, &w) || snapshot_put_devices(j, &w))
		goto out;
	struct snapshot_mem_stats ms;
	r = snapshot_mem_write(&vm->mem, (const uint64_t *const *)skip,
			       j->mem_path, &ms, err, sizeof(err));
	if (r) {
		job_fail(j, r, "memory file: %s", err);
		goto out;
	}
	const void *img;
	size_t img_len = 0;
	snap_writer_image(&w, SNAPFILE_ARCH_X86_64, &img, &img_len);
	r = snap_writer_commit(&w, SNAPFILE_ARCH_X86_64, j->state_path, err,
			       sizeof(err));
	if (r) {
		job_fail(j, r, "state file: %s", err);
		goto out;
	}
	j->res.save_us = (clock_now_ns() - t0) / 1000;
	j->res.pages_total = ms.pages_total;
	j->res.pages_written = ms.pages_written;
	j->res.pages_zero = ms.pages_zero + ms.pages_unbacked;
	j->res.mem_file_bytes = ms.file_bytes;
	j->res.state_bytes = img_len;
	log_info("snapshot: %s + %s: %llu of %llu pages written (%llu zero, "
		 "%llu hinted free), file %llu MiB on disk, state %zu bytes, "
		 "saved in %llu ms",
		 j->state_path, j->mem_path,
		 (unsigned long long)ms.pages_written,
		 (unsigned long long)ms.pages_total,
		 (unsigned long long)j->res.pages_zero,
		 (unsigned long long)ms.pages_skipped,
		 (unsigned long long)(ms.file_bytes >> 20), img_len,
		 (unsigned long long)j->res.save_us / 1000);
out:
	snap_writer_free(&w);
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
			job_fail(j, r, "cannot pause the vCPUs: %s", strerror(-r));
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
	if (vm->snapshot_job) {
		snprintf(msg, msglen, "a snapshot is already being taken");
		return -EBUSY;
	}
	if (!req->snapshot_path || !*req->snapshot_path ||
	    !req->mem_file_path || !*req->mem_file_path) {
		snprintf(msg, msglen, "snapshot_path and mem_file_path are required");
		return -EINVAL;
	}
	if (!strcmp(req->snapshot_path, req->mem_file_path)) {
		snprintf(msg, msglen, "snapshot_path and mem_file_path are the same file");
		return -EINVAL;
	}
	struct snapshot_job *j = calloc(1, sizeof(*j));
	if (!j || !(j->state_path = strdup(req->snapshot_path)) ||
	    !(j->mem_path = strdup(req->mem_file_path))) {
		if (j)
			free(j->state_path);
		free(j);
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	j->vm = vm;
	j->done = done;
	j->opaque = opaque;
	j->t0_ns = clock_now_ns();
	j->use_hints = req->use_hints;
	vm->snapshot_job = j;

	if (!vm_paused(vm) && req->use_hints && snapshot_can_hint(vm)) {
		char why[160];
		int r = vm_reclaim_start_snapshot(vm, req->hint_timeout_ms,
						  snapshot_on_hints, j, why,
						  sizeof(why));
		if (!r)
			return 0;
		log_info("snapshot: no hint run (%s)", why);
	}
	int r = vm_paused(vm) ? 0 : vm_pause(vm);
	if (r) {
		vm->snapshot_job = NULL;
		free(j->state_path);
		free(j->mem_path);
		free(j);
		snprintf(msg, msglen, "cannot pause the vCPUs: %s", strerror(-r));
		return r;
	}
	j->pause_ns = clock_now_ns();
	snapshot_paused_write(j, NULL);
	return 0;
}
