#include "memory/mem_lock.h"

#include <core/checked.h>
#include <core/log.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

static void limit_str(char *buf, size_t len)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		snprintf(buf, len, "unknown");
	else if (rl.rlim_cur == RLIM_INFINITY)
		snprintf(buf, len, "unlimited");
	else
		snprintf(buf, len, "%llu KiB",
			 (unsigned long long)rl.rlim_cur >> 10);
}

int mem_lock_all(const struct gmem *mem, char *err, size_t errlen)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct gmem_region *r = &mem->regions[i];
		if (mlock(r->hva, r->len) == 0)
			continue;
		int e = errno;
		char lim[32];
		limit_str(lim, sizeof(lim));
		/* EPERM/ENOMEM: over RLIMIT_MEMLOCK without CAP_IPC_LOCK, or
		 * not enough memory (hugepages) to populate it. */
		snprintf(err, errlen,
			 "machine-config.mvmm_mem_lock: cannot lock %llu MiB "
			 "of guest RAM: %s (RLIMIT_MEMLOCK %s; run as root or "
			 "raise it with ulimit -l)",
			 (unsigned long long)(mem->total_bytes >> 20),
			 strerror(e), lim);
		for (unsigned j = 0; j < i; j++)
			munlock(mem->regions[j].hva, mem->regions[j].len);
		return -e;
	}
	log_info("mem_lock: %llu MiB of guest RAM locked",
		 (unsigned long long)(mem->total_bytes >> 20));
	return 0;
}

/* mlock or munlock a page-aligned range of region r. 0 or -errno. */
static int lock_range(const struct gmem_region *r, uint64_t offset,
		      uint64_t len, int (*op)(const void *addr, size_t len))
{
	if (!r || !r->hva || len == 0 || offset % GMEM_PAGE_SIZE ||
	    len % GMEM_PAGE_SIZE || !range_within(offset, len, 0, r->len))
		return -EINVAL;
	return op(r->hva + offset, len) < 0 ? -errno : 0;
}

static int lock_pin(void *be, const struct gmem_region *r, uint64_t offset,
		    uint64_t len)
{
	(void)be;
	return lock_range(r, offset, len, mlock);
}

static int lock_unpin(void *be, const struct gmem_region *r, uint64_t offset,
		      uint64_t len)
{
	(void)be;
	return lock_range(r, offset, len, munlock);
}

const struct mem_pin_ops mem_lock_pin_ops = {
	.pin = lock_pin,
	.unpin = lock_unpin,
};
