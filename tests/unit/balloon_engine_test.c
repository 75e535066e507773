/* virtio-balloon with the real discard engine (vmm/): inflated and reported
 * pages read back zero by the time the guest sees the used entry, for the
 * synchronous backend and for io_uring where the kernel offers it. */
#include "memory/discard_engine.h"
#include "fakes/fake_balloon_driver.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <string.h>

#define MIB (1ULL << 20)

static struct fbd_bed *bed;
static struct discard_engine *engine;

static void teardown(void)
{
	/* Completions take the transport's lock: drain while it lives. */
	if (engine)
		discard_engine_destroy(engine);
	engine = NULL;
	fbd_bed_free(bed);
	bed = NULL;
}

TestSuite(balloon_engine, .fini = teardown);

static void up(enum discard_engine_kind kind)
{
	struct discard_engine_opts o;
	discard_engine_default_opts(&o);
	o.kind = kind;
	o.inline_max_bytes = 0; /* every batch through the ring */
	cr_assert_eq(discard_engine_create(&engine, &o, balloon_discard_done), 0);
	struct balloon_config cfg = {.free_page_reporting = true};
	bed = fbd_bed_new_with(&cfg, NULL, discard_engine_iface(engine));
	cr_assert(bed);
	const struct fbd_opts fo = {.features = FBD_LINUX_FEATURES};
	cr_assert_eq(fbd_probe(&bed->drv, &bed->tb->drv, &fo), 0);
}

/* Waits for a used entry on role's queue, reaping completions. */
static int wait_used(enum balloon_queue_role role)
{
	struct discard *d = discard_engine_iface(engine);
	int fd = discard_engine_eventfd(engine);
	for (int i = 0; i < 1000; i++) {
		int head = fbd_get_used(&bed->drv, role, NULL);
		if (head >= 0)
			return head;
		if (fd >= 0) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			poll(&p, 1, 10);
		}
		d->ops->reap(d->be);
	}
	return -ETIMEDOUT;
}

static void inflate_and_check(void)
{
	uint8_t *ram = bed->tb->ram;
	memset(ram + 4 * MIB, 0x77, 2 * MIB);
	uint32_t pfns[256];
	for (unsigned i = 0; i < 256; i++)
		pfns[i] = (uint32_t)((5 * MIB) >> 12) - 1 - i;
	int head = fbd_send_pfns(&bed->drv, BALLOON_Q_INFLATE, pfns, 256);
	cr_assert_geq(head, 0);
	cr_assert_eq(wait_used(BALLOON_Q_INFLATE), head);
	for (uint64_t off = 4 * MIB; off < 5 * MIB; off += 4096)
		cr_assert_eq(ram[off], 0, "page 0x%llx not discarded",
			     (unsigned long long)off);
	cr_assert_eq(ram[5 * MIB], 0x77, "neighbour page was discarded");

	memset(ram + 8 * MIB, 0x33, 4 * MIB);
	struct fake_driver_sg r = {8 * MIB, 4 * MIB};
	head = fbd_report(&bed->drv, &r, 1);
	cr_assert_eq(wait_used(BALLOON_Q_REPORTING), head);
	for (uint64_t off = 8 * MIB; off < 12 * MIB; off += 4096)
		cr_assert_eq(ram[off], 0);
	struct discard_stats st;
	discard_engine_stats(engine, &st);
	cr_assert_eq(st.bytes, 5 * MIB);
}

Test(balloon_engine, sync_backend_zeroes_pages_before_the_used_entry)
{
	up(DISCARD_ENGINE_SYNC);
	inflate_and_check();
}

Test(balloon_engine, default_backend_zeroes_pages_before_the_used_entry)
{
	up(DISCARD_ENGINE_AUTO);
	cr_log_info("discard engine: %s", discard_engine_name(engine));
	inflate_and_check();
}
