/* Private to the x86 loaders: the state shared by boot.c, bzimage.c, elf_pvh.c
 * and e820.c while one kernel is loaded. */
#ifndef X86_LOADER_H
#define X86_LOADER_H

#include <core/gmem.h>

#include <asm/bootparam.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes read from the start of the kernel file to tell formats apart; covers
 * the bzImage setup header (its end is at most 0x202 + 0xff) and an ELF header. */
#define X86_KERNEL_HEAD_LEN 1024

struct x86_kernel {
	int fd;
	uint64_t file_size;
	uint8_t head[X86_KERNEL_HEAD_LEN];
	size_t head_len;
	uint64_t low_ram_end; /* end of the RAM region at gpa 0 */

	/* Filled by the format's load function. */
	bool pvh;
	uint64_t entry, start, end;
	uint64_t initrd_limit; /* initrd must end at or below this */
	size_t cmdline_max;    /* without the NUL */
	struct setup_header hdr; /* bzImage: as read from the file */
	size_t hdr_len;          /* bytes of it the file defines */
};

struct x86_mem_entry {
	uint64_t addr, size;
	uint32_t type; /* E820_RAM / E820_RESERVED (same values as PVH's) */
};
#define X86_MEMMAP_MAX (GMEM_MAX_REGIONS + 2)

/* RAM map of mem: [0,EBDA) RAM, [EBDA,1MiB) reserved, [1MiB,..) RAM, then each
 * further region. Returns the count, or -EINVAL when RAM does not start at 0
 * and reach past 1 MiB. */
int x86_memmap(const struct gmem *mem, struct x86_mem_entry *map, unsigned max);
/* End of the RAM region starting at gpa 0, or 0 if there is none. */
uint64_t x86_low_ram_end(const struct gmem *mem);

/* pread() exactly len bytes; -EIO on a short file. */
int x86_pread_full(int fd, void *dst, size_t len, uint64_t off);
/* Formats a message into err (may be NULL) and returns code. */
int x86_fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

bool x86_bzimage_probe(const struct x86_kernel *k);
/* Validates the setup header; fills hdr, cmdline_max, initrd_limit. */
int x86_bzimage_parse(struct x86_kernel *k, char *err, size_t errlen);
/* Copies the protected-mode kernel to 1 MiB; fills entry, start, end. */
int x86_bzimage_load(const struct gmem *mem, struct x86_kernel *k, char *err,
		     size_t errlen);
int x86_bzimage_write_params(const struct gmem *mem,
			     const struct x86_kernel *k, uint64_t initrd_gpa,
			     uint64_t initrd_len, char *err, size_t errlen);

bool x86_elf_probe(const struct x86_kernel *k);
int x86_elf_pvh_load(const struct gmem *mem, struct x86_kernel *k, char *err,
		     size_t errlen);
int x86_pvh_write_start_info(const struct gmem *mem, uint64_t initrd_gpa,
			     uint64_t initrd_len, char *err, size_t errlen);

#endif
