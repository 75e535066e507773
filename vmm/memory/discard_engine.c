#include "memory/discard_engine.h"
#include "memory/discard_backend.h"

#include <core/log.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Policy, measured with `build/bench/discard_bench --policy` on the build
 * machine (kernel 6.18, 2 vCPUs shared with other jobs, so +-30% noise):
 * - Inline up to 2 MiB: one batch, submit() to done(), inline vs ring:
 *   4 KiB 2 vs 9 us, 1 MiB 62 vs 74 us, 256 scattered pages 284 vs 1430 us,
 *   2 MiB 121 vs 1304 us, 16 MiB 977 vs 5093 us. The io-wq hand-off costs
 *   more than the work for small batches; at 2 MiB the loop is held at most
 *   ~0.1 ms (contiguous) to ~0.6 ms (512 scattered pages), and one Linux
 *   inflate request (256 PFNs, 1 MiB) stays inline.
 * - Larger batches go to the ring: while 4 GiB are discarded the main
 *   loop's worst 1 ms-timer delay is 8-26 ms (idle loop alone: 2-7 ms)
 *   against 440-730 ms for one blocking madvise.
 * - 16 MiB ops: ring throughput is flat from 2 to 256 MiB ops (5.8-6.4
 *   GiB/s under load, whole-range madvise 6.3-13); 16 MiB keeps one op
 *   near 2 ms (drain granularity) at 64 completions per GiB.
 * - 1 io-wq worker: 2 workers or the kernel's default gave no more
 *   throughput nor a better loop delay here, and each one takes a CPU from
 *   the vCPUs. */
#define DISCARD_INLINE_MAX_BYTES (2ULL << 20)
#define DISCARD_CHUNK_BYTES (16ULL << 20)
#define DISCARD_RING_ENTRIES 128
#define DISCARD_RING_WORKERS 1

struct discard_engine {
	struct discard iface;
	struct discard_uring *uring; /* exactly one of these two */
	struct discard_sync *sync;
};

void discard_engine_default_opts(struct discard_engine_opts *opts)
{
	*opts = (struct discard_engine_opts){
		.kind = DISCARD_ENGINE_AUTO,
		.inline_max_bytes = DISCARD_INLINE_MAX_BYTES,
		.chunk_bytes = DISCARD_CHUNK_BYTES,
		.ring_entries = DISCARD_RING_ENTRIES,
		.ring_workers = DISCARD_RING_WORKERS,
	};
}

/* 2 forbids io_uring for everyone; 1 only for processes outside
 * kernel.io_uring_group, which io_uring_setup() reports as EPERM. */
static bool uring_disabled_by_sysctl(void)
{
	FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "re");
	int v = 0;

	if (!f)
		return false; /* older kernels lack the knob */
	if (fscanf(f, "%d", &v) != 1)
		v = 0;
	fclose(f);
	return v == 2;
}

static int engine_try_uring(struct discard_engine *e,
			    const struct discard_engine_opts *o,
			    discard_done_fn done)
{
	struct discard_uring_opts uo = {
		.entries = o->ring_entries,
		.workers = o->ring_workers,
		.inline_max_bytes = o->inline_max_bytes,
		.chunk_bytes = o->chunk_bytes,
	};

	if (uring_disabled_by_sysctl())
		return -EPERM;
	int err = discard_uring_create(&e->uring, &uo, done);
	if (err)
		return err;
	e->iface = (struct discard){ .ops = &discard_uring_ops, .be = e->uring };
	return 0;
}

int discard_engine_create(struct discard_engine **out,
			  const struct discard_engine_opts *opts,
			  discard_done_fn done)
{
	struct discard_engine_opts defaults;
	struct discard_engine *e;
	int err;

	if (!done)
		return -EINVAL;
	if (!opts) {
		discard_engine_default_opts(&defaults);
		opts = &defaults;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	if (opts->kind != DISCARD_ENGINE_SYNC) {
		err = engine_try_uring(e, opts, done);
		if (!err)
			goto out;
		if (opts->kind == DISCARD_ENGINE_URING) {
			free(e);
			return err;
		}
		log_info("discard: io_uring unavailable (%s), discarding synchronously",
			 strerror(-err));
	}
	err = discard_sync_create(&e->sync, done);
	if (err) {
		free(e);
		return err;
	}
	e->iface = (struct discard){ .ops = &discard_sync_ops, .be = e->sync };
out:
	*out = e;
	return 0;
}

int discard_engine_drain(struct discard_engine *e)
{
	if (e->uring)
		return discard_uring_drain(e->uring);
	return discard_sync_ops.submit(e->sync);
}

void discard_engine_destroy(struct discard_engine *e)
{
	if (!e)
		return;
	/* Whoever frees guest memory next must know a discard may outlive
	 * this: say so (drain already logged the io_uring error). */
	int r = discard_engine_drain(e);
	if (r)
		log_error("discard: %s engine not drained at shutdown: %s",
			  discard_engine_name(e), strerror(-r));
	discard_uring_destroy(e->uring);
	discard_sync_destroy(e->sync);
	free(e);
}

struct discard *discard_engine_iface(struct discard_engine *e)
{
	return &e->iface;
}

int discard_engine_eventfd(const struct discard_engine *e)
{
	return e->iface.ops->eventfd(e->iface.be);
}

const char *discard_engine_name(const struct discard_engine *e)
{
	return e->uring ? "io_uring" : "sync";
}

void discard_engine_stats(const struct discard_engine *e,
			  struct discard_stats *out)
{
	if (e->uring)
		discard_uring_stats(e->uring, out);
	else
		discard_sync_stats(e->sync, out);
}
