/* bzImage via Linux's 64-bit boot protocol (Documentation/x86/boot.rst):
 * the protected-mode kernel goes to 1 MiB, entry is its start + 0x200 in long
 * mode with RSI = zero page. */
#include "loader.h"

#include <arch/layout.h>
#include <core/checked.h>
#include <core/err.h>
#include <core/io.h>

#include <asm/e820.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#define SETUP_HDR_OFF 0x1f1 /* offsetof(struct boot_params, hdr) */
#define BOOT_FLAG 0xaa55
#define HDRS_MAGIC 0x53726448 /* "HdrS" */
#define MIN_PROTOCOL 0x020c   /* 2.12: xloadflags, XLF_KERNEL_64 */
#define ENTRY64_OFF 0x200
#define HEAP_END 0xe000 /* boot.rst's example for a loader using the heap */

_Static_assert(offsetof(struct boot_params, hdr) == SETUP_HDR_OFF,
	       "setup header offset");

static uint32_t le32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

bool x86_bzimage_probe(const struct x86_kernel *k)
{
	return k->head_len >= 0x206 && le32_at(k->head + 0x202) == HDRS_MAGIC;
}

int x86_bzimage_parse(struct x86_kernel *k, char *err, size_t errlen)
{
	/* The header ends at 0x202 + the jump offset byte at 0x201. */
	size_t end = 0x202 + k->head[0x201];
	struct setup_header *h = &k->hdr;

	if (end > k->head_len)
		return err_set(err, errlen, -ENOEXEC,
			       "kernel: truncated bzImage setup header");
	memset(h, 0, sizeof(*h));
	k->hdr_len = MIN(end - SETUP_HDR_OFF, sizeof(*h));
	memcpy(h, k->head + SETUP_HDR_OFF, k->hdr_len);
	if (h->boot_flag != BOOT_FLAG)
		return err_set(err, errlen, -ENOEXEC,
			       "kernel: bzImage boot_flag is 0x%x, not 0xaa55",
			       h->boot_flag);
	if (h->version < MIN_PROTOCOL)
		return err_set(err, errlen, -ENOEXEC,
			       "kernel: boot protocol %u.%02u too old, need 2.12",
			       h->version >> 8, h->version & 0xff);
	/* 2.12 defines every field up to cmdline_size. */
	if (k->hdr_len < offsetof(struct setup_header, cmdline_size) + 4)
		return err_set(err, errlen, -ENOEXEC,
			       "kernel: setup header too short for its protocol");
	if (!(h->loadflags & LOADED_HIGH))
		return err_set(err, errlen, -ENOEXEC,
			       "kernel: zImage (not loaded high) unsupported");
	if (!(h->xloadflags & XLF_KERNEL_64))
		return err_set(err, errlen, -ENOEXEC,
			       "kernel: bzImage has no 64-bit entry (XLF_KERNEL_64)");
	k->pvh = false;
	k->cmdline_max = h->cmdline_size;
	/* initrd_addr_max is the highest address the initrd may occupy. */
	k->initrd_limit = (uint64_t)h->initrd_addr_max + 1;
	return 0;
}

int x86_bzimage_load(const struct gmem *mem, struct x86_kernel *k, char *err,
		     size_t errlen)
{
	const struct setup_header *h = &k->hdr;
	uint64_t setup_bytes = ((uint64_t)(h->setup_sects ? h->setup_sects : 4) + 1) * 512;

	if (k->file_size <= setup_bytes + ENTRY64_OFF)
		return err_set(err, errlen, -ENOEXEC,
			       "kernel: truncated bzImage (%llu bytes, setup alone is %llu)",
			       (unsigned long long)k->file_size,
			       (unsigned long long)setup_bytes);
	uint64_t pm_bytes = k->file_size - setup_bytes;
	/* syssize counts 16-byte paragraphs, rounded up by the kernel build. */
	if ((uint64_t)h->syssize * 16 > pm_bytes + 15)
		return err_set(err, errlen, -ENOEXEC,
			       "kernel: truncated bzImage (%llu kernel bytes, header says %llu)",
			       (unsigned long long)pm_bytes,
			       (unsigned long long)h->syssize * 16);

	/* The kernel decompresses itself to pref_address (or its load address)
	 * and needs init_size bytes there before it reads the e820 map. */
	uint64_t run_at = MAX((uint64_t)X86_KERNEL_LOAD_GPA, h->pref_address);
	uint64_t end = X86_KERNEL_LOAD_GPA + pm_bytes, run_end;
	if (__builtin_add_overflow(run_at, (uint64_t)h->init_size, &run_end))
		run_end = UINT64_MAX;
	end = MAX(end, run_end);
	if (end > k->low_ram_end)
		return err_set(err, errlen, -ENOMEM,
			       "kernel: needs RAM up to 0x%llx, low RAM ends at 0x%llx",
			       (unsigned long long)end,
			       (unsigned long long)k->low_ram_end);

	void *dst = gmem_ptr(mem, X86_KERNEL_LOAD_GPA, pm_bytes);
	int ret = dst ? io_pread_full(k->fd, dst, pm_bytes, setup_bytes) : -EFAULT;
	if (ret)
		return err_set(err, errlen, ret, "kernel: cannot read bzImage: %s",
			       strerror(-ret));
	k->entry = X86_KERNEL_LOAD_GPA + ENTRY64_OFF;
	k->start = X86_KERNEL_LOAD_GPA;
	k->end = end;
	return 0;
}

int x86_bzimage_write_params(const struct gmem *mem,
			     const struct x86_kernel *k, uint64_t initrd_gpa,
			     uint64_t initrd_len, char *err, size_t errlen)
{
	struct x86_mem_entry map[X86_MEMMAP_MAX];
	struct boot_params bp;
	int n = x86_memmap(mem, map, X86_MEMMAP_MAX);

	if (n < 0)
		return err_set(err, errlen, n, "memory: cannot build the e820 map");
	memset(&bp, 0, sizeof(bp));
	/* Only the bytes the file defines; the rest stays zero (boot.rst). */
	memcpy(&bp.hdr, &k->hdr, k->hdr_len);
	bp.hdr.type_of_loader = 0xff; /* undefined loader */
	bp.hdr.loadflags |= CAN_USE_HEAP;
	bp.hdr.heap_end_ptr = HEAP_END - 0x200;
	bp.hdr.cmd_line_ptr = (uint32_t)X86_CMDLINE_GPA;
	bp.ext_cmd_line_ptr = (uint32_t)(X86_CMDLINE_GPA >> 32);
	bp.hdr.ramdisk_image = (uint32_t)initrd_gpa;
	bp.ext_ramdisk_image = (uint32_t)(initrd_gpa >> 32);
	bp.hdr.ramdisk_size = (uint32_t)initrd_len;
	bp.ext_ramdisk_size = (uint32_t)(initrd_len >> 32);
	for (int i = 0; i < n; i++) {
		bp.e820_table[i].addr = map[i].addr;
		bp.e820_table[i].size = map[i].size;
		bp.e820_table[i].type = map[i].type;
	}
	bp.e820_entries = (uint8_t)n;
	if (gmem_write(mem, X86_ZERO_PAGE_GPA, &bp, sizeof(bp)))
		return err_set(err, errlen, -EFAULT,
			       "boot_params: 0x%llx is not guest RAM",
			       (unsigned long long)X86_ZERO_PAGE_GPA);
	return 0;
}
