/* /balloon and /balloon/statistics (Firecracker's fields, plus mvmm's). */
#include "api/api_routes_priv.h"

#include "config/fields.h"

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
static json_t *inhibit_reasons_json(struct api_ctx *c)
{
	json_t *arr = json_array();
	if (!arr || !c->vm || !c->vm->balloon)
		return arr;
	struct inhibit inh;
	const char *names[INHIBIT_MAX_REASONS];
	balloon_get_inhibit(c->vm->balloon, &inh);
	unsigned n = inhibit_reasons(&inh, names, INHIBIT_MAX_REASONS);
	for (unsigned i = 0; i < n && i < INHIBIT_MAX_REASONS; i++)
		json_array_append_new(arr, json_string(names[i]));
	return arr;
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

/* ---- /balloon ---- */

/* The sizes GET /balloon and GET /balloon/statistics both start with. */
static json_t *sizes_json(const struct balloon_info *info)
{
	json_t *o = json_object();
	json_object_set_new(o, "target_pages", json_integer(info->target_pages));
	json_object_set_new(o, "actual_pages", json_integer(info->actual_pages));
	json_object_set_new(o, "target_mib", json_integer(info->target_mib));
	json_object_set_new(o, "actual_mib", json_integer(info->actual_mib));
	return o;
}

/* Firecracker's Balloon: the configuration with the current target and
 * polling interval. */
static json_t *fc_balloon_json(const struct config_balloon *cb,
			       uint32_t amount_mib, uint32_t interval_s)
{
	json_t *o = json_object();
	json_object_set_new(o, "amount_mib", json_integer(amount_mib));
	json_object_set_new(o, "deflate_on_oom", json_boolean(cb->deflate_on_oom));
	json_object_set_new(o, "stats_polling_interval_s", json_integer(interval_s));
	json_object_set_new(o, "free_page_reporting",
			    json_boolean(cb->free_page_reporting));
	json_object_set_new(o, "free_page_hinting",
			    json_boolean(cb->free_page_hinting));
	return o;
}

json_t *api_balloon_config_json(struct api_ctx *c)
{
	const struct config_balloon *cb = &c->cfg->balloon;
	uint32_t mib = cb->amount_mib, interval_s = cb->stats_polling_interval_s;

	if (c->vm && c->vm->balloon) {
		struct balloon_info info;
		balloon_get_info(c->vm->balloon, &info);
		mib = info.target_mib;
		interval_s = balloon_get_stats_interval(c->vm->balloon);
	} else if (c->vm || !cb->enabled) {
		return json_null();
	}
	return fc_balloon_json(cb, mib, interval_s);
}

/* free_page_reporting is what was offered; whether the guest took it (and
 * with which poison) shows only in the mvmm fields. */
static json_t *balloon_json(const struct config_balloon *cb,
			    const struct balloon_info *info,
			    uint32_t interval_s, json_t *inhibit)
{
	json_t *o = fc_balloon_json(cb, info->target_mib, interval_s);
	json_object_update_new(o, sizes_json(info));
	json_object_set_new(o, "free_page_reporting_active",
			    json_boolean(info->free_page_reporting));
	json_object_set_new(o, "page_poison", json_boolean(info->page_poison));
	json_object_set_new(o, "poison_val", json_integer(info->poison_val));
	json_object_set_new(o, "mvmm_inhibit_reasons", inhibit);
	return o;
}

void api_get_balloon(struct api_ctx *c, json_t *body, struct api_response *r)
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
	api_respond_object(r, balloon_json(cb, &info, interval_s,
					   inhibit_reasons_json(c)));
}

void api_put_balloon(struct api_ctx *c, json_t *body, struct api_response *r)
{
	static const char *const required[] = {"amount_mib", "deflate_on_oom",
						NULL};
	struct vm_config tmp;

	if (!api_pre_boot_only(c, "the balloon", r))
		return;
	config_defaults(&tmp);
	if (!api_parse_section(&tmp, "balloon", body, required, r)) {
		c->cfg->balloon = tmp.balloon;
		api_respond_no_content(r);
	}
	config_free(&tmp);
}

/* PATCH /balloon: a new target, mvmm's operator inhibit, or both. */
struct balloon_patch {
	bool has_mib;
	uint32_t mib;
	bool has_inhibit;
	bool inhibit;
};

static int parse_balloon_patch(json_t *body, struct balloon_patch *p,
			       char *err, size_t errlen)
{
	static const char *const fields[] = {"amount_mib", "mvmm_inhibit", NULL};
	struct fields f = FIELDS(body, "balloon", err, errlen);

	*p = (struct balloon_patch){
		.has_mib = fields_has(&f, "amount_mib"),
		.has_inhibit = fields_has(&f, "mvmm_inhibit"),
	};
	if (fields_check(&f, fields) ||
	    fields_bool(&f, "mvmm_inhibit", &p->inhibit))
		return -EINVAL;
	/* amount_mib may be left out only when mvmm_inhibit is given. */
	if (!p->has_mib && !p->has_inhibit)
		return fields_fail(&f, "amount_mib", "must be an integer");
	return fields_u32(&f, "amount_mib", 0, CONFIG_MAX_MEM_MIB, &p->mib);
}

static void patch_configured_balloon(struct api_ctx *c,
				     const struct balloon_patch *p,
				     struct api_response *r)
{
	struct config_balloon *cb = api_configured_balloon(c, r);
	if (!cb)
		return;
	if (p->has_inhibit) {
		api_respond_bad_request(r, "balloon.mvmm_inhibit: available once the microVM runs");
		return;
	}
	cb->amount_mib = p->mib;
	api_respond_no_content(r);
}

static void patch_running_balloon(struct api_ctx *c,
				  const struct balloon_patch *p,
				  struct api_response *r)
{
	struct balloon *b = api_running_balloon(c, r);
	int e;

	if (!b)
		return;
	if (p->has_mib && p->mib > c->cfg->mem_size_mib) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "balloon.amount_mib: %u MiB exceeds the guest's %llu MiB of RAM",
				  p->mib, (unsigned long long)c->cfg->mem_size_mib);
		return;
	}
	if (p->has_mib && (e = balloon_set_target_mib(b, p->mib))) {
		api_respond_error(r, HTTP_BAD_REQUEST, "balloon.amount_mib: %s",
				  strerror(-e));
		return;
	}
	if (p->has_inhibit && (e = operator_inhibit(b, p->inhibit))) {
		api_respond_error(r, HTTP_BAD_REQUEST, "balloon.mvmm_inhibit: %s",
				  strerror(-e));
		return;
	}
	api_respond_no_content(r);
}

void api_patch_balloon(struct api_ctx *c, json_t *body, struct api_response *r)
{
	char err[API_ERR_LEN];
	struct balloon_patch p;

	if (parse_balloon_patch(body, &p, err, sizeof(err)))
		api_respond_bad_request(r, err);
	else if (c->vm)
		patch_running_balloon(c, &p, r);
	else
		patch_configured_balloon(c, &p, r);
}

/* ---- /balloon/statistics ---- */

json_t *api_balloon_stats_json(const struct balloon_info *info,
			       const struct balloon_stats *stats)
{
	json_t *o = sizes_json(info);
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
	struct balloon *b = api_runtime_balloon(
		c, "balloon statistics are available once the microVM runs", r);
	if (!b)
		return;
	if (!c->cfg->balloon.stats_polling_interval_s) {
		api_respond_bad_request(r, "balloon statistics are disabled (stats_polling_interval_s was 0 at boot)");
		return;
	}
	struct balloon_info info;
	struct balloon_stats stats;
	balloon_get_info(b, &info);
	bool have = balloon_get_stats(b, &stats) == 0;
	api_respond_json(r, 200, api_balloon_stats_json(&info, have ? &stats : NULL));
}

static int parse_stats_interval(json_t *body, uint32_t *interval_s, char *err,
				size_t errlen)
{
	static const char *const fields[] = {"stats_polling_interval_s", NULL};
	struct fields f = FIELDS(body, "balloon", err, errlen);

	if (fields_check(&f, fields) || fields_require(&f, fields) ||
	    fields_u32(&f, "stats_polling_interval_s", 0,
		       CONFIG_MAX_STATS_INTERVAL_S, interval_s))
		return -EINVAL;
	return 0;
}

/* Hands the held buffer back at once; 204 either way: -EAGAIN means the
 * guest holds it and its answer is on the way, -ENODEV no driver yet. */
static void stats_now(struct balloon *b, struct api_response *r)
{
	balloon_stats_tick(b);
	api_respond_no_content(r);
}

/* As in Firecracker: the statsq exists or not from boot on, and a new
 * interval asks the guest at once (the timer's first expiry would be a
 * whole interval away). */
static void set_running_stats_interval(struct api_ctx *c, uint32_t s,
				       struct api_response *r)
{
	uint32_t at_boot = c->cfg->balloon.stats_polling_interval_s;
	struct balloon *b = api_running_balloon(c, r);
	int e;

	if (!b)
		return;
	if (!at_boot && s)
		api_respond_bad_request(r, "balloon.stats_polling_interval_s: statistics were disabled at boot and cannot be enabled");
	else if (at_boot && !s)
		api_respond_bad_request(r, "balloon.stats_polling_interval_s: statistics were enabled at boot and cannot be disabled");
	else if ((e = vm_balloon_set_stats_interval(c->vm, s)))
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "balloon.stats_polling_interval_s: %s",
				  strerror(-e));
	else
		stats_now(b, r);
}

void api_patch_balloon_stats(struct api_ctx *c, json_t *body,
			     struct api_response *r)
{
	char err[API_ERR_LEN];
	uint32_t s = 0;
	struct config_balloon *cb;

	if (parse_stats_interval(body, &s, err, sizeof(err)))
		api_respond_bad_request(r, err);
	else if (c->vm)
		set_running_stats_interval(c, s, r);
	else if ((cb = api_configured_balloon(c, r))) {
		cb->stats_polling_interval_s = s;
		api_respond_no_content(r);
	}
}
