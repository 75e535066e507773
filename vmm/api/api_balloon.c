/* /balloon and /balloon/statistics (Firecracker's fields, plus mvmm's). */
#include "api/api_routes_priv.h"

#include <core/log.h>

#include <errno.h>
#include <stdlib.h>
#include <linux/virtio_balloon.h>
#include <string.h>

/* Tags Linux 6.12 added; older UAPI headers stop at 9. */
#ifndef VIRTIO_BALLOON_S_OOM_KILL
#define VIRTIO_BALLOON_S_OOM_KILL 10
#define VIRTIO_BALLOON_S_ALLOC_STALL 11
#define VIRTIO_BALLOON_S_ASYNC_SCAN 12
#define VIRTIO_BALLOON_S_DIRECT_SCAN 13
#define VIRTIO_BALLOON_S_ASYNC_RECLAIM 14
#define VIRTIO_BALLOON_S_DIRECT_RECLAIM 15
#endif

/* Firecracker's BalloonStats names, indexed by virtio tag. */
static const char *const stat_names[BALLOON_STATS_NR] = {
	[VIRTIO_BALLOON_S_SWAP_IN] = "swap_in",
	[VIRTIO_BALLOON_S_SWAP_OUT] = "swap_out",
	[VIRTIO_BALLOON_S_MAJFLT] = "major_faults",
	[VIRTIO_BALLOON_S_MINFLT] = "minor_faults",
	[VIRTIO_BALLOON_S_MEMFREE] = "free_memory",
	[VIRTIO_BALLOON_S_MEMTOT] = "total_memory",
	[VIRTIO_BALLOON_S_AVAIL] = "available_memory",
	[VIRTIO_BALLOON_S_CACHES] = "disk_caches",
	[VIRTIO_BALLOON_S_HTLB_PGALLOC] = "hugetlb_allocations",
	[VIRTIO_BALLOON_S_HTLB_PGFAIL] = "hugetlb_failures",
	[VIRTIO_BALLOON_S_OOM_KILL] = "oom_kill",
	[VIRTIO_BALLOON_S_ALLOC_STALL] = "alloc_stall",
	[VIRTIO_BALLOON_S_ASYNC_SCAN] = "async_scan",
	[VIRTIO_BALLOON_S_DIRECT_SCAN] = "direct_scan",
	[VIRTIO_BALLOON_S_ASYNC_RECLAIM] = "async_reclaim",
	[VIRTIO_BALLOON_S_DIRECT_RECLAIM] = "direct_reclaim",
};

/* mvmm's "mvmm_inhibit_reasons": why the balloon discards nothing now. */
static json_t *with_inhibit_reasons(struct api_ctx *c, json_t *o)
{
	json_t *arr = json_array();
	if (!o || !arr) {
		json_decref(arr);
		return o;
	}
	if (c->vm && c->vm->balloon) {
		struct inhibit inh;
		const char *names[INHIBIT_MAX_REASONS];
		balloon_get_inhibit(c->vm->balloon, &inh);
		unsigned n = inhibit_reasons(&inh, names, INHIBIT_MAX_REASONS);
		for (unsigned i = 0; i < n && i < INHIBIT_MAX_REASONS; i++)
			json_array_append_new(arr, json_string(names[i]));
	}
	json_object_set_new(o, "mvmm_inhibit_reasons", arr);
	return o;
}

/* The operator's inhibit is a flag: setting it twice holds one reason. */
#define API_INHIBIT_REASON "operator"

static int operator_inhibit(struct balloon *b, bool on)
{
	struct inhibit cur;
	balloon_get_inhibit(b, &cur);
	if (on == (inhibit_count(&cur, API_INHIBIT_REASON) > 0))
		return 0;
	return on ? balloon_inhibit_add(b, API_INHIBIT_REASON)
		  : balloon_inhibit_remove(b, API_INHIBIT_REASON);
}

void api_get_balloon(struct api_ctx *c, json_t *body,
			struct api_response *r)
{
	const struct config_balloon *cb = &c->cfg->balloon;
	struct balloon_info info = {0};
	uint32_t interval_s = cb->stats_polling_interval_s;
	(void)body;

	if (!c->vm) {
		if (!api_configured_balloon(c, r))
			return;
		info.target_mib = cb->amount_mib;
		info.target_pages = cb->amount_mib * BALLOON_PAGES_PER_MIB;
	} else {
		struct balloon *b = api_running_balloon(c, r);
		if (!b)
			return;
		balloon_get_info(b, &info);
		interval_s = balloon_get_stats_interval(b);
	}
	/* free_page_reporting is what was offered; whether the guest took it
	 * (and with which poison) shows only in the mvmm fields. */
	api_respond_json(
		r, 200,
		with_inhibit_reasons(c, json_pack("{sIsbsIsbsbsIsIsIsIsbsbsI}", "amount_mib",
			  (json_int_t)info.target_mib, "deflate_on_oom",
			  cb->deflate_on_oom, "stats_polling_interval_s",
			  (json_int_t)interval_s, "free_page_reporting",
			  cb->free_page_reporting, "free_page_hinting",
			  cb->free_page_hinting, "target_pages",
			  (json_int_t)info.target_pages, "actual_pages",
			  (json_int_t)info.actual_pages, "target_mib",
			  (json_int_t)info.target_mib, "actual_mib",
			  (json_int_t)info.actual_mib,
			  "free_page_reporting_active",
			  info.free_page_reporting, "page_poison",
			  info.page_poison, "poison_val",
			  (json_int_t)info.poison_val)));
}

void api_put_balloon(struct api_ctx *c, json_t *body,
			struct api_response *r)
{
	static const char *const required[] = {"amount_mib", "deflate_on_oom",
						NULL};
	struct vm_config tmp;

	if (!api_pre_boot_only(c, "the balloon", r) ||
	    api_require_fields(body, "balloon", required, r))
		return;
	config_defaults(&tmp);
	if (!api_parse_section(&tmp, "balloon", body, r)) {
		c->cfg->balloon = tmp.balloon;
		api_respond_no_content(r);
	}
	config_free(&tmp);
}

void api_patch_balloon(struct api_ctx *c, json_t *body,
			  struct api_response *r)
{
	static const char *const fields[] = {"amount_mib", "mvmm_inhibit",
					     NULL};
	json_t *inh = json_object_get(body, "mvmm_inhibit");
	bool has_mib = json_object_get(body, "amount_mib") != NULL;
	uint32_t mib = 0;

	const char *key;
	json_t *v;
	json_object_foreach(body, key, v) {
		if (strcmp(key, fields[0]) && strcmp(key, fields[1])) {
			api_respond_error(r, HTTP_BAD_REQUEST,
					  "balloon.%s: unknown field", key);
			return;
		}
	}
	if (inh && !json_is_boolean(inh)) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "balloon.mvmm_inhibit: must be true or false");
		return;
	}
	/* amount_mib may be left out only when mvmm_inhibit is given. */
	if ((has_mib || !inh) &&
	    api_get_u32(body, "balloon", "amount_mib", CONFIG_MAX_MEM_MIB, &mib, r))
		return;
	if (!c->vm && inh) {
		if (api_configured_balloon(c, r))
			api_respond_error(r, HTTP_BAD_REQUEST,
					  "balloon.mvmm_inhibit: available once the microVM runs");
		return;
	}
	if (c->vm && !has_mib) {
		struct balloon *b = api_running_balloon(c, r);
		if (!b)
			return;
		int e = operator_inhibit(b, json_is_true(inh));
		if (e)
			api_respond_error(r, HTTP_BAD_REQUEST,
					  "balloon.mvmm_inhibit: %s", strerror(-e));
		else
			api_respond_no_content(r);
		return;
	}
	if (!c->vm) {
		struct config_balloon *cb = api_configured_balloon(c, r);
		if (cb) {
			cb->amount_mib = mib;
			api_respond_no_content(r);
		}
		return;
	}
	struct balloon *b = api_running_balloon(c, r);
	if (!b)
		return;
	if (mib > c->cfg->mem_size_mib) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "balloon.amount_mib: %u MiB exceeds the guest's %llu MiB of RAM",
				  mib, (unsigned long long)c->cfg->mem_size_mib);
		return;
	}
	int e = balloon_set_target_mib(b, mib);
	if (e) {
		api_respond_error(r, HTTP_BAD_REQUEST, "balloon.amount_mib: %s",
				  strerror(-e));
		return;
	}
	if (inh && (e = operator_inhibit(b, json_is_true(inh)))) {
		api_respond_error(r, HTTP_BAD_REQUEST, "balloon.mvmm_inhibit: %s",
				  strerror(-e));
		return;
	}
	api_respond_no_content(r);
}

json_t *api_balloon_stats_json(const struct balloon_info *info,
			       const struct balloon_stats *stats)
{
	json_t *o = json_pack("{sIsIsIsI}", "target_pages",
			      (json_int_t)info->target_pages, "actual_pages",
			      (json_int_t)info->actual_pages, "target_mib",
			      (json_int_t)info->target_mib, "actual_mib",
			      (json_int_t)info->actual_mib);
	if (!o || !stats)
		return o;
	for (unsigned t = 0; t < BALLOON_STATS_NR; t++) {
		if (!(stats->present & (1u << t)) || !stat_names[t])
			continue;
		/* Counters are u64 on the wire; JSON integers here are signed. */
		uint64_t v = stats->val[t];
		json_int_t j = v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v;
		json_object_set_new(o, stat_names[t], json_integer(j));
	}
	return o;
}

void api_get_balloon_stats(struct api_ctx *c, json_t *body,
			      struct api_response *r)
{
	(void)body;
	if (!c->vm) {
		if (api_configured_balloon(c, r))
			api_respond_error(r, HTTP_BAD_REQUEST,
					  "balloon statistics are available once the microVM runs");
		return;
	}
	struct balloon *b = api_running_balloon(c, r);
	if (!b)
		return;
	if (!c->cfg->balloon.stats_polling_interval_s) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "balloon statistics are disabled (stats_polling_interval_s was 0 at boot)");
		return;
	}
	struct balloon_info info;
	struct balloon_stats stats;
	balloon_get_info(b, &info);
	bool have = balloon_get_stats(b, &stats) == 0;
	api_respond_json(r, 200, api_balloon_stats_json(&info, have ? &stats : NULL));
}

void api_patch_balloon_stats(struct api_ctx *c, json_t *body,
				struct api_response *r)
{
	static const char *const fields[] = {"stats_polling_interval_s", NULL};
	uint32_t s;

	if (api_only_fields(body, "balloon", fields, r) ||
	    api_get_u32(body, "balloon", "stats_polling_interval_s",
		    API_MAX_STATS_INTERVAL_S, &s, r))
		return;
	if (!c->vm) {
		struct config_balloon *cb = api_configured_balloon(c, r);
		if (cb) {
			cb->stats_polling_interval_s = s;
			api_respond_no_content(r);
		}
		return;
	}
	if (!api_running_balloon(c, r))
		return;
	/* As in Firecracker: the statsq exists or not from boot on. */
	uint32_t at_boot = c->cfg->balloon.stats_polling_interval_s;
	if (!at_boot && s) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "balloon.stats_polling_interval_s: statistics were disabled at boot and cannot be enabled");
		return;
	}
	if (at_boot && !s) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "balloon.stats_polling_interval_s: statistics were enabled at boot and cannot be disabled");
		return;
	}
	int e = vm_balloon_set_stats_interval(c->vm, s);
	if (e)
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "balloon.stats_polling_interval_s: %s",
				  strerror(-e));
	else
		api_respond_no_content(r);
}

/* ---- balloon/hinting (Firecracker's free page hinting API) ---- */
