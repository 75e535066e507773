/* Pausing the VM: every vCPU thread leaves KVM_RUN and parks on the pause
 * gate at the top of its loop until resume (pause_gate.c has the
 * handshake; this file supplies the kick). */
#include "vm/vm.h"

#include <core/log.h>

#include <errno.h>
#include <string.h>

/* A vCPU leaves KVM_RUN within microseconds of its kick; a second is a
 * stuck host, not a busy guest. */
#define VM_PAUSE_TIMEOUT_MS 1000

static void vm_pause_kick_all(void *opaque)
{
	struct vm *vm = opaque;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
}

int vm_pause(struct vm *vm)
{
	int r = pause_gate_pause(&vm->pause, vm_pause_kick_all, vm,
				 VM_PAUSE_TIMEOUT_MS);
	if (r && r != -EALREADY)
		log_warn("vm: pause failed: %s", strerror(-r));
	return r;
}

int vm_resume(struct vm *vm)
{
	return pause_gate_resume(&vm->pause);
}

bool vm_paused(struct vm *vm)
{
	return pause_gate_paused(&vm->pause);
}
