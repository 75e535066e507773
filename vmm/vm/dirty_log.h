/* Dirty page logging of guest RAM (issue 7): KVM's per-vCPU dirty rings where
 * KVM offers them, else the per-slot bitmaps of KVM_GET_DIRTY_LOG. KVM slot i
 * is gmem region i. MVMM_DIRTY_LOG=bitmap forces the bitmap.
 *
 * Threads: init, destroy, enable and fetch run on the main thread;
 * dirty_log_ring_full() runs on the vCPU thread that took
 * KVM_EXIT_DIRTY_RING_FULL while other vCPUs run. One mutex serializes every
 * harvest (each ring's fetch index), the pending bitmaps and
 * KVM_RESET_DIRTY_RINGS. */
#ifndef VMM_DIRTY_LOG_H
#define VMM_DIRTY_LOG_H

#include <core/gmem.h>

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct vcpu;

/* Entries per vCPU ring (64 KiB), lowered to what KVM allows. */
#define DIRTY_LOG_RING_ENTRIES 4096u

/* One vCPU's ring, mapped from its fd by vcpu.c. */
struct dirty_ring {
	struct kvm_dirty_gfn *gfns; /* NULL in bitmap mode */
	uint32_t fetch;             /* next entry to harvest, free running */
};

struct dirty_log {
	bool initialized;
	bool ring; /* chosen before any vCPU exists; fixed for the VM's life */
	bool on;
	uint32_t ring_entries;
	pthread_mutex_t lock;
	unsigned nr_slots;
	uint64_t slot_pages[GMEM_MAX_REGIONS];
	/* Ring: harvested but not yet fetched. Bitmap: KVM_GET_DIRTY_LOG's
	 * buffer. One bit per page. */
	uint64_t *pending[GMEM_MAX_REGIONS];
	/* KVM may have lost entries (a ring overrun): the next fetch of the
	 * slot reports every page, which is always safe. */
	bool overflow[GMEM_MAX_REGIONS];
	/* Counters for logs (under lock). */
	uint64_t entries, bad_entries, holes;
};

/* After the memory slots exist and before any vCPU: picks the mode and
 * enables KVM's ring where offered. 0 or -errno (only for host failures; a
 * ring KVM refuses falls back to the bitmap). */
int dirty_log_init(struct vm *vm);
void dirty_log_destroy(struct vm *vm);
/* Bytes of each vCPU's ring mapping; 0 in bitmap mode. */
size_t dirty_log_ring_bytes(const struct vm *vm);

/* Starts or stops dirty logging on every guest RAM slot. Turning it on
 * clears what was logged before. 0 or -errno. */
int dirty_log_enable(struct vm *vm, bool on);
/* ORs into bits (one bit per 4 KiB page of slot, (len/4096+63)/64 u64 words)
 * every page written since logging was enabled or since the slot's previous
 * fetch, then forgets them. Exact with the vCPUs paused; a running vCPU's
 * later writes show in the next fetch. 0, -EINVAL (no such slot), -ENOENT
 * (logging off) or -errno. */
int dirty_log_fetch(struct vm *vm, unsigned slot, uint64_t *bits);
/* "ring" or "bitmap", for logs and metrics. */
const char *dirty_log_mode(const struct vm *vm);
/* KVM_EXIT_DIRTY_RING_FULL on vcpu's thread: harvests its ring into the
 * pending bitmaps and resets the rings, so KVM_RUN may go on. 0 or -errno. */
int dirty_log_ring_full(struct vm *vm, struct vcpu *vcpu);

/* The pure ring walk, apart for tests. */
struct dirty_log_harvest {
	unsigned nr_slots;
	const uint64_t *slot_pages;
	uint64_t *const *bits; /* per slot; NULL drops what is harvested */
	uint64_t marked;       /* out: entries that set a page's bit */
	uint64_t bad;          /* out: entries naming no page of a slot */
	uint64_t holes;        /* out: entries KVM pushed but never flagged */
	bool overrun;          /* out: the ring was full or had holes */
};
/* Walks gfns[] (entries, a power of two) from *fetch while entries are
 * flagged dirty: marks each named page, flags the entry for reset and
 * advances *fetch. Bad entries are counted and skipped. A non-dirty entry
 * with dirty ones after it is a hole left by a KVM overrun: flagged for reset,
 * skipped and counted. At most entries per call. Returns the number of
 * entries consumed; the caller then issues KVM_RESET_DIRTY_RINGS. */
uint32_t dirty_log_harvest_ring(struct kvm_dirty_gfn *gfns, uint32_t entries,
				uint32_t *fetch, struct dirty_log_harvest *h);

#endif
