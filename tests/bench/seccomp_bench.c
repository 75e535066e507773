/* seccomp_bench: what a thread's seccomp filter costs per system call, the
 * price of confinement that a guest-side figure (an inflate of a few hundred
 * madvise calls) cannot resolve from its noise. For each thread kind a
 * forked child times the same calls before and after installing that
 * kind's filter (vmm/confine/, default kill action):
 *   madvise  madvise(MADV_DONTNEED) of one 4 KiB page, the discard's call
 *            (main thread; the vCPU and API lists do not allow it)
 *   write    write() of one byte to /dev/null, allowed on every thread
 *
 *   seccomp_bench [CALLS]   (default 200000; medians of 5 runs)
 */
#include "confine/confine.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUNS 5

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median ns per call of RUNS runs of calls calls. */
static double per_call(bool use_madvise, long calls, char *page, int null_fd)
{
	double t[RUNS];
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ns();
		for (long i = 0; i < calls; i++) {
			if (use_madvise) {
				page[0] = 1; /* a page to discard each time */
				madvise(page, 4096, MADV_DONTNEED);
			} else if (write(null_fd, "x", 1) != 1) {
				return -1;
			}
		}
		t[r] = (now_ns() - t0) / (double)calls;
	}
	qsort(t, RUNS, sizeof(t[0]), cmp_double);
	return t[RUNS / 2];
}

/* In a child: before and after kind's filter; prints one line. */
static int measure(enum confine_thread kind, bool use_madvise, long calls)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (page == MAP_FAILED || null_fd < 0)
			_exit(2);
		double before = per_call(use_madvise, calls, page, null_fd);
		char err[256];
		if (confine_seccomp_install(kind, CONFINE_KILL, err, sizeof(err))) {
			fprintf(stderr, "seccomp_bench: %s\n", err);
			_exit(3);
		}
		double after = per_call(use_madvise, calls, page, null_fd);
		printf("| %s | %s | %.0f | %.0f | %+.0f |\n",
		       confine_thread_name(kind),
		       use_madvise ? "madvise(MADV_DONTNEED), 4 KiB" : "write(/dev/null), 1 byte",
		       before, after, after - before);
		fflush(stdout);
		_exit(0);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	long calls = argc > 1 ? atol(argv[1]) : 200000;
	if (calls <= 0) {
		fprintf(stderr, "usage: seccomp_bench [CALLS]\n");
		return 2;
	}
	printf("seccomp_bench: %ld calls per run, median of %d runs, ns per call\n\n",
	       calls, RUNS);
	printf("| thread kind | call | unfiltered | filtered | cost |\n");
	printf("|---|---|---|---|---|\n");
	int r = measure(CONFINE_MAIN, true, calls);
	r |= measure(CONFINE_MAIN, false, calls);
	r |= measure(CONFINE_VCPU, false, calls);
	r |= measure(CONFINE_API, false, calls);
	return r ? 1 : 0;
}
