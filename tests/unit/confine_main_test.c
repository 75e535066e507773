/* The main loop's seccomp filter: snapshots, discards, the discard engine's
 * ring, vCPU state reads; no new ring, thread, process or socket. */
#include "fakes/confine_fixture.h"
#include "fakes/fake_balloon_driver.h"
#include "memory/discard_engine.h"
#include <core/io.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(confine_main);

static char tmpdir[64];

/* snapshot/create's file work: temp file, data, size, fsync, rename,
 * directory fsync; a failed one unlinks. */
static int write_snapshot(void *arg)
{
	(void)arg;
	char state[128], mem[128];
	snprintf(state, sizeof(state), "%s/state", tmpdir);
	snprintf(mem, sizeof(mem), "%s/mem", tmpdir);
	/* What snapshot/create does, through the same core/io calls: two
	 * paths compared, temp file, sparse write, size, commit (fsync,
	 * rename, directory fsync). */
	if (io_same_file(state, mem) != 0)
		return 1;
	struct io_tmpfile t;
	const char *what;
	if (io_tmpfile_open(&t, state))
		return 2;
	if (io_pwrite_full(t.fd, "state", 5, 4096) || ftruncate(t.fd, 1 << 20) ||
	    io_write_full(t.fd, "x", 1)) {
		io_tmpfile_abort(&t);
		return 3;
	}
	if (io_tmpfile_commit(&t, &what))
		return 4;
	struct stat st;
	if (stat(state, &st) || st.st_size != 1 << 20)
		return 5;
	/* Read back as a restore opens it (non-blocking probe, then
	 * blocking again), holes skipped. */
	int fd = io_open_regular(state, O_RDONLY, NULL, 0);
	if (fd < 0 || lseek(fd, 0, SEEK_DATA) < 0 || close(fd))
		return 6;
	return unlink(state) ? 7 : 0;
}

Test(confine_main, writes_a_snapshot)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/mvmm-confine-XXXXXX");
	cr_assert(mkdtemp(tmpdir));
	struct outcome o = run_confined(CONFINE_MAIN, CONFINE_KILL, NULL,
					write_snapshot, NULL);
	expect_allowed(&o);
	cr_assert_eq(rmdir(tmpdir), 0, "the child left files in %s", tmpdir);
}

static int ram_fd = -1;

static int make_memfd(void *arg)
{
	(void)arg;
	ram_fd = memfd_create("ram", MFD_CLOEXEC);
	return ram_fd < 0 || ftruncate(ram_fd, 1 << 20) ? 93 : 0;
}

static int punch_hole(void *arg)
{
	int mode = *(int *)arg;
	return fallocate(ram_fd, mode, 0, 4096) ? 1 : 0;
}

Test(confine_main, punches_holes_and_nothing_else)
{
	static int mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	struct outcome o = run_confined(CONFINE_MAIN, CONFINE_KILL, make_memfd,
					punch_hole, &mode);
	expect_allowed(&o);
	static int grow = 0;
	o = run_confined(CONFINE_MAIN, CONFINE_KILL, make_memfd, punch_hole,
			 &grow);
	expect_killed(&o, "main", "fallocate");
}

/* What /proc shows for a confined thread (the "Must show"). */
static int status_shows_filter(void *arg)
{
	(void)arg;
	FILE *f = fopen("/proc/thread-self/status", "r");
	char line[256];
	int seen = 0;
	while (f && fgets(line, sizeof(line), f))
		seen += !strcmp(line, "Seccomp:\t2\n") +
			!strcmp(line, "NoNewPrivs:\t1\n");
	if (f)
		fclose(f);
	return seen == 2 ? 0 : 1;
}

Test(confine_main, status_shows_seccomp_2_and_no_new_privs)
{
	struct outcome o = run_kill(CONFINE_MAIN, status_shows_filter, NULL);
	expect_allowed(&o);
}

Test(confine_main, discards_and_frees_memory)
{
	struct outcome o = run_kill(CONFINE_MAIN, do_memory, NULL);
	expect_allowed(&o);
}

static int uring_setup(void *arg)
{
	(void)arg;
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	syscall(SYS_io_uring_setup, 4, &p);
	return 0;
}

static int uring_register(void *arg)
{
	unsigned op = *(unsigned *)arg;
	/* Not a ring: the kernel refuses whatever the filter let through. */
	return syscall(SYS_io_uring_register, confine_devnull, op, NULL, 0) < 0 ? 0 : 1;
}

Test(confine_main, makes_no_new_ring_and_keeps_the_old_one_fixed)
{
	struct outcome o = run_kill(CONFINE_MAIN, uring_setup, NULL);
	expect_killed(&o, "main", "io_uring_setup");
	static unsigned unreg = IORING_UNREGISTER_EVENTFD;
	o = run_confined(CONFINE_MAIN, CONFINE_KILL, open_devnull,
			 uring_register, &unreg);
	expect_allowed(&o);
	static unsigned probe = IORING_REGISTER_PROBE;
	o = run_confined(CONFINE_MAIN, CONFINE_KILL, open_devnull,
			 uring_register, &probe);
	expect_killed(&o, "main", "io_uring_register");
}

Test(confine_main, reads_vcpu_state_but_runs_no_vcpu)
{
	struct outcome o = run_ioctl(CONFINE_MAIN, KVM_GET_SREGS);
	expect_allowed(&o);
	o = run_ioctl(CONFINE_MAIN, KVM_GET_DIRTY_LOG);
	expect_allowed(&o);
	o = run_ioctl(CONFINE_MAIN, KVM_RUN);
	expect_killed(&o, "main", "ioctl");
	o = run_ioctl(CONFINE_MAIN, KVM_SET_REGS);
	expect_killed(&o, "main", "ioctl");
	o = run_ioctl(CONFINE_MAIN, KVM_CREATE_VCPU);
	expect_killed(&o, "main", "ioctl");
}

static void *idle(void *arg)
{
	return arg;
}

static int start_thread(void *arg)
{
	(void)arg;
	pthread_t t;
	return pthread_create(&t, NULL, idle, NULL) == 0 ? 0 : 1;
}

/* Why main installs its filter last: no thread can be started after it.
 * (ASan's pthread_create blocks every signal around the clone, so there
 * the kernel kills without our report line.) */
Test(confine_main, starts_no_thread)
{
	struct outcome o = run_kill(CONFINE_MAIN, start_thread, NULL);
	cr_assert(WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGSYS,
		  "status 0x%x: %s", o.status, o.err);
	cr_assert(!*o.err || strstr(o.err, "(clone3)"), "%s", o.err);
}

Test(confine_main, refuses_processes_and_sockets)
{
	struct outcome o = run_kill(CONFINE_MAIN, do_fork, NULL);
	cr_assert(WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGSYS,
		  "status 0x%x: %s", o.status, o.err);
	cr_assert(strstr(o.err, "mvmm: seccomp: main thread "), "%s", o.err);
	o = run_kill(CONFINE_MAIN, do_execve, NULL);
	expect_killed(&o, "main", "execve");
	o = run_kill(CONFINE_MAIN, do_socket, NULL);
	expect_killed(&o, "main", "socket");
	o = run_kill(CONFINE_MAIN, do_mmap_exec, NULL);
	expect_killed(&o, "main", "mmap");
}

/* A balloon inflate and a free page report through the real io_uring
 * engine, reaped the way the main loop does (epoll on its eventfd). */
static struct fbd_bed *bed;
static struct discard_engine *engine;
static int epfd = -1;

static int engine_up(void *arg)
{
	(void)arg;
	struct discard_engine_opts eo;
	discard_engine_default_opts(&eo);
	eo.inline_max_bytes = 0; /* everything through the ring, if any */
	if (discard_engine_create(&engine, &eo, balloon_discard_done))
		return 94;
	struct balloon_config cfg = {.free_page_reporting = true};
	bed = fbd_bed_new_with(&cfg, &(struct fbd_layout){.ram_bytes = 16 << 20},
			       discard_engine_iface(engine));
	const struct fbd_opts fo = {.features = FBD_LINUX_FEATURES};
	if (!bed || fbd_probe(&bed->drv, &bed->tb->drv, &fo))
		return 95;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	int efd = discard_engine_eventfd(engine);
	struct epoll_event ev = {.events = EPOLLIN};
	if (epfd < 0 || (efd >= 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, efd, &ev)))
		return 96;
	return 0;
}

static int wait_used(enum balloon_queue_role role)
{
	struct discard *d = discard_engine_iface(engine);
	for (int i = 0; i < 1000; i++) {
		int head = fbd_get_used(&bed->drv, role, NULL);
		if (head >= 0)
			return head;
		struct epoll_event ev;
		if (epoll_wait(epfd, &ev, 1, 10) > 0) {
			uint64_t v;
			if (read(discard_engine_eventfd(engine), &v, sizeof(v)) < 0)
				(void)0;
		}
		d->ops->reap(d->be);
	}
	return -ETIMEDOUT;
}

static int inflate_and_report(void *arg)
{
	(void)arg;
	uint8_t *ram = bed->tb->ram;
	memset(ram + (4 << 20), 0x77, 1 << 20);
	uint32_t pfns[256];
	for (unsigned i = 0; i < 256; i++)
		pfns[i] = (4 << 20 >> 12) + i;
	int head = fbd_send_pfns(&bed->drv, BALLOON_Q_INFLATE, pfns, 256);
	if (head < 0 || wait_used(BALLOON_Q_INFLATE) != head)
		return 1;
	if (ram[4 << 20] != 0 || ram[(5 << 20) - 1] != 0)
		return 2;
	memset(ram + (8 << 20), 0x33, 4 << 20);
	struct fake_driver_sg r = {8 << 20, 4 << 20};
	head = fbd_report(&bed->drv, &r, 1);
	if (head < 0 || wait_used(BALLOON_Q_REPORTING) != head)
		return 3;
	if (ram[8 << 20] != 0)
		return 4;
	discard_engine_destroy(engine); /* teardown: unregisters the eventfd */
	return 0;
}

Test(confine_main, inflates_and_reports_through_the_discard_engine)
{
	struct outcome o = run_confined(CONFINE_MAIN, CONFINE_KILL, engine_up,
					inflate_and_report, NULL);
	expect_allowed(&o);
}
