/* Unpinning before a discard and pinning again before the guest's reuse,
 * for guest memory locked with mem_lock (seed 000). */
#include "balloon_pin.h"

#include <core/log.h>

#include <string.h>

void balloon_pin_range(struct balloon *b, const struct gmem_region *region,
		       uint64_t offset, uint64_t len)
{
	int err = b->cfg.pin.ops->pin(b->cfg.pin.be, region, offset, len);
	if (err < 0) {
		b->m.pin_errors++;
		log_ratelimited(LOG_WARN,
				"balloon: pinning gpa 0x%llx len 0x%llx on "
				"deflate: %s",
				(unsigned long long)(region->gpa + offset),
				(unsigned long long)len, strerror(-err));
		return;
	}
	b->m.repinned_bytes += len;
}

int balloon_unpin_range(struct balloon *b, const struct balloon_range *r)
{
	int err = b->cfg.pin.ops->unpin(b->cfg.pin.be, r->region,
					r->gpa - r->region->gpa, r->len);
	if (err < 0) {
		b->m.pin_errors++;
		log_ratelimited(LOG_WARN,
				"balloon: unpinning gpa 0x%llx len 0x%llx: %s",
				(unsigned long long)r->gpa,
				(unsigned long long)r->len, strerror(-err));
		return err;
	}
	b->unpinned = true;
	return 0;
}
