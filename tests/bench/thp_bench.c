/* thp_bench: what transparent huge pages do to guest RAM's host side, on
 * gmem's own mapping (aligned to 2 MiB): the first touch (a guest filling
 * fresh memory), and the balloon's discards, whole 2 MiB pages or part of
 * one (what a Linux inflate request of 256 PFNs = 1 MiB does), then the
 * touch again (a deflated page's reuse).
 *
 *   thp_bench [MIB]   (default 512)
 *
 * Discard patterns, each over the whole region, as madvise(MADV_DONTNEED):
 *   2m        2 MiB ops on 2 MiB boundaries: whole huge pages
 *   1m-pairs  1 MiB ops in order: each huge page split by its first half,
 *             freed whole by its second
 *   4k-half   every other 4 KiB page: huge pages split and kept (only the
 *             deferred-split shrinker frees their discarded halves)
 * Figures per pattern: ms, PMD splits (/proc/vmstat thp_split_pmd), MiB of
 * RSS dropped, MiB of huge pages still held system-wide (meminfo
 * AnonHugePages, before minus after, so other processes add noise), and
 * the re-touch in ms with the AnonHugePages of the process after it. Times
 * are medians of REPS runs, counts from the last. */
#include <core/gmem.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096ULL
#define MIB (1ULL << 20)
#define REPS 3

struct result {
	double touch_ms, discard_ms, retouch_ms;
	long huge_mib, splits, rss_drop_mib, freed_huge_mib, huge_after_mib;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* "NAME value" or "NAME: value kB" from a /proc file; -1 if absent. */
static long proc_field(const char *path, const char *name)
{
	char line[256];
	long v = -1;
	size_t n = strlen(name);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n) && (line[n] == ' ' || line[n] == ':')) {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

static void touch(uint8_t *p, uint64_t len)
{
	for (uint64_t off = 0; off < len; off += PAGE)
		p[off] = 1;
}

enum pattern { P_2M, P_1M_PAIRS, P_4K_HALF };
static const char *const pattern_names[] = {"2m", "1m-pairs", "4k-half"};

static void discard(uint8_t *p, uint64_t len, enum pattern pat)
{
	switch (pat) {
	case P_2M:
		for (uint64_t off = 0; off < len; off += 2 * MIB)
			madvise(p + off, 2 * MIB, MADV_DONTNEED);
		break;
	case P_1M_PAIRS:
		for (uint64_t off = 0; off < len; off += MIB)
			madvise(p + off, MIB, MADV_DONTNEED);
		break;
	case P_4K_HALF:
		for (uint64_t off = 0; off < len; off += 2 * PAGE)
			madvise(p + off, PAGE, MADV_DONTNEED);
		break;
	}
}

static struct result measure(bool thp, enum pattern pat, uint64_t len)
{
	const uint64_t ranges[1][2] = {{0, len}};
	struct gmem_opts o = {.backend = GMEM_ANON_PRIVATE,
			      .transparent_hugepages = thp};
	struct gmem m;
	struct result r;
	if (gmem_init(&m, ranges, 1, &o)) {
		perror("gmem_init");
		exit(1);
	}
	uint8_t *p = m.regions[0].hva;
	double t = now_ms();
	touch(p, len);
	r.touch_ms = now_ms() - t;
	r.huge_mib = proc_field("/proc/self/smaps_rollup", "AnonHugePages") >> 10;
	long rss0 = proc_field("/proc/self/status", "VmRSS");
	long split0 = proc_field("/proc/vmstat", "thp_split_pmd");
	long held0 = proc_field("/proc/meminfo", "AnonHugePages");
	t = now_ms();
	discard(p, len, pat);
	r.discard_ms = now_ms() - t;
	r.splits = proc_field("/proc/vmstat", "thp_split_pmd") - split0;
	r.rss_drop_mib = (rss0 - proc_field("/proc/self/status", "VmRSS")) >> 10;
	r.freed_huge_mib =
		(held0 - proc_field("/proc/meminfo", "AnonHugePages")) >> 10;
	t = now_ms();
	touch(p, len);
	r.retouch_ms = now_ms() - t;
	r.huge_after_mib =
		proc_field("/proc/self/smaps_rollup", "AnonHugePages") >> 10;
	gmem_destroy(&m);
	return r;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median3(double a, double b, double c)
{
	double v[3] = {a, b, c};
	qsort(v, 3, sizeof(v[0]), cmp_double);
	return v[1];
}

static void row(bool thp, enum pattern pat, uint64_t len)
{
	struct result r[REPS];
	for (int i = 0; i < REPS; i++)
		r[i] = measure(thp, pat, len);
	const struct result *l = &r[REPS - 1];
	printf("| %s | %.0f | %ld | %s | %.1f | %ld | %ld | %ld | %.0f | %ld |\n",
	       thp ? "THP" : "none",
	       median3(r[0].touch_ms, r[1].touch_ms, r[2].touch_ms),
	       l->huge_mib, pattern_names[pat],
	       median3(r[0].discard_ms, r[1].discard_ms, r[2].discard_ms),
	       l->splits, l->rss_drop_mib, l->freed_huge_mib,
	       median3(r[0].retouch_ms, r[1].retouch_ms, r[2].retouch_ms),
	       l->huge_after_mib);
}

int main(int argc, char **argv)
{
	uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 512;
	struct utsname u;
	char mode[128] = "?";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f) {
		if (!fgets(mode, sizeof(mode), f))
			mode[0] = 0;
		fclose(f);
		mode[strcspn(mode, "\n")] = 0;
	}
	uname(&u);
	printf("## thp_bench: %llu MiB of gmem anonymous RAM, kernel %s, THP %s\n\n",
	       (unsigned long long)mib, u.release, mode);
	printf("reproduce: make all && build/bench/thp_bench %llu\n\n",
	       (unsigned long long)mib);
	printf("| advice | first touch ms | AnonHugePages MiB | discard | discard ms | PMD splits | RSS drop MiB | huge pages freed MiB (system) | re-touch ms | AnonHugePages after MiB |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|\n");
	for (int thp = 1; thp >= 0; thp--)
		for (int pat = P_2M; pat <= P_4K_HALF; pat++)
			row(thp, (enum pattern)pat, mib * MIB);
	return 0;
}
