/* The x86_64 machine (vm_arch.h): COM1 and the i8042 and ACPI PM registers
 * in port space, the in-kernel PIC/IOAPIC/PIT, a bzImage or PVH kernel with
 * an MP table and ACPI tables, virtio-mmio in the 32-bit hole. */
#include "vm/vm_arch.h"

#include "vm/vcpu_x86_64.h"
#include "vm/vm.h"

#include <arch/acpi.h>
#include <arch/cpuid.h>
#include <arch/layout.h>
#include <arch/mptable.h>
#include <core/err.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define KVM_TSS_GPA 0xfffbd000ULL
#define KVM_IDENTITY_MAP_GPA 0xfffbc000ULL
/* GSIs 5.. up to the IOAPIC's last pin (23). */
#define VIRTIO_FIRST_GSI 5
#define VIRTIO_SLOTS 19

const struct vm_arch_platform vm_arch_platform = {
	.name = "x86_64",
	.uart_on_pio = true,
	.uart_base = 0x3f8, /* COM1 */
	.uart_gsi = 4,
	.has_i8042 = true,
	.has_acpi_pm = true,
	.virtio_on_cmdline_without_acpi = true,
	.vcpu_ops = &vcpu_x86_ops,
};

int vm_arch_ram_ranges(uint64_t mem_bytes, uint64_t ranges[][2], unsigned max)
{
	uint64_t r[2][2];
	unsigned n = x86_ram_ranges(mem_bytes, r);
	if (n > max)
		return -E2BIG;
	memcpy(ranges, r, n * sizeof(r[0]));
	return (int)n;
}

int vm_arch_virtio_slot(unsigned i, uint64_t *base, unsigned *gsi)
{
	if (i >= VIRTIO_SLOTS)
		return -ENOSPC;
	*base = X86_MMIO_START + i * X86_MMIO_SLOT_SIZE;
	*gsi = VIRTIO_FIRST_GSI + i;
	return 0;
}

int vm_arch_init(struct vm *vm, char *err, size_t errlen)
{
	struct kvm_pit_config pit = {.flags = 0};
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_GPA) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &(uint64_t){KVM_IDENTITY_MAP_GPA}) < 0 ||
	    ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0 ||
	    ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return err_set(err, errlen, -errno,
			       "KVM VM setup (TSS, irqchip, PIT): %s",
			       strerror(errno));
	int r = x86_cpuid_fetch(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID,
				&vm->arch.supported_cpuid);
	if (r)
		return err_set(err, errlen, r, "KVM_GET_SUPPORTED_CPUID: %s",
			       strerror(-r));
	return 0;
}

int vm_arch_cmdline_max(const char *kernel_path, size_t *max, char *err,
			size_t errlen)
{
	return x86_kernel_cmdline_max(kernel_path, max, err, errlen);
}

int vm_arch_load_guest(struct vm *vm, const char *cmdline, char *err,
		       size_t errlen)
{
	int r = x86_load_kernel(&vm->mem, vm->cfg->kernel_path,
				vm->cfg->initrd_path, cmdline, &vm->arch.boot,
				err, errlen);
	if (r)
		return r;
	r = x86_mptable_write(&vm->mem, vm->nr_vcpus);
	if (r)
		return err_set(err, errlen, r, "MP table: %s", strerror(-r));
	struct x86_acpi_virtio virtio[VM_MAX_VIRTIO];
	for (unsigned i = 0; i < vm->nr_virtio; i++)
		virtio[i] = (struct x86_acpi_virtio){
			.base = (uint32_t)vm->virtio[i].base,
			.size = X86_MMIO_SLOT_SIZE,
			.gsi = vm->virtio[i].gsi,
		};
	uint64_t rsdp;
	r = x86_acpi_write(&vm->mem, vm->nr_vcpus, virtio, vm->nr_virtio,
			   &rsdp);
	if (!r)
		r = x86_boot_set_rsdp(&vm->mem, &vm->arch.boot, rsdp);
	if (r)
		return err_set(err, errlen, r, "ACPI tables: %s", strerror(-r));
	return 0;
}

int vm_arch_vcpu_init(struct vm *vm, struct vcpu *vcpu, bool boot)
{
	const struct vcpu_x86_setup setup = {
		.kvm_fd = vm->kvm_fd,
		.supported_cpuid = vm->arch.supported_cpuid,
		.nr_vcpus = vm->nr_vcpus,
		.mem = &vm->mem,
		.boot = &vm->arch.boot,
	};
	/* A restore sets everything but CPUID from the snapshot. */
	return boot ? vcpu_x86_configure(vcpu, &setup)
		    : vcpu_x86_set_cpuid(vcpu, &setup);
}

int vm_arch_finalize(struct vm *vm, bool boot, char *err, size_t errlen)
{
	(void)vm, (void)boot, (void)err, (void)errlen;
	return 0;
}

void vm_arch_destroy(struct vm *vm)
{
	free(vm->arch.supported_cpuid);
	vm->arch.supported_cpuid = NULL;
}
