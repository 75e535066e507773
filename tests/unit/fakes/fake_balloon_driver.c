#include "fake_balloon_driver.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TRANSPORT_FEATURES                                                     \
	(FBD_BIT(VIRTIO_F_VERSION_1) | FBD_BIT(VIRTIO_RING_F_EVENT_IDX) |      \
	 FBD_BIT(VIRTIO_RING_F_INDIRECT_DESC))
#define F_REPORTING 5
#define STAT_ENTRY 10

/* Linux 6.x update_balloon_stats() order: vm events, then meminfo. */
static const uint16_t linux_stat_order[BALLOON_STATS_NR] = {
	0 /* SWAP_IN */,      1 /* SWAP_OUT */,    2 /* MAJFLT */,
	3 /* MINFLT */,       10 /* OOM_KILL */,   11 /* ALLOC_STALL */,
	12 /* ASYNC_SCAN */,  13 /* DIRECT_SCAN */, 14 /* ASYNC_RECLAIM */,
	15 /* DIRECT_RECLAIM */, 8 /* HTLB_PGALLOC */, 9 /* HTLB_PGFAIL */,
	4 /* MEMFREE */,      5 /* MEMTOT */,      6 /* AVAIL */,
	7 /* CACHES */,
};

bool fbd_has(const struct fbd *f, unsigned feature)
{
	return f->features & FBD_BIT(feature);
}

/* Adds a freshly filled stats buffer and kicks (init_vqs and
 * stats_handle_request). */
static int stats_send(struct fbd *f)
{
	uint8_t buf[BALLOON_STATS_NR * STAT_ENTRY];
	for (unsigned i = 0; i < BALLOON_STATS_NR; i++) {
		uint16_t tag = htole16(linux_stat_order[i]);
		uint64_t val = htole64(f->stat_val[linux_stat_order[i]]);
		memcpy(buf + i * STAT_ENTRY, &tag, 2);
		memcpy(buf + i * STAT_ENTRY + 2, &val, 8);
	}
	if (!f->stats_gpa)
		f->stats_gpa = fake_driver_alloc(f->d, sizeof(buf), 8);
	uint64_t gpa = f->stats_gpa;
	if (!gpa)
		return -ENOMEM;
	memcpy(fake_driver_ptr(f->d, gpa, sizeof(buf)), buf, sizeof(buf));
	struct fake_driver_sg sg = {gpa, sizeof(buf)};
	int head = fake_driver_add(f->d, (unsigned)f->q[BALLOON_Q_STATS], &sg,
				   1, 0);
	if (head < 0)
		return head;
	f->stats_head = head;
	f->stats_sent++;
	fake_driver_kick(f->d, (unsigned)f->q[BALLOON_Q_STATS]);
	return 0;
}

int fbd_probe(struct fbd *f, struct fake_driver *d, const struct fbd_opts *o)
{
	memset(f, 0, sizeof(*f));
	f->d = d;
	f->o = *o;
	f->pending_role = -1;
	f->stats_head = -1;
	for (unsigned t = 0; t < BALLOON_STATS_NR; t++)
		f->stat_val[t] = 1000ull * (t + 1) + 7;

	/* virtio_dev_probe: offer & driver table, then validate(). */
	uint64_t feat = fake_driver_device_features(d) &
			(o->features | TRANSPORT_FEATURES);
	if (!o->init_on_free && !o->page_poisoning)
		feat &= ~FBD_BIT(VIRTIO_BALLOON_F_PAGE_POISON);
	else if (!(feat & FBD_BIT(VIRTIO_BALLOON_F_PAGE_POISON)))
		feat &= ~FBD_BIT(F_REPORTING);
	if (fake_driver_negotiate(d, feat) < 0)
		return -EIO;
	f->features = d->features;

	/* init_vqs: unnamed queues take no index (virtio_find_vqs). */
	static const int role_feature[BALLOON_Q_NR] = {
		-1, -1, VIRTIO_BALLOON_F_STATS_VQ,
		VIRTIO_BALLOON_F_FREE_PAGE_HINT, F_REPORTING,
	};
	unsigned idx = 0;
	for (int r = 0; r < BALLOON_Q_NR; r++) {
		f->q[r] = -1;
		if (role_feature[r] >= 0 && !fbd_has(f, (unsigned)role_feature[r]))
			continue;
		if (fake_driver_setup_queue(d, idx, o->queue_size) < 0)
			return -EIO;
		f->q[r] = (int)idx++;
	}
	if (f->q[BALLOON_Q_STATS] >= 0 && stats_send(f) < 0)
		return -EIO;
	if (fbd_has(f, VIRTIO_BALLOON_F_PAGE_POISON)) {
		uint32_t poison = o->init_on_free ? 0 : 0xaaaaaaaau;
		uint32_t le = htole32(poison);
		fake_driver_config_write(
			d, offsetof(struct virtio_balloon_config, poison_val),
			&le, sizeof(le));
	}
	fake_driver_set_driver_ok(d);
	return 0;
}

void fbd_destroy(struct fbd *f)
{
	free(f->pool_state);
	free(f->balloon);
	f->pool_state = NULL;
	f->balloon = NULL;
}

uint32_t fbd_num_pages(struct fbd *f)
{
	uint32_t v;
	fake_driver_config_read(
		f->d, offsetof(struct virtio_balloon_config, num_pages), &v,
		sizeof(v));
	return le32toh(v);
}

uint32_t fbd_actual(struct fbd *f)
{
	uint32_t v;
	fake_driver_config_read(f->d,
				offsetof(struct virtio_balloon_config, actual),
				&v, sizeof(v));
	return le32toh(v);
}

void fbd_write_actual(struct fbd *f, uint32_t actual)
{
	uint32_t v = htole32(actual);
	fake_driver_config_write(f->d,
				 offsetof(struct virtio_balloon_config, actual),
				 &v, sizeof(v));
}

uint64_t fbd_put_pfns(struct fbd *f, const uint32_t *pfns, unsigned n)
{
	uint64_t len = (uint64_t)n * 4;
	uint64_t gpa = fake_driver_alloc(f->d, len ? len : 4, 4);
	if (!gpa)
		return 0;
	uint32_t *p = fake_driver_ptr(f->d, gpa, len ? len : 4);
	for (unsigned i = 0; i < n; i++)
		p[i] = htole32(pfns[i]);
	return gpa;
}

int fbd_send_raw(struct fbd *f, enum balloon_queue_role role,
		 const struct fake_driver_sg *sg, unsigned n)
{
	if (f->q[role] < 0)
		return -ENOENT;
	int head = fake_driver_add(f->d, (unsigned)f->q[role], sg, n, 0);
	if (head >= 0)
		fake_driver_kick(f->d, (unsigned)f->q[role]);
	return head;
}

int fbd_send_pfns(struct fbd *f, enum balloon_queue_role role,
		  const uint32_t *pfns, unsigned n)
{
	uint64_t gpa = fbd_put_pfns(f, pfns, n);
	if (!gpa)
		return -ENOMEM;
	struct fake_driver_sg sg = {gpa, n * 4};
	return fbd_send_raw(f, role, &sg, 1);
}

int fbd_get_used(struct fbd *f, enum balloon_queue_role role, uint32_t *len)
{
	uint32_t dummy;
	if (f->q[role] < 0)
		return -ENOENT;
	return fake_driver_get_used(f->d, (unsigned)f->q[role],
				    len ? len : &dummy);
}

int fbd_report(struct fbd *f, const struct fake_driver_sg *ranges, unsigned n)
{
	int q = f->q[BALLOON_Q_REPORTING];
	if (q < 0)
		return -ENOENT;
	int head = fake_driver_add(f->d, (unsigned)q, ranges, 0, n);
	if (head >= 0)
		fake_driver_kick(f->d, (unsigned)q);
	return head;
}

void fbd_set_pool(struct fbd *f, uint32_t first_pfn, uint32_t count)
{
	free(f->pool_state);
	free(f->balloon);
	f->pool_first = first_pfn;
	f->pool_count = count;
	f->pool_state = calloc(count ? count : 1, 1);
	f->balloon = calloc(count ? count : 1, sizeof(*f->balloon));
	f->nr_balloon = 0;
}

int64_t fbd_towards_target(struct fbd *f)
{
	return (int64_t)fbd_num_pages(f) - (int64_t)f->nr_balloon;
}

/* tell_host(): the pending PFNs in the driver's one array. */
static int tell_host(struct fbd *f, enum balloon_queue_role role)
{
	if (!f->pfns_gpa)
		f->pfns_gpa = fake_driver_alloc(f->d, FBD_PFNS_MAX * 4, 4);
	if (!f->pfns_gpa)
		return -ENOMEM;
	uint32_t *p = fake_driver_ptr(f->d, f->pfns_gpa, FBD_PFNS_MAX * 4);
	for (unsigned i = 0; i < f->nr_pending; i++)
		p[i] = htole32(f->pending[i]);
	struct fake_driver_sg sg = {f->pfns_gpa, f->nr_pending * 4};
	return fbd_send_raw(f, role, &sg, 1);
}

unsigned fbd_fill(struct fbd *f, unsigned num)
{
	if (f->pending_role >= 0)
		return 0;
	num = num < FBD_PFNS_MAX ? num : FBD_PFNS_MAX;
	f->nr_pending = 0;
	/* The buddy allocator hands out high pages first here: descending
	 * PFNs, as the device must sort anyway. */
	for (uint32_t i = f->pool_count; i-- > 0 && f->nr_pending < num;) {
		if (f->pool_state[i])
			continue;
		f->pool_state[i] = 2;
		f->pending[f->nr_pending++] = f->pool_first + i;
	}
	if (f->nr_pending == 0)
		return 0;
	if (tell_host(f, BALLOON_Q_INFLATE) < 0) {
		for (unsigned i = 0; i < f->nr_pending; i++)
			f->pool_state[f->pending[i] - f->pool_first] = 0;
		return 0;
	}
	f->pending_role = BALLOON_Q_INFLATE;
	return f->nr_pending;
}

unsigned fbd_leak(struct fbd *f, unsigned num)
{
	if (f->pending_role >= 0)
		return 0;
	num = num < FBD_PFNS_MAX ? num : FBD_PFNS_MAX;
	f->nr_pending = 0;
	while (f->nr_pending < num && f->nr_balloon > 0)
		f->pending[f->nr_pending++] = f->balloon[--f->nr_balloon];
	if (f->nr_pending == 0)
		return 0;
	if (tell_host(f, BALLOON_Q_DEFLATE) < 0)
		return 0;
	f->pending_role = BALLOON_Q_DEFLATE;
	return f->nr_pending;
}

int fbd_wait_ack(struct fbd *f)
{
	if (f->pending_role < 0)
		return 0;
	if (fbd_get_used(f, f->pending_role, NULL) < 0)
		return -EAGAIN;
	for (unsigned i = 0; i < f->nr_pending; i++) {
		uint32_t idx = f->pending[i] - f->pool_first;
		if (f->pending_role == BALLOON_Q_INFLATE) {
			f->pool_state[idx] = 1;
			f->balloon[f->nr_balloon++] = f->pending[i];
		} else {
			f->pool_state[idx] = 0;
		}
	}
	f->pending_role = -1;
	f->nr_pending = 0;
	fbd_write_actual(f, f->nr_balloon);
	return 0;
}

void fbd_set_stat(struct fbd *f, unsigned tag, uint64_t val)
{
	if (tag < BALLOON_STATS_NR)
		f->stat_val[tag] = val;
}

int fbd_stats_request(struct fbd *f)
{
	if (f->q[BALLOON_Q_STATS] < 0)
		return -ENOENT;
	if (fbd_get_used(f, BALLOON_Q_STATS, NULL) < 0)
		return -EAGAIN;
	f->stats_head = -1;
	return stats_send(f);
}

/* ---- free page hinting ---- */

uint32_t fbd_hint_cmd_id(struct fbd *f)
{
	uint32_t v;
	fake_driver_config_read(
		f->d,
		offsetof(struct virtio_balloon_config, free_page_hint_cmd_id),
		&v, sizeof(v));
	return le32toh(v);
}

static int hint_put_cmd(struct fbd *f, uint64_t *gpa, uint32_t cmd)
{
	int q = f->q[BALLOON_Q_FREE_PAGE];
	if (q < 0)
		return -ENOENT;
	if (!*gpa)
		*gpa = fake_driver_alloc(f->d, 4, 4);
	if (!*gpa)
		return -ENOMEM;
	uint32_t le = htole32(cmd);
	memcpy(fake_driver_ptr(f->d, *gpa, 4), &le, 4);
	struct fake_driver_sg sg = {*gpa, 4};
	int head = fake_driver_add(f->d, (unsigned)q, &sg, 1, 0);
	if (head >= 0)
		fake_driver_kick(f->d, (unsigned)q);
	return head;
}

int fbd_hint_config_changed(struct fbd *f)
{
	int q = f->q[BALLOON_Q_FREE_PAGE];
	if (q < 0)
		return -ENOENT;
	uint32_t cmd = fbd_hint_cmd_id(f);
	if (cmd == VIRTIO_BALLOON_CMD_ID_DONE) {
		f->hint_released += f->hint_held;
		f->hint_held = 0;
		return 0;
	}
	if (cmd == VIRTIO_BALLOON_CMD_ID_STOP || cmd == f->hint_active)
		return 0;
	/* send_cmd_id_start: detach used buffers, then the id. */
	uint32_t len;
	while (fake_driver_get_used(f->d, (unsigned)q, &len) >= 0)
		;
	f->hint_active = cmd;
	int head = hint_put_cmd(f, &f->hint_start_gpa, cmd);
	return head < 0 ? head : 1;
}

int fbd_hint_blocks(struct fbd *f, const uint64_t *gpas, unsigned n)
{
	int q = f->q[BALLOON_Q_FREE_PAGE];
	if (q < 0)
		return -ENOENT;
	unsigned sent = 0;
	for (; sent < n; sent++) {
		if (fbd_hint_cmd_id(f) != f->hint_active)
			break;
		struct fake_driver_sg sg = {gpas[sent],
					    (uint32_t)FBD_HINT_BLOCK_BYTES};
		int head = fake_driver_add(f->d, (unsigned)q, &sg, 0, 1);
		if (head < 0)
			return sent ? (int)sent : head;
		fake_driver_kick(f->d, (unsigned)q);
		f->hint_held++;
	}
	return (int)sent;
}

int fbd_hint_stop(struct fbd *f)
{
	return hint_put_cmd(f, &f->hint_stop_gpa, VIRTIO_BALLOON_CMD_ID_STOP);
}

int fbd_hint_send_cmd(struct fbd *f, uint32_t cmd)
{
	uint64_t gpa = 0;
	return hint_put_cmd(f, &gpa, cmd);
}

int fbd_hint_send_ranges(struct fbd *f, const struct fake_driver_sg *r,
			 unsigned n)
{
	int q = f->q[BALLOON_Q_FREE_PAGE];
	if (q < 0)
		return -ENOENT;
	int head = fake_driver_add(f->d, (unsigned)q, r, 0, n);
	if (head >= 0)
		fake_driver_kick(f->d, (unsigned)q);
	return head;
}

/* ---- test bed ---- */

struct fbd_bed *fbd_bed_new(const struct balloon_config *cfg,
			    const struct fbd_layout *layout)
{
	return fbd_bed_new_with(cfg, layout, NULL);
}

struct fbd_bed *fbd_bed_new_with(const struct balloon_config *cfg,
				 const struct fbd_layout *layout,
				 const struct discard *discard)
{
	struct fbd_layout l = layout ? *layout : (struct fbd_layout){0};
	if (!l.ram_bytes)
		l.ram_bytes = 16ULL << 20;
	struct fbd_bed *bed = calloc(1, sizeof(*bed));
	if (!bed)
		return NULL;
	recording_discard_init(&bed->rd, balloon_discard_done);
	if (balloon_init(&bed->b, cfg, discard ? discard : &bed->rd.iface))
		goto err_bed;
	bed->tb = virtio_testbed_new(balloon_virtio_dev(&bed->b), l.ram_bytes);
	if (!bed->tb)
		goto err_balloon;
	if (l.ram2_bytes) {
		/* Regions are fixed before the guest runs: add it now. */
		bed->ram2 = aligned_alloc(4096, l.ram2_bytes);
		if (!bed->ram2)
			goto err_tb;
		memset(bed->ram2, 0, l.ram2_bytes);
		struct gmem *mem = &bed->tb->mem;
		mem->regions[1] = (struct gmem_region){
			.gpa = l.ram2_gpa, .len = l.ram2_bytes,
			.hva = bed->ram2, .fd = -2,
			.backend = GMEM_ANON_PRIVATE,
		};
		mem->nr_regions = 2;
		mem->total_bytes += l.ram2_bytes;
	}
	/* Keep driver allocations below FBD_HEAP_END. */
	fake_driver_init(&bed->tb->drv, &bed->tb->bus, VIRTIO_TESTBED_MMIO_BASE,
			 &bed->tb->mem, FBD_HEAP_GPA,
			 FBD_HEAP_END - FBD_HEAP_GPA);
	return bed;
err_tb:
	virtio_testbed_free(bed->tb);
err_balloon:
	balloon_destroy(&bed->b);
err_bed:
	recording_discard_destroy(&bed->rd);
	free(bed);
	return NULL;
}

void fbd_bed_free(struct fbd_bed *bed)
{
	if (!bed)
		return;
	/* Completions take the transport's lock: run them while it lives. */
	recording_discard_complete_all(&bed->rd, 0);
	virtio_testbed_free(bed->tb);
	balloon_destroy(&bed->b);
	recording_discard_destroy(&bed->rd);
	fbd_destroy(&bed->drv);
	free(bed->ram2);
	free(bed);
}

/* The transport's wait, counted: a reset waiting for its discards goes
 * through it. */
static int (*transport_wait)(void *t, pthread_cond_t *cond, unsigned ms);
static unsigned reset_waits; /* under the transport's lock */

static int counting_wait(void *t, pthread_cond_t *cond, unsigned ms)
{
	reset_waits++;
	return transport_wait(t, cond, ms);
}

/* The main loop's part: completes what the engine has, under the
 * transport's lock, once the reset waits for it (or after 1 s, for a
 * reset with nothing to wait for): completing before the reset began
 * would test an ordinary completion instead. */
static void *complete_pending(void *arg)
{
	struct fbd_bed *b = arg;
	pthread_mutex_lock(&b->tb->t.lock);
	for (int i = 0; i < 1000 && !reset_waits; i++) {
		pthread_mutex_unlock(&b->tb->t.lock);
		usleep(1000);
		pthread_mutex_lock(&b->tb->t.lock);
	}
	recording_discard_complete_all(&b->rd, 0);
	pthread_mutex_unlock(&b->tb->t.lock);
	return NULL;
}

void fbd_bed_reset_completing_discards(struct fbd_bed *b)
{
	pthread_t th;
	reset_waits = 0;
	transport_wait = b->tb->t.host.wait;
	b->tb->t.host.wait = counting_wait;
	if (pthread_create(&th, NULL, complete_pending, b) == 0) {
		fake_driver_reset(&b->tb->drv);
		pthread_join(th, NULL);
	}
	b->tb->t.host.wait = transport_wait;
}
