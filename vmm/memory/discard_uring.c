#include "memory/discard_backend.h"
#include "memory/discard_batch.h"

#include "confine/confine.h"

#include <core/checked.h>
#include <core/log.h>

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

/* IORING_OP_MADVISE takes a 32-bit length. */
#define URING_MAX_OP_BYTES (1ULL << 30)
#define URING_REAP_BATCH 64
#define URING_SUBMIT_TRIES 8

struct discard_uring {
	struct io_uring ring;
	int efd;
	discard_done_fn done;
	struct discard_stats stats;
	uint64_t inline_max_bytes, chunk_bytes;
	struct discard_batch *open;
	/* Batches with ops not yet handed to the ring, oldest first. */
	struct discard_batch *head, *tail;
	/* SQEs written but not yet accepted by io_uring_enter, in SQ order. */
	struct discard_op **prepared;
	unsigned nr_prepared;
	unsigned entries;
	unsigned inflight; /* accepted by the kernel, CQE not reaped yet */
	bool broken;       /* submission failed for good: run inline */
	bool pumping, reaping;
};

static void op_finish(struct discard_uring *u, struct discard_op *op, int err)
{
	if (err)
		u->stats.errors++;
	if (discard_batch_op_done(op, err, u->done))
		discard_batch_free(op->batch);
}

/* A ring op failed or never ran: the synchronous call gives the same
 * result, or the error the caller must see. */
static void op_fallback(struct discard_uring *u, struct discard_op *op, int why)
{
	u->stats.fallbacks++;
	u->stats.sync_ops++;
	int err = discard_batch_exec_sync(op->region, op->offset, op->len);
	log_ratelimited(LOG_WARN,
			"discard: io_uring op at offset 0x%llx len 0x%llx failed (%s), synchronous retry %s",
			(unsigned long long)op->offset,
			(unsigned long long)op->len, strerror(-why),
			err ? strerror(-err) : "succeeded");
	op_finish(u, op, err);
}

static void op_prep(struct io_uring_sqe *sqe, const struct discard_op *op)
{
	const struct gmem_region *r = op->region;

	if (r->backend == GMEM_ANON_PRIVATE)
		io_uring_prep_madvise(sqe, r->hva + op->offset, (off_t)op->len,
				      MADV_DONTNEED);
	else
		io_uring_prep_fallocate(sqe, r->fd,
					FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					(off_t)(r->fd_offset + op->offset),
					(off_t)op->len);
	io_uring_sqe_set_data(sqe, (void *)op);
}

/* Hands prepared SQEs to the kernel. >0: some accepted; 0: retry after a
 * completion; <0: the ring is broken. */
static int submit_prepared(struct discard_uring *u)
{
	for (int tries = 0; tries < URING_SUBMIT_TRIES; tries++) {
		int ret = io_uring_submit(&u->ring);
		if (ret > 0) {
			unsigned n = MIN((unsigned)ret, u->nr_prepared);
			u->nr_prepared -= n;
			memmove(u->prepared, u->prepared + n,
				u->nr_prepared * sizeof(*u->prepared));
			u->inflight += n;
			return (int)n;
		}
		if (ret == -EINTR)
			continue;
		/* Out of kernel resources or CQ backlog: a completion frees
		 * some and reap() pumps again. */
		if ((ret == 0 || ret == -EAGAIN || ret == -EBUSY) && u->inflight)
			return 0;
		if (ret == 0 || ret == -EAGAIN || ret == -EBUSY)
			continue;
		log_warn("discard: io_uring submit failed (%s), continuing synchronously",
			 strerror(-ret));
		u->broken = true;
		return ret;
	}
	log_warn("discard: io_uring submit makes no progress, continuing synchronously");
	u->broken = true;
	return -EAGAIN;
}

/* Runs everything the ring will never see: SQEs the kernel refused (they
 * stay unsubmitted, the ring is never entered to submit again) and ops not
 * yet prepared. */
static void fail_over(struct discard_uring *u)
{
	while (u->nr_prepared) {
		struct discard_op *op = u->prepared[0];
		u->nr_prepared--;
		memmove(u->prepared, u->prepared + 1,
			u->nr_prepared * sizeof(*u->prepared));
		op_fallback(u, op, -EIO);
	}
	while (u->head) {
		struct discard_batch *b = u->head;
		struct discard_op *op = &b->ops[b->next_op++];
		if (b->next_op == b->nr_ops) {
			u->head = b->next;
			if (!u->head)
				u->tail = NULL;
		}
		op_fallback(u, op, -EIO);
	}
}

/* Keeps the ring fed without ever letting in-flight ops outnumber the CQ,
 * so completions are never dropped or backlogged. */
static void pump(struct discard_uring *u)
{
	if (u->pumping)
		return; /* a done() inside fail_over submitted: outer loop runs it */
	u->pumping = true;
	while (!u->broken) {
		while (u->head && u->inflight + u->nr_prepared < u->entries) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
			if (!sqe)
				break; /* SQ full: submit, then go on */
			struct discard_batch *b = u->head;
			struct discard_op *op = &b->ops[b->next_op++];
			op_prep(sqe, op);
			u->prepared[u->nr_prepared++] = op;
			if (b->next_op == b->nr_ops) {
				u->head = b->next;
				if (!u->head)
					u->tail = NULL;
			}
		}
		if (!u->nr_prepared || submit_prepared(u) <= 0)
			break;
	}
	if (u->broken)
		fail_over(u);
	u->pumping = false;
}

static int uring_queue(void *be, const struct gmem_region *region,
		       uint64_t offset, uint64_t len, void *cookie)
{
	struct discard_uring *u = be;

	return discard_batch_add(&u->open, region, offset, len, cookie,
				 &u->stats);
}

static int uring_submit(void *be)
{
	struct discard_uring *u = be;
	struct discard_batch *b = u->open;

	if (!b)
		return 0;
	u->open = NULL; /* done() may queue a new batch */
	int err = discard_batch_plan(b, u->chunk_bytes, &u->stats);
	/* Small batches cost less inline than one io-wq hand-off per op
	 * (measured: tests/bench/discard_bench.c, see discard_engine.c). */
	if (err || u->broken || b->bytes <= u->inline_max_bytes) {
		discard_batch_run_inline(b, u->done, &u->stats);
		return 0;
	}
	if (u->tail)
		u->tail->next = b;
	else
		u->head = b;
	u->tail = b;
	pump(u);
	return 0;
}

static void reap_one(struct discard_uring *u, struct discard_op *op, int res)
{
	if (res < 0) {
		op_fallback(u, op, res);
		return;
	}
	u->stats.uring_ops++;
	op_finish(u, op, 0);
}

static int uring_reap(void *be)
{
	struct discard_uring *u = be;
	uint64_t count;

	/* A done() that reaps would free a batch the outer loop still uses. */
	if (u->reaping)
		return 0;
	u->reaping = true;
	/* Clear the eventfd before looking at the CQ so no wakeup is lost. */
	if (read(u->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_ratelimited(LOG_WARN, "discard: eventfd read: %s",
				strerror(errno));
	for (;;) {
		struct io_uring_cqe *cqes[URING_REAP_BATCH];
		struct { struct discard_op *op; int res; } got[URING_REAP_BATCH];
		unsigned n = io_uring_peek_batch_cqe(&u->ring, cqes,
						     URING_REAP_BATCH);
		if (!n)
			break;
		for (unsigned i = 0; i < n; i++) {
			got[i].op = io_uring_cqe_get_data(cqes[i]);
			got[i].res = cqes[i]->res;
		}
		/* Copy out and release the CQEs first: done() may submit. */
		io_uring_cq_advance(&u->ring, n);
		u->inflight -= n;
		pump(u); /* refill the workers before running callbacks */
		for (unsigned i = 0; i < n; i++)
			reap_one(u, got[i].op, got[i].res);
	}
	pump(u);
	u->reaping = false;
	return 0;
}

static int uring_eventfd(void *be)
{
	return ((struct discard_uring *)be)->efd;
}

/* SQEs already prepared stay: the kernel takes them on the next submit
 * (which a completion brings), so they count as handed over. */
static int uring_cancel(void *be)
{
	struct discard_uring *u = be;
	struct discard_batch *open = u->open, *b = u->head;

	/* Detached first: done() may queue and submit new batches. */
	u->open = NULL;
	u->head = u->tail = NULL;
	if (open && discard_batch_cancel(open, u->done, &u->stats))
		discard_batch_free(open);
	while (b) {
		struct discard_batch *next = b->next;
		b->next = NULL;
		if (discard_batch_cancel(b, u->done, &u->stats))
			discard_batch_free(b);
		b = next;
	}
	return 0;
}

const struct discard_ops discard_uring_ops = {
	.queue = uring_queue,
	.submit = uring_submit,
	.reap = uring_reap,
	.eventfd = uring_eventfd,
	.cancel = uring_cancel,
};

static int probe_opcodes(struct io_uring *ring)
{
	struct io_uring_probe *p = io_uring_get_probe_ring(ring);
	int err = 0;

	if (!p)
		return -EOPNOTSUPP;
	if (!io_uring_opcode_supported(p, IORING_OP_MADVISE) ||
	    !io_uring_opcode_supported(p, IORING_OP_FALLOCATE))
		err = -EOPNOTSUPP;
	io_uring_free_probe(p);
	return err;
}

int discard_uring_create(struct discard_uring **out,
			 const struct discard_uring_opts *opts,
			 discard_done_fn done)
{
	struct discard_uring *u = calloc(1, sizeof(*u));
	int err;

	if (!u)
		return -ENOMEM;
	u->done = done;
	u->inline_max_bytes = opts->inline_max_bytes;
	u->chunk_bytes = MIN(MAX(opts->chunk_bytes, DISCARD_HUGEPAGE_SIZE),
			     URING_MAX_OP_BYTES);
	/* Created disabled, so its opcodes can be restricted before it runs
	 * (the ring's own allowlist, confine_uring_restrict). */
	unsigned entries = opts->entries ? opts->entries : 128;
	bool restricted = true;
	err = io_uring_queue_init(entries, &u->ring, IORING_SETUP_R_DISABLED);
	if (err == -EINVAL) {
		restricted = false; /* before Linux 5.10 */
		err = io_uring_queue_init(entries, &u->ring, 0);
	}
	if (err)
		goto err_free;
	err = probe_opcodes(&u->ring);
	if (err)
		goto err_ring;
	u->entries = u->ring.sq.ring_entries;
	u->prepared = calloc(u->entries, sizeof(*u->prepared));
	if (!u->prepared) {
		err = -ENOMEM;
		goto err_ring;
	}
	u->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (u->efd < 0) {
		err = -errno;
		goto err_prepared;
	}
	err = io_uring_register_eventfd(&u->ring, u->efd);
	if (err)
		goto err_efd;
	if (opts->workers) {
		/* [bounded, unbounded]: madvise is bounded work, fallocate on
		 * a regular file too. A failure only costs CPU sharing. */
		unsigned max[2] = { opts->workers, opts->workers };
		err = io_uring_register_iowq_max_workers(&u->ring, max);
		if (err)
			log_info("discard: cannot cap io-wq workers: %s",
				 strerror(-err));
	}
	char why[160];
	if (restricted && (err = confine_uring_restrict(&u->ring, why,
							sizeof(why)))) {
		log_error("discard: %s", why);
		goto err_efd;
	}
	if (!restricted)
		log_warn("discard: io_uring without IORING_SETUP_R_DISABLED: its opcodes are not restricted");
	*out = u;
	return 0;

err_efd:
	close(u->efd);
err_prepared:
	free(u->prepared);
err_ring:
	io_uring_queue_exit(&u->ring);
err_free:
	free(u);
	return err;
}

int discard_uring_drain(struct discard_uring *u)
{
	uring_submit(u);
	while (u->head || u->nr_prepared || u->inflight) {
		if (u->inflight) {
			struct io_uring_cqe *cqe;
			int ret = io_uring_wait_cqe(&u->ring, &cqe);
			if (ret == -EINTR)
				continue;
			if (ret < 0) {
				log_error("discard: waiting for io_uring: %s",
					  strerror(-ret));
				return ret;
			}
		}
		uring_reap(u); /* pumps what is left, or fails it over */
	}
	return 0;
}

void discard_uring_destroy(struct discard_uring *u)
{
	if (!u)
		return;
	discard_uring_drain(u);
	io_uring_unregister_eventfd(&u->ring);
	io_uring_queue_exit(&u->ring);
	close(u->efd);
	free(u->prepared);
	free(u);
}

void discard_uring_stats(const struct discard_uring *u,
			 struct discard_stats *out)
{
	*out = u->stats;
}
