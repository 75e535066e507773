/* The arm64 part of a vCPU: KVM_ARM_VCPU_INIT, its MPIDR and the boot
 * registers through KVM_{GET,SET}_ONE_REG, and the loop's arch hooks (arm64
 * has no exit of its own: PSCI power-off and reset arrive as the generic
 * KVM_EXIT_SYSTEM_EVENT). vcpu.c runs the loop.
 * Threads: setup on the main thread before the vCPU starts. */
#ifndef VMM_VCPU_AARCH64_H
#define VMM_VCPU_AARCH64_H

#include "vm/vcpu.h"

#include <arch/regs.h>

extern const struct vcpu_arch_ops vcpu_aarch64_ops;

/* KVM_ARM_VCPU_INIT with target (KVM_ARM_PREFERRED_TARGET's) and the
 * features arm64_vcpu_features() gives this vCPU, then reads its MPIDR_EL1
 * into *mpidr. 0 or -errno. */
int vcpu_aarch64_init(struct vcpu *vcpu, uint32_t target, uint64_t *mpidr);
/* KVM_SET_ONE_REG for each of n (id, value) pairs. 0 or -errno. */
int vcpu_aarch64_set_regs(struct vcpu *vcpu, const struct arm64_one_reg *regs,
			  unsigned n);

#endif
