/* Format detection and the checks common to both loaders, plus the real
 * guest kernels when build/guest has them. */
#include "fakes/x86_images.h"

#include <arch/boot.h>
#include <arch/layout.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (1ULL << 20)

static struct gmem mem;
static struct x86img kernel;
static struct x86_boot_info bi;
static char err[256];

static void fini(void)
{
	gmem_destroy(&mem);
	x86img_free(&kernel);
}

TestSuite(x86_loader, .fini = fini);

static int load_bytes(const void *data, size_t len)
{
	x86img_gmem(&mem, 256 * MIB);
	x86img_save_bytes(&kernel, data, len);
	return x86_load_kernel(&mem, kernel.path, NULL, NULL, &bi, err, sizeof(err));
}

Test(x86_loader, garbage_is_neither_bzimage_nor_elf)
{
	uint8_t junk[4096];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 31 + 1);
	cr_assert_eq(load_bytes(junk, sizeof(junk)), -ENOEXEC);
	cr_assert_str_eq(err, "kernel: not a bzImage or PVH ELF");
}

Test(x86_loader, cmdline_max_of_garbage_is_refused)
{
	uint8_t junk[4096];
	size_t max = 77;
	memset(junk, 0x5a, sizeof(junk));
	x86img_save_bytes(&kernel, junk, sizeof(junk));
	cr_assert_eq(x86_kernel_cmdline_max(kernel.path, &max, err, sizeof(err)), -ENOEXEC);
	cr_assert_str_eq(err, "kernel: not a bzImage or PVH ELF");
	cr_assert_eq(max, 77, "max untouched on failure");
}

Test(x86_loader, file_too_short_for_a_setup_header_is_rejected)
{
	cr_assert_eq(load_bytes("MZ", 2), -ENOEXEC);
	cr_assert_str_eq(err, "kernel: not a bzImage or PVH ELF");
}

Test(x86_loader, truncated_elf_header_is_rejected)
{
	cr_assert_eq(load_bytes("\177ELF\2\1\1", 7), -ENOEXEC);
	cr_assert(strstr(err, "truncated ELF header"), "%s", err);
}

Test(x86_loader, empty_kernel_file_is_rejected)
{
	cr_assert_eq(load_bytes("", 0), -EINVAL);
	cr_assert(strstr(err, "kernel:"), "%s", err);
}

Test(x86_loader, missing_kernel_names_the_path)
{
	x86img_gmem(&mem, 256 * MIB);
	cr_assert_eq(x86_load_kernel(&mem, "/nonexistent/vmlinuz", NULL, NULL, &bi,
				     err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "kernel: cannot open /nonexistent/vmlinuz"), "%s", err);
}

/* A FIFO as the kernel or initrd: refused at once, never waited on. */
Test(x86_loader, fifo_kernel_or_initrd_is_refused_without_blocking, .timeout = 5)
{
	char dir[] = "/tmp/mvmm-loader-fifo-XXXXXX", fifo[64];
	size_t max;
	cr_assert_not_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	x86img_gmem(&mem, 256 * MIB);
	cr_assert_eq(x86_kernel_cmdline_max(fifo, &max, err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "a FIFO"), "%s", err);
	cr_assert_eq(x86_load_kernel(&mem, fifo, NULL, NULL, &bi, err,
				     sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "kernel: cannot open"), "%s", err);
	x86img_bzimage(&kernel, 64 * 1024, 16 * MIB);
	x86img_save(&kernel);
	cr_assert_eq(x86_load_kernel(&mem, kernel.path, fifo, NULL, &bi, err,
				     sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "initrd: cannot open"), "%s", err);
	unlink(fifo);
	rmdir(dir);
}

Test(x86_loader, guest_ram_not_starting_at_zero_is_rejected)
{
	static uint8_t buf[2 * 1024 * 1024];
	cr_assert_eq(gmem_init_external(&mem, 0x100000, buf, sizeof(buf)), 0);
	cr_assert_eq(x86_load_kernel(&mem, "/nonexistent", NULL, NULL, &bi, err,
				     sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "memory:"), "%s", err);
}

Test(x86_loader, error_message_is_truncated_safely)
{
	char small[8];
	x86img_gmem(&mem, 256 * MIB);
	cr_assert_eq(x86_load_kernel(&mem, "/nonexistent", NULL, NULL, &bi, small,
				     sizeof(small)), -ENOENT);
	cr_assert_eq(strlen(small), sizeof(small) - 1);
}

/* The real tiny guest kernels (guest/build.sh), when they were built. */
static const char *guest_file(const char *name)
{
	static char path[256];
	snprintf(path, sizeof(path), "build/guest/%s", name);
	if (access(path, R_OK))
		cr_skip_test("%s not built (make guest)", path);
	return path;
}

Test(x86_loader, real_bzimage_loads_with_64bit_entry)
{
	const char *path = guest_file("bzImage");
	x86img_gmem(&mem, 256 * MIB);
	cr_assert_eq(x86_load_kernel(&mem, path, NULL, "console=ttyS0", &bi, err,
				     sizeof(err)), 0, "%s", err);
	cr_assert_not(bi.pvh);
	cr_assert_eq(bi.entry_gpa, 0x100200);
	struct boot_params bp;
	cr_assert_eq(gmem_read(&mem, X86_ZERO_PAGE_GPA, &bp, sizeof(bp)), 0);
	cr_assert_geq(bp.hdr.version, 0x020c);
	cr_assert(bp.hdr.xloadflags & XLF_KERNEL_64);
	cr_assert_gt(bi.kernel_end_gpa, 0x100000 + 0x200);
}

Test(x86_loader, real_vmlinux_loads_through_pvh)
{
	const char *path = guest_file("vmlinux");
	x86img_gmem(&mem, 256 * MIB);
	cr_assert_eq(x86_load_kernel(&mem, path, NULL, "console=ttyS0", &bi, err,
				     sizeof(err)), 0, "%s", err);
	cr_assert(bi.pvh);
	cr_assert_geq(bi.entry_gpa, bi.kernel_start_gpa);
	cr_assert_lt(bi.entry_gpa, bi.kernel_end_gpa);
	cr_assert_lt(bi.entry_gpa, 1ULL << 32);
	cr_assert_geq(bi.kernel_start_gpa, 0x100000);
}
