/* virtio-balloon (device id 5): inflate/deflate, statistics, free page
 * reporting, page poison and free page hinting. Guest pages handed to the
 * balloon are returned to the host through a struct discard; a request's
 * used-ring entry is written only after all of its discards completed
 * (core/discard.h), since the guest reuses the pages once it sees it.
 *
 * Threads: device state belongs to the main loop. Transport callbacks run
 * with the transport's lock held; every balloon_* entry point below takes
 * that lock (host->lock) itself once the device was activated.
 *
 * Wiring (the VMM):
 *   balloon_init(&b, &cfg, &discard)      discard's done callback must be
 *                                         balloon_discard_done
 *   virtio_mmio_init(..., balloon_virtio_dev(&b), ...)
 *   epoll: balloon_pending_fd(&b)   -> balloon_run_pending(&b)
 *          timerfd (interval_s > 0) -> balloon_stats_tick(&b)
 *   shutdown: balloon_stop once the vCPUs will not run the guest again,
 *             before joining them; drain the discard backend (its done
 *             callbacks take the transport's lock), then
 *             virtio_mmio_destroy, balloon_destroy.
 *
 * A device reset (a vCPU thread) returns only when no discard it issued can
 * still run: it asks the main loop (balloon_run_pending) to cancel what the
 * backend has not submitted, and waits, without a time bound, for what it
 * has. Only balloon_stop ends the wait early. */
#ifndef DEVICES_BALLOON_H
#define DEVICES_BALLOON_H

#include <core/discard.h>
#include <core/gmem.h>
#include <core/mem_pin.h>
#include <devices/hugepage_tracker.h>
#include <devices/inhibit.h>
#include <devices/virtio_dev.h>
#include <devices/virtq.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* Linux 6.x statistics tags (0-15); the UAPI header may stop at 9. */
#define BALLOON_STATS_NR 16

/* The balloon counts in 4 KiB pages whatever the guest page size (5.5.6). */
#define BALLOON_PAGE_SHIFT 12
#define BALLOON_PAGES_PER_MIB 256u
/* Largest target: num_pages is a le32. */
#define BALLOON_MAX_TARGET_MIB (UINT32_MAX / BALLOON_PAGES_PER_MIB)

/* Queue roles in spec order; a role's index depends on the features. */
enum balloon_queue_role {
	BALLOON_Q_INFLATE,
	BALLOON_Q_DEFLATE,
	BALLOON_Q_STATS,
	BALLOON_Q_FREE_PAGE,
	BALLOON_Q_REPORTING,
	BALLOON_Q_NR,
};

/* PFNs per inflate/deflate chain (Linux sends 256); longer is malformed. */
#define BALLOON_MAX_PFNS 4096
/* Requests waiting for discards, over all queues. */
#define BALLOON_MAX_INFLIGHT 64
/* Chains handled per queue per notify or pending run, so one guest cannot
 * hold the main loop. */
#define BALLOON_CHAINS_PER_RUN 32
#define BALLOON_QUEUE_SIZE 256

/* Free page hinting (balloon_hint.c). Hints are weak: the guest may reuse a
 * hinted page at any time (seed 004), so mvmm never discards on a hint
 * alone; it records them for the snapshot and reclaim paths, which combine
 * them with a dirty log started before balloon_hint_start. */
enum balloon_hint_state {
	BALLOON_HINT_IDLE,      /* no run since activation or reset */
	BALLOON_HINT_REQUESTED, /* cmd id written, guest has not sent it yet */
	BALLOON_HINT_RUNNING,   /* guest sent the id: hints are accepted */
	BALLOON_HINT_STOPPED,   /* ended by the guest's STOP or the host's;
				   the guest still holds its hinted pages */
	BALLOON_HINT_DONE,      /* DONE written: the guest may reuse them */
};

/* Told about each accepted hint, on the thread running the free page queue
 * (the main loop), with the transport's lock held: record, don't block.
 * gpa/len are whole 4 KiB pages inside region r. ended (optional): the
 * guest's STOP ended run cmd_id. */
struct balloon_hint_sink {
	void (*hinted)(void *opaque, uint32_t cmd_id,
		       const struct gmem_region *r, uint64_t gpa, uint64_t len);
	void (*ended)(void *opaque, uint32_t cmd_id);
	void *opaque;
};

struct balloon_hint_status {
	bool enabled;             /* configured: FREE_PAGE_HINT offered */
	bool negotiated;          /* accepted by the driver and active */
	uint32_t host_cmd;        /* free_page_hint_cmd_id now */
	bool guest_cmd_valid;     /* the guest sent a cmd since activation */
	uint32_t guest_cmd;       /* the last cmd the guest sent */
	uint32_t run_id;          /* the current or last run, 0 for none */
	enum balloon_hint_state state;
	bool acknowledge_on_stop; /* the run's: DONE follows the guest's STOP */
	bool guest_stopped;       /* the guest sent STOP after run_id */
	uint64_t ranges, bytes;   /* hints accepted in run_id (as sent) */
	uint64_t pages;           /* distinct 4 KiB pages hinted in run_id */
	uint64_t start_ns;        /* CLOCK_MONOTONIC when run_id was written */
	uint64_t end_ns;          /* when it stopped or was done, else 0 */
};

/* Device-private hinting state (balloon_hint.c). */
struct balloon_hint {
	uint32_t last_id;   /* last run id handed out; never reset */
	uint32_t run_id;
	uint32_t guest_run; /* id the guest is hinting for now, 0 none */
	uint32_t guest_cmd;
	bool guest_cmd_valid;
	bool ack_on_stop;
	bool guest_stopped;
	enum balloon_hint_state state;
	uint64_t ranges, bytes, pages;
	uint64_t start_ns, end_ns;
	/* Per gmem region index: one bit per 4 KiB page hinted in run_id;
	 * allocated at activate when FREE_PAGE_HINT was negotiated. */
	uint64_t *bits[GMEM_MAX_REGIONS];
	uint64_t nr_pages[GMEM_MAX_REGIONS];
	unsigned nr_regions;
};

struct balloon_config {
	uint32_t amount_mib;              /* initial target */
	bool deflate_on_oom;              /* offer DEFLATE_ON_OOM */
	uint32_t stats_polling_interval_s; /* 0: the VMM does not poll */
	bool free_page_reporting;         /* offer PAGE_REPORTING + PAGE_POISON */
	bool free_page_hinting;           /* offer FREE_PAGE_HINT */
	struct balloon_hint_sink hint_sink; /* hinted NULL: none */
	/* Refuse FEATURES_OK to a driver without MUST_TELL_HOST (pinned guest
	 * memory must be re-pinned before the guest reuses a page; seed 000). */
	bool require_must_tell_host;
	/* Pinned guest memory (mem_lock): inflated ranges are unpinned before
	 * their discard, deflated ones pinned again before their used entry,
	 * and PAGE_REPORTING is not offered (reported pages are reused without
	 * a deflate). ops NULL: memory is not pinned. */
	struct mem_pin pin;
};

struct balloon_metrics {
	uint64_t inflate_requests, deflate_requests;
	uint64_t inflated_pages, deflated_pages; /* distinct valid pages */
	uint64_t invalid_pfns;       /* outside guest RAM: skipped */
	uint64_t malformed_requests; /* bad length: used without effect */
	uint64_t discard_ranges, discard_bytes; /* inflate discards queued */
	uint64_t discard_errors;     /* failed queue calls or done(err) */
	uint64_t stats_updates;
	uint64_t reports, report_ranges, report_bytes; /* reporting discards */
	uint64_t report_poison_skipped_bytes;
	uint64_t invalid_report_ranges;
	uint64_t report_latency_max_ns, report_latency_total_ns;
	uint64_t inhibited_bytes;    /* acknowledged while discard inhibited */
	uint64_t hugepages_discarded; /* 2 MiB pages completed and discarded */
	uint64_t silent_hugepage_bytes; /* hugetlb inflates kept: no MUST_TELL_HOST */
	uint64_t pin_errors;         /* failed pin/unpin calls */
	uint64_t repinned_bytes;     /* pinned again on deflate */
	uint64_t orphaned_requests;  /* completed after reset: not used */
	uint64_t deferred_runs;      /* work left for balloon_run_pending */
	/* Free page hinting. */
	uint64_t hint_runs;          /* cmd ids written by balloon_hint_start */
	uint64_t hint_stops_written, hint_dones_written; /* dones: auto too */
	uint64_t hint_guest_starts;  /* the guest sent the current id */
	uint64_t hint_guest_stops;   /* STOPs that ended the current run */
	uint64_t hint_ranges, hint_bytes; /* accepted hints */
	uint64_t hint_stale_cmds;    /* ids or STOPs not of the current run */
	uint64_t hint_outside_run;   /* hint buffers ignored: no run active */
	uint64_t invalid_hint_ranges; /* misaligned or bad cmd buffers */
};

struct balloon_info {
	uint32_t target_pages, actual_pages;
	uint32_t target_mib, actual_mib;
	uint64_t features;        /* negotiated (0 before FEATURES_OK) */
	bool activated;           /* DRIVER_OK seen, not reset since */
	bool deflate_on_oom;      /* negotiated */
	bool stats_enabled;       /* STATS_VQ negotiated */
	bool free_page_reporting; /* PAGE_REPORTING negotiated and active */
	bool page_poison;         /* PAGE_POISON negotiated */
	uint32_t poison_val;
	uint32_t stats_polling_interval_s;
};

struct balloon_stats {
	uint64_t val[BALLOON_STATS_NR];
	uint32_t present;   /* bit t set: tag t was in the last buffer */
	uint64_t updates;
	bool valid;         /* at least one buffer parsed */
	struct timespec last_update_realtime;
	uint64_t last_update_monotonic_ns;
};

struct balloon_req {
	struct balloon *b;
	uint32_t gen;       /* b->gen when popped: stale after reset */
	uint16_t head;
	uint8_t q;
	uint8_t role;
	bool busy;
	int err;
	uint64_t bytes;
	uint64_t t_pop_ns;
	/* Inflates: issue order. Deflates: wait for inflates up to this. */
	uint64_t seq;
	/* Set by the handler that made it (optional): runs when the request
	 * completes on a live device, just before its used entry. */
	void (*on_complete)(struct balloon *b, const struct balloon_req *req);
};

struct balloon_range {
	const struct gmem_region *region;
	uint64_t gpa, len;
};

/* Fields are private to devices/virtio/balloon/. */
struct balloon {
	/* Signalled when a request's discards complete (a reset waits on it). */
	pthread_cond_t idle;
	struct virtio_dev vdev;
	struct balloon_config cfg;
	struct discard discard; /* ops NULL: nothing is discarded */

	/* Config space; num_pages/actual/features are read by the API without
	 * the lock before the first activation. */
	_Atomic uint32_t num_pages;
	_Atomic uint32_t actual;
	uint32_t free_page_hint_cmd_id;
	uint32_t poison_val;
	_Atomic uint64_t features;
	_Atomic uint32_t stats_interval_s;

	/* Set at activate, kept across reset (the transport outlives us). */
	_Atomic(const struct virtio_host *) host;
	struct virtq *queues;
	unsigned nr_queues;
	const struct gmem *mem;
	bool active;
	bool broken;        /* malformed ring: waiting for reset */
	uint32_t gen;

	/* Reasons discarding is inhibited (seed 002). */
	struct inhibit inhibit;
	/* Per gmem region index: 4 KiB pages ballooned in hugetlb regions
	 * (len 0 for other backends); set up at activate. */
	struct hugepage_tracker hp[GMEM_MAX_REGIONS];
	bool unpinned; /* some range unpinned since all RAM was pinned */

	/* Work deferred to balloon_run_pending: one bit per queue index. */
	uint32_t pending;
	int pending_fd;
	/* A reset waits: balloon_run_pending cancels unsubmitted discards. */
	bool cancel_discards;
	bool stopping; /* balloon_stop: the guest never runs again */

	/* Statistics queue: the buffer the device holds between ticks. */
	bool stats_held;
	uint16_t stats_head;
	struct balloon_stats stats;

	struct balloon_hint hint;

	struct balloon_req reqs[BALLOON_MAX_INFLIGHT];
	unsigned inflight;
	unsigned discarding; /* requests whose discards have not completed */
	uint64_t inflate_seq; /* last inflate request issued */

	/* Scratch for one chain (main loop only). */
	uint32_t *pfn_buf;
	struct balloon_range *range_buf;
	struct balloon_range *hp_buf; /* whole hugepages to discard */
	struct virtq_chain chain;

	struct balloon_metrics m;
};

/* 0 or -errno (-EINVAL for a bad config, -ENOMEM). discard may be NULL. */
int balloon_init(struct balloon *b, const struct balloon_config *cfg,
		 const struct discard *discard);
/* Requests still in flight are forgotten: drain the discard backend first. */
void balloon_destroy(struct balloon *b);
struct virtio_dev *balloon_virtio_dev(struct balloon *b);

/* The discard backend's done callback for this balloon's cookies. */
void balloon_discard_done(void *cookie, int err);

/* New target (num_pages = mib * 256); config interrupt when active.
 * -EINVAL above BALLOON_MAX_TARGET_MIB. */
int balloon_set_target_mib(struct balloon *b, uint32_t mib);
void balloon_get_info(struct balloon *b, struct balloon_info *info);
void balloon_get_metrics(struct balloon *b, struct balloon_metrics *m);

/* Hands the held stats buffer back so the guest refills it. 0, -ENODEV
 * (stats not negotiated or not active), -EAGAIN (guest has not returned a
 * buffer since the last tick). */
int balloon_stats_tick(struct balloon *b);
/* Records the interval the VMM polls at (0 stops polling); the VMM re-arms
 * its timer. */
void balloon_set_stats_interval(struct balloon *b, uint32_t interval_s);
uint32_t balloon_get_stats_interval(struct balloon *b);
/* 0, or -ENODATA before the first buffer was parsed. */
int balloon_get_stats(struct balloon *b, struct balloon_stats *out);

/* Discard inhibition is a counter of named reasons ("snapshot",
 * "operator", ...; devices/inhibit.h): while any is held, inflate, deflate
 * and report requests are acknowledged and accounted but nothing is
 * discarded (seed 002), and ballooned hugetlb pages are not tracked. When
 * the last reason goes, nothing acknowledged meanwhile is discarded after
 * the fact. Requests already waiting for the engine still complete;
 * balloon_discards_in_flight tells when none is left. Return inhibit_add's
 * and inhibit_remove's errors. */
int balloon_inhibit_add(struct balloon *b, const char *reason);
int balloon_inhibit_remove(struct balloon *b, const char *reason);
/* A copy of the reasons held now. */
void balloon_get_inhibit(struct balloon *b, struct inhibit *out);
unsigned balloon_discards_in_flight(struct balloon *b);

/* eventfd that is readable when work was left over (per-run cap, too many
 * requests in flight); call balloon_run_pending then. */
int balloon_pending_fd(const struct balloon *b);
void balloon_run_pending(struct balloon *b);
/* The VM ends: a reset waiting for discards returns (the guest will not
 * touch its pages again). Any thread. */
void balloon_stop(struct balloon *b);

/* Free page hinting (host side). All return 0 or -errno: -EOPNOTSUPP when
 * free_page_hinting was not configured, -ENODEV when the driver did not
 * negotiate FREE_PAGE_HINT or the device is not active.
 *
 * start: writes a new run id (>= 2; ids are never reused, which keeps the
 * spec's "no reuse before the driver's STOP" whatever the guest does),
 * forgets the previous run's hints and raises a config interrupt. A page
 * hint of this run means: free at some point after the id was written.
 * With acknowledge_on_stop (Firecracker's default), the guest's STOP ending
 * the run writes DONE at once; a snapshot that wants to use the hints must
 * pass false, keep the guest's pages held until it is written, then call
 * balloon_hint_done (the device must not modify hinted pages after DONE).
 * stop: writes STOP (the guest stops hinting but keeps its pages; hints of
 * the run stay recorded; no automatic DONE follows).
 * done: writes DONE (the guest may reuse every hinted page). */
int balloon_hint_start(struct balloon *b, bool acknowledge_on_stop,
		       uint32_t *cmd_id);
int balloon_hint_stop(struct balloon *b);
int balloon_hint_done(struct balloon *b);
/* Always fills st (zeros when hinting is off); -EOPNOTSUPP when it is not
 * configured. */
int balloon_hint_status(struct balloon *b, struct balloon_hint_status *st);
/* Was the 4 KiB page at gpa hinted in run cmd_id? 1 yes, 0 no, -ESTALE when
 * cmd_id is not the current or last run (or a reset voided it), -EFAULT
 * outside guest RAM. */
int balloon_hint_page(struct balloon *b, uint32_t cmd_id, uint64_t gpa);
/* Copies run cmd_id's bitmap of gmem region idx (bit i: page at
 * region->gpa + i * 4 KiB) into dst of nr_words u64; the region's page count
 * in *nr_pages. -ESTALE as above, -EINVAL for a bad idx, -ENOSPC when dst is
 * too small. */
int balloon_hint_bitmap(struct balloon *b, uint32_t cmd_id, unsigned idx,
			uint64_t *dst, size_t nr_words, uint64_t *nr_pages);

/* The queue index of a role under features, or -1 if it has none. */
int balloon_queue_index(uint64_t features, enum balloon_queue_role role);

/* ---- Snapshot state (balloon_state.c) ----
 * A plain-old-data image for the snapshot state file: fixed-width fields,
 * explicit zero padding, layout asserted (a change needs a new
 * SNAPFILE_VERSION). Not saved, by design:
 *  - requests in flight: balloon_save refuses with -EBUSY while any request
 *    waits for the discard engine or a deflate is parked behind one; the
 *    VMM drains the engine (balloon_discards_in_flight() == 0) first;
 *  - hint bitmaps: hints recorded before the snapshot are lost, which is
 *    safe (hints only ever let pages be skipped); a run in progress goes on
 *    with the same ids and records the hints that arrive after the restore
 *    (a dirty log for them must start before the vCPUs resume);
 *  - hugepage trackers (hugetlb backing): pages ballooned before the
 *    snapshot are not tracked, so a hugepage they partly fill is never
 *    discarded later (safe: memory kept, never lost);
 *  - discard inhibit reasons (host policy: the VMM re-adds its own), the
 *    deferred-work bits (every queue is looked at again after restore) and
 *    metrics, which start from zero.
 *
 * Restore order (virtio_mmio.h): balloon_state_check (optional, names a
 * config or feature mismatch before the transport would refuse it by bit
 * number), virtio_mmio_restore on the balloon's transport (it negotiates
 * the features and activates the device as at DRIVER_OK), then
 * balloon_restore, then the VMM arms the stats timer
 * from balloon_get_stats_interval(b) (0: none) and, on the main loop, calls
 * virtio_mmio_restored; balloon_pending_fd is readable after an activation,
 * so balloon_run_pending runs too. */
struct balloon_state_config {
	uint32_t amount_mib;
	uint32_t stats_polling_interval_s;
	uint8_t deflate_on_oom;
	uint8_t free_page_reporting;
	uint8_t free_page_hinting;
	uint8_t require_must_tell_host;
	uint8_t pinned; /* pin.ops set: guest memory locked (mem_lock) */
	uint8_t pad[3];
};

struct balloon_state {
	struct balloon_state_config cfg; /* the config it was made with */
	/* Config space. */
	uint32_t num_pages;
	uint32_t actual;
	uint32_t poison_val;
	uint32_t free_page_hint_cmd_id;
	uint64_t offered_features;  /* the device's bits (get_features) */
	uint64_t features;          /* negotiated */
	uint32_t stats_interval_s;  /* now, maybe changed since boot */
	uint8_t active;             /* activated (DRIVER_OK), not reset since */
	uint8_t broken;             /* waiting for a reset */
	uint8_t stats_held;         /* the device holds the stats buffer */
	uint8_t stats_valid;        /* a stats buffer was parsed */
	uint16_t stats_head;
	uint16_t pad0;
	uint32_t stats_present;
	uint64_t stats_val[BALLOON_STATS_NR];
	int64_t stats_update_sec;   /* CLOCK_REALTIME of the last buffer */
	uint32_t stats_update_nsec;
	/* Free page hinting (struct balloon_hint). */
	uint32_t hint_last_id;
	uint32_t hint_run_id;
	uint32_t hint_guest_run;
	uint32_t hint_guest_cmd;
	uint8_t hint_guest_cmd_valid;
	uint8_t hint_ack_on_stop;
	uint8_t hint_guest_stopped;
	uint8_t hint_state;         /* enum balloon_hint_state */
};

/* 0, or -EBUSY while requests are in flight (see above). */
int balloon_save(struct balloon *b, struct balloon_state *st);
/* The checks of balloon_restore that need no transport: flags, padding,
 * the config and offered features against b's, and the values the device
 * can reach. 0 or -EINVAL with err. Any thread; b unchanged. */
int balloon_state_check(struct balloon *b, const struct balloon_state *st,
			char *err, size_t errlen);
/* After virtio_mmio_restore of b's transport. Checked first, nothing changed
 * on refusal (-EINVAL, err names the field): the config b was made with
 * (amount_mib, deflate_on_oom, stats interval, free_page_reporting,
 * free_page_hinting, require_must_tell_host, pinned memory) and the
 * features it offers equal the saved ones; the negotiated features and
 * whether the device is active agree with the restored transport; each
 * value is one the device can reach (target a whole MiB, hint ids and
 * states of the cmd_id protocol, stats head inside the queue, buffers in
 * flight on each queue as the state accounts for them). Then the guest
 * reads the same num_pages, actual, poison_val and cmd id; a held stats
 * buffer stays held (the next balloon_stats_tick returns it); a hint run
 * goes on with its ids and state; the last statistics are kept. */
int balloon_restore(struct balloon *b, const struct balloon_state *st,
		    char *err, size_t errlen);

#endif
