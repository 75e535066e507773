/* Private to the x86 loaders: the kernel being loaded, which boot.c (the
 * dispatcher) hands to one format's handlers, bzimage.c or elf_pvh.c. Calls
 * point one way: boot.c calls the handlers, they call nothing in boot.c. */
#ifndef X86_LOADER_H
#define X86_LOADER_H

#include "memmap.h"

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

	/* Filled by the format's parse function. */
	bool pvh;
	uint64_t initrd_limit; /* initrd must end at or below this */
	size_t cmdline_max;    /* without the NUL */
	/* Filled by the format's load function. */
	uint64_t entry, start, end;
	struct setup_header hdr; /* bzImage: as read from the file */
	size_t hdr_len;          /* bytes of it the file defines */
};

/* Each format: probe (head bytes only), parse (what the command line and
 * initrd placement need: cmdline_max, initrd_limit, pvh), load (entry, start,
 * end), then its boot parameters once command line and initrd are placed. */
bool x86_bzimage_probe(const struct x86_kernel *k);
/* Validates the setup header; fills pvh, hdr, cmdline_max, initrd_limit. */
int x86_bzimage_parse(struct x86_kernel *k, char *err, size_t errlen);
/* Copies the protected-mode kernel to 1 MiB; fills entry, start, end. */
int x86_bzimage_load(const struct gmem *mem, struct x86_kernel *k, char *err,
		     size_t errlen);
int x86_bzimage_write_params(const struct gmem *mem,
			     const struct x86_kernel *k, uint64_t initrd_gpa,
			     uint64_t initrd_len, char *err, size_t errlen);

bool x86_elf_probe(const struct x86_kernel *k);
/* Fills pvh and the limits, which the PVH ABI fixes: X86_PVH_CMDLINE_MAX,
 * initrd below low RAM's end. The ELF itself is checked by the load. */
void x86_elf_pvh_parse(struct x86_kernel *k);
int x86_elf_pvh_load(const struct gmem *mem, struct x86_kernel *k, char *err,
		     size_t errlen);
int x86_pvh_write_start_info(const struct gmem *mem, uint64_t initrd_gpa,
			     uint64_t initrd_len, char *err, size_t errlen);

#endif
