/* The vCPU threads' seccomp filter: KVM_RUN and the console, the state
 * reads of a hang dump, a balloon probe and reset; nothing else. */
#include "fakes/confine_fixture.h"
#include "vm/console.h"
#include "fakes/fake_balloon_driver.h"
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

TestSuite(confine_vcpu);

static int vcpu_allowed(void *arg)
{
	(void)arg;
	if (ioctl(confine_devnull, KVM_RUN, 0) == 0 || errno != ENOTTY)
		return 1;
	if (ioctl(confine_devnull, KVM_GET_REGS, NULL) == 0 || errno != ENOTTY)
		return 2;
	if (write(confine_devnull, "console", 7) != 7)
		return 3;
	return do_memory(NULL) ? 4 : 0;
}

Test(confine_vcpu, runs_kvm_and_the_console)
{
	struct outcome o = run_confined(CONFINE_VCPU, CONFINE_KILL,
					open_devnull, vcpu_allowed, NULL);
	expect_allowed(&o);
}

/* SIGUSR2 makes each vCPU describe itself from its own thread. */
/* The guest console as a vCPU writes it (the UART's output): the ring, and
 * the batch timer its first byte arms. Set up before the filter. */
static struct console vcpu_console;

static int console_up(void *arg)
{
	(void)arg;
	return console_init(&vcpu_console, confine_devnull) ? 92 : 0;
}

static int console_bytes(void *arg)
{
	(void)arg;
	for (int i = 0; i < 3; i++) {
		console_write(&vcpu_console, (const uint8_t *)"x", 1);
		console_flush(&vcpu_console); /* empty again: the next arms */
	}
	return 0;
}

static int devnull_and_console(void *arg)
{
	return open_devnull(arg) ? 90 : console_up(arg);
}

Test(confine_vcpu, writes_the_guest_console)
{
	struct outcome o = run_confined(CONFINE_VCPU, CONFINE_KILL,
					devnull_and_console, console_bytes, NULL);
	expect_allowed(&o);
}

static int vcpu_describes(void *arg)
{
	static const unsigned long reqs[] = {
		KVM_GET_REGS, KVM_GET_SREGS, KVM_GET_MP_STATE,
		KVM_GET_VCPU_EVENTS, KVM_GET_LAPIC,
	};
	(void)arg;
	for (unsigned i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
		if (ioctl(confine_devnull, reqs[i], NULL) == 0 || errno != ENOTTY)
			return 1 + (int)i;
	return 0;
}

Test(confine_vcpu, reads_its_state_for_a_dump)
{
	struct outcome o = run_confined(CONFINE_VCPU, CONFINE_KILL,
					open_devnull, vcpu_describes, NULL);
	expect_allowed(&o);
}

Test(confine_vcpu, refuses_an_unlisted_kvm_ioctl)
{
	struct outcome o = run_ioctl(CONFINE_VCPU, KVM_CREATE_VM);
	expect_killed(&o, "vcpu", "ioctl");
	cr_assert(strstr(o.err, "args 0x"), "%s", o.err);
}

Test(confine_vcpu, refuses_a_socket)
{
	struct outcome o = run_kill(CONFINE_VCPU, do_socket, NULL);
	expect_killed(&o, "vcpu", "socket");
}

Test(confine_vcpu, refuses_executable_memory)
{
	struct outcome o = run_kill(CONFINE_VCPU, do_mmap_exec, NULL);
	expect_killed(&o, "vcpu", "mmap");
	o = run_kill(CONFINE_VCPU, do_mprotect_exec, NULL);
	expect_killed(&o, "vcpu", "mprotect");
}

Test(confine_vcpu, refuses_madvise_hugepage)
{
	struct outcome o = run_kill(CONFINE_VCPU, do_madvise_hugepage, NULL);
	expect_killed(&o, "vcpu", "madvise");
}

static int open_read_only(void *arg)
{
	(void)arg;
	return open("/proc/self/status", O_RDONLY) >= 0;
}

Test(confine_vcpu, opens_no_file)
{
	struct outcome o = run_kill(CONFINE_VCPU, open_read_only, NULL);
	expect_killed(&o, "vcpu", "openat");
}

static int map_file(void *arg)
{
	(void)arg;
	void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, confine_devnull, 0);
	return p == MAP_FAILED ? 0 : 0;
}

Test(confine_vcpu, maps_no_file_after_setup)
{
	struct outcome o = run_confined(CONFINE_VCPU, CONFINE_KILL,
					open_devnull, map_file, NULL);
	expect_killed(&o, "vcpu", "mmap");
}

/* A Linux driver's life as a vCPU thread drives it: probe (feature
 * negotiation, queue setup, DRIVER_OK, the stats buffer), config writes,
 * a reset. The register handlers must need nothing the filter refuses. */
static struct fbd_bed *bed;

static int bed_up(void *arg)
{
	(void)arg;
	struct balloon_config cfg = {.free_page_reporting = true,
				     .stats_polling_interval_s = 1};
	bed = fbd_bed_new(&cfg, NULL);
	return bed ? 0 : 91;
}

static int driver_lifecycle(void *arg)
{
	(void)arg;
	const struct fbd_opts fo = {.features = FBD_LINUX_FEATURES};
	for (int i = 0; i < 3; i++) {
		if (fbd_probe(&bed->drv, &bed->tb->drv, &fo))
			return 1 + i * 10;
		fbd_write_actual(&bed->drv, 7);
		if (fbd_num_pages(&bed->drv) != 0)
			return 2 + i * 10;
		fake_driver_reset(&bed->tb->drv);
		fbd_destroy(&bed->drv);
	}
	return 0;
}

Test(confine_vcpu, drives_a_balloon_probe_and_reset)
{
	struct outcome o = run_confined(CONFINE_VCPU, CONFINE_KILL, bed_up,
					driver_lifecycle, NULL);
	expect_allowed(&o);
}
