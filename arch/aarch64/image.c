/* The arm64 Image header and where the kernel, DTB and initrd go in RAM
 * (Documentation/arm64/booting.rst, "Call the kernel image"). Pure functions:
 * no file and no guest memory here. */
#include <arch/boot.h>
#include <arch/layout.h>
#include <core/checked.h>
#include <core/err.h>

#include <errno.h>
#include <string.h>

/* Header fields are little endian whatever the host is. */
static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int arm64_image_parse(const void *head, size_t head_len, uint64_t file_size,
		      struct arm64_image *img, char *err, size_t errlen)
{
	const uint8_t *h = head;

	memset(img, 0, sizeof(*img));
	if (head_len < ARM64_IMAGE_HEADER_LEN || file_size < ARM64_IMAGE_HEADER_LEN)
		return err_set(err, errlen, -ENOEXEC,
			       "kernel: %llu bytes, shorter than the 64-byte arm64 Image header",
			       (unsigned long long)MIN((uint64_t)head_len, file_size));
	if ((uint32_t)le64(h + ARM64_IMAGE_MAGIC_OFF) != ARM64_IMAGE_MAGIC) {
		if (h[0] == 0x1f && h[1] == 0x8b)
			return err_set(err, errlen, -ENOEXEC,
				       "kernel: a gzip file (Image.gz?): mvmm boots the uncompressed Image");
		return err_set(err, errlen, -ENOEXEC,
			       "kernel: no arm64 Image magic \"ARM\\x64\" at offset 56");
	}
	img->text_offset = le64(h + 8);
	img->image_size = le64(h + 16);
	img->flags = le64(h + 24);
	if (img->flags & ARM64_IMAGE_FLAG_BE)
		return err_set(err, errlen, -ENOEXEC,
			       "kernel: big-endian Image; KVM guests here run little endian");
	/* image_size 0 means a kernel older than 3.17, whose text_offset's
	 * endianness is unknown and whose footprint is unbounded. */
	if (img->image_size == 0)
		return err_set(err, errlen, -ENOEXEC,
			       "kernel: image_size is 0 (a pre-3.17 Image); not supported");
	if (img->image_size < file_size)
		return err_set(err, errlen, -ENOEXEC,
			       "kernel: image_size %llu is smaller than the file (%llu bytes)",
			       (unsigned long long)img->image_size,
			       (unsigned long long)file_size);
	/* The kernel runs at a 2 MiB base + text_offset; an offset past the
	 * block, or not page aligned, is no layout a kernel was built for. */
	if (img->text_offset >= ARM64_KERNEL_ALIGN ||
	    img->text_offset % GMEM_PAGE_SIZE)
		return err_set(err, errlen, -ENOEXEC,
			       "kernel: text_offset 0x%llx is not a 4 KiB multiple below 2 MiB",
			       (unsigned long long)img->text_offset);
	if (img->image_size > ARM64_RAM_MAX)
		return err_set(err, errlen, -ENOEXEC,
			       "kernel: image_size 0x%llx is implausibly large",
			       (unsigned long long)img->image_size);
	static const unsigned page_kib[4] = { 0, 4, 16, 64 };
	img->page_kib = page_kib[img->flags >> ARM64_IMAGE_FLAG_PAGE_SHIFT & 3];
	img->anywhere = img->flags & ARM64_IMAGE_FLAG_ANYWHERE;
	return 0;
}

int arm64_boot_layout(const struct arm64_image *img, uint64_t ram_gpa,
		      uint64_t ram_len, uint64_t initrd_len,
		      struct arm64_boot_info *out, char *err, size_t errlen)
{
	uint64_t base, ram_end;

	memset(out, 0, sizeof(*out));
	if (ram_len == 0 || !range_ok(ram_gpa, ram_len))
		return err_set(err, errlen, -EINVAL, "memory: empty or wrapping RAM range");
	ram_end = ram_gpa + ram_len;
	base = ALIGN_UP(ram_gpa, ARM64_KERNEL_ALIGN);
	if (base < ram_gpa || base >= ram_end)
		return err_set(err, errlen, -ENOMEM,
			       "memory: RAM [0x%llx, 0x%llx) holds no 2 MiB boundary for the kernel",
			       (unsigned long long)ram_gpa, (unsigned long long)ram_end);

	/* Offsets from base cannot wrap: text_offset < 2 MiB and image_size
	 * <= ARM64_RAM_MAX (arm64_image_parse()). */
	uint64_t kernel_end_off = img->text_offset + img->image_size;
	uint64_t dtb_off = ALIGN_UP(kernel_end_off, ARM64_KERNEL_ALIGN);
	uint64_t initrd_off = dtb_off + ARM64_FDT_MAX_SIZE;
	if (initrd_off > ram_end - base)
		return err_set(err, errlen, -ENOMEM,
			       "memory: %llu MiB of RAM cannot hold the kernel (image_size %llu) and its 2 MiB device tree",
			       (unsigned long long)(ram_len >> 20),
			       (unsigned long long)img->image_size);
	uint64_t kernel = base + img->text_offset;
	uint64_t kernel_end = base + kernel_end_off;
	uint64_t dtb = base + dtb_off;
	uint64_t initrd = base + initrd_off;
	if (initrd_len > ram_end - initrd)
		return err_set(err, errlen, -ENOMEM,
			       "initrd: %llu bytes do not fit in RAM after the kernel and device tree (%llu bytes left)",
			       (unsigned long long)initrd_len,
			       (unsigned long long)(ram_end - initrd));
	if (initrd_len &&
	    ALIGN_UP(initrd + initrd_len, ARM64_INITRD_WINDOW_ALIGN) -
			    ALIGN_DOWN(kernel, ARM64_INITRD_WINDOW_ALIGN) >
		    ARM64_INITRD_WINDOW_MAX)
		return err_set(err, errlen, -ENOMEM,
			       "initrd: %llu bytes reach past the 32 GiB window the kernel shares with it",
			       (unsigned long long)initrd_len);

	*out = (struct arm64_boot_info){
		.entry_gpa = kernel,
		.kernel_start_gpa = kernel,
		.kernel_end_gpa = kernel_end,
		.dtb_gpa = dtb,
		.initrd_gpa = initrd_len ? initrd : 0,
		.initrd_len = initrd_len,
	};
	return 0;
}
