/* /balloon/hinting/...: Firecracker's hint runs and mvmm's reclaim. */
#include "api/api_routes_priv.h"

#include "reclaim/vm_reclaim.h"

#include <core/log.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The running balloon with hinting configured, or NULL after a 400. */
static struct balloon *hinting_balloon(struct api_ctx *c,
				       struct api_response *r)
{
	if (!c->vm) {
		if (api_configured_balloon(c, r))
			api_respond_error(r, HTTP_BAD_REQUEST,
					  "balloon free page hinting is available once the microVM runs");
		return NULL;
	}
	struct balloon *b = api_running_balloon(c, r);
	if (b && !c->cfg->balloon.free_page_hinting) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "balloon free page hinting was not enabled when the device was configured (free_page_hinting)");
		return NULL;
	}
	return b;
}

static void hint_result(struct api_response *r, int e)
{
	if (!e)
		api_respond_no_content(r);
	else if (e == -ENODEV)
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "balloon free page hinting is not active: the guest driver has not negotiated VIRTIO_BALLOON_F_FREE_PAGE_HINT");
	else if (e == -EOPNOTSUPP)
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "balloon free page hinting was not enabled when the device was configured (free_page_hinting)");
	else
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "balloon free page hinting: %s", strerror(-e));
}

void api_patch_hint_start(struct api_ctx *c, json_t *body,
			     struct api_response *r)
{
	static const char *const fields[] = {"acknowledge_on_stop", NULL};
	json_t *ack = json_object_get(body, "acknowledge_on_stop");
	if (api_optional_fields(body, fields, r))
		return;
	if (ack && !json_is_boolean(ack)) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "balloon.acknowledge_on_stop: must be true or false");
		return;
	}
	struct balloon *b = hinting_balloon(c, r);
	if (!b)
		return;
	bool ack_on_stop = !ack || json_is_true(ack);
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
	if (api_optional_fields(body, none, r))
		return;
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

void api_get_hint_status(struct api_ctx *c, json_t *body,
			    struct api_response *r)
{
	(void)body;
	struct balloon *b = hinting_balloon(c, r);
	if (!b)
		return;
	struct balloon_hint_status st;
	balloon_hint_status(b, &st);
	json_t *o = json_pack(
		"{sIsssIsbsIsIsI}", "host_cmd", (json_int_t)st.host_cmd,
		"mvmm_state", hint_state_names[st.state], "mvmm_run_id",
		(json_int_t)st.run_id, "mvmm_negotiated", st.negotiated,
		"mvmm_hinted_ranges", (json_int_t)st.ranges,
		"mvmm_hinted_bytes", (json_int_t)st.bytes,
		"mvmm_hinted_pages", (json_int_t)st.pages);
	/* guest_cmd only once the guest sent one, as Firecracker's Option. */
	if (o && st.guest_cmd_valid)
		json_object_set_new(o, "guest_cmd",
				    json_integer((json_int_t)st.guest_cmd));
	if (!o)
		api_respond_error(r, HTTP_INTERNAL_ERROR, "out of memory");
	else
		api_respond_json(r, 200, o);
}

/* ---- mvmm's safe reclaim from hints (vm_reclaim.h) ---- */

/* Default and largest wait for the guest's STOP. */
#define API_RECLAIM_TIMEOUT_MS 5000
#define API_RECLAIM_MAX_TIMEOUT_MS 60000

void api_patch_hint_reclaim(struct api_ctx *c, json_t *body,
			       struct api_response *r)
{
	static const char *const fields[] = {"timeout_ms", NULL};
	if (api_optional_fields(body, fields, r))
		return;
	uint32_t timeout_ms = API_RECLAIM_TIMEOUT_MS;
	json_t *t = json_object_get(body, "timeout_ms");
	if (t && (!json_is_integer(t) || json_integer_value(t) < 1 ||
		  json_integer_value(t) > API_RECLAIM_MAX_TIMEOUT_MS)) {
		api_respond_error(r, HTTP_BAD_REQUEST,
				  "balloon.timeout_ms: must be an integer from 1 to %d",
				  API_RECLAIM_MAX_TIMEOUT_MS);
		return;
	}
	if (t)
		timeout_ms = (uint32_t)json_integer_value(t);
	if (!hinting_balloon(c, r))
		return;
	char msg[160];
	int e = vm_reclaim_start_discard(c->vm, timeout_ms, msg, sizeof(msg));
	if (e)
		api_respond_error(r, HTTP_BAD_REQUEST, "balloon reclaim: %s", msg);
	else
		api_respond_no_content(r);
}

static const char *const reclaim_state_names[] = {
	[VM_RECLAIM_IDLE] = "idle", [VM_RECLAIM_WAITING] = "waiting",
	[VM_RECLAIM_DONE] = "done", [VM_RECLAIM_FAILED] = "failed",
};

void api_get_hint_reclaim(struct api_ctx *c, json_t *body,
			     struct api_response *r)
{
	(void)body;
	if (!hinting_balloon(c, r))
		return;
	struct vm_reclaim_result res;
	vm_reclaim_get(c->vm, &res);
	json_t *o = json_pack(
		"{sssIsIsbsIsIsIsIsIsIsIsIsI}", "state",
		reclaim_state_names[res.state], "reclaims",
		(json_int_t)res.reclaims, "cmd_id", (json_int_t)res.cmd_id,
		"guest_stopped", res.guest_stopped, "pages_hinted",
		(json_int_t)res.pages.hinted, "pages_discarded",
		(json_int_t)res.pages.discard, "pages_skipped_dirty",
		(json_int_t)res.pages.dirty, "pages_skipped_device",
		(json_int_t)res.pages.device, "hint_us",
		(json_int_t)res.hint_us, "pause_us", (json_int_t)res.pause_us,
		"discard_us", (json_int_t)res.discard_us, "pages_dirty_logged",
		(json_int_t)res.pages_logged, "bytes_discarded",
		(json_int_t)(res.pages.discard * GMEM_PAGE_SIZE));
	if (o && res.state == VM_RECLAIM_FAILED)
		json_object_set_new(o, "fault_message", json_string(res.msg));
	if (!o)
		api_respond_error(r, HTTP_INTERNAL_ERROR, "out of memory");
	else
		api_respond_json(r, 200, o);
}

/* ---- vm state (Firecracker's PATCH /vm) ---- */
