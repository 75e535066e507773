/* fbd: a simulated Linux virtio_balloon driver on top of fake_driver (it
 * reaches the device only through MMIO and split rings in fake guest
 * memory). It follows drivers/virtio/virtio_balloon.c: virtballoon_validate's
 * poison rule, queues numbered compactly by the negotiated features, a stats
 * buffer filled and kicked before DRIVER_OK, poison_val written at probe,
 * PFN arrays of at most 256 little-endian u32 per request, reports as
 * device-writable scatter lists, actual written after each ack, free page
 * hint runs (cmd id out buffer, one input buffer per free block, STOP).
 *
 * Also a test bed (fbd_bed): a balloon behind virtio-mmio on fake RAM with
 * an optional second region, and a recording discard backend.
 * Threads: one. Kicks are processed inline by the transport. */
#ifndef FAKE_BALLOON_DRIVER_H
#define FAKE_BALLOON_DRIVER_H

#include "fake_driver.h"
#include "recording_discard.h"
#include "virtio_testbed.h"

#include <devices/balloon.h>

#include <stdbool.h>
#include <stdint.h>

#define FBD_BIT(f) (1ULL << (f))
/* Linux's feature table: MUST_TELL_HOST, STATS_VQ, DEFLATE_ON_OOM,
 * FREE_PAGE_HINT, PAGE_POISON, REPORTING. */
#define FBD_LINUX_FEATURES 0x3fULL
#define FBD_PFNS_MAX 256 /* VIRTIO_BALLOON_ARRAY_PFNS_MAX */
#define FBD_PAGE 4096ULL
/* VIRTIO_BALLOON_HINT_BLOCK_ORDER on x86 (MAX_PAGE_ORDER 10): 4 MiB. */
#define FBD_HINT_BLOCK_BYTES (4ULL << 20)

struct fbd_opts {
	uint64_t features;   /* balloon bits the driver supports */
	bool page_poisoning; /* page_poison=1: poison 0xaa */
	bool init_on_free;   /* init_on_free=1: poison 0 */
	uint16_t queue_size; /* 0: QueueNumMax */
};

struct fbd {
	struct fake_driver *d;
	struct fbd_opts o;
	uint64_t features; /* negotiated balloon + transport bits */
	int q[BALLOON_Q_NR]; /* queue index per role, -1 if absent */

	/* Pages the driver may give to the balloon (a guest's free memory). */
	uint32_t pool_first, pool_count;
	uint8_t *pool_state; /* 0 free, 1 in balloon, 2 in flight */
	uint32_t *balloon;   /* ballooned PFNs, most recent last */
	unsigned nr_balloon;
	uint32_t pending[FBD_PFNS_MAX];
	unsigned nr_pending;
	int pending_role; /* -1 when no request waits for its ack */

	/* One PFN array and one stats array, reused as Linux does. */
	uint64_t pfns_gpa, stats_gpa;

	uint64_t stat_val[BALLOON_STATS_NR];
	int stats_head; /* buffer the device holds, -1 none */
	unsigned stats_sent;

	/* Free page hinting (report_free_page_func). */
	uint32_t hint_active; /* cmd_id_active: kept after STOP, as Linux */
	uint64_t hint_start_gpa, hint_stop_gpa; /* the two 4-byte buffers */
	unsigned hint_held;     /* blocks hinted, not yet given back */
	unsigned hint_released; /* blocks given back on DONE */
};

/* Probes like virtballoon_probe (feature negotiation with validate, queue
 * setup, stats priming, poison_val, DRIVER_OK). 0 or -EIO when the device
 * refused FEATURES_OK. */
int fbd_probe(struct fbd *f, struct fake_driver *d, const struct fbd_opts *o);
void fbd_destroy(struct fbd *f);
bool fbd_has(const struct fbd *f, unsigned feature);

/* Config space (little endian). */
uint32_t fbd_num_pages(struct fbd *f);
uint32_t fbd_actual(struct fbd *f);
void fbd_write_actual(struct fbd *f, uint32_t actual);

/* One request on the inflate or deflate queue with these PFNs (any count:
 * tests may exceed 256); kicks. Head, or negative. */
int fbd_send_pfns(struct fbd *f, enum balloon_queue_role role,
		  const uint32_t *pfns, unsigned n);
/* A request made of arbitrary device-readable segments. */
int fbd_send_raw(struct fbd *f, enum balloon_queue_role role,
		 const struct fake_driver_sg *sg, unsigned n);
/* Copies PFNs (LE) into a fresh guest buffer; returns its gpa. */
uint64_t fbd_put_pfns(struct fbd *f, const uint32_t *pfns, unsigned n);
/* Next used head on a role's queue; -EAGAIN when none. */
int fbd_get_used(struct fbd *f, enum balloon_queue_role role, uint32_t *len);

/* Free page reporting: one scatter list of device-writable ranges, as
 * virtballoon_free_page_report; kicks. Head or negative. */
int fbd_report(struct fbd *f, const struct fake_driver_sg *ranges, unsigned n);

/* Linux's balloon loop, one step at a time. */
void fbd_set_pool(struct fbd *f, uint32_t first_pfn, uint32_t count);
int64_t fbd_towards_target(struct fbd *f);
/* fill_balloon/leak_balloon: sends up to min(num, 256) pages; returns how
 * many were sent (0: none). The request stays pending until fbd_wait_ack. */
unsigned fbd_fill(struct fbd *f, unsigned num);
unsigned fbd_leak(struct fbd *f, unsigned num);
/* 0 when the pending request was used (then actual is written, as
 * update_balloon_size), -EAGAIN when not yet. */
int fbd_wait_ack(struct fbd *f);

/* Stats: the values the driver reports (all 16 Linux tags, Linux's order).
 * fbd_stats_request is stats_handle_request: if the device used the
 * buffer, refill it and kick (0), else -EAGAIN. */
void fbd_set_stat(struct fbd *f, unsigned tag, uint64_t val);
int fbd_stats_request(struct fbd *f);

/* Free page hinting, one step of Linux's driver at a time. */
uint32_t fbd_hint_cmd_id(struct fbd *f);
/* virtballoon_changed + report_free_page_func: DONE gives every held block
 * back (0); a new run id (not STOP, not the active one) detaches used
 * buffers and sends the id as a 4-byte output buffer (1); else 0. */
int fbd_hint_config_changed(struct fbd *f);
/* get_free_page_and_send for each block (FBD_HINT_BLOCK_BYTES at gpas[i]),
 * one input buffer each, kicked; stops once the config's cmd id is no
 * longer the active one. Blocks sent, or negative. */
int fbd_hint_blocks(struct fbd *f, const uint64_t *gpas, unsigned n);
/* send_cmd_id_stop. Head or negative. */
int fbd_hint_stop(struct fbd *f);
/* Hostile/raw: a 4-byte output buffer holding cmd (any value), and a chain
 * of device-writable ranges; both kick. Head or negative. */
int fbd_hint_send_cmd(struct fbd *f, uint32_t cmd);
int fbd_hint_send_ranges(struct fbd *f, const struct fake_driver_sg *r,
			 unsigned n);

/* ---- test bed ---- */

struct fbd_layout {
	uint64_t ram_bytes;   /* region 0 at GPA 0; 0 means 16 MiB */
	uint64_t ram2_gpa;    /* second region, 0 for none */
	uint64_t ram2_bytes;
};

/* Driver rings and buffers live in [FBD_HEAP_GPA, FBD_HEAP_END); pages
 * above FBD_HEAP_END are free for ballooning. */
#define FBD_HEAP_GPA 0x10000ULL
#define FBD_HEAP_END 0x100000ULL

struct fbd_bed {
	struct balloon b;
	struct recording_discard rd;
	struct virtio_testbed *tb;
	uint8_t *ram2;
	struct fbd drv;
};

/* NULL on failure. layout may be NULL (16 MiB, one region). The balloon
 * discards through bed->rd. */
struct fbd_bed *fbd_bed_new(const struct balloon_config *cfg,
			    const struct fbd_layout *layout);
/* Same with another discard backend (whose done is balloon_discard_done);
 * drain it before fbd_bed_free. */
struct fbd_bed *fbd_bed_new_with(const struct balloon_config *cfg,
				 const struct fbd_layout *layout,
				 const struct discard *discard);
/* Completes what is still pending, then frees everything. */
void fbd_bed_free(struct fbd_bed *bed);
/* A driver reset with discards in flight, as a vCPU makes it: the reset
 * returns only once they are done, so another thread completes them, as
 * the main loop would, once the reset waits for them. */
void fbd_bed_reset_completing_discards(struct fbd_bed *bed);

#endif
