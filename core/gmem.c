#include <core/checked.h>
#include <core/gmem.h>

#include <errno.h>
#include <stdint.h>
#include <linux/memfd.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif

/* Guest RAM is the guest's data and can be large: kept out of core dumps.
 * Best effort (a failure only makes a dump larger). */
static void region_no_dump(struct gmem_region *r)
{
	madvise(r->hva, r->len, MADV_DONTDUMP);
}

uint64_t gmem_map_align(uint64_t len)
{
	return len >= GMEM_ALIGN_1G ? GMEM_ALIGN_1G : GMEM_ALIGN_2M;
}

uint64_t gmem_map_place(uint64_t reserve, uint64_t gpa, uint64_t align)
{
	uint64_t p = ALIGN_DOWN(reserve, align) + (gpa & (align - 1));
	return p >= reserve ? p : p + align;
}

/* Maps len bytes (fd, or anonymous when fd < 0) at an address congruent to
 * gpa modulo the region's alignment: reserve len + align of address space,
 * map inside it, give back the slack. A plain mmap is only page-aligned, and
 * a guest 2 MiB page that straddles two host ones can be backed by neither a
 * THP nor a KVM 2 MiB mapping. */
static void *map_aligned(uint64_t gpa, uint64_t len, int flags, int fd)
{
	uint64_t align = gmem_map_align(len), total;
	if (__builtin_add_overflow(len, align, &total) || total > SIZE_MAX) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	uint8_t *res = mmap(NULL, (size_t)total, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		return MAP_FAILED;
	uint64_t res_end = (uint64_t)(uintptr_t)res + total;
	uint8_t *p = (uint8_t *)(uintptr_t)gmem_map_place((uintptr_t)res, gpa,
							  align);
	void *m = mmap(p, (size_t)len, PROT_READ | PROT_WRITE,
		       flags | MAP_FIXED | MAP_NORESERVE, fd, 0);
	if (m == MAP_FAILED) {
		int e = errno;
		munmap(res, (size_t)total);
		errno = e;
		return MAP_FAILED;
	}
	if (p > res)
		munmap(res, (size_t)(p - res));
	uint64_t end = (uint64_t)(uintptr_t)p + len;
	if (end < res_end)
		munmap(p + len, (size_t)(res_end - end));
	return p;
}

static int region_map(struct gmem_region *r, const struct gmem_opts *opts)
{
	static const struct gmem_opts defaults = {
		.backend = GMEM_ANON_PRIVATE,
		.transparent_hugepages = true,
	};
	if (!opts)
		opts = &defaults;
	r->fd = -1;
	r->fd_offset = 0;
	r->backend = opts->backend;
	if (r->backend == GMEM_ANON_PRIVATE) {
		r->hva = map_aligned(r->gpa, r->len, MAP_PRIVATE | MAP_ANONYMOUS,
				     -1);
		if (r->hva == MAP_FAILED)
			return -errno;
		goto advise;
	}
	unsigned flags = MFD_CLOEXEC;
	if (r->backend == GMEM_HUGETLB_2M) {
		if (r->len % GMEM_ALIGN_2M)
			return -EINVAL;
		flags |= MFD_HUGETLB | (21U << 26); /* MFD_HUGE_2MB */
	}
	r->fd = memfd_create("mvmm-guest-ram", flags);
	if (r->fd < 0)
		return -errno;
	if (ftruncate(r->fd, (off_t)r->len) < 0)
		goto err;
	r->hva = map_aligned(r->gpa, r->len, MAP_SHARED, r->fd);
	if (r->hva == MAP_FAILED)
		goto err;
advise:
	region_no_dump(r);
	/* Advice only: a kernel without THP refuses it, and the memory works
	 * the same with 4 KiB pages. hugetlbfs pages are huge already. */
	if (r->backend != GMEM_HUGETLB_2M)
		madvise(r->hva, r->len,
			opts->transparent_hugepages ? MADV_HUGEPAGE
						    : MADV_NOHUGEPAGE);
	return 0;
err:;
	int e = -errno;
	close(r->fd);
	r->fd = -1;
	return e;
}

int gmem_init(struct gmem *mem, const uint64_t (*ranges)[2], unsigned n,
	      const struct gmem_opts *opts)
{
	memset(mem, 0, sizeof(*mem));
	if (n == 0 || n > GMEM_MAX_REGIONS)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		uint64_t gpa = ranges[i][0], len = ranges[i][1];
		if (len == 0 || gpa % GMEM_PAGE_SIZE || len % GMEM_PAGE_SIZE ||
		    !range_ok(gpa, len) ||
		    (i > 0 && gpa < ranges[i - 1][0] + ranges[i - 1][1])) {
			gmem_destroy(mem);
			return -EINVAL;
		}
		struct gmem_region *r = &mem->regions[i];
		r->gpa = gpa;
		r->len = len;
		int err = region_map(r, opts);
		if (err) {
			gmem_destroy(mem);
			return err;
		}
		mem->nr_regions = i + 1;
		mem->total_bytes += len;
	}
	return 0;
}

int gmem_init_external(struct gmem *mem, uint64_t gpa, void *hva, uint64_t len)
{
	memset(mem, 0, sizeof(*mem));
	if (!hva || len == 0 || !range_ok(gpa, len))
		return -EINVAL;
	mem->regions[0] = (struct gmem_region){
		.gpa = gpa, .len = len, .hva = hva, .fd = -2,
		.backend = GMEM_ANON_PRIVATE,
	};
	mem->nr_regions = 1;
	mem->total_bytes = len;
	return 0;
}

void gmem_destroy(struct gmem *mem)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		struct gmem_region *r = &mem->regions[i];
		if (r->fd == -2) /* external: caller owns it */
			continue;
		if (r->hva && r->hva != MAP_FAILED)
			munmap(r->hva, r->len);
		if (r->fd >= 0)
			close(r->fd);
	}
	memset(mem, 0, sizeof(*mem));
}

const struct gmem_region *gmem_region_of(const struct gmem *mem, uint64_t gpa,
					 uint64_t len)
{
	if (len == 0)
		len = 1;
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct gmem_region *r = &mem->regions[i];
		if (range_within(gpa, len, r->gpa, r->len))
			return r;
	}
	return NULL;
}

void *gmem_ptr(const struct gmem *mem, uint64_t gpa, uint64_t len)
{
	const struct gmem_region *r = gmem_region_of(mem, gpa, len);
	return r ? r->hva + (gpa - r->gpa) : NULL;
}

int gmem_read(const struct gmem *mem, uint64_t gpa, void *dst, size_t len)
{
	void *p = gmem_ptr(mem, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int gmem_write(const struct gmem *mem, uint64_t gpa, const void *src,
	       size_t len)
{
	void *p = gmem_ptr(mem, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}
