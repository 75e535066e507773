#include "fakes/kvm_guest.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

void kvm_guest_open(struct kvm_guest *g, const uint64_t (*ranges)[2],
		    unsigned nr_ranges)
{
	memset(g, 0, sizeof(*g));
	g->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (g->kvm_fd < 0)
		cr_skip_test("/dev/kvm cannot be opened: %s", strerror(errno));
	if (ioctl(g->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		cr_skip_test("/dev/kvm is not a KVM of API version %d",
			     KVM_API_VERSION);
	g->vm_fd = ioctl(g->kvm_fd, KVM_CREATE_VM, 0);
	cr_assert_geq(g->vm_fd, 0, "KVM_CREATE_VM: %s", strerror(errno));
	int mmap_size = ioctl(g->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	cr_assert_gt(mmap_size, 0);
	g->vcpu_mmap_size = (size_t)mmap_size;
	cr_assert_eq(ioctl(g->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000UL), 0);

	struct gmem_opts opts = {.backend = GMEM_ANON_PRIVATE};
	cr_assert_eq(gmem_init(&g->mem, ranges, nr_ranges, &opts), 0);
	for (unsigned i = 0; i < g->mem.nr_regions; i++) {
		const struct gmem_region *r = &g->mem.regions[i];
		struct kvm_userspace_memory_region kr = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->len,
			.userspace_addr = (uint64_t)(uintptr_t)r->hva,
		};
		cr_assert_eq(ioctl(g->vm_fd, KVM_SET_USER_MEMORY_REGION, &kr),
			     0);
	}
}

void kvm_guest_close(struct kvm_guest *g)
{
	gmem_destroy(&g->mem);
	close(g->vm_fd);
	close(g->kvm_fd);
}

void kvm_guest_enter_flat32(int vcpu_fd, uint64_t gpa)
{
	struct kvm_sregs s;
	cr_assert_eq(ioctl(vcpu_fd, KVM_GET_SREGS, &s), 0);
	struct kvm_segment seg = {.base = 0, .limit = 0xffffffff, .selector = 0x10,
				  .type = 3, .present = 1, .db = 1, .s = 1, .g = 1};
	s.ds = s.es = s.fs = s.gs = s.ss = seg;
	seg.type = 11;
	seg.selector = 0x8;
	s.cs = seg;
	s.cr0 |= 1; /* protected mode, no paging */
	cr_assert_eq(ioctl(vcpu_fd, KVM_SET_SREGS, &s), 0);
	struct kvm_regs r = {.rip = gpa, .rflags = 2};
	cr_assert_eq(ioctl(vcpu_fd, KVM_SET_REGS, &r), 0);
}
