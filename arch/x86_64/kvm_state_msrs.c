/* Saving and restoring the MSRs KVM lists as part of a vCPU's state. */
#include "kvm_state_msrs.h"

#include <core/checked.h>
#include <core/err.h>
#include <core/log.h>

#include <errno.h>
#include <linux/kvm.h>
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

	if (len < KVM_STATE_MSRS_HDR_BYTES)
		return err_set(err, errlen, -EINVAL,
			       WHAT ": %u bytes, shorter than its header", len);
	memcpy(&count, data, 4);
	memcpy(&reserved, data + 4, 4);
	if (count > KVM_STATE_MSRS_MAX)
		return err_set(err, errlen, -EINVAL, WHAT ": count %u over %u",
			       count, KVM_STATE_MSRS_MAX);
	if (len != KVM_STATE_MSRS_HDR_BYTES + count * ENTRY_BYTES)
		return err_set(err, errlen, -EINVAL,
			       WHAT ": %u bytes for %u entries", len, count);
	if (reserved)
		return err_set(err, errlen, -EINVAL,
			       WHAT ": reserved field 0x%x", reserved);
	for (uint32_t i = 0; i < count; i++) {
		struct kvm_msr_entry e;
		memcpy(&e, data + KVM_STATE_MSRS_HDR_BYTES + i * ENTRY_BYTES,
		       sizeof(e));
		if (e.reserved)
			return err_set(err, errlen, -EINVAL,
				       WHAT ": MSR 0x%x has reserved field 0x%x",
				       e.index, e.reserved);
	}
	return 0;
}

/* KVM_GET_MSR_INDEX_LIST says how many it has with E2BIG: grow and retry. */
static int index_list(struct kvm_state_blob *w, int kvm_fd,
		      struct kvm_msr_list **out)
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
		free(l);
		return kvm_state_blob_fail(w, r,
					   WHAT ": KVM_GET_MSR_INDEX_LIST: %s%s",
					   strerror(-r),
					   r == -E2BIG ? " (over the cap)" : "");
	}
	*out = l;
	return 0;
}

/* KVM_GET_MSRS stops at the first MSR it cannot read (one the vCPU's
 * CPUID lacks): skip it and go on, so every readable one is kept. */
static int read_msrs(struct kvm_state_blob *w, int vcpu_fd,
		     const struct kvm_msr_list *l, struct kvm_msr_entry *out,
		     uint32_t *nout)
{
	struct kvm_msrs *io =
		calloc(1, sizeof(*io) + MSRS_PER_CALL * ENTRY_BYTES);
	uint32_t pos = 0, n = 0;

	if (!io)
		return kvm_state_blob_fail(w, -ENOMEM, WHAT ": %s",
					   strerror(ENOMEM));
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
			free(io);
			return kvm_state_blob_fail(w, r, WHAT ": KVM_GET_MSRS: %s",
						   strerror(-r));
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

static void put_msrs(struct kvm_state_blob *w, unsigned part,
		     const struct kvm_msr_entry *e, uint32_t n)
{
	uint8_t *p = kvm_state_blob_reserve(
		w, part, KVM_STATE_MSRS_HDR_BYTES + (size_t)n * ENTRY_BYTES);
	if (!p)
		return;
	memcpy(p, &n, sizeof(n)); /* the reserved word stays 0 */
	memcpy(p + KVM_STATE_MSRS_HDR_BYTES, e, (size_t)n * ENTRY_BYTES);
}

int kvm_state_msrs_save(struct kvm_state_blob *w, unsigned part, int kvm_fd,
			int vcpu_fd)
{
	struct kvm_msr_list *l = NULL;
	if (w->err || index_list(w, kvm_fd, &l))
		return w->err;
	struct kvm_msr_entry *e = calloc(l->nmsrs ? l->nmsrs : 1, ENTRY_BYTES);
	uint32_t n = 0;
	if (!e)
		kvm_state_blob_fail(w, -ENOMEM, WHAT ": %s", strerror(ENOMEM));
	else if (!read_msrs(w, vcpu_fd, l, e, &n))
		put_msrs(w, part, e, n);
	free(e);
	free(l);
	return w->err;
}

int kvm_state_msrs_restore(int vcpu_fd, const uint8_t *data, uint32_t len,
			   char *err, size_t errlen)
{
	uint32_t count;
	struct kvm_msrs *io =
		calloc(1, sizeof(*io) + MSRS_PER_CALL * ENTRY_BYTES);

	(void)len; /* checked by kvm_state_msrs_check() */
	if (!io)
		return err_set(err, errlen, -ENOMEM, WHAT ": %s",
			       strerror(ENOMEM));
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
			free(io);
			return err_set(err, errlen, r, WHAT ": KVM_SET_MSRS: %s",
				       strerror(-r));
		}
		/* KVM stops at the first MSR it refuses: name it. */
		if ((uint32_t)r < batch) {
			r = err_set(err, errlen, -EINVAL,
				    WHAT ": KVM_SET_MSRS refused MSR 0x%x "
					 "(value 0x%llx)",
				    io->entries[r].index,
				    (unsigned long long)io->entries[r].data);
			free(io);
			return r;
		}
		pos += batch;
	}
	free(io);
	return 0;
}
