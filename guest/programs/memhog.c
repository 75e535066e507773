/*
 * memhog: allocates and touches memory to put the guest under pressure, for
 * deflate-on-OOM and allocation tests.
 *
 *   memhog [-c CHUNK_MIB] [-v STEP_MIB] [-H] [-r FILE] MIB
 *
 * Maps and writes MIB MiB in CHUNK_MIB pieces (default 1), stopping early if a
 * mapping fails. Prints "memhog: obtained N MiB" at the end and, with -v,
 * "memhog: touched N MiB" every STEP_MIB, so the last figure survives an OOM
 * kill. With -H it holds the memory until SIGTERM, SIGINT or SIGUSR1; -r FILE
 * is created once the memory is held.
 * Exit status: 0 all MIB obtained, 1 fewer obtained, 2 usage error.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096u

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
		"usage: memhog [-c CHUNK_MIB] [-v STEP_MIB] [-H] [-r FILE] MIB\n");
	exit(2);
}

/* Writes every page, with a non-zero value so no page stays shared zero. */
static void touch(unsigned char *p, size_t len)
{
	for (size_t off = 0; off < len; off += PAGE)
		p[off] = (unsigned char)(off / PAGE) | 1;
}

int main(int argc, char **argv)
{
	unsigned long mib, chunk = 1, step = 0, got = 0;
	const char *ready = NULL;
	int hold = 0, opt;
	sigset_t set;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "c:v:Hr:")) != -1) {
		switch (opt) {
		case 'c':
			if (parse_ulong(optarg, &chunk) || !chunk)
				usage();
			break;
		case 'v':
			if (parse_ulong(optarg, &step))
				usage();
			break;
		case 'H': hold = 1; break;
		case 'r': ready = optarg; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || parse_ulong(argv[optind], &mib) || !mib ||
	    mib > (SIZE_MAX >> 20) || chunk > (SIZE_MAX >> 20))
		usage();

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	if (hold)
		sigprocmask(SIG_BLOCK, &set, NULL);

	while (got < mib) {
		unsigned long n = mib - got < chunk ? mib - got : chunk;
		void *p = mmap(NULL, n << 20, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			perror("memhog: mmap");
			break;
		}
		touch(p, n << 20);
		if (step && (got + n) / step != got / step)
			printf("memhog: touched %lu MiB\n", got + n);
		got += n;
	}
	printf("memhog: obtained %lu MiB\n", got);
	if (hold) {
		if (ready) {
			FILE *f = fopen(ready, "w");

			if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f)) {
				perror("memhog: ready file");
				return 2;
			}
		}
		while (sigwaitinfo(&set, NULL) < 0 && errno == EINTR)
			;
		printf("memhog: released %lu MiB\n", got);
	}
	return got == mib ? 0 : 1;
}
