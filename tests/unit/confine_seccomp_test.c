/* Per-thread seccomp filters (vmm/confine/): each test forks a child that
 * installs one thread kind's filter and then makes one call. An allowed call
 * returns (the child exits 0, whatever the kernel answered); a forbidden one
 * kills the child by SIGSYS after the one-line report on stderr. */
#include "confine/confine.h"
#include "fakes/fake_balloon_driver.h"
#include "memory/discard_engine.h"

#include <core/io.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/io_uring.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(confine);

typedef int (*child_fn)(void *arg);

struct outcome {
	int status;     /* waitpid's */
	char err[1024]; /* the child's stderr */
};

/* Forks; the child runs setup (unconfined), installs kind's filter with
 * action, then runs body and exits with its return value. Exit 100: the
 * install failed (its message is in err). */
static struct outcome run_confined(enum confine_thread kind,
				   enum confine_action action, child_fn setup,
				   child_fn body, void *arg)
{
	struct outcome o;
	memset(&o, 0, sizeof(o));
	int p[2];
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		int r = setup ? setup(arg) : 0;
		if (r)
			_exit(r);
		char err[256];
		if (confine_seccomp_install(kind, action, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			_exit(100);
		}
		_exit(body(arg));
	}
	close(p[1]);
	size_t n = 0;
	ssize_t got;
	while ((got = read(p[0], o.err + n, sizeof(o.err) - 1 - n)) > 0)
		n += (size_t)got;
	close(p[0]);
	cr_assert_eq(waitpid(pid, &o.status, 0), pid);
	return o;
}

static void expect_allowed(const struct outcome *o)
{
	cr_assert(WIFEXITED(o->status) && WEXITSTATUS(o->status) == 0,
		  "child: status 0x%x, stderr: %s", o->status, o->err);
}

/* Killed by SIGSYS, with the report naming the thread kind and syscall. */
static void expect_killed(const struct outcome *o, const char *kind,
			  const char *syscall_name)
{
	cr_assert(WIFSIGNALED(o->status) && WTERMSIG(o->status) == SIGSYS,
		  "child: status 0x%x, stderr: %s", o->status, o->err);
	char want[96];
	snprintf(want, sizeof(want), "mvmm: seccomp: %s thread ", kind);
	cr_assert(strstr(o->err, want), "no report in: %s", o->err);
	snprintf(want, sizeof(want), "(%s)", syscall_name);
	cr_assert(strstr(o->err, want), "syscall not named in: %s", o->err);
}

static struct outcome run_kill(enum confine_thread kind, child_fn body, void *arg)
{
	return run_confined(kind, CONFINE_KILL, NULL, body, arg);
}

/* ---- bodies shared by the thread kinds ---- */

static int do_socket(void *arg)
{
	(void)arg;
	return socket(AF_UNIX, SOCK_STREAM, 0) >= 0 ? 0 : 1;
}

static int do_mmap_exec(void *arg)
{
	(void)arg;
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? 1 : 0;
}

static int do_mprotect_exec(void *arg)
{
	(void)arg;
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 2;
	return mprotect(p, 4096, PROT_READ | PROT_EXEC) ? 1 : 0;
}

static int do_madvise_hugepage(void *arg)
{
	(void)arg;
	void *p = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 2;
	madvise(p, 4 << 20, MADV_HUGEPAGE);
	return 0;
}

/* What malloc and free do, large and small, and a discard. */
static int do_memory(void *arg)
{
	(void)arg;
	for (int i = 0; i < 64; i++) {
		char *big = malloc(8 << 20);
		char *small = malloc(100);
		if (!big || !small)
			return 1;
		memset(big, i, 8 << 20);
		big = realloc(big, 16 << 20);
		if (!big)
			return 2;
		free(big);
		free(small);
	}
	void *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || madvise(p, 1 << 20, MADV_DONTNEED) ||
	    munmap(p, 1 << 20))
		return 3;
	return 0;
}

static int do_fork(void *arg)
{
	(void)arg;
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	return pid > 0 ? 0 : 1;
}

static int do_execve(void *arg)
{
	(void)arg;
	char *argv[] = {"true", NULL};
	execve("/bin/true", argv, argv + 1);
	return 1;
}

/* An fd of /dev/null, opened before the filter: ioctls on it reach the
 * filter, then fail with ENOTTY in the kernel. */
static int devnull = -1;

static int open_devnull(void *arg)
{
	(void)arg;
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	return devnull < 0 ? 90 : 0;
}

static int do_ioctl(void *arg)
{
	unsigned long req = *(unsigned long *)arg;
	if (ioctl(devnull, req, 0) == 0 || errno != ENOTTY)
		return 1;
	return 0;
}

static struct outcome run_ioctl(enum confine_thread kind, unsigned long req)
{
	static unsigned long r;
	r = req;
	return run_confined(kind, CONFINE_KILL, open_devnull, do_ioctl, &r);
}

/* ---- actions, names, NO_NEW_PRIVS, per-thread scope ---- */

Test(confine, parses_the_action_names)
{
	enum confine_action a = CONFINE_OFF;
	cr_assert_eq(confine_action_parse("kill", &a), 0);
	cr_assert_eq(a, CONFINE_KILL);
	cr_assert_eq(confine_action_parse("log", &a), 0);
	cr_assert_eq(a, CONFINE_LOG);
	cr_assert_eq(confine_action_parse("off", &a), 0);
	cr_assert_eq(a, CONFINE_OFF);
	cr_assert_eq(confine_action_parse("Kill", &a), -EINVAL);
	cr_assert_eq(confine_action_parse("", &a), -EINVAL);
	cr_assert_eq(confine_action_parse(NULL, &a), -EINVAL);
	cr_assert_eq(a, CONFINE_OFF, "a refused value changes nothing");
	cr_assert_str_eq(confine_action_name(CONFINE_LOG), "log");
	cr_assert_str_eq(confine_thread_name(CONFINE_VCPU), "vcpu");
	cr_assert_str_eq(confine_thread_name(CONFINE_MAIN), "main");
	cr_assert_str_eq(confine_thread_name(CONFINE_API), "api");
	cr_assert_str_eq(confine_thread_name(CONFINE_THREAD_KINDS), "?");
}

static int check_nnp_only(void *arg)
{
	(void)arg;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return 1;
	return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 0 ? 0 : 2;
}

Test(confine, off_sets_no_new_privs_and_no_filter)
{
	struct outcome o = run_confined(CONFINE_MAIN, CONFINE_OFF, NULL,
					check_nnp_only, NULL);
	expect_allowed(&o);
}

Test(confine, refuses_an_unknown_thread_kind)
{
	char err[128] = "";
	cr_assert_eq(confine_seccomp_install(CONFINE_THREAD_KINDS, CONFINE_KILL,
					     err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "seccomp"), "%s", err);
}

/* With log, the kernel logs a forbidden call and lets it through. */
Test(confine, log_lets_a_forbidden_syscall_through)
{
	struct outcome o = run_confined(CONFINE_API, CONFINE_LOG, NULL,
					do_socket, NULL);
	expect_allowed(&o);
}

static void *api_thread(void *arg)
{
	int *fds = arg;
	char err[256], c = 0;
	if (confine_seccomp_install(CONFINE_API, CONFINE_KILL, err, sizeof(err)))
		return (void *)1;
	if (recvfrom(fds[0], &c, 1, 0, NULL, NULL) != 1 || c != 'x')
		return (void *)2;
	return NULL;
}

/* The filter binds the thread that installed it, not its siblings. */
static int filter_one_thread(void *arg)
{
	(void)arg;
	int fds[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds))
		return 1;
	pthread_t t;
	void *ret = (void *)1;
	if (pthread_create(&t, NULL, api_thread, fds))
		return 2;
	if (write(fds[1], "x", 1) != 1 || pthread_join(t, &ret) || ret)
		return 3;
	/* Forbidden to the API thread, allowed here. */
	return socket(AF_UNIX, SOCK_STREAM, 0) >= 0 ? 0 : 4;
}

Test(confine, a_filter_confines_only_its_thread)
{
	struct outcome o = run_confined(CONFINE_MAIN, CONFINE_OFF, NULL,
					filter_one_thread, NULL);
	expect_allowed(&o);
}

/* ---- vCPU threads ---- */

static int vcpu_allowed(void *arg)
{
	(void)arg;
	if (ioctl(devnull, KVM_RUN, 0) == 0 || errno != ENOTTY)
		return 1;
	if (ioctl(devnull, KVM_GET_REGS, NULL) == 0 || errno != ENOTTY)
		return 2;
	if (write(devnull, "console", 7) != 7)
		return 3;
	return do_memory(NULL) ? 4 : 0;
}

Test(confine, vcpu_runs_kvm_and_the_console)
{
	struct outcome o = run_confined(CONFINE_VCPU, CONFINE_KILL,
					open_devnull, vcpu_allowed, NULL);
	expect_allowed(&o);
}

/* SIGUSR2 makes each vCPU describe itself from its own thread. */
static int vcpu_describes(void *arg)
{
	static const unsigned long reqs[] = {
		KVM_GET_REGS, KVM_GET_SREGS, KVM_GET_MP_STATE,
		KVM_GET_VCPU_EVENTS, KVM_GET_LAPIC,
	};
	(void)arg;
	for (unsigned i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
		if (ioctl(devnull, reqs[i], NULL) == 0 || errno != ENOTTY)
			return 1 + (int)i;
	return 0;
}

Test(confine, vcpu_reads_its_state_for_a_dump)
{
	struct outcome o = run_confined(CONFINE_VCPU, CONFINE_KILL,
					open_devnull, vcpu_describes, NULL);
	expect_allowed(&o);
}

Test(confine, vcpu_refuses_an_unlisted_kvm_ioctl)
{
	struct outcome o = run_ioctl(CONFINE_VCPU, KVM_CREATE_VM);
	expect_killed(&o, "vcpu", "ioctl");
	cr_assert(strstr(o.err, "args 0x"), "%s", o.err);
}

Test(confine, vcpu_refuses_a_socket)
{
	struct outcome o = run_kill(CONFINE_VCPU, do_socket, NULL);
	expect_killed(&o, "vcpu", "socket");
}

Test(confine, vcpu_refuses_executable_memory)
{
	struct outcome o = run_kill(CONFINE_VCPU, do_mmap_exec, NULL);
	expect_killed(&o, "vcpu", "mmap");
	o = run_kill(CONFINE_VCPU, do_mprotect_exec, NULL);
	expect_killed(&o, "vcpu", "mprotect");
}

Test(confine, vcpu_refuses_madvise_hugepage)
{
	struct outcome o = run_kill(CONFINE_VCPU, do_madvise_hugepage, NULL);
	expect_killed(&o, "vcpu", "madvise");
}

static int open_read_only(void *arg)
{
	(void)arg;
	return open("/proc/self/status", O_RDONLY) >= 0;
}

Test(confine, vcpu_opens_no_file)
{
	struct outcome o = run_kill(CONFINE_VCPU, open_read_only, NULL);
	expect_killed(&o, "vcpu", "openat");
}

static int map_file(void *arg)
{
	(void)arg;
	void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, devnull, 0);
	return p == MAP_FAILED ? 0 : 0;
}

Test(confine, vcpu_maps_no_file_after_setup)
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

Test(confine, vcpu_drives_a_balloon_probe_and_reset)
{
	struct outcome o = run_confined(CONFINE_VCPU, CONFINE_KILL, bed_up,
					driver_lifecycle, NULL);
	expect_allowed(&o);
}

/* ---- the main loop ---- */

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

Test(confine, main_writes_a_snapshot)
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

Test(confine, main_punches_holes_and_nothing_else)
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

Test(confine, main_status_shows_seccomp_2_and_no_new_privs)
{
	struct outcome o = run_kill(CONFINE_MAIN, status_shows_filter, NULL);
	expect_allowed(&o);
}

Test(confine, main_discards_and_frees_memory)
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
	return syscall(SYS_io_uring_register, devnull, op, NULL, 0) < 0 ? 0 : 1;
}

Test(confine, main_makes_no_new_ring_and_keeps_the_old_one_fixed)
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

Test(confine, main_reads_vcpu_state_but_runs_no_vcpu)
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
Test(confine, main_starts_no_thread)
{
	struct outcome o = run_kill(CONFINE_MAIN, start_thread, NULL);
	cr_assert(WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGSYS,
		  "status 0x%x: %s", o.status, o.err);
	cr_assert(!*o.err || strstr(o.err, "(clone3)"), "%s", o.err);
}

Test(confine, main_refuses_processes_and_sockets)
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

Test(confine, main_inflates_and_reports_through_the_discard_engine)
{
	struct outcome o = run_confined(CONFINE_MAIN, CONFINE_KILL, engine_up,
					inflate_and_report, NULL);
	expect_allowed(&o);
}

/* ---- the API thread ---- */

struct api_fds {
	int listen_fd, client_fd, ep;
	char dir[64];
};

static struct api_fds api;

/* A listening socket with a client already connected, as MHD's thread
 * finds them; connect() itself is the client's business. */
static int api_setup(void *arg)
{
	(void)arg;
	snprintf(api.dir, sizeof(api.dir), "/tmp/mvmm-confine-XXXXXX");
	if (!mkdtemp(api.dir))
		return 97;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/api.sock", api.dir);
	api.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	api.client_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (bind(api.listen_fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(api.listen_fd, 4) ||
	    connect(api.client_fd, (struct sockaddr *)&a, sizeof(a)))
		return 98;
	unlink(a.sun_path);
	rmdir(api.dir);
	api.ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN};
	return epoll_ctl(api.ep, EPOLL_CTL_ADD, api.listen_fd, &ev) ? 99 : 0;
}

static int api_serve(void *arg)
{
	(void)arg;
	struct epoll_event ev;
	if (epoll_wait(api.ep, &ev, 1, 1000) != 1)
		return 1;
	int c = accept4(api.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0)
		return 2;
	struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT};
	if (epoll_ctl(api.ep, EPOLL_CTL_ADD, c, &cev))
		return 3;
	if (send(api.client_fd, "GET / HTTP/1.1\r\n\r\n", 18, 0) != 18)
		return 4;
	char buf[64];
	if (recv(c, buf, sizeof(buf), 0) != 18)
		return 5;
	struct iovec iov[2] = {{"HTTP/1.1 204 \r\n", 15}, {"\r\n", 2}};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
	if (sendmsg(c, &m, MSG_NOSIGNAL) != 17 ||
	    send(c, "", 0, MSG_NOSIGNAL) != 0)
		return 6;
	if (epoll_ctl(api.ep, EPOLL_CTL_DEL, c, NULL) || shutdown(c, SHUT_RDWR) ||
	    close(c))
		return 7;
	/* What an error body costs: jansson, malloc. */
	return do_memory(NULL) ? 8 : 0;
}

Test(confine, api_serves_a_connection)
{
	struct outcome o = run_confined(CONFINE_API, CONFINE_KILL, api_setup,
					api_serve, NULL);
	expect_allowed(&o);
}

static int open_devnull_ro(void *arg)
{
	(void)arg;
	open("/dev/null", O_RDONLY);
	return 0;
}

Test(confine, api_opens_nothing_and_makes_no_ioctl)
{
	struct outcome o = run_kill(CONFINE_API, open_devnull_ro, NULL);
	expect_killed(&o, "api", "openat");
	o = run_ioctl(CONFINE_API, FIONREAD);
	expect_killed(&o, "api", "ioctl");
	o = run_kill(CONFINE_API, do_socket, NULL);
	expect_killed(&o, "api", "socket");
}

/* MHD's thread starts with every asynchronous signal blocked, SIGSYS too:
 * the report must still come. */
static int block_all(void *arg)
{
	(void)arg;
	sigset_t all;
	sigfillset(&all);
	return pthread_sigmask(SIG_BLOCK, &all, NULL) ? 90 : 0;
}

Test(confine, api_reports_with_every_signal_blocked)
{
	struct outcome o = run_confined(CONFINE_API, CONFINE_KILL, block_all,
					do_socket, NULL);
	expect_killed(&o, "api", "socket");
}

/* The pseudo-filter text, for docs/security.md. */
Test(confine, exports_each_filter)
{
	for (int k = 0; k < CONFINE_THREAD_KINDS; k++) {
		FILE *f = tmpfile();
		cr_assert(f);
		cr_assert_eq(confine_seccomp_export(k, CONFINE_KILL, fileno(f)), 0);
		cr_assert_gt(ftell(f) + lseek(fileno(f), 0, SEEK_END), 100);
		fclose(f);
	}
	cr_assert_eq(confine_seccomp_export(CONFINE_MAIN, CONFINE_OFF, 1), -EINVAL);
}
