/* The sparse memory file: zero and skipped pages become holes, data lands at
 * its region's file offset, and a load restores every page. */
#include "snapshot/snapshot_mem.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE GMEM_PAGE_SIZE
#define R0_PAGES 2048 /* 8 MiB at gpa 0 */
#define R1_PAGES 1024 /* 4 MiB at gpa 1 GiB */
#define NR_PAGES (R0_PAGES + R1_PAGES)

TestSuite(snapshot_mem);

static const uint64_t ranges[2][2] = {
	{0, R0_PAGES * PAGE},
	{1ULL << 30, R1_PAGES * PAGE},
};

/* Pages numbered across both regions in file order. Page 2047 and 2048
 * make one file extent that crosses the region boundary. */
static const unsigned data_pages[] = {0, 1, 2, 100, 700, 1000, 1023,
				      2047, 2048, 2049, 2560, 3071};
/* Non-zero but skipped (1000, 2049); 1500 and 2600 skipped and untouched. */
static const unsigned skip_pages[] = {1000, 1500, 2049, 2600};
/* Touched with zeros, so memfd has allocated them: found zero by reading. */
static const unsigned zero_touched[] = {50, 51, 2100};

struct fixture {
	char dir[256], path[300];
	struct gmem mem;
	uint64_t skip0[R0_PAGES / 64], skip1[R1_PAGES / 64];
	const uint64_t *skip[2];
	bool want_data[NR_PAGES]; /* written to the file */
};

static bool in(const unsigned *set, size_t n, unsigned p)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] == p)
			return true;
	return false;
}

static uint8_t *page_hva(struct gmem *m, unsigned p)
{
	return p < R0_PAGES ? m->regions[0].hva + p * PAGE
			    : m->regions[1].hva + (p - R0_PAGES) * PAGE;
}

/* Every byte depends on the page number and its offset: no two alike. */
static void fill(uint8_t *dst, unsigned p)
{
	for (unsigned i = 0; i < PAGE; i++)
		dst[i] = (uint8_t)(p * 31 + i * 7 + 1) | 1;
}

static void setup(struct fixture *f, enum gmem_backend backend)
{
	memset(f, 0, sizeof(*f));
	const char *t = getenv("TMPDIR");
	snprintf(f->dir, sizeof(f->dir), "%s/snapmem.XXXXXX", t && *t ? t : "/tmp");
	cr_assert_not_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/mem", f->dir);
	struct gmem_opts o = {.backend = backend};
	cr_assert_eq(gmem_init(&f->mem, ranges, 2, &o), 0);
	for (unsigned r = 0; r < 2; r++) /* 4 KiB granularity for mincore */
		madvise(f->mem.regions[r].hva, f->mem.regions[r].len, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < sizeof(data_pages) / sizeof(data_pages[0]); i++)
		fill(page_hva(&f->mem, data_pages[i]), data_pages[i]);
	for (size_t i = 0; i < sizeof(zero_touched) / sizeof(zero_touched[0]); i++)
		*(volatile uint8_t *)page_hva(&f->mem, zero_touched[i]) = 0;
	for (size_t i = 0; i < sizeof(skip_pages) / sizeof(skip_pages[0]); i++) {
		unsigned p = skip_pages[i];
		if (p < R0_PAGES)
			f->skip0[p / 64] |= 1ULL << (p % 64);
		else
			f->skip1[(p - R0_PAGES) / 64] |= 1ULL << ((p - R0_PAGES) % 64);
	}
	f->skip[0] = f->skip0;
	f->skip[1] = f->skip1;
	for (unsigned p = 0; p < NR_PAGES; p++)
		f->want_data[p] = in(data_pages, 12, p) && !in(skip_pages, 4, p);
}

static void teardown(struct fixture *f)
{
	gmem_destroy(&f->mem);
	unlink(f->path);
	rmdir(f->dir);
}

static bool resident(struct gmem *m, unsigned p)
{
	unsigned char v = 0;
	cr_assert_eq(mincore(page_hva(m, p), PAGE, &v), 0);
	return v & 1;
}

/* File content page by page, and holes exactly where nothing was written. */
static void check_file(struct fixture *f, const struct snapshot_mem_stats *st)
{
	int fd = open(f->path, O_RDONLY);
	cr_assert_geq(fd, 0);
	struct stat sb;
	cr_assert_eq(fstat(fd, &sb), 0);
	cr_assert_eq((uint64_t)sb.st_size, f->mem.total_bytes);
	cr_assert_eq(st->file_bytes, (uint64_t)sb.st_blocks * 512);
	cr_assert_geq(st->file_bytes, st->pages_written * PAGE);
	cr_assert_leq(st->file_bytes, st->pages_written * PAGE + 64 * 1024,
		      "file_bytes %llu for %llu pages",
		      (unsigned long long)st->file_bytes,
		      (unsigned long long)st->pages_written);
	uint8_t buf[PAGE], want[PAGE];
	for (unsigned p = 0; p < NR_PAGES; p++) {
		cr_assert_eq(pread(fd, buf, PAGE, (off_t)(p * PAGE)), (ssize_t)PAGE);
		if (f->want_data[p])
			fill(want, p);
		else
			memset(want, 0, PAGE);
		cr_assert_arr_eq(buf, want, PAGE, "file page %u", p);
		off_t d = lseek(fd, (off_t)(p * PAGE), SEEK_DATA);
		bool is_data = d == (off_t)(p * PAGE);
		cr_assert_eq(is_data, f->want_data[p], "page %u data=%d", p, is_data);
	}
	close(fd);
}

static void check_load(struct fixture *f, enum gmem_backend backend,
		       const struct snapshot_mem_stats *st)
{
	struct gmem fresh;
	struct gmem_opts o = {.backend = backend};
	cr_assert_eq(gmem_init(&fresh, ranges, 2, &o), 0);
	struct snapshot_mem_load_stats ls;
	char err[512] = "";
	cr_assert_eq(snapshot_mem_load(&fresh, f->path, &ls, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ls.bytes_read, st->pages_written * PAGE);
	uint8_t want[PAGE];
	for (unsigned p = 0; p < NR_PAGES; p++) {
		if (f->want_data[p])
			fill(want, p);
		else
			memset(want, 0, PAGE);
		cr_assert_arr_eq(page_hva(&fresh, p), want, PAGE, "loaded page %u", p);
	}
	gmem_destroy(&fresh);
}

/* Blocks allocated to the regions' memfds (0 for anonymous memory). */
static uint64_t backing_blocks(struct gmem *m)
{
	uint64_t n = 0;
	for (unsigned r = 0; r < m->nr_regions; r++) {
		struct stat sb;
		if (m->regions[r].fd < 0)
			continue;
		cr_assert_eq(fstat(m->regions[r].fd, &sb), 0);
		n += (uint64_t)sb.st_blocks;
	}
	return n;
}

static void write_and_check(enum gmem_backend backend)
{
	struct fixture f;
	setup(&f, backend);
	uint64_t blocks_before = backing_blocks(&f.mem);

	struct snapshot_mem_stats st;
	char err[512] = "";
	cr_assert_eq(snapshot_mem_write(&f.mem, f.skip, f.path, &st, err, sizeof(err)), 0, "%s", err);

	unsigned written = 0;
	for (unsigned p = 0; p < NR_PAGES; p++)
		written += f.want_data[p];
	cr_assert_eq(written, 10);
	cr_assert_eq(st.pages_total, NR_PAGES);
	cr_assert_eq(st.pages_written, written);
	cr_assert_eq(st.pages_skipped, 4);
	cr_assert_eq(st.pages_written + st.pages_skipped + st.pages_zero + st.pages_unbacked,
		     NR_PAGES);
	if (backend == GMEM_ANON_PRIVATE) {
		cr_assert_eq(st.pages_unbacked, 0);
		cr_assert_eq(st.pages_zero, NR_PAGES - 10 - 4);
		/* Skipped pages are never read, so never faulted in. */
		cr_assert_not(resident(&f.mem, 1500));
		cr_assert_not(resident(&f.mem, 2600));
		cr_assert(resident(&f.mem, 1501));
	} else {
		/* Only the pages memfd holds are read: the touched zero ones. */
		cr_assert_eq(st.pages_zero, 3);
		cr_assert_eq(st.pages_unbacked, NR_PAGES - 10 - 4 - 3);
		cr_assert_eq(backing_blocks(&f.mem), blocks_before,
			     "writer allocated memfd pages");
	}
	check_file(&f, &st);
	check_load(&f, backend, &st);
	teardown(&f);
}

Test(snapshot_mem, anon_writes_sparse_file_and_loads_back)
{
	write_and_check(GMEM_ANON_PRIVATE);
}

Test(snapshot_mem, memfd_writes_sparse_file_without_reading_holes)
{
	write_and_check(GMEM_MEMFD_SHARED);
}

Test(snapshot_mem, no_skip_bitmap_writes_every_nonzero_page)
{
	struct fixture f;
	setup(&f, GMEM_ANON_PRIVATE);
	struct snapshot_mem_stats st;
	char err[512] = "";
	cr_assert_eq(snapshot_mem_write(&f.mem, NULL, f.path, &st, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(st.pages_written, 12);
	cr_assert_eq(st.pages_skipped, 0);
	cr_assert_eq(st.pages_zero, NR_PAGES - 12);
	teardown(&f);
}

Test(snapshot_mem, large_runs_are_written_whole)
{
	/* 3 MiB of non-zero pages: several write chunks, one file extent. */
	struct fixture f;
	setup(&f, GMEM_ANON_PRIVATE);
	for (unsigned p = 1024; p < 1024 + 768; p++)
		fill(page_hva(&f.mem, p), p);
	struct snapshot_mem_stats st;
	char err[512] = "";
	cr_assert_eq(snapshot_mem_write(&f.mem, NULL, f.path, &st, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(st.pages_written, 12 + 768);
	struct gmem fresh;
	cr_assert_eq(gmem_init(&fresh, ranges, 2, NULL), 0);
	struct snapshot_mem_load_stats ls;
	cr_assert_eq(snapshot_mem_load(&fresh, f.path, &ls, err, sizeof(err)), 0, "%s", err);
	for (unsigned r = 0; r < 2; r++)
		cr_assert_arr_eq(fresh.regions[r].hva, f.mem.regions[r].hva,
				 f.mem.regions[r].len);
	gmem_destroy(&fresh);
	teardown(&f);
}

Test(snapshot_mem, load_refuses_wrong_sized_file)
{
	struct fixture f;
	setup(&f, GMEM_ANON_PRIVATE);
	int fd = open(f.path, O_CREAT | O_WRONLY, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 4096 * 5), 0);
	close(fd);
	struct snapshot_mem_load_stats ls;
	char err[512] = "";
	cr_assert_eq(snapshot_mem_load(&f.mem, f.path, &ls, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "memory file is 20480 bytes, the snapshot's guest RAM is 12582912 bytes"),
		  "%s", err);
	cr_assert(strstr(err, f.path), "%s", err);
	teardown(&f);
}

Test(snapshot_mem, load_names_missing_file)
{
	struct fixture f;
	setup(&f, GMEM_ANON_PRIVATE);
	struct snapshot_mem_load_stats ls;
	char err[512] = "";
	cr_assert_eq(snapshot_mem_load(&f.mem, f.path, &ls, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, f.path), "%s", err);
	teardown(&f);
}

Test(snapshot_mem, write_failure_names_path_and_leaves_nothing)
{
	struct fixture f;
	setup(&f, GMEM_ANON_PRIVATE);
	char path[400];
	snprintf(path, sizeof(path), "%s/missing/mem", f.dir);
	struct snapshot_mem_stats st;
	char err[512] = "";
	cr_assert_eq(snapshot_mem_write(&f.mem, NULL, path, &st, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, path), "%s", err);
	/* rename over a directory fails after the data was written. */
	cr_assert_eq(mkdir(f.path, 0700), 0);
	cr_assert_lt(snapshot_mem_write(&f.mem, NULL, f.path, &st, err, sizeof(err)), 0);
	cr_assert(strstr(err, "rename"), "%s", err);
	rmdir(f.path);
	cr_assert_eq(rmdir(f.dir), 0, "temporary file left in %s", f.dir);
	gmem_destroy(&f.mem);
}

/* A FIFO as the memory file: refused at once, never waited on. */
Test(snapshot_mem, fifo_memory_file_is_refused_without_blocking, .timeout = 5)
{
	char dir[] = "/tmp/mvmm-snapmem-fifo-XXXXXX", p[64], err[256];
	struct gmem mem;
	struct snapshot_mem_load_stats st;
	cr_assert_not_null(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/fifo", dir);
	cr_assert_eq(mkfifo(p, 0600), 0);
	cr_assert_eq(gmem_init(&mem, ranges, 2, NULL), 0);
	cr_assert_eq(snapshot_mem_load(&mem, p, &st, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "a FIFO"), "%s", err);
	gmem_destroy(&mem);
	unlink(p);
	rmdir(dir);
}
