/* The vCPUs' entry state for arm64 (booting.rst "CPU mode"), as data: the
 * features for KVM_ARM_VCPU_INIT and the (register id, value) pairs for
 * KVM_SET_ONE_REG, so the VMM only loops over ioctls. Register ids are the
 * arm64 UAPI's (arch/kvm_arm64.h). */
#ifndef ARCH_REGS_H
#define ARCH_REGS_H

#include <arch/boot.h>

#include <stdint.h>

struct arm64_one_reg {
	uint64_t id;
	uint64_t value;
};

#define ARM64_BOOT_REGS 6

/* The boot vCPU's registers: PSTATE = EL1h with D, A, I and F masked,
 * PC = the kernel entry, X0 = the DTB, X1-X3 = 0. Fills
 * out[ARM64_BOOT_REGS] and returns the count. The other vCPUs start
 * powered off and are brought up by the guest through PSCI CPU_ON, which
 * sets their entry state in KVM: they need no registers. */
unsigned arm64_boot_regs(const struct arm64_boot_info *bi,
			 struct arm64_one_reg out[ARM64_BOOT_REGS]);

/* features[] for KVM_ARM_VCPU_INIT of vCPU index (0 boots): PSCI 0.2, and
 * POWER_OFF for every vCPU but the first. words is the features array's
 * length (7 in the UAPI); the rest of it is cleared. The caller ORs these
 * into what KVM_ARM_PREFERRED_TARGET returned. */
void arm64_vcpu_features(unsigned index, uint32_t *features, unsigned words);

/* The MPIDR_EL1 KVM gives vCPU id (reset_mpidr(): Aff0 = id[3:0],
 * Aff1 = id[11:4], Aff2 = id[19:12], bit 31 RES1), for tests and as a check
 * of what KVM_GET_ONE_REG(ARM64_KVM_REG_MPIDR_EL1) returns. */
uint64_t arm64_kvm_default_mpidr(unsigned vcpu_id);

#endif
