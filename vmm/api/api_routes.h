/* The REST API's routes: Firecracker's paths and JSON bodies (boot-source,
 * machine-config, balloon, balloon/statistics, balloon/hinting/{start,
 * status,stop}, vm (pause/resume), vm/config, version, actions, instance
 * info) plus snapshot/create, snapshot/load, plus mvmm's GET /metrics, GET
 * /snapshot and /balloon/hinting/reclaim. Errors are {"fault_message": "..."}
 * naming the field. docs/api.md describes every path, docs/openapi.json
 * every body (a unit test holds both to this table).
 *
 * Threads: api_routes_handle runs on the main loop (api_server's handler).
 *
 * Use (builder.c does):
 *   struct api_ctx ctx = {.cfg = &cfg, .start = my_start, ...};
 *   api_server_start(&srv, path, loop, api_routes_handle, &ctx);
 * Before boot ctx.vm is NULL and PUTs edit *cfg; InstanceStart validates
 * cfg, then calls ctx.start, which creates the VM and sets ctx.vm. */
#ifndef VMM_API_ROUTES_H
#define VMM_API_ROUTES_H

#include "api/api_server.h"
#include "config/config.h"
#include "snapshot/snapshot.h"
#include "vm/vm.h"

#include <devices/balloon.h>

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct api_ctx {
	/* The configuration; edited by pre-boot requests, read-only once the
	 * VM exists (its values at boot decide what may change later). */
	struct vm_config *cfg;
	/* NULL until the VM was created. */
	struct vm *vm;
	const char *instance_id; /* NULL: "anonymous-instance" */
	const char *vmm_version;
	/* Pre-boot InstanceStart, after config_validate passed: creates the VM
	 * from cfg and sets ctx->vm; 0, or non-zero with err filled. NULL refuses
	 * InstanceStart (a VM started from the command line). */
	int (*start)(struct api_ctx *ctx, char *err, size_t errlen);
	/* Pre-boot PUT /snapshot/load: builds the VM from a snapshot and sets
	 * ctx->vm; 0, or non-zero with err. NULL refuses it. */
	int (*load)(struct api_ctx *ctx, const struct snapshot_load_req *req,
		    char *err, size_t errlen);
	/* For answers given later (snapshot/create waits for the guest). */
	struct api_server *server;
	/* GET /snapshot: the last snapshot/create's figures. */
	struct snapshot_create_result last_snapshot;
	bool has_last_snapshot;
};

/* An api_handler_fn; ctx is a struct api_ctx. */
void api_routes_handle(void *ctx, const struct api_request *req,
		       struct api_response *resp);

/* The routes served, for the OpenAPI check (tests/unit/openapi_test.c):
 * route i's path, NULL past the last. */
const char *api_route_path(size_t i);
/* Whether path takes method ("GET", "PUT", "PATCH"). */
bool api_route_allows(const char *path, const char *method);

/* GET /balloon/statistics' body: the sizes and every tag in stats->present
 * under Firecracker's names. stats may be NULL (no buffer yet). */
json_t *api_balloon_stats_json(const struct balloon_info *info,
			       const struct balloon_stats *stats);

#endif
