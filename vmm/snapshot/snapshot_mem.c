#include "snapshot/snapshot_mem.h"

#include <core/clock.h>
#include <core/checked.h>
#include "snapshot/snapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAGE GMEM_PAGE_SIZE
/* Runs of non-zero pages are written with one pwrite of at most this. */
#define WRITE_CHUNK (1ULL << 20)
/* Loader reads at most this per pread (Linux caps a call near 2 GiB). */
#define READ_CHUNK (1ULL << 30)

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool is_zero(const uint8_t *p, size_t len)
{
	size_t i = 0;
	/* 64 bytes per step: OR of eight words, which the compiler vectorizes. */
	for (; i + 64 <= len; i += 64) {
		uint64_t w[8], acc = 0;
		memcpy(w, p + i, sizeof(w));
		for (int k = 0; k < 8; k++)
			acc |= w[k];
		if (acc)
			return false;
	}
	for (; i < len; i++)
		if (p[i])
			return false;
	return true;
}

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

static int pwrite_full(int fd, const uint8_t *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
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
		} else if (is_zero(r->hva + off, n)) {
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
			e = pwrite_full(fd, r->hva + run, run_len, base + run);
			run_len = 0;
		}
	}
	return e;
}

static int sync_and_rename(int fd, const char *tmp, const char *path,
			   struct snapshot_mem_stats *st, const char **what)
{
	struct stat sb;
	*what = "fsync";
	if (fsync(fd) < 0)
		return -errno;
	*what = "fstat";
	if (fstat(fd, &sb) < 0)
		return -errno;
	st->file_bytes = (uint64_t)sb.st_blocks * 512;
	*what = "rename into place";
	if (rename(tmp, path) < 0)
		return -errno;
	int e = snap_fsync_dir_of(path);
	if (e) {
		*what = "fsync of its directory";
		unlink(path); /* failure leaves nothing behind */
	}
	return e;
}

int snapshot_mem_write(const struct gmem *mem, const uint64_t *const *skip,
		       const char *path, struct snapshot_mem_stats *st,
		       char *err, size_t errlen)
{
	uint64_t t0 = clock_now_us();
	memset(st, 0, sizeof(*st));
	for (unsigned i = 0; i < mem->nr_regions; i++)
		st->pages_total += ALIGN_UP(mem->regions[i].len, PAGE) / PAGE;
	if (mem->total_bytes > (uint64_t)INT64_MAX) {
		set_err(err, errlen, "%s: guest RAM too large for a file", path);
		return -EFBIG;
	}

	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp)) {
		set_err(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	const char *what = "create";
	int e = 0;
	int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		e = -errno;
		goto err;
	}
	what = "size";
	if (ftruncate(fd, (off_t)mem->total_bytes) < 0) {
		e = -errno;
		goto err_close;
	}
	what = "write";
	uint64_t base = 0;
	for (unsigned i = 0; i < mem->nr_regions && !e; i++) {
		const struct gmem_region *r = &mem->regions[i];
		e = write_region(fd, r, base, skip ? skip[i] : NULL, st);
		base += r->len; /* sums to total_bytes: no overflow */
	}
	if (e)
		goto err_close;
	e = sync_and_rename(fd, tmp, path, st, &what);
	close(fd);
	if (e)
		goto err_unlink;
	st->write_us = clock_now_us() - t0;
	return 0;
err_close:
	close(fd);
err_unlink:
	unlink(tmp);
err:
	set_err(err, errlen, "%s: %s of memory file failed: %s", path, what,
		strerror(-e));
	return e;
}

static int pread_full(int fd, uint8_t *p, uint64_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, p, MIN(len, READ_CHUNK), (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* the file shrank under us */
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
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
			int err = pread_full(fd, r->hva + (s - base), n, s);
			if (err)
				return err;
			s += n;
		}
		base = end;
	}
	return 0;
}

int snapshot_mem_load(const struct gmem *mem, const char *path,
		      struct snapshot_mem_load_stats *st, char *err,
		      size_t errlen)
{
	uint64_t t0 = clock_now_us();
	memset(st, 0, sizeof(*st));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = -errno;
		set_err(err, errlen, "%s: cannot open memory file: %s", path,
			strerror(-e));
		return e;
	}
	struct stat sb;
	int e = 0;
	if (fstat(fd, &sb) < 0) {
		e = -errno;
		set_err(err, errlen, "%s: %s", path, strerror(-e));
		goto out;
	}
	if ((uint64_t)sb.st_size != mem->total_bytes) {
		e = -EINVAL;
		set_err(err, errlen, "%s: memory file is %lld bytes, the snapshot's guest RAM is %llu bytes",
			path, (long long)sb.st_size,
			(unsigned long long)mem->total_bytes);
		goto out;
	}
	uint64_t size = (uint64_t)sb.st_size, pos = 0;
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
		e = load_extent(mem, fd, s, end);
		if (e) {
			set_err(err, errlen, "%s: read at offset %llu: %s", path,
				(unsigned long long)s, strerror(-e));
			goto out;
		}
		st->bytes_read += end - s;
		pos = end;
	}
	st->load_us = clock_now_us() - t0;
out:
	close(fd);
	return e;
}
