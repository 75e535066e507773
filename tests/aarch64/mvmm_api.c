/* mvmm-api: one HTTP request to mvmm's API over its Unix socket, for test
 * hosts where curl cannot run (the arm64 e2e tier runs under busybox sh on
 * an x86 root; this is built static for arm64).
 *   mvmm-api [-t timeout_s] SOCKET METHOD PATH [BODY]
 * Prints the status code on the first line, then the response body.
 * Exit status: 0 when a response came back (whatever its status), 1 when
 * none did, 2 for a usage error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define RESPONSE_MAX (1u << 20)

struct buf {
	char *data;
	size_t len, cap;
};

static int buf_add(struct buf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *d = realloc(b->data, cap);
		if (!d)
			return -ENOMEM;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return 0;
}

static int connect_unix(const char *path, unsigned timeout_s)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct timeval tv = {.tv_sec = timeout_s};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads until the server closes (the request said Connection: close). */
static int recv_all(int fd, struct buf *b)
{
	char chunk[4096];
	for (;;) {
		ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if (b->len + (size_t)n > RESPONSE_MAX)
			return -EFBIG;
		if (buf_add(b, chunk, (size_t)n))
			return -ENOMEM;
	}
}

/* A chunked body decoded in place; -EPROTO when it is malformed. */
static int dechunk(char *body, size_t len, size_t *out_len)
{
	size_t in = 0, out = 0;
	for (;;) {
		char *end;
		unsigned long n = strtoul(body + in, &end, 16);
		char *crlf = strstr(end, "\r\n");
		if (end == body + in || !crlf)
			return -EPROTO;
		in = (size_t)(crlf - body) + 2;
		if (n == 0)
			break;
		if (n > len - in)
			return -EPROTO;
		memmove(body + out, body + in, n);
		out += n;
		in += n + 2; /* the chunk's CRLF */
		if (in > len)
			return -EPROTO;
	}
	body[out] = 0;
	*out_len = out;
	return 0;
}

/* Prints "STATUS\nBODY". 0, or -EPROTO for something that is not HTTP. */
static int print_response(struct buf *b)
{
	int status;
	if (!b->data || sscanf(b->data, "HTTP/1.%*d %d", &status) != 1)
		return -EPROTO;
	char *sep = strstr(b->data, "\r\n\r\n");
	if (!sep)
		return -EPROTO;
	*sep = 0;
	char *body = sep + 4;
	size_t body_len = b->len - (size_t)(body - b->data);
	for (char *h = strstr(b->data, "\r\n"); h; h = strstr(h + 2, "\r\n"))
		if (!strncasecmp(h + 2, "Transfer-Encoding:", 18) &&
		    strstr(h + 20, "chunked") &&
		    dechunk(body, body_len, &body_len))
			return -EPROTO;
	printf("%d\n", status);
	fwrite(body, 1, body_len, stdout);
	if (body_len && body[body_len - 1] != '\n')
		putchar('\n');
	return 0;
}

int main(int argc, char **argv)
{
	unsigned timeout_s = 20;
	int opt;
	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt != 't')
			goto usage;
		timeout_s = (unsigned)strtoul(optarg, NULL, 10);
	}
	if (argc - optind < 3 || argc - optind > 4)
		goto usage;
	const char *sock = argv[optind], *method = argv[optind + 1];
	const char *path = argv[optind + 2];
	const char *body = argc - optind == 4 ? argv[optind + 3] : "";

	struct buf req = {0}, resp = {0};
	char head[1024];
	int n = snprintf(head, sizeof(head),
			 "%s %s HTTP/1.1\r\nHost: localhost\r\n"
			 "Accept: application/json\r\n"
			 "Content-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			 method, path, strlen(body));
	if (n < 0 || (size_t)n >= sizeof(head) || buf_add(&req, head, (size_t)n) ||
	    buf_add(&req, body, strlen(body))) {
		fprintf(stderr, "mvmm-api: request too long\n");
		return 2;
	}
	int fd = connect_unix(sock, timeout_s), r = fd < 0 ? fd : 0;
	if (!r)
		r = send_all(fd, req.data, req.len);
	if (!r)
		r = recv_all(fd, &resp);
	if (!r)
		r = print_response(&resp);
	if (fd >= 0)
		close(fd);
	free(req.data);
	free(resp.data);
	if (r) {
		fprintf(stderr, "mvmm-api: %s %s on %s: %s\n", method, path, sock,
			strerror(-r));
		return 1;
	}
	return 0;

usage:
	fprintf(stderr, "usage: mvmm-api [-t timeout_s] SOCKET METHOD PATH [BODY]\n");
	return 2;
}
