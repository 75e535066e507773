/* Minimal i8042 keyboard controller: enough for the guest to find it and to
 * reset the machine with command 0xFE. Threads: vCPU threads. */
#ifndef DEVICES_I8042_H
#define DEVICES_I8042_H

#include <devices/bus.h>

#include <stdint.h>

struct i8042 {
	void (*reset)(void *opaque); /* called on the 0xFE pulse */
	void *opaque;
	uint8_t cmd_byte;
	uint8_t pending_cmd;
	uint8_t out; /* output buffer */
	bool out_full;
};

/* Covers ports 0x60-0x64; offsets 0 (data) and 4 (status/command). */
#define I8042_BASE 0x60
#define I8042_LEN 5

extern const struct bus_dev_ops i8042_bus_ops;
void i8042_init(struct i8042 *k, void (*reset)(void *), void *opaque);

#endif
