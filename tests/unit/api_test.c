/* The REST API routes, called directly against a config and a balloon with
 * no transport (the server itself: api_server_test.c). */
#include "memory/discard_engine.h"
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

TestSuite(api, .init = api_fixture_setup, .fini = api_fixture_teardown);

/* ---- instance and dispatch ---- */

Test(api, instance_info_follows_the_vm_state)
{
	json_t *j;
	cr_assert_eq(call("GET", "/", NULL, &j), 200);
	cr_assert_str_eq(json_string_value(json_object_get(j, "state")),
			 "Not started");
	cr_assert_str_eq(json_string_value(json_object_get(j, "app_name")),
			 "mvmm");
	cr_assert_str_eq(json_string_value(json_object_get(j, "id")),
			 "anonymous-instance");
	cr_assert_str_eq(json_string_value(json_object_get(j, "vmm_version")),
			 "9.9.9");
	json_decref(j);

	boot_with_balloon(0, 0);
	ctx.instance_id = "vm-7";
	cr_assert_eq(call("GET", "/", NULL, &j), 200);
	cr_assert_str_eq(json_string_value(json_object_get(j, "state")),
			 "Running");
	cr_assert_str_eq(json_string_value(json_object_get(j, "id")), "vm-7");
	json_decref(j);
}

Test(api, unknown_path_gets_firecrackers_400)
{
	json_t *j;
	cr_assert_eq(call("GET", "/nope", NULL, &j), 400);
	cr_assert_str_eq(fault(j), "Invalid request method and/or path: GET /nope.");
	json_decref(j);
}

Test(api, wrong_method_gets_405_listing_allowed)
{
	json_t *j;
	cr_assert_eq(call("DELETE", "/balloon", NULL, &j), 405);
	cr_assert(strstr(fault(j), "allowed: GET, PUT, PATCH"), "%s", fault(j));
	json_decref(j);
	cr_assert_eq(call("PATCH", "/actions", "{}", &j), 405);
	json_decref(j);
}

Test(api, malformed_bodies_get_400_with_fault_message)
{
	static const char *const bodies[] = {
		"{\"amount_mib\": ", "[1]", "", "{\"amount_mib\": 1, \"amount_mib\": 2}",
	};
	cfg.balloon.enabled = true;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		json_t *j;
		cr_assert_eq(call("PATCH", "/balloon", bodies[i], &j), 400,
			     "body %zu", i);
		cr_assert(json_is_string(json_object_get(j, "fault_message")),
			  "body %zu", i);
		json_decref(j);
	}
	cr_assert_eq(cfg.balloon.amount_mib, 0);
}

/* ---- pre-boot configuration ---- */

Test(api, put_machine_config_replaces_and_patch_merges)
{
	json_t *j;
	cfg.mem_lock = true;
	cr_assert_eq(call("PUT", "/machine-config",
			  "{\"vcpu_count\": 2, \"mem_size_mib\": 256}", NULL),
		     204);
	cr_assert_eq(cfg.vcpu_count, 2);
	cr_assert_eq(cfg.mem_size_mib, 256);
	cr_assert(!cfg.mem_lock, "PUT resets omitted fields");

	cr_assert_eq(call("PATCH", "/machine-config", "{\"mem_size_mib\": 300}",
			  NULL),
		     204);
	cr_assert_eq(cfg.vcpu_count, 2);
	cr_assert_eq(cfg.mem_size_mib, 300);

	cr_assert_eq(call("GET", "/machine-config", NULL, &j), 200);
	cr_assert_eq(int_field(j, "vcpu_count"), 2);
	cr_assert_eq(int_field(j, "mem_size_mib"), 300);
	cr_assert_str_eq(json_string_value(json_object_get(j, "huge_pages")),
			 "Transparent");
	json_decref(j);
}

Test(api, machine_config_errors_name_the_field)
{
	json_t *j;
	cr_assert_eq(call("PUT", "/machine-config", "{\"vcpu_count\": 2}", &j),
		     400);
	cr_assert_str_eq(fault(j), "machine-config.mem_size_mib: missing required field");
	json_decref(j);

	cr_assert_eq(call("PUT", "/machine-config",
			  "{\"vcpu_count\": 99, \"mem_size_mib\": 256}", &j),
		     400);
	cr_assert(strstr(fault(j), "machine-config.vcpu_count: must be between"),
		  "%s", fault(j));
	json_decref(j);

	cr_assert_eq(call("PATCH", "/machine-config", "{\"cpu_count\": 2}", &j),
		     400);
	cr_assert_str_eq(fault(j), "machine-config.cpu_count: unknown field");
	json_decref(j);

	cr_assert_eq(call("PATCH", "/machine-config",
			  "{\"huge_pages\": \"2M\", \"mem_size_mib\": 129}", &j),
		     400);
	json_decref(j);
	cr_assert_eq(cfg.mem_size_mib, 128, "a failed update changes nothing");
	cr_assert_eq(cfg.huge_pages, HUGE_PAGES_TRANSPARENT);
}

Test(api, put_boot_source_needs_a_readable_kernel)
{
	json_t *j;
	char body[256];
	cr_assert_eq(call("PUT", "/boot-source",
			  "{\"kernel_image_path\": \"/nonexistent/vmlinux\"}", &j),
		     400);
	cr_assert(strstr(fault(j), "boot-source.kernel_image_path: cannot read"),
		  "%s", fault(j));
	json_decref(j);
	cr_assert_null(cfg.kernel_path);

	snprintf(body, sizeof(body),
		 "{\"kernel_image_path\": \"%s\", \"boot_args\": \"console=ttyS0 quiet\"}",
		 kernel_file);
	cr_assert_eq(call("PUT", "/boot-source", body, NULL), 204);
	cr_assert_str_eq(cfg.kernel_path, kernel_file);
	cr_assert_str_eq(cfg.boot_args, "console=ttyS0 quiet");
	cr_assert_null(cfg.initrd_path);

	cr_assert_eq(call("PUT", "/boot-source", "{\"boot_args\": \"x\"}", &j),
		     400);
	cr_assert_str_eq(fault(j), "boot-source.kernel_image_path: missing required field");
	json_decref(j);
}

Test(api, put_balloon_before_boot_configures_it)
{
	json_t *j;
	cr_assert_eq(call("GET", "/balloon", NULL, &j), 400);
	cr_assert_str_eq(fault(j), "no balloon device is configured");
	json_decref(j);

	cr_assert_eq(call("PUT", "/balloon",
			  "{\"amount_mib\": 64, \"deflate_on_oom\": true, "
			  "\"stats_polling_interval_s\": 2, \"free_page_reporting\": true}",
			  NULL),
		     204);
	cr_assert(cfg.balloon.enabled);
	cr_assert_eq(cfg.balloon.amount_mib, 64);
	cr_assert_eq(cfg.balloon.stats_polling_interval_s, 2);
	cr_assert(cfg.balloon.free_page_reporting);

	cr_assert_eq(call("GET", "/balloon", NULL, &j), 200);
	cr_assert_eq(int_field(j, "amount_mib"), 64);
	cr_assert_eq(int_field(j, "target_pages"), 64 * 256);
	cr_assert_eq(int_field(j, "actual_pages"), 0);
	cr_assert_eq(int_field(j, "stats_polling_interval_s"), 2);
	cr_assert(json_is_true(json_object_get(j, "deflate_on_oom")));
	cr_assert(json_is_false(json_object_get(j, "free_page_hinting")));
	/* Offered at boot; active only once a guest negotiates it. */
	cr_assert(json_is_true(json_object_get(j, "free_page_reporting")));
	cr_assert(json_is_false(json_object_get(j, "free_page_reporting_active")));
	json_decref(j);
}

Test(api, put_balloon_rejects_bad_fields_by_name)
{
	json_t *j;
	cr_assert_eq(call("PUT", "/balloon",
			  "{\"amount_mib\": \"64\", \"deflate_on_oom\": false}", &j),
		     400);
	cr_assert_str_eq(fault(j), "balloon.amount_mib: must be an integer");
	json_decref(j);

	cr_assert_eq(call("PUT", "/balloon",
			  "{\"amount_mib\": 1, \"deflate_on_oom\": false, \"size\": 1}",
			  &j),
		     400);
	cr_assert_str_eq(fault(j), "balloon.size: unknown field");
	json_decref(j);

	cr_assert_eq(call("PUT", "/balloon", "{\"amount_mib\": 1}", &j), 400);
	cr_assert_str_eq(fault(j), "balloon.deflate_on_oom: missing required field");
	json_decref(j);
	cr_assert(!cfg.balloon.enabled);
}

static int starts;

static int fake_start(struct api_ctx *c, char *err, size_t len)
{
	(void)err;
	(void)len;
	starts++;
	c->vm = &vm;
	return 0;
}

Test(api, instance_start_validates_then_starts)
{
	json_t *j;
	char body[256];

	cr_assert_eq(call("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}",
			  &j),
		     400);
	cr_assert(strstr(fault(j), "kernel_image_path"), "%s", fault(j));
	json_decref(j);

	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\"}",
		 kernel_file);
	cr_assert_eq(call("PUT", "/boot-source", body, NULL), 204);
	/* A balloon larger than RAM is caught at start. */
	cr_assert_eq(call("PUT", "/balloon",
			  "{\"amount_mib\": 4096, \"deflate_on_oom\": false}", NULL),
		     204);
	cr_assert_eq(call("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}",
			  &j),
		     400, "no start callback");
	json_decref(j);

	ctx.start = fake_start;
	cr_assert_eq(call("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}",
			  &j),
		     400);
	cr_assert(strstr(fault(j), "balloon.amount_mib"), "%s", fault(j));
	json_decref(j);
	cr_assert_eq(starts, 0);

	cr_assert_eq(call("PATCH", "/balloon", "{\"amount_mib\": 32}", NULL), 204);
	cr_assert_eq(call("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}",
			  NULL),
		     204);
	cr_assert_eq(starts, 1);
	cr_assert_eq(ctx.vm, &vm);

	cr_assert_eq(call("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}",
			  &j),
		     400);
	cr_assert(strstr(fault(j), "already running"), "%s", fault(j));
	json_decref(j);
	cr_assert_eq(starts, 1);
}

Test(api, unknown_action_is_refused)
{
	json_t *j;
	cr_assert_eq(call("PUT", "/actions", "{\"action_type\": \"Reboot\"}", &j),
		     400);
	cr_assert(strstr(fault(j), "actions.action_type"), "%s", fault(j));
	json_decref(j);
	cr_assert_eq(call("PUT", "/actions", "{\"action\": \"InstanceStart\"}", &j),
		     400);
	cr_assert_str_eq(fault(j), "actions.action: unknown field");
	json_decref(j);
}

/* ---- run time ---- */

Test(api, configuration_is_refused_after_boot)
{
	json_t *j;
	boot_with_balloon(0, 0);
	cr_assert_eq(call("PUT", "/balloon",
			  "{\"amount_mib\": 1, \"deflate_on_oom\": false}", &j),
		     400);
	cr_assert_str_eq(fault(j), "the balloon can only be configured before boot");
	json_decref(j);
	cr_assert_eq(call("PUT", "/machine-config",
			  "{\"vcpu_count\": 1, \"mem_size_mib\": 64}", &j),
		     400);
	json_decref(j);
	cr_assert_eq(cfg.mem_size_mib, 512);
}

Test(api, patch_balloon_sets_the_running_target)
{
	json_t *j;
	boot_with_balloon(16, 0);
	cr_assert_eq(call("PATCH", "/balloon", "{\"amount_mib\": 128}", NULL), 204);
	struct balloon_info info;
	balloon_get_info(&bal, &info);
	cr_assert_eq(info.target_pages, 128 * 256);

	cr_assert_eq(call("GET", "/balloon", NULL, &j), 200);
	cr_assert_eq(int_field(j, "amount_mib"), 128);
	cr_assert_eq(int_field(j, "target_mib"), 128);
	cr_assert_eq(int_field(j, "target_pages"), 128 * 256);
	cr_assert_eq(int_field(j, "actual_mib"), 0);
	json_decref(j);

	cr_assert_eq(call("PATCH", "/balloon", "{\"amount_mib\": 513}", &j), 400);
	cr_assert(strstr(fault(j), "balloon.amount_mib: 513 MiB exceeds"), "%s",
		  fault(j));
	json_decref(j);
	cr_assert_eq(call("PATCH", "/balloon", "{\"amount_mib\": -1}", &j), 400);
	json_decref(j);
	cr_assert_eq(call("PATCH", "/balloon",
			  "{\"amount_mib\": 1, \"deflate_on_oom\": true}", &j),
		     400);
	cr_assert_str_eq(fault(j), "balloon.deflate_on_oom: unknown field");
	json_decref(j);
	balloon_get_info(&bal, &info);
	cr_assert_eq(info.target_pages, 128 * 256);
}

Test(api, patch_balloon_without_a_balloon_is_400)
{
	json_t *j;
	boot_with_balloon(0, 0);
	vm.balloon = NULL;
	cr_assert_eq(call("PATCH", "/balloon", "{\"amount_mib\": 1}", &j), 400);
	cr_assert_str_eq(fault(j), "no balloon device is configured");
	json_decref(j);
}

/* free_page_reporting echoes the configuration; the _active field and the
 * poison follow what the guest's driver negotiated. */
static void expect_reporting(bool active, bool poison, json_int_t val)
{
	json_t *j;
	cr_assert_eq(call("GET", "/balloon", NULL, &j), 200);
	cr_assert(json_is_true(json_object_get(j, "free_page_reporting")));
	cr_assert_eq(json_is_true(json_object_get(j, "free_page_reporting_active")),
		     active);
	cr_assert_eq(json_is_true(json_object_get(j, "page_poison")), poison);
	cr_assert_eq(int_field(j, "poison_val"), val);
	json_decref(j);
}


Test(api, get_balloon_shows_reporting_active_once_the_guest_negotiated_it)
{
	boot_with_bed(true, false);
	expect_reporting(false, false, 0);
	const struct fbd_opts o = {.features = FBD_LINUX_FEATURES,
				   .page_poisoning = true};
	cr_assert_eq(fbd_probe(&api_bed->drv, &api_bed->tb->drv, &o), 0);
	expect_reporting(true, true, 0xaaaaaaaa);
}

Test(api, get_balloon_shows_reporting_inactive_when_the_guest_declined_it)
{
	boot_with_bed(true, false);
	/* A poisoning driver without PAGE_POISON must drop REPORTING. */
	const struct fbd_opts o = {
		.features = FBD_LINUX_FEATURES &
			    ~FBD_BIT(VIRTIO_BALLOON_F_PAGE_POISON),
		.page_poisoning = true};
	cr_assert_eq(fbd_probe(&api_bed->drv, &api_bed->tb->drv, &o), 0);
	expect_reporting(false, false, 0);
}

Test(api, statistics_disabled_at_boot_are_400)
{
	json_t *j;
	boot_with_balloon(0, 0);
	cr_assert_eq(call("GET", "/balloon/statistics", NULL, &j), 400);
	cr_assert(strstr(fault(j), "disabled"), "%s", fault(j));
	json_decref(j);
	cr_assert_eq(call("PATCH", "/balloon/statistics",
			  "{\"stats_polling_interval_s\": 1}", &j),
		     400);
	cr_assert(strstr(fault(j), "cannot be enabled"), "%s", fault(j));
	json_decref(j);
}

Test(api, statistics_before_the_first_buffer_hold_sizes_only)
{
	json_t *j;
	boot_with_balloon(8, 5);
	cr_assert_eq(call("GET", "/balloon/statistics", NULL, &j), 200);
	cr_assert_eq(int_field(j, "target_pages"), 8 * 256);
	cr_assert_eq(int_field(j, "target_mib"), 8);
	cr_assert_eq(json_object_size(j), 4, "only the sizes without a buffer");
	json_decref(j);
}

Test(api, stats_json_names_every_tag_the_guest_sent)
{
	struct balloon_info info = {.target_pages = 512, .actual_pages = 256,
				    .target_mib = 2, .actual_mib = 1};
	struct balloon_stats st = {0};
	static const struct {
		unsigned tag;
		const char *name;
	} tags[] = {
		{VIRTIO_BALLOON_S_SWAP_IN, "swap_in"},
		{VIRTIO_BALLOON_S_SWAP_OUT, "swap_out"},
		{VIRTIO_BALLOON_S_MAJFLT, "major_faults"},
		{VIRTIO_BALLOON_S_MINFLT, "minor_faults"},
		{VIRTIO_BALLOON_S_MEMFREE, "free_memory"},
		{VIRTIO_BALLOON_S_MEMTOT, "total_memory"},
		{VIRTIO_BALLOON_S_AVAIL, "available_memory"},
		{VIRTIO_BALLOON_S_CACHES, "disk_caches"},
		{VIRTIO_BALLOON_S_HTLB_PGALLOC, "hugetlb_allocations"},
		{VIRTIO_BALLOON_S_HTLB_PGFAIL, "hugetlb_failures"},
		/* Linux 6.12's tags, numbered as in its UAPI header. */
		{10, "oom_kill"},
		{11, "alloc_stall"},
		{12, "async_scan"},
		{13, "direct_scan"},
		{14, "async_reclaim"},
		{15, "direct_reclaim"},
	};
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		st.val[tags[i].tag] = 1000 + tags[i].tag;
		st.present |= 1u << tags[i].tag;
	}
	json_t *j = api_balloon_stats_json(&info, &st);
	cr_assert_eq(json_object_size(j), 4 + 16);
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		cr_assert_eq(int_field(j, tags[i].name), 1000 + tags[i].tag,
			     "%s", tags[i].name);
	cr_assert_eq(int_field(j, "actual_pages"), 256);
	json_decref(j);

	/* Only what the last buffer carried. */
	st.present = 1u << VIRTIO_BALLOON_S_MEMFREE | 1u << 10;
	j = api_balloon_stats_json(&info, &st);
	cr_assert_eq(json_object_size(j), 4 + 2);
	cr_assert_eq(int_field(j, "free_memory"), 1000 + VIRTIO_BALLOON_S_MEMFREE);
	cr_assert_eq(int_field(j, "oom_kill"), 1010);
	cr_assert_null(json_object_get(j, "swap_in"));
	json_decref(j);
}

Test(api, patch_statistics_rearms_the_timer_but_never_toggles)
{
	json_t *j;
	boot_with_balloon(0, 5);
	cr_assert_eq(call("PATCH", "/balloon/statistics",
			  "{\"stats_polling_interval_s\": 2}", NULL),
		     204);
	cr_assert_eq(balloon_get_stats_interval(&bal), 2);
	struct itimerspec its;
	cr_assert_eq(timerfd_gettime(vm.stats_timer_fd, &its), 0);
	cr_assert_eq(its.it_interval.tv_sec, 2);

	cr_assert_eq(call("PATCH", "/balloon/statistics",
			  "{\"stats_polling_interval_s\": 0}", &j),
		     400);
	cr_assert(strstr(fault(j), "cannot be disabled"), "%s", fault(j));
	json_decref(j);
	cr_assert_eq(balloon_get_stats_interval(&bal), 2);

	cr_assert_eq(call("GET", "/balloon", NULL, &j), 200);
	cr_assert_eq(int_field(j, "stats_polling_interval_s"), 2);
	json_decref(j);
}

Test(api, metrics_report_balloon_and_discard_counters)
{
	json_t *j;
	cr_assert_eq(call("GET", "/metrics", NULL, &j), 200);
	cr_assert(json_is_null(json_object_get(j, "balloon")));
	json_decref(j);

	boot_with_balloon(0, 0);
	struct discard_engine_opts o;
	discard_engine_default_opts(&o);
	o.kind = DISCARD_ENGINE_SYNC;
	cr_assert_eq(discard_engine_create(&vm.discard_engine, &o,
					   balloon_discard_done),
		     0);
	cr_assert_eq(call("GET", "/metrics", NULL, &j), 200);
	json_t *b = json_object_get(j, "balloon");
	cr_assert_eq(int_field(b, "inflated_pages"), 0);
	cr_assert_eq(int_field(b, "invalid_pfns"), 0);
	json_t *d = json_object_get(j, "discard");
	cr_assert_str_eq(json_string_value(json_object_get(d, "engine")), "sync");
	cr_assert_eq(int_field(d, "bytes"), 0);
	cr_assert(json_is_array(json_object_get(j, "virtio")));
	json_decref(j);
}

/* ---- the server over a Unix socket ---- */

static const char *reason_at(json_t *j, size_t i)
{
	json_t *a = json_object_get(j, "mvmm_inhibit_reasons");
	cr_assert(json_is_array(a), "mvmm_inhibit_reasons missing");
	return i < json_array_size(a) ? json_string_value(json_array_get(a, i))
				      : NULL;
}

Test(api, patch_mvmm_inhibit_holds_the_operator_reason_once)
{
	json_t *j;
	boot_with_balloon(16, 0);
	cr_assert_eq(call("GET", "/balloon", NULL, &j), 200);
	cr_assert_null(reason_at(j, 0));
	json_decref(j);

	cr_assert_eq(call("PATCH", "/balloon", "{\"mvmm_inhibit\": true}", NULL), 204);
	cr_assert_eq(call("PATCH", "/balloon", "{\"mvmm_inhibit\": true}", NULL), 204);
	cr_assert_eq(balloon_inhibit_add(&bal, "snapshot"), 0);
	cr_assert_eq(call("GET", "/balloon", NULL, &j), 200);
	cr_assert_str_eq(reason_at(j, 0), "operator");
	cr_assert_str_eq(reason_at(j, 1), "snapshot");
	cr_assert_null(reason_at(j, 2));
	json_decref(j);

	/* One false lifts the operator's flag, not the snapshot's hold. */
	cr_assert_eq(call("PATCH", "/balloon", "{\"mvmm_inhibit\": false}", NULL), 204);
	cr_assert_eq(call("PATCH", "/balloon", "{\"mvmm_inhibit\": false}", NULL), 204);
	struct inhibit inh;
	balloon_get_inhibit(&bal, &inh);
	cr_assert_eq(inhibit_count(&inh, "operator"), 0);
	cr_assert_eq(inhibit_count(&inh, "snapshot"), 1);
	cr_assert_eq(call("GET", "/balloon", NULL, &j), 200);
	cr_assert_str_eq(reason_at(j, 0), "snapshot");
	cr_assert_null(reason_at(j, 1));
	json_decref(j);
}

Test(api, patch_mvmm_inhibit_with_amount_sets_both)
{
	boot_with_balloon(16, 0);
	cr_assert_eq(call("PATCH", "/balloon",
			  "{\"amount_mib\": 64, \"mvmm_inhibit\": true}", NULL),
		     204);
	struct balloon_info info;
	struct inhibit inh;
	balloon_get_info(&bal, &info);
	balloon_get_inhibit(&bal, &inh);
	cr_assert_eq(info.target_mib, 64);
	cr_assert_eq(inhibit_count(&inh, "operator"), 1);
	/* A bad amount changes neither. */
	json_t *j;
	cr_assert_eq(call("PATCH", "/balloon",
			  "{\"amount_mib\": 100000, \"mvmm_inhibit\": false}", &j),
		     400);
	json_decref(j);
	balloon_get_inhibit(&bal, &inh);
	cr_assert_eq(inhibit_count(&inh, "operator"), 1);
}

Test(api, patch_mvmm_inhibit_errors_name_the_field)
{
	json_t *j;
	cfg.balloon.enabled = true;
	cr_assert_eq(call("PATCH", "/balloon", "{\"mvmm_inhibit\": true}", &j), 400);
	cr_assert_str_eq(fault(j), "balloon.mvmm_inhibit: available once the microVM runs");
	json_decref(j);
	boot_with_balloon(16, 0);
	cr_assert_eq(call("PATCH", "/balloon", "{\"mvmm_inhibit\": 1}", &j), 400);
	cr_assert_str_eq(fault(j), "balloon.mvmm_inhibit: must be true or false");
	json_decref(j);
	cr_assert_eq(call("PATCH", "/balloon", "{\"mvmm_inhibt\": true}", &j), 400);
	cr_assert_str_eq(fault(j), "balloon.mvmm_inhibt: unknown field");
	json_decref(j);
	cr_assert_eq(call("PATCH", "/balloon", "{}", &j), 400);
	cr_assert_str_eq(fault(j), "balloon.amount_mib: must be an integer");
	json_decref(j);
}

/* ---- fault_message is always JSON (issue 12) ---- */

static bool valid_utf8_json_fault(json_t *j, const char *want_prefix)
{
	const char *m = json_string_value(json_object_get(j, "fault_message"));
	return m && !strncmp(m, want_prefix, strlen(want_prefix));
}

Test(api, fault_message_with_invalid_utf8_keeps_its_body)
{
	json_t *j = NULL;
	/* The path is echoed in the message; these bytes are not UTF-8. */
	cr_assert_eq(call("GET", "/\xff\xfe\xc0\xaf\xed\xa0\x80", NULL, &j), 400);
	cr_assert_not_null(j, "the 400 lost its body");
	cr_assert(valid_utf8_json_fault(j, "Invalid request method and/or path"),
		  "%s", fault(j));
	cr_assert(strstr(fault(j), "/???????"), "%s", fault(j));
	json_decref(j);
}

Test(api, fault_message_cut_mid_character_keeps_its_body)
{
	/* 600 two-byte characters: the 512-byte message ends inside one for
	 * one of the two offsets. */
	for (int shift = 0; shift < 2; shift++) {
		char path[2 + 600 * 2 + 1] = "/x";
		size_t at = 1 + (size_t)shift;
		for (int i = 0; i < 600; i++)
			memcpy(path + at + 2 * i, "\xc3\xa9", 2);
		path[at + 1200] = 0;
		json_t *j = NULL;
		cr_assert_eq(call("GET", path, NULL, &j), 400);
		cr_assert_not_null(j, "the 400 lost its body");
		const char *m = fault(j);
		size_t n = strlen(m);
		cr_assert(n > 400 && n < 512, "%zu", n);
		cr_assert_str_eq(m + n - 2, "\xc3\xa9", "cut at a character");
		json_decref(j);
	}
}
