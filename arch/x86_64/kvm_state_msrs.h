/* The vCPU blob's MSR part (private to kvm_state_*.c):
 *   u32 count, u32 reserved (0), count x struct kvm_msr_entry
 *   (u32 index, u32 reserved 0, u64 data). */
#ifndef ARCH_KVM_STATE_MSRS_H
#define ARCH_KVM_STATE_MSRS_H

#include "kvm_state_blob.h"

#include <stddef.h>
#include <stdint.h>

#define KVM_STATE_MSRS_HDR_BYTES 8u
/* KVM lists a few hundred at most; the cap bounds what a file can ask for. */
#define KVM_STATE_MSRS_MAX 1024u

int kvm_state_msrs_check(const uint8_t *data, uint32_t len, char *err,
			 size_t errlen);
/* Saves every MSR of KVM_GET_MSR_INDEX_LIST that reads back, as part. */
int kvm_state_msrs_save(struct kvm_state_blob *w, unsigned part, int kvm_fd,
			int vcpu_fd);
/* Data already checked; every MSR must be accepted. */
int kvm_state_msrs_restore(int vcpu_fd, const uint8_t *data, uint32_t len,
			   char *err, size_t errlen);

#endif
