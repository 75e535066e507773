/* The state-file container: round trips, and every kind of damage refused
 * with a reason before any section is handed out. */
#include "snapshot/snapfile.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define ARCH SNAPFILE_ARCH_X86_64

TestSuite(snapfile);

static const uint8_t odd7[7] = {1, 2, 3, 4, 5, 6, 7};
static const uint8_t odd13[13] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0xaa, 0xbb, 0xcc};
static const uint64_t word = 0x1122334455667788ULL;

/* A small image with zero-length, odd-length and 8-byte sections. */
static void build(struct snapfile_writer *w, const void **img, size_t *len)
{
	snapfile_writer_init(w);
	snapfile_put(w, 1, 0, odd7, sizeof(odd7));
	snapfile_put(w, 2, 0, NULL, 0);
	snapfile_put(w, 1, 1, odd13, sizeof(odd13));
	snapfile_put(w, 3, 5, &word, sizeof(word));
	cr_assert_eq(snapfile_writer_image(w, ARCH, img, len), 0);
}

static int parse(const void *img, size_t len, char *err, size_t errlen)
{
	struct snapfile_reader r;
	int e = snapfile_reader_parse(&r, img, len, ARCH, err, errlen);
	if (!e)
		snapfile_reader_free(&r);
	return e;
}

static void make_tmpdir(char *dir, size_t len)
{
	const char *t = getenv("TMPDIR");
	snprintf(dir, len, "%s/snapfile.XXXXXX", t && *t ? t : "/tmp");
	cr_assert_not_null(mkdtemp(dir));
}

static unsigned count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	cr_assert_not_null(d);
	unsigned n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

Test(snapfile, round_trips_sections_of_any_length)
{
	struct snapfile_writer w;
	const void *img;
	size_t len;
	build(&w, &img, &len);
	cr_assert_eq(len % 8, 0);

	struct snapfile_reader r;
	char err[256] = "";
	cr_assert_eq(snapfile_reader_parse(&r, img, len, ARCH, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.nr_sections, 4);
	cr_assert_eq(r.version, SNAPFILE_VERSION);
	cr_assert_eq(r.arch, ARCH);

	const void *d;
	size_t dl;
	cr_assert_eq(snapfile_get(&r, 1, 0, &d, &dl), 0);
	cr_assert_eq(dl, sizeof(odd7));
	cr_assert_arr_eq(d, odd7, sizeof(odd7));
	cr_assert_eq(snapfile_get(&r, 2, 0, &d, &dl), 0);
	cr_assert_eq(dl, 0);
	cr_assert_eq(snapfile_get(&r, 1, 1, &d, &dl), 0);
	cr_assert_eq(dl, sizeof(odd13));
	cr_assert_arr_eq(d, odd13, sizeof(odd13));
	uint64_t v = 0;
	cr_assert_eq(snapfile_get_exact(&r, 3, 5, &v, sizeof(v)), 0);
	cr_assert_eq(v, word);
	snapfile_reader_free(&r);
	snapfile_writer_free(&w);
}

Test(snapfile, empty_writer_gives_valid_image)
{
	struct snapfile_writer w;
	snapfile_writer_init(&w);
	const void *img;
	size_t len;
	cr_assert_eq(snapfile_writer_image(&w, ARCH, &img, &len), 0);
	cr_assert_eq(len, 32);
	struct snapfile_reader r;
	cr_assert_eq(snapfile_reader_parse(&r, img, len, ARCH, NULL, 0), 0);
	const void *d;
	size_t dl;
	cr_assert_eq(snapfile_get(&r, 1, 0, &d, &dl), -ENOENT);
	snapfile_reader_free(&r);
	snapfile_writer_free(&w);
}

Test(snapfile, get_exact_refuses_length_mismatch_and_missing)
{
	struct snapfile_writer w;
	const void *img;
	size_t len;
	build(&w, &img, &len);
	struct snapfile_reader r;
	cr_assert_eq(snapfile_reader_parse(&r, img, len, ARCH, NULL, 0), 0);
	uint8_t buf[16];
	cr_assert_eq(snapfile_get_exact(&r, 1, 0, buf, 8), -EINVAL);
	cr_assert_eq(snapfile_get_exact(&r, 1, 0, buf, 6), -EINVAL);
	cr_assert_eq(snapfile_get_exact(&r, 1, 0, buf, 7), 0);
	cr_assert_eq(snapfile_get_exact(&r, 1, 2, buf, 7), -ENOENT);
	cr_assert_eq(snapfile_get_exact(&r, 4, 0, buf, 7), -ENOENT);
	const void *d;
	size_t dl;
	cr_assert_eq(snapfile_get(&r, 3, 0, &d, &dl), -ENOENT);
	snapfile_reader_free(&r);
	snapfile_writer_free(&w);
}

Test(snapfile, refuses_every_single_byte_change)
{
	struct snapfile_writer w;
	const void *img;
	size_t len;
	build(&w, &img, &len);
	uint8_t *copy = malloc(len);
	char err[256];
	for (size_t i = 0; i < len; i++) {
		for (unsigned x = 1; x < 256; x++) {
			memcpy(copy, img, len);
			copy[i] ^= (uint8_t)x;
			err[0] = 0;
			cr_assert_eq(parse(copy, len, err, sizeof(err)), -EINVAL,
				     "byte %zu ^ 0x%x accepted", i, x);
			cr_assert_neq(err[0], 0);
		}
	}
	free(copy);
	snapfile_writer_free(&w);
}

Test(snapfile, refuses_every_truncation_and_extension)
{
	struct snapfile_writer w;
	const void *img;
	size_t len;
	build(&w, &img, &len);
	char err[256];
	for (size_t l = 0; l < len; l++)
		cr_assert_eq(parse(img, l, err, sizeof(err)), -EINVAL, "length %zu accepted", l);
	uint8_t *longer = calloc(1, len + 8);
	memcpy(longer, img, len);
	cr_assert_eq(parse(longer, len + 8, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "corrupt"), "%s", err);
	free(longer);
	snapfile_writer_free(&w);
}

Test(snapfile, names_magic_version_and_arch_mismatches)
{
	struct snapfile_writer w;
	const void *img;
	size_t len;
	build(&w, &img, &len);
	uint8_t *c = malloc(len);
	char err[256];

	memcpy(c, img, len);
	c[0] = 'X';
	cr_assert_eq(parse(c, len, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "not an mvmm state file (bad magic)");

	memcpy(c, img, len);
	uint32_t v = htole32(7);
	memcpy(c + 8, &v, 4);
	cr_assert_eq(parse(c, len, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "state file was written for format version 7, this mvmm reads version 1");

	struct snapfile_reader r;
	cr_assert_eq(snapfile_reader_parse(&r, img, len, 2, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "architecture x86_64 (1)"), "%s", err);

	memcpy(c, img, len);
	c[len - 1] ^= 1; /* last padding byte of the last section */
	cr_assert_eq(parse(c, len, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "state file is corrupt: checksum mismatch (file was modified or truncated)");
	free(c);
	snapfile_writer_free(&w);
}

/* Damage with the CRC recomputed, so only the structural checks remain. */
static int parse_recrc(uint8_t *c, size_t len, char *err, size_t errlen)
{
	uint32_t crc = htole32((uint32_t)crc32(0, c + 32, (uInt)(len - 32)));
	memcpy(c + 24, &crc, 4);
	return parse(c, len, err, errlen);
}

Test(snapfile, refuses_section_overrunning_payload_despite_valid_crc)
{
	struct snapfile_writer w;
	const void *img;
	size_t len;
	build(&w, &img, &len);
	uint8_t *c = malloc(len);
	char err[256];

	/* Sanity: recomputing the CRC of an intact image changes nothing. */
	memcpy(c, img, len);
	cr_assert_eq(parse_recrc(c, len, err, sizeof(err)), 0, "%s", err);

	uint64_t bad[] = {len, len - 32 - 16 + 1, UINT64_MAX, UINT64_MAX - 6};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		memcpy(c, img, len);
		uint64_t l = htole64(bad[k]);
		memcpy(c + 32 + 8, &l, 8); /* first section's length */
		cr_assert_eq(parse_recrc(c, len, err, sizeof(err)), -EINVAL);
		cr_assert(strstr(err, "section 0"), "%s", err);
	}

	/* A length that stays inside but misaligns the walk. */
	memcpy(c, img, len);
	uint64_t l = htole64(sizeof(odd7) + 8);
	memcpy(c + 32 + 8, &l, 8);
	cr_assert_eq(parse_recrc(c, len, err, sizeof(err)), -EINVAL);

	/* Section count disagreeing with the payload. */
	memcpy(c, img, len);
	uint32_t n = htole32(5);
	memcpy(c + 28, &n, 4);
	cr_assert_eq(parse_recrc(c, len, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "sections"), "%s", err);
	free(c);
	snapfile_writer_free(&w);
}

Test(snapfile, commit_writes_atomically_and_reads_back)
{
	char dir[256], path[300], err[512] = "";
	make_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/vm.state", dir);

	struct snapfile_writer w;
	const void *img;
	size_t len;
	build(&w, &img, &len);
	/* Overwrites an existing file, as a repeated snapshot would. */
	FILE *f = fopen(path, "w");
	fputs("old", f);
	fclose(f);
	cr_assert_eq(snapfile_writer_commit(&w, ARCH, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(count_entries(dir), 1, "temporary file left behind");

	struct stat sb;
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq((size_t)sb.st_size, len);
	struct snapfile_reader r;
	cr_assert_eq(snapfile_reader_open(&r, path, ARCH, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.len, len);
	cr_assert_arr_eq(r.buf, img, len);
	snapfile_reader_free(&r);

	/* A corrupt file on disk is refused with its name in the reason. */
	f = fopen(path, "r+");
	fseek(f, 40, SEEK_SET);
	fputc(0x5a, f);
	fclose(f);
	cr_assert_eq(snapfile_reader_open(&r, path, ARCH, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, path) && strstr(err, "checksum"), "%s", err);

	unlink(path);
	rmdir(dir);
	snapfile_writer_free(&w);
}

Test(snapfile, commit_failure_leaves_nothing)
{
	char dir[256], path[400], err[512] = "";
	make_tmpdir(dir, sizeof(dir));
	struct snapfile_writer w;
	const void *img;
	size_t len;
	build(&w, &img, &len);

	snprintf(path, sizeof(path), "%s/missing/vm.state", dir);
	cr_assert_eq(snapfile_writer_commit(&w, ARCH, path, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, path), "%s", err);
	cr_assert_eq(count_entries(dir), 0);

	/* rename over a directory fails after the temporary was written. */
	snprintf(path, sizeof(path), "%s/adir", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	cr_assert_lt(snapfile_writer_commit(&w, ARCH, path, err, sizeof(err)), 0);
	cr_assert(strstr(err, path) && strstr(err, "rename"), "%s", err);
	cr_assert_eq(count_entries(dir), 1, "temporary file left behind");
	rmdir(path);
	rmdir(dir);
	snapfile_writer_free(&w);
}

Test(snapfile, open_names_missing_file)
{
	struct snapfile_reader r;
	char err[256];
	const char *p = "/nonexistent/mvmm-snapfile-test.state";
	cr_assert_eq(snapfile_reader_open(&r, p, ARCH, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, p), "%s", err);
}

/* A FIFO as the state file: refused at once, the caller's loop goes on. */
Test(snapfile, fifo_state_file_is_refused_without_blocking, .timeout = 5)
{
	struct snapfile_reader r;
	char dir[256], p[300], err[256];
	make_tmpdir(dir, sizeof(dir));
	snprintf(p, sizeof(p), "%s/fifo", dir);
	cr_assert_eq(mkfifo(p, 0600), 0);
	cr_assert_eq(snapfile_reader_open(&r, p, ARCH, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "a FIFO, not a regular file"), "%s", err);
	unlink(p);
	rmdir(dir);
}
