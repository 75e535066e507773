#include "builder.h"

#include "confine/confine.h"
#include "config/cli.h"
#include "vm/metrics.h"

#include <core/clock.h>
#include <core/log.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* A boot when req is NULL, else a restore. */
static int build(struct builder *b, const struct snapshot_load_req *req,
		 char *err, size_t errlen)
{
	memset(&b->vm, 0, sizeof(b->vm));
	b->vm.start_ns = b->start_ns;
	int r = req ? snapshot_load(&b->vm, b->cfg, req, err, errlen)
		    : vm_create(&b->vm, b->cfg, err, errlen);
	if (r) {
		vm_destroy(&b->vm); /* whatever was built; nothing is fine */
		return r < 0 ? r : -EINVAL;
	}
	b->api_ctx.vm = &b->vm;
	return 0;
}

static struct builder *of_api_ctx(struct api_ctx *ctx)
{
	return (struct builder *)((char *)ctx - offsetof(struct builder, api_ctx));
}

/* The pre-boot API's InstanceStart and snapshot/load: the startup figure
 * counts from the request; once built, the pre-boot loop ends. */
static int build_from_api(struct api_ctx *ctx,
			  const struct snapshot_load_req *req, char *err,
			  size_t errlen)
{
	struct builder *b = of_api_ctx(ctx);
	b->start_ns = clock_now_ns();
	int r = build(b, req, err, errlen);
	if (!r && b->preboot_running)
		event_loop_stop(&b->preboot);
	return r;
}

static int start_from_api(struct api_ctx *ctx, char *err, size_t errlen)
{
	return build_from_api(ctx, NULL, err, errlen);
}

void builder_init(struct builder *b, struct vm_config *cfg, uint64_t start_ns)
{
	memset(b, 0, sizeof(*b));
	b->cfg = cfg;
	b->start_ns = start_ns;
	b->preboot_signal_fd = -1;
	b->api_ctx = (struct api_ctx){
		.cfg = cfg,
		.vmm_version = MVMM_VERSION,
		.start = start_from_api,
		.load = build_from_api,
		.server = &b->api,
	};
}

int builder_boot(struct builder *b, char *err, size_t errlen)
{
	return build(b, NULL, err, errlen);
}

int builder_restore(struct builder *b, const struct snapshot_load_req *req,
		    char *err, size_t errlen)
{
	return build(b, req, err, errlen);
}

/* The API thread's seccomp filter, from its first connection on. A VMM
 * that was asked to confine itself and cannot must not serve. */
static void api_thread_confine(void *opaque)
{
	const struct api_ctx *ctx = opaque;
	char err[256];
	if (confine_seccomp_install(CONFINE_API, ctx->cfg->seccomp, err,
				    sizeof(err))) {
		log_error("api: %s", err);
		_exit(1);
	}
}

static void on_preboot_signal(void *opaque, uint32_t events)
{
	struct builder *b = opaque;
	struct signalfd_siginfo si;
	(void)events;
	if (read(b->preboot_signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	log_info("stopped by signal %u before the VM was built", si.ssi_signo);
	b->preboot_signal = (int)si.ssi_signo;
	event_loop_stop(&b->preboot);
}

/* The pre-boot loop's own signalfd; the VM's loop makes another. */
static int preboot_signals(struct builder *b)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	b->preboot_signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (b->preboot_signal_fd < 0)
		return -errno;
	return event_loop_add(&b->preboot, b->preboot_signal_fd, 0,
			      on_preboot_signal, b);
}

int builder_wait_for_api(struct builder *b)
{
	b->preboot_signal_fd = -1;
	int r = event_loop_init(&b->preboot);
	if (!r)
		r = preboot_signals(b);
	if (r) {
		log_error("pre-boot event loop: %s", strerror(-r));
		goto out;
	}
	r = api_server_start_hooked(&b->api, b->cfg->api_sock, &b->preboot,
				    api_routes_handle, &b->api_ctx,
				    api_thread_confine);
	if (!r) {
		log_info("waiting for configuration on %s", b->cfg->api_sock);
		b->preboot_running = true;
		event_loop_run(&b->preboot);
		b->preboot_running = false;
		/* The loop ends when the VM was built, on a signal, or on an
		 * error. */
		if (!b->api_ctx.vm) {
			api_server_stop(&b->api);
			r = b->preboot_signal ? -EINTR : -ECANCELED;
		} else if (api_server_attach(&b->api, &b->vm.loop)) {
			log_warn("api: cannot move to the VM's loop; the API stays silent");
		}
	}
out:
	if (b->preboot_signal_fd >= 0)
		close(b->preboot_signal_fd);
	b->preboot_signal_fd = -1;
	event_loop_destroy(&b->preboot);
	return r;
}

int builder_serve_api(struct builder *b)
{
	if (!b->cfg->api_sock || b->api.phase != API_SERVER_OFF)
		return 0;
	/* Built already: InstanceStart and snapshot/load are refused. */
	b->api_ctx.start = NULL;
	b->api_ctx.load = NULL;
	return api_server_start_hooked(&b->api, b->cfg->api_sock, &b->vm.loop,
				       api_routes_handle, &b->api_ctx,
				       api_thread_confine);
}

int builder_run(struct builder *b)
{
	int status = vm_run(&b->vm);
	char *line = metrics_vm_string(&b->vm);
	if (line) {
		log_info("metrics: %s", line);
		free(line);
	}
	return status;
}

void builder_destroy(struct builder *b)
{
	api_server_stop(&b->api);
	vm_destroy(&b->vm);
	b->api_ctx.vm = NULL;
}
