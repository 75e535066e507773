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
/* The largest fixed-size part (struct kvm_lapic_state). */
#define KVM_STATE_FIXED_PART_MAX 1024

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

/* One kind of blob. Parts are named by their index in specs. */
struct kvm_state_format {
	const char *what; /* prefixes every message: "vcpu state" */
	uint32_t magic, version;
	const struct kvm_state_part_spec *specs;
	size_t nspecs;
	/* Rules across or inside parts that lengths cannot say; NULL if none.
	 * 0 or -EINVAL with err filled. */
	int (*check)(const struct kvm_state_part *parts, char *err,
		     size_t errlen);
};

/* Writer. The first failure sticks: its code stays in err, its message in
 * the caller's buffer, and every later call does nothing, so a save is a
 * plain sequence of calls closed by kvm_state_blob_finish(). */
struct kvm_state_blob {
	const struct kvm_state_format *fmt;
	uint8_t *data;
	size_t len, cap;
	uint32_t nparts;
	int err;
	char *msg;
	size_t msglen;
};

void kvm_state_blob_init(struct kvm_state_blob *w,
			 const struct kvm_state_format *fmt, char *err,
			 size_t errlen);
/* Records a failure unless one is already recorded; returns w->err. */
int kvm_state_blob_fail(struct kvm_state_blob *w, int code, const char *fmt,
			...) __attribute__((format(printf, 3, 4)));
/* Appends a part header; returns its len_bytes of zeroed data to fill, valid
 * until the next call, or NULL once failed. */
void *kvm_state_blob_reserve(struct kvm_state_blob *w, unsigned part,
			     size_t len_bytes);
int kvm_state_blob_put(struct kvm_state_blob *w, unsigned part,
		       const void *data, size_t len_bytes);
/* Reserves len_bytes for part, starting as init (NULL: zeros), and has KVM
 * fill them: ioctl(fd, req, data). A failure names req_name. */
int kvm_state_blob_ioctl(struct kvm_state_blob *w, unsigned part,
			 size_t len_bytes, const void *init, int fd,
			 unsigned long req, const char *req_name);
/* Hands the blob over (0) or frees it and returns the first failure. */
int kvm_state_blob_finish(struct kvm_state_blob *w, void **blob, size_t *len);

/* Checks magic, version, that every part fits, is known (specs), appears
 * once and has a valid length, that required parts are present, that no
 * byte trails, and then fmt->check. parts[i] matches specs[i]. 0 or -EINVAL
 * with err filled, prefixed by fmt->what. */
int kvm_state_blob_parse(const struct kvm_state_format *fmt, const void *blob,
			 size_t len, struct kvm_state_part *parts, char *err,
			 size_t errlen);

/* Restores a checked part of at most KVM_STATE_FIXED_PART_MAX bytes: copies
 * it out of the blob (aligned) and calls ioctl(fd, req, copy). */
int kvm_state_part_ioctl(const char *what, int fd, unsigned long req,
			 const char *req_name, const struct kvm_state_part *p,
			 char *err, size_t errlen);

/* After a failed ioctl: "what: name: strerror(errno)" into err, -errno. */
int kvm_state_ioctl_err(const char *what, const char *name, char *err,
			size_t errlen);

#endif
