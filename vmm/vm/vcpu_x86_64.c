/* x86 vCPU setup and exits (vcpu_x86_64.h). */
#include "vm/vcpu_x86_64.h"

#include <arch/cpuid.h>
#include <arch/lapic.h>
#include <arch/msr.h>
#include <core/log.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

int vcpu_x86_set_cpuid(struct vcpu *vcpu, const struct vcpu_x86_setup *s)
{
	const struct kvm_cpuid2 *sup = s->supported_cpuid;
	size_t sz = sizeof(*sup) + sup->nent * sizeof(sup->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	if (!c)
		return -ENOMEM;
	memcpy(c, sup, sz);
	int r = x86_cpuid_setup(c, vcpu->id, s->nr_vcpus);
	/* KVM emulates the TSC-deadline timer with the in-kernel LAPIC but
	 * leaves the CPUID bit to userspace. With it the guest skips LAPIC
	 * timer calibration, which fails on slow or nested hosts. */
	if (!r && ioctl(s->kvm_fd, KVM_CHECK_EXTENSION,
			KVM_CAP_TSC_DEADLINE_TIMER) > 0) {
		for (uint32_t i = 0; i < c->nent; i++)
			if (c->entries[i].function == 1)
				c->entries[i].ecx |= 1u << 24;
	}
	if (!r && ioctl(vcpu->fd, KVM_SET_CPUID2, c) < 0)
		r = -errno;
	free(c);
	return r;
}

static int vcpu_x86_set_msrs(struct vcpu *vcpu)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[32];
	} m;
	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = x86_boot_msrs(m.e, 32);
	int n = ioctl(vcpu->fd, KVM_SET_MSRS, &m);
	if (n < 0)
		return -errno;
	if ((unsigned)n != m.hdr.nmsrs) {
		log_error("vcpu%u: KVM rejected MSR 0x%x", vcpu->id,
			  m.e[n].index);
		return -EINVAL;
	}
	return 0;
}

static int vcpu_x86_set_lapic(struct vcpu *vcpu)
{
	struct kvm_lapic_state lapic;
	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	x86_lapic_setup(&lapic);
	return ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic) < 0 ? -errno : 0;
}

static int vcpu_x86_set_fpu(struct vcpu *vcpu)
{
	struct kvm_fpu fpu;
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;   /* x87 default control word */
	fpu.mxcsr = 0x1f80; /* SSE exceptions masked */
	return ioctl(vcpu->fd, KVM_SET_FPU, &fpu) < 0 ? -errno : 0;
}

static int vcpu_x86_set_boot_regs(struct vcpu *vcpu,
				  const struct vcpu_x86_setup *s)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	memset(&regs, 0, sizeof(regs));
	int r = x86_setup_boot_regs(s->mem, s->boot, &regs, &sregs);
	if (r)
		return r;
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0 ||
	    ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

int vcpu_x86_configure(struct vcpu *vcpu, const struct vcpu_x86_setup *s)
{
	int r;
	if ((r = vcpu_x86_set_cpuid(vcpu, s)) < 0) {
		log_error("vcpu%u: CPUID setup failed: %s", vcpu->id, strerror(-r));
		return r;
	}
	if ((r = vcpu_x86_set_msrs(vcpu)) < 0)
		return r;
	if ((r = vcpu_x86_set_fpu(vcpu)) < 0)
		return r;
	if ((r = vcpu_x86_set_lapic(vcpu)) < 0)
		return r;
	/* Application processors wait for INIT/SIPI in the in-kernel LAPIC. */
	if (vcpu->id == 0 && (r = vcpu_x86_set_boot_regs(vcpu, s)) < 0)
		return r;
	return 0;
}

static enum vcpu_exit_action vcpu_x86_handle_exit(struct vcpu *vcpu)
{
	const struct vcpu_env *env = vcpu->env;
	switch (vcpu->run->exit_reason) {
	case KVM_EXIT_SHUTDOWN:
		env->exit(env->opaque, VCPU_EXIT_CRASH,
			  "guest triple fault (crash or failed reset)");
		return VCPU_STOP;
	case KVM_EXIT_HLT:
		env->exit(env->opaque, VCPU_EXIT_POWEROFF, "guest halted");
		return VCPU_STOP;
	default:
		return VCPU_UNKNOWN_EXIT;
	}
}

static uint64_t vcpu_x86_pc(const struct vcpu *vcpu)
{
	struct kvm_regs regs;
	memset(&regs, 0, sizeof(regs));
	ioctl(vcpu->fd, KVM_GET_REGS, &regs);
	return regs.rip;
}

/* The highest vector set in one of the LAPIC's 256-bit registers (IRR,
 * ISR), -1 when none: eight 32-bit words 16 bytes apart. */
static int lapic_highest(const struct kvm_lapic_state *l, unsigned reg)
{
	for (int w = 7; w >= 0; w--) {
		uint32_t v;
		memcpy(&v, l->regs + reg + 16 * w, sizeof(v));
		if (v)
			return w * 32 + 31 - __builtin_clz(v);
	}
	return -1;
}

/* Each part on its own: a VM without an in-kernel LAPIC still reports
 * its registers and events. */
static void vcpu_x86_describe(const struct vcpu *vcpu, char *buf, size_t len)
{
	struct kvm_regs regs = {0};
	struct kvm_sregs sregs = {0};
	struct kvm_vcpu_events ev = {0};
	struct kvm_mp_state mp = {0};
	struct kvm_lapic_state lapic = {0};
	size_t n = 0;

#define DESCRIBE(...)                                                        \
	(n += (size_t)snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__))
	buf[0] = 0;
	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) == 0)
		DESCRIBE("rsp=0x%llx rflags=0x%llx (IF=%u) ",
			 (unsigned long long)regs.rsp,
			 (unsigned long long)regs.rflags,
			 (unsigned)((regs.rflags >> 9) & 1));
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) == 0)
		DESCRIBE("cr0=0x%llx cr3=0x%llx ", (unsigned long long)sregs.cr0,
			 (unsigned long long)sregs.cr3);
	if (ioctl(vcpu->fd, KVM_GET_MP_STATE, &mp) == 0)
		DESCRIBE("mp_state=%u ", mp.mp_state);
	if (ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &ev) == 0)
		DESCRIBE("irq_injected=%u nr=%u nmi_pending=%u "
			 "exception_pending=%u nr=%u ",
			 ev.interrupt.injected, ev.interrupt.nr, ev.nmi.pending,
			 ev.exception.pending, ev.exception.nr);
	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic) == 0)
		DESCRIBE("lapic_irr_max=%d lapic_isr_max=%d",
			 lapic_highest(&lapic, 0x200),
			 lapic_highest(&lapic, 0x100));
	else
		DESCRIBE("lapic=none");
#undef DESCRIBE
}

const struct vcpu_arch_ops vcpu_x86_ops = {
	.handle_exit = vcpu_x86_handle_exit,
	.pc = vcpu_x86_pc,
	.pc_name = "rip",
	.describe = vcpu_x86_describe,
};
