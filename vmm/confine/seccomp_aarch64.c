/* arm64's additions to the seccomp allowlists (seccomp_filters.h). Its
 * syscall table has no unlink, rename or epoll_wait: glibc calls the *at
 * and pwait forms, which the shared lists name only where x86 uses them. */
#include "confine/seccomp_filters.h"

#include <linux/kvm.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const unsigned long vcpu_ioctls[] = {
	KVM_GET_ONE_REG,  /* vcpu_fail's pc, SIGUSR2's pstate and sp */
	KVM_GET_MP_STATE, /* SIGUSR2: running or powered off */
};

static const int main_syscalls[] = {
	SCMP_SYS(unlinkat), /* unlink(): the API socket at exit */
};

const struct confine_arch_rules confine_arch_rules = {
	.vcpu_ioctls = vcpu_ioctls,
	.nr_vcpu_ioctls = ARRAY_LEN(vcpu_ioctls),
	.main_syscalls = main_syscalls,
	.nr_main_syscalls = ARRAY_LEN(main_syscalls),
};
