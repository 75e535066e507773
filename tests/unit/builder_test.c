/* The builder without KVM: its API wiring, a refused restore that leaves
 * nothing behind, and pre-boot mode serving a socket until told to stop.
 * Boots and real restores: tests/e2e. */
#include "builder.h"
#include "fakes/fd0_fixture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct vm_config cfg;
static struct builder b;

static void setup(void)
{
	config_defaults(&cfg);
	builder_init(&b, &cfg, 1);
}

static void teardown(void)
{
	builder_destroy(&b);
	config_free(&cfg);
}

TestSuite(builder, .init = setup, .fini = teardown);

/* The route handler's answer to one request, as the main loop gets it. */
static unsigned call(const char *method, const char *path, const char *body,
		     char *out, size_t outlen)
{
	struct api_request req = {method, path, body ? body : "",
				  body ? strlen(body) : 0};
	struct api_response resp = {0};
	api_routes_handle(&b.api_ctx, &req, &resp);
	snprintf(out, outlen, "%s", resp.body ? resp.body : "");
	free(resp.body);
	return resp.status;
}

Test(builder, wires_the_api_to_itself)
{
	char out[512];
	cr_assert_eq(b.api_ctx.cfg, &cfg);
	cr_assert_eq(b.api_ctx.server, &b.api);
	cr_assert_not_null(b.api_ctx.start);
	cr_assert_not_null(b.api_ctx.load);
	cr_assert_null(b.api_ctx.vm);
	cr_assert_eq(call("GET", "/", NULL, out, sizeof(out)), 200);
	cr_assert(strstr(out, "\"Not started\""), "%s", out);
}

Test(builder, a_refused_restore_leaves_nothing_built)
{
	char err[256] = "";
	/* fd 0 must survive: a zeroed VM's destroy would close it. */
	cr_assert_eq(fd0_ensure_open(), 0);

	struct snapshot_load_req req = {.snapshot_path = "/nonexistent/state"};
	int r = builder_restore(&b, &req, err, sizeof(err));
	cr_assert(r < 0, "%d", r);
	cr_assert(strstr(err, "/nonexistent/state"), "%s", err);
	cr_assert_null(b.api_ctx.vm);
	builder_destroy(&b);
	cr_assert(fcntl(0, F_GETFD) >= 0, "fd 0 was closed");
}

Test(builder, the_pre_boot_api_loads_through_the_builder)
{
	char out[512];
	cr_assert_eq(call("PUT", "/snapshot/load",
			  "{\"snapshot_path\": \"/nonexistent/state\"}", out,
			  sizeof(out)),
		     400);
	cr_assert(strstr(out, "snapshot/load: /nonexistent/state"), "%s", out);
	cr_assert_null(b.api_ctx.vm);
	cr_assert_eq(call("GET", "/", NULL, out, sizeof(out)), 200);
	cr_assert(strstr(out, "\"Not started\""), "%s", out);
}

Test(builder, serving_without_a_socket_is_a_no_op)
{
	cr_assert_eq(builder_serve_api(&b), 0);
	cr_assert_eq(b.api.phase, API_SERVER_OFF);
}

Test(builder, pre_boot_mode_fails_on_a_socket_it_cannot_bind)
{
	cfg.api_sock = strdup("/nonexistent/dir/mvmm.sock");
	cr_assert(builder_wait_for_api(&b) < 0);
	cr_assert_eq(b.api.phase, API_SERVER_OFF);
}

/* ---- pre-boot mode over a real socket ---- */

static char sock_path[108];

/* Sends one request; the status line's code, or -1. The socket file
 * exists from bind(), a moment before listen(): connect retries. */
static int http(const char *method, const char *path, const char *body)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strcpy(a.sun_path, sock_path);
	int fd = -1;
	for (int i = 0; i < 500 && fd < 0; i++) {
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			close(fd);
			fd = -1;
			usleep(10000);
		}
	}
	if (fd < 0)
		return -1;
	char req[512];
	int n = snprintf(req, sizeof(req),
			 "%s %s HTTP/1.1\r\nHost: localhost\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			 method, path, strlen(body), body);
	char buf[1024] = "";
	size_t len = 0;
	ssize_t r;
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) == n)
		while (len < sizeof(buf) - 1 &&
		       (r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
			len += (size_t)r;
	close(fd);
	int status = -1;
	return sscanf(buf, "HTTP/1.1 %d", &status) == 1 ? status : -1;
}

static int load_status;

static void *client_main(void *opaque)
{
	(void)opaque;
	/* Until the server listens. */
	for (int i = 0; i < 500 && access(sock_path, F_OK); i++)
		usleep(10000);
	load_status = http("PUT", "/snapshot/load",
			   "{\"snapshot_path\": \"/nonexistent/state\"}");
	/* A refused load does not end pre-boot mode; this does. */
	event_loop_stop(&b.preboot);
	return NULL;
}

Test(builder, pre_boot_mode_serves_until_its_loop_ends)
{
	snprintf(sock_path, sizeof(sock_path), "/tmp/mvmm-buildertest-%d.sock",
		 (int)getpid());
	unlink(sock_path);
	cfg.api_sock = strdup(sock_path);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, client_main, NULL), 0);
	int r = builder_wait_for_api(&b);
	pthread_join(t, NULL);
	cr_assert_eq(load_status, 400, "load answered %d", load_status);
	cr_assert_eq(r, -ECANCELED);
	cr_assert_eq(b.api.phase, API_SERVER_OFF);
	cr_assert_neq(access(sock_path, F_OK), 0, "socket left behind");
}

/* Issue 12: two refused loads in one pre-boot process closed fd 0, then an
 * API connection's socket (libmicrohttpd aborted). */
Test(builder, two_refused_loads_close_no_fd_of_the_process)
{
	char out[512];
	cr_assert_eq(fd0_ensure_open(), 0);
	int keep = open("/dev/null", O_RDONLY); /* an API connection's socket */
	cr_assert(keep >= 0);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(call("PUT", "/snapshot/load",
				  "{\"snapshot_path\": \"/nonexistent/state\"}",
				  out, sizeof(out)),
			     400, "%s", out);
	cr_assert_null(b.api_ctx.vm);
	builder_destroy(&b);
	cr_assert(fcntl(0, F_GETFD) >= 0, "fd 0 was closed");
	cr_assert(fcntl(keep, F_GETFD) >= 0, "fd %d was closed", keep);
	close(keep);
}

/* Issue 12: SIGTERM before the VM runs killed mvmm by the signal and left
 * the socket file. With the signals blocked (main does it first thing),
 * pre-boot mode ends cleanly on one. */
static void *term_when_listening(void *opaque)
{
	(void)opaque;
	for (int i = 0; i < 500 && access(sock_path, F_OK); i++)
		usleep(10000);
	kill(getpid(), SIGTERM);
	return NULL;
}

Test(builder, sigterm_ends_pre_boot_mode_cleanly, .timeout = 10)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	cr_assert_eq(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
	snprintf(sock_path, sizeof(sock_path), "/tmp/mvmm-buildersig-%d.sock",
		 (int)getpid());
	unlink(sock_path);
	cfg.api_sock = strdup(sock_path);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, term_when_listening, NULL), 0);
	int r = builder_wait_for_api(&b);
	pthread_join(t, NULL);
	cr_assert_eq(r, -EINTR);
	cr_assert_eq(b.preboot_signal, SIGTERM);
	cr_assert_eq(b.api.phase, API_SERVER_OFF);
	cr_assert_neq(access(sock_path, F_OK), 0, "socket left behind");
}
