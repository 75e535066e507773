/* A vCPU's and a VM's state as KVM holds it, for snapshots. Each is saved
 * into one self-describing blob (its own version, a length for every part)
 * that the caller stores as an opaque section, and restored from it into a
 * new VM created the same way (irqchip, PIT, CPUID set, memory mapped).
 *
 * vCPU blob: MP state, regs, sregs, XSAVE (KVM_GET_XSAVE2 size when KVM
 * offers it; FPU where there is no XSAVE), XCRs, debug regs, LAPIC, every
 * MSR KVM lists as saveable (KVM_GET_MSR_INDEX_LIST) that reads back, vCPU
 * events, TSC kHz. Saved in KVM's required order (MP state first, events
 * last) with the vCPU out of KVM_RUN (paused, pending port/MMIO I/O
 * completed); restored after KVM_SET_CPUID2, LAPIC before MSRs (the
 * TSC-deadline MSR needs it), events last.
 * VM blob: PIC master, PIC slave and IOAPIC (KVM_GET_IRQCHIP), PIT
 * (KVM_GET_PIT2), kvmclock (KVM_GET_CLOCK).
 *
 * Restores parse and check the whole blob (version, part sizes, counts)
 * before the first KVM call: a bad blob is -EINVAL with err filled and
 * nothing applied. KVM refusing a value is -errno naming the part. */
#ifndef ARCH_KVM_STATE_H
#define ARCH_KVM_STATE_H

#include <stddef.h>

/* *blob is malloc'd; the caller frees it. 0 or -errno with err filled. */
int x86_vcpu_state_save(int kvm_fd, int vcpu_fd, void **blob, size_t *len,
			char *err, size_t errlen);
int x86_vcpu_state_restore(int kvm_fd, int vcpu_fd, const void *blob,
			   size_t len, char *err, size_t errlen);
/* Only checks a blob, for refusing a file before anything is built. */
int x86_vcpu_state_check(const void *blob, size_t len, char *err,
			 size_t errlen);

int x86_vm_state_save(int vm_fd, void **blob, size_t *len, char *err,
		      size_t errlen);
int x86_vm_state_restore(int vm_fd, const void *blob, size_t len, char *err,
			 size_t errlen);
int x86_vm_state_check(const void *blob, size_t len, char *err, size_t errlen);

#endif
