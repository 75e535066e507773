/* Dirty page logging of guest RAM: KVM's per-vCPU dirty rings where KVM
 * offers them, else the per-slot bitmaps of KVM_GET_DIRTY_LOG. KVM slot i is
 * gmem region i. MVMM_DIRTY_LOG=bitmap forces the bitmap. It knows the VM fd,
 * guest memory and one ring per vCPU (mapped from the vCPU's fd), not the VM.
 *
 * Threads: init, destroy, map, enable and fetch run on the main thread;
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

/* Entries per vCPU ring (64 KiB), lowered to what KVM allows. */
#define DIRTY_LOG_RING_ENTRIES 4096u

/* One vCPU's ring, mapped from its fd by dirty_log_map_ring(). */
struct dirty_ring {
	struct kvm_dirty_gfn *gfns; /* NULL in bitmap mode */
	uint32_t fetch;             /* next entry to harvest, free running */
};

struct dirty_log {
	bool initialized;
	bool ring; /* chosen before any vCPU exists; fixed for the VM's life */
	bool on;
	int vm_fd;
	const struct gmem *mem; /* slot i is region i; outlives the log */
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
	/* One per vCPU; gfns NULL until mapped (and in bitmap mode). */
	unsigned nr_rings;
	struct dirty_ring *rings;
	/* Counters for logs (under lock). */
	uint64_t entries, bad_entries, holes;
};

/* After the memory slots of mem exist and before any of nr_vcpus vCPUs:
 * picks the mode and, when want_ring, enables KVM's ring where offered.
 * 0 or -errno (only for host failures; a ring KVM refuses falls back to the
 * bitmap). */
int dirty_log_init(struct dirty_log *dl, int vm_fd, const struct gmem *mem,
		   unsigned nr_vcpus, bool want_ring);
/* Unmaps every ring and frees. */
void dirty_log_destroy(struct dirty_log *dl);
/* Ring mode: maps vCPU i's ring from vcpu_fd, before the vCPU first runs.
 * 0 (nothing to do in bitmap mode) or -errno. */
int dirty_log_map_ring(struct dirty_log *dl, unsigned i, int vcpu_fd);
void dirty_log_unmap_ring(struct dirty_log *dl, unsigned i);
/* Bytes of each vCPU's ring mapping; 0 in bitmap mode. */
size_t dirty_log_ring_bytes(const struct dirty_log *dl);

/* Starts or stops dirty logging on every guest RAM slot. Turning it on
 * clears what was logged before. 0 or -errno. */
int dirty_log_enable(struct dirty_log *dl, bool on);
/* ORs into bits (one bit per 4 KiB page of slot, (len/4096+63)/64 u64 words)
 * every page written since logging was enabled or since the slot's previous
 * fetch, then forgets them. Exact with the vCPUs paused; a running vCPU's
 * later writes show in the next fetch. 0, -EINVAL (no such slot), -ENOENT
 * (logging off) or -errno. */
int dirty_log_fetch(struct dirty_log *dl, unsigned slot, uint64_t *bits);
/* "ring" or "bitmap", for logs and metrics. */
const char *dirty_log_mode(const struct dirty_log *dl);
/* KVM_EXIT_DIRTY_RING_FULL on vCPU i's thread: harvests its ring into the
 * pending bitmaps and resets the rings, so KVM_RUN may go on. 0 or -errno. */
int dirty_log_ring_full(struct dirty_log *dl, unsigned i);

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
