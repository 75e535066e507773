/* The x86 part of a vCPU: CPUID, MSRs, FPU, LAPIC and boot registers, and the
 * exits only x86 has (HLT, triple fault). vcpu.c runs the loop.
 * Threads: setup on the main thread before the vCPU starts. */
#ifndef VMM_VCPU_X86_64_H
#define VMM_VCPU_X86_64_H

#include "vm/vcpu.h"

#include <arch/boot.h>
#include <core/gmem.h>

extern const struct vcpu_arch_ops vcpu_x86_ops;

/* What x86 setup reads from the VM. */
struct vcpu_x86_setup {
	int kvm_fd;                               /* KVM_CHECK_EXTENSION */
	const struct kvm_cpuid2 *supported_cpuid; /* KVM_GET_SUPPORTED_CPUID */
	unsigned nr_vcpus;
	const struct gmem *mem;                   /* boot: GDT, page tables */
	const struct x86_boot_info *boot;         /* boot: the kernel's entry */
};

/* CPUID from KVM's supported set, shaped for this VM (also on restore). */
int vcpu_x86_set_cpuid(struct vcpu *vcpu, const struct vcpu_x86_setup *s);
/* CPUID, MSRs, FPU, LAPIC, and on vCPU 0 the boot registers. */
int vcpu_x86_configure(struct vcpu *vcpu, const struct vcpu_x86_setup *s);

#endif
