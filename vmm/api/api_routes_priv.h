/* Shared by the REST API's route files (api_instance.c, api_balloon.c,
 * api_hinting.c, api_snapshot.c): the answers every handler may give and
 * the handlers the route table in api_routes.c points at. A handler parses
 * its whole body into a plain struct first (config/fields.h checks each
 * field), and only then applies it. Main loop only. */
#ifndef VMM_API_ROUTES_PRIV_H
#define VMM_API_ROUTES_PRIV_H

#include "api/api_routes.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define HTTP_BAD_REQUEST 400
#define HTTP_METHOD_NOT_ALLOWED 405
#define HTTP_INTERNAL_ERROR 500

/* Room for a parse error: a field's name and why. */
#define API_ERR_LEN CONFIG_ERR_LEN

/* 400 with msg as the fault_message. */
void api_respond_bad_request(struct api_response *r, const char *msg);
/* 200 with o, or 500 when building it ran out of memory (o NULL). */
void api_respond_object(struct api_response *r, json_t *o);

/* A pre-boot PUT's body, as the config file's `section`, into tmp: the
 * required fields first, then the config parser's checks. 0, or -EINVAL
 * after a 400. */
int api_parse_section(struct vm_config *tmp, const char *section,
		      json_t *body, const char *const *required,
		      struct api_response *r);
/* Before boot: true. After: false after a 400 naming what. */
bool api_pre_boot_only(struct api_ctx *c, const char *what,
		       struct api_response *r);
/* The running balloon, or NULL after a 400 naming why there is none. */
struct balloon *api_running_balloon(struct api_ctx *c, struct api_response *r);
/* Before boot: the configured balloon, or NULL after a 400. */
struct config_balloon *api_configured_balloon(struct api_ctx *c,
					      struct api_response *r);
/* The running balloon for a request that needs one; before boot NULL after
 * a 400: before_boot, or why there is no balloon at all. */
struct balloon *api_runtime_balloon(struct api_ctx *c, const char *before_boot,
				    struct api_response *r);

typedef void api_route_fn(struct api_ctx *c, json_t *body,
			  struct api_response *r);

/* Firecracker's Balloon object for /vm/config: the configured balloon
 * with the running one's target and interval, or JSON null without one. */
json_t *api_balloon_config_json(struct api_ctx *c);

/* api_instance.c */
api_route_fn api_get_instance, api_put_actions, api_put_boot_source,
	api_get_machine, api_put_machine, api_patch_machine, api_patch_vm,
	api_get_metrics, api_get_version, api_get_vm_config;
/* api_balloon.c */
api_route_fn api_get_balloon, api_put_balloon, api_patch_balloon,
	api_get_balloon_stats, api_patch_balloon_stats;
/* api_hinting.c */
api_route_fn api_patch_hint_start, api_get_hint_status, api_patch_hint_stop,
	api_patch_hint_reclaim, api_get_hint_reclaim;
/* api_snapshot.c */
api_route_fn api_put_snapshot_create, api_put_snapshot_load, api_get_snapshot;

#endif
