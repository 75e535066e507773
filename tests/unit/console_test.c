/* The guest console's output (vm/console.c). Issue 12: a reader that stops
 * reading made a vCPU block in write(stdout) holding the UART's lock, the
 * main loop block on that lock, and SIGTERM unable to join the vCPU; and
 * the guest could print without limit. */
#include "vm/console.h"

#include <core/clock.h>
#include <devices/serial.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/serial_reg.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct console con;
static int p[2] = {-1, -1};

static void setup(void)
{
	/* A reader that goes away must not kill the test (mvmm ignores it
	 * from process start). */
	signal(SIGPIPE, SIG_IGN);
	cr_assert_eq(pipe(p), 0);
}

static void teardown(void)
{
	console_destroy(&con);
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
}

TestSuite(console, .init = setup, .fini = teardown, .timeout = 20);

static uint64_t ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (uint64_t)((t1.tv_sec - t0->tv_sec) * 1000 +
			  (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

static size_t read_all(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	fcntl(fd, F_SETFL, fl);
	return len;
}

Test(console, output_arrives_in_order)
{
	char buf[64];
	cr_assert_eq(console_init(&con, p[1]), 0);
	console_write(&con, (const uint8_t *)"hello, ", 7);
	console_write(&con, (const uint8_t *)"world", 5);
	console_flush(&con);
	size_t n = read_all(p[0], buf, sizeof(buf) - 1);
	buf[n] = 0;
	cr_assert_str_eq(buf, "hello, world");
	struct console_stats st;
	console_get_stats(&con, &st);
	cr_assert_eq(st.bytes_written, 12);
	cr_assert_eq(st.bytes_dropped_full + st.bytes_dropped_rate, 0);
}

/* Nobody reads the pipe: writes and flushes return at once; what neither
 * the pipe nor the ring holds is counted as dropped. */
Test(console, a_reader_that_stopped_never_blocks_a_writer)
{
	static uint8_t chunk[4096];
	struct timespec t0;
	memset(chunk, 'x', sizeof(chunk));
	cr_assert_eq(console_init(&con, p[1]), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 200; i++) { /* 800 KiB, under the burst */
		console_write(&con, chunk, sizeof(chunk));
		console_flush(&con);
	}
	cr_assert_lt(ms_since(&t0), 2000, "the console blocked");
	struct console_stats st;
	console_get_stats(&con, &st);
	cr_assert_gt(st.bytes_written, 0);
	cr_assert_leq(st.bytes_written, 1024 * 1024, "more than a pipe holds");
	cr_assert_gt(st.bytes_dropped_full, 0);
	cr_assert_eq(st.bytes_written + st.bytes_dropped_full +
			     CONSOLE_RING_BYTES,
		     200 * sizeof(chunk), "every byte accounted for: %llu %llu",
		     (unsigned long long)st.bytes_written,
		     (unsigned long long)st.bytes_dropped_full);
	/* stdout's own description stays blocking for everyone else. */
	cr_assert_eq(fcntl(p[1], F_GETFL) & O_NONBLOCK, 0);
}

/* The defect itself: a vCPU writing the UART while the console's reader
 * stalls, and the main loop's path into the same UART lock (on_stdin). */
struct uart_writer {
	struct serial *s;
	unsigned bytes;
	bool done;
};

static void *vcpu_prints(void *arg)
{
	struct uart_writer *w = arg;
	for (unsigned i = 0; i < w->bytes; i++) {
		uint8_t c = 'a' + i % 26;
		serial_bus_ops.write(w->s, UART_TX, &c, 1);
	}
	w->done = true;
	return NULL;
}

Test(console, uart_output_to_a_stalled_reader_never_blocks_the_vcpu)
{
	struct serial s;
	struct irq_trigger none = {0};
	cr_assert_eq(console_init(&con, p[1]), 0);
	serial_init(&s, none, (struct serial_out){console_serial_out, &con});
	/* Far more than the pipe (64 KiB) and the ring hold. */
	struct uart_writer w = {&s, 512 * 1024, false};
	pthread_t th;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(pthread_create(&th, NULL, vcpu_prints, &w), 0);
	/* The main loop meanwhile: flushes and takes the UART's lock. */
	while (!w.done && ms_since(&t0) < 5000) {
		console_flush(&con);
		cr_assert_gt(serial_rx_space(&s), 0);
	}
	cr_assert(w.done, "the vCPU is stuck writing the console");
	pthread_join(th, NULL);
	struct console_stats st;
	console_get_stats(&con, &st);
	cr_assert_gt(st.bytes_dropped_full, 0);
	serial_destroy(&s);
}

/* Written in ring-sized pieces to a file (which takes everything), so only
 * the rate limit drops. */
static void write_chunked(const uint8_t *buf, size_t len, uint64_t now_ns)
{
	for (size_t off = 0; off < len; off += CONSOLE_RING_BYTES / 2) {
		size_t n = len - off < CONSOLE_RING_BYTES / 2 ? len - off
							       : CONSOLE_RING_BYTES / 2;
		console_write_at(&con, buf + off, n, now_ns);
		console_flush(&con);
	}
}

Test(console, the_guest_is_rate_limited_past_its_burst)
{
	static uint8_t big[CONSOLE_BURST_BYTES + 1000];
	char path[] = "/tmp/mvmm-console-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	unlink(path);
	memset(big, 'y', sizeof(big));
	cr_assert_eq(console_init(&con, fd), 0);
	uint64_t t = clock_now_ns();
	write_chunked(big, sizeof(big), t);
	struct console_stats st;
	console_get_stats(&con, &st);
	cr_assert_eq(st.bytes_dropped_rate, 1000, "past the burst");
	cr_assert_eq(st.bytes_written, CONSOLE_BURST_BYTES);
	/* One second later: the rate's worth, not more. */
	write_chunked(big, sizeof(big), t + 1000000000ULL);
	console_get_stats(&con, &st);
	cr_assert_eq(st.bytes_written,
		     CONSOLE_BURST_BYTES + CONSOLE_RATE_BYTES_PER_S);
	cr_assert_eq(st.bytes_dropped_full, 0);
	console_destroy(&con);
	close(fd);
}

/* The main loop drains what the pipe could not take once the reader is
 * back, on EPOLLOUT, without anyone writing more. */
struct loop_reader {
	struct event_loop *loop;
	int fd;
	size_t want, got;
};

static void *slow_reader(void *arg)
{
	struct loop_reader *r = arg;
	char buf[8192];
	usleep(50 * 1000); /* the pipe is full by now */
	while (r->got < r->want) {
		ssize_t n = read(r->fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		r->got += (size_t)n;
	}
	event_loop_stop(r->loop);
	return NULL;
}

Test(console, the_main_loop_drains_on_epollout)
{
	static uint8_t data[CONSOLE_RING_BYTES];
	struct event_loop loop;
	memset(data, 'z', sizeof(data));
	cr_assert_eq(event_loop_init(&loop), 0);
	cr_assert_eq(console_init(&con, p[1]), 0);
	cr_assert_eq(console_attach(&con, &loop), 0);
	/* The ring takes 64 KiB; the pipe 64 KiB too: fill both. */
	console_write(&con, data, sizeof(data));
	console_flush(&con);
	console_write(&con, data, sizeof(data));
	struct loop_reader r = {&loop, p[0], 2 * sizeof(data), 0};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, slow_reader, &r), 0);
	cr_assert_eq(event_loop_run(&loop), 0);
	pthread_join(th, NULL);
	cr_assert_eq(r.got, 2 * sizeof(data));
	struct console_stats st;
	console_get_stats(&con, &st);
	cr_assert_eq(st.bytes_written, 2 * sizeof(data));
	cr_assert_eq(st.bytes_dropped_full, 0);
	console_destroy(&con);
	event_loop_destroy(&loop);
}

Test(console, a_reader_that_went_away_costs_only_the_output)
{
	cr_assert_eq(console_init(&con, p[1]), 0);
	close(p[0]);
	p[0] = -1;
	console_write(&con, (const uint8_t *)"lost", 4);
	console_flush(&con); /* EPIPE, not SIGPIPE's death */
	struct console_stats st;
	console_get_stats(&con, &st);
	cr_assert_eq(st.bytes_dropped_full, 4);
}

Test(console, a_socket_is_written_without_blocking)
{
	int sv[2];
	char buf[16];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_eq(console_init(&con, sv[1]), 0);
	console_write(&con, (const uint8_t *)"sock", 4);
	console_flush(&con);
	cr_assert_eq(read(sv[0], buf, sizeof(buf)), 4);
	cr_assert_eq(fcntl(sv[1], F_GETFL) & O_NONBLOCK, 0);
	console_destroy(&con);
	close(sv[0]);
	close(sv[1]);
}

/* The exit's drain: a guest's last lines wait for a slow reader (a crash
 * left its last lines in the ring, cut mid-line), but not for one that
 * stopped reading. */
static size_t filled; /* bytes the pipe held before the console's */

static void *read_after_100ms(void *arg)
{
	static char sink[64 * 1024];
	size_t want = filled + *(size_t *)arg, got = 0;
	usleep(100 * 1000);
	while (got < want) {
		ssize_t n = read(p[0], sink, sizeof(sink));
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return NULL;
}

static void fill_pipe_and_queue(size_t queued)
{
	static uint8_t chunk[4096];
	memset(chunk, 'y', sizeof(chunk));
	cr_assert_eq(console_init(&con, p[1]), 0);
	int fl = fcntl(p[1], F_GETFL);
	fcntl(p[1], F_SETFL, fl | O_NONBLOCK);
	ssize_t n;
	filled = 0;
	while ((n = write(p[1], chunk, sizeof(chunk))) > 0)
		filled += (size_t)n;
	fcntl(p[1], F_SETFL, fl);
	for (size_t i = 0; i < queued; i += sizeof(chunk))
		console_write(&con, chunk, sizeof(chunk));
}

Test(console, drain_waits_for_a_slow_reader)
{
	static size_t queued = 16 * 1024;
	fill_pipe_and_queue(queued);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, read_after_100ms, &queued), 0);
	console_drain(&con, 5000);
	struct console_stats st;
	console_get_stats(&con, &st);
	cr_assert_eq(st.bytes_written, queued, "the queued lines were not written");
	pthread_join(th, NULL);
}

Test(console, drain_gives_up_on_a_stopped_reader)
{
	fill_pipe_and_queue(16 * 1024);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	console_drain(&con, 200);
	uint64_t ms = ms_since(&t0);
	cr_assert(ms >= 150 && ms < 2000, "drain took %llu ms", (unsigned long long)ms);
	struct console_stats st;
	console_get_stats(&con, &st);
	cr_assert_eq(st.bytes_written, 0);
}
