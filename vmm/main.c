/* mvmm: boots one Linux guest on KVM. Exit status: 0 for a guest power-off,
 * reboot or host signal; 1 for a guest crash or KVM/internal error; 2 for a
 * usage or configuration error. */
#include "builder.h"
#include "config/cli.h"

#include <core/clock.h>

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>

#define MVMM_THREAD_STACK_BYTES (256u << 10)

/* Before anything else runs. A reader of stdout or stderr that goes away
 * must cost output, not the guest (SIGPIPE). SIGTERM, SIGINT and SIGHUP
 * wait, blocked, for a signalfd (the pre-boot loop's, then the VM's), so
 * they end mvmm with status 0 and the socket file removed whenever they
 * come; every thread inherits the mask. */
static void process_signals_init(void)
{
	sigset_t set;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

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
		int r = builder_wait_for_api(b);
		if (r)
			return r == -EINTR ? 0 : 1; /* a signal: a clean stop */
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
	process_signals_init();
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
