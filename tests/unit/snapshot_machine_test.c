/* The state file's machine section: every field checked before a VM is
 * built from it, and the built VM checked against it. */
#include "config/cli.h"
#include "snapshot/snapfile.h"
#include "snapshot/snapshot.h"
#include "snapshot/snapshot_machine.h"
#include "vm/vm.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB (1024ULL * 1024)

static struct vm_config cfg;
static struct vm vm;
static char err[256];

static void setup(void)
{
	config_defaults(&cfg);
	memset(&vm, 0, sizeof(vm));
	err[0] = 0;
}

static void teardown(void) { config_free(&cfg); }

TestSuite(snapshot_machine, .init = setup, .fini = teardown);

/* A 2-vCPU, 256 MiB memfd machine with a balloon. */
static struct snapshot_machine valid(void)
{
	struct snapshot_machine m;
	memset(&m, 0, sizeof(m));
	m.vcpu_count = 2;
	m.huge_pages = HUGE_PAGES_TRANSPARENT;
	m.mem_backend = MEM_BACKEND_MEMFD;
	m.mem_lock = 0;
	m.mem_size_mib = 256;
	m.nr_regions = 1;
	m.region_gpa[0] = 0;
	m.region_len[0] = 256 * MIB;
	m.nr_virtio = 1;
	m.balloon_enabled = 1;
	m.balloon_amount_mib = 64;
	m.balloon_deflate_on_oom = 1;
	m.balloon_stats_interval_s = 5;
	m.balloon_free_page_reporting = 1;
	m.balloon_free_page_hinting = 1;
	return m;
}

Test(snapshot_machine, to_config_fills_the_machine_and_keeps_the_rest)
{
	struct snapshot_machine m = valid();
	cfg.api_sock = strdup("/tmp/api.sock");
	cfg.kernel_path = strdup("/tmp/vmlinux");
	cr_assert_eq(snapshot_machine_to_config(&m, &cfg, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(cfg.vcpu_count, 2);
	cr_assert_eq(cfg.mem_size_mib, 256);
	cr_assert_eq(cfg.huge_pages, HUGE_PAGES_TRANSPARENT);
	cr_assert_eq(cfg.mem_backend, MEM_BACKEND_MEMFD);
	cr_assert_not(cfg.mem_lock);
	cr_assert(cfg.balloon.enabled);
	cr_assert_eq(cfg.balloon.amount_mib, 64);
	cr_assert(cfg.balloon.deflate_on_oom);
	cr_assert_eq(cfg.balloon.stats_polling_interval_s, 5);
	cr_assert(cfg.balloon.free_page_reporting);
	cr_assert(cfg.balloon.free_page_hinting);
	cr_assert_str_eq(cfg.api_sock, "/tmp/api.sock");
	cr_assert_str_eq(cfg.kernel_path, "/tmp/vmlinux");

	/* No balloon, no virtio device, anonymous memory, locked. */
	m = valid();
	m.balloon_enabled = 0;
	m.balloon_amount_mib = 0;
	m.balloon_deflate_on_oom = 0;
	m.balloon_free_page_reporting = 0;
	m.balloon_free_page_hinting = 0;
	m.nr_virtio = 0;
	m.mem_backend = MEM_BACKEND_ANON;
	m.huge_pages = HUGE_PAGES_NONE;
	m.mem_lock = 1;
	m.vcpu_count = 1;
	cr_assert_eq(snapshot_machine_to_config(&m, &cfg, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(cfg.vcpu_count, 1);
	cr_assert_eq(cfg.mem_backend, MEM_BACKEND_ANON);
	cr_assert_eq(cfg.huge_pages, HUGE_PAGES_NONE);
	cr_assert(cfg.mem_lock);
	cr_assert_not(cfg.balloon.enabled, "the earlier balloon is replaced");
	cr_assert_eq(cfg.balloon.amount_mib, 0);
	cr_assert_not(cfg.balloon.free_page_hinting);
}

Test(snapshot_machine, to_config_takes_the_limits)
{
	struct snapshot_machine m = valid();
	m.vcpu_count = CONFIG_MAX_VCPUS;
	m.mem_size_mib = CONFIG_MIN_MEM_MIB;
	m.balloon_amount_mib = CONFIG_MIN_MEM_MIB; /* within the memory */
	m.nr_regions = GMEM_MAX_REGIONS;
	m.huge_pages = HUGE_PAGES_2M;
	cr_assert_eq(snapshot_machine_to_config(&m, &cfg, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(cfg.vcpu_count, CONFIG_MAX_VCPUS);
	cr_assert_eq(cfg.huge_pages, HUGE_PAGES_2M);
	m.mem_size_mib = CONFIG_MAX_MEM_MIB;
	cr_assert_eq(snapshot_machine_to_config(&m, &cfg, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(cfg.mem_size_mib, CONFIG_MAX_MEM_MIB);
}

/* One impossible field: -EINVAL, the message names it, cfg untouched. */
static void expect_refused(const struct snapshot_machine *m, const char *field)
{
	unsigned vcpus = cfg.vcpu_count;
	uint64_t mem = cfg.mem_size_mib;
	struct config_balloon bal = cfg.balloon;
	err[0] = 0;
	cr_assert_eq(snapshot_machine_to_config(m, &cfg, err, sizeof(err)),
		     -EINVAL, "%s accepted", field);
	cr_assert(strstr(err, field), "\"%s\" does not name %s", err, field);
	cr_assert(strstr(err, "state file"), "%s", err);
	cr_assert(cfg.vcpu_count == vcpus && cfg.mem_size_mib == mem &&
		  cfg.balloon.enabled == bal.enabled &&
		  cfg.balloon.amount_mib == bal.amount_mib,
		  "a refused machine changed cfg (%s)", field);
}

Test(snapshot_machine, to_config_refuses_each_impossible_field)
{
	struct snapshot_machine m;

	m = valid(), m.vcpu_count = 0;
	expect_refused(&m, "machine.vcpu_count");
	m = valid(), m.vcpu_count = CONFIG_MAX_VCPUS + 1;
	expect_refused(&m, "machine.vcpu_count");
	m = valid(), m.mem_size_mib = CONFIG_MIN_MEM_MIB - 1;
	expect_refused(&m, "machine.mem_size_mib");
	m = valid(), m.mem_size_mib = CONFIG_MAX_MEM_MIB + 1ULL;
	expect_refused(&m, "machine.mem_size_mib");
	m = valid(), m.mem_size_mib = UINT64_MAX;
	expect_refused(&m, "machine.mem_size_mib");
	m = valid(), m.huge_pages = HUGE_PAGES_2M + 1;
	expect_refused(&m, "machine.huge_pages");
	m = valid(), m.mem_backend = MEM_BACKEND_MEMFD + 1;
	expect_refused(&m, "machine.mem_backend");
	m = valid(), m.mem_lock = 2;
	expect_refused(&m, "machine.mem_lock");
	m = valid(), m.nr_regions = 0;
	expect_refused(&m, "machine.nr_regions");
	m = valid(), m.nr_regions = GMEM_MAX_REGIONS + 1;
	expect_refused(&m, "machine.nr_regions");
	m = valid(), m.nr_virtio = VM_MAX_VIRTIO + 1;
	expect_refused(&m, "machine.nr_virtio");
}

Test(snapshot_machine, to_config_refuses_balloon_flags_other_than_0_or_1)
{
	struct snapshot_machine m;

	m = valid(), m.balloon_enabled = 2;
	expect_refused(&m, "machine.balloon");
	m = valid(), m.balloon_deflate_on_oom = 2;
	expect_refused(&m, "machine.balloon");
	m = valid(), m.balloon_free_page_reporting = 2;
	expect_refused(&m, "machine.balloon");
	m = valid(), m.balloon_free_page_hinting = 0xffffffffu;
	expect_refused(&m, "machine.balloon");
}

Test(snapshot_machine, to_config_refuses_a_device_count_the_balloon_does_not_explain)
{
	struct snapshot_machine m;

	/* A balloon but no virtio device. */
	m = valid(), m.nr_virtio = 0;
	expect_refused(&m, "machine.nr_virtio");
	/* A virtio device but no balloon. */
	m = valid(), m.balloon_enabled = 0;
	expect_refused(&m, "machine.nr_virtio");
	m = valid(), m.nr_virtio = 2;
	expect_refused(&m, "machine.nr_virtio");
}

/* ---- check_vm against a VM as vm_create_for_restore would lay it out ---- */

static void fake_vm(unsigned nr_regions, unsigned nr_virtio)
{
	static const uint64_t gpa[] = {0, 4096 * MIB};
	static const uint64_t len[] = {3072 * MIB, 1024 * MIB};
	memset(&vm, 0, sizeof(vm));
	vm.cfg = &cfg;
	vm.nr_vcpus = 2;
	vm.mem.nr_regions = nr_regions;
	for (unsigned i = 0; i < nr_regions; i++) {
		vm.mem.regions[i].gpa = gpa[i];
		vm.mem.regions[i].len = len[i];
		vm.mem.total_bytes += len[i];
	}
	vm.nr_virtio = nr_virtio;
}

static struct snapshot_machine machine_of(void)
{
	struct snapshot_machine m = valid();
	m.mem_size_mib = 4096;
	m.nr_regions = 2;
	m.region_gpa[0] = 0;
	m.region_len[0] = 3072 * MIB;
	m.region_gpa[1] = 4096 * MIB;
	m.region_len[1] = 1024 * MIB;
	m.nr_virtio = 1;
	return m;
}

Test(snapshot_machine, check_vm_accepts_the_same_layout)
{
	struct snapshot_machine m = machine_of();
	fake_vm(2, 1);
	cr_assert_eq(snapshot_machine_check_vm(&m, &vm, err, sizeof(err)), 0,
		     "%s", err);
}

Test(snapshot_machine, check_vm_refuses_a_region_mismatch)
{
	struct snapshot_machine m = machine_of();

	fake_vm(1, 1);
	cr_assert_eq(snapshot_machine_check_vm(&m, &vm, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "RAM regions"), "%s", err);

	fake_vm(2, 1);
	m.region_len[1] -= 4096;
	cr_assert_eq(snapshot_machine_check_vm(&m, &vm, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "RAM region 1"), "%s", err);

	m = machine_of();
	m.region_gpa[0] = 0x100000;
	cr_assert_eq(snapshot_machine_check_vm(&m, &vm, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "RAM region 0"), "%s", err);
}

Test(snapshot_machine, check_vm_refuses_a_device_count_mismatch)
{
	struct snapshot_machine m = machine_of();
	fake_vm(2, 0);
	cr_assert_eq(snapshot_machine_check_vm(&m, &vm, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "virtio devices"), "%s", err);
	fake_vm(2, 2);
	cr_assert_eq(snapshot_machine_check_vm(&m, &vm, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "virtio devices"), "%s", err);
}

Test(snapshot_machine, from_vm_round_trips_through_to_config_and_check_vm)
{
	cfg.vcpu_count = 2;
	cfg.mem_size_mib = 4096;
	cfg.huge_pages = HUGE_PAGES_2M;
	cfg.mem_backend = MEM_BACKEND_MEMFD;
	cfg.balloon = (struct config_balloon){
		.enabled = true,
		.amount_mib = 128,
		.stats_polling_interval_s = 3,
		.free_page_hinting = true,
	};
	fake_vm(2, 1);
	struct snapshot_machine m;
	snapshot_machine_from_vm(&vm, &m);
	cr_assert_eq(m.vcpu_count, 2);
	cr_assert_eq(m.nr_regions, 2);
	cr_assert_eq(m.region_gpa[1], 4096 * MIB);
	cr_assert_eq(m.region_len[1], 1024 * MIB);
	cr_assert_eq(m.nr_virtio, 1);
	cr_assert_str_eq(m.mvmm_version, MVMM_VERSION);

	struct vm_config out;
	config_defaults(&out);
	cr_assert_eq(snapshot_machine_to_config(&m, &out, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(out.vcpu_count, 2);
	cr_assert_eq(out.mem_size_mib, 4096);
	cr_assert_eq(out.huge_pages, HUGE_PAGES_2M);
	cr_assert_eq(out.mem_backend, MEM_BACKEND_MEMFD);
	cr_assert(out.balloon.enabled);
	cr_assert_eq(out.balloon.amount_mib, 128);
	cr_assert_eq(out.balloon.stats_polling_interval_s, 3);
	cr_assert(out.balloon.free_page_hinting);
	cr_assert_not(out.balloon.free_page_reporting);
	cr_assert_eq(snapshot_machine_check_vm(&m, &vm, err, sizeof(err)), 0,
		     "%s", err);
	config_free(&out);
}

/* ---- issue 12: a restored configuration is a validated configuration ---- */

static bool cfg_is_default(void)
{
	struct vm_config d;
	config_defaults(&d);
	bool same = cfg.vcpu_count == d.vcpu_count &&
		    cfg.mem_size_mib == d.mem_size_mib &&
		    cfg.huge_pages == d.huge_pages &&
		    cfg.mem_backend == d.mem_backend &&
		    cfg.mem_lock == d.mem_lock &&
		    !memcmp(&cfg.balloon, &d.balloon, sizeof(d.balloon));
	config_free(&d);
	return same;
}

Test(snapshot_machine, to_config_validates_the_balloon_like_a_config_file)
{
	struct snapshot_machine m = valid();
	m.balloon_amount_mib = 300; /* more than the 256 MiB of RAM */
	cr_assert_eq(snapshot_machine_to_config(&m, &cfg, err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "balloon.amount_mib: 300 exceeds mem_size_mib 256"),
		  "%s", err);
	cr_assert(cfg_is_default(), "a refused machine changed the config");
	m = valid();
	m.balloon_stats_interval_s = 99999;
	cr_assert_eq(snapshot_machine_to_config(&m, &cfg, err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "balloon.stats_polling_interval_s"), "%s", err);
	m = valid();
	m.huge_pages = HUGE_PAGES_2M;
	m.mem_size_mib = 255; /* odd with 2 MiB pages */
	cr_assert_eq(snapshot_machine_to_config(&m, &cfg, err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "multiple of 2"), "%s", err);
	cr_assert(cfg_is_default());
}

/* A state file whose machine section is fine but which lacks the rest: the
 * load is refused and the pre-boot configuration is what it was. */
Test(snapshot_machine, refused_load_changes_nothing)
{
	char dir[] = "/tmp/mvmm-loadcfg-XXXXXX", path[64], why[256];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state", dir);
	struct snapshot_machine m = valid();
	struct snapfile_writer w;
	snapfile_writer_init(&w);
	snapfile_put(&w, SNAPSHOT_TAG_MACHINE, 0, &m, sizeof(m));
	cr_assert_eq(snapfile_writer_commit(&w, SNAPFILE_ARCH_X86_64, path, why,
					    sizeof(why)), 0, "%s", why);
	snapfile_writer_free(&w);

	cfg.vcpu_count = 3;
	cfg.mem_size_mib = 384;
	struct snapshot_load_req req = {.snapshot_path = path};
	cr_assert_neq(snapshot_load(&vm, &cfg, &req, err, sizeof(err)), 0);
	cr_assert(strstr(err, "VM state"), "%s", err);
	cr_assert_eq(cfg.vcpu_count, 3, "the refused load set vcpu_count");
	cr_assert_eq(cfg.mem_size_mib, 384);
	cr_assert_not(cfg.balloon.enabled);
	vm_destroy(&vm);
	unlink(path);
	rmdir(dir);
}
