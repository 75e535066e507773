/* 8250/16550A UART: the guest console. Transmit goes to an output callback,
 * receive comes from serial_rx_push(). Interrupts on THR-empty and
 * data-ready through an irq_trigger, fired on each new pending condition.
 * Threads: register access on vCPU threads, input on the main loop; one
 * mutex guards the state. */
#ifndef DEVICES_SERIAL_H
#define DEVICES_SERIAL_H

#include <core/irq.h>
#include <devices/bus.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define SERIAL_RX_CAP 1024
#define SERIAL_PORT_LEN 8

struct serial_out {
	void (*write)(void *opaque, const uint8_t *buf, size_t len);
	void *opaque;
};

struct serial {
	pthread_mutex_t lock;
	struct irq_trigger irq;
	struct serial_out out;
	uint8_t ier, lcr, mcr, lsr_extra, scr, dll, dlm, fcr;
	bool thre_pending; /* THR-empty interrupt armed until IIR read/THR write */
	bool irq_level;
	uint8_t rx[SERIAL_RX_CAP];
	size_t rx_head, rx_len;
};

extern const struct bus_dev_ops serial_bus_ops;

void serial_init(struct serial *s, struct irq_trigger irq, struct serial_out out);
void serial_destroy(struct serial *s);
/* Queues received bytes; returns how many fit (the rest should be retried). */
size_t serial_rx_push(struct serial *s, const uint8_t *buf, size_t len);
/* Free space in the receive buffer. */
size_t serial_rx_space(struct serial *s);

#endif
