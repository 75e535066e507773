/* bzImage loading through the 64-bit boot protocol: load address, entry,
 * zero page, e820, initrd placement and every header check. */
#include "fakes/x86_images.h"

#include <arch/boot.h>
#include <arch/layout.h>

#include <asm/e820.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#define MIB (1ULL << 20)
#define PM_LEN 8192
#define INIT_SIZE (8 * MIB)

static struct gmem mem;
static struct x86img kernel, initrd;
static struct x86_boot_info bi;
static char err[256];

static void fini(void)
{
	gmem_destroy(&mem);
	x86img_free(&kernel);
	x86img_free(&initrd);
}

TestSuite(x86_bzimage, .fini = fini);

static int load(uint64_t mem_bytes, const char *initrd_path,
		const char *cmdline)
{
	x86img_gmem(&mem, mem_bytes);
	x86img_save(&kernel);
	err[0] = 0;
	return x86_load_kernel(&mem, kernel.path, initrd_path, cmdline, &bi,
			       err, sizeof(err));
}

static struct boot_params zero_page(void)
{
	struct boot_params bp;
	cr_assert_eq(gmem_read(&mem, bi.boot_params_gpa, &bp, sizeof(bp)), 0);
	return bp;
}

static void make_initrd(size_t len)
{
	uint8_t *d = malloc(len);
	cr_assert_not_null(d);
	for (size_t i = 0; i < len; i++)
		d[i] = (uint8_t)(0xa5 ^ i);
	x86img_save_bytes(&initrd, d, len);
	free(d);
}

Test(x86_bzimage, loads_protected_mode_kernel_at_1mib_entering_at_0x200)
{
	x86img_bzimage(&kernel, PM_LEN, INIT_SIZE);
	cr_assert_eq(load(256 * MIB, NULL, "console=ttyS0"), 0, "%s", err);
	cr_assert_not(bi.pvh);
	cr_assert_eq(bi.entry_gpa, 0x100200);
	cr_assert_eq(bi.boot_params_gpa, X86_ZERO_PAGE_GPA);
	cr_assert_eq(bi.kernel_start_gpa, 0x100000);
	/* decompression needs init_size bytes from pref_address */
	cr_assert_eq(bi.kernel_end_gpa, x86img_hdr(&kernel)->pref_address + INIT_SIZE);
	const uint8_t *k = gmem_ptr(&mem, 0x100000, PM_LEN);
	for (size_t i = 0; i < PM_LEN; i++)
		cr_assert_eq(k[i], x86img_pattern(i), "byte %zu", i);
}

Test(x86_bzimage, zero_page_carries_header_loader_fields_and_cmdline)
{
	x86img_bzimage(&kernel, PM_LEN, INIT_SIZE);
	cr_assert_eq(load(256 * MIB, NULL, "console=ttyS0 quiet"), 0, "%s", err);
	struct boot_params bp = zero_page();
	cr_assert_eq(bp.hdr.header, 0x53726448);
	cr_assert_eq(bp.hdr.version, 0x020f);
	cr_assert_eq(bp.hdr.xloadflags, x86img_hdr(&kernel)->xloadflags);
	cr_assert_eq(bp.hdr.type_of_loader, 0xff);
	cr_assert(bp.hdr.loadflags & CAN_USE_HEAP);
	cr_assert(bp.hdr.loadflags & LOADED_HIGH);
	cr_assert_neq(bp.hdr.heap_end_ptr, 0);
	cr_assert_eq(bp.hdr.cmd_line_ptr, X86_CMDLINE_GPA);
	cr_assert_eq(bp.ext_cmd_line_ptr, 0);
	cr_assert_eq(bp.hdr.ramdisk_image, 0);
	cr_assert_eq(bp.hdr.ramdisk_size, 0);
	cr_assert_str_eq((const char *)gmem_ptr(&mem, X86_CMDLINE_GPA, 20),
			 "console=ttyS0 quiet");
}

Test(x86_bzimage, e820_for_256mib_has_low_ram_ebda_hole_and_high_ram)
{
	x86img_bzimage(&kernel, PM_LEN, INIT_SIZE);
	cr_assert_eq(load(256 * MIB, NULL, NULL), 0, "%s", err);
	struct boot_params bp = zero_page();
	cr_assert_eq(bp.e820_entries, 3);
	cr_assert_eq(bp.e820_table[0].addr, 0);
	cr_assert_eq(bp.e820_table[0].size, 0x9fc00);
	cr_assert_eq(bp.e820_table[0].type, E820_RAM);
	cr_assert_eq(bp.e820_table[1].addr, 0x9fc00);
	cr_assert_eq(bp.e820_table[1].size, 0x100000 - 0x9fc00);
	cr_assert_eq(bp.e820_table[1].type, E820_RESERVED);
	cr_assert_eq(bp.e820_table[2].addr, 0x100000);
	cr_assert_eq(bp.e820_table[2].size, 256 * MIB - 0x100000);
	cr_assert_eq(bp.e820_table[2].type, E820_RAM);
	cr_assert_str_eq((const char *)gmem_ptr(&mem, X86_CMDLINE_GPA, 1), "");
}

Test(x86_bzimage, e820_above_4gib_skips_the_mmio_hole)
{
	x86img_bzimage(&kernel, PM_LEN, INIT_SIZE);
	cr_assert_eq(load(5ULL << 30, NULL, NULL), 0, "%s", err);
	struct boot_params bp = zero_page();
	cr_assert_eq(bp.e820_entries, 4);
	cr_assert_eq(bp.e820_table[2].addr, 0x100000);
	cr_assert_eq(bp.e820_table[2].size, X86_RAM_HOLE_START - 0x100000);
	cr_assert_eq(bp.e820_table[3].addr, 1ULL << 32);
	cr_assert_eq(bp.e820_table[3].size, (5ULL << 30) - X86_RAM_HOLE_START);
	cr_assert_eq(bp.e820_table[3].type, E820_RAM);
	for (unsigned i = 0; i < bp.e820_entries; i++)
		cr_assert(bp.e820_table[i].addr + bp.e820_table[i].size <= X86_MMIO_START ||
			  bp.e820_table[i].addr >= 1ULL << 32, "entry %u covers the hole", i);
}

Test(x86_bzimage, initrd_goes_page_aligned_to_the_top_of_low_ram)
{
	const size_t len = 3 * 4096 + 123;
	x86img_bzimage(&kernel, PM_LEN, INIT_SIZE);
	make_initrd(len);
	cr_assert_eq(load(256 * MIB, initrd.path, NULL), 0, "%s", err);
	uint64_t want = (256 * MIB - len) & ~4095ULL;
	cr_assert_eq(bi.initrd_gpa, want);
	cr_assert_eq(bi.initrd_len, len);
	const uint8_t *p = gmem_ptr(&mem, want, len);
	for (size_t i = 0; i < len; i++)
		cr_assert_eq(p[i], (uint8_t)(0xa5 ^ i));
	struct boot_params bp = zero_page();
	cr_assert_eq(bp.hdr.ramdisk_image, want);
	cr_assert_eq(bp.hdr.ramdisk_size, len);
	cr_assert_eq(bp.ext_ramdisk_image, 0);
}

Test(x86_bzimage, initrd_respects_initrd_addr_max)
{
	x86img_bzimage(&kernel, PM_LEN, INIT_SIZE);
	x86img_hdr(&kernel)->initrd_addr_max = 64 * MIB - 1;
	make_initrd(10000);
	cr_assert_eq(load(256 * MIB, initrd.path, NULL), 0, "%s", err);
	cr_assert_eq(bi.initrd_gpa, (64 * MIB - 10000) & ~4095ULL);
}

Test(x86_bzimage, initrd_that_does_not_fit_above_the_kernel_is_rejected)
{
	/* 16 MiB + 100 MiB of kernel footprint leaves < 16 MiB under 128 MiB */
	x86img_bzimage(&kernel, PM_LEN, 100 * MIB);
	make_initrd(16 * MIB);
	cr_assert_eq(load(128 * MIB, initrd.path, NULL), -ENOMEM);
	cr_assert(strstr(err, "initrd: does not fit below 0x8000000"), "%s", err);
}

Test(x86_bzimage, empty_initrd_is_rejected)
{
	x86img_bzimage(&kernel, PM_LEN, INIT_SIZE);
	x86img_save_bytes(&initrd, "", 0);
	cr_assert_eq(load(256 * MIB, initrd.path, NULL), -EINVAL);
	cr_assert(strstr(err, "initrd:"), "%s", err);
}

Test(x86_bzimage, kernel_larger_than_low_ram_is_rejected)
{
	x86img_bzimage(&kernel, PM_LEN, 300 * MIB);
	cr_assert_eq(load(256 * MIB, NULL, NULL), -ENOMEM);
	cr_assert(strstr(err, "kernel: needs RAM up to"), "%s", err);
}

Test(x86_bzimage, rejects_protocol_older_than_2_12)
{
	x86img_bzimage(&kernel, PM_LEN, INIT_SIZE);
	x86img_hdr(&kernel)->version = 0x020b;
	cr_assert_eq(load(256 * MIB, NULL, NULL), -ENOEXEC);
	cr_assert(strstr(err, "boot protocol 2.11 too old"), "%s", err);
}

Test(x86_bzimage, rejects_kernel_without_64bit_entry)
{
	x86img_bzimage(&kernel, PM_LEN, INIT_SIZE);
	x86img_hdr(&kernel)->xloadflags &= ~XLF_KERNEL_64;
	cr_assert_eq(load(256 * MIB, NULL, NULL), -ENOEXEC);
	cr_assert(strstr(err, "XLF_KERNEL_64"), "%s", err);
}

Test(x86_bzimage, rejects_bad_boot_flag)
{
	x86img_bzimage(&kernel, PM_LEN, INIT_SIZE);
	x86img_hdr(&kernel)->boot_flag = 0x1234;
	cr_assert_eq(load(256 * MIB, NULL, NULL), -ENOEXEC);
	cr_assert(strstr(err, "boot_flag"), "%s", err);
}

Test(x86_bzimage, rejects_kernel_truncated_before_its_syssize)
{
	x86img_bzimage(&kernel, PM_LEN, INIT_SIZE);
	kernel.len -= 4096;
	cr_assert_eq(load(256 * MIB, NULL, NULL), -ENOEXEC);
	cr_assert(strstr(err, "kernel: truncated bzImage"), "%s", err);
}

Test(x86_bzimage, rejects_file_ending_inside_the_setup_code)
{
	x86img_bzimage(&kernel, PM_LEN, INIT_SIZE);
	kernel.len = X86IMG_SETUP_BYTES - 100;
	cr_assert_eq(load(256 * MIB, NULL, NULL), -ENOEXEC);
	cr_assert(strstr(err, "kernel: truncated bzImage"), "%s", err);
}

Test(x86_bzimage, rejects_header_whose_jump_runs_past_the_file)
{
	x86img_bzimage(&kernel, PM_LEN, INIT_SIZE);
	kernel.len = 0x210; /* "HdrS" present, header end (0x26c) missing */
	cr_assert_eq(load(256 * MIB, NULL, NULL), -ENOEXEC);
	cr_assert(strstr(err, "truncated bzImage setup header"), "%s", err);
}

Test(x86_bzimage, cmdline_longer_than_cmdline_size_is_rejected)
{
	char line[300];
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = 0;
	x86img_bzimage(&kernel, PM_LEN, INIT_SIZE);
	x86img_hdr(&kernel)->cmdline_size = sizeof(line) - 2;
	cr_assert_eq(load(256 * MIB, NULL, line), -E2BIG);
	cr_assert(strstr(err, "cmdline: 299 bytes, the kernel accepts at most 298"), "%s", err);
}

Test(x86_bzimage, cmdline_of_exactly_cmdline_size_is_accepted)
{
	char line[300];
	memset(line, 'y', sizeof(line) - 1);
	line[sizeof(line) - 1] = 0;
	x86img_bzimage(&kernel, PM_LEN, INIT_SIZE);
	x86img_hdr(&kernel)->cmdline_size = sizeof(line) - 1;
	cr_assert_eq(load(256 * MIB, NULL, line), 0, "%s", err);
	cr_assert_str_eq((const char *)gmem_ptr(&mem, X86_CMDLINE_GPA, sizeof(line)), line);
}

Test(x86_bzimage, cmdline_max_reports_cmdline_size)
{
	size_t max = 0;
	x86img_bzimage(&kernel, PM_LEN, INIT_SIZE);
	x86img_hdr(&kernel)->cmdline_size = 1234;
	x86img_save(&kernel);
	cr_assert_eq(x86_kernel_cmdline_max(kernel.path, &max, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(max, 1234);
}

Test(x86_bzimage, rejects_header_shorter_than_its_protocol_defines)
{
	x86img_bzimage(&kernel, PM_LEN, INIT_SIZE);
	kernel.data[0x201] = 0x20; /* header would end at 0x222, before cmdline_size */
	cr_assert_eq(load(256 * MIB, NULL, NULL), -ENOEXEC);
	cr_assert(strstr(err, "setup header too short"), "%s", err);
}
