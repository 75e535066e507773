/* mvmm: boots one Linux guest on KVM. Exit status: 0 for a guest power-off,
 * reboot or host signal; 1 for a guest crash or KVM/internal error; 2 for a
 * usage or configuration error. */
#include "api/api_routes.h"
#include "api/api_server.h"
#include "config/cli.h"
#include "vm/metrics.h"
#include "snapshot/snapshot.h"
#include "vm/vm.h"

#include <core/clock.h>
#include <core/log.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct vm vm;
static bool vm_created;
static struct api_server api;
static bool api_running;
static struct event_loop preboot;

static int api_start_vm(struct api_ctx *ctx, char *err, size_t errlen)
{
	vm_created = true;
	vm.start_ns = clock_now_ns(); /* the start counts from InstanceStart */
	if (vm_create(&vm, ctx->cfg, err, errlen)) {
		vm_destroy(&vm);
		vm_created = false;
		return -1;
	}
	ctx->vm = &vm;
	event_loop_stop(&preboot);
	return 0;
}

static int api_load_vm(struct api_ctx *ctx, const struct snapshot_load_req *req,
		       char *err, size_t errlen)
{
	vm_created = true;
	vm.start_ns = clock_now_ns();
	if (snapshot_load(&vm, ctx->cfg, req, err, errlen)) {
		vm_destroy(&vm);
		vm_created = false;
		return -1;
	}
	ctx->vm = &vm;
	event_loop_stop(&preboot);
	return 0;
}

/* mvmm --api-sock alone: wait for PUT /boot-source, /machine-config,
 * /balloon and InstanceStart, as Firecracker does. */
static int wait_for_instance_start(struct api_ctx *ctx)
{
	int r = event_loop_init(&preboot);
	if (r) {
		log_error("event loop: %s", strerror(-r));
		return -1;
	}
	if (api_server_start(&api, ctx->cfg->api_sock, &preboot,
			     api_routes_handle, ctx)) {
		event_loop_destroy(&preboot);
		return -1;
	}
	api_running = true;
	log_info("waiting for configuration on %s", ctx->cfg->api_sock);
	event_loop_run(&preboot);
	if (ctx->vm)
		api_server_attach(&api, &vm.loop);
	else {
		api_server_stop(&api);
		api_running = false;
	}
	event_loop_destroy(&preboot);
	return ctx->vm ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct vm_config cfg;
	char err[CONFIG_ERR_LEN] = "";

	vm.start_ns = clock_now_ns();
	config_defaults(&cfg);
	switch (cli_parse(argc, argv, &cfg, err)) {
	case CLI_EXIT_OK:
		config_free(&cfg);
		return 0;
	case CLI_EXIT_USAGE:
		fprintf(stderr, "mvmm: %s\n", err);
		config_free(&cfg);
		return 2;
	case CLI_RUN:
		break;
	}

	struct api_ctx ctx = {
		.cfg = &cfg, .vmm_version = MVMM_VERSION, .start = api_start_vm,
		.load = api_load_vm, .server = &api,
	};
	int status = 1;
	if (cfg.restore_path) {
		struct snapshot_load_req req = {
			.snapshot_path = cfg.restore_path,
			.mem_file_path = cfg.restore_mem_path,
			.resume = !cfg.restore_paused,
		};
		vm_created = true;
		if (snapshot_load(&vm, &cfg, &req, err, sizeof(err))) {
			fprintf(stderr, "mvmm: --restore: %s\n", err);
			status = 2; /* a bad or mismatched file, like a bad config */
			goto out;
		}
		ctx.vm = &vm;
		ctx.start = NULL;
		ctx.load = NULL;
		if (cfg.api_sock) {
			if (api_server_start(&api, cfg.api_sock, &vm.loop,
					     api_routes_handle, &ctx))
				goto out;
			api_running = true;
		}
	} else if (cfg.api_sock && !cfg.kernel_path) {
		if (wait_for_instance_start(&ctx))
			goto out;
	} else {
		vm_created = true;
		if (vm_create(&vm, &cfg, err, sizeof(err))) {
			fprintf(stderr, "mvmm: %s\n", err);
			goto out;
		}
		ctx.vm = &vm;
		ctx.start = NULL;
		ctx.load = NULL;
		if (cfg.api_sock) {
			if (api_server_start(&api, cfg.api_sock, &vm.loop,
					     api_routes_handle, &ctx))
				goto out;
			api_running = true;
		}
	}
	status = vm_run(&vm);
	char *line = metrics_vm_string(&vm);
	if (line) {
		log_info("metrics: %s", line);
		free(line);
	}
out:
	/* The API reads the VM: stop it first. */
	if (api_running)
		api_server_stop(&api);
	if (vm_created)
		vm_destroy(&vm);
	config_free(&cfg);
	return status;
}
