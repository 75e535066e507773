#include "snapshot/snapfile_priv.h"

#include <core/checked.h>
#include "snapshot/snapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

void snap_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void snap_writer_init(struct snap_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void snap_writer_free(struct snap_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

/* Grows the buffer to hold need bytes; the header is always reserved. */
static int writer_reserve(struct snap_writer *w, size_t need)
{
	if (need > SNAPFILE_MAX_BYTES)
		return -EFBIG;
	if (need <= w->cap)
		return 0;
	size_t cap = w->cap ? w->cap : 4096;
	while (cap < need)
		cap *= 2; /* bounded by SNAPFILE_MAX_BYTES * 2: no overflow */
	uint8_t *buf = realloc(w->buf, cap);
	if (!buf)
		return -ENOMEM;
	memset(buf + w->cap, 0, cap - w->cap);
	w->buf = buf;
	w->cap = cap;
	if (w->len < SNAP_HDR_BYTES)
		w->len = SNAP_HDR_BYTES;
	return 0;
}

void snap_put(struct snap_writer *w, uint32_t tag, uint32_t instance,
	      const void *data, size_t len)
{
	size_t padded, need = MAX(w->len, (size_t)SNAP_HDR_BYTES);
	if (w->err)
		return;
	if (w->nr_sections == UINT32_MAX ||
	    __builtin_add_overflow(len, (size_t)7, &padded) ||
	    __builtin_add_overflow(need, (size_t)SNAP_SEC_HDR_BYTES, &need) ||
	    __builtin_add_overflow(need, ALIGN_DOWN(padded, 8), &need)) {
		w->err = -EFBIG;
		return;
	}
	padded = ALIGN_DOWN(padded, 8);
	int e = writer_reserve(w, need);
	if (e) {
		w->err = e;
		return;
	}
	uint8_t *p = w->buf + w->len;
	put_le32(p, tag);
	put_le32(p + 4, instance);
	put_le64(p + 8, len);
	if (len)
		memcpy(p + SNAP_SEC_HDR_BYTES, data, len);
	/* Padding is already zero: the buffer is zeroed when it grows. */
	w->len += SNAP_SEC_HDR_BYTES + padded;
	w->nr_sections++;
}

int snap_writer_image(struct snap_writer *w, uint32_t arch, const void **out,
		      size_t *len)
{
	if (w->err)
		return w->err;
	int e = writer_reserve(w, SNAP_HDR_BYTES);
	if (e)
		return e;
	uint8_t *h = w->buf;
	size_t payload = w->len - SNAP_HDR_BYTES;
	memcpy(h, SNAPFILE_MAGIC, 8);
	put_le32(h + SNAP_HDR_VERSION, SNAPFILE_VERSION);
	put_le32(h + SNAP_HDR_ARCH, arch);
	put_le64(h + SNAP_HDR_PAYLOAD, payload);
	put_le32(h + SNAP_HDR_CRC, (uint32_t)crc32_z(0, h + SNAP_HDR_BYTES, payload));
	put_le32(h + SNAP_HDR_SECTIONS, w->nr_sections);
	*out = w->buf;
	*len = w->len;
	return 0;
}

int snap_fsync_dir_of(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0)
		return -errno;
	int e = 0;
	/* Some filesystems cannot sync directories (EINVAL): nothing to do. */
	if (fsync(fd) < 0 && errno != EINVAL)
		e = -errno;
	close(fd);
	return e;
}

static int write_full(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int snap_writer_commit(struct snap_writer *w, uint32_t arch, const char *path,
		       char *err, size_t errlen)
{
	const void *img;
	size_t len;
	int e = snap_writer_image(w, arch, &img, &len);
	if (e) {
		snap_set_err(err, errlen, "%s: cannot build state file: %s", path,
			strerror(-e));
		return e;
	}
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp)) {
		snap_set_err(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	const char *what = "create";
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		e = -errno;
		goto err;
	}
	what = "write";
	e = write_full(fd, img, len);
	if (!e && fsync(fd) < 0) {
		what = "fsync";
		e = -errno;
	}
	if (close(fd) < 0 && !e) {
		what = "close";
		e = -errno;
	}
	if (e)
		goto err_unlink;
	if (rename(tmp, path) < 0) {
		what = "rename into place";
		e = -errno;
		goto err_unlink;
	}
	e = snap_fsync_dir_of(path);
	if (e) {
		/* Not durable: keep the promise that failure leaves nothing. */
		unlink(path);
		snap_set_err(err, errlen, "%s: fsync of its directory: %s", path,
			strerror(-e));
		return e;
	}
	return 0;
err_unlink:
	unlink(tmp);
err:
	snap_set_err(err, errlen, "%s: %s of state file failed: %s", path, what,
		strerror(-e));
	return e;
}
