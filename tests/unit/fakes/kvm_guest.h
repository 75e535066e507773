/* A tiny KVM guest for tests that need /dev/kvm: a VM with guest RAM in
 * slots (slot i = gmem region i) and vCPUs entering flat 32-bit protected
 * mode, paging off, at a chosen address. The calling test is skipped where
 * /dev/kvm cannot be opened. Threads: the test's. */
#ifndef TESTS_KVM_GUEST_H
#define TESTS_KVM_GUEST_H

#include <core/gmem.h>

#include <stddef.h>
#include <stdint.h>

struct kvm_guest {
	int kvm_fd, vm_fd;
	size_t vcpu_mmap_size;
	struct gmem mem;
};

/* Skips the test without a usable /dev/kvm; asserts on other failures. */
void kvm_guest_open(struct kvm_guest *g, const uint64_t (*ranges)[2],
		    unsigned nr_ranges);
void kvm_guest_close(struct kvm_guest *g);
/* Points the vCPU behind vcpu_fd at gpa: flat 4 GiB segments, CR0.PE. */
void kvm_guest_enter_flat32(int vcpu_fd, uint64_t gpa);

#endif
