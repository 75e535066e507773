/* Writing the state file (snapfile.h). */
#include "snapshot/snapfile.h"
#include "snapshot/snapfile_priv.h"

#include <core/checked.h>
#include <core/err.h>
#include <core/io.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

void snapfile_writer_init(struct snapfile_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void snapfile_writer_free(struct snapfile_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

/* Grows the buffer to hold need bytes; the header is always reserved. */
static int snapfile_writer_reserve(struct snapfile_writer *w, size_t need)
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
	if (w->len < SNAPFILE_HDR_BYTES)
		w->len = SNAPFILE_HDR_BYTES;
	return 0;
}

void snapfile_put(struct snapfile_writer *w, uint32_t tag, uint32_t instance,
		  const void *data, size_t len)
{
	size_t padded, need = MAX(w->len, (size_t)SNAPFILE_HDR_BYTES);
	if (w->err)
		return;
	if (w->nr_sections == UINT32_MAX ||
	    __builtin_add_overflow(len, (size_t)7, &padded) ||
	    __builtin_add_overflow(need, (size_t)SNAPFILE_SEC_HDR_BYTES, &need) ||
	    __builtin_add_overflow(need, ALIGN_DOWN(padded, 8), &need)) {
		w->err = -EFBIG;
		return;
	}
	padded = ALIGN_DOWN(padded, 8);
	int e = snapfile_writer_reserve(w, need);
	if (e) {
		w->err = e;
		return;
	}
	uint8_t *p = w->buf + w->len;
	put_le32(p, tag);
	put_le32(p + 4, instance);
	put_le64(p + 8, len);
	if (len)
		memcpy(p + SNAPFILE_SEC_HDR_BYTES, data, len);
	/* Padding is already zero: the buffer is zeroed when it grows. */
	w->len += SNAPFILE_SEC_HDR_BYTES + padded;
	w->nr_sections++;
}

int snapfile_writer_image(struct snapfile_writer *w, uint32_t arch,
			  const void **out, size_t *len)
{
	if (w->err)
		return w->err;
	int e = snapfile_writer_reserve(w, SNAPFILE_HDR_BYTES);
	if (e)
		return e;
	uint8_t *h = w->buf;
	size_t payload = w->len - SNAPFILE_HDR_BYTES;
	memcpy(h, SNAPFILE_MAGIC, 8);
	put_le32(h + SNAPFILE_HDR_VERSION, SNAPFILE_VERSION);
	put_le32(h + SNAPFILE_HDR_ARCH, arch);
	put_le64(h + SNAPFILE_HDR_PAYLOAD, payload);
	put_le32(h + SNAPFILE_HDR_CRC, (uint32_t)crc32_z(0, h + SNAPFILE_HDR_BYTES, payload));
	put_le32(h + SNAPFILE_HDR_SECTIONS, w->nr_sections);
	*out = w->buf;
	*len = w->len;
	return 0;
}

int snapfile_writer_commit(struct snapfile_writer *w, uint32_t arch,
			   const char *path, char *err, size_t errlen)
{
	const void *img;
	size_t len;
	int e = snapfile_writer_image(w, arch, &img, &len);
	if (e)
		return err_set(err, errlen, e, "%s: cannot build state file: %s",
			       path, strerror(-e));
	struct io_tmpfile t;
	const char *what = "create";
	e = io_tmpfile_open(&t, path);
	if (e == -ENAMETOOLONG)
		return err_set(err, errlen, e, "%s: path too long", path);
	if (!e) {
		what = "write";
		if ((e = io_write_full(t.fd, img, len)))
			io_tmpfile_abort(&t);
		else
			e = io_tmpfile_commit(&t, &what);
	}
	if (e)
		return err_set(err, errlen, e, "%s: %s of state file failed: %s",
			       path, what, strerror(-e));
	return 0;
}
