/* Firecracker's contract (issue 13): each case where mvmm's API differed
 * from Firecracker's swagger and its API tests, named after the case. */
#include "fakes/api_fixture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_balloon.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

TestSuite(api_contract, .init = api_fixture_setup, .fini = api_fixture_teardown);

/* status and, for a refusal, the exact fault_message. */
static void expect(const char *method, const char *path, const char *body,
		   unsigned status, const char *fault_msg)
{
	json_t *j = NULL;
	unsigned st = call(method, path, body, &j);
	cr_assert_eq(st, status, "%s %s %s -> %u %s", method, path,
		     body ? body : "", st, j ? fault(j) : "");
	if (fault_msg)
		cr_assert_str_eq(fault(j), fault_msg, "%s %s %s", method, path,
				 body ? body : "");
	json_decref(j);
}

/* ---- bodies where none belongs, none where one must be ---- */

Test(api_contract, get_with_body_is_400)
{
	static const char *const paths[] = {"/", "/balloon", "/machine-config",
					    "/nope", NULL};
	for (const char *const *p = paths; *p; p++)
		expect("GET", *p, "{}", 400, "GET request cannot have a body.");
}

Test(api_contract, put_without_body_is_400_empty_put_request)
{
	expect("PUT", "/balloon", NULL, 400, "Empty PUT request.");
	expect("PUT", "/machine-config", NULL, 400, "Empty PUT request.");
	cr_assert(!cfg.balloon.enabled);
}

Test(api_contract, patch_without_body_is_400_empty_patch_request)
{
	cfg.balloon.enabled = true;
	expect("PATCH", "/balloon", NULL, 400, "Empty PATCH request.");
	expect("PATCH", "/machine-config", NULL, 400, "Empty PATCH request.");
	/* The hinting PATCHes take no body, as Firecracker's do. */
	expect("PATCH", "/balloon/hinting/stop", NULL, 400,
	       "balloon free page hinting is available once the microVM runs");
}

Test(api_contract, wrong_method_is_405_with_allow_header)
{
	expect("DELETE", "/balloon", NULL, 405, NULL);
	cr_assert_str_eq(last_resp.allow, "GET, PUT, PATCH");
	expect("PUT", "/balloon/statistics", "{}", 405, NULL);
	cr_assert_str_eq(last_resp.allow, "GET, PATCH");
	expect("GET", "/nope", NULL, 400,
	       "Invalid request method and/or path: GET /nope.");
	cr_assert_str_eq(last_resp.allow, "");
}

/* ---- /machine-config ---- */

Test(api_contract, put_machine_config_smt_with_odd_vcpu_count_is_400)
{
	expect("PUT", "/machine-config",
	       "{\"vcpu_count\": 3, \"mem_size_mib\": 256, \"smt\": true}", 400,
	       "machine-config.vcpu_count: must be 1 or an even number with smt, got 3");
	cr_assert_eq(cfg.vcpu_count, 1, "a refused PUT changes nothing");
	/* 1 and even counts are fine. */
	expect("PUT", "/machine-config",
	       "{\"vcpu_count\": 1, \"mem_size_mib\": 256, \"smt\": true}", 204,
	       NULL);
	expect("PUT", "/machine-config",
	       "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"smt\": true}", 204,
	       NULL);
	cr_assert(cfg.smt);
	/* The merged result counts: a PATCH to 3 keeps smt. */
	expect("PATCH", "/machine-config", "{\"vcpu_count\": 3}", 400,
	       "machine-config.vcpu_count: must be 1 or an even number with smt, got 3");
	cr_assert_eq(cfg.vcpu_count, 2);
	expect("PATCH", "/machine-config", "{\"vcpu_count\": 3, \"smt\": false}",
	       204, NULL);
	json_t *j;
	cr_assert_eq(call("GET", "/machine-config", NULL, &j), 200);
	cr_assert(json_is_false(json_object_get(j, "smt")));
	cr_assert_eq(int_field(j, "vcpu_count"), 3);
	json_decref(j);
}

Test(api_contract, machine_config_cpu_template_none_is_accepted)
{
	expect("PUT", "/machine-config",
	       "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"cpu_template\": \"None\"}",
	       204, NULL);
	/* Deprecated in Firecracker, which marks it. */
	cr_assert(last_resp.deprecated);
	expect("PATCH", "/machine-config", "{\"cpu_template\": \"None\"}", 204,
	       NULL);
	cr_assert(last_resp.deprecated);
	expect("PATCH", "/machine-config", "{\"mem_size_mib\": 300}", 204, NULL);
	cr_assert(!last_resp.deprecated);
	cr_assert_eq(cfg.vcpu_count, 2);
	cr_assert_eq(cfg.mem_size_mib, 300);
}

Test(api_contract, machine_config_other_cpu_templates_are_refused)
{
	expect("PATCH", "/machine-config", "{\"cpu_template\": \"T2\"}", 400,
	       "machine-config.cpu_template: mvmm has no CPU templates: \"T2\" cannot be applied (only \"None\" is accepted)");
	expect("PATCH", "/machine-config", "{\"cpu_template\": \"Z9\"}", 400,
	       "machine-config.cpu_template: \"Z9\" is not a CPU template (only \"None\" is accepted)");
	expect("PATCH", "/machine-config", "{\"cpu_template\": 1}", 400,
	       "machine-config.cpu_template: must be a string");
}

Test(api_contract, patch_machine_config_empty_is_400_empty_patch_request)
{
	expect("PATCH", "/machine-config", "{}", 400, "Empty PATCH request.");
}

Test(api_contract, huge_pages_2m_with_odd_mem_size_is_400)
{
	expect("PUT", "/machine-config",
	       "{\"vcpu_count\": 1, \"mem_size_mib\": 129, \"huge_pages\": \"2M\"}",
	       400,
	       "machine-config.mem_size_mib: must be a multiple of 2 with huge_pages \"2M\", got 129");
	expect("PATCH", "/machine-config", "{\"mem_size_mib\": 129}", 204, NULL);
	expect("PATCH", "/machine-config", "{\"huge_pages\": \"2M\"}", 400,
	       "machine-config.mem_size_mib: must be a multiple of 2 with huge_pages \"2M\", got 129");
	cr_assert_eq(cfg.huge_pages, HUGE_PAGES_NONE);
}

Test(api_contract, huge_pages_transparent_takes_any_mem_size)
{
	/* Firecracker's swagger asks for 2 MiB multiples with "2M" only:
	 * THP backs what it can and leaves the odd MiB on 4 KiB pages. */
	expect("PUT", "/machine-config",
	       "{\"vcpu_count\": 1, \"mem_size_mib\": 129, \"huge_pages\": \"Transparent\"}",
	       204, NULL);
	cr_assert_eq(cfg.huge_pages, HUGE_PAGES_TRANSPARENT);
	expect("PATCH", "/machine-config", "{\"huge_pages\": \"1G\"}", 400,
	       "machine-config.huge_pages: must be \"None\", \"Transparent\" or \"2M\"");
}

/* ---- /snapshot/load ---- */

static int loads;
static bool last_resume;
static char last_mem_path[64]; /* the request's strings die with its body */

static int counting_load(struct api_ctx *c, const struct snapshot_load_req *req,
			 char *err, size_t errlen)
{
	(void)c;
	(void)err;
	(void)errlen;
	loads++;
	last_resume = req->resume;
	snprintf(last_mem_path, sizeof(last_mem_path), "%s",
		 req->mem_file_path ? req->mem_file_path : "");
	return 0;
}

Test(api_contract, snapshot_load_parses_the_swaggers_fields)
{
	ctx.load = counting_load;
	expect("PUT", "/snapshot/load",
	       "{\"snapshot_path\": \"/s\", \"mem_backend\": {\"backend_type\": \"File\","
	       " \"backend_path\": \"/m\"}, \"clock_realtime\": false,"
	       " \"huge_pages\": \"None\", \"network_overrides\": [],"
	       " \"vsock_override\": null, \"resume_vm\": true}",
	       204, NULL);
	cr_assert_eq(loads, 1);
	cr_assert(last_resume);
	cr_assert_str_eq(last_mem_path, "/m");
	cr_assert(!last_resp.deprecated);
}

Test(api_contract, snapshot_load_refuses_overrides_of_devices_mvmm_lacks)
{
	ctx.load = counting_load;
	expect("PUT", "/snapshot/load",
	       "{\"snapshot_path\": \"/s\", \"network_overrides\": [{\"iface_id\": \"eth0\","
	       " \"host_dev_name\": \"tap1\"}]}",
	       400, "snapshot.network_overrides: mvmm has no network devices to override");
	expect("PUT", "/snapshot/load",
	       "{\"snapshot_path\": \"/s\", \"vsock_override\": {\"uds_path\": \"/v\"}}",
	       400, "snapshot.vsock_override: mvmm has no vsock device to override");
	expect("PUT", "/snapshot/load",
	       "{\"snapshot_path\": \"/s\", \"network_overrides\": {}}", 400,
	       "snapshot.network_overrides: must be an array");
	cr_assert_eq(loads, 0);
}

Test(api_contract, snapshot_load_refuses_clock_realtime)
{
	ctx.load = counting_load;
	expect("PUT", "/snapshot/load",
	       "{\"snapshot_path\": \"/s\", \"clock_realtime\": true}", 400,
	       "snapshot.clock_realtime: not supported: mvmm restores kvmclock as it was saved, so the guest's clock resumes where it stopped");
	expect("PUT", "/snapshot/load",
	       "{\"snapshot_path\": \"/s\", \"huge_pages\": \"4K\"}", 400,
	       "snapshot.huge_pages: must be \"None\", \"Transparent\" or \"2M\"");
	cr_assert_eq(loads, 0);
}

Test(api_contract, snapshot_load_with_mem_file_path_is_marked_deprecated)
{
	ctx.load = counting_load;
	expect("PUT", "/snapshot/load",
	       "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}", 204, NULL);
	cr_assert(last_resp.deprecated);
	cr_assert_str_eq(last_mem_path, "/m");
	/* Also when refused: the caller learns of it either way. */
	expect("PUT", "/snapshot/load",
	       "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\","
	       " \"track_dirty_pages\": true}",
	       400, NULL);
	cr_assert(last_resp.deprecated);
	expect("PUT", "/snapshot/load", "{\"snapshot_path\": \"/s\"}", 204, NULL);
	cr_assert(!last_resp.deprecated);
}

/* ---- /balloon/statistics ---- */

Test(api_contract, patch_balloon_statistics_asks_the_guest_at_once)
{
	struct balloon_config bc = {.stats_polling_interval_s = 60};
	boot_with_bed_config(&bc);
	struct fbd *d = &api_bed->drv;
	cr_assert_eq(fbd_probe(d, &api_bed->tb->drv,
			       &(struct fbd_opts){.features = FBD_LINUX_FEATURES}),
		     0);
	/* The device holds the buffer primed at probe until it asks. */
	cr_assert_eq(fbd_stats_request(d), -EAGAIN);
	fbd_set_stat(d, VIRTIO_BALLOON_S_MEMFREE, 12345 * 4096ULL);

	expect("PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 30}",
	       204, NULL);
	cr_assert_eq(fbd_stats_request(d), 0, "the buffer was handed back");
	json_t *j;
	cr_assert_eq(call("GET", "/balloon/statistics", NULL, &j), 200);
	cr_assert_eq(int_field(j, "free_memory"), 12345 * 4096LL);
	json_decref(j);
	cr_assert_eq(balloon_get_stats_interval(&api_bed->b), 30);
}

Test(api_contract, balloon_statistics_report_linux_6_12_tags)
{
	static const char *const names[] = {"oom_kill", "alloc_stall",
					    "async_scan", "direct_scan",
					    "async_reclaim", "direct_reclaim"};
	struct balloon_config bc = {.stats_polling_interval_s = 1};
	boot_with_bed_config(&bc);
	struct fbd *d = &api_bed->drv;
	cr_assert_eq(fbd_probe(d, &api_bed->tb->drv,
			       &(struct fbd_opts){.features = FBD_LINUX_FEATURES}),
		     0);
	/* The simulated driver sends every tag Linux 6.12 does (0-15). */
	for (unsigned t = 0; t < 16; t++)
		fbd_set_stat(d, t, 1000 + t);
	cr_assert_eq(balloon_stats_tick(&api_bed->b), 0);
	cr_assert_eq(fbd_stats_request(d), 0);
	json_t *j;
	cr_assert_eq(call("GET", "/balloon/statistics", NULL, &j), 200);
	for (unsigned i = 0; i < 6; i++)
		cr_assert_eq(int_field(j, names[i]), 1010 + i, "%s", names[i]);
	cr_assert_eq(json_object_size(j), 4 + 16);
	json_decref(j);
}

/* ---- /version, /vm/config ---- */

Test(api_contract, get_version_answers_firecracker_version)
{
	json_t *j;
	cr_assert_eq(call("GET", "/version", NULL, &j), 200);
	cr_assert_str_eq(json_string_value(json_object_get(j, "firecracker_version")),
			 "9.9.9");
	json_decref(j);
}

Test(api_contract, get_vm_config_exports_a_config_file_that_loads_back)
{
	json_t *j;
	char body[256];
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", \"boot_args\": \"console=ttyS0\"}",
		 kernel_file);
	expect("PUT", "/boot-source", body, 204, NULL);
	expect("PUT", "/machine-config",
	       "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"mvmm_mem_backend\": \"memfd\"}",
	       204, NULL);
	cr_assert_eq(call("GET", "/vm/config", NULL, &j), 200);
	/* No balloon is exported as null, the way Firecracker does. */
	cr_assert(json_is_null(json_object_get(j, "balloon")));
	cr_assert_eq(json_array_size(json_object_get(j, "drives")), 0);
	char *text = json_dumps(j, 0);
	json_decref(j);

	struct vm_config back;
	char err[CONFIG_ERR_LEN];
	config_defaults(&back);
	back.balloon.enabled = true; /* "balloon": null turns it off */
	cr_assert_eq(config_load_string(&back, text, "vm-config.json", err), 0,
		     "%s", err);
	cr_assert_eq(back.vcpu_count, 2);
	cr_assert_eq(back.mem_size_mib, 256);
	cr_assert_eq(back.mem_backend, MEM_BACKEND_MEMFD);
	cr_assert_str_eq(back.kernel_path, kernel_file);
	cr_assert_str_eq(back.boot_args, "console=ttyS0");
	cr_assert(!back.balloon.enabled);
	config_free(&back);
	free(text);

	expect("PUT", "/balloon", "{\"amount_mib\": 16, \"deflate_on_oom\": true}",
	       204, NULL);
	cr_assert_eq(call("GET", "/vm/config", NULL, &j), 200);
	json_t *b = json_object_get(j, "balloon");
	cr_assert_eq(int_field(b, "amount_mib"), 16);
	cr_assert(json_is_true(json_object_get(b, "deflate_on_oom")));
	json_decref(j);
}
