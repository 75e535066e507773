/* JSON field checks shared by the API route files. */
#include "api/api_routes_priv.h"

#include <core/log.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

/* config_load_string names its input in messages; the name and the position
 * (in the re-wrapped text, not the client's) are cut off. */
#define BODY_NAME "request"

const char *api_config_reason(const char *err)
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
int api_parse_section(struct vm_config *tmp, const char *section,
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
		api_respond_error(r, HTTP_BAD_REQUEST, "%s", api_config_reason(err));
	return ret;
}

int api_require_fields(json_t *body, const char *section,
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

int api_only_fields(json_t *body, const char *section,
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
	return api_require_fields(body, section, allowed, r);
}

int api_get_u32(json_t *body, const char *section, const char *key,
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

bool api_pre_boot_only(struct api_ctx *c, const char *what,
			  struct api_response *r)
{
	if (!c->vm)
		return true;
	api_respond_error(r, HTTP_BAD_REQUEST,
			  "%s can only be configured before boot", what);
	return false;
}

/* ---- instance ---- */

/* Like api_only_fields, with every field optional. */
int api_optional_fields(json_t *body, const char *const *allowed,
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

/* The running balloon, or NULL after a 400 naming why there is none. */
struct balloon *api_running_balloon(struct api_ctx *c,
				       struct api_response *r)
{
	if (c->vm && c->vm->balloon)
		return c->vm->balloon;
	api_respond_error(r, HTTP_BAD_REQUEST, "no balloon device is configured");
	return NULL;
}

/* Before boot: the configured balloon, or NULL after a 400. */
struct config_balloon *api_configured_balloon(struct api_ctx *c,
						 struct api_response *r)
{
	if (c->cfg->balloon.enabled)
		return &c->cfg->balloon;
	api_respond_error(r, HTTP_BAD_REQUEST, "no balloon device is configured");
	return NULL;
}
