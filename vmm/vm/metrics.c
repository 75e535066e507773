#include "vm/metrics.h"

#include "memory/discard_engine.h"

#include <stdlib.h>

/* Counters are named as their struct fields. */
#define SET_U64(obj, src, field)                                              \
	json_object_set_new(obj, #field, json_integer((json_int_t)(src)->field))

json_t *metrics_balloon_json(const struct balloon_metrics *m)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	SET_U64(o, m, inflate_requests);
	SET_U64(o, m, deflate_requests);
	SET_U64(o, m, inflated_pages);
	SET_U64(o, m, deflated_pages);
	SET_U64(o, m, invalid_pfns);
	SET_U64(o, m, malformed_requests);
	SET_U64(o, m, discard_ranges);
	SET_U64(o, m, discard_bytes);
	SET_U64(o, m, discard_errors);
	SET_U64(o, m, stats_updates);
	SET_U64(o, m, reports);
	SET_U64(o, m, report_ranges);
	SET_U64(o, m, report_bytes);
	SET_U64(o, m, report_poison_skipped_bytes);
	SET_U64(o, m, invalid_report_ranges);
	SET_U64(o, m, report_latency_max_ns);
	SET_U64(o, m, report_latency_total_ns);
	SET_U64(o, m, orphaned_requests);
	SET_U64(o, m, deferred_runs);
	SET_U64(o, m, inhibited_bytes);
	SET_U64(o, m, hugepages_discarded);
	SET_U64(o, m, silent_hugepage_bytes);
	SET_U64(o, m, pin_errors);
	SET_U64(o, m, repinned_bytes);
	SET_U64(o, m, hint_runs);
	SET_U64(o, m, hint_stops_written);
	SET_U64(o, m, hint_dones_written);
	SET_U64(o, m, hint_guest_starts);
	SET_U64(o, m, hint_guest_stops);
	SET_U64(o, m, hint_ranges);
	SET_U64(o, m, hint_bytes);
	SET_U64(o, m, hint_stale_cmds);
	SET_U64(o, m, hint_outside_run);
	SET_U64(o, m, invalid_hint_ranges);
	return o;
}

json_t *metrics_discard_json(const char *engine, const struct discard_stats *s)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "engine", json_string(engine ? engine : "none"));
	SET_U64(o, s, ranges);
	SET_U64(o, s, bytes);
	SET_U64(o, s, uring_ops);
	SET_U64(o, s, sync_ops);
	SET_U64(o, s, errors);
	SET_U64(o, s, fallbacks);
	SET_U64(o, s, rejected);
	SET_U64(o, s, cancelled);
	return o;
}

json_t *metrics_virtio_json(uint32_t device_id, uint64_t base,
			    const struct virtio_mmio_metrics *m)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "device_id", json_integer(device_id));
	json_object_set_new(o, "mmio_base", json_integer((json_int_t)base));
	SET_U64(o, m, kicks);
	SET_U64(o, m, kicks_ignored);
	SET_U64(o, m, irqs);
	SET_U64(o, m, irqs_suppressed);
	SET_U64(o, m, config_changes);
	SET_U64(o, m, needs_reset);
	SET_U64(o, m, bad_accesses);
	SET_U64(o, m, resets);
	return o;
}

json_t *metrics_console_json(const struct console_stats *s)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	SET_U64(o, s, bytes_written);
	SET_U64(o, s, bytes_dropped_full);
	SET_U64(o, s, bytes_dropped_rate);
	return o;
}

json_t *metrics_vm_json(struct vm *vm)
{
	json_t *o = json_object();
	json_t *virtio = json_array();
	if (!o || !virtio) {
		json_decref(o);
		json_decref(virtio);
		return NULL;
	}
	if (vm->balloon) {
		struct balloon_metrics bm;
		balloon_get_metrics(vm->balloon, &bm);
		json_object_set_new(o, "balloon", metrics_balloon_json(&bm));
	} else {
		json_object_set_new(o, "balloon", json_null());
	}
	if (vm->discard_engine) {
		struct discard_stats ds;
		discard_engine_stats(vm->discard_engine, &ds);
		json_object_set_new(o, "discard",
				    metrics_discard_json(
					    discard_engine_name(vm->discard_engine),
					    &ds));
	} else {
		json_object_set_new(o, "discard", json_null());
	}
	for (unsigned i = 0; i < vm->nr_virtio; i++) {
		struct vm_virtio_slot *slot = &vm->virtio[i];
		struct virtio_mmio_metrics mm;
		virtio_mmio_get_metrics(&slot->mmio, &mm);
		json_array_append_new(virtio,
				      metrics_virtio_json(slot->mmio.dev->device_id,
							  slot->base, &mm));
	}
	json_object_set_new(o, "virtio", virtio);
	struct console_stats cs;
	console_get_stats(&vm->console, &cs);
	json_object_set_new(o, "console", metrics_console_json(&cs));
	return o;
}

char *metrics_vm_string(struct vm *vm)
{
	json_t *o = metrics_vm_json(vm);
	if (!o)
		return NULL;
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}
