#include <devices/serial.h>

#include <core/log.h>

#include <linux/serial_reg.h>
#include <string.h>

static void serial_update_irq(struct serial *s)
{
	bool pending = false;
	if ((s->ier & UART_IER_RDI) && s->rx_len)
		pending = true;
	if ((s->ier & UART_IER_THRI) && s->thre_pending)
		pending = true;
	/* The 8250 output is gated by OUT2 on a PC. */
	if (!(s->mcr & UART_MCR_OUT2))
		pending = false;
	if (pending && !s->irq_level)
		irq_fire(&s->irq);
	s->irq_level = pending;
}

void serial_init(struct serial *s, struct irq_trigger irq, struct serial_out out)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->irq = irq;
	s->out = out;
	s->dll = 12; /* 9600 baud */
	s->lcr = UART_LCR_WLEN8;
}

void serial_destroy(struct serial *s) { pthread_mutex_destroy(&s->lock); }

static void serial_rx_put(struct serial *s, uint8_t c)
{
	if (s->rx_len == SERIAL_RX_CAP) {
		s->lsr_extra |= UART_LSR_OE;
		return;
	}
	s->rx[(s->rx_head + s->rx_len) % SERIAL_RX_CAP] = c;
	s->rx_len++;
}

size_t serial_rx_space(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	size_t n = SERIAL_RX_CAP - s->rx_len;
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial_rx_push(struct serial *s, const uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&s->lock);
	size_t n = 0;
	while (n < len && s->rx_len < SERIAL_RX_CAP)
		serial_rx_put(s, buf[n++]);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

static uint8_t serial_iir(struct serial *s)
{
	uint8_t fifo = (s->fcr & UART_FCR_ENABLE_FIFO) ? 0xc0 : 0;
	if ((s->ier & UART_IER_RDI) && s->rx_len)
		return fifo | UART_IIR_RDI;
	if ((s->ier & UART_IER_THRI) && s->thre_pending)
		return fifo | UART_IIR_THRI;
	return fifo | UART_IIR_NO_INT;
}

static uint8_t serial_msr(const struct serial *s)
{
	if (!(s->mcr & UART_MCR_LOOP))
		return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	uint8_t m = 0;
	if (s->mcr & UART_MCR_RTS)
		m |= UART_MSR_CTS;
	if (s->mcr & UART_MCR_DTR)
		m |= UART_MSR_DSR;
	if (s->mcr & UART_MCR_OUT1)
		m |= UART_MSR_RI;
	if (s->mcr & UART_MCR_OUT2)
		m |= UART_MSR_DCD;
	return m;
}

static uint8_t serial_read_reg(struct serial *s, uint64_t off)
{
	bool dlab = s->lcr & UART_LCR_DLAB;
	switch (off) {
	case UART_RX:
		if (dlab)
			return s->dll;
		if (!s->rx_len)
			return 0;
		uint8_t c = s->rx[s->rx_head];
		s->rx_head = (s->rx_head + 1) % SERIAL_RX_CAP;
		s->rx_len--;
		return c;
	case UART_IER:
		return dlab ? s->dlm : s->ier;
	case UART_IIR: {
		uint8_t iir = serial_iir(s);
		/* Reading IIR acknowledges a THR-empty interrupt. */
		if ((iir & 0x0f) == UART_IIR_THRI)
			s->thre_pending = false;
		return iir;
	}
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR: {
		uint8_t lsr = UART_LSR_TEMT | UART_LSR_THRE | s->lsr_extra;
		if (s->rx_len)
			lsr |= UART_LSR_DR;
		s->lsr_extra = 0;
		return lsr;
	}
	case UART_MSR:
		return serial_msr(s);
	default:
		return s->scr;
	}
}

static void serial_write_reg(struct serial *s, uint64_t off, uint8_t v)
{
	bool dlab = s->lcr & UART_LCR_DLAB;
	switch (off) {
	case UART_TX:
		if (dlab) {
			s->dll = v;
			return;
		}
		if (s->mcr & UART_MCR_LOOP)
			serial_rx_put(s, v);
		else if (s->out.write)
			s->out.write(s->out.opaque, &v, 1);
		/* Transmission is instant: THR is empty again at once. */
		s->thre_pending = true;
		return;
	case UART_IER:
		if (dlab) {
			s->dlm = v;
			return;
		}
		/* Enabling THRI while THR is empty raises the interrupt. */
		if (!(s->ier & UART_IER_THRI) && (v & UART_IER_THRI))
			s->thre_pending = true;
		s->ier = v & 0x0f;
		return;
	case UART_FCR:
		s->fcr = v & (UART_FCR_ENABLE_FIFO | 0xc0);
		if (v & UART_FCR_CLEAR_RCVR)
			s->rx_len = 0;
		return;
	case UART_LCR:
		s->lcr = v;
		return;
	case UART_MCR:
		s->mcr = v & 0x1f;
		return;
	case UART_SCR:
		s->scr = v;
		return;
	default: /* LSR and MSR are read-only */
		return;
	}
}

static void serial_bus_read(void *dev, uint64_t off, void *data, unsigned len)
{
	struct serial *s = dev;
	memset(data, 0, len);
	if (len != 1 || off >= SERIAL_PORT_LEN)
		return;
	pthread_mutex_lock(&s->lock);
	*(uint8_t *)data = serial_read_reg(s, off);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static void serial_bus_write(void *dev, uint64_t off, const void *data,
			     unsigned len)
{
	struct serial *s = dev;
	if (len != 1 || off >= SERIAL_PORT_LEN)
		return;
	pthread_mutex_lock(&s->lock);
	serial_write_reg(s, off, *(const uint8_t *)data);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

void serial_dump(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	log_info("dump: serial: ier 0x%x iir 0x%x mcr 0x%x lcr 0x%x, "
		 "thr-empty interrupt %s, line %s, %zu bytes received unread",
		 s->ier, serial_iir(s), s->mcr, s->lcr,
		 s->thre_pending ? "pending" : "clear",
		 s->irq_level ? "raised" : "low", s->rx_len);
	pthread_mutex_unlock(&s->lock);
}

const struct bus_dev_ops serial_bus_ops = {
	.read = serial_bus_read,
	.write = serial_bus_write,
};
