/* Built only for aarch64 (make ARCH=aarch64): proves the values of
 * arch/kvm_arm64.h, which the library uses everywhere, equal the arm64 UAPI
 * headers'. Nothing to run: a mismatch fails the build. */
#include <arch/kvm_arm64.h>

#include <asm/kvm.h>
#include <asm/ptrace.h>
#include <linux/kvm.h>
#include <stddef.h>

#define SAME(a, b) _Static_assert((a) == (b), #a " != " #b)

#define CORE(r) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | \
		 KVM_REG_ARM_CORE_REG(r))

SAME(ARM64_KVM_REG_CORE, KVM_REG_ARM_CORE);
SAME(ARM64_KVM_REG_SYSREG, KVM_REG_ARM64_SYSREG);
SAME(ARM64_KVM_REG_X(0), CORE(regs.regs[0]));
SAME(ARM64_KVM_REG_X(1), CORE(regs.regs[1]));
SAME(ARM64_KVM_REG_X(3), CORE(regs.regs[3]));
SAME(ARM64_KVM_REG_X(30), CORE(regs.regs[30]));
SAME(ARM64_KVM_CORE_REG(ARM64_KVM_CORE_OFF_SP), CORE(regs.sp));
SAME(ARM64_KVM_REG_PC, CORE(regs.pc));
SAME(ARM64_KVM_REG_PSTATE, CORE(regs.pstate));
SAME(ARM64_KVM_REG_SP_EL1, CORE(sp_el1));
SAME(ARM64_KVM_REG_MPIDR_EL1, ARM64_SYS_REG(3, 0, 0, 0, 5));
SAME(ARM64_KVM_VCPU_POWER_OFF, KVM_ARM_VCPU_POWER_OFF);
SAME(ARM64_KVM_VCPU_PSCI_0_2, KVM_ARM_VCPU_PSCI_0_2);
SAME(ARM64_KVM_VCPU_INIT_FEATURE_WORDS,
     sizeof(((struct kvm_vcpu_init *)0)->features) / sizeof(__u32));
SAME(ARM64_KVM_VGIC_GRP_ADDR, KVM_DEV_ARM_VGIC_GRP_ADDR);
SAME(ARM64_KVM_VGIC_GRP_NR_IRQS, KVM_DEV_ARM_VGIC_GRP_NR_IRQS);
SAME(ARM64_KVM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_GRP_CTRL);
SAME(ARM64_KVM_VGIC_CTRL_INIT, KVM_DEV_ARM_VGIC_CTRL_INIT);
SAME(ARM64_KVM_VGIC_V3_ADDR_TYPE_DIST, KVM_VGIC_V3_ADDR_TYPE_DIST);
SAME(ARM64_KVM_VGIC_V3_ADDR_TYPE_REDIST, KVM_VGIC_V3_ADDR_TYPE_REDIST);
SAME(ARM64_PSR_MODE_EL1H, PSR_MODE_EL1h);
SAME(ARM64_PSR_D, PSR_D_BIT);
SAME(ARM64_PSR_A, PSR_A_BIT);
SAME(ARM64_PSR_I, PSR_I_BIT);
SAME(ARM64_PSR_F, PSR_F_BIT);

/* A translation unit needs one declaration beyond the asserts. */
int arm64_kvm_uapi_checked(void);
int arm64_kvm_uapi_checked(void)
{
	return 1;
}
