#include "snapshot/snapfile_priv.h"

#include <core/checked.h>
#include "snapshot/snapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const char *arch_name(uint32_t arch)
{
	return arch == SNAPFILE_ARCH_X86_64 ? "x86_64" : "unknown";
}

/* Walks the sections of a header-checked image; 0 or -EINVAL with err. */
static int check_sections(const uint8_t *buf, size_t len, uint32_t declared,
			  char *err, size_t errlen)
{
	size_t off = SNAP_HDR_BYTES;
	uint32_t n = 0;
	while (off < len) {
		size_t left = len - off;
		if (left < SNAP_SEC_HDR_BYTES) {
			snap_set_err(err, errlen, "state file is corrupt: section %u header runs past the end of the payload", n);
			return -EINVAL;
		}
		uint64_t slen = get_le64(buf + off + 8);
		left -= SNAP_SEC_HDR_BYTES;
		if (slen > left || ALIGN_UP(slen, 8) > left) {
			snap_set_err(err, errlen, "state file is corrupt: section %u (tag %u) claims %llu bytes, only %zu remain", n,
				get_le32(buf + off), (unsigned long long)slen, left);
			return -EINVAL;
		}
		const uint8_t *data = buf + off + SNAP_SEC_HDR_BYTES;
		for (uint64_t i = slen; i < ALIGN_UP(slen, 8); i++) {
			if (data[i]) {
				snap_set_err(err, errlen, "state file is corrupt: section %u has non-zero padding", n);
				return -EINVAL;
			}
		}
		off += SNAP_SEC_HDR_BYTES + ALIGN_UP(slen, 8);
		n++; /* no wrap: sections are >= 16 bytes, files <= 64 MiB */
	}
	if (n != declared) {
		snap_set_err(err, errlen, "state file is corrupt: header says %u sections, payload holds %u", declared, n);
		return -EINVAL;
	}
	return 0;
}

/* Checks buf and takes ownership of it (freed on failure). */
static int reader_take(struct snap_reader *r, uint8_t *buf, size_t len,
		       uint32_t arch, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	if (len < 8 || memcmp(buf, SNAPFILE_MAGIC, 8)) {
		snap_set_err(err, errlen, "not an mvmm state file (bad magic)");
		goto err;
	}
	if (len < SNAP_HDR_BYTES) {
		snap_set_err(err, errlen, "state file is truncated: %zu bytes, the header alone is %d", len, SNAP_HDR_BYTES);
		goto err;
	}
	if (len > SNAPFILE_MAX_BYTES) {
		snap_set_err(err, errlen, "state file is %zu bytes, more than the %llu MiB limit", len, SNAPFILE_MAX_BYTES >> 20);
		goto err;
	}
	uint32_t version = get_le32(buf + SNAP_HDR_VERSION);
	if (version != SNAPFILE_VERSION) {
		snap_set_err(err, errlen, "state file was written for format version %u, this mvmm reads version %u",
			version, SNAPFILE_VERSION);
		goto err;
	}
	uint32_t file_arch = get_le32(buf + SNAP_HDR_ARCH);
	if (file_arch != arch) {
		snap_set_err(err, errlen, "state file was written for architecture %s (%u), this mvmm runs %s (%u)",
			arch_name(file_arch), file_arch, arch_name(arch), arch);
		goto err;
	}
	uint64_t payload = get_le64(buf + SNAP_HDR_PAYLOAD);
	if (payload != len - SNAP_HDR_BYTES) {
		snap_set_err(err, errlen, "state file is corrupt: header declares %llu payload bytes, the file holds %zu (truncated or modified)",
			(unsigned long long)payload, len - SNAP_HDR_BYTES);
		goto err;
	}
	uint32_t crc = (uint32_t)crc32_z(0, buf + SNAP_HDR_BYTES, payload);
	if (crc != get_le32(buf + SNAP_HDR_CRC)) {
		snap_set_err(err, errlen, "state file is corrupt: checksum mismatch (file was modified or truncated)");
		goto err;
	}
	uint32_t nr = get_le32(buf + SNAP_HDR_SECTIONS);
	if (check_sections(buf, len, nr, err, errlen))
		goto err;
	r->buf = buf;
	r->len = len;
	r->version = version;
	r->arch = file_arch;
	r->nr_sections = nr;
	return 0;
err:
	free(buf);
	return -EINVAL;
}

int snap_reader_parse(struct snap_reader *r, const void *image, size_t len,
		      uint32_t arch, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf) {
		snap_set_err(err, errlen, "out of memory for a %zu-byte state file", len);
		return -ENOMEM;
	}
	if (len)
		memcpy(buf, image, len);
	return reader_take(r, buf, len, arch, err, errlen);
}

/* Reads all of fd; +1 byte beyond fstat's size so a file that grew is seen
 * as the wrong length rather than silently cut. */
static int read_all(int fd, uint8_t **out, size_t *out_len)
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

int snap_reader_open(struct snap_reader *r, const char *path, uint32_t arch,
		     char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	memset(r, 0, sizeof(*r));
	int e, fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = -errno;
	} else {
		e = read_all(fd, &buf, &len);
		close(fd);
	}
	if (e) {
		snap_set_err(err, errlen, "%s: cannot read state file: %s", path,
			e == -EFBIG ? "larger than the 64 MiB limit" : strerror(-e));
		return e;
	}
	char why[256];
	e = reader_take(r, buf, len, arch, why, sizeof(why));
	if (e)
		snap_set_err(err, errlen, "%s: %s", path, why);
	return e;
}

void snap_reader_free(struct snap_reader *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

int snap_get(const struct snap_reader *r, uint32_t tag, uint32_t instance,
	     const void **data, size_t *len)
{
	size_t off = SNAP_HDR_BYTES;
	/* Safe walk: reader_take proved every section lies inside buf. */
	for (uint32_t i = 0; i < r->nr_sections; i++) {
		const uint8_t *p = r->buf + off;
		uint64_t slen = get_le64(p + 8);
		if (get_le32(p) == tag && get_le32(p + 4) == instance) {
			*data = p + SNAP_SEC_HDR_BYTES;
			*len = (size_t)slen;
			return 0;
		}
		off += SNAP_SEC_HDR_BYTES + ALIGN_UP(slen, 8);
	}
	return -ENOENT;
}

int snap_get_exact(const struct snap_reader *r, uint32_t tag,
		   uint32_t instance, void *dst, size_t len)
{
	const void *data;
	size_t have;
	int e = snap_get(r, tag, instance, &data, &have);
	if (e)
		return e;
	if (have != len)
		return -EINVAL;
	if (len)
		memcpy(dst, data, len);
	return 0;
}
