/* The snapshot state file: a header, then tagged sections, every byte after
 * the header covered by a CRC32 (zlib's). It knows nothing of what the
 * sections hold; snapshot*.c decide the tags.
 *
 * Layout, little-endian:
 *   header (32 bytes): magic "MVMMSNAP", u32 format version, u32 arch,
 *                      u64 payload bytes, u32 crc32(payload), u32 sections
 *   payload: sections, each u32 tag, u32 instance, u64 len, len bytes of
 *            data, zero padding to a multiple of 8.
 *
 * A reader checks the whole file before anything is handed out: magic,
 * version, arch, length, CRC, and that every section lies inside the
 * payload; any mismatch is -EINVAL with a one-line reason.
 *
 * Threads: none of its own; a writer or reader is used by one thread. */
#ifndef VMM_SNAPFILE_H
#define VMM_SNAPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAPFILE_VERSION 1
#define SNAPFILE_ARCH_X86_64 1
#define SNAPFILE_ARCH_AARCH64 2
/* Refuse state files above this before reading them into memory. */
#define SNAPFILE_MAX_BYTES (64ULL << 20)

struct snapfile_writer {
	uint8_t *buf; /* header + payload so far */
	size_t len, cap;
	uint32_t nr_sections;
	int err; /* first error (-ENOMEM); sticky, reported by commit */
};

void snapfile_writer_init(struct snapfile_writer *w);
void snapfile_writer_free(struct snapfile_writer *w);
/* Appends one section. Errors are sticky and reported by commit. */
void snapfile_put(struct snapfile_writer *w, uint32_t tag, uint32_t instance,
		  const void *data, size_t len);
/* The finished file image (header filled in) for tests: pointer and length
 * in *out and *len, valid until the writer is freed. 0 or the sticky error. */
int snapfile_writer_image(struct snapfile_writer *w, uint32_t arch,
			  const void **out, size_t *len);
/* Writes the image to path through io_tmpfile (<core/io.h>): a temporary
 * name beside it, fsync, rename over path, fsync the directory. Nothing is
 * left at path or the temporary name on failure. 0 or -errno with err. */
int snapfile_writer_commit(struct snapfile_writer *w, uint32_t arch,
			   const char *path, char *err, size_t errlen);

struct snapfile_reader {
	uint8_t *buf; /* the whole file, owned */
	size_t len;
	uint32_t version, arch, nr_sections;
};

/* Checks an image (copied). 0, or -EINVAL / -ENOMEM with err filled. */
int snapfile_reader_parse(struct snapfile_reader *r, const void *image,
			  size_t len, uint32_t arch, char *err, size_t errlen);
/* Reads path (at most SNAPFILE_MAX_BYTES) and checks it as above; -errno
 * of open/read too, err names the file. */
int snapfile_reader_open(struct snapfile_reader *r, const char *path,
			 uint32_t arch, char *err, size_t errlen);
void snapfile_reader_free(struct snapfile_reader *r);
/* The first section with tag and instance: 0 with *data, *len (inside the
 * reader's buffer), -ENOENT when there is none. */
int snapfile_get(const struct snapfile_reader *r, uint32_t tag,
		 uint32_t instance, const void **data, size_t *len);
/* Copies a fixed-size section: -ENOENT, or -EINVAL when its length is not
 * exactly len. */
int snapfile_get_exact(const struct snapfile_reader *r, uint32_t tag,
		       uint32_t instance, void *dst, size_t len);

#endif
