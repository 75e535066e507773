/* The process's one VM and the API that serves it: built from the config
 * (a boot), from a snapshot (a restore), or by the API's pre-boot requests
 * (InstanceStart, PUT /snapshot/load), run, and torn down. main.c chooses
 * the way; the builder owns the state, so nothing is a global.
 *
 *   struct builder b;
 *   builder_init(&b, &cfg, start_ns);
 *   if (!builder_boot(&b, err, sizeof(err)) && !builder_serve_api(&b))
 *           status = builder_run(&b);
 *   builder_destroy(&b);
 *
 * Threads: main thread only; the pre-boot API's start and load run on the
 * pre-boot loop, which is the main thread's too. */
#ifndef VMM_BUILDER_H
#define VMM_BUILDER_H

#include "api/api_routes.h"
#include "api/api_server.h"
#include "config/config.h"
#include "snapshot/snapshot.h"
#include "vm/event_loop.h"
#include "vm/vm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct builder {
	struct vm_config *cfg;
	/* CLOCK_MONOTONIC ns the VM's startup figure counts from: the
	 * process's start, or the API request that built it. */
	uint64_t start_ns;
	struct vm vm; /* built when api_ctx.vm points at it */
	struct api_ctx api_ctx;
	struct api_server api;
	struct event_loop preboot; /* pre-boot mode: serves the API until built */
	bool preboot_running;
	int preboot_signal_fd; /* SIGTERM/SIGINT/SIGHUP end pre-boot mode */
	int preboot_signal;    /* the one that did, or 0 */
};

void builder_init(struct builder *b, struct vm_config *cfg, uint64_t start_ns);
/* Boots cfg's kernel. 0, or -errno with err. */
int builder_boot(struct builder *b, char *err, size_t errlen);
/* Builds the VM in a snapshot's saved state (cfg takes the snapshot's
 * machine). 0, or -errno with err and nothing built. */
int builder_restore(struct builder *b, const struct snapshot_load_req *req,
		    char *err, size_t errlen);
/* Pre-boot mode: serves the API on cfg->api_sock until InstanceStart or PUT
 * /snapshot/load built the VM; the server then moves to the VM's loop. 0,
 * -EINTR when SIGTERM, SIGINT or SIGHUP ended it (they must be blocked, as
 * main does from the start), or -errno (logged) when it ended otherwise
 * without a VM. The socket file is gone unless a VM was built. */
int builder_wait_for_api(struct builder *b);
/* Serves the API on cfg->api_sock for the built VM's run: a no-op without
 * a socket or when pre-boot mode serves it already. 0 or -errno (logged). */
int builder_serve_api(struct builder *b);
/* Runs the built VM to its end and logs its metrics; the exit status. */
int builder_run(struct builder *b);
/* Stops the API (it reads the VM), then destroys the VM. */
void builder_destroy(struct builder *b);

#endif
