/* MMIO and port-I/O buses: address ranges mapped to device handlers.
 * Handlers get the offset inside their range, never the absolute address.
 * Threads: built on the main thread before vCPUs start, then read-only;
 * lookups run on vCPU threads, each device locks its own state. */
#ifndef DEVICES_BUS_H
#define DEVICES_BUS_H

#include <stdbool.h>
#include <stdint.h>

struct bus_dev_ops {
	void (*read)(void *dev, uint64_t offset, void *data, unsigned len);
	void (*write)(void *dev, uint64_t offset, const void *data,
		      unsigned len);
};

struct bus_entry {
	uint64_t base;
	uint64_t len;
	const struct bus_dev_ops *ops;
	void *dev;
};

#define BUS_MAX_ENTRIES 32

struct bus {
	unsigned nr;
	struct bus_entry entries[BUS_MAX_ENTRIES]; /* sorted by base */
};

void bus_init(struct bus *bus);
/* 0, -EEXIST on overlap, -ENOSPC when full, -EINVAL on empty/wrapping range. */
int bus_insert(struct bus *bus, uint64_t base, uint64_t len,
	       const struct bus_dev_ops *ops, void *dev);
/* False when no device claims the whole access; reads then return all ones. */
bool bus_read(const struct bus *bus, uint64_t addr, void *data, unsigned len);
bool bus_write(const struct bus *bus, uint64_t addr, const void *data,
	       unsigned len);

#endif
