/* Shared by the api_*_test.c route tests: a config, a context and a VM as
 * the routes see it, reset around every test (api_fixture_setup/teardown as
 * each suite's .init/.fini). */
#ifndef TESTS_FAKES_API_FIXTURE_H
#define TESTS_FAKES_API_FIXTURE_H

#include "api/api_routes.h"
#include "fakes/fake_balloon_driver.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

extern struct vm_config cfg;
extern struct api_ctx ctx;
extern struct vm vm;
extern struct balloon bal;
extern bool bal_ready;
extern struct fbd_bed *api_bed; /* a balloon with a driver behind virtio-mmio */
extern char kernel_file[];

void api_fixture_setup(void);
void api_fixture_teardown(void);
/* Calls the route handler as the main loop would; *out gets the body.
 * The answer must be one docs/openapi.json gives (expect_documented). */
unsigned call(const char *method, const char *path, const char *body,
	      json_t **out);
/* The last call's answer without its body: status, deprecated, allow. */
extern struct api_response last_resp;
/* Asserts that the exchange is one docs/openapi.json describes. */
void expect_documented(const char *method, const char *path,
		       const char *req_body, unsigned status,
		       const char *resp_body);
const char *fault(json_t *j);
json_int_t int_field(json_t *j, const char *key);
/* A running VM: a balloon with no transport and the stats timer
 * vm_balloon_set_stats_interval re-arms. */
void boot_with_balloon(uint32_t amount_mib, uint32_t interval_s);
/* A running VM whose balloon has a simulated driver behind virtio-mmio. */
void boot_with_bed(bool reporting, bool hinting);
/* Same, with this balloon configuration (and a stats timer). */
void boot_with_bed_config(const struct balloon_config *bc);

#endif
