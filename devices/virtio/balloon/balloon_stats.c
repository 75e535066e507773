/* statsq (5.5.6.3): the device holds the driver's one buffer and hands it
 * back on each tick; the driver refills it and the device parses the
 * 10-byte entries (le16 tag, le64 val, packed). Unknown tags are ignored. */
#include "balloon_handlers.h"

#include "balloon_queue.h"

#include <core/checked.h>
#include <core/clock.h>

#include <endian.h>
#include <errno.h>
#include <string.h>

#define STAT_ENTRY_BYTES 10
/* Linux sends at most 16 entries; a longer buffer is read up to this. */
#define STATS_MAX_ENTRIES 64

static void stats_parse(struct balloon *b, unsigned q,
			const struct virtq_chain *chain)
{
	uint8_t buf[STATS_MAX_ENTRIES * STAT_ENTRY_BYTES];
	uint32_t len = MIN(chain->read_bytes, (uint32_t)sizeof(buf));
	len -= len % STAT_ENTRY_BYTES; /* a trailing partial entry is ignored */
	if (len == 0)
		return;
	if (virtq_chain_read(&b->queues[q], chain, 0, buf, len) != (int)len)
		return;

	struct balloon_stats *s = &b->stats;
	memset(s->val, 0, sizeof(s->val));
	s->present = 0;
	for (uint32_t off = 0; off < len; off += STAT_ENTRY_BYTES) {
		uint16_t tag;
		uint64_t val;
		memcpy(&tag, buf + off, sizeof(tag));
		memcpy(&val, buf + off + sizeof(tag), sizeof(val));
		tag = le16toh(tag);
		if (tag >= BALLOON_STATS_NR)
			continue;
		s->val[tag] = le64toh(val);
		s->present |= 1u << tag;
	}
	s->valid = true;
	s->updates++;
	b->m.stats_updates++;
	clock_gettime(CLOCK_REALTIME, &s->last_update_realtime);
	s->last_update_monotonic_ns = clock_now_ns();
}

void balloon_stats_chain(struct balloon *b, unsigned q,
			 const struct virtq_chain *chain)
{
	/* The driver keeps one buffer in flight; an extra one is given back
	 * rather than leaked. */
	if (b->stats_held)
		balloon_complete(b, q, b->stats_head);
	/* Modern Linux fills even the first buffer, so parse it too; the
	 * "ignore the first buffer" rule is for legacy devices only. */
	stats_parse(b, q, chain);
	b->stats_held = true;
	b->stats_head = chain->head;
}

void balloon_stats_reset(struct balloon *b)
{
	b->stats_held = false;
}

int balloon_stats_tick(struct balloon *b)
{
	const struct virtio_host *h = balloon_host_lock(b);
	int ret;

	if (!h)
		return -ENODEV;
	uint64_t f = atomic_load(&b->features);
	int q = balloon_queue_index(f, BALLOON_Q_STATS);
	if (!b->active || b->broken || q < 0) {
		ret = -ENODEV;
	} else if (!b->stats_held) {
		ret = -EAGAIN;
	} else {
		b->stats_held = false;
		balloon_complete(b, (unsigned)q, b->stats_head);
		ret = 0;
	}
	balloon_host_unlock(h);
	return ret;
}

int balloon_get_stats(struct balloon *b, struct balloon_stats *out)
{
	const struct virtio_host *h = balloon_host_lock(b);
	int ret = -ENODATA;

	if (h && b->stats.valid) {
		*out = b->stats;
		ret = 0;
	}
	balloon_host_unlock(h);
	return ret;
}
