/* 8250 UART snapshot state: a UART programmed and fed through its register
 * file is saved and restored into a fresh one, which then reads back the
 * same registers and bytes and keeps working; invalid images are refused
 * and leave the target untouched. */
#include <devices/serial.h>

#include <core/log.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <linux/serial_reg.h>
#include <string.h>

struct uart {
	struct serial s;
	unsigned irqs;
	uint8_t out[64];
	unsigned nout;
};

static struct uart a, b;

static int count_irq(void *opaque)
{
	((struct uart *)opaque)->irqs++;
	return 0;
}

static void record_out(void *opaque, const uint8_t *buf, size_t len)
{
	struct uart *u = opaque;
	for (size_t i = 0; i < len && u->nout < sizeof(u->out); i++)
		u->out[u->nout++] = buf[i];
}

static void uart_init(struct uart *u)
{
	memset(u, 0, sizeof(*u));
	serial_init(&u->s, (struct irq_trigger){count_irq, u},
		    (struct serial_out){record_out, u});
}

static void setup(void)
{
	log_set_level(LOG_ERROR); /* refusals log by design */
	uart_init(&a);
	uart_init(&b);
}

static void teardown(void)
{
	serial_destroy(&a.s);
	serial_destroy(&b.s);
}

TestSuite(serial_state, .init = setup, .fini = teardown);

static uint8_t rd(struct uart *u, unsigned off)
{
	uint8_t v = 0xee;
	serial_bus_ops.read(&u->s, off, &v, 1);
	return v;
}

static void wr(struct uart *u, unsigned off, uint8_t v)
{
	serial_bus_ops.write(&u->s, off, &v, 1);
}

/* What Linux's 8250 driver sets up: 115200 8N1, FIFO, OUT2, RX interrupt. */
static void program(struct uart *u)
{
	wr(u, UART_LCR, UART_LCR_DLAB);
	wr(u, UART_DLL, 1);
	wr(u, UART_DLM, 0);
	wr(u, UART_LCR, UART_LCR_WLEN8);
	wr(u, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR | 0xc0);
	wr(u, UART_MCR, UART_MCR_OUT2 | UART_MCR_DTR | UART_MCR_RTS);
	wr(u, UART_IER, UART_IER_RDI);
	wr(u, UART_SCR, 0x5a);
}

static void push(struct uart *u, unsigned n, uint8_t first)
{
	uint8_t buf[SERIAL_RX_CAP];
	for (unsigned i = 0; i < n; i++)
		buf[i] = (uint8_t)(first + i);
	cr_assert_eq(serial_rx_push(&u->s, buf, n), n);
}

static void expect_unchanged(struct uart *u, const struct serial_state *before)
{
	struct serial_state now;
	serial_save(&u->s, &now);
	cr_assert_eq(memcmp(&now, before, sizeof(now)), 0,
		     "a refused restore changed the UART");
}

Test(serial_state, round_trip_keeps_registers_and_wrapped_input)
{
	program(&a);
	/* Move the ring's head so the pending bytes wrap around its end. */
	push(&a, 1000, 0);
	for (unsigned i = 0; i < 900; i++)
		rd(&a, UART_RX);
	push(&a, 500, 7);

	struct serial_state st;
	serial_save(&a.s, &st);
	cr_assert_eq(st.rx_len, 600);
	cr_assert_eq(serial_restore(&b.s, &st), 0);

	cr_assert_eq(rd(&b, UART_LCR), rd(&a, UART_LCR));
	cr_assert_eq(rd(&b, UART_MCR), rd(&a, UART_MCR));
	cr_assert_eq(rd(&b, UART_IER), rd(&a, UART_IER));
	cr_assert_eq(rd(&b, UART_SCR), 0x5a);
	cr_assert_eq(rd(&b, UART_IIR), rd(&a, UART_IIR));
	wr(&b, UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8);
	cr_assert_eq(rd(&b, UART_DLL), 1);
	cr_assert_eq(rd(&b, UART_DLM), 0);
	wr(&b, UART_LCR, UART_LCR_WLEN8);
	for (unsigned i = 0; i < 600; i++) {
		cr_assert(rd(&b, UART_LSR) & UART_LSR_DR);
		cr_assert_eq(rd(&b, UART_RX), rd(&a, UART_RX), "byte %u", i);
	}
	cr_assert_not(rd(&b, UART_LSR) & UART_LSR_DR);
}

Test(serial_state, restored_uart_keeps_transmitting_and_receiving)
{
	program(&a);
	struct serial_state st;
	serial_save(&a.s, &st);
	cr_assert_eq(serial_restore(&b.s, &st), 0);
	wr(&b, UART_TX, 'o');
	wr(&b, UART_TX, 'k');
	cr_assert_eq(b.nout, 2);
	cr_assert_eq(memcmp(b.out, "ok", 2), 0);
	unsigned irqs = b.irqs;
	push(&b, 3, 'x');
	cr_assert_eq(b.irqs, irqs + 1, "data ready interrupts as before");
	cr_assert_eq(rd(&b, UART_RX), 'x');
}

Test(serial_state, pending_interrupt_is_raised_again_once)
{
	program(&a);
	push(&a, 4, 0);
	cr_assert_eq(a.irqs, 1);
	struct serial_state st;
	serial_save(&a.s, &st);
	cr_assert_eq(serial_restore(&b.s, &st), 0);
	cr_assert_eq(b.irqs, 1, "data was pending: one edge");
	/* The line stays up: more input raises no second edge. */
	push(&b, 1, 9);
	cr_assert_eq(b.irqs, 1);
}

Test(serial_state, nothing_pending_raises_nothing)
{
	program(&a);
	struct serial_state st;
	serial_save(&a.s, &st);
	cr_assert_eq(serial_restore(&b.s, &st), 0);
	cr_assert_eq(b.irqs, 0);
	/* Without OUT2 the line is gated even with data waiting. */
	wr(&a, UART_MCR, 0);
	push(&a, 2, 0);
	serial_save(&a.s, &st);
	uart_init(&b);
	cr_assert_eq(serial_restore(&b.s, &st), 0);
	cr_assert_eq(b.irqs, 0);
}

Test(serial_state, overrun_flag_survives)
{
	program(&a);
	push(&a, SERIAL_RX_CAP, 0);
	uint8_t extra = 1;
	cr_assert_eq(serial_rx_push(&a.s, &extra, 1), 0);
	wr(&a, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2);
	wr(&a, UART_TX, 0x33); /* loopback into a full buffer: overrun */
	struct serial_state st;
	serial_save(&a.s, &st);
	cr_assert_eq(st.lsr_extra, UART_LSR_OE);
	cr_assert_eq(serial_restore(&b.s, &st), 0);
	cr_assert(rd(&b, UART_LSR) & UART_LSR_OE);
	cr_assert_not(rd(&b, UART_LSR) & UART_LSR_OE, "read clears it");
}

/* Each corruption of a valid image is refused and leaves b as it was. */
static void expect_refused(void (*corrupt)(struct serial_state *))
{
	program(&a);
	push(&a, 10, 0);
	struct serial_state st, before;
	serial_save(&a.s, &st);
	corrupt(&st);
	wr(&b, UART_SCR, 0x77);
	serial_save(&b.s, &before);
	cr_assert_eq(serial_restore(&b.s, &st), -EINVAL);
	expect_unchanged(&b, &before);
}

static void big_rx_len(struct serial_state *st) { st->rx_len = SERIAL_RX_CAP + 1; }
static void bad_ier(struct serial_state *st) { st->ier = 0x10; }
static void bad_mcr(struct serial_state *st) { st->mcr = 0x20; }
static void bad_fcr(struct serial_state *st) { st->fcr = UART_FCR_CLEAR_RCVR; }
static void bad_lsr(struct serial_state *st) { st->lsr_extra = UART_LSR_BI; }
static void bad_flag(struct serial_state *st) { st->thre_pending = 2; }
static void bad_pad(struct serial_state *st) { st->pad[1] = 1; }
static void byte_past_len(struct serial_state *st) { st->rx[st->rx_len] = 1; }

Test(serial_state, refuses_rx_len_above_capacity) { expect_refused(big_rx_len); }
Test(serial_state, refuses_unknown_ier_bits) { expect_refused(bad_ier); }
Test(serial_state, refuses_unknown_mcr_bits) { expect_refused(bad_mcr); }
Test(serial_state, refuses_unknown_fcr_bits) { expect_refused(bad_fcr); }
Test(serial_state, refuses_lsr_errors_it_never_sets) { expect_refused(bad_lsr); }
Test(serial_state, refuses_flag_not_0_or_1) { expect_refused(bad_flag); }
Test(serial_state, refuses_nonzero_padding) { expect_refused(bad_pad); }
Test(serial_state, refuses_bytes_past_rx_len) { expect_refused(byte_past_len); }
