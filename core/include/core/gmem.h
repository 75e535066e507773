/* Guest memory: a fixed set of regions mapping guest-physical ranges to host
 * memory. The one place that turns guest addresses into host pointers; every
 * translation is bounds- and overflow-checked (vm-memory is the model).
 *
 * Threads: regions are immutable after gmem_finalize(); any thread may
 * translate. Contents are shared with the guest and may change at any time:
 * copy small structures out before validating them. */
#ifndef CORE_GMEM_H
#define CORE_GMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GMEM_MAX_REGIONS 8
#define GMEM_PAGE_SIZE 4096ULL

enum gmem_backend {
	GMEM_ANON_PRIVATE, /* mmap(MAP_PRIVATE|MAP_ANONYMOUS): discard by madvise */
	GMEM_MEMFD_SHARED, /* memfd, MAP_SHARED: discard by punch hole */
	GMEM_HUGETLB_2M,   /* memfd MFD_HUGETLB: discard whole 2 MiB pages */
};

struct gmem_region {
	uint64_t gpa;
	uint64_t len;
	uint8_t *hva;
	int fd;             /* -1 for anonymous memory */
	uint64_t fd_offset; /* offset of this region inside fd */
	enum gmem_backend backend;
};

struct gmem {
	unsigned nr_regions;
	struct gmem_region regions[GMEM_MAX_REGIONS];
	uint64_t total_bytes;
};

struct gmem_opts {
	enum gmem_backend backend;
	/* MADV_HUGEPAGE (anonymous always; memfd where the host's
	 * shmem_enabled is advise, always or within_size), else
	 * MADV_NOHUGEPAGE so that a host THP mode of "always" does not apply
	 * either. No effect on GMEM_HUGETLB_2M. */
	bool transparent_hugepages;
};

/* The largest huge page a region of len bytes can hold: 1 GiB pages once it
 * is that large, else 2 MiB. */
#define GMEM_ALIGN_2M (2ULL << 20)
#define GMEM_ALIGN_1G (1ULL << 30)
uint64_t gmem_map_align(uint64_t len);
/* Where to map a region inside a reservation starting at reserve (len +
 * align bytes): the lowest address >= reserve congruent to gpa modulo align,
 * so that the host's huge pages and KVM's large mappings line up with the
 * guest's. align must be a power of two. */
uint64_t gmem_map_place(uint64_t reserve, uint64_t gpa, uint64_t align);

/* Allocates host memory for each [gpa, gpa+len) range, each mapped at an
 * address congruent to its gpa modulo gmem_map_align(len). opts NULL: anonymous
 * memory with transparent huge pages. Ranges must be page-aligned, sorted and
 * not overlap. Returns 0 or -errno. */
int gmem_init(struct gmem *mem, const uint64_t (*ranges)[2], unsigned n,
	      const struct gmem_opts *opts);
/* Wraps caller-owned host buffers (tests, fuzzers). No ownership taken. */
int gmem_init_external(struct gmem *mem, uint64_t gpa, void *hva,
		       uint64_t len);
void gmem_destroy(struct gmem *mem);

/* Host pointer for [gpa, gpa+len) or NULL when any byte lies outside one
 * region or the range wraps. len 0 is treated as 1. */
void *gmem_ptr(const struct gmem *mem, uint64_t gpa, uint64_t len);
/* The region holding [gpa, gpa+len), or NULL. */
const struct gmem_region *gmem_region_of(const struct gmem *mem, uint64_t gpa,
					 uint64_t len);
/* Copies out of / into guest memory; 0 or -EFAULT. */
int gmem_read(const struct gmem *mem, uint64_t gpa, void *dst, size_t len);
int gmem_write(const struct gmem *mem, uint64_t gpa, const void *src,
	       size_t len);

#endif
