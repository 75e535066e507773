/* The dispatcher: finds a request's route and method, parses its body as a
 * JSON object and calls the handler (api_routes_priv.h lists them). */
#include "api/api_routes_priv.h"

#include <core/log.h>

#include <string.h>

enum { M_GET, M_PUT, M_PATCH, M_NR };
static const char *const method_names[M_NR] = {"GET", "PUT", "PATCH"};

static const struct route {
	const char *path;
	api_route_fn *fn[M_NR];
} routes[] = {
	{"/", {api_get_instance, NULL, NULL}},
	{"/actions", {NULL, api_put_actions, NULL}},
	{"/boot-source", {NULL, api_put_boot_source, NULL}},
	{"/machine-config", {api_get_machine, api_put_machine, api_patch_machine}},
	{"/balloon", {api_get_balloon, api_put_balloon, api_patch_balloon}},
	{"/balloon/statistics", {api_get_balloon_stats, NULL, api_patch_balloon_stats}},
	{"/balloon/hinting/start", {NULL, NULL, api_patch_hint_start}},
	{"/balloon/hinting/status", {api_get_hint_status, NULL, NULL}},
	{"/balloon/hinting/stop", {NULL, NULL, api_patch_hint_stop}},
	{"/balloon/hinting/reclaim", {api_get_hint_reclaim, NULL, api_patch_hint_reclaim}},
	{"/version", {api_get_version, NULL, NULL}},
	{"/vm", {NULL, NULL, api_patch_vm}},
	{"/vm/config", {api_get_vm_config, NULL, NULL}},
	{"/snapshot", {api_get_snapshot, NULL, NULL}},
	{"/snapshot/create", {NULL, api_put_snapshot_create, NULL}},
	{"/snapshot/load", {NULL, api_put_snapshot_load, NULL}},
	{"/metrics", {api_get_metrics, NULL, NULL}},
};

/* The body as a JSON object, or NULL after a 400. */
static json_t *parse_body(const struct api_request *req,
			  struct api_response *r)
{
	json_error_t je;
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

/* 405 with the Allow header HTTP requires (RFC 9110 15.5.6). */
static void method_not_allowed(const struct route *rt,
			       const struct api_request *req,
			       struct api_response *r)
{
	char *allowed = r->allow;
	_Static_assert(sizeof(r->allow) > sizeof("GET, PUT, PATCH"),
		       "room for every method");
	allowed[0] = 0;
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

static const struct route *find_route(const char *path)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (!strcmp(routes[i].path, path))
			return &routes[i];
	return NULL;
}

static int find_method(const char *method)
{
	for (int i = 0; i < M_NR; i++)
		if (!strcmp(method_names[i], method))
			return i;
	return -1;
}

const char *api_route_path(size_t i)
{
	return i < sizeof(routes) / sizeof(routes[0]) ? routes[i].path : NULL;
}

bool api_route_allows(const char *path, const char *method)
{
	const struct route *rt = find_route(path);
	int m = find_method(method);
	return rt && m >= 0 && rt->fn[m];
}

/* Firecracker's hinting PATCHes (and mvmm's reclaim) take no body. */
static bool body_optional(const struct route *rt, int m)
{
	return m == M_PATCH && rt && !strncmp(rt->path, "/balloon/hinting/", 17);
}

/* Firecracker's answers to a body where none belongs or none where one
 * must be, given before the path is looked at. */
static bool body_misplaced(const struct api_request *req,
			   const struct route *rt, int m,
			   struct api_response *r)
{
	const char *msg = NULL;
	if (m == M_GET && req->body_len)
		msg = "GET request cannot have a body.";
	else if (m == M_PUT && !req->body_len)
		msg = "Empty PUT request.";
	else if (m == M_PATCH && !req->body_len && !body_optional(rt, m))
		msg = "Empty PATCH request.";
	if (msg)
		api_respond_bad_request(r, msg);
	return msg != NULL;
}

void api_routes_handle(void *opaque, const struct api_request *req,
		       struct api_response *resp)
{
	struct api_ctx *c = opaque;
	const struct route *rt = find_route(req->path);
	int m = find_method(req->method);
	json_t *body = NULL;

	if (body_misplaced(req, rt, m, resp))
		goto out;
	if (!rt) {
		/* Firecracker's answer to an unknown path. */
		api_respond_error(resp, HTTP_BAD_REQUEST,
				  "Invalid request method and/or path: %s %s.",
				  req->method, req->path);
		goto out;
	}
	if (m < 0 || !rt->fn[m]) {
		method_not_allowed(rt, req, resp);
		goto out;
	}
	/* A PATCH that may come without a body sees an empty object. */
	if (m != M_GET && !(body = req->body_len ? parse_body(req, resp)
						 : json_object()))
		goto out;
	rt->fn[m](c, body, resp);
	json_decref(body);
out:
	log_debug("api: %s %s -> %u", req->method, req->path, resp->status);
}
