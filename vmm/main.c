/* mvmm: boots one Linux guest on KVM. Exit status: 0 for a guest power-off,
 * reboot or host signal; 1 for a guest crash or KVM/internal error; 2 for a
 * usage or configuration error. */
#include "builder.h"
#include "config/cli.h"

#include <core/clock.h>

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>

#define MVMM_THREAD_STACK_BYTES (256u << 10)

/* Builds the VM the way the flags ask (a restore, the API's pre-boot mode,
 * or a boot) and runs it; the exit status. */
static int build_and_run(struct builder *b, struct vm_config *cfg)
{
	char err[CONFIG_ERR_LEN] = "";

	if (cfg->restore_path) {
		struct snapshot_load_req req = {
			.snapshot_path = cfg->restore_path,
			.mem_file_path = cfg->restore_mem_path,
			.resume = !cfg->restore_paused,
		};
		if (builder_restore(b, &req, err, sizeof(err))) {
			fprintf(stderr, "mvmm: --restore: %s\n", err);
			return 2; /* a bad or mismatched file, like a bad config */
		}
	} else if (cfg->api_sock && !cfg->kernel_path) {
		if (builder_wait_for_api(b))
			return 1;
	} else if (builder_boot(b, err, sizeof(err))) {
		fprintf(stderr, "mvmm: %s\n", err);
		return 1;
	}
	if (builder_serve_api(b))
		return 1;
	return builder_run(b);
}

int main(int argc, char **argv)
{
	uint64_t start_ns = clock_now_ns();
	struct vm_config cfg;
	char err[CONFIG_ERR_LEN] = "";
	int status = 0;

	/* One malloc arena: each thread (vCPUs, the API server) that
	 * allocates would otherwise get its own, with a heap of its own
	 * touched; nothing here allocates on a hot path
	 * (docs/performance.md, "Footprint"). */
	mallopt(M_ARENA_MAX, 1);
	/* Thread stacks (vCPUs, the API server) of 256 KiB, not glibc's 8
	 * MiB: on a host with THP "always" the first touch of an 8 MiB stack
	 * faults in a 2 MiB huge page (measured: 2 MiB of a 3.4 MiB VMM
	 * footprint, tests/bench/peer.sh --smaps); none fits in 256 KiB. The
	 * deepest frames are ~15 KiB (gcc -fstack-usage). */
	pthread_attr_t attr;
	if (pthread_attr_init(&attr) == 0) {
		if (pthread_attr_setstacksize(&attr, MVMM_THREAD_STACK_BYTES) == 0)
			pthread_setattr_default_np(&attr);
		pthread_attr_destroy(&attr);
	}
	config_defaults(&cfg);
	enum cli_result how = cli_parse(argc, argv, &cfg, err);
	if (how == CLI_EXIT_USAGE) {
		fprintf(stderr, "mvmm: %s\n", err);
		status = 2;
	} else if (how == CLI_RUN) {
		struct builder b;
		builder_init(&b, &cfg, start_ns);
		status = build_and_run(&b, &cfg);
		builder_destroy(&b);
	}
	config_free(&cfg);
	return status;
}
