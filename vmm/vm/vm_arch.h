/* What vm.c asks of the architecture it runs guests of. One implementation
 * per arch, and the Makefile links the one for ARCH: vm_x86_64.c,
 * vm_aarch64.c. Their state is struct arch_vm (<arch/machine.h>), embedded
 * in struct vm as vm->arch.
 *
 * The order vm_create follows: KVM_CREATE_VM, vm_arch_init, memory from
 * vm_arch_ram_ranges, the UART and legacy devices as vm_arch_platform says,
 * virtio devices at vm_arch_virtio_slot, vm_arch_load_guest, each vCPU with
 * vm_arch_vcpu_init, vm_arch_finalize, and only then KVM_IRQFD (arm64
 * refuses irqfds until its GIC is initialized, after the last vCPU).
 * Threads: main thread, before the vCPUs start. */
#ifndef VMM_VM_ARCH_H
#define VMM_VM_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct vcpu;
struct vcpu_arch_ops;

/* The machine's fixed parts. */
struct vm_arch_platform {
	const char *name;       /* "x86_64", "aarch64" */
	bool uart_on_pio;       /* the 8250 in port space (else MMIO) */
	uint64_t uart_base;     /* port or guest-physical address */
	unsigned uart_gsi;
	bool has_i8042;         /* x86: reset through the keyboard controller */
	bool has_acpi_pm;       /* x86: ACPI S5 power-off and reset registers */
	/* A guest booted with acpi=off finds virtio-mmio devices only on the
	 * command line (x86); arm64's device tree always lists them. */
	bool virtio_on_cmdline_without_acpi;
	const struct vcpu_arch_ops *vcpu_ops;
};

extern const struct vm_arch_platform vm_arch_platform;

/* Guest RAM for mem_bytes: up to max [gpa, len] ranges. Count or -errno. */
int vm_arch_ram_ranges(uint64_t mem_bytes, uint64_t ranges[][2], unsigned max);
/* Base and GSI of virtio-mmio slot i; -ENOSPC past the last. */
int vm_arch_virtio_slot(unsigned i, uint64_t *base, unsigned *gsi);
/* Right after KVM_CREATE_VM: the in-kernel interrupt controller and what
 * the vCPUs will need from KVM. 0 or -errno with a message in err. */
int vm_arch_init(struct vm *vm, char *err, size_t errlen);
/* The longest command line (without NUL) the kernel at kernel_path takes. */
int vm_arch_cmdline_max(const char *kernel_path, size_t *max, char *err,
			size_t errlen);
/* Kernel, initrd and command line into guest memory, with whatever firmware
 * tables do not depend on the vCPUs; the virtio devices are added. */
int vm_arch_load_guest(struct vm *vm, const char *cmdline, char *err,
		       size_t errlen);
/* One vCPU after KVM_CREATE_VCPU. boot: entry state for the kernel; else
 * only what a snapshot restore does not set. 0 or -errno. */
int vm_arch_vcpu_init(struct vm *vm, struct vcpu *vcpu, bool boot);
/* After the last vCPU, before any irqfd: what needs every vCPU. */
int vm_arch_finalize(struct vm *vm, bool boot, char *err, size_t errlen);
/* Frees what the calls above made; safe on the zeroed vm->arch of a VM
 * whose vm_arch_init failed or never ran. */
void vm_arch_destroy(struct vm *vm);

#endif
