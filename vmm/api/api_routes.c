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
	{"/vm", {NULL, NULL, api_patch_vm}},
	{"/snapshot", {api_get_snapshot, NULL, NULL}},
	{"/snapshot/create", {NULL, api_put_snapshot_create, NULL}},
	{"/snapshot/load", {NULL, api_put_snapshot_load, NULL}},
	{"/metrics", {api_get_metrics, NULL, NULL}},
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

void api_routes_handle(void *opaque, const struct api_request *req,
		       struct api_response *resp)
{
	struct api_ctx *c = opaque;
	const struct route *rt = find_route(req->path);

	if (!rt) {
		/* Firecracker's answer to an unknown path. */
		api_respond_error(resp, HTTP_BAD_REQUEST,
				  "Invalid request method and/or path: %s %s.",
				  req->method, req->path);
		return;
	}
	int m = find_method(req->method);
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
