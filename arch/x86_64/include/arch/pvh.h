/* The Xen PVH boot ABI, which the kernel UAPI headers do not carry.
 * Source: Xen's docs/misc/pvh.pandoc and public/arch-x86/hvm/start_info.h
 * (start_info version 1), public/elfnote.h for the note type. */
#ifndef ARCH_PVH_H
#define ARCH_PVH_H

#include <stdint.h>

#define XEN_ELFNOTE_PHYS32_ENTRY 18 /* in an ELF note named "Xen" */
#define XEN_HVM_START_MAGIC_VALUE 0x336ec578U

/* Linux's x86 COMMAND_LINE_SIZE minus the NUL: the PVH limit (PVH kernels
 * carry no cmdline_size field). */
#define X86_PVH_CMDLINE_MAX 2047

#define XEN_HVM_MEMMAP_TYPE_RAM 1
#define XEN_HVM_MEMMAP_TYPE_RESERVED 2

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;   /* version >= 1 */
	uint32_t memmap_entries; /* version >= 1 */
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "PVH start_info v1 size");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "PVH modlist entry");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "PVH memmap entry");

#endif
