/* x86_64's additions to the seccomp allowlists (seccomp_filters.h). */
#include "confine/seccomp_filters.h"

#include <linux/kvm.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const unsigned long vcpu_ioctls[] = {
	KVM_GET_REGS,        /* vcpu_fail's rip, SIGUSR2's dump */
	KVM_GET_SREGS,       /* the dump (vcpu_x86_describe): cr0, cr3 */
	KVM_GET_MP_STATE,
	KVM_GET_VCPU_EVENTS,
	KVM_GET_LAPIC,       /* IRR and ISR */
};

/* snapshot/create with the vCPUs paused (kvm_state_*.c) */
static const unsigned long main_ioctls[] = {
	KVM_GET_IRQCHIP, KVM_GET_PIT2, KVM_GET_CLOCK, KVM_GET_MSR_INDEX_LIST,
	KVM_GET_CPUID2, KVM_GET_MP_STATE, KVM_GET_REGS, KVM_GET_SREGS,
	KVM_GET_XSAVE, KVM_GET_XSAVE2, KVM_GET_FPU, KVM_GET_XCRS,
	KVM_GET_DEBUGREGS, KVM_GET_LAPIC, KVM_GET_TSC_KHZ, KVM_GET_MSRS,
	KVM_GET_VCPU_EVENTS,
};

const struct confine_arch_rules confine_arch_rules = {
	.vcpu_ioctls = vcpu_ioctls,
	.nr_vcpu_ioctls = ARRAY_LEN(vcpu_ioctls),
	.main_ioctls = main_ioctls,
	.nr_main_ioctls = ARRAY_LEN(main_ioctls),
};
