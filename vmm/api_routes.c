#include "api_routes.h"

#include "metrics.h"
#include "vm_reclaim.h"

#include <core/log.h>

#include <ctype.h>
#include <errno.h>
#include <linux/virtio_balloon.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Tags Linux 6.12 added; older UAPI headers stop at 9. */
#ifndef VIRTIO_BALLOON_S_OOM_KILL
#define VIRTIO_BALLOON_S_OOM_KILL 10
#define VIRTIO_BALLOON_S_ALLOC_STALL 11
#define VIRTIO_BALLOON_S_ASYNC_SCAN 12
#define VIRTIO_BALLOON_S_DIRECT_SCAN 13
#define VIRTIO_BALLOON_S_ASYNC_RECLAIM 14
#define VIRTIO_BALLOON_S_DIRECT_RECLAIM 15
#endif

#define HTTP_BAD_REQUEST 400
#define HTTP_METHOD_NOT_ALLOWED 405
#define HTTP_INTERNAL_ERROR 500

/* Statistics interval bounds, as the config file takes them. */
#define API_MAX_STATS_INTERVAL_S 3600

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

/* ---- body helpers ---- */

/* config_load_string names its input in messages; the name and the position
 * (in the re-wrapped text, not the client's) are cut off. */
#define BODY_NAME "request"

static const char *config_reason(const char *err)
{
	size_t n = strlen(BODY_NAME);
	if (strncmp(err, BODY_NAME, n))
		return err;
	const char *p = err + n;
	while (*p == ':' || isdigit((unsigned char)*p))
		p++;
	return *p == ' ' ? p + 1 : p;
}

/* Parses body as the config file's `section` into tmp, with the config
 * parser's checks (unknown fields, types, ranges). */
static int parse_section(struct vm_config *tmp, const char *section,
			 json_t *body, struct api_response *r)
{
	json_t *root = json_object();
	if (!root || json_object_set(root, section, body)) {
		json_decref(root);
		api_respond_error(r, HTTP_INTERNAL_ERROR, "out of memory");
		return -1;
	}
	char *text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!text) {
		api_respond_error(r, HTTP_INTERNAL_ERROR, "out of memory");
		return -1;
	}
	char err[CONFIG_ERR_LEN] = "";
	int ret = config_load_string(tmp, text, BODY_NAME, err);
	free(text);
	if (ret)
		api_respond_error(r, HTTP_BAD_REQUEST, "%s", config_reason(err));
	return ret;
}

static int require_fields(json_t *body, const char *section,
			  const char *const *keys, struct api_response *r)
{
	for (; *keys; keys++) {
		if (!json_object_get(body, *keys)) {
			api_respond_error(r, HTTP_BAD_REQUEST,
					  "%s.%s: missing required field",
					  section, *keys);
			return -1;
		}
	}
	return 0;
}

static int only_fields(json_t *body, const char *section,
		       const char *const *allowed, struct api_response *r)
{
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v) {
		const char *const *a = allowed;
		while (*a && strcmp(*a, key))
			a++;
		if (!*a) {
			api_respond_error(r, HTTP_BAD_REQUEST,
					  "%s.%s: unknown field", section, key);
			return -1;
		}
	}
	return require_fields(body, section, allowed, r);
}

static int get_u32(json_t *body, const char *section, const char *key,
		   uint32_t max, uint32_t *out, struct api_response *r)
{
	json_t *v = json_object_get(body, key);
	if (!json_is_integer(v)) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "%s.%s: must be an integer", section, key);
		return -1;
	}
	json_int_t n = json_integer_value(v);
	if (n < 0 || n > (json_int_t)max) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "%s.%s: must be between 0 and %u, got %lld",
				  section, key, max, (long long)n);
		return -1;
	}
	*out = (uint32_t)n;
	return 0;
}

static bool pre_boot_only(struct api_ctx *c, const char *what,
			  struct api_response *r)
{
	if (!c->vm)
		return true;
	api_respond_error(r, HTTP_BAD_REQUEST,
			  "%s can only be configured before boot", what);
	return false;
}

/* ---- instance ---- */

static void get_instance(struct api_ctx *c, json_t *body,
			 struct api_response *r)
{
	(void)body;
	api_respond_json(
		r, 200,
		json_pack("{ssssssss}", "id",
			  c->instance_id ? c->instance_id : "anonymous-instance",
			  "state", c->vm ? "Running" : "Not started",
			  "vmm_version", c->vmm_version ? c->vmm_version : "unknown",
			  "app_name", "mvmm"));
}

static void put_actions(struct api_ctx *c, json_t *body,
			struct api_response *r)
{
	static const char *const fields[] = {"action_type", NULL};
	char err[CONFIG_ERR_LEN] = "";

	if (only_fields(body, "actions", fields, r))
		return;
	const char *action = json_string_value(json_object_get(body, "action_type"));
	if (!action) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "actions.action_type: must be a string");
	} else if (!strcmp(action, "InstanceStart")) {
		if (c->vm)
			api_respond_error(r, HTTP_BAD_REQUEST,
					  "InstanceStart: the microVM is already running");
		else if (config_validate(c->cfg, err))
			api_respond_error(r, HTTP_BAD_REQUEST, "%s", err);
		else if (!c->start)
			api_respond_error(r, HTTP_BAD_REQUEST,
					  "InstanceStart: not available");
		else if (c->start(c, err, sizeof(err)))
			api_respond_error(r, HTTP_BAD_REQUEST,
					  "InstanceStart: %s", err);
		else
			api_respond_no_content(r);
	} else if (!strcmp(action, "FlushMetrics")) {
		char *line = c->vm ? metrics_vm_string(c->vm) : NULL;
		if (!line) {
			api_respond_error(r, HTTP_BAD_REQUEST,
					  "FlushMetrics: no metrics before the microVM starts");
			return;
		}
		log_info("metrics: %s", line);
		free(line);
		api_respond_no_content(r);
	} else {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "actions.action_type: '%s' is not supported "
				  "(InstanceStart, FlushMetrics)",
				  action);
	}
}

/* ---- boot source and machine ---- */

static void put_boot_source(struct api_ctx *c, json_t *body,
			    struct api_response *r)
{
	static const char *const required[] = {"kernel_image_path", NULL};
	struct vm_config tmp;

	if (!pre_boot_only(c, "the boot source", r) ||
	    require_fields(body, "boot-source", required, r))
		return;
	config_defaults(&tmp);
	if (parse_section(&tmp, "boot-source", body, r))
		goto out;
	/* Checked now, as Firecracker does, so the error names the request. */
	if (access(tmp.kernel_path, R_OK) < 0) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "boot-source.kernel_image_path: cannot read '%s': %s",
				  tmp.kernel_path, strerror(errno));
		goto out;
	}
	if (tmp.initrd_path && access(tmp.initrd_path, R_OK) < 0) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "boot-source.initrd_path: cannot read '%s': %s",
				  tmp.initrd_path, strerror(errno));
		goto out;
	}
	/* PUT replaces the whole boot source. */
	struct vm_config *cfg = c->cfg;
	free(cfg->kernel_path);
	free(cfg->initrd_path);
	free(cfg->boot_args);
	cfg->kernel_path = tmp.kernel_path;
	cfg->initrd_path = tmp.initrd_path;
	cfg->boot_args = tmp.boot_args;
	tmp.kernel_path = tmp.initrd_path = tmp.boot_args = NULL;
	api_respond_no_content(r);
out:
	config_free(&tmp);
}

static const char *huge_pages_name(enum config_huge_pages h)
{
	switch (h) {
	case HUGE_PAGES_TRANSPARENT:
		return "Transparent";
	case HUGE_PAGES_2M:
		return "2M";
	default:
		return "None";
	}
}

static void get_machine(struct api_ctx *c, json_t *body,
			struct api_response *r)
{
	const struct vm_config *cfg = c->cfg;
	(void)body;
	api_respond_json(
		r, 200,
		json_pack("{sIsIsbsbsssssb}", "vcpu_count",
			  (json_int_t)cfg->vcpu_count, "mem_size_mib",
			  (json_int_t)cfg->mem_size_mib, "smt", 0,
			  "track_dirty_pages", 0, "huge_pages",
			  huge_pages_name(cfg->huge_pages), "mvmm_mem_backend",
			  cfg->mem_backend == MEM_BACKEND_MEMFD ? "memfd"
								: "anonymous",
			  "mvmm_mem_lock", cfg->mem_lock));
}

/* PUT starts from the defaults (Firecracker resets omitted fields), PATCH
 * from the current values. */
static void update_machine(struct api_ctx *c, json_t *body, bool patch,
			   struct api_response *r)
{
	static const char *const required[] = {"vcpu_count", "mem_size_mib",
						NULL};
	struct vm_config tmp;
	struct vm_config *cfg = c->cfg;

	if (!pre_boot_only(c, "the machine configuration", r) ||
	    (!patch && require_fields(body, "machine-config", required, r)))
		return;
	config_defaults(&tmp);
	if (patch) {
		tmp.vcpu_count = cfg->vcpu_count;
		tmp.mem_size_mib = cfg->mem_size_mib;
		tmp.huge_pages = cfg->huge_pages;
		tmp.mem_backend = cfg->mem_backend;
		tmp.mem_lock = cfg->mem_lock;
	}
	if (parse_section(&tmp, "machine-config", body, r))
		goto out;
	if (tmp.huge_pages == HUGE_PAGES_2M && tmp.mem_size_mib % 2) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "machine-config.mem_size_mib: must be a multiple of 2 with huge_pages \"2M\"");
		goto out;
	}
	cfg->vcpu_count = tmp.vcpu_count;
	cfg->mem_size_mib = tmp.mem_size_mib;
	cfg->huge_pages = tmp.huge_pages;
	cfg->mem_backend = tmp.mem_backend;
	cfg->mem_lock = tmp.mem_lock;
	api_respond_no_content(r);
out:
	config_free(&tmp);
}

static void put_machine(struct api_ctx *c, json_t *body,
			struct api_response *r)
{
	update_machine(c, body, false, r);
}

static void patch_machine(struct api_ctx *c, json_t *body,
			  struct api_response *r)
{
	update_machine(c, body, true, r);
}

/* ---- balloon ---- */

/* The running balloon, or NULL after a 400 naming why there is none. */
static struct balloon *running_balloon(struct api_ctx *c,
				       struct api_response *r)
{
	if (c->vm && c->vm->balloon)
		return c->vm->balloon;
	api_respond_error(r, HTTP_BAD_REQUEST, "no balloon device is configured");
	return NULL;
}

/* Before boot: the configured balloon, or NULL after a 400. */
static struct config_balloon *configured_balloon(struct api_ctx *c,
						 struct api_response *r)
{
	if (c->cfg->balloon.enabled)
		return &c->cfg->balloon;
	api_respond_error(r, HTTP_BAD_REQUEST, "no balloon device is configured");
	return NULL;
}

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

static void get_balloon(struct api_ctx *c, json_t *body,
			struct api_response *r)
{
	const struct config_balloon *cb = &c->cfg->balloon;
	struct balloon_info info = {0};
	uint32_t interval_s = cb->stats_polling_interval_s;
	(void)body;

	if (!c->vm) {
		if (!configured_balloon(c, r))
			return;
		info.target_mib = cb->amount_mib;
		info.target_pages = cb->amount_mib * BALLOON_PAGES_PER_MIB;
	} else {
		struct balloon *b = running_balloon(c, r);
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

static void put_balloon(struct api_ctx *c, json_t *body,
			struct api_response *r)
{
	static const char *const required[] = {"amount_mib", "deflate_on_oom",
						NULL};
	struct vm_config tmp;

	if (!pre_boot_only(c, "the balloon", r) ||
	    require_fields(body, "balloon", required, r))
		return;
	config_defaults(&tmp);
	if (!parse_section(&tmp, "balloon", body, r)) {
		c->cfg->balloon = tmp.balloon;
		api_respond_no_content(r);
	}
	config_free(&tmp);
}

static void patch_balloon(struct api_ctx *c, json_t *body,
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
	    get_u32(body, "balloon", "amount_mib", CONFIG_MAX_MEM_MIB, &mib, r))
		return;
	if (!c->vm && inh) {
		if (configured_balloon(c, r))
			api_respond_error(r, HTTP_BAD_REQUEST,
					  "balloon.mvmm_inhibit: available once the microVM runs");
		return;
	}
	if (c->vm && !has_mib) {
		struct balloon *b = running_balloon(c, r);
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
		struct config_balloon *cb = configured_balloon(c, r);
		if (cb) {
			cb->amount_mib = mib;
			api_respond_no_content(r);
		}
		return;
	}
	struct balloon *b = running_balloon(c, r);
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

static void get_balloon_stats(struct api_ctx *c, json_t *body,
			      struct api_response *r)
{
	(void)body;
	if (!c->vm) {
		if (configured_balloon(c, r))
			api_respond_error(r, HTTP_BAD_REQUEST,
					  "balloon statistics are available once the microVM runs");
		return;
	}
	struct balloon *b = running_balloon(c, r);
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

static void patch_balloon_stats(struct api_ctx *c, json_t *body,
				struct api_response *r)
{
	static const char *const fields[] = {"stats_polling_interval_s", NULL};
	uint32_t s;

	if (only_fields(body, "balloon", fields, r) ||
	    get_u32(body, "balloon", "stats_polling_interval_s",
		    API_MAX_STATS_INTERVAL_S, &s, r))
		return;
	if (!c->vm) {
		struct config_balloon *cb = configured_balloon(c, r);
		if (cb) {
			cb->stats_polling_interval_s = s;
			api_respond_no_content(r);
		}
		return;
	}
	if (!running_balloon(c, r))
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

/* The running balloon with hinting configured, or NULL after a 400. */
static struct balloon *hinting_balloon(struct api_ctx *c,
				       struct api_response *r)
{
	if (!c->vm) {
		if (configured_balloon(c, r))
			api_respond_error(r, HTTP_BAD_REQUEST,
					  "balloon free page hinting is available once the microVM runs");
		return NULL;
	}
	struct balloon *b = running_balloon(c, r);
	if (b && !c->cfg->balloon.free_page_hinting) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "balloon free page hinting was not enabled when the device was configured (free_page_hinting)");
		return NULL;
	}
	return b;
}

static void hint_result(struct api_response *r, int e)
{
	if (!e)
		api_respond_no_content(r);
	else if (e == -ENODEV)
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "balloon free page hinting is not active: the guest driver has not negotiated VIRTIO_BALLOON_F_FREE_PAGE_HINT");
	else if (e == -EOPNOTSUPP)
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "balloon free page hinting was not enabled when the device was configured (free_page_hinting)");
	else
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "balloon free page hinting: %s", strerror(-e));
}

/* Like only_fields, with every field optional. */
static int optional_fields(json_t *body, const char *const *allowed,
			   struct api_response *r)
{
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v) {
		const char *const *a = allowed;
		while (*a && strcmp(*a, key))
			a++;
		if (!*a) {
			api_respond_error(r, HTTP_BAD_REQUEST,
					  "balloon.%s: unknown field", key);
			return -1;
		}
	}
	return 0;
}

static void patch_hint_start(struct api_ctx *c, json_t *body,
			     struct api_response *r)
{
	static const char *const fields[] = {"acknowledge_on_stop", NULL};
	json_t *ack = json_object_get(body, "acknowledge_on_stop");
	if (optional_fields(body, fields, r))
		return;
	if (ack && !json_is_boolean(ack)) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "balloon.acknowledge_on_stop: must be true or false");
		return;
	}
	struct balloon *b = hinting_balloon(c, r);
	if (b)
		hint_result(r, balloon_hint_start(b, !ack || json_is_true(ack),
						  NULL));
}

static void patch_hint_stop(struct api_ctx *c, json_t *body,
			    struct api_response *r)
{
	static const char *const none[] = {NULL};
	if (optional_fields(body, none, r))
		return;
	struct balloon *b = hinting_balloon(c, r);
	/* As Firecracker's: the run ends with DONE, the guest gets its hinted
	 * pages back. */
	if (b)
		hint_result(r, balloon_hint_done(b));
}

static const char *const hint_state_names[] = {
	[BALLOON_HINT_IDLE] = "idle",       [BALLOON_HINT_REQUESTED] = "requested",
	[BALLOON_HINT_RUNNING] = "running", [BALLOON_HINT_STOPPED] = "stopped",
	[BALLOON_HINT_DONE] = "done",
};

static void get_hint_status(struct api_ctx *c, json_t *body,
			    struct api_response *r)
{
	(void)body;
	struct balloon *b = hinting_balloon(c, r);
	if (!b)
		return;
	struct balloon_hint_status st;
	balloon_hint_status(b, &st);
	json_t *o = json_pack(
		"{sIsssIsbsIsIsI}", "host_cmd", (json_int_t)st.host_cmd,
		"mvmm_state", hint_state_names[st.state], "mvmm_run_id",
		(json_int_t)st.run_id, "mvmm_negotiated", st.negotiated,
		"mvmm_hinted_ranges", (json_int_t)st.ranges,
		"mvmm_hinted_bytes", (json_int_t)st.bytes,
		"mvmm_hinted_pages", (json_int_t)st.pages);
	/* guest_cmd only once the guest sent one, as Firecracker's Option. */
	if (o && st.guest_cmd_valid)
		json_object_set_new(o, "guest_cmd",
				    json_integer((json_int_t)st.guest_cmd));
	if (!o)
		api_respond_error(r, HTTP_INTERNAL_ERROR, "out of memory");
	else
		api_respond_json(r, 200, o);
}

/* ---- mvmm's safe reclaim from hints (vm_reclaim.h) ---- */

/* Default and largest wait for the guest's STOP. */
#define API_RECLAIM_TIMEOUT_MS 5000
#define API_RECLAIM_MAX_TIMEOUT_MS 60000

static void patch_hint_reclaim(struct api_ctx *c, json_t *body,
			       struct api_response *r)
{
	static const char *const fields[] = {"timeout_ms", NULL};
	if (optional_fields(body, fields, r))
		return;
	uint32_t timeout_ms = API_RECLAIM_TIMEOUT_MS;
	json_t *t = json_object_get(body, "timeout_ms");
	if (t && (!json_is_integer(t) || json_integer_value(t) < 1 ||
		  json_integer_value(t) > API_RECLAIM_MAX_TIMEOUT_MS)) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "balloon.timeout_ms: must be an integer from 1 to %d",
				  API_RECLAIM_MAX_TIMEOUT_MS);
		return;
	}
	if (t)
		timeout_ms = (uint32_t)json_integer_value(t);
	if (!hinting_balloon(c, r))
		return;
	char msg[160];
	int e = vm_reclaim_start(c->vm, timeout_ms, msg, sizeof(msg));
	if (e)
		api_respond_error(r, HTTP_BAD_REQUEST, "balloon reclaim: %s", msg);
	else
		api_respond_no_content(r);
}

static const char *const reclaim_state_names[] = {
	[VM_RECLAIM_IDLE] = "idle", [VM_RECLAIM_WAITING] = "waiting",
	[VM_RECLAIM_DONE] = "done", [VM_RECLAIM_FAILED] = "failed",
};

static void get_hint_reclaim(struct api_ctx *c, json_t *body,
			     struct api_response *r)
{
	(void)body;
	if (!hinting_balloon(c, r))
		return;
	struct vm_reclaim_result res;
	vm_reclaim_get(c->vm, &res);
	json_t *o = json_pack(
		"{sssIsIsbsIsIsIsIsIsIsIsIsI}", "state",
		reclaim_state_names[res.state], "reclaims",
		(json_int_t)res.reclaims, "cmd_id", (json_int_t)res.cmd_id,
		"guest_stopped", res.guest_stopped, "pages_hinted",
		(json_int_t)res.pages.hinted, "pages_discarded",
		(json_int_t)res.pages.discard, "pages_skipped_dirty",
		(json_int_t)res.pages.dirty, "pages_skipped_device",
		(json_int_t)res.pages.device, "hint_us",
		(json_int_t)res.hint_us, "pause_us", (json_int_t)res.pause_us,
		"discard_us", (json_int_t)res.discard_us, "pages_dirty_logged",
		(json_int_t)res.pages_logged, "bytes_discarded",
		(json_int_t)(res.pages.discard * GMEM_PAGE_SIZE));
	if (o && res.state == VM_RECLAIM_FAILED)
		json_object_set_new(o, "fault_message", json_string(res.msg));
	if (!o)
		api_respond_error(r, HTTP_INTERNAL_ERROR, "out of memory");
	else
		api_respond_json(r, 200, o);
}

/* ---- vm state (Firecracker's PATCH /vm) ---- */

static void patch_vm(struct api_ctx *c, json_t *body, struct api_response *r)
{
	json_t *s = json_object_get(body, "state");
	if (!s || !json_is_string(s) || json_object_size(body) != 1 ||
	    (strcmp(json_string_value(s), "Paused") &&
	     strcmp(json_string_value(s), "Resumed"))) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "vm.state: must be \"Paused\" or \"Resumed\"");
		return;
	}
	if (!c->vm) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "vm.state: the microVM is not running");
		return;
	}
	bool pause = !strcmp(json_string_value(s), "Paused");
	int e = pause ? vm_pause(c->vm) : vm_resume(c->vm);
	/* Pausing a paused VM (or resuming a running one) changes nothing. */
	if (e && e != -EALREADY)
		api_respond_error(r, HTTP_BAD_REQUEST, "vm.state: cannot %s: %s",
				  pause ? "pause" : "resume", strerror(-e));
	else
		api_respond_no_content(r);
}

/* ---- metrics ---- */

static void get_metrics(struct api_ctx *c, json_t *body,
			struct api_response *r)
{
	(void)body;
	json_t *m = c->vm ? metrics_vm_json(c->vm)
			  : json_pack("{snsns[]}", "balloon", "discard",
				      "virtio");
	if (!m)
		api_respond_error(r, HTTP_INTERNAL_ERROR, "out of memory");
	else
		api_respond_json(r, 200, m);
}

/* ---- dispatch ---- */

enum { M_GET, M_PUT, M_PATCH, M_NR };
static const char *const method_names[M_NR] = {"GET", "PUT", "PATCH"};

typedef void (*route_fn)(struct api_ctx *c, json_t *body,
			 struct api_response *r);

static const struct route {
	const char *path;
	route_fn fn[M_NR];
} routes[] = {
	{"/", {get_instance, NULL, NULL}},
	{"/actions", {NULL, put_actions, NULL}},
	{"/boot-source", {NULL, put_boot_source, NULL}},
	{"/machine-config", {get_machine, put_machine, patch_machine}},
	{"/balloon", {get_balloon, put_balloon, patch_balloon}},
	{"/balloon/statistics", {get_balloon_stats, NULL, patch_balloon_stats}},
	{"/balloon/hinting/start", {NULL, NULL, patch_hint_start}},
	{"/balloon/hinting/status", {get_hint_status, NULL, NULL}},
	{"/balloon/hinting/stop", {NULL, NULL, patch_hint_stop}},
	{"/balloon/hinting/reclaim", {get_hint_reclaim, NULL, patch_hint_reclaim}},
	{"/vm", {NULL, NULL, patch_vm}},
	{"/metrics", {get_metrics, NULL, NULL}},
};

static json_t *parse_body(const struct api_request *req,
			  struct api_response *r)
{
	json_error_t je;
	if (req->body_len == 0) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "%s %s needs a JSON object body", req->method,
				  req->path);
		return NULL;
	}
	json_t *v = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES,
			       &je);
	if (!v) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "invalid JSON body at line %d, column %d: %s",
				  je.line, je.column, je.text);
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "the request body must be a JSON object");
		return NULL;
	}
	return v;
}

static void method_not_allowed(const struct route *rt,
			       const struct api_request *req,
			       struct api_response *r)
{
	char allowed[32] = "";
	for (unsigned m = 0; m < M_NR; m++) {
		if (!rt->fn[m])
			continue;
		if (allowed[0])
			strcat(allowed, ", ");
		strcat(allowed, method_names[m]);
	}
	api_respond_error(r, HTTP_METHOD_NOT_ALLOWED,
			  "%s is not allowed on %s (allowed: %s)", req->method,
			  rt->path, allowed);
}

void api_routes_handle(void *opaque, const struct api_request *req,
		       struct api_response *resp)
{
	struct api_ctx *c = opaque;
	const struct route *rt = NULL;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]) && !rt; i++)
		if (!strcmp(routes[i].path, req->path))
			rt = &routes[i];
	if (!rt) {
		/* Firecracker's answer to an unknown path. */
		api_respond_error(resp, HTTP_BAD_REQUEST,
				  "Invalid request method and/or path: %s %s.",
				  req->method, req->path);
		return;
	}
	int m = -1;
	for (int i = 0; i < M_NR && m < 0; i++)
		if (!strcmp(method_names[i], req->method))
			m = i;
	if (m < 0 || !rt->fn[m]) {
		method_not_allowed(rt, req, resp);
		return;
	}
	json_t *body = NULL;
	/* Firecracker takes the hinting PATCHes without a body. */
	if (m != M_GET && req->body_len == 0 &&
	    !strncmp(rt->path, "/balloon/hinting/", 17))
		body = json_object();
	else if (m != M_GET && !(body = parse_body(req, resp)))
		return;
	rt->fn[m](c, body, resp);
	json_decref(body);
	log_debug("api: %s %s -> %u", req->method, req->path, resp->status);
}
