#include "fakes/api_fixture.h"

#include "fakes/openapi_check.h"
#include "memory/discard_engine.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

struct vm_config cfg;
struct api_ctx ctx;
struct vm vm;
struct balloon bal;
bool bal_ready;
struct fbd_bed *api_bed;
struct api_response last_resp;
char kernel_file[] = "/tmp/mvmm-apitest-kernel-XXXXXX";

void api_fixture_setup(void)
{
	config_defaults(&cfg);
	ctx = (struct api_ctx){.cfg = &cfg, .vmm_version = "9.9.9"};
	int fd = mkstemp(kernel_file);
	cr_assert(fd >= 0);
	close(fd);
}

void api_fixture_teardown(void)
{
	if (bal_ready)
		balloon_destroy(&bal);
	fbd_bed_free(api_bed);
	api_bed = NULL;
	if (vm.stats_timer_fd > 0)
		close(vm.stats_timer_fd);
	if (vm.discard_engine)
		discard_engine_destroy(vm.discard_engine);
	config_free(&cfg);
	unlink(kernel_file);
}


/* Every answer the route tests see must be one the document gives. */
void expect_documented(const char *method, const char *path,
		       const char *req_body, unsigned status,
		       const char *resp_body)
{
	char err[768];
	json_t *doc = openapi_load(err, sizeof(err));
	cr_assert(doc, "%s", err);
	int r = openapi_check_exchange(doc, method, path, req_body, status,
				       resp_body, err, sizeof(err));
	json_decref(doc);
	cr_assert_eq(r, 0, "docs/openapi.json: %s", err);
}

unsigned call(const char *method, const char *path, const char *body,
	      json_t **out)
{
	struct api_request req = {method, path, body ? body : "",
				  body ? strlen(body) : 0};
	struct api_response resp = {0};
	api_routes_handle(&ctx, &req, &resp);
	/* A deferred answer comes later, through api_server_answer. */
	if (resp.status != API_STATUS_DEFERRED)
		expect_documented(method, path, body, resp.status, resp.body);
	last_resp = resp;
	last_resp.body = NULL;
	if (out)
		*out = resp.body ? json_loads(resp.body, 0, NULL) : NULL;
	free(resp.body);
	return resp.status;
}

const char *fault(json_t *j)
{
	const char *m = json_string_value(json_object_get(j, "fault_message"));
	return m ? m : "(no fault_message)";
}

json_int_t int_field(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);
	cr_assert(json_is_integer(v), "field %s missing", key);
	return json_integer_value(v);
}

/* A running VM as the routes see it: a balloon with no transport and the
 * stats timer vm_balloon_set_stats_interval re-arms. */
void boot_with_balloon(uint32_t amount_mib, uint32_t interval_s)
{
	cfg.mem_size_mib = 512;
	cfg.balloon = (struct config_balloon){
		.enabled = true,
		.amount_mib = amount_mib,
		.deflate_on_oom = true,
		.stats_polling_interval_s = interval_s,
	};
	struct balloon_config bc = {
		.amount_mib = amount_mib,
		.deflate_on_oom = true,
		.stats_polling_interval_s = interval_s,
	};
	cr_assert_eq(balloon_init(&bal, &bc, NULL), 0);
	bal_ready = true;
	memset(&vm, 0, sizeof(vm));
	vm.cfg = &cfg;
	vm.balloon = &bal;
	vm.stats_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	cr_assert(vm.stats_timer_fd >= 0);
	ctx.vm = &vm;
}

void boot_with_bed(bool reporting, bool hinting)
{
	struct balloon_config bc = {.free_page_reporting = reporting,
				    .free_page_hinting = hinting};
	boot_with_bed_config(&bc);
}

void boot_with_bed_config(const struct balloon_config *bc)
{
	cfg.mem_size_mib = 16;
	cfg.balloon = (struct config_balloon){
		.enabled = true,
		.amount_mib = bc->amount_mib,
		.deflate_on_oom = bc->deflate_on_oom,
		.stats_polling_interval_s = bc->stats_polling_interval_s,
		.free_page_reporting = bc->free_page_reporting,
		.free_page_hinting = bc->free_page_hinting,
	};
	api_bed = fbd_bed_new(bc, NULL);
	cr_assert(api_bed);
	memset(&vm, 0, sizeof(vm));
	vm.cfg = &cfg;
	vm.balloon = &api_bed->b;
	vm.stats_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	cr_assert(vm.stats_timer_fd >= 0);
	ctx.vm = &vm;
}
