/* Shared by the REST API's route files (api_routes.c: instance, actions,
 * machine, VM and metrics; api_balloon.c; api_hinting.c): JSON field checks
 * and the handlers the route table points at. Main loop only. */
#ifndef VMM_API_ROUTES_PRIV_H
#define VMM_API_ROUTES_PRIV_H

#include "api/api_routes.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define HTTP_BAD_REQUEST 400
#define HTTP_METHOD_NOT_ALLOWED 405
#define HTTP_INTERNAL_ERROR 500

/* Statistics interval bounds, as the config file takes them. */
#define API_MAX_STATS_INTERVAL_S 3600

const char *api_config_reason(const char *err);
int api_parse_section(struct vm_config *tmp, const char *section,
			 json_t *body, struct api_response *r);
int api_require_fields(json_t *body, const char *section,
			  const char *const *keys, struct api_response *r);
int api_only_fields(json_t *body, const char *section,
		       const char *const *allowed, struct api_response *r);
int api_get_u32(json_t *body, const char *section, const char *key,
		   uint32_t max, uint32_t *out, struct api_response *r);
bool api_pre_boot_only(struct api_ctx *c, const char *what,
			  struct api_response *r);
int api_optional_fields(json_t *body, const char *const *allowed,
			   struct api_response *r);
struct balloon *api_running_balloon(struct api_ctx *c,
				       struct api_response *r);
void api_get_balloon(struct api_ctx *c, json_t *body,
			struct api_response *r);
void api_put_balloon(struct api_ctx *c, json_t *body,
			struct api_response *r);
void api_patch_balloon(struct api_ctx *c, json_t *body,
			  struct api_response *r);
void api_get_balloon_stats(struct api_ctx *c, json_t *body,
			      struct api_response *r);
void api_patch_balloon_stats(struct api_ctx *c, json_t *body,
				struct api_response *r);
void api_patch_hint_start(struct api_ctx *c, json_t *body,
			     struct api_response *r);
void api_get_hint_status(struct api_ctx *c, json_t *body,
			    struct api_response *r);
void api_patch_hint_stop(struct api_ctx *c, json_t *body,
			    struct api_response *r);
void api_patch_hint_reclaim(struct api_ctx *c, json_t *body,
			       struct api_response *r);
void api_get_hint_reclaim(struct api_ctx *c, json_t *body,
			     struct api_response *r);
void api_put_snapshot_create(struct api_ctx *c, json_t *body,
			     struct api_response *r);
void api_put_snapshot_load(struct api_ctx *c, json_t *body,
			   struct api_response *r);
void api_get_snapshot(struct api_ctx *c, json_t *body, struct api_response *r);
struct config_balloon *api_configured_balloon(struct api_ctx *c,
						 struct api_response *r);

#endif
