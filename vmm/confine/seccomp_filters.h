/* The allowlists behind confine_seccomp_install(): one function per thread
 * kind adds its ALLOW rules to a libseccomp context whose default action
 * the caller chose. Private to vmm/confine/. */
#ifndef VMM_CONFINE_SECCOMP_FILTERS_H
#define VMM_CONFINE_SECCOMP_FILTERS_H

#include "confine/confine.h"

#include <seccomp.h>
#include <stddef.h>

/* What one arch adds to the lists in seccomp_filters.c (its KVM ioctls,
 * syscalls only its libc makes): seccomp_x86_64.c or seccomp_aarch64.c,
 * as the Makefile picks. */
struct confine_arch_rules {
	const unsigned long *vcpu_ioctls;
	size_t nr_vcpu_ioctls;
	const unsigned long *main_ioctls;
	size_t nr_main_ioctls;
	const int *main_syscalls;
	size_t nr_main_syscalls;
};

extern const struct confine_arch_rules confine_arch_rules;

int confine_rules_vcpu(scmp_filter_ctx ctx);
int confine_rules_main(scmp_filter_ctx ctx);
int confine_rules_api(scmp_filter_ctx ctx);
/* Dispatches on kind; -EINVAL for an unknown one. */
int confine_rules_add(scmp_filter_ctx ctx, enum confine_thread kind);

#endif
