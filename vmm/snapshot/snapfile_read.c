/* Reading and checking the state file (snapfile.h). */
#include "snapshot/snapfile.h"
#include "snapshot/snapfile_priv.h"

#include <core/checked.h>
#include <core/err.h>
#include <core/io.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const char *snapfile_arch_name(uint32_t arch)
{
	switch (arch) {
	case SNAPFILE_ARCH_X86_64:
		return "x86_64";
	case SNAPFILE_ARCH_AARCH64:
		return "aarch64";
	default:
		return "unknown";
	}
}

/* Walks the sections of a header-checked image; 0 or -EINVAL with err. */
static int snapfile_check_sections(const uint8_t *buf, size_t len,
				   uint32_t declared, char *err, size_t errlen)
{
	size_t off = SNAPFILE_HDR_BYTES;
	uint32_t n = 0;
	while (off < len) {
		size_t left = len - off;
		if (left < SNAPFILE_SEC_HDR_BYTES)
			return err_set(err, errlen, -EINVAL, "state file is corrupt: section %u header runs past the end of the payload", n);
		uint64_t slen = get_le64(buf + off + 8);
		left -= SNAPFILE_SEC_HDR_BYTES;
		if (slen > left || ALIGN_UP(slen, 8) > left)
			return err_set(err, errlen, -EINVAL, "state file is corrupt: section %u (tag %u) claims %llu bytes, only %zu remain", n,
				       get_le32(buf + off), (unsigned long long)slen, left);
		const uint8_t *data = buf + off + SNAPFILE_SEC_HDR_BYTES;
		if (!io_all_zero(data + slen, ALIGN_UP(slen, 8) - slen))
			return err_set(err, errlen, -EINVAL, "state file is corrupt: section %u has non-zero padding", n);
		off += SNAPFILE_SEC_HDR_BYTES + ALIGN_UP(slen, 8);
		n++; /* no wrap: sections are >= 16 bytes, files <= 64 MiB */
	}
	if (n != declared)
		return err_set(err, errlen, -EINVAL, "state file is corrupt: header says %u sections, payload holds %u", declared, n);
	return 0;
}

/* Magic, version, arch, length and CRC; 0 or -EINVAL with err. */
static int snapfile_check_header(const uint8_t *buf, size_t len, uint32_t arch,
				 char *err, size_t errlen)
{
	if (len < 8 || memcmp(buf, SNAPFILE_MAGIC, 8))
		return err_set(err, errlen, -EINVAL, "not an mvmm state file (bad magic)");
	if (len < SNAPFILE_HDR_BYTES)
		return err_set(err, errlen, -EINVAL, "state file is truncated: %zu bytes, the header alone is %d", len, SNAPFILE_HDR_BYTES);
	if (len > SNAPFILE_MAX_BYTES)
		return err_set(err, errlen, -EINVAL, "state file is %zu bytes, more than the %llu MiB limit", len, SNAPFILE_MAX_BYTES >> 20);
	uint32_t version = get_le32(buf + SNAPFILE_HDR_VERSION);
	if (version != SNAPFILE_VERSION)
		return err_set(err, errlen, -EINVAL, "state file was written for format version %u, this mvmm reads version %u",
			       version, SNAPFILE_VERSION);
	uint32_t file_arch = get_le32(buf + SNAPFILE_HDR_ARCH);
	if (file_arch != arch)
		return err_set(err, errlen, -EINVAL, "state file was written for architecture %s (%u), this mvmm runs %s (%u)",
			       snapfile_arch_name(file_arch), file_arch, snapfile_arch_name(arch), arch);
	uint64_t payload = get_le64(buf + SNAPFILE_HDR_PAYLOAD);
	if (payload != len - SNAPFILE_HDR_BYTES)
		return err_set(err, errlen, -EINVAL, "state file is corrupt: header declares %llu payload bytes, the file holds %zu (truncated or modified)",
			       (unsigned long long)payload, len - SNAPFILE_HDR_BYTES);
	uint32_t crc = (uint32_t)crc32_z(0, buf + SNAPFILE_HDR_BYTES, payload);
	if (crc != get_le32(buf + SNAPFILE_HDR_CRC))
		return err_set(err, errlen, -EINVAL, "state file is corrupt: checksum mismatch (file was modified or truncated)");
	return 0;
}

/* Checks buf and takes ownership of it (freed on failure). */
static int snapfile_reader_take(struct snapfile_reader *r, uint8_t *buf,
				size_t len, uint32_t arch, char *err,
				size_t errlen)
{
	memset(r, 0, sizeof(*r));
	int e = snapfile_check_header(buf, len, arch, err, errlen);
	uint32_t nr = e ? 0 : get_le32(buf + SNAPFILE_HDR_SECTIONS);
	if (!e)
		e = snapfile_check_sections(buf, len, nr, err, errlen);
	if (e) {
		free(buf);
		return e;
	}
	r->buf = buf;
	r->len = len;
	r->version = get_le32(buf + SNAPFILE_HDR_VERSION);
	r->arch = get_le32(buf + SNAPFILE_HDR_ARCH);
	r->nr_sections = nr;
	return 0;
}

int snapfile_reader_parse(struct snapfile_reader *r, const void *image,
			  size_t len, uint32_t arch, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return err_set(err, errlen, -ENOMEM,
			       "out of memory for a %zu-byte state file", len);
	if (len)
		memcpy(buf, image, len);
	return snapfile_reader_take(r, buf, len, arch, err, errlen);
}

/* Reads all of fd; +1 byte beyond fstat's size so a file that grew is seen
 * as the wrong length rather than silently cut. */
static int snapfile_read_all(int fd, uint8_t **out, size_t *out_len)
{
	struct stat sb;
	if (fstat(fd, &sb) < 0)
		return -errno;
	if ((uint64_t)sb.st_size > SNAPFILE_MAX_BYTES)
		return -EFBIG;
	size_t cap = (size_t)sb.st_size + 1, len = 0;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n == 0)
			break;
		if (n > 0)
			len += (size_t)n;
		else if (errno != EINTR) {
			int e = -errno;
			free(buf);
			return e;
		}
	}
	*out = buf;
	*out_len = len;
	return 0;
}

int snapfile_reader_open(struct snapfile_reader *r, const char *path,
			 uint32_t arch, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char why[128];
	memset(r, 0, sizeof(*r));
	int e, fd = io_open_regular(path, O_RDONLY, why, sizeof(why));
	if (fd < 0)
		return err_set(err, errlen, fd, "%s: cannot read state file: %s",
			       path, why);
	e = snapfile_read_all(fd, &buf, &len);
	close(fd);
	if (e)
		return err_set(err, errlen, e, "%s: cannot read state file: %s",
			       path,
			       e == -EFBIG ? "larger than the 64 MiB limit"
					   : strerror(-e));
	e = snapfile_reader_take(r, buf, len, arch, why, sizeof(why));
	if (e)
		err_set(err, errlen, e, "%s: %s", path, why);
	return e;
}

void snapfile_reader_free(struct snapfile_reader *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

int snapfile_get(const struct snapfile_reader *r, uint32_t tag,
		 uint32_t instance, const void **data, size_t *len)
{
	size_t off = SNAPFILE_HDR_BYTES;
	/* Safe walk: snapfile_reader_take proved every section lies inside buf. */
	for (uint32_t i = 0; i < r->nr_sections; i++) {
		const uint8_t *p = r->buf + off;
		uint64_t slen = get_le64(p + 8);
		if (get_le32(p) == tag && get_le32(p + 4) == instance) {
			*data = p + SNAPFILE_SEC_HDR_BYTES;
			*len = (size_t)slen;
			return 0;
		}
		off += SNAPFILE_SEC_HDR_BYTES + ALIGN_UP(slen, 8);
	}
	return -ENOENT;
}

int snapfile_get_exact(const struct snapfile_reader *r, uint32_t tag,
		       uint32_t instance, void *dst, size_t len)
{
	const void *data;
	size_t have;
	int e = snapfile_get(r, tag, instance, &data, &have);
	if (e)
		return e;
	if (have != len)
		return -EINVAL;
	if (len)
		memcpy(dst, data, len);
	return 0;
}
