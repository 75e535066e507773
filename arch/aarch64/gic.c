/* The GICv3 device's configuration steps (Documentation/virt/kvm/devices/
 * arm-vgic-v3.rst). */
#include <arch/gic.h>
#include <arch/kvm_arm64.h>
#include <arch/layout.h>

#include <errno.h>

int arm64_gic_setup_attrs(unsigned nr_vcpus,
			  struct arm64_dev_attr out[ARM64_GIC_SETUP_STEPS])
{
	if (arm64_gic_redist_size(nr_vcpus) == 0)
		return -EINVAL;
	out[0] = (struct arm64_dev_attr){ ARM64_KVM_VGIC_GRP_NR_IRQS, 0,
					  ARM64_GIC_NR_IRQS, 4 };
	out[1] = (struct arm64_dev_attr){ ARM64_KVM_VGIC_GRP_ADDR,
					  ARM64_KVM_VGIC_V3_ADDR_TYPE_DIST,
					  ARM64_GIC_DIST_BASE, 8 };
	/* One contiguous region: KVM gives vCPU i the frame at base + i*128K. */
	out[2] = (struct arm64_dev_attr){ ARM64_KVM_VGIC_GRP_ADDR,
					  ARM64_KVM_VGIC_V3_ADDR_TYPE_REDIST,
					  ARM64_GIC_REDIST_BASE, 8 };
	/* INIT needs every vCPU created; the VMM runs it last. */
	out[3] = (struct arm64_dev_attr){ ARM64_KVM_VGIC_GRP_CTRL,
					  ARM64_KVM_VGIC_CTRL_INIT, 0, 0 };
	return 4;
}
