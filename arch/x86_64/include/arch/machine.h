/* The x86_64 part of mvmm's struct vm (vmm/vm/vm_arch.h), as data: each
 * arch provides this header under the same name, and the include path picks
 * the arch. Filled by vmm/vm/vm_x86_64.c.
 * Threads: main thread, before the vCPUs start. */
#ifndef ARCH_MACHINE_H
#define ARCH_MACHINE_H

#include <arch/boot.h>

#include <linux/kvm.h>

struct arch_vm {
	struct x86_boot_info boot;          /* where the kernel was loaded */
	struct kvm_cpuid2 *supported_cpuid; /* KVM_GET_SUPPORTED_CPUID, owned */
};

#endif
