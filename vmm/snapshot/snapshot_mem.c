#include "snapshot/snapshot_mem.h"

#include <core/checked.h>
#include <core/clock.h>
#include <core/err.h>
#include <core/io.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE GMEM_PAGE_SIZE
/* Runs of non-zero pages are written with one pwrite of at most this. */
#define WRITE_CHUNK (1ULL << 20)

static bool skip_bit(const uint64_t *bits, uint64_t page)
{
	return bits && (bits[page / 64] >> (page % 64)) & 1;
}

/* The next data extent of r's backing file at or after region offset off,
 * as region offsets [*ds, *de), page-rounded; *ds == r->len when none.
 * Anonymous memory, or a file without SEEK_DATA, is all data. */
static void backing_next(const struct gmem_region *r, uint64_t off,
			 uint64_t *ds, uint64_t *de)
{
	*ds = off;
	*de = r->len;
	if (r->fd < 0)
		return;
	off_t s = lseek(r->fd, (off_t)(r->fd_offset + off), SEEK_DATA);
	if (s < 0) {
		if (errno == ENXIO)
			*ds = r->len;
		return; /* other errors: treat the rest as data */
	}
	uint64_t rs = (uint64_t)s - r->fd_offset; /* >= off: SEEK_DATA */
	if (rs >= r->len) {
		*ds = r->len; /* data only beyond this region */
		return;
	}
	*ds = ALIGN_DOWN(rs, PAGE);
	off_t e = lseek(r->fd, s, SEEK_HOLE);
	if (e > s)
		*de = MIN(ALIGN_UP((uint64_t)e - r->fd_offset, PAGE), r->len);
}

/* Writes region r, which starts at file offset base, into fd. */
static int write_region(int fd, const struct gmem_region *r, uint64_t base,
			const uint64_t *skip, struct snapshot_mem_stats *st)
{
	uint64_t off = 0, ds = 0, de = 0;
	uint64_t run = 0, run_len = 0; /* pending non-zero pages */
	int e = 0;

	while (off < r->len && !e) {
		uint64_t page = off / PAGE, n = MIN(PAGE, r->len - off);
		bool flush = false;
		if (off >= de)
			backing_next(r, off, &ds, &de);
		if (skip_bit(skip, page)) {
			st->pages_skipped++;
			flush = true;
		} else if (off < ds) {
			st->pages_unbacked++;
			flush = true;
		} else if (io_all_zero(r->hva + off, n)) {
			st->pages_zero++;
			flush = true;
		} else {
			if (!run_len)
				run = off;
			run_len += n;
			st->pages_written++;
			flush = run_len >= WRITE_CHUNK;
		}
		off += n;
		if ((flush || off == r->len) && run_len) {
			e = io_pwrite_full(fd, r->hva + run, run_len, base + run);
			run_len = 0;
		}
	}
	return e;
}

/* Every region into fd, region i at the sum of the earlier lengths. */
static int write_regions(int fd, const struct gmem *mem,
			 const uint64_t *const *skip,
			 struct snapshot_mem_stats *st)
{
	uint64_t base = 0;
	int e = 0;
	for (unsigned i = 0; i < mem->nr_regions && !e; i++) {
		const struct gmem_region *r = &mem->regions[i];
		e = write_region(fd, r, base, skip ? skip[i] : NULL, st);
		base += r->len; /* sums to total_bytes: no overflow */
	}
	return e;
}

/* Sizes, fills and syncs the temporary file; the allocated size is read
 * after fsync, so holes are final. *what names the failing step. */
static int write_file(int fd, const struct gmem *mem,
		      const uint64_t *const *skip,
		      struct snapshot_mem_stats *st, const char **what)
{
	struct stat sb;
	*what = "size";
	if (ftruncate(fd, (off_t)mem->total_bytes) < 0)
		return -errno;
	*what = "write";
	int e = write_regions(fd, mem, skip, st);
	if (e)
		return e;
	*what = "fsync";
	if (fsync(fd) < 0)
		return -errno;
	*what = "fstat";
	if (fstat(fd, &sb) < 0)
		return -errno;
	st->file_bytes = (uint64_t)sb.st_blocks * 512;
	return 0;
}

int snapshot_mem_write(const struct gmem *mem, const uint64_t *const *skip,
		       const char *path, struct snapshot_mem_stats *st,
		       char *err, size_t errlen)
{
	uint64_t t0 = clock_now_us();
	memset(st, 0, sizeof(*st));
	for (unsigned i = 0; i < mem->nr_regions; i++)
		st->pages_total += ALIGN_UP(mem->regions[i].len, PAGE) / PAGE;
	if (mem->total_bytes > (uint64_t)INT64_MAX)
		return err_set(err, errlen, -EFBIG,
			       "%s: guest RAM too large for a file", path);
	struct io_tmpfile t;
	const char *what = "create";
	int e = io_tmpfile_open(&t, path);
	if (e == -ENAMETOOLONG)
		return err_set(err, errlen, e, "%s: path too long", path);
	if (!e) {
		if ((e = write_file(t.fd, mem, skip, st, &what)))
			io_tmpfile_abort(&t);
		else
			e = io_tmpfile_commit(&t, &what);
	}
	if (e)
		return err_set(err, errlen, e,
			       "%s: %s of memory file failed: %s", path, what,
			       strerror(-e));
	st->write_us = clock_now_us() - t0;
	return 0;
}

/* Reads file range [s, e) into whichever regions it covers. */
static int load_extent(const struct gmem *mem, int fd, uint64_t s, uint64_t e)
{
	uint64_t base = 0;
	for (unsigned i = 0; i < mem->nr_regions && s < e; i++) {
		const struct gmem_region *r = &mem->regions[i];
		uint64_t end = base + r->len;
		if (s < end) {
			uint64_t n = MIN(e, end) - s;
			/* -EIO when the file shrank under us. */
			int err = io_pread_full(fd, r->hva + (s - base), n, s);
			if (err)
				return err;
			s += n;
		}
		base = end;
	}
	return 0;
}

/* Reads every data extent of the file (all of it where SEEK_DATA is not
 * offered) into guest memory. 0, or -errno with *at where it failed. */
static int load_extents(const struct gmem *mem, int fd, uint64_t size,
			struct snapshot_mem_load_stats *st, uint64_t *at)
{
	uint64_t pos = 0;
	while (pos < size) {
		uint64_t s = pos, end = size;
		off_t d = lseek(fd, (off_t)pos, SEEK_DATA);
		if (d < 0 && errno == ENXIO)
			break; /* only a hole remains */
		if (d >= 0) {
			s = (uint64_t)d;
			off_t h = lseek(fd, d, SEEK_HOLE);
			if (h >= d)
				end = MIN((uint64_t)h, size);
		} /* else no SEEK_DATA here: read everything */
		if (s >= end)
			break;
		*at = s;
		int e = load_extent(mem, fd, s, end);
		if (e)
			return e;
		st->bytes_read += end - s;
		pos = end;
	}
	return 0;
}

int snapshot_mem_load(const struct gmem *mem, const char *path,
		      struct snapshot_mem_load_stats *st, char *err,
		      size_t errlen)
{
	uint64_t t0 = clock_now_us();
	memset(st, 0, sizeof(*st));
	char why[128];
	int fd = io_open_regular(path, O_RDONLY, why, sizeof(why));
	if (fd < 0)
		return err_set(err, errlen, fd, "%s: cannot open memory file: %s",
			       path, why);
	struct stat sb;
	uint64_t at = 0;
	int e = fstat(fd, &sb) < 0 ? -errno : 0;
	if (e)
		err_set(err, errlen, e, "%s: %s", path, strerror(-e));
	else if ((uint64_t)sb.st_size != mem->total_bytes)
		e = err_set(err, errlen, -EINVAL,
			    "%s: memory file is %lld bytes, the snapshot's guest RAM is %llu bytes",
			    path, (long long)sb.st_size,
			    (unsigned long long)mem->total_bytes);
	else if ((e = load_extents(mem, fd, (uint64_t)sb.st_size, st, &at)))
		err_set(err, errlen, e, "%s: read at offset %llu: %s", path,
			(unsigned long long)at, strerror(-e));
	else
		st->load_us = clock_now_us() - t0;
	close(fd);
	return e;
}
