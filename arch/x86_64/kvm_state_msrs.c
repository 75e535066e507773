/* Saving and restoring the MSRs KVM lists as part of a vCPU's state. */
#include "kvm_state_msrs.h"

#include <core/checked.h>
#include <core/log.h>

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define WHAT "vcpu state: msrs"
#define ENTRY_BYTES sizeof(struct kvm_msr_entry)
/* KVM_{GET,SET}_MSRS refuse MAX_IO_MSRS (256) entries or more per call. */
#define MSRS_PER_CALL 128u

_Static_assert(sizeof(struct kvm_msr_entry) == 16, "UAPI kvm_msr_entry");

int kvm_state_msrs_check(const uint8_t *data, uint32_t len, char *err,
			 size_t errlen)
{
	uint32_t count, reserved;

	if (len < KVM_STATE_MSRS_HDR_BYTES) {
		snprintf(err, errlen, WHAT ": %u bytes, shorter than its header",
			 len);
		return -EINVAL;
	}
	memcpy(&count, data, 4);
	memcpy(&reserved, data + 4, 4);
	if (count > KVM_STATE_MSRS_MAX) {
		snprintf(err, errlen, WHAT ": count %u over %u", count,
			 KVM_STATE_MSRS_MAX);
		return -EINVAL;
	}
	if (len != KVM_STATE_MSRS_HDR_BYTES + count * ENTRY_BYTES) {
		snprintf(err, errlen, WHAT ": %u bytes for %u entries", len,
			 count);
		return -EINVAL;
	}
	if (reserved) {
		snprintf(err, errlen, WHAT ": reserved field 0x%x", reserved);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < count; i++) {
		struct kvm_msr_entry e;
		memcpy(&e, data + KVM_STATE_MSRS_HDR_BYTES + i * ENTRY_BYTES,
		       sizeof(e));
		if (e.reserved) {
			snprintf(err, errlen,
				 WHAT ": MSR 0x%x has reserved field 0x%x",
				 e.index, e.reserved);
			return -EINVAL;
		}
	}
	return 0;
}

/* KVM_GET_MSR_INDEX_LIST says how many it has with E2BIG: grow and retry. */
static int index_list(int kvm_fd, struct kvm_msr_list **out, char *err,
		      size_t errlen)
{
	struct kvm_msr_list *l = NULL;
	uint32_t n = 0;
	int r = -EAGAIN;

	for (int tries = 0; tries < 4; tries++) {
		if (n > KVM_STATE_MSRS_MAX) {
			r = -E2BIG;
			break;
		}
		struct kvm_msr_list *nl =
			realloc(l, sizeof(*l) + (size_t)n * sizeof(l->indices[0]));
		if (!nl) {
			r = -ENOMEM;
			break;
		}
		l = nl;
		l->nmsrs = n;
		if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, l) == 0) {
			r = l->nmsrs > n ? -EIO : 0;
			break;
		}
		if (errno != E2BIG) {
			r = -errno;
			break;
		}
		n = l->nmsrs;
	}
	if (r) {
		snprintf(err, errlen, WHAT ": KVM_GET_MSR_INDEX_LIST: %s%s",
			 strerror(-r), r == -E2BIG ? " (over the cap)" : "");
		free(l);
		return r;
	}
	*out = l;
	return 0;
}

/* KVM_GET_MSRS stops at the first MSR it cannot read (one the vCPU's
 * CPUID lacks): skip it and go on, so every readable one is kept. */
static int read_msrs(int vcpu_fd, const struct kvm_msr_list *l,
		     struct kvm_msr_entry *out, uint32_t *nout, char *err,
		     size_t errlen)
{
	struct kvm_msrs *io =
		calloc(1, sizeof(*io) + MSRS_PER_CALL * ENTRY_BYTES);
	uint32_t pos = 0, n = 0;

	if (!io) {
		snprintf(err, errlen, WHAT ": %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	while (pos < l->nmsrs) {
		uint32_t batch = MIN(l->nmsrs - pos, MSRS_PER_CALL);
		io->nmsrs = batch;
		for (uint32_t i = 0; i < batch; i++)
			io->entries[i] = (struct kvm_msr_entry){
				.index = l->indices[pos + i]
			};
		int r = ioctl(vcpu_fd, KVM_GET_MSRS, io);
		if (r < 0 || (uint32_t)r > batch) {
			r = r < 0 ? -errno : -EIO;
			snprintf(err, errlen, WHAT ": KVM_GET_MSRS: %s",
				 strerror(-r));
			free(io);
			return r;
		}
		memcpy(&out[n], io->entries, (size_t)r * ENTRY_BYTES);
		n += r;
		pos += r;
		if ((uint32_t)r < batch) {
			log_debug(WHAT ": MSR 0x%x not readable, not saved",
				  l->indices[pos]);
			pos++;
		}
	}
	free(io);
	*nout = n;
	return 0;
}

int kvm_state_msrs_save(struct kvm_state_blob *w, uint32_t part_id,
			int kvm_fd, int vcpu_fd, char *err, size_t errlen)
{
	struct kvm_msr_list *l;
	int r = index_list(kvm_fd, &l, err, errlen);
	if (r)
		return r;
	struct kvm_msr_entry *e = calloc(l->nmsrs ? l->nmsrs : 1, ENTRY_BYTES);
	uint32_t n = 0;
	if (!e) {
		snprintf(err, errlen, WHAT ": %s", strerror(ENOMEM));
		r = -ENOMEM;
		goto out;
	}
	if ((r = read_msrs(vcpu_fd, l, e, &n, err, errlen)))
		goto out;
	uint8_t *p = kvm_state_blob_reserve(
		w, part_id, KVM_STATE_MSRS_HDR_BYTES + (size_t)n * ENTRY_BYTES);
	if (!p) {
		r = w->err;
		snprintf(err, errlen, WHAT ": %s", strerror(-r));
		goto out;
	}
	memcpy(p, &n, sizeof(n)); /* the reserved word stays 0 */
	memcpy(p + KVM_STATE_MSRS_HDR_BYTES, e, (size_t)n * ENTRY_BYTES);
out:
	free(e);
	free(l);
	return r;
}

int kvm_state_msrs_restore(int vcpu_fd, const uint8_t *data, uint32_t len,
			   char *err, size_t errlen)
{
	uint32_t count;
	struct kvm_msrs *io =
		calloc(1, sizeof(*io) + MSRS_PER_CALL * ENTRY_BYTES);

	(void)len; /* checked by kvm_state_msrs_check() */
	if (!io) {
		snprintf(err, errlen, WHAT ": %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	memcpy(&count, data, sizeof(count));
	for (uint32_t pos = 0; pos < count;) {
		uint32_t batch = MIN(count - pos, MSRS_PER_CALL);
		io->nmsrs = batch;
		memcpy(io->entries,
		       data + KVM_STATE_MSRS_HDR_BYTES + (size_t)pos * ENTRY_BYTES,
		       (size_t)batch * ENTRY_BYTES);
		int r = ioctl(vcpu_fd, KVM_SET_MSRS, io);
		if (r < 0) {
			r = -errno;
			snprintf(err, errlen, WHAT ": KVM_SET_MSRS: %s",
				 strerror(-r));
			free(io);
			return r;
		}
		/* KVM stops at the first MSR it refuses: name it. */
		if ((uint32_t)r < batch) {
			snprintf(err, errlen,
				 WHAT ": KVM_SET_MSRS refused MSR 0x%x "
				      "(value 0x%llx)",
				 io->entries[r].index,
				 (unsigned long long)io->entries[r].data);
			free(io);
			return -EINVAL;
		}
		pos += batch;
	}
	free(io);
	return 0;
}
