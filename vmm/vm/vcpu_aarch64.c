/* arm64 vCPU setup and the loop's hooks (vcpu_aarch64.h). */
#include "vm/vcpu_aarch64.h"

#include <arch/kvm_arm64.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

static int get_reg(const struct vcpu *vcpu, uint64_t id, uint64_t *value)
{
	struct kvm_one_reg r = {.id = id, .addr = (uint64_t)(uintptr_t)value};
	return ioctl(vcpu->fd, KVM_GET_ONE_REG, &r) < 0 ? -errno : 0;
}

int vcpu_aarch64_init(struct vcpu *vcpu, uint32_t target, uint64_t *mpidr)
{
	struct kvm_vcpu_init init = {.target = target};
	arm64_vcpu_features(vcpu->id, init.features,
			    sizeof(init.features) / sizeof(init.features[0]));
	if (ioctl(vcpu->fd, KVM_ARM_VCPU_INIT, &init) < 0)
		return -errno;
	/* KVM assigns MPIDRs at init; the device tree names CPUs by them. */
	return get_reg(vcpu, ARM64_KVM_REG_MPIDR_EL1, mpidr);
}

int vcpu_aarch64_set_regs(struct vcpu *vcpu, const struct arm64_one_reg *regs,
			  unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t v = regs[i].value;
		struct kvm_one_reg r = {.id = regs[i].id,
					.addr = (uint64_t)(uintptr_t)&v};
		if (ioctl(vcpu->fd, KVM_SET_ONE_REG, &r) < 0)
			return -errno;
	}
	return 0;
}

/* Power-off and reset come as KVM_EXIT_SYSTEM_EVENT (PSCI), which the
 * generic loop handles; anything else is unexpected. */
static enum vcpu_exit_action vcpu_aarch64_handle_exit(struct vcpu *vcpu)
{
	(void)vcpu;
	return VCPU_UNKNOWN_EXIT;
}

static uint64_t vcpu_aarch64_pc(const struct vcpu *vcpu)
{
	uint64_t pc = 0;
	get_reg(vcpu, ARM64_KVM_REG_PC, &pc);
	return pc;
}

static void vcpu_aarch64_describe(const struct vcpu *vcpu, char *buf,
				  size_t len)
{
	uint64_t pstate, sp, lr;
	struct kvm_mp_state mp = {0};
	size_t n = 0;

#define DESCRIBE(...)                                                        \
	(n += (size_t)snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__))
	buf[0] = 0;
	if (get_reg(vcpu, ARM64_KVM_REG_PSTATE, &pstate) == 0)
		DESCRIBE("pstate=0x%llx (I=%u) ", (unsigned long long)pstate,
			 (unsigned)((pstate & ARM64_PSR_I) != 0));
	if (get_reg(vcpu, ARM64_KVM_REG_SP_EL1, &sp) == 0)
		DESCRIBE("sp_el1=0x%llx ", (unsigned long long)sp);
	if (get_reg(vcpu, ARM64_KVM_REG_X(30), &lr) == 0)
		DESCRIBE("lr=0x%llx ", (unsigned long long)lr);
	if (ioctl(vcpu->fd, KVM_GET_MP_STATE, &mp) == 0)
		DESCRIBE("mp_state=%u", mp.mp_state);
#undef DESCRIBE
}

const struct vcpu_arch_ops vcpu_aarch64_ops = {
	.handle_exit = vcpu_aarch64_handle_exit,
	.pc = vcpu_aarch64_pc,
	.pc_name = "pc",
	.describe = vcpu_aarch64_describe,
};
