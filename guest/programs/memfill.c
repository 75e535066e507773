/*
 * memfill: fills memory with a pattern that names each page, then verifies it,
 * so a scenario can prove that ballooning or page reporting never lost a byte
 * of memory the guest was still using.
 *
 *   memfill [-s SEED] [-w] [-i SECS] [-n COUNT] [-r FILE] MIB
 *
 * Fills MIB MiB, one 4 KiB page at a time: 511 words derived from (seed,
 * generation, page index, word index) and a checksum word (a per-page key
 * from a 64-bit mixer, then one multiply-add per word: cheap under TCG). Without -w it
 * verifies once and exits. With -w it keeps the memory and verifies on SIGUSR1,
 * every SECS seconds with -i, and a last time on SIGTERM/SIGINT, then exits;
 * SIGUSR2 rewrites every page with the next generation (dirties it all again).
 * -n COUNT exits after COUNT verifications. -r FILE is created once the memory
 * is filled, so a script can wait for it before it signals.
 * Exit status: 0 all verifications passed, 1 corruption found, 2 usage or
 * allocation error.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define WORDS (PAGE / sizeof(uint64_t))
#define MAX_REPORTED 8

struct memfill {
	uint64_t *mem;
	size_t pages;
	uint64_t seed;
	uint64_t gen;
	unsigned long verifications;
};

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t page_key(const struct memfill *m, size_t page)
{
	return mix64(m->seed ^ mix64(m->gen) ^ ((uint64_t)page << 20));
}

/*
 * Word i of a page is key + i * STEP: one multiply-add per word, so that
 * filling is cheap under an emulator, while every word still depends on the
 * seed, the generation and the page (a zeroed, stale or misplaced page, or a
 * flipped bit, reads back wrong).
 */
#define STEP 0x9e3779b97f4a7c15ull

static void fill_page(const struct memfill *m, size_t page)
{
	uint64_t *w = m->mem + page * WORDS;
	uint64_t key = page_key(m, page), sum = 0;

	for (size_t i = 0; i < WORDS - 1; i++) {
		w[i] = key + i * STEP;
		sum ^= w[i];
	}
	w[WORDS - 1] = sum ^ page;
}

/* Returns the index of the first wrong word of the page, or WORDS if none. */
static size_t check_page(const struct memfill *m, size_t page, uint64_t *got,
			 uint64_t *want)
{
	const uint64_t *w = m->mem + page * WORDS;
	uint64_t key = page_key(m, page), sum = 0, diff = 0;

	/* Fast path first: one pass that only accumulates differences. */
	for (size_t i = 0; i < WORDS - 1; i++) {
		diff |= w[i] ^ (key + i * STEP);
		sum ^= key + i * STEP;
	}
	diff |= w[WORDS - 1] ^ (sum ^ page);
	if (!diff)
		return WORDS;
	for (size_t i = 0; i < WORDS - 1; i++) {
		uint64_t v = key + i * STEP;

		if (w[i] != v) {
			*got = w[i];
			*want = v;
			return i;
		}
	}
	*got = w[WORDS - 1];
	*want = sum ^ page;
	return WORDS - 1;
}

static void fill_all(struct memfill *m)
{
	for (size_t p = 0; p < m->pages; p++)
		fill_page(m, p);
}

/* Returns the number of corrupt pages, reporting the first few. */
static size_t verify_all(struct memfill *m)
{
	size_t bad = 0;

	for (size_t p = 0; p < m->pages; p++) {
		uint64_t got = 0, want = 0;
		size_t word = check_page(m, p, &got, &want);

		if (word == WORDS)
			continue;
		if (bad++ < MAX_REPORTED)
			printf("memfill: CORRUPT page %zu word %zu got %016llx want %016llx\n",
			       p, word, (unsigned long long)got,
			       (unsigned long long)want);
	}
	m->verifications++;
	if (bad)
		printf("memfill: %zu of %zu pages corrupt\n", bad, m->pages);
	else
		printf("memfill: verified %zu pages ok\n", m->pages);
	return bad;
}

static int parse_ulong(const char *s, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 0);
	return (errno || end == s || *end || s[0] == '-') ? -1 : 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: memfill [-s SEED] [-w] [-i SECS] [-n COUNT] [-r FILE] MIB\n");
	exit(2);
}

static int wait_loop(struct memfill *m, unsigned long interval,
		     unsigned long count)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);

	for (;;) {
		struct timespec ts = { .tv_sec = (time_t)interval };
		int sig = interval ? sigtimedwait(&set, NULL, &ts) :
				     sigwaitinfo(&set, NULL);

		if (sig < 0 && errno == EINTR)
			continue;
		if (sig < 0 && errno != EAGAIN) {
			perror("memfill: sigwait");
			return 2;
		}
		if (sig == SIGUSR2) {
			m->gen++;
			fill_all(m);
			printf("memfill: refilled %zu pages gen %llu\n", m->pages,
			       (unsigned long long)m->gen);
			continue;
		}
		/* SIGUSR1, the interval or a terminating signal: verify. */
		if (verify_all(m))
			return 1;
		if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP)
			return 0;
		if (count && m->verifications >= count)
			return 0;
	}
}

int main(int argc, char **argv)
{
	struct memfill m = { .seed = 1 };
	unsigned long mib, interval = 0, count = 0, seed = 1;
	const char *ready = NULL;
	int wait = 0, opt;
	sigset_t set;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "s:wi:n:r:")) != -1) {
		switch (opt) {
		case 's':
			if (parse_ulong(optarg, &seed))
				usage();
			break;
		case 'w': wait = 1; break;
		case 'i':
			if (parse_ulong(optarg, &interval))
				usage();
			wait = 1;
			break;
		case 'n':
			if (parse_ulong(optarg, &count))
				usage();
			break;
		case 'r': ready = optarg; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || parse_ulong(argv[optind], &mib) || !mib ||
	    mib > (SIZE_MAX >> 20))
		usage();

	/* Blocked before filling, so an early signal waits for the loop. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (wait)
		sigprocmask(SIG_BLOCK, &set, NULL);

	m.seed = seed;
	m.pages = ((size_t)mib << 20) / PAGE;
	m.mem = mmap(NULL, (size_t)mib << 20, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m.mem == MAP_FAILED) {
		perror("memfill: mmap");
		return 2;
	}
	fill_all(&m);
	printf("memfill: filled %zu pages seed %lu\n", m.pages, seed);
	if (ready) {
		FILE *f = fopen(ready, "w");

		if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f)) {
			perror("memfill: ready file");
			return 2;
		}
	}
	if (!wait)
		return verify_all(&m) ? 1 : 0;
	return wait_loop(&m, interval, count);
}
