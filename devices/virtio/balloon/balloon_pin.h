/* Pinned guest memory (balloon_config.pin, set: mem_lock): ballooned
 * ranges are unpinned before their discard and pinned again before the
 * guest may touch them (balloon_pin.c). Failures are counted in pin_errors
 * and logged. Private to devices/virtio/balloon/; call only with pin.ops
 * set. */
#ifndef DEVICES_VIRTIO_BALLOON_PIN_H
#define DEVICES_VIRTIO_BALLOON_PIN_H

#include <devices/balloon.h>

/* Pins [offset, offset + len) of region again (a deflate, or a reset that
 * gives the guest all its memory back). On failure the guest takes the
 * pages anyway: they stay usable, unpinned. */
void balloon_pin_range(struct balloon *b, const struct gmem_region *region,
		       uint64_t offset, uint64_t len);
/* Unpins one inflated range before its discard. 0 or -errno: the range
 * must then stay (locked pages cannot be discarded). */
int balloon_unpin_range(struct balloon *b, const struct balloon_range *r);

#endif
