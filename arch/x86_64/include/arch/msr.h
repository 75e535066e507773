/* The MSR values a vCPU starts with. Indices from the Intel SDM vol. 4 (the
 * kernel's msr-index.h is not UAPI). */
#ifndef ARCH_MSR_H
#define ARCH_MSR_H

#include <linux/kvm.h>

#define X86_MSR_IA32_TSC 0x10
#define X86_MSR_IA32_SYSENTER_CS 0x174
#define X86_MSR_IA32_SYSENTER_ESP 0x175
#define X86_MSR_IA32_SYSENTER_EIP 0x176
#define X86_MSR_IA32_MISC_ENABLE 0x1a0
#define X86_MSR_MTRR_DEF_TYPE 0x2ff
#define X86_MSR_STAR 0xc0000081
#define X86_MSR_LSTAR 0xc0000082
#define X86_MSR_CSTAR 0xc0000083
#define X86_MSR_SYSCALL_MASK 0xc0000084
#define X86_MSR_KERNEL_GS_BASE 0xc0000102

#define X86_MISC_ENABLE_FAST_STRING (1ULL << 0)
#define X86_MTRR_DEF_TYPE_E (1ULL << 11) /* MTRRs enabled */
#define X86_MTRR_TYPE_WB 6

/* Fills up to max entries for KVM_SET_MSRS; returns the count written. */
unsigned x86_boot_msrs(struct kvm_msr_entry *entries, unsigned max);

#endif
