/* arm64_load_kernel(): the Image and the initrd from their files into guest
 * RAM, where arm64_boot_layout() says. */
#include <arch/boot.h>
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
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return err_set(err, errlen, -errno, "%s: cannot open %s: %s",
			       what, path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
		close(fd);
		return err_set(err, errlen, -EINVAL,
			       "%s: %s is not a regular non-empty file", what, path);
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

/* Reads the whole file into guest memory at gpa. */
static int read_into(const struct gmem *mem, int fd, uint64_t gpa,
		     uint64_t size, const char *what, const char *path,
		     char *err, size_t errlen)
{
	void *dst = gmem_ptr(mem, gpa, size);
	int ret;

	if (!dst)
		return err_set(err, errlen, -EFAULT,
			       "%s: [0x%llx, +%llu) is not guest RAM", what,
			       (unsigned long long)gpa, (unsigned long long)size);
	ret = io_pread_full(fd, dst, size, 0);
	if (ret)
		return err_set(err, errlen, ret, "%s: cannot read %s: %s",
			       what, path, strerror(-ret));
	return 0;
}

int arm64_load_kernel(const struct gmem *mem, uint64_t ram_gpa,
		      const char *kernel_path, const char *initrd_path,
		      struct arm64_boot_info *out, char *err, size_t errlen)
{
	const struct gmem_region *ram = gmem_region_of(mem, ram_gpa, 1);
	uint8_t head[ARM64_IMAGE_HEADER_LEN];
	uint64_t kernel_size, initrd_size = 0;
	struct arm64_image img;
	struct arm64_boot_info bi;
	int kfd, ifd = -1, ret;

	memset(out, 0, sizeof(*out));
	if (!ram)
		return err_set(err, errlen, -EINVAL,
			       "memory: no guest RAM at 0x%llx",
			       (unsigned long long)ram_gpa);
	kfd = open_file("kernel", kernel_path, &kernel_size, err, errlen);
	if (kfd < 0)
		return kfd;
	ret = io_pread_full(kfd, head, MIN(sizeof(head), kernel_size), 0);
	if (ret) {
		ret = err_set(err, errlen, ret, "kernel: cannot read %s: %s",
			      kernel_path, strerror(-ret));
		goto out;
	}
	ret = arm64_image_parse(head, MIN(sizeof(head), kernel_size),
				kernel_size, &img, err, errlen);
	if (ret)
		goto out;
	if (initrd_path) {
		ifd = open_file("initrd", initrd_path, &initrd_size, err, errlen);
		if (ifd < 0) {
			ret = ifd;
			goto out;
		}
	}
	/* The region from ram_gpa to its end is what the kernel may use. */
	ret = arm64_boot_layout(&img, ram_gpa, ram->gpa + ram->len - ram_gpa,
				initrd_size, &bi, err, errlen);
	if (ret)
		goto out;
	ret = read_into(mem, kfd, bi.kernel_start_gpa, kernel_size, "kernel",
			kernel_path, err, errlen);
	if (!ret && ifd >= 0)
		ret = read_into(mem, ifd, bi.initrd_gpa, initrd_size, "initrd",
				initrd_path, err, errlen);
	if (!ret)
		*out = bi;
out:
	if (ifd >= 0)
		close(ifd);
	close(kfd);
	return ret;
}
