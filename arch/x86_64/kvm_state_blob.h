/* The part list both KVM state blobs share (private to kvm_state_*.c).
 *
 *   u32 magic, u32 version, u32 part count,
 *   then per part: u32 id, u32 len_bytes, len_bytes of data (no padding).
 *
 * Little-endian; x86 only, so the UAPI structs are stored as their bytes.
 * The part count makes a blob cut at a part boundary detectable. */
#ifndef ARCH_KVM_STATE_BLOB_H
#define ARCH_KVM_STATE_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "KVM state blobs store host-order (little-endian) structs");

#define KVM_STATE_BLOB_HDR_BYTES 12
#define KVM_STATE_PART_HDR_BYTES 8

/* Writer; the first failure (-ENOMEM, -E2BIG) sticks in err. */
struct kvm_state_blob {
	uint8_t *data;
	size_t len, cap;
	uint32_t nparts;
	int err;
};

void kvm_state_blob_init(struct kvm_state_blob *w, uint32_t magic,
			 uint32_t version);
/* Appends a part header; returns its len_bytes of zeroed data to fill, valid
 * until the next call, or NULL (w->err set). */
void *kvm_state_blob_reserve(struct kvm_state_blob *w, uint32_t id,
			     size_t len_bytes);
int kvm_state_blob_put(struct kvm_state_blob *w, uint32_t id,
		       const void *data, size_t len_bytes);
/* Hands the blob over (0) or frees it and returns the sticky error. */
int kvm_state_blob_finish(struct kvm_state_blob *w, void **blob, size_t *len);
void kvm_state_blob_free(struct kvm_state_blob *w);

/* A part a blob may hold: its length must lie in [min_len, max_len]. */
struct kvm_state_part_spec {
	uint32_t id;
	const char *name;
	uint32_t min_len, max_len;
	bool required;
};

struct kvm_state_part {
	const uint8_t *data; /* inside the blob, unaligned: memcpy it out */
	uint32_t len;
	bool present;
};

/* Checks magic, version, that every part fits, is known (specs), appears
 * once and has a valid length, that required parts are present and that no
 * byte trails. parts[i] matches specs[i]. 0 or -EINVAL with err filled,
 * prefixed by what ("vcpu state"). */
int kvm_state_blob_parse(const void *blob, size_t len, const char *what,
			 uint32_t magic, uint32_t version,
			 const struct kvm_state_part_spec *specs, size_t nspecs,
			 struct kvm_state_part *parts, char *err,
			 size_t errlen);

/* After a failed ioctl: "what: name: strerror(errno)" into err, -errno. */
int kvm_state_ioctl_err(const char *what, const char *name, char *err,
			size_t errlen);

#endif
