/* The balloon over guest RAM backends: partially ballooned
 * hugetlb pages, pinned memory (unpin before discard, pin again before the
 * deflate is used), and the mem_lock wiring that refuses a driver without
 * MUST_TELL_HOST. Driven by the simulated Linux driver. */
#include "fakes/fake_balloon_driver.h"
#include "vm/vm.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define F(b) FBD_BIT(b)
#define F_REPORTING 5
#define MIB (1ULL << 20)
#define HUGE (2 * MIB)
#define PFN(gpa) ((uint32_t)((gpa) >> 12))

static struct fbd_bed *bed;
static struct fbd *drv;

static void teardown(void)
{
	fbd_bed_free(bed);
	bed = NULL;
}

TestSuite(balloon_backends, .fini = teardown);

static const struct fbd_opts linux_opts = {.features = FBD_LINUX_FEATURES};

/* A bed whose RAM region has the given backend; probed with o. */
static void up_backend(const struct balloon_config *cfg,
		       enum gmem_backend backend, const struct fbd_opts *o)
{
	bed = fbd_bed_new(cfg, NULL);
	cr_assert(bed);
	drv = &bed->drv;
	/* Activation reads the backends; the fake RAM stays plain memory. */
	bed->tb->mem.regions[0].backend = backend;
	cr_assert_eq(fbd_probe(drv, &bed->tb->drv, o), 0);
}

static struct balloon_metrics metrics(void)
{
	struct balloon_metrics m;
	balloon_get_metrics(&bed->b, &m);
	return m;
}

/* Inflates PFNs [first, first + n) in Linux-sized requests, each used. */
static void inflate_pages(uint32_t first, unsigned n)
{
	uint32_t pfns[FBD_PFNS_MAX];
	while (n) {
		unsigned k = n < FBD_PFNS_MAX ? n : FBD_PFNS_MAX;
		for (unsigned i = 0; i < k; i++)
			pfns[i] = first + i;
		int head = fbd_send_pfns(drv, BALLOON_Q_INFLATE, pfns, k);
		cr_assert_geq(head, 0);
		recording_discard_complete_all(&bed->rd, 0);
		cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), head);
		first += k;
		n -= k;
	}
}

static void deflate_page(uint32_t pfn)
{
	int head = fbd_send_pfns(drv, BALLOON_Q_DEFLATE, &pfn, 1);
	cr_assert_geq(head, 0);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_DEFLATE, NULL), head);
}

/* ---- hugetlb: whole hugepages only ---- */

Test(balloon_backends, hugetlb_discards_a_hugepage_once_all_its_pages_are_in)
{
	struct balloon_config cfg = {0};
	up_backend(&cfg, GMEM_HUGETLB_2M, &linux_opts);
	/* Hugepage [2 MiB, 4 MiB): all but its first page, then the rest. */
	inflate_pages(PFN(HUGE) + 1, 511);
	cr_assert_eq(bed->rd.nr, 0, "a partial hugepage is kept");
	inflate_pages(PFN(HUGE), 1);
	cr_assert_eq(bed->rd.nr, 1);
	cr_assert_eq(bed->rd.ranges[0].gpa, HUGE);
	cr_assert_eq(bed->rd.ranges[0].len, HUGE);
	cr_assert_eq(metrics().hugepages_discarded, 1);
	cr_assert_eq(metrics().inflated_pages, 512);

	/* Deflating one page cancels it; refilling discards it again. */
	deflate_page(PFN(HUGE) + 100);
	inflate_pages(PFN(HUGE) + 100, 1);
	cr_assert_eq(bed->rd.nr, 2);
	cr_assert_eq(bed->rd.ranges[1].gpa, HUGE);
	cr_assert_eq(bed->rd.ranges[1].len, HUGE);
	/* Inflating a page already in changes nothing. */
	inflate_pages(PFN(HUGE) + 5, 1);
	cr_assert_eq(bed->rd.nr, 2);
}

Test(balloon_backends, anonymous_memory_discards_every_page)
{
	struct balloon_config cfg = {0};
	up_backend(&cfg, GMEM_ANON_PRIVATE, &linux_opts);
	inflate_pages(PFN(HUGE) + 1, 1);
	cr_assert_eq(bed->rd.nr, 1);
	cr_assert_eq(bed->rd.ranges[0].len, 4096);
	cr_assert_eq(metrics().hugepages_discarded, 0);
}

/* A silently deflating driver may be using a page it ballooned earlier:
 * completing its hugepage later would punch memory in use (seed 000). */
Test(balloon_backends, hugetlb_keeps_pages_of_a_driver_without_must_tell_host)
{
	struct balloon_config cfg = {0};
	struct fbd_opts o = {.features = FBD_LINUX_FEATURES &
					 ~F(VIRTIO_BALLOON_F_MUST_TELL_HOST)};
	up_backend(&cfg, GMEM_HUGETLB_2M, &o);
	inflate_pages(PFN(HUGE), 512);
	cr_assert_eq(bed->rd.nr, 0);
	cr_assert_eq(metrics().silent_hugepage_bytes, HUGE);
	cr_assert_eq(metrics().inflated_pages, 512);
}

/* Pages acknowledged while inhibited are not tracked, so lifting the
 * inhibit never discards them after the fact. */
Test(balloon_backends, hugetlb_pages_inflated_while_inhibited_are_not_replayed)
{
	struct balloon_config cfg = {0};
	up_backend(&cfg, GMEM_HUGETLB_2M, &linux_opts);
	cr_assert_eq(balloon_inhibit_add(&bed->b, "snapshot"), 0);
	inflate_pages(PFN(HUGE), 256);
	cr_assert_eq(balloon_inhibit_remove(&bed->b, "snapshot"), 0);
	inflate_pages(PFN(HUGE) + 256, 256);
	cr_assert_eq(bed->rd.nr, 0);
	cr_assert_eq(metrics().inhibited_bytes, MIB);
	/* A whole hugepage inflated now is discarded. */
	inflate_pages(PFN(2 * HUGE), 512);
	cr_assert_eq(bed->rd.nr, 1);
	cr_assert_eq(bed->rd.ranges[0].gpa, 2 * HUGE);
}

/* ---- pinned memory ---- */

struct pin_call {
	bool pin;
	uint64_t gpa, len;
	bool deflate_used_before; /* a deflate used entry was visible */
	unsigned discards_queued; /* ranges queued at the time */
};

static struct pin_call calls[64];
static unsigned nr_calls;
static int pin_err;

static void note(bool pin, const struct gmem_region *r, uint64_t off,
		 uint64_t len)
{
	cr_assert_lt(nr_calls, 64);
	struct pin_call *c = &calls[nr_calls++];
	*c = (struct pin_call){.pin = pin, .gpa = r->gpa + off, .len = len,
			       .discards_queued = bed->rd.nr};
	/* The driver's view of the deflate queue right now. */
	if (drv->q[BALLOON_Q_DEFLATE] >= 0 && drv->features)
		c->deflate_used_before =
			fbd_get_used(drv, BALLOON_Q_DEFLATE, NULL) >= 0;
}

static int fake_pin(void *be, const struct gmem_region *r, uint64_t off,
		    uint64_t len)
{
	(void)be;
	note(true, r, off, len);
	return pin_err;
}

static int fake_unpin(void *be, const struct gmem_region *r, uint64_t off,
		      uint64_t len)
{
	(void)be;
	note(false, r, off, len);
	return pin_err;
}

static const struct mem_pin_ops fake_pin_ops = {fake_pin, fake_unpin};

static void up_pinned(enum gmem_backend backend)
{
	struct balloon_config cfg = {
		.require_must_tell_host = true,
		.free_page_reporting = true,
		.pin = {.ops = &fake_pin_ops},
	};
	nr_calls = 0;
	pin_err = 0;
	up_backend(&cfg, backend, &linux_opts);
}

Test(balloon_backends, pinned_inflate_unpins_before_queueing_the_discard)
{
	up_pinned(GMEM_ANON_PRIVATE);
	inflate_pages(PFN(4 * MIB), 3);
	cr_assert_eq(nr_calls, 1);
	cr_assert_not(calls[0].pin);
	cr_assert_eq(calls[0].gpa, 4 * MIB);
	cr_assert_eq(calls[0].len, 3 * 4096);
	cr_assert_eq(calls[0].discards_queued, 0, "unpinned before queued");
	cr_assert_eq(bed->rd.nr, 1);
}

Test(balloon_backends, pinned_deflate_is_used_only_after_the_pin)
{
	up_pinned(GMEM_ANON_PRIVATE);
	inflate_pages(PFN(4 * MIB), 2);
	nr_calls = 0;
	uint32_t pfns[] = {PFN(4 * MIB), PFN(4 * MIB) + 1};
	int head = fbd_send_pfns(drv, BALLOON_Q_DEFLATE, pfns, 2);
	cr_assert_geq(head, 0);
	cr_assert_eq(nr_calls, 1);
	cr_assert(calls[0].pin);
	cr_assert_eq(calls[0].gpa, 4 * MIB);
	cr_assert_eq(calls[0].len, 2 * 4096);
	cr_assert_not(calls[0].deflate_used_before,
		      "the guest saw the deflate before its pages were pinned");
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_DEFLATE, NULL), head);
	cr_assert_eq(metrics().repinned_bytes, 2 * 4096);
}

Test(balloon_backends, pinned_failures_keep_the_range_and_are_counted)
{
	up_pinned(GMEM_ANON_PRIVATE);
	pin_err = -ENOMEM;
	inflate_pages(PFN(4 * MIB), 1);
	cr_assert_eq(bed->rd.nr, 0, "a locked range cannot be discarded");
	deflate_page(PFN(4 * MIB));
	cr_assert_eq(metrics().pin_errors, 2);
}

Test(balloon_backends, pinned_hugetlb_unpins_and_repins_whole_hugepages)
{
	up_pinned(GMEM_HUGETLB_2M);
	inflate_pages(PFN(HUGE), 300);
	cr_assert_eq(nr_calls, 0, "nothing discarded, nothing unpinned");
	inflate_pages(PFN(HUGE) + 300, 212);
	cr_assert_eq(nr_calls, 1);
	cr_assert_not(calls[0].pin);
	cr_assert_eq(calls[0].gpa, HUGE);
	cr_assert_eq(calls[0].len, HUGE);
	deflate_page(PFN(HUGE) + 7);
	cr_assert_eq(nr_calls, 2);
	cr_assert(calls[1].pin);
	cr_assert_eq(calls[1].gpa, HUGE);
	cr_assert_eq(calls[1].len, HUGE);
	cr_assert_not(calls[1].deflate_used_before);
	/* Its hugepage is no longer discarded: nothing to pin again. */
	deflate_page(PFN(HUGE) + 8);
	cr_assert_eq(nr_calls, 2);
}

Test(balloon_backends, pinned_reset_pins_all_guest_ram_again)
{
	up_pinned(GMEM_ANON_PRIVATE);
	inflate_pages(PFN(4 * MIB), 1);
	nr_calls = 0;
	fake_driver_reset(&bed->tb->drv);
	cr_assert_eq(nr_calls, 1);
	cr_assert(calls[0].pin);
	cr_assert_eq(calls[0].gpa, 0);
	cr_assert_eq(calls[0].len, bed->tb->mem.regions[0].len);
}

Test(balloon_backends, pinned_memory_is_not_offered_page_reporting)
{
	up_pinned(GMEM_ANON_PRIVATE);
	uint64_t offer = fake_driver_device_features(&bed->tb->drv);
	cr_assert_not(offer & F(F_REPORTING));
	cr_assert(offer & F(VIRTIO_BALLOON_F_MUST_TELL_HOST));
}

/* ---- mem_lock wiring (vm_balloon_config, as vm_add_balloon uses it) ---- */

static void probe_with_mem_lock(bool mem_lock, const struct fbd_opts *o,
				int want)
{
	struct vm_config vc;
	struct balloon_config bc;
	config_defaults(&vc);
	vc.mem_lock = mem_lock;
	vc.balloon.enabled = true;
	vm_balloon_config(&vc, &bc);
	cr_assert_eq(bc.require_must_tell_host, mem_lock);
	cr_assert_eq(bc.pin.ops != NULL, mem_lock);
	bed = fbd_bed_new(&bc, NULL);
	cr_assert(bed);
	cr_assert_eq(fbd_probe(&bed->drv, &bed->tb->drv, o), want);
	bool ok =
		fake_driver_status(&bed->tb->drv) & VIRTIO_CONFIG_S_FEATURES_OK;
	cr_assert_eq(ok, want == 0);
	config_free(&vc);
}

Test(balloon_backends, mem_lock_refuses_a_driver_without_must_tell_host)
{
	struct fbd_opts silent = {.features = FBD_LINUX_FEATURES &
					      ~F(VIRTIO_BALLOON_F_MUST_TELL_HOST)};
	probe_with_mem_lock(true, &silent, -EIO);
}

Test(balloon_backends, without_mem_lock_a_silent_driver_is_accepted)
{
	struct fbd_opts silent = {.features = FBD_LINUX_FEATURES &
					      ~F(VIRTIO_BALLOON_F_MUST_TELL_HOST)};
	probe_with_mem_lock(false, &silent, 0);
}

Test(balloon_backends, mem_lock_accepts_the_linux_driver)
{
	probe_with_mem_lock(true, &linux_opts, 0);
}

/* Issue 12: a guest that retries FEATURES_OK in a loop must not flood the
 * host's log; stderr is captured while it tries 100 times. */
Test(balloon_backends, refused_features_ok_in_a_loop_is_logged_rate_limited)
{
	struct fbd_opts silent = {.features = FBD_LINUX_FEATURES &
					      ~F(VIRTIO_BALLOON_F_MUST_TELL_HOST)};
	struct vm_config vc;
	struct balloon_config bc;
	config_defaults(&vc);
	vc.mem_lock = true;
	vm_balloon_config(&vc, &bc);
	bed = fbd_bed_new(&bc, NULL);
	cr_assert(bed);

	char path[] = "/tmp/mvmm-logflood-XXXXXX";
	int log_fd = mkstemp(path);
	cr_assert_geq(log_fd, 0);
	unlink(path);
	fflush(stderr);
	int saved = dup(2);
	cr_assert_eq(dup2(log_fd, 2), 2);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(fake_driver_negotiate(&bed->tb->drv,
						   silent.features | F(VIRTIO_F_VERSION_1)),
			     -EIO);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);

	char buf[65536];
	ssize_t n = pread(log_fd, buf, sizeof(buf) - 1, 0);
	close(log_fd);
	cr_assert_geq(n, 0);
	buf[n] = 0;
	unsigned lines = 0;
	for (char *p = buf; (p = strstr(p, "refusing FEATURES_OK")); p++)
		lines++;
	cr_assert_geq(lines, 1, "the first refusal is logged: %s", buf);
	cr_assert_leq(lines, 10, "%u log lines for 100 refusals", lines);
	config_free(&vc);
}
