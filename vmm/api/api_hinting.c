/* /balloon/hinting/...: Firecracker's hint runs and mvmm's reclaim. */
#include "api/api_routes_priv.h"

#include "config/fields.h"
#include "reclaim/vm_reclaim.h"

#include <core/log.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char not_configured[] =
	"balloon free page hinting was not enabled when the device was configured (free_page_hinting)";

/* The running balloon with hinting configured, or NULL after a 400. */
static struct balloon *hinting_balloon(struct api_ctx *c,
				       struct api_response *r)
{
	struct balloon *b = api_runtime_balloon(
		c, "balloon free page hinting is available once the microVM runs", r);
	if (b && !c->cfg->balloon.free_page_hinting) {
		api_respond_bad_request(r, not_configured);
		return NULL;
	}
	return b;
}

static void hint_result(struct api_response *r, int e)
{
	if (!e)
		api_respond_no_content(r);
	else if (e == -ENODEV)
		api_respond_bad_request(r, "balloon free page hinting is not active: the guest driver has not negotiated VIRTIO_BALLOON_F_FREE_PAGE_HINT");
	else if (e == -EOPNOTSUPP)
		api_respond_bad_request(r, not_configured);
	else
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "balloon free page hinting: %s", strerror(-e));
}

/* ---- start, stop, status ---- */

static int parse_hint_start(json_t *body, bool *ack_on_stop, char *err,
			    size_t errlen)
{
	static const char *const fields[] = {"acknowledge_on_stop", NULL};
	struct fields f = FIELDS(body, "balloon", err, errlen);

	*ack_on_stop = true;
	if (fields_check(&f, fields) ||
	    fields_bool(&f, "acknowledge_on_stop", ack_on_stop))
		return -EINVAL;
	return 0;
}

void api_patch_hint_start(struct api_ctx *c, json_t *body,
			  struct api_response *r)
{
	char err[API_ERR_LEN];
	bool ack_on_stop;

	if (parse_hint_start(body, &ack_on_stop, err, sizeof(err))) {
		api_respond_bad_request(r, err);
		return;
	}
	struct balloon *b = hinting_balloon(c, r);
	if (!b)
		return;
	/* With a dirty log from before the run, a later snapshot can leave
	 * the hinted pages that stayed clean out of its memory file. */
	char why[160];
	int e = vm_reclaim_start_tracked(c->vm, ack_on_stop, NULL, why, sizeof(why));
	if (e) {
		log_debug("hinting: run without a dirty log (%s)", why);
		e = balloon_hint_start(b, ack_on_stop, NULL);
	}
	hint_result(r, e);
}

void api_patch_hint_stop(struct api_ctx *c, json_t *body,
			 struct api_response *r)
{
	static const char *const none[] = {NULL};
	char err[API_ERR_LEN];
	struct fields f = FIELDS(body, "balloon", err, sizeof(err));

	if (fields_check(&f, none)) {
		api_respond_bad_request(r, err);
		return;
	}
	struct balloon *b = hinting_balloon(c, r);
	/* As Firecracker's: the run ends with DONE, the guest gets its hinted
	 * pages back. */
	if (b)
		hint_result(r, balloon_hint_done(b));
}

static const char *const hint_state_names[] = {
	[BALLOON_HINT_IDLE] = "idle",       [BALLOON_HINT_REQUESTED] = "requested",
	[BALLOON_HINT_RUNNING] = "running", [BALLOON_HINT_STOPPED] = "stopped",
	[BALLOON_HINT_DONE] = "done",
};

static json_t *hint_status_json(const struct balloon_hint_status *st)
{
	json_t *o = json_object();
	json_object_set_new(o, "host_cmd", json_integer(st->host_cmd));
	json_object_set_new(o, "mvmm_state", json_string(hint_state_names[st->state]));
	json_object_set_new(o, "mvmm_run_id", json_integer(st->run_id));
	json_object_set_new(o, "mvmm_negotiated", json_boolean(st->negotiated));
	json_object_set_new(o, "mvmm_hinted_ranges",
			    json_integer((json_int_t)st->ranges));
	json_object_set_new(o, "mvmm_hinted_bytes",
			    json_integer((json_int_t)st->bytes));
	json_object_set_new(o, "mvmm_hinted_pages",
			    json_integer((json_int_t)st->pages));
	/* guest_cmd only once the guest sent one, as Firecracker's Option. */
	if (st->guest_cmd_valid)
		json_object_set_new(o, "guest_cmd", json_integer(st->guest_cmd));
	return o;
}

void api_get_hint_status(struct api_ctx *c, json_t *body,
			 struct api_response *r)
{
	(void)body;
	struct balloon *b = hinting_balloon(c, r);
	if (!b)
		return;
	struct balloon_hint_status st;
	balloon_hint_status(b, &st);
	api_respond_object(r, hint_status_json(&st));
}

/* ---- mvmm's safe reclaim from hints (reclaim/vm_reclaim.h) ---- */

/* Default and largest wait for the guest's STOP. */
#define API_RECLAIM_TIMEOUT_MS 5000
#define API_RECLAIM_MAX_TIMEOUT_MS 60000

static int parse_reclaim(json_t *body, uint32_t *timeout_ms, char *err,
			 size_t errlen)
{
	static const char *const fields[] = {"timeout_ms", NULL};
	struct fields f = FIELDS(body, "balloon", err, errlen);

	*timeout_ms = API_RECLAIM_TIMEOUT_MS;
	if (fields_check(&f, fields))
		return -EINVAL;
	json_t *t = json_object_get(body, "timeout_ms");
	if (!t)
		return 0;
	json_int_t ms = json_is_integer(t) ? json_integer_value(t) : 0;
	if (ms < 1 || ms > API_RECLAIM_MAX_TIMEOUT_MS)
		return fields_fail(&f, "timeout_ms",
				   "must be an integer from 1 to %d",
				   API_RECLAIM_MAX_TIMEOUT_MS);
	*timeout_ms = (uint32_t)ms;
	return 0;
}

void api_patch_hint_reclaim(struct api_ctx *c, json_t *body,
			    struct api_response *r)
{
	char err[API_ERR_LEN];
	uint32_t timeout_ms;

	if (parse_reclaim(body, &timeout_ms, err, sizeof(err))) {
		api_respond_bad_request(r, err);
		return;
	}
	if (!hinting_balloon(c, r))
		return;
	char msg[160];
	if (vm_reclaim_start_discard(c->vm, timeout_ms, msg, sizeof(msg)))
		api_respond_error(r, HTTP_BAD_REQUEST, "balloon reclaim: %s", msg);
	else
		api_respond_no_content(r);
}

static const char *const reclaim_state_names[] = {
	[VM_RECLAIM_IDLE] = "idle", [VM_RECLAIM_WAITING] = "waiting",
	[VM_RECLAIM_DONE] = "done", [VM_RECLAIM_FAILED] = "failed",
};

static json_t *reclaim_json(const struct vm_reclaim_result *res)
{
	json_t *o = json_object();
	json_object_set_new(o, "state", json_string(reclaim_state_names[res->state]));
	json_object_set_new(o, "reclaims", json_integer((json_int_t)res->reclaims));
	json_object_set_new(o, "cmd_id", json_integer(res->cmd_id));
	json_object_set_new(o, "guest_stopped", json_boolean(res->guest_stopped));
	json_object_set_new(o, "pages_hinted",
			    json_integer((json_int_t)res->pages.hinted));
	json_object_set_new(o, "pages_discarded",
			    json_integer((json_int_t)res->pages.discard));
	json_object_set_new(o, "pages_skipped_dirty",
			    json_integer((json_int_t)res->pages.dirty));
	json_object_set_new(o, "pages_skipped_device",
			    json_integer((json_int_t)res->pages.device));
	json_object_set_new(o, "hint_us", json_integer((json_int_t)res->hint_us));
	json_object_set_new(o, "pause_us", json_integer((json_int_t)res->pause_us));
	json_object_set_new(o, "discard_us",
			    json_integer((json_int_t)res->discard_us));
	json_object_set_new(o, "pages_dirty_logged",
			    json_integer((json_int_t)res->pages_logged));
	json_object_set_new(o, "bytes_discarded",
			    json_integer((json_int_t)(res->pages.discard *
						      GMEM_PAGE_SIZE)));
	if (res->state == VM_RECLAIM_FAILED)
		json_object_set_new(o, "fault_message", json_string(res->msg));
	return o;
}

void api_get_hint_reclaim(struct api_ctx *c, json_t *body,
			  struct api_response *r)
{
	(void)body;
	if (!hinting_balloon(c, r))
		return;
	struct vm_reclaim_result res;
	vm_reclaim_get(c->vm, &res);
	api_respond_object(r, reclaim_json(&res));
}
