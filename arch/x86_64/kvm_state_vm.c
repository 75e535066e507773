/* The VM-wide KVM state (in-kernel PIC/IOAPIC, PIT, kvmclock) to and from
 * one blob (see arch/kvm_state.h). */
#include <arch/kvm_state.h>

#include "kvm_state_blob.h"

#include <core/err.h>

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#define VM_MAGIC 0x534d5658u /* "XVMS" */
#define VM_VERSION 1u
#define WHAT "vm state"

enum { P_PIC_MASTER, P_PIC_SLAVE, P_IOAPIC, P_PIT, P_CLOCK, P_COUNT };

#define FIXED(id, name, type) { id, name, sizeof(type), sizeof(type), true }
/* Indexed by the P_ enum; ids are what the blob stores, never reused. */
static const struct kvm_state_part_spec vm_specs[P_COUNT] = {
	[P_PIC_MASTER] = FIXED(1, "pic_master", struct kvm_irqchip),
	[P_PIC_SLAVE] = FIXED(2, "pic_slave", struct kvm_irqchip),
	[P_IOAPIC] = FIXED(3, "ioapic", struct kvm_irqchip),
	[P_PIT] = FIXED(4, "pit", struct kvm_pit_state2),
	[P_CLOCK] = FIXED(5, "clock", struct kvm_clock_data),
};

/* The irqchip part's index for each KVM chip id. */
static const unsigned chip_part[] = {
	[KVM_IRQCHIP_PIC_MASTER] = P_PIC_MASTER,
	[KVM_IRQCHIP_PIC_SLAVE] = P_PIC_SLAVE,
	[KVM_IRQCHIP_IOAPIC] = P_IOAPIC,
};

/* The irqchips and the PIT are restored through one buffer. */
_Static_assert(sizeof(struct kvm_irqchip) <= KVM_STATE_FIXED_PART_MAX &&
		       sizeof(struct kvm_pit_state2) <= KVM_STATE_FIXED_PART_MAX,
	       "fixed VM parts fit KVM_STATE_FIXED_PART_MAX");

/* Each irqchip part must name its own chip, or a restore would load one
 * chip's state twice and leave another as it was. */
static int check_parts(const struct kvm_state_part *p, char *err,
		       size_t errlen)
{
	for (uint32_t chip = 0; chip < 3; chip++) {
		struct kvm_irqchip c;
		memcpy(&c, p[chip_part[chip]].data, sizeof(c));
		if (c.chip_id != chip)
			return err_set(err, errlen, -EINVAL,
				       WHAT ": part %s holds chip id %u",
				       vm_specs[chip_part[chip]].name, c.chip_id);
	}
	return 0;
}

static const struct kvm_state_format vm_format = {
	.what = WHAT, .magic = VM_MAGIC, .version = VM_VERSION,
	.specs = vm_specs, .nspecs = P_COUNT, .check = check_parts,
};

int x86_vm_state_check(const void *blob, size_t len, char *err, size_t errlen)
{
	struct kvm_state_part p[P_COUNT];
	return kvm_state_blob_parse(&vm_format, blob, len, p, err, errlen);
}

int x86_vm_state_save(int vm_fd, void **blob, size_t *len, char *err,
		      size_t errlen)
{
	struct kvm_state_blob w;

	/* Each step does nothing once one has failed (the writer's sticky
	 * error). KVM_GET_IRQCHIP reads the chip the buffer names. */
	kvm_state_blob_init(&w, &vm_format, err, errlen);
	for (uint32_t id = 0; id < 3; id++) {
		struct kvm_irqchip chip = { .chip_id = id };
		kvm_state_blob_ioctl(&w, chip_part[id], sizeof(chip), &chip,
				     vm_fd, KVM_GET_IRQCHIP, "KVM_GET_IRQCHIP");
	}
	kvm_state_blob_ioctl(&w, P_PIT, sizeof(struct kvm_pit_state2), NULL,
			     vm_fd, KVM_GET_PIT2, "KVM_GET_PIT2");
	kvm_state_blob_ioctl(&w, P_CLOCK, sizeof(struct kvm_clock_data), NULL,
			     vm_fd, KVM_GET_CLOCK, "KVM_GET_CLOCK");
	return kvm_state_blob_finish(&w, blob, len);
}

int x86_vm_state_restore(int vm_fd, const void *blob, size_t len, char *err,
			 size_t errlen)
{
	struct kvm_state_part p[P_COUNT];
	struct kvm_clock_data clock;
	int r = kvm_state_blob_parse(&vm_format, blob, len, p, err, errlen);
	if (r)
		return r;

	for (uint32_t id = 0; id < 3; id++)
		if ((r = kvm_state_part_ioctl(WHAT, vm_fd, KVM_SET_IRQCHIP,
					      "KVM_SET_IRQCHIP",
					      &p[chip_part[id]], err, errlen)))
			return r;
	if ((r = kvm_state_part_ioctl(WHAT, vm_fd, KVM_SET_PIT2, "KVM_SET_PIT2",
				      &p[P_PIT], err, errlen)))
		return r;
	/* Flags 0: kvmclock resumes at the saved value, so the guest sees no
	 * time pass while it was stopped (as Firecracker does). Kernels
	 * before 5.16 refuse any flag, and KVM_CLOCK_REALTIME would jump the
	 * guest's monotonic clock by the whole time between save and load. */
	memcpy(&clock, p[P_CLOCK].data, sizeof(clock));
	clock.flags = 0;
	if (ioctl(vm_fd, KVM_SET_CLOCK, &clock) < 0)
		return kvm_state_ioctl_err(WHAT, "KVM_SET_CLOCK", err, errlen);
	return 0;
}
