/* Boot-time constants x86_setup_boot_regs() uses that the UAPI headers lack.
 * Values from the Intel SDM vol. 3 (EFER, page-table entry bits). */
#ifndef ARCH_REGS_H
#define ARCH_REGS_H

#define X86_EFER_LME (1ULL << 8)
#define X86_EFER_LMA (1ULL << 10)

#define X86_PTE_PRESENT (1ULL << 0)
#define X86_PTE_RW (1ULL << 1)
#define X86_PTE_PS (1ULL << 7) /* 2 MiB page in a PD entry */

/* Selectors of our GDT (boot.rst wants __BOOT_CS 0x10, __BOOT_DS 0x18). */
#define X86_BOOT_CS 0x10
#define X86_BOOT_DS 0x18
#define X86_BOOT_TSS 0x20
#define X86_GDT_ENTRIES 5

#endif
