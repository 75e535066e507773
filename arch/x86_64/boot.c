/* x86_load_kernel(): the dispatcher. It tells the format apart and hands the
 * kernel to that format's handlers (bzimage.c, elf_pvh.c), and does the steps
 * every format shares: command line, initrd at the top of low RAM. */
#include "loader.h"

#include <arch/boot.h>
#include <arch/layout.h>
#include <arch/pvh.h>
#include <core/checked.h>
#include <core/err.h>
#include <core/io.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Opens a regular, non-empty file; returns the fd or -errno. */
static int open_file(const char *what, const char *path, uint64_t *size,
		     char *err, size_t errlen)
{
	struct stat st;
	char why[128];
	int fd = io_open_regular(path, O_RDONLY, why, sizeof(why));

	if (fd < 0)
		return err_set(err, errlen, fd, "%s: cannot open %s: %s", what,
			       path, why);
	if (fstat(fd, &st) < 0 || st.st_size <= 0) {
		close(fd);
		return err_set(err, errlen, -EINVAL,
			       "%s: %s is not a regular non-empty file", what,
			       path);
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

/* Tells the format from the head bytes; its handler parses the limits. */
static int kernel_parse(struct x86_kernel *k, char *err, size_t errlen)
{
	if (x86_bzimage_probe(k))
		return x86_bzimage_parse(k, err, errlen);
	if (x86_elf_probe(k)) {
		x86_elf_pvh_parse(k);
		return 0;
	}
	return err_set(err, errlen, -ENOEXEC,
		       "kernel: not a bzImage or PVH ELF");
}

/* Opens and parses the kernel; k->fd stays open only on success. */
static int kernel_open(struct x86_kernel *k, const char *path, char *err,
		       size_t errlen)
{
	int fd = open_file("kernel", path, &k->file_size, err, errlen);
	if (fd < 0)
		return fd;
	k->head_len = (size_t)MIN(k->file_size, (uint64_t)X86_KERNEL_HEAD_LEN);
	int ret = io_pread_full(fd, k->head, k->head_len, 0);

	if (ret)
		ret = err_set(err, errlen, -EIO, "kernel: cannot read %s", path);
	else
		ret = kernel_parse(k, err, errlen);
	if (ret) {
		close(fd);
		return ret;
	}
	k->fd = fd;
	return 0;
}

int x86_kernel_cmdline_max(const char *kernel_path, size_t *max, char *err,
			   size_t errlen)
{
	struct x86_kernel k = { .fd = -1 };
	int ret = kernel_open(&k, kernel_path, err, errlen);

	if (ret)
		return ret;
	*max = k.cmdline_max;
	close(k.fd);
	return 0;
}

/* Copies the kernel into guest RAM with its format's loader. */
static int kernel_load(const struct gmem *mem, struct x86_kernel *k,
		       const char *path, char *err, size_t errlen)
{
	int ret = kernel_open(k, path, err, errlen);

	if (ret)
		return ret;
	if (k->pvh)
		ret = x86_elf_pvh_load(mem, k, err, errlen);
	else
		ret = x86_bzimage_load(mem, k, err, errlen);
	close(k->fd);
	return ret;
}

static int write_cmdline(const struct gmem *mem, const struct x86_kernel *k,
			 const char *cmdline, char *err, size_t errlen)
{
	size_t len = strlen(cmdline);

	if (len > k->cmdline_max || len >= X86_CMDLINE_SIZE)
		return err_set(err, errlen, -E2BIG,
			       "cmdline: %zu bytes, the kernel accepts at most %zu",
			       len, MIN(k->cmdline_max,
					(size_t)X86_CMDLINE_SIZE - 1));
	if (gmem_write(mem, X86_CMDLINE_GPA, cmdline, len + 1))
		return err_set(err, errlen, -EFAULT,
			       "cmdline: 0x%llx is not guest RAM",
			       (unsigned long long)X86_CMDLINE_GPA);
	return 0;
}

/* Places the initrd page-aligned as high as the kernel allows in low RAM,
 * above the kernel's footprint. */
static int load_initrd(const struct gmem *mem, const struct x86_kernel *k,
		       const char *path, uint64_t *gpa, uint64_t *len,
		       char *err, size_t errlen)
{
	uint64_t size, top = MIN(k->low_ram_end, k->initrd_limit);
	int fd = open_file("initrd", path, &size, err, errlen);

	if (fd < 0)
		return fd;
	if (size > top || ALIGN_DOWN(top - size, GMEM_PAGE_SIZE) < k->end) {
		close(fd);
		return err_set(err, errlen, -ENOMEM,
			       "initrd: does not fit below 0x%llx (%llu bytes, kernel ends at 0x%llx)",
			       (unsigned long long)top,
			       (unsigned long long)size,
			       (unsigned long long)k->end);
	}
	uint64_t at = ALIGN_DOWN(top - size, GMEM_PAGE_SIZE);
	void *dst = gmem_ptr(mem, at, size);
	int ret = dst ? io_pread_full(fd, dst, size, 0) : -EFAULT;
	close(fd);
	if (ret)
		return err_set(err, errlen, ret, "initrd: cannot read %s: %s",
			       path, strerror(-ret));
	*gpa = at;
	*len = size;
	return 0;
}

int x86_load_kernel(const struct gmem *mem, const char *kernel_path,
		    const char *initrd_path, const char *cmdline,
		    struct x86_boot_info *out, char *err, size_t errlen)
{
	struct x86_kernel k = { .fd = -1 };
	uint64_t initrd_gpa = 0, initrd_len = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	k.low_ram_end = x86_low_ram_end(mem);
	if (k.low_ram_end <= X86_HIGH_MEM_START ||
	    k.low_ram_end > X86_RAM_HOLE_START)
		return err_set(err, errlen, -EINVAL,
			       "memory: guest RAM must start at 0 and its first region end between 1 MiB and 0x%llx",
			       (unsigned long long)X86_RAM_HOLE_START);
	if ((ret = kernel_load(mem, &k, kernel_path, err, errlen)) ||
	    (ret = write_cmdline(mem, &k, cmdline ? cmdline : "", err, errlen)))
		return ret;
	if (initrd_path && (ret = load_initrd(mem, &k, initrd_path, &initrd_gpa,
					      &initrd_len, err, errlen)))
		return ret;
	/* The format's boot parameters, once the initrd's place is known. */
	if (k.pvh)
		ret = x86_pvh_write_start_info(mem, initrd_gpa, initrd_len, err,
					       errlen);
	else
		ret = x86_bzimage_write_params(mem, &k, initrd_gpa, initrd_len,
					       err, errlen);
	if (ret)
		return ret;

	*out = (struct x86_boot_info){
		.entry_gpa = k.entry,
		.pvh = k.pvh,
		.boot_params_gpa = k.pvh ? 0 : X86_ZERO_PAGE_GPA,
		.start_info_gpa = k.pvh ? X86_PVH_INFO_GPA : 0,
		.kernel_start_gpa = k.start,
		.kernel_end_gpa = k.end,
		.initrd_gpa = initrd_gpa,
		.initrd_len = initrd_len,
	};
	return 0;
}

int x86_boot_set_rsdp(const struct gmem *mem, const struct x86_boot_info *bi,
		      uint64_t rsdp_gpa)
{
	/* Linux scans 0xe0000-0xfffff too; this saves the scan and is the
	 * only way under PVH (start_info.rsdp_paddr, boot protocol 2.14). */
	if (bi->pvh)
		return gmem_write(mem,
				  bi->start_info_gpa +
					  offsetof(struct hvm_start_info, rsdp_paddr),
				  &rsdp_gpa, sizeof(rsdp_gpa));
	return gmem_write(mem,
			  bi->boot_params_gpa +
				  offsetof(struct boot_params, acpi_rsdp_addr),
			  &rsdp_gpa, sizeof(rsdp_gpa));
}
