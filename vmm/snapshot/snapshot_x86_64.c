/* x86_64's KVM state in a snapshot (snapshot_arch.h): the VM blob (PICs,
 * IOAPIC, PIT, kvmclock), and per vCPU its CPUID and state blob
 * (arch/kvm_state.h). */
#include "snapshot/snapshot_arch.h"

#include "snapshot/snapfile.h"
#include "snapshot/snapshot.h"
#include "vm/vm.h"

#include <arch/cpuid.h>
#include <arch/kvm_state.h>
#include <core/err.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define SNAPSHOT_MAX_CPUID_ENTRIES 4096

const uint32_t snapshot_arch_id = SNAPFILE_ARCH_X86_64;

int snapshot_arch_supported(char *err, size_t errlen)
{
	(void)err, (void)errlen;
	return 0;
}

static int snapshot_put_cpuid(struct snapfile_writer *w, struct vcpu *v)
{
	struct kvm_cpuid2 *c;
	int r = x86_cpuid_fetch(v->fd, KVM_GET_CPUID2, &c);
	if (r)
		return r;
	snapfile_put(w, SNAPSHOT_TAG_CPUID, v->id, c,
		     sizeof(*c) + c->nent * sizeof(c->entries[0]));
	free(c);
	return 0;
}

int snapshot_arch_save(struct vm *vm, struct snapfile_writer *w, char *msg,
		       size_t msglen)
{
	char why[160];
	void *blob;
	size_t len;
	int r = x86_vm_state_save(vm->vm_fd, &blob, &len, why, sizeof(why));
	if (r)
		return err_set(msg, msglen, r, "VM state: %s", why);
	snapfile_put(w, SNAPSHOT_TAG_VM_KVM, 0, blob, len);
	free(blob);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if ((r = snapshot_put_cpuid(w, v)))
			return err_set(msg, msglen, r, "vcpu%u CPUID: %s", i,
				       strerror(-r));
		r = x86_vcpu_state_save(vm->kvm_fd, v->fd, &blob, &len, why,
					sizeof(why));
		if (r)
			return err_set(msg, msglen, r, "vcpu%u state: %s", i,
				       why);
		snapfile_put(w, SNAPSHOT_TAG_VCPU, i, blob, len);
		free(blob);
	}
	return 0;
}

static int check_cpuid(const void *data, size_t len)
{
	const struct kvm_cpuid2 *c = data;
	if (len < sizeof(*c) || c->nent == 0 ||
	    c->nent > SNAPSHOT_MAX_CPUID_ENTRIES)
		return -EINVAL;
	return len == sizeof(*c) + c->nent * sizeof(c->entries[0]) ? 0 : -EINVAL;
}

int snapshot_arch_check(const struct snapfile_reader *rd, unsigned nr_vcpus,
			char *err, size_t errlen)
{
	const void *d;
	size_t len;
	char why[200];
	if (snapfile_get(rd, SNAPSHOT_TAG_VM_KVM, 0, &d, &len))
		return err_set(err, errlen, -EINVAL,
			       "state file: VM state: missing");
	if (x86_vm_state_check(d, len, why, sizeof(why)))
		return err_set(err, errlen, -EINVAL, "state file: VM state: %s",
			       why);
	for (unsigned i = 0; i < nr_vcpus; i++) {
		if (snapfile_get(rd, SNAPSHOT_TAG_CPUID, i, &d, &len) ||
		    check_cpuid(d, len))
			return err_set(err, errlen, -EINVAL,
				       "state file: the vCPU CPUID section (%u) is missing or has the wrong size",
				       i);
		if (snapfile_get(rd, SNAPSHOT_TAG_VCPU, i, &d, &len))
			return err_set(err, errlen, -EINVAL,
				       "state file: the vCPU section (%u) is missing or has the wrong size",
				       i);
		if (x86_vcpu_state_check(d, len, why, sizeof(why)))
			return err_set(err, errlen, -EINVAL,
				       "state file: vcpu%u: %s", i, why);
	}
	return 0;
}

int snapshot_arch_restore(struct vm *vm, const struct snapfile_reader *rd,
			  char *err, size_t errlen)
{
	const void *d;
	size_t len;
	char why[200];
	int r;
	snapfile_get(rd, SNAPSHOT_TAG_VM_KVM, 0, &d, &len);
	if ((r = x86_vm_state_restore(vm->vm_fd, d, len, why, sizeof(why))))
		return err_set(err, errlen, r, "restoring VM state: %s", why);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		snapfile_get(rd, SNAPSHOT_TAG_CPUID, i, &d, &len);
		/* The guest keeps the CPU it booted with, not this host's. */
		if (ioctl(v->fd, KVM_SET_CPUID2, d) < 0) {
			r = -errno;
			return err_set(err, errlen, r,
				       "vcpu%u: KVM refused the saved CPUID: %s",
				       i, strerror(-r));
		}
		snapfile_get(rd, SNAPSHOT_TAG_VCPU, i, &d, &len);
		r = x86_vcpu_state_restore(vm->kvm_fd, v->fd, d, len, why,
					   sizeof(why));
		if (r)
			return err_set(err, errlen, r, "restoring vcpu%u: %s", i,
				       why);
	}
	return 0;
}
