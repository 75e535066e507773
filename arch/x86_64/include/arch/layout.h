/* The fixed x86 guest-physical layout, documented in one place.
 *
 *   0x00000500  GDT (x86_setup_boot_regs)
 *   0x00006000  PVH hvm_start_info, then its module list and memory map
 *   0x00007000  zero page (struct boot_params) for the 64-bit boot protocol
 *   0x00008ff0  initial stack pointer
 *   0x00009000  identity page tables: PML4, PDPT, 4 PDs (first 4 GiB, 2 MiB pages)
 *   0x00020000  kernel command line (X86_CMDLINE_SIZE bytes reserved)
 *   0x0009fc00  MP floating pointer + config table (reserved up to 1 MiB; the
 *               table ends below the ACPI tables, arch/mptable.h)
 *   0x000e0000  ACPI RSDP, XSDT, FACS, FADT, DSDT, MADT (arch/acpi.h)
 *   0x00100000  bzImage protected-mode kernel; ELF segments go to their p_paddr
 *   top of low RAM  initrd, page aligned
 *   0xc0000000  start of the 32-bit hole: RAM beyond it moves to 4 GiB
 *   0xd0000000  virtio-mmio devices, 4 KiB apart
 *   0xfec00000  IOAPIC, 0xfee00000  local APIC
 */
#ifndef ARCH_LAYOUT_H
#define ARCH_LAYOUT_H

#include <stdint.h>

#define X86_GDT_GPA 0x500ULL
#define X86_PVH_INFO_GPA 0x6000ULL
#define X86_PVH_MODLIST_GPA 0x6040ULL
#define X86_PVH_MEMMAP_GPA 0x6080ULL
#define X86_ZERO_PAGE_GPA 0x7000ULL
#define X86_BOOT_STACK_GPA 0x8ff0ULL
#define X86_PML4_GPA 0x9000ULL
#define X86_PDPT_GPA 0xa000ULL
#define X86_PD_GPA 0xb000ULL /* 4 pages */
#define X86_CMDLINE_GPA 0x20000ULL
#define X86_CMDLINE_SIZE 0x10000ULL
#define X86_EBDA_START 0x9fc00ULL /* low RAM ends here in e820 */
#define X86_MPTABLE_GPA X86_EBDA_START
#define X86_HIGH_MEM_START 0x100000ULL /* 1 MiB */
#define X86_KERNEL_LOAD_GPA X86_HIGH_MEM_START

#define X86_RAM_HOLE_START 0xc0000000ULL
#define X86_MMIO_START 0xd0000000ULL
#define X86_MMIO_SLOT_SIZE 0x1000ULL
#define X86_IOAPIC_BASE 0xfec00000ULL
#define X86_LAPIC_BASE 0xfee00000ULL
#define X86_4GIB 0x100000000ULL

/* xAPIC ids are 8 bits and the IOAPIC takes id nr_vcpus (0xff is broadcast). */
#define X86_MAX_VCPUS 254

/* Fills up to 2 [gpa, len] ranges of RAM for mem_bytes: low RAM up to the
 * hole, the rest from 4 GiB. Returns the count (0 when mem_bytes is 0). */
unsigned x86_ram_ranges(uint64_t mem_bytes, uint64_t ranges[2][2]);

#endif
