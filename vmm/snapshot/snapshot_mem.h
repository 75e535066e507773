/* The snapshot memory file: guest RAM regions back to back in gmem order
 * (region i at the sum of the earlier regions' lengths), the file exactly
 * mem->total_bytes long and sparse: a page is written only when it is not
 * zero and not skipped, everything else is a hole.
 *
 * Skipped pages (ballooned, or hinted and clean since the hint run began)
 * are not even read, so a writer never faults them in. Zero pages are found
 * by reading; for file-backed regions (memfd) the holes the backing file
 * already has are not read either (SEEK_DATA), so they are never allocated.
 *
 * Threads: the caller's; guest memory must not change meanwhile (vCPUs
 * paused, no discard in flight). */
#ifndef VMM_SNAPSHOT_MEM_H
#define VMM_SNAPSHOT_MEM_H

#include <core/gmem.h>

#include <stddef.h>
#include <stdint.h>

struct snapshot_mem_stats {
	uint64_t pages_total;
	uint64_t pages_written;
	uint64_t pages_zero;    /* read, found zero: holes */
	uint64_t pages_skipped; /* skip bitmap: holes, not read */
	uint64_t pages_unbacked; /* backing-file holes: not read */
	uint64_t file_bytes;     /* st_blocks * 512 after fsync */
	uint64_t write_us;
};

/* skip[i] (optional, may be NULL, and so may the array): one bit per 4 KiB
 * page of region i, set = leave a hole without reading. Writes through a
 * temporary name beside path, fsyncs, renames. 0 or -errno with err. */
int snapshot_mem_write(const struct gmem *mem, const uint64_t *const *skip,
		       const char *path, struct snapshot_mem_stats *st,
		       char *err, size_t errlen);

struct snapshot_mem_load_stats {
	uint64_t bytes_read;
	uint64_t load_us;
};

/* Fills freshly allocated (all-zero) guest memory from path, reading only
 * the file's data extents (SEEK_DATA/SEEK_HOLE). The file must be exactly
 * mem->total_bytes long: -EINVAL with err otherwise. 0 or -errno. */
int snapshot_mem_load(const struct gmem *mem, const char *path,
		      struct snapshot_mem_load_stats *st, char *err,
		      size_t errlen);

#endif
