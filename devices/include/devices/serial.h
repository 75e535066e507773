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
/* Logs the UART's registers and interrupt state (a hang dump: a guest
 * idle with THRI enabled and the interrupt pending lost an edge). */
void serial_dump(struct serial *s);

/* ---- Snapshot state (serial_state.c) ----
 * A plain-old-data image of the UART for the snapshot state file: fixed-width
 * fields, explicit padding (zero), layout asserted. The output callback and
 * the irq_trigger are wiring, not state. Threads: any (takes the lock);
 * restore before vCPUs start. */
struct serial_state {
	uint8_t ier, lcr, mcr, lsr_extra, scr, dll, dlm, fcr;
	uint8_t thre_pending; /* 0 or 1 */
	uint8_t pad[3];
	uint32_t rx_len;      /* bytes waiting, <= SERIAL_RX_CAP */
	uint8_t rx[SERIAL_RX_CAP]; /* oldest first; bytes past rx_len zero */
};

void serial_save(struct serial *s, struct serial_state *st);
/* Loads st into s (the wiring of s is kept). A pending interrupt (data ready
 * or THR empty, enabled and gated by OUT2) is raised once more: a harmless
 * extra edge rather than a lost one. -EINVAL, s untouched and the reason
 * logged, for a value the UART cannot hold (rx_len > SERIAL_RX_CAP, unknown
 * IER/MCR/FCR/LSR bits, a flag not 0/1, non-zero padding). */
int serial_restore(struct serial *s, const struct serial_state *st);

#endif
