/* The allowlists behind confine_seccomp_install(): one function per thread
 * kind adds its ALLOW rules to a libseccomp context whose default action
 * the caller chose. Private to vmm/confine/. */
#ifndef VMM_CONFINE_SECCOMP_FILTERS_H
#define VMM_CONFINE_SECCOMP_FILTERS_H

#include "confine/confine.h"

#include <seccomp.h>

int confine_rules_vcpu(scmp_filter_ctx ctx);
int confine_rules_main(scmp_filter_ctx ctx);
int confine_rules_api(scmp_filter_ctx ctx);
/* Dispatches on kind; -EINVAL for an unknown one. */
int confine_rules_add(scmp_filter_ctx ctx, enum confine_thread kind);

#endif
