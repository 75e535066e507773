/* Per-vCPU CPUID from KVM_GET_SUPPORTED_CPUID. Topology: one socket, one
 * thread per core, vCPU n is core n with APIC id n. Bits from the Intel SDM
 * vol. 2A (CPUID) and AMD's APM vol. 3 appendix E. Threads: any; nothing here
 * keeps state. */
#ifndef ARCH_CPUID_H
#define ARCH_CPUID_H

#include <linux/kvm.h>

#define X86_CPUID_HYPERVISOR (1U << 31) /* leaf 1 ECX */
#define X86_CPUID_HTT (1U << 28)        /* leaf 1 EDX */
#define X86_CPUID_ARAT (1U << 2)        /* leaf 6 EAX */
#define X86_CPUID_KVM_SIGNATURE 0x40000000U

/* Cap on the entries x86_cpuid_fetch() asks KVM for (KVM itself keeps 256). */
#define X86_CPUID_MAX_ENTRIES 4096

/* Reads a CPUID list from KVM: request KVM_GET_SUPPORTED_CPUID on the
 * /dev/kvm fd, or KVM_GET_CPUID2 on a vCPU fd. KVM says only "too small"
 * (E2BIG), so the buffer doubles until the list fits. *out is malloc'd with
 * nent set to the entries KVM filled; the caller frees it. 0, -EINVAL (out
 * NULL or another request), -E2BIG (over X86_CPUID_MAX_ENTRIES), -ENOMEM, or
 * the ioctl's -errno; *out is NULL on failure. */
int x86_cpuid_fetch(int fd, unsigned long request, struct kvm_cpuid2 **out);

/* Edits the entries in place (none are added or removed): initial APIC id in
 * leaf 1 EBX and the x2APIC ids/levels of leaves 0xb and 0x1f, leaf 4 core
 * counts, AMD 0x80000008 / 0x8000001e, the hypervisor bit, the KVM signature
 * "KVMKVMKVM" in 0x40000000, and leaf 6 reduced to ARAT. -EINVAL when
 * vcpu_id >= nr_vcpus or nr_vcpus is 0 or above X86_MAX_VCPUS. */
int x86_cpuid_setup(struct kvm_cpuid2 *cpuid, unsigned vcpu_id,
		    unsigned nr_vcpus);

#endif
