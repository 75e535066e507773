/* Snapshot save/restore of the 8250 UART. The state file is untrusted
 * input: every field is checked against what the register file can hold
 * before anything is changed. */
#include <devices/serial.h>

#include <core/io.h>
#include <core/log.h>

#include <errno.h>
#include <linux/serial_reg.h>
#include <stddef.h>
#include <string.h>

/* The state file stores the struct as raw bytes: its layout is part of the
 * file format (a change here needs a new SNAPFILE_VERSION). */
_Static_assert(sizeof(struct serial_state) == 16 + SERIAL_RX_CAP,
	       "serial_state layout");
_Static_assert(offsetof(struct serial_state, rx_len) == 12,
	       "serial_state layout");

/* Bits each register keeps, as serial_write_reg masks them. */
#define SERIAL_IER_BITS 0x0f
#define SERIAL_MCR_BITS 0x1f
#define SERIAL_FCR_BITS (UART_FCR_ENABLE_FIFO | 0xc0)

void serial_save(struct serial *s, struct serial_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&s->lock);
	st->ier = s->ier;
	st->lcr = s->lcr;
	st->mcr = s->mcr;
	st->lsr_extra = s->lsr_extra;
	st->scr = s->scr;
	st->dll = s->dll;
	st->dlm = s->dlm;
	st->fcr = s->fcr;
	st->thre_pending = s->thre_pending;
	st->rx_len = (uint32_t)s->rx_len;
	/* Linearised, oldest byte first: restore needs no ring position. */
	for (size_t i = 0; i < s->rx_len; i++)
		st->rx[i] = s->rx[(s->rx_head + i) % SERIAL_RX_CAP];
	pthread_mutex_unlock(&s->lock);
}

static const char *serial_state_invalid(const struct serial_state *st)
{
	if (st->rx_len > SERIAL_RX_CAP)
		return "rx_len above the receive buffer's capacity";
	if (st->ier & ~SERIAL_IER_BITS)
		return "unknown IER bits";
	if (st->mcr & ~SERIAL_MCR_BITS)
		return "unknown MCR bits";
	if (st->fcr & ~SERIAL_FCR_BITS)
		return "unknown FCR bits";
	if (st->lsr_extra & ~UART_LSR_OE)
		return "LSR error bits other than overrun";
	if (st->thre_pending > 1)
		return "thre_pending not 0 or 1";
	if (!io_all_zero(st->pad, sizeof(st->pad)))
		return "non-zero padding";
	if (!io_all_zero(st->rx + st->rx_len, SERIAL_RX_CAP - st->rx_len))
		return "bytes past rx_len";
	return NULL;
}

int serial_restore(struct serial *s, const struct serial_state *st)
{
	const char *why = serial_state_invalid(st);
	if (why) {
		log_warn("serial: snapshot state refused: %s", why);
		return -EINVAL;
	}
	pthread_mutex_lock(&s->lock);
	s->ier = st->ier;
	s->lcr = st->lcr;
	s->mcr = st->mcr;
	s->lsr_extra = st->lsr_extra;
	s->scr = st->scr;
	s->dll = st->dll;
	s->dlm = st->dlm;
	s->fcr = st->fcr;
	s->thre_pending = st->thre_pending;
	memcpy(s->rx, st->rx, st->rx_len);
	s->rx_head = 0;
	s->rx_len = st->rx_len;
	/* The line starts low, so a pending condition fires once below. */
	s->irq_level = false;
	uint8_t scr = s->scr;
	pthread_mutex_unlock(&s->lock);
	/* Rewriting the scratch register changes nothing else and re-derives
	 * the interrupt line through the register path. */
	serial_bus_ops.write(s, UART_SCR, &scr, 1);
	return 0;
}
