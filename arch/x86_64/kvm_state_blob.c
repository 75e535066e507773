/* Encoder and checking decoder of the KVM state part list. */
#include "kvm_state_blob.h"

#include <core/err.h>

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

static void put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

int kvm_state_blob_fail(struct kvm_state_blob *w, int code, const char *fmt,
			...)
{
	if (w->err)
		return w->err;
	va_list ap;
	va_start(ap, fmt);
	w->err = err_vset(w->msg, w->msglen, code, fmt, ap);
	va_end(ap);
	return w->err;
}

/* An allocation or size failure: "what: strerror". */
static void fail_code(struct kvm_state_blob *w, int code)
{
	kvm_state_blob_fail(w, code, "%s: %s", w->fmt->what, strerror(-code));
}

static bool blob_grow(struct kvm_state_blob *w, size_t extra)
{
	size_t need;

	if (w->err)
		return false;
	if (__builtin_add_overflow(w->len, extra, &need)) {
		fail_code(w, -E2BIG);
		return false;
	}
	if (need <= w->cap)
		return true;
	size_t cap = w->cap ? w->cap : 4096;
	while (cap < need)
		cap *= 2;
	uint8_t *p = realloc(w->data, cap);
	if (!p) {
		fail_code(w, -ENOMEM);
		return false;
	}
	w->data = p;
	w->cap = cap;
	return true;
}

void kvm_state_blob_init(struct kvm_state_blob *w,
			 const struct kvm_state_format *fmt, char *err,
			 size_t errlen)
{
	*w = (struct kvm_state_blob){ .fmt = fmt, .msg = err, .msglen = errlen };
	if (!blob_grow(w, KVM_STATE_BLOB_HDR_BYTES))
		return;
	put_u32(w->data, fmt->magic);
	put_u32(w->data + 4, fmt->version);
	put_u32(w->data + 8, 0);
	w->len = KVM_STATE_BLOB_HDR_BYTES;
}

void *kvm_state_blob_reserve(struct kvm_state_blob *w, unsigned part,
			     size_t len_bytes)
{
	if (len_bytes > UINT32_MAX)
		fail_code(w, -E2BIG);
	if (!blob_grow(w, KVM_STATE_PART_HDR_BYTES + len_bytes))
		return NULL;
	uint8_t *p = w->data + w->len;
	put_u32(p, w->fmt->specs[part].id);
	put_u32(p + 4, (uint32_t)len_bytes);
	memset(p + KVM_STATE_PART_HDR_BYTES, 0, len_bytes);
	w->len += KVM_STATE_PART_HDR_BYTES + len_bytes;
	w->nparts++;
	return p + KVM_STATE_PART_HDR_BYTES;
}

int kvm_state_blob_put(struct kvm_state_blob *w, unsigned part,
		       const void *data, size_t len_bytes)
{
	void *p = kvm_state_blob_reserve(w, part, len_bytes);
	if (!p)
		return w->err;
	memcpy(p, data, len_bytes);
	return 0;
}

int kvm_state_blob_ioctl(struct kvm_state_blob *w, unsigned part,
			 size_t len_bytes, const void *init, int fd,
			 unsigned long req, const char *req_name)
{
	void *p = kvm_state_blob_reserve(w, part, len_bytes);
	if (!p)
		return w->err;
	if (init)
		memcpy(p, init, len_bytes);
	if (ioctl(fd, req, p) < 0) /* no failure yet, or p would be NULL */
		w->err = kvm_state_ioctl_err(w->fmt->what, req_name, w->msg,
					     w->msglen);
	return w->err;
}

static void blob_free(struct kvm_state_blob *w)
{
	free(w->data);
	w->data = NULL;
	w->len = w->cap = 0;
}

int kvm_state_blob_finish(struct kvm_state_blob *w, void **blob, size_t *len)
{
	if (w->err) {
		blob_free(w);
		return w->err;
	}
	put_u32(w->data + 8, w->nparts);
	*blob = w->data;
	*len = w->len;
	w->data = NULL;
	return 0;
}

static int check_header(const struct kvm_state_format *fmt, const uint8_t *b,
			size_t len, char *err, size_t errlen)
{
	const char *what = fmt->what;

	if (!b || len < KVM_STATE_BLOB_HDR_BYTES)
		return err_set(err, errlen, -EINVAL,
			       "%s: %zu bytes, shorter than its header", what,
			       len);
	if (get_u32(b) != fmt->magic)
		return err_set(err, errlen, -EINVAL, "%s: bad magic 0x%08x",
			       what, get_u32(b));
	if (get_u32(b + 4) != fmt->version)
		return err_set(err, errlen, -EINVAL,
			       "%s: version %u, this build reads %u", what,
			       get_u32(b + 4), fmt->version);
	if (get_u32(b + 8) > fmt->nspecs)
		return err_set(err, errlen, -EINVAL,
			       "%s: %u parts, at most %zu known", what,
			       get_u32(b + 8), fmt->nspecs);
	return 0;
}

/* Parses part n, whose header is at *off, into parts[]; advances *off. */
static int parse_part(const struct kvm_state_format *fmt, const uint8_t *b,
		      size_t len, size_t *off, uint32_t n,
		      struct kvm_state_part *parts, char *err, size_t errlen)
{
	const char *what = fmt->what;

	if (len - *off < KVM_STATE_PART_HDR_BYTES)
		return err_set(err, errlen, -EINVAL,
			       "%s: truncated in part %u header", what, n);
	uint32_t id = get_u32(b + *off), plen = get_u32(b + *off + 4);
	*off += KVM_STATE_PART_HDR_BYTES;
	size_t i = 0;
	while (i < fmt->nspecs && fmt->specs[i].id != id)
		i++;
	if (i == fmt->nspecs)
		return err_set(err, errlen, -EINVAL, "%s: unknown part id %u",
			       what, id);
	const struct kvm_state_part_spec *s = &fmt->specs[i];
	if (parts[i].present)
		return err_set(err, errlen, -EINVAL,
			       "%s: part %s appears twice", what, s->name);
	if (plen < s->min_len || plen > s->max_len) {
		if (s->min_len == s->max_len)
			return err_set(err, errlen, -EINVAL,
				       "%s: part %s is %u bytes, expected %u",
				       what, s->name, plen, s->min_len);
		return err_set(err, errlen, -EINVAL,
			       "%s: part %s is %u bytes, expected %u..%u", what,
			       s->name, plen, s->min_len, s->max_len);
	}
	if (len - *off < plen)
		return err_set(err, errlen, -EINVAL,
			       "%s: part %s truncated (%zu of %u bytes)", what,
			       s->name, len - *off, plen);
	parts[i] = (struct kvm_state_part){ b + *off, plen, true };
	*off += plen;
	return 0;
}

int kvm_state_blob_parse(const struct kvm_state_format *fmt, const void *blob,
			 size_t len, struct kvm_state_part *parts, char *err,
			 size_t errlen)
{
	const uint8_t *b = blob;
	size_t off = KVM_STATE_BLOB_HDR_BYTES;

	memset(parts, 0, fmt->nspecs * sizeof(*parts));
	int r = check_header(fmt, b, len, err, errlen);
	if (r)
		return r;
	uint32_t nparts = get_u32(b + 8);
	for (uint32_t n = 0; n < nparts; n++)
		if ((r = parse_part(fmt, b, len, &off, n, parts, err, errlen)))
			return r;
	if (off != len)
		return err_set(err, errlen, -EINVAL,
			       "%s: %zu bytes after the last part", fmt->what,
			       len - off);
	for (size_t i = 0; i < fmt->nspecs; i++)
		if (fmt->specs[i].required && !parts[i].present)
			return err_set(err, errlen, -EINVAL,
				       "%s: part %s missing", fmt->what,
				       fmt->specs[i].name);
	return fmt->check ? fmt->check(parts, err, errlen) : 0;
}

int kvm_state_part_ioctl(const char *what, int fd, unsigned long req,
			 const char *req_name, const struct kvm_state_part *p,
			 char *err, size_t errlen)
{
	union {
		uint8_t bytes[KVM_STATE_FIXED_PART_MAX];
		uint64_t align;
	} buf;

	if (p->len > sizeof(buf))
		return err_set(err, errlen, -EINVAL, "%s: %s: part of %u bytes",
			       what, req_name, p->len);
	memcpy(&buf, p->data, p->len);
	return ioctl(fd, req, &buf) < 0 ?
		       kvm_state_ioctl_err(what, req_name, err, errlen) :
		       0;
}

int kvm_state_ioctl_err(const char *what, const char *name, char *err,
			size_t errlen)
{
	int e = errno;
	return err_set(err, errlen, -e, "%s: %s: %s", what, name, strerror(e));
}
