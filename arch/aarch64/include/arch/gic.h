/* The in-kernel GICv3 (KVM_DEV_TYPE_ARM_VGIC_V3), the architected timer's
 * interrupts and PSCI, as numbers and as the list of KVM_SET_DEVICE_ATTR
 * steps that configure the GIC, so the VMM only loops over ioctls.
 * KVM constants come from arch/kvm_arm64.h (the arm64 UAPI's values). */
#ifndef ARCH_GIC_H
#define ARCH_GIC_H

#include <stddef.h>
#include <stdint.h>

/* INTIDs 0-15 are SGIs, 16-31 PPIs, 32 on SPIs. KVM wants the total count a
 * multiple of 32, at least 64; 96 SPIs leave room for every virtio slot. */
#define ARM64_GIC_NR_IRQS 128
#define ARM64_GIC_NR_SPIS (ARM64_GIC_NR_IRQS - 32)

/* Timer PPIs as the device tree numbers them (INTID - 16); KVM's defaults:
 * virtual 27, physical 30 (arm,arch_timer.yaml order: secure, non-secure,
 * virtual, hypervisor). */
#define ARM64_TIMER_PPI_SEC_PHYS 13
#define ARM64_TIMER_PPI_PHYS 14
#define ARM64_TIMER_PPI_VIRT 11
#define ARM64_TIMER_PPI_HYP 10

/* PSCI 0.2+ function IDs (Arm DEN 0022), SMC32 calling convention: KVM
 * implements them; the VMM sees SYSTEM_OFF/RESET as KVM_SYSTEM_EVENT exits. */
#define ARM64_PSCI_VERSION 0x84000000U
#define ARM64_PSCI_CPU_ON_64 0xc4000003U
#define ARM64_PSCI_SYSTEM_OFF 0x84000008U
#define ARM64_PSCI_SYSTEM_RESET 0x84000009U

/* One KVM_SET_DEVICE_ATTR on the GIC device fd. addr_value is the value
 * that kvm_device_attr.addr points at (a u32 count or a u64 address);
 * has_value is false for commands that take none (CTRL_INIT). */
struct arm64_dev_attr {
	uint32_t group;
	uint64_t attr;
	uint64_t value;
	uint8_t value_len; /* 0, 4 or 8 bytes */
};

#define ARM64_GIC_SETUP_STEPS 4

/* The steps that make a GICv3 for nr_vcpus vCPUs at the layout's addresses,
 * in the order KVM needs: IRQ count, distributor and redistributor bases
 * (right after KVM_CREATE_DEVICE, before or after the vCPUs), then
 * CTRL_INIT, which needs every vCPU created. KVM_IRQFD fails with -EAGAIN
 * until CTRL_INIT has run. Fills out[ARM64_GIC_SETUP_STEPS]; returns the
 * count, or -EINVAL for 0 or too many vCPUs. */
int arm64_gic_setup_attrs(unsigned nr_vcpus,
			  struct arm64_dev_attr out[ARM64_GIC_SETUP_STEPS]);

#endif
