/* mvmm's metrics as JSON: balloon counters, the discard engine's stats and
 * each virtio-mmio transport's counters. Served by GET /metrics and fit
 * for a one-line dump on exit.
 *
 * Threads: main loop (the sources take their own locks). */
#ifndef VMM_METRICS_H
#define VMM_METRICS_H

#include "vm/vm.h"

#include <core/discard.h>
#include <devices/balloon.h>
#include <devices/virtio_mmio.h>

#include <jansson.h>

json_t *metrics_balloon_json(const struct balloon_metrics *m);
json_t *metrics_discard_json(const char *engine, const struct discard_stats *s);
json_t *metrics_virtio_json(uint32_t device_id, uint64_t base,
			    const struct virtio_mmio_metrics *m);
/* The guest console's output: bytes written, dropped for a full ring (a
 * slow reader), dropped over the rate limit. */
json_t *metrics_console_json(const struct console_stats *s);
/* {"balloon": {...} or null, "discard": {...} or null, "virtio": [...],
 * "console": {...}}; NULL on allocation failure. */
json_t *metrics_vm_json(struct vm *vm);
/* The same, compact on one line; free() it. NULL on failure. */
char *metrics_vm_string(struct vm *vm);

#endif
