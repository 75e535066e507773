/* Encoder and checking decoder of the KVM state part list. */
#include "kvm_state_blob.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static bool blob_grow(struct kvm_state_blob *w, size_t extra)
{
	size_t need;

	if (w->err)
		return false;
	if (__builtin_add_overflow(w->len, extra, &need)) {
		w->err = -E2BIG;
		return false;
	}
	if (need <= w->cap)
		return true;
	size_t cap = w->cap ? w->cap : 4096;
	while (cap < need)
		cap *= 2;
	uint8_t *p = realloc(w->data, cap);
	if (!p) {
		w->err = -ENOMEM;
		return false;
	}
	w->data = p;
	w->cap = cap;
	return true;
}

void kvm_state_blob_init(struct kvm_state_blob *w, uint32_t magic,
			 uint32_t version)
{
	memset(w, 0, sizeof(*w));
	if (!blob_grow(w, KVM_STATE_BLOB_HDR_BYTES))
		return;
	put_u32(w->data, magic);
	put_u32(w->data + 4, version);
	put_u32(w->data + 8, 0);
	w->len = KVM_STATE_BLOB_HDR_BYTES;
}

void *kvm_state_blob_reserve(struct kvm_state_blob *w, uint32_t id,
			     size_t len_bytes)
{
	if (!w->err && len_bytes > UINT32_MAX)
		w->err = -E2BIG;
	if (!blob_grow(w, KVM_STATE_PART_HDR_BYTES + len_bytes))
		return NULL;
	uint8_t *p = w->data + w->len;
	put_u32(p, id);
	put_u32(p + 4, (uint32_t)len_bytes);
	memset(p + KVM_STATE_PART_HDR_BYTES, 0, len_bytes);
	w->len += KVM_STATE_PART_HDR_BYTES + len_bytes;
	w->nparts++;
	return p + KVM_STATE_PART_HDR_BYTES;
}

int kvm_state_blob_put(struct kvm_state_blob *w, uint32_t id,
		       const void *data, size_t len_bytes)
{
	void *p = kvm_state_blob_reserve(w, id, len_bytes);
	if (!p)
		return w->err;
	memcpy(p, data, len_bytes);
	return 0;
}

void kvm_state_blob_free(struct kvm_state_blob *w)
{
	free(w->data);
	w->data = NULL;
	w->len = w->cap = 0;
}

int kvm_state_blob_finish(struct kvm_state_blob *w, void **blob, size_t *len)
{
	if (w->err) {
		kvm_state_blob_free(w);
		return w->err;
	}
	put_u32(w->data + 8, w->nparts);
	*blob = w->data;
	*len = w->len;
	w->data = NULL;
	return 0;
}

int kvm_state_blob_parse(const void *blob, size_t len, const char *what,
			 uint32_t magic, uint32_t version,
			 const struct kvm_state_part_spec *specs, size_t nspecs,
			 struct kvm_state_part *parts, char *err,
			 size_t errlen)
{
	const uint8_t *b = blob;

	memset(parts, 0, nspecs * sizeof(*parts));
	if (!blob || len < KVM_STATE_BLOB_HDR_BYTES) {
		snprintf(err, errlen, "%s: %zu bytes, shorter than its header",
			 what, len);
		return -EINVAL;
	}
	if (get_u32(b) != magic) {
		snprintf(err, errlen, "%s: bad magic 0x%08x", what, get_u32(b));
		return -EINVAL;
	}
	if (get_u32(b + 4) != version) {
		snprintf(err, errlen, "%s: version %u, this build reads %u", what,
			 get_u32(b + 4), version);
		return -EINVAL;
	}
	uint32_t nparts = get_u32(b + 8);
	if (nparts > nspecs) {
		snprintf(err, errlen, "%s: %u parts, at most %zu known", what,
			 nparts, nspecs);
		return -EINVAL;
	}
	size_t off = KVM_STATE_BLOB_HDR_BYTES;
	for (uint32_t n = 0; n < nparts; n++) {
		if (len - off < KVM_STATE_PART_HDR_BYTES) {
			snprintf(err, errlen, "%s: truncated in part %u header",
				 what, n);
			return -EINVAL;
		}
		uint32_t id = get_u32(b + off), plen = get_u32(b + off + 4);
		off += KVM_STATE_PART_HDR_BYTES;
		size_t i = 0;
		while (i < nspecs && specs[i].id != id)
			i++;
		if (i == nspecs) {
			snprintf(err, errlen, "%s: unknown part id %u", what, id);
			return -EINVAL;
		}
		const struct kvm_state_part_spec *s = &specs[i];
		if (parts[i].present) {
			snprintf(err, errlen, "%s: part %s appears twice", what,
				 s->name);
			return -EINVAL;
		}
		if (plen < s->min_len || plen > s->max_len) {
			if (s->min_len == s->max_len)
				snprintf(err, errlen,
					 "%s: part %s is %u bytes, expected %u",
					 what, s->name, plen, s->min_len);
			else
				snprintf(err, errlen,
					 "%s: part %s is %u bytes, expected %u..%u",
					 what, s->name, plen, s->min_len,
					 s->max_len);
			return -EINVAL;
		}
		if (len - off < plen) {
			snprintf(err, errlen, "%s: part %s truncated (%zu of %u bytes)",
				 what, s->name, len - off, plen);
			return -EINVAL;
		}
		parts[i] = (struct kvm_state_part){ b + off, plen, true };
		off += plen;
	}
	if (off != len) {
		snprintf(err, errlen, "%s: %zu bytes after the last part", what,
			 len - off);
		return -EINVAL;
	}
	for (size_t i = 0; i < nspecs; i++) {
		if (specs[i].required && !parts[i].present) {
			snprintf(err, errlen, "%s: part %s missing", what,
				 specs[i].name);
			return -EINVAL;
		}
	}
	return 0;
}

int kvm_state_ioctl_err(const char *what, const char *name, char *err,
			size_t errlen)
{
	int e = errno;
	snprintf(err, errlen, "%s: %s: %s", what, name, strerror(e));
	return -e;
}
