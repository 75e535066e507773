/* vCPU threads: each loops on KVM_RUN and dispatches port and MMIO exits to
 * the buses. They never run device queue work (that arrives on the main loop
 * through ioeventfds). Threads: a vcpu is owned by its thread once started. */
#ifndef VMM_VCPU_H
#define VMM_VCPU_H

#include "vm/dirty_log.h"

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	bool io_pending; /* last exit was port or MMIO I/O (vcpu thread) */
	struct dirty_ring dirty_ring; /* mapped when the VM logs by ring */
};

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned id);
/* CPUID from KVM's supported set, shaped for this VM (also on restore). */
int vcpu_set_cpuid(struct vcpu *vcpu);
/* Registers, CPUID, MSRs, LAPIC for boot. */
int vcpu_configure(struct vcpu *vcpu);
int vcpu_start(struct vcpu *vcpu);
/* Forces the thread out of KVM_RUN (signal + immediate_exit). */
void vcpu_kick(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);
void vcpu_destroy(struct vcpu *vcpu);
/* Installs the no-op signal handler used to kick vCPUs; once per process. */
int vcpu_signal_setup(void);

#endif
