/* Console output: whole lines go out at once, a partial line after the
 * timer, nothing is lost or reordered. */
#include "vm/console_out.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <sys/timerfd.h>
#include <string.h>
#include <unistd.h>

TestSuite(console_out);

struct rig {
	struct event_loop loop;
	struct console_out c;
	int rd, wr;
};

static void rig_up(struct rig *r)
{
	int p[2];
	cr_assert_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	r->rd = p[0];
	r->wr = p[1];
	cr_assert_eq(event_loop_init(&r->loop), 0);
	cr_assert_eq(console_out_init(&r->c, r->wr, &r->loop), 0);
}

static void rig_down(struct rig *r)
{
	console_out_destroy(&r->c);
	event_loop_destroy(&r->loop);
	close(r->rd);
	close(r->wr);
}

static size_t drain(struct rig *r, char *buf, size_t len)
{
	ssize_t n = read(r->rd, buf, len - 1);
	n = n < 0 ? 0 : n;
	buf[n] = 0;
	return (size_t)n;
}

static void put(struct rig *r, const char *s)
{
	/* Byte by byte, as the UART hands it over. */
	for (size_t i = 0; s[i]; i++)
		console_out_write(&r->c, (const uint8_t *)&s[i], 1);
}

static void stop_soon(void *opaque, uint32_t events)
{
	(void)events;
	event_loop_stop(opaque);
}

Test(console_out, a_line_goes_out_whole_at_its_newline)
{
	struct rig r;
	char buf[256];
	rig_up(&r);
	put(&r, "hello");
	cr_assert_eq(drain(&r, buf, sizeof(buf)), 0, "a partial line waits");
	put(&r, " world\nnext");
	drain(&r, buf, sizeof(buf));
	cr_assert_str_eq(buf, "hello world\n");
	console_out_flush(&r.c);
	drain(&r, buf, sizeof(buf));
	cr_assert_str_eq(buf, "next");
	rig_down(&r);
}

Test(console_out, a_partial_line_goes_out_when_the_timer_fires)
{
	struct rig r;
	char buf[256];
	rig_up(&r);
	put(&r, "mvmm:/# ");
	/* A second timer, later than the console's, ends the loop. */
	int t = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	struct itimerspec its = {
		.it_value.tv_nsec = (CONSOLE_OUT_PARTIAL_MS + 40) * 1000000L,
	};
	cr_assert_geq(t, 0);
	cr_assert_eq(timerfd_settime(t, 0, &its, NULL), 0);
	cr_assert_eq(event_loop_add(&r.loop, t, 0, stop_soon, &r.loop), 0);
	cr_assert_eq(event_loop_run(&r.loop), 0);
	drain(&r, buf, sizeof(buf));
	cr_assert_str_eq(buf, "mvmm:/# ");
	event_loop_del(&r.loop, t);
	close(t);
	rig_down(&r);
}

Test(console_out, a_full_buffer_goes_out_without_a_newline)
{
	struct rig r;
	static char big[CONSOLE_OUT_BUF + 10], got[CONSOLE_OUT_BUF + 10];
	rig_up(&r);
	memset(big, 'x', sizeof(big) - 1);
	put(&r, big);
	cr_assert_eq(drain(&r, got, sizeof(got)), CONSOLE_OUT_BUF);
	console_out_destroy(&r.c); /* flushes the rest */
	cr_assert_eq(drain(&r, got, sizeof(got)), sizeof(big) - 1 - CONSOLE_OUT_BUF);
	event_loop_destroy(&r.loop);
	close(r.rd);
	close(r.wr);
}
