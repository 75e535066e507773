/* The VM-wide KVM state (in-kernel PIC/IOAPIC, PIT, kvmclock) to and from
 * one blob (see arch/kvm_state.h). */
#include <arch/kvm_state.h>

#include "kvm_state_blob.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
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

static int parse(const void *blob, size_t len, struct kvm_state_part *p,
		 char *err, size_t errlen)
{
	int r = kvm_state_blob_parse(blob, len, WHAT, VM_MAGIC, VM_VERSION,
				     vm_specs, P_COUNT, p, err, errlen);
	if (r)
		return r;
	/* Each irqchip part must name its own chip, or a restore would load
	 * one chip's state twice and leave another as it was. */
	for (uint32_t chip = 0; chip < 3; chip++) {
		struct kvm_irqchip c;
		memcpy(&c, p[chip_part[chip]].data, sizeof(c));
		if (c.chip_id != chip) {
			snprintf(err, errlen, WHAT ": part %s holds chip id %u",
				 vm_specs[chip_part[chip]].name, c.chip_id);
			return -EINVAL;
		}
	}
	return 0;
}

int x86_vm_state_check(const void *blob, size_t len, char *err, size_t errlen)
{
	struct kvm_state_part p[P_COUNT];
	return parse(blob, len, p, err, errlen);
}

int x86_vm_state_save(int vm_fd, void **blob, size_t *len, char *err,
		      size_t errlen)
{
	struct kvm_state_blob w;
	struct kvm_irqchip chip;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	int r;

	kvm_state_blob_init(&w, VM_MAGIC, VM_VERSION);
	for (uint32_t id = 0; id < 3; id++) {
		memset(&chip, 0, sizeof(chip));
		chip.chip_id = id;
		if (ioctl(vm_fd, KVM_GET_IRQCHIP, &chip) < 0) {
			r = kvm_state_ioctl_err(WHAT, "KVM_GET_IRQCHIP", err, errlen);
			goto fail;
		}
		kvm_state_blob_put(&w, vm_specs[chip_part[id]].id, &chip,
				   sizeof(chip));
	}
	memset(&pit, 0, sizeof(pit));
	if (ioctl(vm_fd, KVM_GET_PIT2, &pit) < 0) {
		r = kvm_state_ioctl_err(WHAT, "KVM_GET_PIT2", err, errlen);
		goto fail;
	}
	kvm_state_blob_put(&w, vm_specs[P_PIT].id, &pit, sizeof(pit));
	memset(&clock, 0, sizeof(clock));
	if (ioctl(vm_fd, KVM_GET_CLOCK, &clock) < 0) {
		r = kvm_state_ioctl_err(WHAT, "KVM_GET_CLOCK", err, errlen);
		goto fail;
	}
	kvm_state_blob_put(&w, vm_specs[P_CLOCK].id, &clock, sizeof(clock));
	if ((r = kvm_state_blob_finish(&w, blob, len)))
		snprintf(err, errlen, WHAT ": %s", strerror(-r));
	return r;
fail:
	kvm_state_blob_free(&w);
	return r;
}

int x86_vm_state_restore(int vm_fd, const void *blob, size_t len, char *err,
			 size_t errlen)
{
	struct kvm_state_part p[P_COUNT];
	struct kvm_irqchip chip;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	int r = parse(blob, len, p, err, errlen);
	if (r)
		return r;

	for (uint32_t id = 0; id < 3; id++) {
		memcpy(&chip, p[chip_part[id]].data, sizeof(chip));
		if (ioctl(vm_fd, KVM_SET_IRQCHIP, &chip) < 0)
			return kvm_state_ioctl_err(WHAT, "KVM_SET_IRQCHIP", err, errlen);
	}
	memcpy(&pit, p[P_PIT].data, sizeof(pit));
	if (ioctl(vm_fd, KVM_SET_PIT2, &pit) < 0)
		return kvm_state_ioctl_err(WHAT, "KVM_SET_PIT2", err, errlen);
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
