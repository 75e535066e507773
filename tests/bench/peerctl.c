/* peerctl: the measuring half of tests/bench/peer.sh, in one process per
 * figure so that mvmm and QEMU are polled the same way (no fork per poll;
 * in the emulated test host a fork costs tens of ms of the CPUs the guest
 * runs on).
 *
 *   peerctl stamp                     stdin to stdout, each line prefixed
 *                                     with CLOCK_REALTIME seconds (%.6f);
 *                                     reads at most every 2 ms, so a VMM
 *                                     that writes a byte at a time does not
 *                                     wake it per byte (stamps are up to
 *                                     2 ms late, for both VMMs alike)
 *   peerctl balloon mvmm SOCK MIB TIMEOUT_S
 *   peerctl balloon qemu SOCK MIB MEM_MIB TIMEOUT_S
 *                                     sets the balloon to MIB (QEMU: guest
 *                                     RAM MEM_MIB - MIB), polls every 10 ms
 *                                     until the guest's actual size is the
 *                                     target; prints the ms it took
 *   peerctl rss PID DROP_MIB TIMEOUT_S
 *                                     polls VmRSS every 20 ms; prints when
 *                                     (CLOCK_REALTIME, as stamp) it fell
 *                                     DROP_MIB below its first value (or
 *                                     -1), then the first and last KiB
 *   peerctl footprint PID             VmRSS, the largest mapping's Rss (the
 *                                     guest RAM) and their difference, KiB
 * Exit status 0, or 1 with a message on stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define POLL_BALLOON_NS 10000000L
#define POLL_RSS_NS 20000000L
#define STAMP_READ_NS 2000000L

static double now_s(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ns(long ns)
{
	struct timespec ts = {0, ns};
	nanosleep(&ts, NULL);
}

static int stamp(void)
{
	char buf[4096];
	int at_bol = 1;
	ssize_t n;

	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		double t = now_s(CLOCK_REALTIME);
		for (ssize_t i = 0; i < n; i++) {
			if (at_bol)
				printf("%.6f ", t);
			putchar(buf[i]);
			at_bol = buf[i] == '\n';
		}
		fflush(stdout);
		sleep_ns(STAMP_READ_NS);
	}
	return 0;
}

static int unix_connect(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

static int write_all(int fd, const char *s)
{
	size_t len = strlen(s);
	while (len) {
		ssize_t n = write(fd, s, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One HTTP/1.0 exchange with mvmm's API: the response body, or NULL. */
static char *http(const char *sock, const char *method, const char *path,
		  const char *body, char *buf, size_t len)
{
	char req[512];
	int fd = unix_connect(sock);
	if (fd < 0)
		return NULL;
	snprintf(req, sizeof(req),
		 "%s %s HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		 method, path, body ? strlen(body) : 0, body ? body : "");
	size_t got = 0;
	if (write_all(fd, req) == 0) {
		ssize_t n;
		while (got + 1 < len &&
		       (n = read(fd, buf + got, len - 1 - got)) > 0)
			got += (size_t)n;
	}
	close(fd);
	buf[got] = 0;
	char *b = strstr(buf, "\r\n\r\n");
	return b ? b + 4 : NULL;
}

static long json_long(const char *s, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\"", key);
	const char *p = s ? strstr(s, pat) : NULL;
	if (!p || !(p = strchr(p + strlen(pat), ':')))
		return -1;
	return strtol(p + 1, NULL, 10);
}

static int balloon_mvmm(const char *sock, long mib, double timeout_s)
{
	char buf[4096], body[64];
	snprintf(body, sizeof(body), "{\"amount_mib\": %ld}", mib);
	double t0 = now_s(CLOCK_MONOTONIC);
	if (!http(sock, "PATCH", "/balloon", body, buf, sizeof(buf))) {
		fprintf(stderr, "peerctl: PATCH /balloon failed\n");
		return 1;
	}
	while (now_s(CLOCK_MONOTONIC) - t0 < timeout_s) {
		if (json_long(http(sock, "GET", "/balloon", NULL, buf, sizeof(buf)),
			      "actual_mib") == mib) {
			printf("%.0f\n", (now_s(CLOCK_MONOTONIC) - t0) * 1e3);
			return 0;
		}
		sleep_ns(POLL_BALLOON_NS);
	}
	fprintf(stderr, "peerctl: mvmm balloon did not reach %ld MiB\n", mib);
	return 1;
}

/* A QMP connection: messages are lines; events may arrive before, after
 * or together with a command's answer, and are skipped. */
struct qmp {
	int fd;
	size_t got;
	char buf[8192];
	char line[8192];
};

/* The next line into q->line; 0 or -errno. */
static int qmp_line(struct qmp *q)
{
	for (;;) {
		char *nl = memchr(q->buf, '\n', q->got);
		if (nl) {
			size_t len = (size_t)(nl - q->buf);
			memcpy(q->line, q->buf, len);
			q->line[len] = 0;
			q->got -= len + 1;
			memmove(q->buf, nl + 1, q->got);
			return 0;
		}
		if (q->got == sizeof(q->buf))
			return -ENOBUFS;
		ssize_t n = read(q->fd, q->buf + q->got, sizeof(q->buf) - q->got);
		if (n <= 0)
			return -EIO;
		q->got += (size_t)n;
	}
}

/* Sends cmd and reads up to its answer, left in q->line. */
static int qmp_cmd(struct qmp *q, const char *cmd)
{
	if (write_all(q->fd, cmd))
		return -EIO;
	for (;;) {
		int r = qmp_line(q);
		if (r)
			return r;
		if (strstr(q->line, "\"return\""))
			return 0;
		if (strstr(q->line, "\"error\""))
			return -EIO;
	}
}

static int balloon_qemu(const char *sock, long mib, long mem_mib,
			double timeout_s)
{
	struct qmp q;
	char cmd[128];
	q.got = 0;
	q.line[0] = 0;
	q.fd = unix_connect(sock);
	if (q.fd < 0) {
		fprintf(stderr, "peerctl: %s: %s\n", sock, strerror(-q.fd));
		return 1;
	}
	/* The greeting, then capabilities negotiation. */
	if (qmp_line(&q) ||
	    qmp_cmd(&q, "{\"execute\":\"qmp_capabilities\"}\n"))
		goto fail;
	long long want = (long long)(mem_mib - mib) << 20;
	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"balloon\",\"arguments\":{\"value\":%lld}}\n", want);
	double t0 = now_s(CLOCK_MONOTONIC);
	if (qmp_cmd(&q, cmd))
		goto fail;
	while (now_s(CLOCK_MONOTONIC) - t0 < timeout_s) {
		if (qmp_cmd(&q, "{\"execute\":\"query-balloon\"}\n"))
			goto fail;
		const char *p = strstr(q.line, "\"actual\"");
		p = p ? strchr(p, ':') : NULL;
		if (p && strtoll(p + 1, NULL, 10) == want) {
			printf("%.0f\n", (now_s(CLOCK_MONOTONIC) - t0) * 1e3);
			close(q.fd);
			return 0;
		}
		sleep_ns(POLL_BALLOON_NS);
	}
	fprintf(stderr, "peerctl: QEMU balloon did not reach %ld MiB\n", mib);
	close(q.fd);
	return 1;
fail:
	fprintf(stderr, "peerctl: QMP exchange failed: %.200s\n", q.line);
	close(q.fd);
	return 1;
}

/* A /proc/PID/status field in KiB, or -1. */
static long status_kib(long pid, const char *field)
{
	char path[64], line[256];
	long v = -1;
	size_t flen = strlen(field);
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, flen) && line[flen] == ':') {
			v = strtol(line + flen + 1, NULL, 10);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

static int rss(long pid, long drop_mib, double timeout_s)
{
	long first = status_kib(pid, "VmRSS"), last = first;
	double t0 = now_s(CLOCK_MONOTONIC);
	if (first < 0) {
		fprintf(stderr, "peerctl: no process %ld\n", pid);
		return 1;
	}
	while (now_s(CLOCK_MONOTONIC) - t0 < timeout_s) {
		long v = status_kib(pid, "VmRSS");
		if (v < 0)
			break;
		last = v;
		if (first - v >= drop_mib * 1024) {
			printf("%.6f %ld %ld\n", now_s(CLOCK_REALTIME), first, v);
			return 0;
		}
		sleep_ns(POLL_RSS_NS);
	}
	printf("-1 %ld %ld\n", first, last);
	return 0;
}

static int footprint(long pid)
{
	char path[64], line[512];
	long size = 0, best_size = -1, best_rss = 0, cur_rss = 0;
	snprintf(path, sizeof(path), "/proc/%ld/smaps", pid);
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "peerctl: %s: %s\n", path, strerror(errno));
		return 1;
	}
	/* Each mapping: a header line, then "Size:", "Rss:", ... */
	while (fgets(line, sizeof(line), f)) {
		long v;
		if (sscanf(line, "Size: %ld kB", &v) == 1) {
			size = v;
		} else if (sscanf(line, "Rss: %ld kB", &v) == 1) {
			cur_rss = v;
			if (size > best_size) {
				best_size = size;
				best_rss = cur_rss;
			}
		}
	}
	fclose(f);
	long vmrss = status_kib(pid, "VmRSS");
	printf("vmrss_kib=%ld guest_map_kib=%ld guest_rss_kib=%ld vmm_kib=%ld\n",
	       vmrss, best_size, best_rss, vmrss - best_rss);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "stamp"))
		return stamp();
	if (argc == 6 && !strcmp(argv[1], "balloon") && !strcmp(argv[2], "mvmm"))
		return balloon_mvmm(argv[3], atol(argv[4]), atof(argv[5]));
	if (argc == 7 && !strcmp(argv[1], "balloon") && !strcmp(argv[2], "qemu"))
		return balloon_qemu(argv[3], atol(argv[4]), atol(argv[5]),
				    atof(argv[6]));
	if (argc == 5 && !strcmp(argv[1], "rss"))
		return rss(atol(argv[2]), atol(argv[3]), atof(argv[4]));
	if (argc == 3 && !strcmp(argv[1], "footprint"))
		return footprint(atol(argv[2]));
	fprintf(stderr, "usage: see the comment at the top of tests/bench/peerctl.c\n");
	return 2;
}
