/* libFuzzer target: the REST API's requests through what the server does
 * after libmicrohttpd parsed them (percent-decoding with MHD's own decoder,
 * the path and body checks) and the route dispatcher, in pre-boot and
 * runtime states. Byte 0 picks the start: bit 0 set, a running VM (a
 * balloon without a driver, a synchronous discard engine, no KVM); else
 * pre-boot, where InstanceStart succeeds and moves to that VM. The rest is
 * requests separated by NUL bytes, each "METHOD PATH\nBODY".
 *
 * Invariants: every answer has a status the server can send; a body, when
 * there is one, is valid JSON; an error's body has a fault_message. No
 * handler may write a file: the fake VM has no KVM fd, so a snapshot fails
 * before its memory file is opened. */
#include "api/api_routes.h"
#include "memory/discard_engine.h"
#include "reclaim/vm_reclaim.h"

#include <core/log.h>

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define MAX_REQUESTS 16

struct fuzz_vm {
	struct vm vm;
	struct balloon balloon;
	bool up;
};

static struct fuzz_vm fvm;
static struct vm_config cfg;
static struct api_server server; /* never started: deferred answers drop */

static void fake_vm_up(struct vm_config *c)
{
	struct balloon_config bc;
	struct discard_engine_opts o;
	memset(&fvm, 0, sizeof(fvm));
	fvm.vm.cfg = c;
	fvm.vm.kvm_fd = fvm.vm.vm_fd = fvm.vm.signal_fd = -1;
	fvm.vm.stats_timer_fd = -1;
	if (pause_gate_init(&fvm.vm.pause, 0) || event_loop_init(&fvm.vm.loop))
		abort();
	if (c->balloon.enabled) {
		vm_balloon_config(c, &bc);
		bc.pin = (struct mem_pin){0};
		discard_engine_default_opts(&o);
		o.kind = DISCARD_ENGINE_SYNC;
		if (discard_engine_create(&fvm.vm.discard_engine, &o,
					  balloon_discard_done) ||
		    balloon_init(&fvm.balloon, &bc,
				 discard_engine_iface(fvm.vm.discard_engine)))
			abort();
		fvm.vm.balloon = &fvm.balloon;
		fvm.vm.discard = discard_engine_iface(fvm.vm.discard_engine);
		fvm.vm.stats_timer_fd =
			timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	}
	fvm.up = true;
}

static void fake_vm_down(void)
{
	if (!fvm.up)
		return;
	vm_reclaim_destroy(&fvm.vm);
	if (fvm.vm.balloon)
		balloon_destroy(fvm.vm.balloon);
	discard_engine_destroy(fvm.vm.discard_engine);
	if (fvm.vm.stats_timer_fd >= 0)
		close(fvm.vm.stats_timer_fd);
	event_loop_destroy(&fvm.vm.loop);
	pause_gate_destroy(&fvm.vm.pause);
	memset(&fvm, 0, sizeof(fvm));
}

/* InstanceStart: the VM the routes see from now on. */
static int fake_start(struct api_ctx *c, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	fake_vm_up(c->cfg);
	c->vm = &fvm.vm;
	return 0;
}

static int fake_load(struct api_ctx *c, const struct snapshot_load_req *req,
		     char *err, size_t errlen)
{
	(void)c;
	snprintf(err, errlen, "fuzz: %s not loaded", req->snapshot_path);
	return -EINVAL;
}

static void check_answer(const struct api_response *r)
{
	if (r->status == API_STATUS_DEFERRED)
		return; /* snapshot/create: answered through the server */
	if (r->status < 200 || r->status > 599)
		__builtin_trap();
	if (r->status == 204 && r->body)
		__builtin_trap();
	if (!r->body) {
		if (r->status >= 400)
			__builtin_trap(); /* an error lost its fault_message */
		return;
	}
	json_error_t je;
	json_t *j = json_loads(r->body, 0, &je);
	if (!j)
		__builtin_trap();
	if (r->status >= 400 &&
	    !json_is_string(json_object_get(j, "fault_message")))
		__builtin_trap();
	json_decref(j);
}

/* "METHOD PATH\nBODY" as the server hands it over, or the answer the
 * server gives itself. */
static void one_request(struct api_ctx *ctx, const char *rec, size_t len)
{
	const char *nl = memchr(rec, '\n', len);
	size_t line = nl ? (size_t)(nl - rec) : len;
	const char *sp = memchr(rec, ' ', line);
	if (!sp || sp == rec)
		return; /* MHD answers a request line without a method */
	char *method = strndup(rec, (size_t)(sp - rec));
	char *path = strndup(sp + 1, line - (size_t)(sp - rec) - 1);
	const char *body = nl ? nl + 1 : "";
	size_t body_len = nl ? len - line - 1 : 0;
	char *body_copy = strndup(body, body_len);
	if (!method || !path || !body_copy)
		abort();
	size_t plen = MHD_http_unescape(path);
	if (api_path_check(path, plen) == 0 && body_len <= API_MAX_BODY) {
		struct api_request req = {method, path, body_copy, body_len};
		struct api_response resp = {0};
		api_routes_handle(ctx, &req, &resp);
		check_answer(&resp);
		free(resp.body);
	}
	free(method);
	free(path);
	free(body_copy);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	config_defaults(&cfg);
	struct api_ctx ctx = {
		.cfg = &cfg,
		.vmm_version = "0.0.0-fuzz",
		.start = fake_start,
		.load = fake_load,
		.server = &server,
	};
	if (data[0] & 1) {
		cfg.balloon.enabled = true;
		cfg.balloon.stats_polling_interval_s = data[0] >> 4;
		cfg.balloon.free_page_hinting = data[0] & 2;
		cfg.balloon.free_page_reporting = data[0] & 4;
		fake_vm_up(&cfg);
		ctx.vm = &fvm.vm;
	}
	const char *p = (const char *)data + 1;
	size_t left = size - 1;
	for (unsigned n = 0; n < MAX_REQUESTS && left; n++) {
		const char *end = memchr(p, 0, left);
		size_t len = end ? (size_t)(end - p) : left;
		one_request(&ctx, p, len);
		p += len + (end ? 1 : 0);
		left -= len + (end ? 1 : 0);
	}
	fake_vm_down();
	config_free(&cfg);
	return 0;
}
