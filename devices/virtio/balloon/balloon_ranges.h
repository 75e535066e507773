/* Validated guest ranges (balloon_ranges.c). Private to
 * devices/virtio/balloon/. */
#ifndef DEVICES_VIRTIO_BALLOON_RANGES_H
#define DEVICES_VIRTIO_BALLOON_RANGES_H

#include <devices/balloon.h>

/* Sorts by gpa and merges overlapping or adjacent ranges of the same region
 * in place; returns the new count. */
unsigned balloon_ranges_coalesce(struct balloon_range *r, unsigned n);
uint64_t balloon_ranges_bytes(const struct balloon_range *r, unsigned n);
/* The region of mem holding [gpa, gpa + len) when that is whole 4 KiB
 * pages of guest RAM (len > 0), else NULL. */
const struct gmem_region *balloon_ranges_region_of(const struct gmem *mem,
						   uint64_t gpa, uint64_t len);

#endif
