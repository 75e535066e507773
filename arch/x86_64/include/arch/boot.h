/* Kernel loading and the boot CPU's entry state (x86_64).
 * bzImage: Linux's 64-bit boot protocol (Documentation/x86/boot.rst).
 * ELF vmlinux: the Xen PVH entry (32-bit, paging off; arch/pvh.h).
 * Only guest memory is touched, through <core/gmem.h>; no KVM fd here.
 * Threads: called once by the VMM before vCPUs start. */
#ifndef ARCH_BOOT_H
#define ARCH_BOOT_H

#include <core/gmem.h>

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct x86_boot_info {
	uint64_t entry_gpa;
	bool pvh; /* 32-bit PVH entry (EBX = start_info) vs 64-bit boot protocol (RSI = boot_params) */
	uint64_t boot_params_gpa;
	uint64_t start_info_gpa;
	uint64_t kernel_start_gpa, kernel_end_gpa; /* end includes the bzImage's init_size */
	uint64_t initrd_gpa, initrd_len;           /* 0, 0 without an initrd */
};

/* Loads a bzImage (protocol >= 2.12 with XLF_KERNEL_64) or an ELF vmlinux
 * with a PVH note, the initrd (optional: initrd_path NULL) page-aligned at the
 * top of low RAM, and the command line (NULL = empty); builds the zero page or
 * hvm_start_info with the memory map. Guest RAM must start at 0 (see
 * x86_ram_ranges()). Returns 0 or -errno with a one-line message in err. */
int x86_load_kernel(const struct gmem *mem, const char *kernel_path,
		    const char *initrd_path, const char *cmdline,
		    struct x86_boot_info *out, char *err, size_t errlen);

/* The longest command line (without NUL) the kernel at kernel_path accepts:
 * a bzImage's cmdline_size, X86_PVH_CMDLINE_MAX (arch/pvh.h) for PVH.
 * 0 or -errno. */
int x86_kernel_cmdline_max(const char *kernel_path, size_t *max, char *err,
			   size_t errlen);

/* Writes the GDT and, for long mode, identity-mapped page tables (first
 * 4 GiB, 2 MiB pages) and fills the BSP's registers: long mode, RIP = entry,
 * RSI = zero page for a bzImage; 32-bit flat protected mode, paging off,
 * EBX = start_info for PVH. regs is rewritten whole; in sregs only the
 * segments, TR, GDT/IDT, CR0/CR3/CR4 and EFER are set, the rest (apic_base,
 * LDT, CR8, interrupt_bitmap) is kept, so pass in a KVM_GET_SREGS result.
 * 0, -EFAULT (low memory missing) or -EINVAL (entry above 4 GiB). */
int x86_setup_boot_regs(const struct gmem *mem, const struct x86_boot_info *bi,
			struct kvm_regs *regs, struct kvm_sregs *sregs);

/* Points the loaded kernel at the ACPI RSDP (boot_params.acpi_rsdp_addr or
 * PVH start_info.rsdp_paddr). 0 or -EFAULT. */
int x86_boot_set_rsdp(const struct gmem *mem, const struct x86_boot_info *bi,
		      uint64_t rsdp_gpa);

#endif
