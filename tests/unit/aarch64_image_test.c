/* The arm64 Image header, the placement of kernel, DTB and initrd, and the
 * loader that reads them into guest RAM (Documentation/arm64/booting.rst). */
#include <arch/boot.h>
#include <arch/layout.h>
#include <core/gmem.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

static char err[256];

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A header as Linux 6.1's head.S writes it. */
static void make_header(uint8_t h[ARM64_IMAGE_HEADER_LEN], uint64_t text_offset,
			uint64_t image_size, uint64_t flags)
{
	memset(h, 0, ARM64_IMAGE_HEADER_LEN);
	h[0] = 'M'; /* "MZ": the EFI stub's code0 */
	h[1] = 'Z';
	put_le64(h + 8, text_offset);
	put_le64(h + 16, image_size);
	put_le64(h + 24, flags);
	memcpy(h + ARM64_IMAGE_MAGIC_OFF, "ARM\x64", 4);
}

static int parse(uint64_t text_offset, uint64_t image_size, uint64_t flags,
		 uint64_t file_size, struct arm64_image *img)
{
	uint8_t h[ARM64_IMAGE_HEADER_LEN];
	make_header(h, text_offset, image_size, flags);
	return arm64_image_parse(h, sizeof(h), file_size, img, err, sizeof(err));
}

TestSuite(aarch64_image);

Test(aarch64_image, linux_6_1_header_is_accepted)
{
	struct arm64_image img;
	/* 4K pages, placement anywhere: flags 0xa as 6.1's defconfig has. */
	cr_assert_eq(parse(0, 12 * MIB, 0xa, 9 * MIB, &img), 0, "%s", err);
	cr_assert_eq(img.text_offset, 0);
	cr_assert_eq(img.image_size, 12 * MIB);
	cr_assert_eq(img.flags, 0xa);
	cr_assert_eq(img.page_kib, 4);
	cr_assert(img.anywhere);
}

Test(aarch64_image, page_size_field_is_decoded)
{
	struct arm64_image img;
	const unsigned kib[4] = { 0, 4, 16, 64 };
	for (uint64_t v = 0; v < 4; v++) {
		cr_assert_eq(parse(0, MIB, v << 1, 4096, &img), 0, "%s", err);
		cr_assert_eq(img.page_kib, kib[v]);
		cr_assert_not(img.anywhere);
	}
}

Test(aarch64_image, old_text_offset_0x80000_is_accepted)
{
	struct arm64_image img;
	cr_assert_eq(parse(0x80000, 16 * MIB, 0x2, 15 * MIB, &img), 0, "%s", err);
	cr_assert_eq(img.text_offset, 0x80000);
}

Test(aarch64_image, bad_magic_is_rejected)
{
	uint8_t h[ARM64_IMAGE_HEADER_LEN];
	struct arm64_image img;
	make_header(h, 0, MIB, 0);
	h[ARM64_IMAGE_MAGIC_OFF + 3] = 0x65;
	cr_assert_eq(arm64_image_parse(h, sizeof(h), 4096, &img, err, sizeof(err)),
		     -ENOEXEC);
	cr_assert(strstr(err, "no arm64 Image magic"), "%s", err);
}

Test(aarch64_image, gzip_image_is_named)
{
	uint8_t h[ARM64_IMAGE_HEADER_LEN] = { 0x1f, 0x8b, 0x08 };
	struct arm64_image img;
	cr_assert_eq(arm64_image_parse(h, sizeof(h), 4096, &img, err, sizeof(err)),
		     -ENOEXEC);
	cr_assert(strstr(err, "gzip"), "%s", err);
}

Test(aarch64_image, big_endian_kernel_is_rejected)
{
	struct arm64_image img;
	cr_assert_eq(parse(0, MIB, ARM64_IMAGE_FLAG_BE | 0x2, 4096, &img), -ENOEXEC);
	cr_assert(strstr(err, "big-endian"), "%s", err);
}

Test(aarch64_image, truncated_header_is_rejected)
{
	uint8_t h[ARM64_IMAGE_HEADER_LEN];
	struct arm64_image img;
	make_header(h, 0, MIB, 0);
	cr_assert_eq(arm64_image_parse(h, 63, 63, &img, err, sizeof(err)), -ENOEXEC);
	cr_assert(strstr(err, "shorter than the 64-byte"), "%s", err);
	/* A whole header in a file that claims to be shorter. */
	cr_assert_eq(arm64_image_parse(h, sizeof(h), 10, &img, err, sizeof(err)),
		     -ENOEXEC);
}

Test(aarch64_image, zero_image_size_is_rejected)
{
	struct arm64_image img;
	cr_assert_eq(parse(0x80000, 0, 0, 4096, &img), -ENOEXEC);
	cr_assert(strstr(err, "pre-3.17"), "%s", err);
}

Test(aarch64_image, image_size_smaller_than_the_file_is_rejected)
{
	struct arm64_image img;
	cr_assert_eq(parse(0, MIB, 0, MIB + 1, &img), -ENOEXEC);
	cr_assert(strstr(err, "smaller than the file"), "%s", err);
	cr_assert_eq(parse(0, MIB, 0, MIB, &img), 0, "%s", err);
}

Test(aarch64_image, text_offset_edge_cases)
{
	struct arm64_image img;
	cr_assert_eq(parse(2 * MIB - 4096, MIB, 0, 4096, &img), 0, "%s", err);
	cr_assert_eq(parse(2 * MIB, MIB, 0, 4096, &img), -ENOEXEC);
	cr_assert(strstr(err, "text_offset 0x200000"), "%s", err);
	cr_assert_eq(parse(0x80001, MIB, 0, 4096, &img), -ENOEXEC);
	cr_assert_eq(parse(UINT64_MAX, MIB, 0, 4096, &img), -ENOEXEC);
}

Test(aarch64_image, huge_image_size_is_rejected)
{
	struct arm64_image img;
	cr_assert_eq(parse(0, UINT64_MAX, 0, 4096, &img), -ENOEXEC);
	cr_assert(strstr(err, "implausibly large"), "%s", err);
	cr_assert_eq(parse(0, ARM64_RAM_MAX, 0, 4096, &img), 0, "%s", err);
}

Test(aarch64_image, reserved_flag_bits_are_ignored)
{
	struct arm64_image img;
	cr_assert_eq(parse(0, MIB, 0xfff0ULL | 0x2, 4096, &img), 0, "%s", err);
}

/* --- placement --- */

static struct arm64_image image(uint64_t text_offset, uint64_t image_size)
{
	return (struct arm64_image){ .text_offset = text_offset,
				     .image_size = image_size };
}

Test(aarch64_image, layout_puts_kernel_dtb_initrd_in_order)
{
	struct arm64_image img = image(0, 12 * MIB + 4096);
	struct arm64_boot_info bi;
	cr_assert_eq(arm64_boot_layout(&img, ARM64_RAM_BASE, 512 * MIB, 3 * MIB + 1,
				       &bi, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(bi.kernel_start_gpa, ARM64_RAM_BASE);
	cr_assert_eq(bi.entry_gpa, ARM64_RAM_BASE);
	cr_assert_eq(bi.kernel_end_gpa, ARM64_RAM_BASE + 12 * MIB + 4096);
	/* The next 2 MiB boundary past image_size, a 2 MiB block of its own. */
	cr_assert_eq(bi.dtb_gpa, ARM64_RAM_BASE + 14 * MIB);
	cr_assert_eq(bi.dtb_gpa % 8, 0);
	cr_assert_eq(bi.initrd_gpa, ARM64_RAM_BASE + 16 * MIB);
	cr_assert_eq(bi.initrd_len, 3 * MIB + 1);
}

Test(aarch64_image, layout_honours_text_offset_from_a_2mib_base)
{
	struct arm64_image img = image(0x80000, 2 * MIB - 0x80000);
	struct arm64_boot_info bi;
	/* RAM not 2 MiB aligned: the kernel's base moves up to the boundary. */
	cr_assert_eq(arm64_boot_layout(&img, ARM64_RAM_BASE + 4096, 64 * MIB, 0,
				       &bi, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(bi.kernel_start_gpa, ARM64_RAM_BASE + 2 * MIB + 0x80000);
	cr_assert_eq(bi.kernel_end_gpa, ARM64_RAM_BASE + 4 * MIB);
	cr_assert_eq(bi.dtb_gpa, ARM64_RAM_BASE + 4 * MIB);
	cr_assert_eq(bi.initrd_gpa, 0);
	cr_assert_eq(bi.initrd_len, 0);
}

Test(aarch64_image, layout_exact_fit_and_one_byte_over)
{
	struct arm64_image img = image(0, 4 * MIB);
	struct arm64_boot_info bi;
	/* kernel 4 MiB + DTB 2 MiB + initrd 2 MiB = 8 MiB of RAM exactly. */
	cr_assert_eq(arm64_boot_layout(&img, ARM64_RAM_BASE, 8 * MIB, 2 * MIB, &bi,
				       err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(bi.initrd_gpa + bi.initrd_len, ARM64_RAM_BASE + 8 * MIB);
	cr_assert_eq(arm64_boot_layout(&img, ARM64_RAM_BASE, 8 * MIB, 2 * MIB + 1,
				       &bi, err, sizeof(err)), -ENOMEM);
	cr_assert(strstr(err, "initrd:"), "%s", err);
	cr_assert_eq(bi.dtb_gpa, 0, "nothing is filled on failure");
	cr_assert_eq(arm64_boot_layout(&img, ARM64_RAM_BASE, 6 * MIB - 1, 0, &bi,
				       err, sizeof(err)), -ENOMEM);
	cr_assert(strstr(err, "device tree"), "%s", err);
}

Test(aarch64_image, layout_rejects_ram_without_a_2mib_boundary)
{
	struct arm64_image img = image(0, 4096);
	struct arm64_boot_info bi;
	cr_assert_eq(arm64_boot_layout(&img, ARM64_RAM_BASE + 4096, MIB, 0, &bi,
				       err, sizeof(err)), -ENOMEM);
	cr_assert_eq(arm64_boot_layout(&img, ARM64_RAM_BASE, 0, 0, &bi, err,
				       sizeof(err)), -EINVAL);
	cr_assert_eq(arm64_boot_layout(&img, UINT64_MAX - MIB, 2 * MIB, 0, &bi,
				       err, sizeof(err)), -EINVAL);
	/* The next 2 MiB boundary would wrap past 2^64. */
	cr_assert_eq(arm64_boot_layout(&img, UINT64_MAX - MIB + 1, MIB - 1, 0, &bi,
				       err, sizeof(err)), -ENOMEM);
}

Test(aarch64_image, layout_keeps_the_initrd_in_the_kernels_32gib_window)
{
	struct arm64_image img = image(0, 30 * GIB);
	struct arm64_boot_info bi;
	/* Kernel window starts at 2 GiB; the initrd would end past 34 GiB. */
	cr_assert_eq(arm64_boot_layout(&img, ARM64_RAM_BASE, 64 * GIB, 2 * GIB,
				       &bi, err, sizeof(err)), -ENOMEM);
	cr_assert(strstr(err, "32 GiB window"), "%s", err);
	cr_assert_eq(arm64_boot_layout(&img, ARM64_RAM_BASE, 64 * GIB, GIB, &bi,
				       err, sizeof(err)), 0, "%s", err);
}

/* --- the loader, from files into guest RAM --- */

static struct gmem mem;
static uint8_t *ram;
static char kpath[64], ipath[64];

static void load_init(void)
{
	ram = calloc(1, 64 * MIB);
	cr_assert(ram);
	cr_assert_eq(gmem_init_external(&mem, ARM64_RAM_BASE, ram, 64 * MIB), 0);
	kpath[0] = ipath[0] = 0;
}

static void load_fini(void)
{
	gmem_destroy(&mem);
	free(ram);
	if (kpath[0])
		unlink(kpath);
	if (ipath[0])
		unlink(ipath);
}

static void save(char *path, const void *data, size_t len)
{
	strcpy(path, "/tmp/mvmm-a64img.XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* A kernel file: the header, then a byte pattern up to file_size. */
static void save_kernel(uint64_t text_offset, uint64_t image_size, size_t file_size)
{
	uint8_t *k = malloc(file_size);
	cr_assert(k);
	for (size_t i = 0; i < file_size; i++)
		k[i] = (uint8_t)(i * 7 + 3);
	if (file_size >= ARM64_IMAGE_HEADER_LEN)
		make_header(k, text_offset, image_size, 0xa);
	save(kpath, k, file_size);
	free(k);
}

TestSuite(aarch64_load, .init = load_init, .fini = load_fini);

Test(aarch64_load, kernel_and_initrd_land_where_the_layout_says)
{
	struct arm64_boot_info bi;
	uint8_t initrd[5000];
	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i ^ 0x5a);
	save_kernel(0x80000, 3 * MIB, 100000);
	save(ipath, initrd, sizeof(initrd));

	cr_assert_eq(arm64_load_kernel(&mem, ARM64_RAM_BASE, kpath, ipath, &bi, err,
				       sizeof(err)), 0, "%s", err);
	cr_assert_eq(bi.kernel_start_gpa, ARM64_RAM_BASE + 0x80000);
	cr_assert_eq(bi.kernel_end_gpa, ARM64_RAM_BASE + 0x80000 + 3 * MIB);
	cr_assert_eq(bi.dtb_gpa, ARM64_RAM_BASE + 4 * MIB);
	cr_assert_eq(bi.initrd_gpa, ARM64_RAM_BASE + 6 * MIB);
	cr_assert_eq(bi.initrd_len, sizeof(initrd));

	const uint8_t *k = gmem_ptr(&mem, bi.kernel_start_gpa, 100000);
	cr_assert_eq(memcmp(k + 56, "ARM\x64", 4), 0);
	for (size_t i = ARM64_IMAGE_HEADER_LEN; i < 100000; i++)
		cr_assert_eq(k[i], (uint8_t)(i * 7 + 3), "kernel byte %zu", i);
	cr_assert_eq(memcmp(gmem_ptr(&mem, bi.initrd_gpa, sizeof(initrd)), initrd,
			    sizeof(initrd)), 0);
	/* Nothing before the kernel was written. */
	cr_assert_eq(ram[0x7ffff], 0);
}

Test(aarch64_load, no_initrd)
{
	struct arm64_boot_info bi;
	save_kernel(0, MIB, 4096);
	cr_assert_eq(arm64_load_kernel(&mem, ARM64_RAM_BASE, kpath, NULL, &bi, err,
				       sizeof(err)), 0, "%s", err);
	cr_assert_eq(bi.initrd_gpa, 0);
	cr_assert_eq(bi.initrd_len, 0);
	cr_assert_eq(bi.dtb_gpa, ARM64_RAM_BASE + 2 * MIB);
}

Test(aarch64_load, truncated_kernel_file_is_rejected)
{
	struct arm64_boot_info bi;
	save_kernel(0, MIB, 40);
	cr_assert_eq(arm64_load_kernel(&mem, ARM64_RAM_BASE, kpath, NULL, &bi, err,
				       sizeof(err)), -ENOEXEC);
	cr_assert(strstr(err, "shorter than the 64-byte"), "%s", err);
}

Test(aarch64_load, initrd_too_big_for_ram_is_rejected)
{
	struct arm64_boot_info bi;
	save_kernel(0, 62 * MIB, 4096); /* the DTB block ends RAM */
	save(ipath, "0123456789", 10);
	cr_assert_eq(arm64_load_kernel(&mem, ARM64_RAM_BASE, kpath, ipath, &bi, err,
				       sizeof(err)), -ENOMEM);
	cr_assert(strstr(err, "initrd: 10 bytes do not fit"), "%s", err);
	cr_assert_eq(bi.entry_gpa, 0);
}

Test(aarch64_load, missing_files_are_named)
{
	struct arm64_boot_info bi;
	cr_assert_eq(arm64_load_kernel(&mem, ARM64_RAM_BASE, "/nonexistent/Image",
				       NULL, &bi, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "kernel: cannot open /nonexistent/Image"), "%s", err);
	save_kernel(0, MIB, 4096);
	cr_assert_eq(arm64_load_kernel(&mem, ARM64_RAM_BASE, kpath, "/nonexistent/i",
				       &bi, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "initrd: cannot open /nonexistent/i"), "%s", err);
}

Test(aarch64_load, ram_gpa_without_ram_is_rejected)
{
	struct arm64_boot_info bi;
	cr_assert_eq(arm64_load_kernel(&mem, 0x40000000, "/nonexistent", NULL, &bi,
				       err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "no guest RAM at 0x40000000"), "%s", err);
}

Test(aarch64_load, real_guest_image_when_built)
{
	const char *path = "build/guest-arm64/Image";
	struct arm64_boot_info bi;
	if (access(path, R_OK))
		cr_skip_test("%s not built (make guest-arm64)", path);
	gmem_destroy(&mem);
	free(ram);
	ram = calloc(1, 128 * MIB);
	cr_assert(ram);
	cr_assert_eq(gmem_init_external(&mem, ARM64_RAM_BASE, ram, 128 * MIB), 0);
	cr_assert_eq(arm64_load_kernel(&mem, ARM64_RAM_BASE, path, NULL, &bi, err,
				       sizeof(err)), 0, "%s", err);
	cr_assert_eq(bi.entry_gpa, ARM64_RAM_BASE, "6.1 has text_offset 0");
	cr_assert_eq(bi.dtb_gpa % (2 * MIB), 0);
	cr_assert_gt(bi.kernel_end_gpa, bi.kernel_start_gpa);
}
