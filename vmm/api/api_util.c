/* What the API's route files share: their answers and the checks of
 * whether a request fits the VM's state. Calls no handler. */
#include "api/api_routes_priv.h"

#include "config/fields.h"

#include <errno.h>

void api_respond_bad_request(struct api_response *r, const char *msg)
{
	api_respond_error(r, HTTP_BAD_REQUEST, "%s", msg);
}

void api_respond_object(struct api_response *r, json_t *o)
{
	if (o)
		api_respond_json(r, 200, o);
	else
		api_respond_error(r, HTTP_INTERNAL_ERROR, "out of memory");
}

int api_parse_section(struct vm_config *tmp, const char *section,
		      json_t *body, const char *const *required,
		      struct api_response *r)
{
	char err[API_ERR_LEN];
	struct fields f = FIELDS(body, section, err, sizeof(err));
	if (fields_require(&f, required) ||
	    config_parse_section(tmp, section, body, err, sizeof(err))) {
		api_respond_bad_request(r, err);
		return -EINVAL;
	}
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

struct balloon *api_running_balloon(struct api_ctx *c, struct api_response *r)
{
	if (c->vm && c->vm->balloon)
		return c->vm->balloon;
	api_respond_error(r, HTTP_BAD_REQUEST, "no balloon device is configured");
	return NULL;
}

struct config_balloon *api_configured_balloon(struct api_ctx *c,
					      struct api_response *r)
{
	if (c->cfg->balloon.enabled)
		return &c->cfg->balloon;
	api_respond_error(r, HTTP_BAD_REQUEST, "no balloon device is configured");
	return NULL;
}

struct balloon *api_runtime_balloon(struct api_ctx *c, const char *before_boot,
				    struct api_response *r)
{
	if (c->vm)
		return api_running_balloon(c, r);
	if (api_configured_balloon(c, r))
		api_respond_bad_request(r, before_boot);
	return NULL;
}
