/* Kernel loading for arm64 (Documentation/arm64/booting.rst): the Image
 * header, where the kernel, DTB and initrd go in guest RAM, and the loader
 * that puts them there. Only guest memory is touched, through <core/gmem.h>;
 * no KVM fd here. Threads: called once by the VMM before vCPUs start.
 *
 * The order a VMM follows: arm64_load_kernel() (kernel + initrd), then
 * arm64_fdt_write() at dtb_gpa with the initrd range (arch/fdt.h), then
 * arm64_boot_regs() for the boot vCPU (arch/regs.h). */
#ifndef ARCH_BOOT_H
#define ARCH_BOOT_H

#include <core/gmem.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The 64-byte header at the start of an uncompressed Image. */
#define ARM64_IMAGE_HEADER_LEN 64
#define ARM64_IMAGE_MAGIC 0x644d5241U /* "ARM\x64", little endian */
#define ARM64_IMAGE_MAGIC_OFF 56
#define ARM64_IMAGE_FLAG_BE (1ULL << 0)
#define ARM64_IMAGE_FLAG_PAGE_SHIFT 1 /* 2 bits: 0 unspecified, 4K, 16K, 64K */
#define ARM64_IMAGE_FLAG_ANYWHERE (1ULL << 3) /* may sit anywhere in RAM */

/* The kernel's base must be 2 MiB aligned; text_offset is added to it. */
#define ARM64_KERNEL_ALIGN 0x200000ULL
/* booting.rst: the DTB is 8-byte aligned and at most 2 MiB; it gets a 2 MiB
 * block of its own, since the kernel maps it with blocks up to 2 MiB. */
#define ARM64_FDT_MAX_SIZE 0x200000ULL
#define ARM64_FDT_ALIGN 8
/* booting.rst: the initrd and the kernel share one 1 GiB aligned window of
 * at most 32 GiB. */
#define ARM64_INITRD_WINDOW_ALIGN (1ULL << 30)
#define ARM64_INITRD_WINDOW_MAX (32ULL << 30)

struct arm64_image {
	uint64_t text_offset;
	uint64_t image_size; /* bytes from the load address the kernel owns */
	uint64_t flags;
	unsigned page_kib;   /* 4, 16, 64, or 0 when the header does not say */
	bool anywhere;       /* flags bit 3: any 2 MiB aligned base works */
};

/* Validates the header in head (the first head_len bytes of a file of
 * file_size bytes): magic, little endian, text_offset below 2 MiB and page
 * aligned, a non-zero image_size that covers the file. 0, or -ENOEXEC with a
 * one-line message in err. */
int arm64_image_parse(const void *head, size_t head_len, uint64_t file_size,
		      struct arm64_image *img, char *err, size_t errlen);

struct arm64_boot_info {
	uint64_t entry_gpa;                /* = kernel_start_gpa */
	uint64_t kernel_start_gpa, kernel_end_gpa; /* end = start + image_size */
	uint64_t dtb_gpa;                  /* start of the 2 MiB DTB block */
	uint64_t initrd_gpa, initrd_len;   /* 0, 0 without an initrd */
};

/* Where everything goes in RAM [ram_gpa, ram_gpa + ram_len): the kernel at
 * the first 2 MiB boundary + text_offset, the DTB block at the next 2 MiB
 * boundary past image_size, the initrd (initrd_len bytes, 0 for none) right
 * after the DTB block. Fills out; 0 or -ENOMEM (does not fit) / -EINVAL
 * with a message in err. Pure: no memory is touched. */
int arm64_boot_layout(const struct arm64_image *img, uint64_t ram_gpa,
		      uint64_t ram_len, uint64_t initrd_len,
		      struct arm64_boot_info *out, char *err, size_t errlen);

/* Loads an uncompressed Image from kernel_path and the initrd (optional:
 * initrd_path NULL) into the RAM region of mem that holds ram_gpa, as
 * arm64_boot_layout() places them. 0 or -errno with a message in err. */
int arm64_load_kernel(const struct gmem *mem, uint64_t ram_gpa,
		      const char *kernel_path, const char *initrd_path,
		      struct arm64_boot_info *out, char *err, size_t errlen);

#endif
