/* Snapshot routes: Firecracker's PUT /snapshot/create and PUT
 * /snapshot/load, and mvmm's GET /snapshot (the last create's figures). */
#include "api/api_routes_priv.h"

#include "snapshot/snapshot.h"

#include <errno.h>
#include <string.h>

/* The guest's hint run for a snapshot of a running VM, unless the request
 * says otherwise. */
#define API_SNAPSHOT_HINT_TIMEOUT_MS 10000
#define API_SNAPSHOT_MAX_HINT_TIMEOUT_MS 600000

/* Field type checks: the message names the field. */
static int get_str(json_t *body, const char *section, const char *key,
		   bool required, const char **out, struct api_response *r)
{
	json_t *v = json_object_get(body, key);
	*out = NULL;
	if (!v) {
		if (!required)
			return 0;
		api_respond_error(r, HTTP_BAD_REQUEST, "%s.%s: required", section, key);
		return -1;
	}
	if (!json_is_string(v) || !*json_string_value(v)) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "%s.%s: must be a non-empty string", section, key);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

static int get_bool(json_t *body, const char *section, const char *key,
		    bool dflt, bool *out, struct api_response *r)
{
	json_t *v = json_object_get(body, key);
	*out = dflt;
	if (!v)
		return 0;
	if (!json_is_boolean(v)) {
		api_respond_error(r, HTTP_BAD_REQUEST, "%s.%s: must be true or false",
				  section, key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

static int only(json_t *body, const char *section, const char *const *allowed,
		struct api_response *r)
{
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v) {
		const char *const *a = allowed;
		while (*a && strcmp(*a, key))
			a++;
		if (!*a) {
			api_respond_error(r, HTTP_BAD_REQUEST, "%s.%s: unknown field",
					  section, key);
			return -1;
		}
	}
	return 0;
}

static json_t *result_json(const struct snapshot_create_result *s)
{
	return json_pack("{sbsssbsIsIsIsIsIsIsIsIsIsI}", "ok", !s->err,
			 "error", s->err ? s->msg : "", "hinted", s->hinted,
			 "hint_us", (json_int_t)s->hint_us,
			 "pause_us", (json_int_t)s->pause_us,
			 "save_us", (json_int_t)s->save_us,
			 "pages_total", (json_int_t)s->pages_total,
			 "pages_written", (json_int_t)s->pages_written,
			 "pages_zero", (json_int_t)s->pages_zero,
			 "pages_hinted_clean", (json_int_t)s->pages_hinted_clean,
			 "pages_hinted_dirty", (json_int_t)s->pages_hinted_dirty,
			 "mem_file_bytes", (json_int_t)s->mem_file_bytes,
			 "state_bytes", (json_int_t)s->state_bytes);
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
	static const char *const fields[] = {
		"snapshot_type", "snapshot_path", "mem_file_path", "version",
		"free_page_hinting", "hint_timeout_ms", NULL,
	};
	const char *type, *state, *mem;
	bool hints;
	uint32_t timeout_ms = API_SNAPSHOT_HINT_TIMEOUT_MS;
	if (only(body, "snapshot", fields, r) ||
	    get_str(body, "snapshot", "snapshot_type", false, &type, r) ||
	    get_str(body, "snapshot", "snapshot_path", true, &state, r) ||
	    get_str(body, "snapshot", "mem_file_path", true, &mem, r) ||
	    get_bool(body, "snapshot", "free_page_hinting", true, &hints, r))
		return;
	if (json_object_get(body, "hint_timeout_ms") &&
	    api_get_u32(body, "snapshot", "hint_timeout_ms",
			API_SNAPSHOT_MAX_HINT_TIMEOUT_MS, &timeout_ms, r))
		return;
	if (type && strcmp(type, "Full")) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "snapshot.snapshot_type: only \"Full\" is supported, got \"%s\"",
				  type);
		return;
	}
	if (!c->vm) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "snapshot/create: the microVM is not running");
		return;
	}
	if (!c->server) {
		api_respond_error(r, HTTP_INTERNAL_ERROR, "snapshot/create: no API server");
		return;
	}
	struct snapshot_create_req req = {
		.snapshot_path = state,
		.mem_file_path = mem,
		.hint_timeout_ms = timeout_ms,
		.use_hints = hints,
	};
	char msg[256];
	/* The answer goes out from on_created, maybe before this returns. */
	r->status = API_STATUS_DEFERRED;
	int e = snapshot_create(c->vm, &req, on_created, c, msg, sizeof(msg));
	if (e) {
		r->status = 0;
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "snapshot/create: %s", msg);
	}
}

void api_get_snapshot(struct api_ctx *c, json_t *body, struct api_response *r)
{
	(void)body;
	if (!c->has_last_snapshot) {
		api_respond_error(r, HTTP_BAD_REQUEST, "snapshot: none taken yet");
		return;
	}
	json_t *j = result_json(&c->last_snapshot);
	if (!j)
		api_respond_error(r, HTTP_INTERNAL_ERROR, "out of memory");
	else
		api_respond_json(r, 200, j);
}

void api_put_snapshot_load(struct api_ctx *c, json_t *body,
			   struct api_response *r)
{
	static const char *const fields[] = {
		"snapshot_path", "mem_file_path", "mem_backend",
		"enable_diff_snapshots", "track_dirty_pages", "resume_vm", NULL,
	};
	static const char *const backend_fields[] = {"backend_type",
						     "backend_path", NULL};
	const char *state, *mem = NULL, *type;
	bool resume, diff, track;
	if (only(body, "snapshot", fields, r) ||
	    get_str(body, "snapshot", "snapshot_path", true, &state, r) ||
	    get_str(body, "snapshot", "mem_file_path", false, &mem, r) ||
	    get_bool(body, "snapshot", "resume_vm", false, &resume, r) ||
	    get_bool(body, "snapshot", "enable_diff_snapshots", false, &diff, r) ||
	    get_bool(body, "snapshot", "track_dirty_pages", false, &track, r))
		return;
	json_t *be = json_object_get(body, "mem_backend");
	if (be) {
		const char *path;
		if (!json_is_object(be)) {
			api_respond_error(r, HTTP_BAD_REQUEST,
					  "snapshot.mem_backend: must be an object");
			return;
		}
		if (only(be, "snapshot.mem_backend", backend_fields, r) ||
		    get_str(be, "snapshot.mem_backend", "backend_type", true, &type, r) ||
		    get_str(be, "snapshot.mem_backend", "backend_path", true, &path, r))
			return;
		if (strcmp(type, "File")) {
			api_respond_error(r, HTTP_BAD_REQUEST,
					  "snapshot.mem_backend.backend_type: only \"File\" is supported, got \"%s\"",
					  type);
			return;
		}
		if (mem) {
			api_respond_error(r, HTTP_BAD_REQUEST,
					  "snapshot: give mem_file_path or mem_backend, not both");
			return;
		}
		mem = path;
	}
	if (diff || track) {
		api_respond_error(r, HTTP_BAD_REQUEST, "snapshot.%s: diff snapshots are not supported",
				  diff ? "enable_diff_snapshots" : "track_dirty_pages");
		return;
	}
	if (c->vm) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "snapshot/load: a microVM is already running; load into a new mvmm process");
		return;
	}
	if (!c->load) {
		api_respond_error(r, HTTP_BAD_REQUEST, "snapshot/load: not available");
		return;
	}
	struct snapshot_load_req req = {
		.snapshot_path = state, .mem_file_path = mem, .resume = resume,
	};
	char err[512];
	if (c->load(c, &req, err, sizeof(err)))
		api_respond_error(r, HTTP_BAD_REQUEST, "snapshot/load: %s", err);
	else
		api_respond_no_content(r);
}
