/* Safe reclaim from free page hints (mvmm-specific). A hint only says a page
 * was free at some point after the run began; the guest may take it back
 * (its shrinker) and write it before DONE. So a page is discarded only under
 * proof: KVM dirty logging is on from before the run id is written, and
 * with every vCPU paused the hinted pages that stayed clean are discarded,
 * then DONE is written and the VM resumes.
 *
 * KVM's log misses the VMM's own writes. The only ones to guest RAM while a
 * guest runs are the virtio devices': used rings (and avail_event), never
 * buffers the guest hinted (hinted pages are free guest pages, not in any
 * queue; the balloon uses hint buffers with length 0). Every page holding a
 * ring of any virtio queue is therefore never reclaimed.
 *
 * Threads: main loop only. */
#ifndef VMM_VM_RECLAIM_H
#define VMM_VM_RECLAIM_H

#include "reclaim/reclaim_bits.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;

enum vm_reclaim_state {
	VM_RECLAIM_IDLE,    /* none started */
	VM_RECLAIM_WAITING, /* hint run in progress */
	VM_RECLAIM_DONE,    /* the last one completed */
	VM_RECLAIM_FAILED,  /* the last one failed: err, msg */
};

struct vm_reclaim_result {
	enum vm_reclaim_state state;
	uint64_t reclaims;        /* started since boot */
	uint32_t cmd_id;          /* the hint run's id */
	bool guest_stopped;       /* false: the host stopped it at the timeout */
	struct reclaim_counts pages;
	uint64_t pages_logged;    /* dirtied in the run, hinted or not */
	uint64_t hint_us;         /* run id written to STOP (or timeout) */
	uint64_t pause_us;        /* vCPUs paused */
	uint64_t discard_us;      /* of which discarding */
	int err;
	char msg[160];
};

/* Three ways to start a hint run under the dirty log (all refused when a
 * timed run is waiting):
 * - vm_reclaim_start_discard: timed run, then discard (POST reclaim);
 * - vm_reclaim_start_keep: timed run, then hand the pages to keep (snapshot);
 * - vm_reclaim_start_tracked: an untimed run the API starts (Firecracker's
 *   hinting/start), tracked for a later vm_reclaim_take_tracked. */

/* Timed run, then discard: the run gets timeout_ms to end with the guest's
 * STOP before the host stops it; then the vCPUs pause, the hinted pages that
 * stayed clean are discarded, DONE is written and the vCPUs resume. 0, or
 * -errno with msg: -ENODEV (no balloon), -EOPNOTSUPP (hinting not
 * configured, hugetlb or locked memory, non-zero page poison), -EBUSY (a
 * reclaim runs or discards are inhibited), or balloon_hint_start's errors. */
int vm_reclaim_start_discard(struct vm *vm, unsigned timeout_ms, char *msg,
			     size_t msglen);
void vm_reclaim_get(struct vm *vm, struct vm_reclaim_result *out);

/* Called by a kept run (snapshot_save.c) with the vCPUs paused and DONE
 * already written; keep_out[i] marks region i's hinted pages that stayed
 * clean and hold no ring (freed after the call). The VM stays paused. On
 * failure keep_out is NULL and res->err/msg say why (then the caller decides
 * whether to pause and go on without hints). */
typedef void (*vm_reclaim_keep_fn)(void *opaque, uint64_t *const *keep_out,
				   const struct vm_reclaim_result *res);
/* Timed run, then keep: the same run and proof as start_discard, but the
 * pages go to keep(opaque, ...) instead of being discarded, so backend,
 * locked memory and inhibited discards do not matter. 0 or -errno with msg;
 * keep is called once, later, only on 0. */
int vm_reclaim_start_keep(struct vm *vm, unsigned timeout_ms,
			  vm_reclaim_keep_fn keep, void *opaque, char *msg,
			  size_t msglen);
/* An API run, tracked: dirty log on and cleared, then the run id
 * (balloon_hint_start with acknowledge_on_stop); no timer, nothing
 * discarded. Refused like start_keep; then the caller starts the run
 * without a log. */
int vm_reclaim_start_tracked(struct vm *vm, bool acknowledge_on_stop,
			     uint32_t *cmd_id, char *msg, size_t msglen);
/* vCPUs paused: the tracked run's hinted pages that stayed clean since its
 * id was written and hold no ring, one malloc'd bitmap per region in
 * sel[i] (the caller frees); logging ends. -ENOENT (no tracked run, or a
 * later run or reclaim replaced it), -ESTALE (the device forgot the run:
 * reset), -errno. */
int vm_reclaim_take_tracked(struct vm *vm, uint64_t **sel,
			    struct reclaim_counts *c);
/* Ends a reclaim in progress (dirty logging off) and frees. */
void vm_reclaim_destroy(struct vm *vm);

#endif
