#include "memory/discard_backend.h"
#include "memory/discard_batch.h"

#include <errno.h>
#include <stdlib.h>

struct discard_sync {
	discard_done_fn done;
	struct discard_batch *open;
	struct discard_stats stats;
};

static int sync_queue(void *be, const struct gmem_region *region,
		      uint64_t offset, uint64_t len, void *cookie)
{
	struct discard_sync *s = be;

	return discard_batch_add(&s->open, region, offset, len, cookie,
				 &s->stats);
}

static int sync_submit(void *be)
{
	struct discard_sync *s = be;
	struct discard_batch *b = s->open;

	if (!b)
		return 0;
	s->open = NULL; /* done() may queue a new batch */
	/* No chunking: one syscall per merged extent is the fastest inline. */
	discard_batch_plan(b, UINT64_MAX, &s->stats);
	discard_batch_run_inline(b, s->done, &s->stats);
	return 0;
}

static int sync_reap(void *be)
{
	(void)be;
	return 0;
}

static int sync_eventfd(void *be)
{
	(void)be;
	return -1;
}

/* Only what was queued and not submitted: submit runs everything. */
static int sync_cancel(void *be)
{
	struct discard_sync *s = be;
	struct discard_batch *b = s->open;

	s->open = NULL;
	if (b && discard_batch_cancel(b, s->done, &s->stats))
		discard_batch_free(b);
	return 0;
}

const struct discard_ops discard_sync_ops = {
	.queue = sync_queue,
	.submit = sync_submit,
	.reap = sync_reap,
	.eventfd = sync_eventfd,
	.cancel = sync_cancel,
};

int discard_sync_create(struct discard_sync **out, discard_done_fn done)
{
	struct discard_sync *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->done = done;
	*out = s;
	return 0;
}

void discard_sync_destroy(struct discard_sync *s)
{
	if (!s)
		return;
	sync_submit(s); /* queued ranges still owe their done() */
	free(s);
}

void discard_sync_stats(const struct discard_sync *s, struct discard_stats *out)
{
	*out = s->stats;
}
