#include "api/api_routes_priv.h"

#include "vm/metrics.h"
#include "reclaim/vm_reclaim.h"

#include <core/log.h>

#include <ctype.h>
#include <errno.h>
#include <linux/virtio_balloon.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void get_instance(struct api_ctx *c, json_t *body,
			 struct api_response *r)
{
	(void)body;
	api_respond_json(
		r, 200,
		json_pack("{ssssssss}", "id",
			  c->instance_id ? c->instance_id : "anonymous-instance",
			  "state", !c->vm ? "Not started"
				   : vm_paused(c->vm) ? "Paused" : "Running",
			  "vmm_version", c->vmm_version ? c->vmm_version : "unknown",
			  "app_name", "mvmm"));
}

static void put_actions(struct api_ctx *c, json_t *body,
			struct api_response *r)
{
	static const char *const fields[] = {"action_type", NULL};
	char err[CONFIG_ERR_LEN] = "";

	if (api_only_fields(body, "actions", fields, r))
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

	if (!api_pre_boot_only(c, "the boot source", r) ||
	    api_require_fields(body, "boot-source", required, r))
		return;
	config_defaults(&tmp);
	if (api_parse_section(&tmp, "boot-source", body, r))
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

	if (!api_pre_boot_only(c, "the machine configuration", r) ||
	    (!patch && api_require_fields(body, "machine-config", required, r)))
		return;
	config_defaults(&tmp);
	if (patch) {
		tmp.vcpu_count = cfg->vcpu_count;
		tmp.mem_size_mib = cfg->mem_size_mib;
		tmp.huge_pages = cfg->huge_pages;
		tmp.mem_backend = cfg->mem_backend;
		tmp.mem_lock = cfg->mem_lock;
	}
	if (api_parse_section(&tmp, "machine-config", body, r))
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
	{"/balloon", {api_get_balloon, api_put_balloon, api_patch_balloon}},
	{"/balloon/statistics", {api_get_balloon_stats, NULL, api_patch_balloon_stats}},
	{"/balloon/hinting/start", {NULL, NULL, api_patch_hint_start}},
	{"/balloon/hinting/status", {api_get_hint_status, NULL, NULL}},
	{"/balloon/hinting/stop", {NULL, NULL, api_patch_hint_stop}},
	{"/balloon/hinting/reclaim", {api_get_hint_reclaim, NULL, api_patch_hint_reclaim}},
	{"/vm", {NULL, NULL, patch_vm}},
	{"/snapshot", {api_get_snapshot, NULL, NULL}},
	{"/snapshot/create", {NULL, api_put_snapshot_create, NULL}},
	{"/snapshot/load", {NULL, api_put_snapshot_load, NULL}},
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
