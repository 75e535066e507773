/* Dirty page logging: KVM dirty rings or KVM_GET_DIRTY_LOG (dirty_log.h).
 * The ring protocol is the KVM API's (Documentation/virt/kvm/api.rst,
 * KVM_CAP_DIRTY_LOG_RING): harvest in order from the fetch index while the
 * entry is flagged dirty, flag it for reset, then KVM_RESET_DIRTY_RINGS. */
#include "vm/dirty_log.h"

#include <core/log.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* api.rst: the flags are read with load-acquire before slot/offset, and the
 * reset flag published with store-release (required with ..._ACQ_REL). */
static bool gfn_dirty(const struct kvm_dirty_gfn *e)
{
	uint32_t f = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
	return (f & KVM_DIRTY_GFN_F_MASK) == KVM_DIRTY_GFN_F_DIRTY;
}

static void gfn_set_reset(struct kvm_dirty_gfn *e)
{
	__atomic_store_n(&e->flags, (uint32_t)KVM_DIRTY_GFN_F_RESET,
			 __ATOMIC_RELEASE);
}

/* Entries f..f+k-1 clean while f+k is dirty: KVM counts them pushed, but an
 * overrun had them reset before we saw them. Returns k, or 0 when nothing
 * dirty lies ahead or a push was only in flight. */
static uint32_t dirty_log_hole(struct kvm_dirty_gfn *gfns, uint32_t mask,
			       uint32_t f, uint32_t limit)
{
	uint32_t k = 1;
	while (k < limit && !gfn_dirty(&gfns[(f + k) & mask]))
		k++;
	if (k >= limit)
		return 0;
	/* One vCPU pushes in order: after the acquire of f+k, any entry pushed
	 * before it reads dirty. One still clean will not be flagged again. */
	for (uint32_t i = 0; i < k; i++)
		if (gfn_dirty(&gfns[(f + i) & mask]))
			return 0;
	return k;
}

static void dirty_log_mark(struct dirty_log_harvest *h, uint32_t slot,
			   uint64_t offset)
{
	uint32_t id = slot & 0xffff;
	/* Bits 16+ are the address space: guest RAM lives in 0 only. */
	if ((slot >> 16) != 0 || id >= h->nr_slots ||
	    offset >= h->slot_pages[id]) {
		h->bad++;
		return;
	}
	if (h->bits && h->bits[id])
		h->bits[id][offset / 64] |= 1ULL << (offset % 64);
	h->marked++;
}

uint32_t dirty_log_harvest_ring(struct kvm_dirty_gfn *gfns, uint32_t entries,
				uint32_t *fetch, struct dirty_log_harvest *h)
{
	uint32_t mask = entries - 1, done = 0;
	while (done < entries) {
		struct kvm_dirty_gfn *e = &gfns[*fetch & mask];
		if (!gfn_dirty(e)) {
			uint32_t k = dirty_log_hole(gfns, mask, *fetch,
						    entries - done);
			if (!k) {
				if (gfn_dirty(e))
					continue; /* pushed while we looked */
				break;
			}
			for (uint32_t i = 0; i < k; i++)
				gfn_set_reset(&gfns[(*fetch + i) & mask]);
			*fetch += k;
			done += k;
			h->holes += k;
			h->overrun = true;
			continue;
		}
		uint32_t slot = __atomic_load_n(&e->slot, __ATOMIC_RELAXED);
		uint64_t offset = __atomic_load_n(&e->offset, __ATOMIC_RELAXED);
		dirty_log_mark(h, slot, offset);
		gfn_set_reset(e);
		(*fetch)++;
		done++;
	}
	/* A whole ring at once: KVM was past its hard limit and may have
	 * overwritten entries nobody harvested. */
	if (done == entries)
		h->overrun = true;
	return done;
}

static int dirty_log_ring_cap(int vm_fd, uint32_t *entries)
{
	/* _ACQ_REL first: it states the ordering this file keeps. */
	static const int caps[] = {KVM_CAP_DIRTY_LOG_RING_ACQ_REL,
				   KVM_CAP_DIRTY_LOG_RING};
	long page = sysconf(_SC_PAGESIZE);
	int r = -EOPNOTSUPP;
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		/* The value is the largest ring KVM accepts, in bytes. */
		int max = ioctl(vm_fd, KVM_CHECK_EXTENSION, caps[i]);
		if (max <= 0)
			continue;
		uint64_t bytes = DIRTY_LOG_RING_ENTRIES *
				 sizeof(struct kvm_dirty_gfn);
		while (bytes > (uint64_t)max)
			bytes /= 2;
		if (page <= 0 || bytes < (uint64_t)page)
			continue; /* KVM wants at least a page */
		struct kvm_enable_cap ec = {.cap = (uint32_t)caps[i],
					    .args = {bytes}};
		if (ioctl(vm_fd, KVM_ENABLE_CAP, &ec) == 0) {
			*entries = (uint32_t)(bytes /
					      sizeof(struct kvm_dirty_gfn));
			return 0;
		}
		r = -errno;
	}
	return r;
}

/* The ring where KVM offers it and MVMM_DIRTY_LOG does not say bitmap;
 * the bitmap otherwise. Logs the choice. */
static void dirty_log_choose_ring(struct dirty_log *dl, int vm_fd)
{
	const char *env = getenv("MVMM_DIRTY_LOG");
	if (env && strcmp(env, "bitmap") == 0) {
		log_info("dirty log: bitmap (MVMM_DIRTY_LOG=bitmap)");
		return;
	}
	if (env && *env && strcmp(env, "ring") != 0)
		log_warn("MVMM_DIRTY_LOG=%s: expected ring or bitmap; using the ring where KVM offers it",
			 env);
	int r = dirty_log_ring_cap(vm_fd, &dl->ring_entries);
	if (r) {
		log_info("dirty log: bitmap (no KVM dirty ring: %s)",
			 strerror(-r));
		return;
	}
	dl->ring = true;
	log_info("dirty log: KVM dirty ring, %u entries per vCPU",
		 dl->ring_entries);
}

int dirty_log_init(struct dirty_log *dl, int vm_fd, const struct gmem *mem,
		   unsigned nr_vcpus, bool want_ring)
{
	memset(dl, 0, sizeof(*dl));
	int r = -pthread_mutex_init(&dl->lock, NULL);
	if (r)
		return r;
	dl->initialized = true;
	dl->vm_fd = vm_fd;
	dl->mem = mem;
	dl->nr_slots = mem->nr_regions;
	dl->rings = calloc(nr_vcpus ? nr_vcpus : 1, sizeof(*dl->rings));
	if (!dl->rings) {
		dirty_log_destroy(dl);
		return -ENOMEM;
	}
	dl->nr_rings = nr_vcpus;
	for (unsigned i = 0; i < dl->nr_slots; i++) {
		dl->slot_pages[i] = mem->regions[i].len / GMEM_PAGE_SIZE;
		dl->pending[i] = calloc((size_t)((dl->slot_pages[i] + 63) / 64),
					sizeof(uint64_t));
		if (!dl->pending[i]) {
			dirty_log_destroy(dl);
			return -ENOMEM;
		}
	}
	/* Only hint runs log dirty pages: other VMs keep KVM's bitmap
	 * interface (nothing to map, no ring-full exits, no 64 KiB per vCPU). */
	if (want_ring)
		dirty_log_choose_ring(dl, vm_fd);
	return 0;
}

void dirty_log_destroy(struct dirty_log *dl)
{
	if (!dl->initialized)
		return;
	for (unsigned i = 0; i < dl->nr_rings; i++)
		dirty_log_unmap_ring(dl, i);
	free(dl->rings);
	for (unsigned i = 0; i < GMEM_MAX_REGIONS; i++)
		free(dl->pending[i]);
	pthread_mutex_destroy(&dl->lock);
	memset(dl, 0, sizeof(*dl));
}

size_t dirty_log_ring_bytes(const struct dirty_log *dl)
{
	return dl->ring ? (size_t)dl->ring_entries * sizeof(struct kvm_dirty_gfn)
			: 0;
}

int dirty_log_map_ring(struct dirty_log *dl, unsigned i, int vcpu_fd)
{
	size_t bytes = dirty_log_ring_bytes(dl);
	if (!bytes)
		return 0;
	if (i >= dl->nr_rings || dl->rings[i].gfns)
		return -EINVAL;
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd,
		       (off_t)KVM_DIRTY_LOG_PAGE_OFFSET * getpagesize());
	if (p == MAP_FAILED)
		return -errno;
	dl->rings[i] = (struct dirty_ring){.gfns = p};
	return 0;
}

void dirty_log_unmap_ring(struct dirty_log *dl, unsigned i)
{
	if (i >= dl->nr_rings || !dl->rings[i].gfns)
		return;
	munmap(dl->rings[i].gfns, dirty_log_ring_bytes(dl));
	dl->rings[i].gfns = NULL;
}

const char *dirty_log_mode(const struct dirty_log *dl)
{
	return dl->ring ? "ring" : "bitmap";
}

static int dirty_log_set_flags(struct dirty_log *dl, bool on)
{
	int r = 0;
	for (unsigned i = 0; i < dl->nr_slots; i++) {
		const struct gmem_region *g = &dl->mem->regions[i];
		struct kvm_userspace_memory_region kr = {
			.slot = i,
			.flags = on ? KVM_MEM_LOG_DIRTY_PAGES : 0,
			.guest_phys_addr = g->gpa,
			.memory_size = g->len,
			.userspace_addr = (uint64_t)(uintptr_t)g->hva,
		};
		if (ioctl(dl->vm_fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0 && !r)
			r = -errno;
	}
	return r;
}

static void dirty_log_note(struct dirty_log *dl, const struct dirty_log_harvest *h)
{
	dl->entries += h->marked + h->bad;
	dl->bad_entries += h->bad;
	dl->holes += h->holes;
	if (h->bad)
		log_ratelimited(LOG_WARN, "dirty log: %llu ring entries outside guest RAM ignored",
				(unsigned long long)h->bad);
	if (h->overrun) {
		/* Safe side: what KVM may have dropped is reported written. */
		for (unsigned i = 0; i < dl->nr_slots; i++)
			dl->overflow[i] = true;
		log_ratelimited(LOG_ERROR, "dirty log: a KVM dirty ring overran (%llu holes); the next fetch reports every page",
				(unsigned long long)h->holes);
	}
}

/* Under lock: harvests one ring (or every ring when only is NULL) into the
 * pending bitmaps (or drops it), then lets KVM re-arm the pages. */
static int dirty_log_harvest_locked(struct dirty_log *dl,
				    const struct dirty_ring *only, bool keep,
				    bool force_reset)
{
	struct dirty_log_harvest h = {
		.nr_slots = dl->nr_slots,
		.slot_pages = dl->slot_pages,
		.bits = keep ? dl->pending : NULL,
	};
	uint64_t n = 0;
	for (unsigned i = 0; i < dl->nr_rings; i++) {
		struct dirty_ring *ring = &dl->rings[i];
		if ((only && ring != only) || !ring->gfns)
			continue;
		n += dirty_log_harvest_ring(ring->gfns, dl->ring_entries,
					    &ring->fetch, &h);
	}
	dirty_log_note(dl, &h);
	if (!n && !force_reset)
		return 0;
	return ioctl(dl->vm_fd, KVM_RESET_DIRTY_RINGS, 0) < 0 ? -errno : 0;
}

static void dirty_log_clear_pending(struct dirty_log *dl)
{
	for (unsigned i = 0; i < dl->nr_slots; i++) {
		memset(dl->pending[i], 0,
		       (size_t)((dl->slot_pages[i] + 63) / 64) * 8);
		dl->overflow[i] = false;
	}
}

int dirty_log_enable(struct dirty_log *dl, bool on)
{
	if (!dl->initialized)
		return -ENODEV;
	pthread_mutex_lock(&dl->lock);
	int r = dirty_log_set_flags(dl, on);
	if (r && on)
		dirty_log_set_flags(dl, false); /* all or nothing */
	dl->on = on && !r;
	/* Drop what was logged before: entries already in the rings, the
	 * pending bits, or KVM's bitmap (read and cleared). */
	if (dl->ring) {
		int e = dirty_log_harvest_locked(dl, NULL, false, false);
		if (!r)
			r = e;
	}
	dirty_log_clear_pending(dl);
	for (unsigned i = 0; !dl->ring && dl->on && i < dl->nr_slots; i++) {
		struct kvm_dirty_log log = {.slot = i,
					    .dirty_bitmap = dl->pending[i]};
		if (ioctl(dl->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0 && !r)
			r = -errno;
	}
	pthread_mutex_unlock(&dl->lock);
	return r;
}

/* Every page of a slot of pages, none past its end. */
static void dirty_log_set_all(uint64_t *bits, uint64_t pages)
{
	size_t words = (size_t)((pages + 63) / 64);
	for (size_t w = 0; w < words; w++)
		bits[w] |= (w + 1) * 64 <= pages ? ~0ULL
						 : (1ULL << (pages % 64)) - 1;
}

int dirty_log_fetch(struct dirty_log *dl, unsigned slot, uint64_t *bits)
{
	if (!dl->initialized)
		return -ENODEV;
	if (slot >= dl->nr_slots)
		return -EINVAL;
	size_t words = (size_t)((dl->slot_pages[slot] + 63) / 64);
	int r = 0;
	pthread_mutex_lock(&dl->lock);
	if (!dl->on) {
		r = -ENOENT;
		goto out;
	}
	if (dl->ring) {
		r = dirty_log_harvest_locked(dl, NULL, true, false);
	} else {
		/* KVM overwrites the buffer: read into pending, then OR. */
		struct kvm_dirty_log log = {.slot = slot,
					    .dirty_bitmap = dl->pending[slot]};
		if (ioctl(dl->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
			r = -errno;
	}
	if (r)
		goto out;
	for (size_t w = 0; w < words; w++)
		bits[w] |= dl->pending[slot][w];
	memset(dl->pending[slot], 0, words * 8);
	if (dl->overflow[slot]) {
		dirty_log_set_all(bits, dl->slot_pages[slot]);
		dl->overflow[slot] = false;
	}
out:
	pthread_mutex_unlock(&dl->lock);
	return r;
}

int dirty_log_ring_full(struct dirty_log *dl, unsigned i)
{
	if (!dl->initialized || !dl->ring || i >= dl->nr_rings)
		return -EINVAL;
	pthread_mutex_lock(&dl->lock);
	/* Kept only while logging: entries left from before are dropped.
	 * Reset even when the main thread emptied the ring meanwhile. */
	int r = dirty_log_harvest_locked(dl, &dl->rings[i], dl->on, true);
	pthread_mutex_unlock(&dl->lock);
	return r;
}
