/* The arm64 KVM UAPI values the arch library needs, defined here from their
 * documented encoding (Documentation/virt/kvm/api.rst, KVM_SET_ONE_REG) so the
 * library and its unit tests build on any host: <asm/kvm.h> is the running
 * arch's, and an x86 build has no arm64 one. kvm_uapi_check.c, compiled
 * only for aarch64, static_asserts every value against the real headers. */
#ifndef ARCH_KVM_ARM64_H
#define ARCH_KVM_ARM64_H

#include <linux/kvm.h> /* KVM_REG_ARM64, KVM_REG_SIZE_U64: arch-neutral */

#define ARM64_KVM_REG_COPROC_SHIFT 16
#define ARM64_KVM_REG_CORE (0x0010ULL << ARM64_KVM_REG_COPROC_SHIFT)
#define ARM64_KVM_REG_SYSREG (0x0013ULL << ARM64_KVM_REG_COPROC_SHIFT)

/* struct kvm_regs begins with struct user_pt_regs: x0..x30, sp, pc, pstate,
 * each 64 bits; a core register's id carries its offset in 32-bit words. */
#define ARM64_KVM_CORE_OFF_X(n) ((n) * 8ULL / 4)
#define ARM64_KVM_CORE_OFF_SP (31 * 8ULL / 4)
#define ARM64_KVM_CORE_OFF_PC (32 * 8ULL / 4)
#define ARM64_KVM_CORE_OFF_PSTATE (33 * 8ULL / 4)
#define ARM64_KVM_CORE_OFF_SP_EL1 (34 * 8ULL / 4) /* after user_pt_regs */
#define ARM64_KVM_CORE_REG(off) \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | ARM64_KVM_REG_CORE | (off))

#define ARM64_KVM_REG_X(n) ARM64_KVM_CORE_REG(ARM64_KVM_CORE_OFF_X(n))
#define ARM64_KVM_REG_PC ARM64_KVM_CORE_REG(ARM64_KVM_CORE_OFF_PC)
#define ARM64_KVM_REG_PSTATE ARM64_KVM_CORE_REG(ARM64_KVM_CORE_OFF_PSTATE)
#define ARM64_KVM_REG_SP_EL1 ARM64_KVM_CORE_REG(ARM64_KVM_CORE_OFF_SP_EL1)

/* System registers: op0, op1, CRn, CRm, op2 packed as ARM64_SYS_REG() does. */
#define ARM64_KVM_SYS_REG(op0, op1, crn, crm, op2)                         \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | ARM64_KVM_REG_SYSREG |         \
	 ((unsigned long long)(op0) << 14) | ((unsigned long long)(op1) << 11) | \
	 ((unsigned long long)(crn) << 7) | ((unsigned long long)(crm) << 3) | \
	 (unsigned long long)(op2))
#define ARM64_KVM_REG_MPIDR_EL1 ARM64_KVM_SYS_REG(3, 0, 0, 0, 5)

/* struct kvm_vcpu_init.features[0] bits. */
#define ARM64_KVM_VCPU_POWER_OFF 0
#define ARM64_KVM_VCPU_PSCI_0_2 2
#define ARM64_KVM_VCPU_INIT_FEATURE_WORDS 7

/* VGIC device attributes. */
#define ARM64_KVM_VGIC_GRP_ADDR 0
#define ARM64_KVM_VGIC_GRP_NR_IRQS 3
#define ARM64_KVM_VGIC_GRP_CTRL 4
#define ARM64_KVM_VGIC_CTRL_INIT 0
#define ARM64_KVM_VGIC_V3_ADDR_TYPE_DIST 2
#define ARM64_KVM_VGIC_V3_ADDR_TYPE_REDIST 3

/* PSTATE bits (arch/arm64/include/uapi/asm/ptrace.h). */
#define ARM64_PSR_MODE_EL1H 0x5ULL
#define ARM64_PSR_F 0x40ULL
#define ARM64_PSR_I 0x80ULL
#define ARM64_PSR_A 0x100ULL
#define ARM64_PSR_D 0x200ULL

#endif
