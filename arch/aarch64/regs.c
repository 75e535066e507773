/* The vCPUs' entry state as KVM register values. */
#include <arch/kvm_arm64.h>
#include <arch/regs.h>

#include <string.h>

unsigned arm64_boot_regs(const struct arm64_boot_info *bi,
			 struct arm64_one_reg out[ARM64_BOOT_REGS])
{
	unsigned n = 0;

	/* booting.rst: interrupts masked, EL1 with SP_EL1 (or EL2), MMU off
	 * (KVM's reset value of SCTLR_EL1). */
	out[n++] = (struct arm64_one_reg){
		ARM64_KVM_REG_PSTATE, ARM64_PSR_MODE_EL1H | ARM64_PSR_D |
					      ARM64_PSR_A | ARM64_PSR_I | ARM64_PSR_F
	};
	out[n++] = (struct arm64_one_reg){ ARM64_KVM_REG_PC, bi->entry_gpa };
	out[n++] = (struct arm64_one_reg){ ARM64_KVM_REG_X(0), bi->dtb_gpa };
	/* x1-x3 are reserved for future use and must be 0. */
	for (unsigned i = 1; i <= 3; i++)
		out[n++] = (struct arm64_one_reg){ ARM64_KVM_REG_X(i), 0 };
	return n;
}

void arm64_vcpu_features(unsigned index, uint32_t *features, unsigned words)
{
	memset(features, 0, words * sizeof(*features));
	if (!words)
		return;
	features[0] = 1U << ARM64_KVM_VCPU_PSCI_0_2;
	if (index > 0)
		features[0] |= 1U << ARM64_KVM_VCPU_POWER_OFF;
}

uint64_t arm64_kvm_default_mpidr(unsigned vcpu_id)
{
	return (1ULL << 31) | (vcpu_id & 0x0fULL) |
	       ((uint64_t)(vcpu_id >> 4 & 0xff) << 8) |
	       ((uint64_t)(vcpu_id >> 12 & 0xff) << 16);
}
