/* PUT /snapshot/create, PUT /snapshot/load and GET /snapshot, called
 * directly: the validation that needs no KVM, and load through a recording
 * ctx->load (the real snapshot paths: tests/e2e/t_snapshot.sh). */
#include "fakes/api_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

TestSuite(api_snapshot, .init = api_fixture_setup, .fini = api_fixture_teardown);

/* ---- a recording load callback ---- */

static struct {
	int calls;
	char snapshot_path[256];
	char mem_file_path[256];
	bool mem_null;
	bool resume;
	int ret;              /* what the fake returns */
	const char *err_text; /* written to err when ret != 0 */
} rec;

static int fake_load(struct api_ctx *c, const struct snapshot_load_req *req,
		     char *err, size_t errlen)
{
	cr_assert_eq(c, &ctx);
	rec.calls++;
	snprintf(rec.snapshot_path, sizeof(rec.snapshot_path), "%s",
		 req->snapshot_path ? req->snapshot_path : "(null)");
	rec.mem_null = !req->mem_file_path;
	snprintf(rec.mem_file_path, sizeof(rec.mem_file_path), "%s",
		 req->mem_file_path ? req->mem_file_path : "");
	rec.resume = req->resume;
	if (rec.ret)
		snprintf(err, errlen, "%s", rec.err_text);
	return rec.ret;
}

static void use_fake_load(int ret, const char *err_text)
{
	memset(&rec, 0, sizeof(rec));
	rec.ret = ret;
	rec.err_text = err_text;
	ctx.load = fake_load;
}

/* 400 whose fault_message contains want. */
static void expect_400(const char *method, const char *path, const char *body,
		       const char *want)
{
	json_t *j;
	unsigned st = call(method, path, body, &j);
	const char *shown = body ? body : "";
	cr_assert_eq(st, 400, "%s %s %s -> %u", method, path, shown, st);
	cr_assert(strstr(fault(j), want), "%s: \"%s\" lacks \"%s\"", shown,
		  fault(j), want);
	json_decref(j);
}

/* ---- PUT /snapshot/create ---- */

Test(api_snapshot, create_before_boot_says_the_vm_is_not_running)
{
	expect_400("PUT", "/snapshot/create",
		   "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"/tmp/s\","
		   " \"mem_file_path\": \"/tmp/m\"}",
		   "the microVM is not running");
	/* Firecracker's optional fields are taken, type included. */
	expect_400("PUT", "/snapshot/create",
		   "{\"snapshot_path\": \"/tmp/s\", \"mem_file_path\": \"/tmp/m\","
		   " \"version\": \"1.0\", \"free_page_hinting\": false,"
		   " \"hint_timeout_ms\": 5}",
		   "the microVM is not running");
	cr_assert_not(ctx.has_last_snapshot, "a refused create records nothing");
}

Test(api_snapshot, create_names_a_missing_path)
{
	expect_400("PUT", "/snapshot/create", "{\"mem_file_path\": \"/tmp/m\"}",
		   "snapshot.snapshot_path: required");
	expect_400("PUT", "/snapshot/create", "{\"snapshot_path\": \"/tmp/s\"}",
		   "snapshot.mem_file_path: required");
	expect_400("PUT", "/snapshot/create",
		   "{\"snapshot_path\": \"\", \"mem_file_path\": \"/tmp/m\"}",
		   "snapshot.snapshot_path: must be a non-empty string");
	expect_400("PUT", "/snapshot/create",
		   "{\"snapshot_path\": \"/tmp/s\", \"mem_file_path\": 7}",
		   "snapshot.mem_file_path: must be a non-empty string");
}

Test(api_snapshot, create_refuses_diff_snapshots)
{
	expect_400("PUT", "/snapshot/create",
		   "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"/tmp/s\","
		   " \"mem_file_path\": \"/tmp/m\"}",
		   "snapshot.snapshot_type");
	expect_400("PUT", "/snapshot/create",
		   "{\"snapshot_type\": 1, \"snapshot_path\": \"/tmp/s\","
		   " \"mem_file_path\": \"/tmp/m\"}",
		   "snapshot.snapshot_type");
}

Test(api_snapshot, create_names_an_unknown_field)
{
	expect_400("PUT", "/snapshot/create",
		   "{\"snapshot_path\": \"/tmp/s\", \"mem_file_path\": \"/tmp/m\","
		   " \"compress\": true}",
		   "snapshot.compress: unknown field");
}

Test(api_snapshot, create_wants_a_bool_for_free_page_hinting)
{
	expect_400("PUT", "/snapshot/create",
		   "{\"snapshot_path\": \"/tmp/s\", \"mem_file_path\": \"/tmp/m\","
		   " \"free_page_hinting\": \"yes\"}",
		   "snapshot.free_page_hinting: must be true or false");
	expect_400("PUT", "/snapshot/create",
		   "{\"snapshot_path\": \"/tmp/s\", \"mem_file_path\": \"/tmp/m\","
		   " \"hint_timeout_ms\": -1}",
		   "snapshot.hint_timeout_ms");
	expect_400("PUT", "/snapshot/create",
		   "{\"snapshot_path\": \"/tmp/s\", \"mem_file_path\": \"/tmp/m\","
		   " \"hint_timeout_ms\": 600001}",
		   "snapshot.hint_timeout_ms");
}

Test(api_snapshot, create_and_load_take_only_put)
{
	json_t *j;
	cr_assert_eq(call("GET", "/snapshot/create", NULL, &j), 405);
	json_decref(j);
	cr_assert_eq(call("PATCH", "/snapshot/load", "{}", &j), 405);
	json_decref(j);
	cr_assert_eq(call("PUT", "/snapshot", "{}", &j), 405);
	json_decref(j);
}

Test(api_snapshot, create_on_a_running_vm_needs_the_server_for_its_answer)
{
	json_t *j;
	boot_with_balloon(0, 0);
	cr_assert_null(ctx.server);
	/* The answer comes later through the server: without one, 500. */
	cr_assert_eq(call("PUT", "/snapshot/create",
			  "{\"snapshot_path\": \"/tmp/s\", \"mem_file_path\": \"/tmp/m\"}",
			  &j),
		     500);
	cr_assert(strstr(fault(j), "no API server"), "%s", fault(j));
	json_decref(j);
	/* Field checks come first, whatever the VM's state. */
	expect_400("PUT", "/snapshot/create",
		   "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"/tmp/s\","
		   " \"mem_file_path\": \"/tmp/m\"}",
		   "snapshot.snapshot_type");
	cr_assert_not(ctx.has_last_snapshot);
}

/* Issue 12: two spellings of one file were renamed over each other and
 * answered 204. Refused before the VM is touched. */
Test(api_snapshot, create_refuses_two_paths_naming_one_file)
{
	static struct api_server unused; /* never answered: refused at once */
	char dir[] = "/tmp/mvmm-snapsame-XXXXXX", link[64], body[512];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(link, sizeof(link), "%s/link", dir);
	cr_assert_eq(symlink(dir, link), 0);
	boot_with_balloon(0, 0);
	ctx.server = &unused;
	const char *pairs[][2] = {
		{"%s/vm", "%s/./vm"},
		{"%s/vm", "%s/link/vm"},
		{"%s/link/./vm", "%s/vm"},
	};
	for (unsigned i = 0; i < 3; i++) {
		char s[128], m[128];
		snprintf(s, sizeof(s), pairs[i][0], dir);
		snprintf(m, sizeof(m), pairs[i][1], dir);
		snprintf(body, sizeof(body),
			 "{\"snapshot_path\": \"%s\", \"mem_file_path\": \"%s\"}",
			 s, m);
		expect_400("PUT", "/snapshot/create", body,
			   "snapshot_path and mem_file_path are the same file");
	}
	cr_assert_not(ctx.has_last_snapshot);
	unlink(link);
	rmdir(dir);
}

/* ---- PUT /snapshot/load ---- */

Test(api_snapshot, load_names_a_missing_snapshot_path)
{
	use_fake_load(0, NULL);
	expect_400("PUT", "/snapshot/load", "{\"mem_file_path\": \"/tmp/m\"}",
		   "snapshot.snapshot_path: required");
	cr_assert_eq(rec.calls, 0);
}

Test(api_snapshot, load_refuses_a_uffd_backend)
{
	use_fake_load(0, NULL);
	expect_400("PUT", "/snapshot/load",
		   "{\"snapshot_path\": \"/tmp/s\", \"mem_backend\":"
		   " {\"backend_type\": \"Uffd\", \"backend_path\": \"/tmp/uffd.sock\"}}",
		   "snapshot.mem_backend.backend_type");
	expect_400("PUT", "/snapshot/load",
		   "{\"snapshot_path\": \"/tmp/s\", \"mem_backend\": \"File\"}",
		   "snapshot.mem_backend: must be an object");
	expect_400("PUT", "/snapshot/load",
		   "{\"snapshot_path\": \"/tmp/s\", \"mem_backend\":"
		   " {\"backend_type\": \"File\"}}",
		   "snapshot.mem_backend.backend_path: required");
	expect_400("PUT", "/snapshot/load",
		   "{\"snapshot_path\": \"/tmp/s\", \"mem_backend\":"
		   " {\"backend_type\": \"File\", \"backend_path\": \"/tmp/m\", \"x\": 1}}",
		   "snapshot.mem_backend.x: unknown field");
	cr_assert_eq(rec.calls, 0);
}

Test(api_snapshot, load_refuses_both_mem_file_path_and_mem_backend)
{
	use_fake_load(0, NULL);
	expect_400("PUT", "/snapshot/load",
		   "{\"snapshot_path\": \"/tmp/s\", \"mem_file_path\": \"/tmp/m\","
		   " \"mem_backend\": {\"backend_type\": \"File\","
		   " \"backend_path\": \"/tmp/m2\"}}",
		   "not both");
	cr_assert_eq(rec.calls, 0);
}

Test(api_snapshot, load_refuses_diff_snapshots)
{
	use_fake_load(0, NULL);
	expect_400("PUT", "/snapshot/load",
		   "{\"snapshot_path\": \"/tmp/s\", \"enable_diff_snapshots\": true}",
		   "snapshot.enable_diff_snapshots");
	expect_400("PUT", "/snapshot/load",
		   "{\"snapshot_path\": \"/tmp/s\", \"track_dirty_pages\": true}",
		   "snapshot.track_dirty_pages");
	expect_400("PUT", "/snapshot/load",
		   "{\"snapshot_path\": \"/tmp/s\", \"resume_vm\": 1}",
		   "snapshot.resume_vm: must be true or false");
	cr_assert_eq(rec.calls, 0);
	/* false is what Firecracker sends by default: accepted. */
	cr_assert_eq(call("PUT", "/snapshot/load",
			  "{\"snapshot_path\": \"/tmp/s\","
			  " \"enable_diff_snapshots\": false,"
			  " \"track_dirty_pages\": false}",
			  NULL),
		     204);
	cr_assert_eq(rec.calls, 1);
}

Test(api_snapshot, load_refuses_when_a_vm_runs)
{
	use_fake_load(0, NULL);
	boot_with_balloon(0, 0);
	expect_400("PUT", "/snapshot/load", "{\"snapshot_path\": \"/tmp/s\"}",
		   "already running");
	cr_assert_eq(rec.calls, 0);
}

Test(api_snapshot, load_refuses_without_a_load_callback)
{
	cr_assert_null(ctx.load);
	expect_400("PUT", "/snapshot/load", "{\"snapshot_path\": \"/tmp/s\"}",
		   "snapshot/load: not available");
}

Test(api_snapshot, load_passes_paths_and_resume_to_the_callback)
{
	use_fake_load(0, NULL);
	cr_assert_eq(call("PUT", "/snapshot/load",
			  "{\"snapshot_path\": \"/tmp/state\","
			  " \"mem_file_path\": \"/tmp/mem\", \"resume_vm\": true}",
			  NULL),
		     204);
	cr_assert_eq(rec.calls, 1);
	cr_assert_str_eq(rec.snapshot_path, "/tmp/state");
	cr_assert_str_eq(rec.mem_file_path, "/tmp/mem");
	cr_assert(rec.resume);

	/* mem_backend's File path, and resume_vm defaults to false. */
	use_fake_load(0, NULL);
	cr_assert_eq(call("PUT", "/snapshot/load",
			  "{\"snapshot_path\": \"/tmp/state2\", \"mem_backend\":"
			  " {\"backend_type\": \"File\", \"backend_path\": \"/tmp/mem2\"}}",
			  NULL),
		     204);
	cr_assert_eq(rec.calls, 1);
	cr_assert_str_eq(rec.snapshot_path, "/tmp/state2");
	cr_assert_str_eq(rec.mem_file_path, "/tmp/mem2");
	cr_assert_not(rec.resume);

	/* Neither: the path recorded at create is used (NULL). */
	use_fake_load(0, NULL);
	cr_assert_eq(call("PUT", "/snapshot/load",
			  "{\"snapshot_path\": \"/tmp/state3\", \"resume_vm\": false}",
			  NULL),
		     204);
	cr_assert_eq(rec.calls, 1);
	cr_assert(rec.mem_null);
	cr_assert_not(rec.resume);
}

Test(api_snapshot, load_failure_is_400_with_the_reason)
{
	use_fake_load(-1, "state file: checksum mismatch");
	expect_400("PUT", "/snapshot/load", "{\"snapshot_path\": \"/tmp/s\"}",
		   "snapshot/load: state file: checksum mismatch");
	cr_assert_eq(rec.calls, 1);
}

/* ---- GET /snapshot and the instance state ---- */

Test(api_snapshot, get_snapshot_before_any_is_400)
{
	expect_400("GET", "/snapshot", NULL, "none taken yet");
}

Test(api_snapshot, get_snapshot_reports_the_last_create)
{
	json_t *j;
	ctx.last_snapshot = (struct snapshot_create_result){
		.hinted = true,
		.hint_us = 1500,
		.pause_us = 2500,
		.save_us = 3500,
		.pages_total = 4096,
		.pages_written = 1000,
		.pages_zero = 2000,
		.pages_hinted_clean = 900,
		.pages_hinted_dirty = 196,
		.mem_file_bytes = 4096000,
		.state_bytes = 12345,
	};
	ctx.has_last_snapshot = true;
	cr_assert_eq(call("GET", "/snapshot", NULL, &j), 200);
	cr_assert(json_is_true(json_object_get(j, "ok")));
	cr_assert(json_is_true(json_object_get(j, "hinted")));
	cr_assert_eq(int_field(j, "hint_us"), 1500);
	cr_assert_eq(int_field(j, "pause_us"), 2500);
	cr_assert_eq(int_field(j, "save_us"), 3500);
	cr_assert_eq(int_field(j, "pages_total"), 4096);
	cr_assert_eq(int_field(j, "pages_written"), 1000);
	cr_assert_eq(int_field(j, "pages_zero"), 2000);
	cr_assert_eq(int_field(j, "pages_hinted_clean"), 900);
	cr_assert_eq(int_field(j, "pages_hinted_dirty"), 196);
	cr_assert_eq(int_field(j, "mem_file_bytes"), 4096000);
	cr_assert_eq(int_field(j, "state_bytes"), 12345);
	json_decref(j);

	/* A failed create reports its reason. */
	ctx.last_snapshot.err = -28;
	snprintf(ctx.last_snapshot.msg, sizeof(ctx.last_snapshot.msg),
		 "mem file: No space left on device");
	cr_assert_eq(call("GET", "/snapshot", NULL, &j), 200);
	cr_assert(json_is_false(json_object_get(j, "ok")));
	cr_assert_str_eq(json_string_value(json_object_get(j, "error")),
			 "mem file: No space left on device");
	json_decref(j);
}

Test(api_snapshot, instance_is_not_started_before_boot_or_load)
{
	json_t *j;
	use_fake_load(-1, "refused");
	expect_400("PUT", "/snapshot/load", "{\"snapshot_path\": \"/tmp/s\"}",
		   "refused");
	cr_assert_eq(call("GET", "/", NULL, &j), 200);
	cr_assert_str_eq(json_string_value(json_object_get(j, "state")),
			 "Not started");
	json_decref(j);
}
