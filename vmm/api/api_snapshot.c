/* Snapshot routes: Firecracker's PUT /snapshot/create and PUT
 * /snapshot/load, and mvmm's GET /snapshot (the last create's figures). */
#include "api/api_routes_priv.h"

#include "config/fields.h"
#include "snapshot/snapshot.h"

#include <core/log.h>

#include <errno.h>
#include <string.h>

/* The guest's hint run for a snapshot of a running VM, unless the request
 * says otherwise. */
#define API_SNAPSHOT_HINT_TIMEOUT_MS 10000
#define API_SNAPSHOT_MAX_HINT_TIMEOUT_MS 600000

/* ---- PUT /snapshot/create ---- */

static int parse_snapshot_create(json_t *body, struct snapshot_create_req *req,
				 char *err, size_t errlen)
{
	static const char *const fields[] = {
		"snapshot_type", "snapshot_path", "mem_file_path", "version",
		"free_page_hinting", "hint_timeout_ms", NULL,
	};
	struct fields f = FIELDS(body, "snapshot", err, errlen);
	const char *type = NULL;

	*req = (struct snapshot_create_req){
		.hint_timeout_ms = API_SNAPSHOT_HINT_TIMEOUT_MS,
		.use_hints = true,
	};
	if (fields_check(&f, fields) ||
	    fields_text(&f, "snapshot_type", false, &type) ||
	    fields_text(&f, "snapshot_path", true, &req->snapshot_path) ||
	    fields_text(&f, "mem_file_path", true, &req->mem_file_path) ||
	    fields_bool(&f, "free_page_hinting", &req->use_hints) ||
	    fields_u32(&f, "hint_timeout_ms", 0,
		       API_SNAPSHOT_MAX_HINT_TIMEOUT_MS, &req->hint_timeout_ms))
		return -EINVAL;
	if (type && strcmp(type, "Full"))
		return fields_fail(&f, "snapshot_type",
				   "only \"Full\" is supported, got \"%s\"", type);
	return 0;
}

static void on_created(void *opaque, const struct snapshot_create_result *res)
{
	struct api_ctx *c = opaque;
	struct api_response r = {0};
	c->last_snapshot = *res;
	c->has_last_snapshot = true;
	if (res->err)
		api_respond_error(&r, HTTP_BAD_REQUEST, "snapshot/create: %s",
				  res->msg);
	else
		api_respond_no_content(&r);
	if (c->server)
		api_server_answer(c->server, &r);
}

void api_put_snapshot_create(struct api_ctx *c, json_t *body,
			     struct api_response *r)
{
	char err[API_ERR_LEN];
	struct snapshot_create_req req;

	if (parse_snapshot_create(body, &req, err, sizeof(err))) {
		api_respond_bad_request(r, err);
		return;
	}
	if (!c->vm) {
		api_respond_bad_request(r, "snapshot/create: the microVM is not running");
		return;
	}
	if (!c->server) {
		api_respond_error(r, HTTP_INTERNAL_ERROR, "snapshot/create: no API server");
		return;
	}
	char msg[256];
	/* The answer goes out from on_created, maybe before this returns. */
	r->status = API_STATUS_DEFERRED;
	if (snapshot_create(c->vm, &req, on_created, c, msg, sizeof(msg))) {
		r->status = 0;
		api_respond_error(r, HTTP_BAD_REQUEST, "snapshot/create: %s", msg);
	}
}

/* ---- GET /snapshot ---- */

static json_t *result_json(const struct snapshot_create_result *s)
{
	json_t *o = json_object();
	json_object_set_new(o, "ok", json_boolean(!s->err));
	json_object_set_new(o, "error", json_string(s->err ? s->msg : ""));
	json_object_set_new(o, "hinted", json_boolean(s->hinted));
	json_object_set_new(o, "hint_us", json_integer((json_int_t)s->hint_us));
	json_object_set_new(o, "pause_us", json_integer((json_int_t)s->pause_us));
	json_object_set_new(o, "save_us", json_integer((json_int_t)s->save_us));
	json_object_set_new(o, "pages_total",
			    json_integer((json_int_t)s->pages_total));
	json_object_set_new(o, "pages_written",
			    json_integer((json_int_t)s->pages_written));
	json_object_set_new(o, "pages_zero", json_integer((json_int_t)s->pages_zero));
	json_object_set_new(o, "pages_hinted_clean",
			    json_integer((json_int_t)s->pages_hinted_clean));
	json_object_set_new(o, "pages_hinted_dirty",
			    json_integer((json_int_t)s->pages_hinted_dirty));
	json_object_set_new(o, "mem_file_bytes",
			    json_integer((json_int_t)s->mem_file_bytes));
	json_object_set_new(o, "state_bytes",
			    json_integer((json_int_t)s->state_bytes));
	return o;
}

void api_get_snapshot(struct api_ctx *c, json_t *body, struct api_response *r)
{
	(void)body;
	if (!c->has_last_snapshot)
		api_respond_bad_request(r, "snapshot: none taken yet");
	else
		api_respond_object(r, result_json(&c->last_snapshot));
}

/* ---- PUT /snapshot/load ---- */

/* Firecracker's mem_backend: only a file, given here instead of
 * mem_file_path. */
static int parse_mem_backend(json_t *be, const char **path, char *err,
			     size_t errlen)
{
	static const char *const fields[] = {"backend_type", "backend_path",
					     NULL};
	struct fields f = FIELDS(be, "snapshot.mem_backend", err, errlen);
	const char *type = NULL;

	if (fields_check(&f, fields) ||
	    fields_text(&f, "backend_type", true, &type) ||
	    fields_text(&f, "backend_path", true, path))
		return -EINVAL;
	if (strcmp(type, "File"))
		return fields_fail(&f, "backend_type",
				   "only \"File\" is supported, got \"%s\"", type);
	return 0;
}

/* Firecracker's load fields mvmm parses without a snapshot_load_req field
 * of their own. */
struct load_extras {
	bool deprecated;    /* mem_file_path: Firecracker's deprecated field */
	bool has_huge_pages;
	unsigned huge_pages; /* enum config_huge_pages */
};

/* Overrides for devices mvmm does not have: accepted when they override
 * nothing. */
static int parse_load_overrides(struct fields *f)
{
	json_t *net = json_object_get(f->obj, "network_overrides");
	json_t *vsock = json_object_get(f->obj, "vsock_override");

	if (net && !json_is_null(net) && !json_is_array(net))
		return fields_fail(f, "network_overrides", "must be an array");
	if (json_array_size(net))
		return fields_fail(f, "network_overrides",
				   "mvmm has no network devices to override");
	if (vsock && !json_is_null(vsock))
		return fields_fail(f, "vsock_override",
				   "mvmm has no vsock device to override");
	return 0;
}

static int parse_snapshot_load(json_t *body, struct snapshot_load_req *req,
			       struct load_extras *x, char *err, size_t errlen)
{
	static const char *const fields[] = {
		"snapshot_path", "mem_file_path", "mem_backend",
		"enable_diff_snapshots", "track_dirty_pages", "resume_vm",
		"clock_realtime", "huge_pages", "network_overrides",
		"vsock_override", NULL,
	};
	struct fields f = FIELDS(body, "snapshot", err, errlen);
	bool diff = false, track = false, clock_realtime = false;

	*req = (struct snapshot_load_req){0};
	*x = (struct load_extras){
		.deprecated = fields_has(&f, "mem_file_path"),
		.has_huge_pages = fields_has(&f, "huge_pages"),
	};
	if (fields_check(&f, fields) ||
	    fields_text(&f, "snapshot_path", true, &req->snapshot_path) ||
	    fields_text(&f, "mem_file_path", false, &req->mem_file_path) ||
	    fields_bool(&f, "resume_vm", &req->resume) ||
	    fields_bool(&f, "enable_diff_snapshots", &diff) ||
	    fields_bool(&f, "track_dirty_pages", &track) ||
	    fields_bool(&f, "clock_realtime", &clock_realtime) ||
	    fields_choice(&f, "huge_pages", config_huge_pages_names,
			  &x->huge_pages) ||
	    parse_load_overrides(&f))
		return -EINVAL;
	json_t *be = json_object_get(body, "mem_backend");
	if (be && !json_is_object(be))
		return fields_fail(&f, "mem_backend", "must be an object");
	const char *backend_path = NULL;
	if (be && parse_mem_backend(be, &backend_path, err, errlen))
		return -EINVAL;
	if (backend_path && req->mem_file_path)
		return fields_fail(&f, NULL,
				   "give mem_file_path or mem_backend, not both");
	if (backend_path)
		req->mem_file_path = backend_path;
	if (diff || track)
		return fields_fail(&f, diff ? "enable_diff_snapshots"
					    : "track_dirty_pages",
				   "diff snapshots are not supported");
	if (clock_realtime)
		return fields_fail(&f, "clock_realtime",
				   "not supported: mvmm restores kvmclock as it was saved, so the guest's clock resumes where it stopped");
	return 0;
}

/* 204; the state file's machine section decided the memory backing, so a
 * huge_pages that says otherwise was not followed. */
static void loaded(struct api_ctx *c, const struct load_extras *x,
		   struct api_response *r)
{
	if (x->has_huge_pages && x->huge_pages != c->cfg->huge_pages)
		log_warn("snapshot/load: huge_pages \"%s\" ignored: the snapshot's memory is restored as \"%s\"",
			 config_huge_pages_name((enum config_huge_pages)x->huge_pages),
			 config_huge_pages_name(c->cfg->huge_pages));
	api_respond_no_content(r);
}

void api_put_snapshot_load(struct api_ctx *c, json_t *body,
			   struct api_response *r)
{
	char err[API_ERR_LEN];
	struct snapshot_load_req req;
	struct load_extras x;

	int e = parse_snapshot_load(body, &req, &x, err, sizeof(err));
	/* Firecracker's Deprecation header; here whenever the field is used,
	 * refused or not. */
	r->deprecated = x.deprecated;
	if (e)
		api_respond_bad_request(r, err);
	else if (c->vm)
		api_respond_bad_request(r, "snapshot/load: a microVM is already running; load into a new mvmm process");
	else if (!c->load)
		api_respond_bad_request(r, "snapshot/load: not available");
	else if (c->load(c, &req, err, sizeof(err)))
		api_respond_error(r, HTTP_BAD_REQUEST, "snapshot/load: %s", err);
	else
		loaded(c, &x, r);
}
