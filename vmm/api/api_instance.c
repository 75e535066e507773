/* The instance: GET / (info), PUT /actions, the pre-boot PUTs of
 * /boot-source and /machine-config, PATCH /vm (pause, resume), GET /version,
 * GET /vm/config and mvmm's GET /metrics. */
#include "api/api_routes_priv.h"

#include "config/fields.h"
#include "vm/metrics.h"

#include <core/log.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void api_get_instance(struct api_ctx *c, json_t *body, struct api_response *r)
{
	const char *state = !c->vm		  ? "Not started"
			    : vm_paused(c->vm) ? "Paused"
					       : "Running";
	json_t *o = json_object();
	(void)body;
	json_object_set_new(o, "id", json_string(c->instance_id ? c->instance_id
							       : "anonymous-instance"));
	json_object_set_new(o, "state", json_string(state));
	json_object_set_new(o, "vmm_version",
			    json_string(c->vmm_version ? c->vmm_version : "unknown"));
	json_object_set_new(o, "app_name", json_string("mvmm"));
	api_respond_object(r, o);
}

/* ---- PUT /actions ---- */

enum action { ACTION_INSTANCE_START, ACTION_FLUSH_METRICS };

static int parse_action(json_t *body, enum action *out, char *err,
			size_t errlen)
{
	static const char *const fields[] = {"action_type", NULL};
	static const char *const actions[] = {
		[ACTION_INSTANCE_START] = "InstanceStart",
		[ACTION_FLUSH_METRICS] = "FlushMetrics",
		NULL,
	};
	struct fields f = FIELDS(body, "actions", err, errlen);
	const char *type = NULL;

	if (fields_check(&f, fields) || fields_require(&f, fields) ||
	    fields_string(&f, "action_type", &type))
		return -EINVAL;
	for (unsigned i = 0; actions[i]; i++) {
		if (!strcmp(actions[i], type)) {
			*out = (enum action)i;
			return 0;
		}
	}
	return fields_fail(&f, "action_type",
			   "'%s' is not supported (InstanceStart, FlushMetrics)",
			   type);
}

static void instance_start(struct api_ctx *c, struct api_response *r)
{
	char err[CONFIG_ERR_LEN] = "";

	if (c->vm)
		api_respond_bad_request(r, "InstanceStart: the microVM is already running");
	else if (config_validate(c->cfg, err))
		api_respond_bad_request(r, err);
	else if (!c->start)
		api_respond_bad_request(r, "InstanceStart: not available");
	else if (c->start(c, err, sizeof(err)))
		api_respond_error(r, HTTP_BAD_REQUEST, "InstanceStart: %s", err);
	else
		api_respond_no_content(r);
}

static void flush_metrics(struct api_ctx *c, struct api_response *r)
{
	char *line = c->vm ? metrics_vm_string(c->vm) : NULL;
	if (!line) {
		api_respond_bad_request(r, "FlushMetrics: no metrics before the microVM starts");
		return;
	}
	log_info("metrics: %s", line);
	free(line);
	api_respond_no_content(r);
}

void api_put_actions(struct api_ctx *c, json_t *body, struct api_response *r)
{
	char err[API_ERR_LEN];
	enum action action = ACTION_INSTANCE_START;

	if (parse_action(body, &action, err, sizeof(err))) {
		api_respond_bad_request(r, err);
		return;
	}
	switch (action) {
	case ACTION_INSTANCE_START:
		instance_start(c, r);
		break;
	case ACTION_FLUSH_METRICS:
		flush_metrics(c, r);
		break;
	}
}

/* ---- PUT /boot-source ---- */

void api_put_boot_source(struct api_ctx *c, json_t *body,
			 struct api_response *r)
{
	static const char *const required[] = {"kernel_image_path", NULL};
	char err[CONFIG_ERR_LEN];
	struct vm_config tmp;

	if (!api_pre_boot_only(c, "the boot source", r))
		return;
	config_defaults(&tmp);
	if (api_parse_section(&tmp, "boot-source", body, required, r))
		goto out;
	/* Checked now, as Firecracker does, so the error names the request. */
	if (config_validate_boot_source(&tmp, err)) {
		api_respond_bad_request(r, err);
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

/* ---- /machine-config ---- */

/* Firecracker's MachineConfiguration plus mvmm's fields. */
static json_t *machine_json(const struct vm_config *cfg)
{
	json_t *o = json_object();
	json_object_set_new(o, "vcpu_count", json_integer(cfg->vcpu_count));
	json_object_set_new(o, "mem_size_mib",
			    json_integer((json_int_t)cfg->mem_size_mib));
	json_object_set_new(o, "smt", json_boolean(cfg->smt));
	json_object_set_new(o, "track_dirty_pages",
			    json_boolean(cfg->track_dirty_pages));
	json_object_set_new(o, "huge_pages",
			    json_string(config_huge_pages_name(cfg->huge_pages)));
	json_object_set_new(o, "mvmm_mem_backend",
			    json_string(config_mem_backend_name(cfg->mem_backend)));
	json_object_set_new(o, "mvmm_mem_lock", json_boolean(cfg->mem_lock));
	return o;
}

void api_get_machine(struct api_ctx *c, json_t *body, struct api_response *r)
{
	(void)body;
	api_respond_object(r, machine_json(c->cfg));
}

/* PUT starts from the defaults (Firecracker resets omitted fields), PATCH
 * from the current values; both are checked whole (config_check_machine)
 * before anything changes. */
static void update_machine(struct api_ctx *c, json_t *body, bool patch,
			   struct api_response *r)
{
	static const char *const put_required[] = {"vcpu_count",
						   "mem_size_mib", NULL};
	static const char *const none[] = {NULL};
	char err[CONFIG_ERR_LEN];
	struct vm_config tmp;
	struct vm_config *cfg = c->cfg;

	/* Firecracker's Deprecation header for cpu_template; here whenever
	 * the field is used, refused or not. */
	r->deprecated = json_object_get(body, "cpu_template") != NULL;
	if (patch && !json_object_size(body)) {
		api_respond_bad_request(r, "Empty PATCH request.");
		return;
	}
	if (!api_pre_boot_only(c, "the machine configuration", r))
		return;
	config_defaults(&tmp);
	if (patch) {
		tmp.vcpu_count = cfg->vcpu_count;
		tmp.mem_size_mib = cfg->mem_size_mib;
		tmp.huge_pages = cfg->huge_pages;
		tmp.mem_backend = cfg->mem_backend;
		tmp.mem_lock = cfg->mem_lock;
		tmp.smt = cfg->smt;
		tmp.track_dirty_pages = cfg->track_dirty_pages;
	}
	if (api_parse_section(&tmp, "machine-config", body,
			      patch ? none : put_required, r))
		goto out;
	if (config_check_machine(&tmp, err, sizeof(err))) {
		api_respond_bad_request(r, err);
		goto out;
	}
	cfg->vcpu_count = tmp.vcpu_count;
	cfg->mem_size_mib = tmp.mem_size_mib;
	cfg->huge_pages = tmp.huge_pages;
	cfg->mem_backend = tmp.mem_backend;
	cfg->mem_lock = tmp.mem_lock;
	cfg->smt = tmp.smt;
	cfg->track_dirty_pages = tmp.track_dirty_pages;
	api_respond_no_content(r);
out:
	config_free(&tmp);
}

void api_put_machine(struct api_ctx *c, json_t *body, struct api_response *r)
{
	update_machine(c, body, false, r);
}

void api_patch_machine(struct api_ctx *c, json_t *body,
		       struct api_response *r)
{
	update_machine(c, body, true, r);
}

/* ---- GET /version, GET /vm/config ---- */

void api_get_version(struct api_ctx *c, json_t *body, struct api_response *r)
{
	json_t *o = json_object();
	(void)body;
	/* Firecracker's field name; the value is mvmm's own version. */
	json_object_set_new(o, "firecracker_version",
			    json_string(c->vmm_version ? c->vmm_version : "unknown"));
	api_respond_object(r, o);
}

static json_t *boot_source_json(const struct vm_config *cfg)
{
	if (!cfg->kernel_path)
		return json_null();
	json_t *o = json_object();
	json_object_set_new(o, "kernel_image_path", json_string(cfg->kernel_path));
	if (cfg->initrd_path)
		json_object_set_new(o, "initrd_path", json_string(cfg->initrd_path));
	if (cfg->boot_args)
		json_object_set_new(o, "boot_args", json_string(cfg->boot_args));
	return o;
}

/* Firecracker's FullVmConfiguration: a config file (--config) that builds
 * this VM again. Sections for devices mvmm lacks say "none". */
void api_get_vm_config(struct api_ctx *c, json_t *body, struct api_response *r)
{
	static const char *const empty_lists[] = {"drives", "network-interfaces",
						  "pmem", NULL};
	static const char *const nulls[] = {"cpu-config", "logger", "metrics",
					    "mmds-config", "vsock", "entropy",
					    NULL};
	json_t *o = json_object();
	(void)body;
	json_object_set_new(o, "boot-source", boot_source_json(c->cfg));
	json_object_set_new(o, "machine-config", machine_json(c->cfg));
	json_object_set_new(o, "balloon", api_balloon_config_json(c));
	for (const char *const *n = empty_lists; *n; n++)
		json_object_set_new(o, *n, json_array());
	for (const char *const *n = nulls; *n; n++)
		json_object_set_new(o, *n, json_null());
	api_respond_object(r, o);
}

/* ---- PATCH /vm ---- */

static int parse_vm_state(json_t *body, bool *pause, char *err, size_t errlen)
{
	static const char *const states[] = {"Paused", "Resumed", NULL};
	struct fields f = FIELDS(body, "vm", err, errlen);
	unsigned i = 2; /* absent */

	/* One field, always: anything else gets the one answer. */
	if (json_object_size(body) == 1 &&
	    !fields_choice(&f, "state", states, &i) && i < 2) {
		*pause = i == 0;
		return 0;
	}
	return fields_fail(&f, "state", "must be \"Paused\" or \"Resumed\"");
}

void api_patch_vm(struct api_ctx *c, json_t *body, struct api_response *r)
{
	char err[API_ERR_LEN];
	bool pause = false;

	if (parse_vm_state(body, &pause, err, sizeof(err))) {
		api_respond_bad_request(r, err);
		return;
	}
	if (!c->vm) {
		api_respond_bad_request(r, "vm.state: the microVM is not running");
		return;
	}
	int e = pause ? vm_pause(c->vm) : vm_resume(c->vm);
	/* Pausing a paused VM (or resuming a running one) changes nothing. */
	if (e && e != -EALREADY)
		api_respond_error(r, HTTP_BAD_REQUEST, "vm.state: cannot %s: %s",
				  pause ? "pause" : "resume", strerror(-e));
	else
		api_respond_no_content(r);
}

/* ---- GET /metrics ---- */

void api_get_metrics(struct api_ctx *c, json_t *body, struct api_response *r)
{
	(void)body;
	if (c->vm) {
		api_respond_object(r, metrics_vm_json(c->vm));
		return;
	}
	/* Before boot: the sections, empty. */
	json_t *o = json_object();
	json_object_set_new(o, "balloon", json_null());
	json_object_set_new(o, "discard", json_null());
	json_object_set_new(o, "virtio", json_array());
	api_respond_object(r, o);
}
