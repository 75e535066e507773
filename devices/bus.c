#include <devices/bus.h>

#include <core/checked.h>

#include <errno.h>
#include <string.h>

void bus_init(struct bus *bus) { memset(bus, 0, sizeof(*bus)); }

int bus_insert(struct bus *bus, uint64_t base, uint64_t len,
	       const struct bus_dev_ops *ops, void *dev)
{
	if (len == 0 || !range_ok(base, len) || !ops)
		return -EINVAL;
	if (bus->nr == BUS_MAX_ENTRIES)
		return -ENOSPC;
	unsigned pos = 0;
	while (pos < bus->nr && bus->entries[pos].base < base)
		pos++;
	if (pos > 0) {
		const struct bus_entry *prev = &bus->entries[pos - 1];
		if (prev->base + prev->len > base)
			return -EEXIST;
	}
	if (pos < bus->nr && base + len > bus->entries[pos].base)
		return -EEXIST;
	memmove(&bus->entries[pos + 1], &bus->entries[pos],
		(bus->nr - pos) * sizeof(bus->entries[0]));
	bus->entries[pos] = (struct bus_entry){base, len, ops, dev};
	bus->nr++;
	return 0;
}

static const struct bus_entry *bus_find(const struct bus *bus, uint64_t addr,
					unsigned len)
{
	unsigned lo = 0, hi = bus->nr;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		const struct bus_entry *e = &bus->entries[mid];
		if (addr < e->base)
			hi = mid;
		else if (addr >= e->base + e->len)
			lo = mid + 1;
		else
			return range_within(addr, len, e->base, e->len) ? e
									 : NULL;
	}
	return NULL;
}

bool bus_read(const struct bus *bus, uint64_t addr, void *data, unsigned len)
{
	const struct bus_entry *e = bus_find(bus, addr, len);
	if (!e || !e->ops->read) {
		memset(data, 0xff, len);
		return false;
	}
	e->ops->read(e->dev, addr - e->base, data, len);
	return true;
}

bool bus_write(const struct bus *bus, uint64_t addr, const void *data,
	       unsigned len)
{
	const struct bus_entry *e = bus_find(bus, addr, len);
	if (!e || !e->ops->write)
		return false;
	e->ops->write(e->dev, addr - e->base, data, len);
	return true;
}
