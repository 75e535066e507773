/* The arm64 part of mvmm's struct vm (vmm/vm/vm_arch.h), as data: each arch
 * provides this header under the same name, and the include path picks the
 * arch. Filled by vmm/vm/vm_aarch64.c.
 * Threads: main thread, before the vCPUs start. */
#ifndef ARCH_MACHINE_H
#define ARCH_MACHINE_H

#include <arch/boot.h>
#include <arch/layout.h>

#include <stdint.h>

struct arch_vm {
	struct arm64_boot_info boot; /* kernel, DTB block and initrd */
	/* The GICv3 device fd, from its creation to CTRL_INIT after the last
	 * vCPU; 0 when none (it is made after /dev/kvm and the VM fd are
	 * open, so it is never fd 0). */
	int gic_fd;
	uint32_t vcpu_target;               /* KVM_ARM_PREFERRED_TARGET */
	uint64_t mpidrs[ARM64_MAX_VCPUS];   /* as KVM reports them */
	char *cmdline; /* owned: written into the DTB once the vCPUs exist */
};

#endif
