/* /balloon/hinting/..., PATCH /vm and mvmm's reclaim, against a balloon with
 * a simulated Linux driver behind virtio-mmio. */
#include "fakes/api_fixture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_balloon.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

TestSuite(api_hinting, .init = api_fixture_setup, .fini = api_fixture_teardown);

/* ---- balloon/hinting ---- */


static void probe_linux(void)
{
	const struct fbd_opts o = {.features = FBD_LINUX_FEATURES};
	cr_assert_eq(fbd_probe(&api_bed->drv, &api_bed->tb->drv, &o), 0);
}

Test(api_hinting, hinting_start_status_stop_follow_firecracker)
{
	boot_with_bed(false, true);
	probe_linux();
	json_t *j;
	cr_assert_eq(call("GET", "/balloon/hinting/status", NULL, &j), 200);
	cr_assert_eq(int_field(j, "host_cmd"), 0);
	cr_assert_null(json_object_get(j, "guest_cmd"),
		       "no guest_cmd before the guest sent one");
	json_decref(j);

	/* No body: acknowledge_on_stop defaults to true. */
	cr_assert_eq(call("PATCH", "/balloon/hinting/start", NULL, NULL), 204);
	uint32_t id = fbd_hint_cmd_id(&api_bed->drv);
	cr_assert_geq(id, 2);
	cr_assert_eq(fbd_hint_config_changed(&api_bed->drv), 1);
	cr_assert_eq(call("GET", "/balloon/hinting/status", NULL, &j), 200);
	cr_assert_eq(int_field(j, "host_cmd"), id);
	cr_assert_eq(int_field(j, "guest_cmd"), id);
	cr_assert_str_eq(json_string_value(json_object_get(j, "mvmm_state")),
			 "running");
	json_decref(j);
	cr_assert_geq(fbd_hint_stop(&api_bed->drv), 0);
	cr_assert_eq(call("GET", "/balloon/hinting/status", NULL, &j), 200);
	cr_assert_eq(int_field(j, "host_cmd"), VIRTIO_BALLOON_CMD_ID_DONE);
	cr_assert_eq(int_field(j, "guest_cmd"), VIRTIO_BALLOON_CMD_ID_STOP);
	json_decref(j);

	/* acknowledge_on_stop false: the guest's STOP leaves the id... */
	cr_assert_eq(call("PATCH", "/balloon/hinting/start",
			  "{\"acknowledge_on_stop\": false}", NULL), 204);
	uint32_t id2 = fbd_hint_cmd_id(&api_bed->drv);
	cr_assert_gt(id2, id);
	cr_assert_eq(fbd_hint_config_changed(&api_bed->drv), 1);
	cr_assert_geq(fbd_hint_stop(&api_bed->drv), 0);
	cr_assert_eq(fbd_hint_cmd_id(&api_bed->drv), id2);
	/* ...until stop, which (as in Firecracker) writes DONE. */
	cr_assert_eq(call("PATCH", "/balloon/hinting/stop", NULL, NULL), 204);
	cr_assert_eq(fbd_hint_cmd_id(&api_bed->drv), VIRTIO_BALLOON_CMD_ID_DONE);
	cr_assert_eq(call("PATCH", "/balloon/hinting/stop", "{}", NULL), 204);
}

Test(api_hinting, hinting_errors_are_400_with_a_reason)
{
	json_t *j;
	/* Not enabled in the configuration. */
	boot_with_bed(false, false);
	probe_linux();
	cr_assert_eq(call("PATCH", "/balloon/hinting/start", NULL, &j), 400);
	cr_assert(strstr(fault(j), "not enabled"), "%s", fault(j));
	json_decref(j);
	cr_assert_eq(call("GET", "/balloon/hinting/status", NULL, &j), 400);
	cr_assert(strstr(fault(j), "not enabled"), "%s", fault(j));
	json_decref(j);
	cr_assert_eq(call("PATCH", "/balloon/hinting/stop", NULL, &j), 400);
	json_decref(j);
	fbd_bed_free(api_bed);
	api_bed = NULL;

	/* Enabled, but the guest has not negotiated it. */
	boot_with_bed(false, true);
	cr_assert_eq(call("PATCH", "/balloon/hinting/start", NULL, &j), 400);
	cr_assert(strstr(fault(j), "negotiated"), "%s", fault(j));
	json_decref(j);
	probe_linux();
	cr_assert_eq(call("PATCH", "/balloon/hinting/start",
			  "{\"acknowledge_on_stop\": 1}", &j), 400);
	cr_assert_str_eq(fault(j),
			 "balloon.acknowledge_on_stop: must be true or false");
	json_decref(j);
	cr_assert_eq(call("PATCH", "/balloon/hinting/start",
			  "{\"bogus\": true}", &j), 400);
	cr_assert_str_eq(fault(j), "balloon.bogus: unknown field");
	json_decref(j);
	cr_assert_eq(fbd_hint_cmd_id(&api_bed->drv), 0, "a failed request changes nothing");
	cr_assert_eq(call("GET", "/balloon/hinting/start", NULL, &j), 405);
	json_decref(j);

	/* Before boot. */
	ctx.vm = NULL;
	cr_assert_eq(call("PATCH", "/balloon/hinting/start", NULL, &j), 400);
	cr_assert(strstr(fault(j), "once the microVM runs"), "%s", fault(j));
	json_decref(j);
}

/* ---- PATCH /vm and mvmm's reclaim ---- */

Test(api_hinting, patch_vm_takes_only_paused_or_resumed)
{
	json_t *j;
	const char *bad[] = {"{\"state\": \"Stopped\"}", "{\"state\": 1}",
			     "{}", "{\"state\": \"Paused\", \"x\": 1}"};
	boot_with_bed(false, false);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(call("PATCH", "/vm", bad[i], &j), 400, "%s", bad[i]);
		cr_assert(strstr(fault(j), "vm.state"), "%s", fault(j));
		json_decref(j);
	}
	cr_assert_eq(call("GET", "/vm", NULL, NULL), 405);
	/* No vCPU threads here: the handshake completes at once. */
	cr_assert_eq(call("PATCH", "/vm", "{\"state\": \"Paused\"}", NULL), 204);
	cr_assert(vm_paused(&vm));
	cr_assert_eq(call("PATCH", "/vm", "{\"state\": \"Paused\"}", NULL), 204);
	cr_assert_eq(call("PATCH", "/vm", "{\"state\": \"Resumed\"}", NULL), 204);
	cr_assert_not(vm_paused(&vm));
	ctx.vm = NULL;
	cr_assert_eq(call("PATCH", "/vm", "{\"state\": \"Paused\"}", &j), 400);
	cr_assert(strstr(fault(j), "not running"), "%s", fault(j));
	json_decref(j);
}

Test(api_hinting, reclaim_refuses_what_it_cannot_do_safely)
{
	json_t *j;
	boot_with_bed(false, false);
	probe_linux();
	cr_assert_eq(call("PATCH", "/balloon/hinting/reclaim", NULL, &j), 400);
	cr_assert(strstr(fault(j), "not enabled"), "%s", fault(j));
	json_decref(j);
	fbd_bed_free(api_bed);
	api_bed = NULL;

	boot_with_bed(false, true);
	probe_linux();
	cr_assert_eq(call("GET", "/balloon/hinting/reclaim", NULL, &j), 200);
	cr_assert_str_eq(json_string_value(json_object_get(j, "state")), "idle");
	cr_assert_eq(int_field(j, "reclaims"), 0);
	json_decref(j);
	cr_assert_eq(call("PATCH", "/balloon/hinting/reclaim",
			  "{\"timeout_ms\": 0}", &j), 400);
	cr_assert(strstr(fault(j), "timeout_ms"), "%s", fault(j));
	json_decref(j);
	/* Locked memory cannot be discarded page by page. */
	cfg.mem_lock = true;
	cr_assert_eq(call("PATCH", "/balloon/hinting/reclaim", NULL, &j), 400);
	cr_assert(strstr(fault(j), "locked"), "%s", fault(j));
	json_decref(j);
	cr_assert_eq(fbd_hint_cmd_id(&api_bed->drv), 0, "a refused reclaim starts no run");
}
