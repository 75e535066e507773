/* The arm64 machine (vm_arch.h) of arch/aarch64's layout: the in-kernel
 * GICv3, the 8250 UART on the MMIO bus, virtio-mmio slots below RAM, an
 * Image kernel, and a device tree written once every vCPU exists (it names
 * the CPUs by the MPIDRs KVM gave them). Power-off and reset are PSCI calls
 * KVM turns into KVM_EXIT_SYSTEM_EVENT. */
#include "vm/vm_arch.h"

#include "vm/vcpu_aarch64.h"
#include "vm/vm.h"

#include <arch/fdt.h>
#include <arch/gic.h>
#include <arch/layout.h>
#include <core/err.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* COMMAND_LINE_SIZE of arm64 Linux, less its NUL. */
#define ARM64_CMDLINE_MAX 2047

const struct vm_arch_platform vm_arch_platform = {
	.name = "aarch64",
	.uart_on_pio = false,
	.uart_base = ARM64_SERIAL_BASE,
	.uart_gsi = ARM64_SERIAL_SPI,
	.vcpu_ops = &vcpu_aarch64_ops,
};

int vm_arch_ram_ranges(uint64_t mem_bytes, uint64_t ranges[][2], unsigned max)
{
	uint64_t r[1][2];
	int n = arm64_ram_ranges(mem_bytes, r);
	if (n < 0)
		return n;
	if ((unsigned)n > max)
		return -E2BIG;
	memcpy(ranges, r, (size_t)n * sizeof(r[0]));
	return n;
}

int vm_arch_virtio_slot(unsigned i, uint64_t *base, unsigned *gsi)
{
	uint32_t spi;
	int r = arm64_mmio_slot(i, base, &spi);
	if (!r)
		*gsi = spi;
	return r;
}

/* Steps [from, to) of arm64_gic_setup_attrs() on the GIC's fd. */
static int gic_steps(int gic_fd, unsigned nr_vcpus, int from, int to)
{
	struct arm64_dev_attr steps[ARM64_GIC_SETUP_STEPS];
	int n = arm64_gic_setup_attrs(nr_vcpus, steps);
	if (n < 0)
		return n;
	if (n < to)
		return -EINVAL;
	for (int i = from; i < to; i++) {
		uint32_t v32 = (uint32_t)steps[i].value;
		uint64_t v64 = steps[i].value;
		void *value = steps[i].value_len == 4 ? (void *)&v32
			      : steps[i].value_len == 8 ? (void *)&v64
							: NULL;
		struct kvm_device_attr a = {
			.group = steps[i].group,
			.attr = steps[i].attr,
			.addr = (uint64_t)(uintptr_t)value,
		};
		if (ioctl(gic_fd, KVM_SET_DEVICE_ATTR, &a) < 0)
			return -errno;
	}
	return 0;
}

/* The GIC exists before the vCPUs and gets all of its set-up but
 * CTRL_INIT, which waits for the last vCPU (vm_arch_finalize). */
int vm_arch_init(struct vm *vm, char *err, size_t errlen)
{
	struct arch_vm *a = &vm->arch;
	struct kvm_create_device gic = {.type = KVM_DEV_TYPE_ARM_VGIC_V3};
	if (ioctl(vm->vm_fd, KVM_CREATE_DEVICE, &gic) < 0)
		return err_set(err, errlen, -errno,
			       "KVM_CREATE_DEVICE (GICv3): %s", strerror(errno));
	a->gic_fd = (int)gic.fd;
	int r = gic_steps(a->gic_fd, vm->nr_vcpus, 0, ARM64_GIC_SETUP_STEPS - 1);
	if (r)
		return err_set(err, errlen, r, "GICv3 set-up: %s", strerror(-r));
	struct kvm_vcpu_init init;
	if (ioctl(vm->vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0)
		return err_set(err, errlen, -errno,
			       "KVM_ARM_PREFERRED_TARGET: %s", strerror(errno));
	a->vcpu_target = init.target;
	return 0;
}

int vm_arch_cmdline_max(const char *kernel_path, size_t *max, char *err,
			size_t errlen)
{
	(void)kernel_path, (void)err, (void)errlen;
	*max = ARM64_CMDLINE_MAX;
	return 0;
}

/* Kernel and initrd; the command line waits for the device tree. */
int vm_arch_load_guest(struct vm *vm, const char *cmdline, char *err,
		       size_t errlen)
{
	struct arch_vm *a = &vm->arch;
	int r = arm64_load_kernel(&vm->mem, ARM64_RAM_BASE,
				  vm->cfg->kernel_path, vm->cfg->initrd_path,
				  &a->boot, err, errlen);
	if (r)
		return r;
	free(a->cmdline);
	a->cmdline = strdup(cmdline);
	if (!a->cmdline)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	return 0;
}

/* Every vCPU is initialized (all but vCPU 0 powered off, to be started by
 * the guest's PSCI CPU_ON); the boot vCPU gets the kernel's entry state. */
int vm_arch_vcpu_init(struct vm *vm, struct vcpu *vcpu, bool boot)
{
	struct arch_vm *a = &vm->arch;
	if (vcpu->id >= ARM64_MAX_VCPUS)
		return -EINVAL;
	int r = vcpu_aarch64_init(vcpu, a->vcpu_target, &a->mpidrs[vcpu->id]);
	if (r || !boot || vcpu->id != 0)
		return r;
	struct arm64_one_reg regs[ARM64_BOOT_REGS];
	unsigned n = arm64_boot_regs(&a->boot, regs);
	return vcpu_aarch64_set_regs(vcpu, regs, n);
}

/* The device tree describes exactly this VM: RAM, the vCPUs by MPIDR, the
 * GIC, the UART and every virtio-mmio slot, the command line and initrd. */
static int vm_write_fdt(struct vm *vm, char *err, size_t errlen)
{
	struct arch_vm *a = &vm->arch;
	const struct gmem_region *ram = &vm->mem.regions[0];
	struct arm64_fdt_device virtio[VM_MAX_VIRTIO];
	struct arm64_fdt_config cfg;

	arm64_fdt_config_default(&cfg, vm->nr_vcpus, ram->gpa, ram->len);
	cfg.mpidrs = a->mpidrs;
	for (unsigned i = 0; i < vm->nr_virtio; i++)
		virtio[i] = (struct arm64_fdt_device){
			.base = vm->virtio[i].base,
			.size = ARM64_MMIO_SLOT_SIZE,
			.spi = vm->virtio[i].gsi,
		};
	cfg.nr_virtio = vm->nr_virtio;
	cfg.virtio = virtio;
	cfg.cmdline = a->cmdline;
	cfg.initrd_gpa = a->boot.initrd_gpa;
	cfg.initrd_len = a->boot.initrd_len;
	return arm64_fdt_write(&vm->mem, a->boot.dtb_gpa, &cfg, err, errlen);
}

int vm_arch_finalize(struct vm *vm, bool boot, char *err, size_t errlen)
{
	struct arch_vm *a = &vm->arch;
	/* KVM_IRQFD fails with EAGAIN until this has run. */
	int r = gic_steps(a->gic_fd, vm->nr_vcpus, ARM64_GIC_SETUP_STEPS - 1,
			  ARM64_GIC_SETUP_STEPS);
	if (r)
		return err_set(err, errlen, r, "GICv3 CTRL_INIT: %s",
			       strerror(-r));
	return boot ? vm_write_fdt(vm, err, errlen) : 0;
}

void vm_arch_destroy(struct vm *vm)
{
	struct arch_vm *a = &vm->arch;
	if (a->gic_fd > 0)
		close(a->gic_fd);
	a->gic_fd = 0;
	free(a->cmdline);
	a->cmdline = NULL;
}
