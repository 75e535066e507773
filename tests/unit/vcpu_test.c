/* The generic vCPU loop with the x86 exits, against /dev/kvm: a tiny flat
 * 32-bit guest, a vcpu_env of test doubles, no struct vm (skipped where
 * /dev/kvm cannot be opened). */
#include "fakes/kvm_guest.h"
#include "vm/pause_gate.h"
#include "vm/vcpu.h"
#include "vm/vcpu_x86_64.h"

#include <devices/bus.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

TestSuite(vcpu);

#define CODE_GPA 0x1000u
#define MMIO_GPA 0xd0000000u
#define PORT 0x80u

struct tvm {
	struct kvm_guest g;
	struct bus pio, mmio;
	struct pause_gate pause;
	atomic_int stop;
	struct vcpu_env env;
	struct vcpu vcpu;
	/* What the test doubles saw. */
	uint8_t port_data[8];
	unsigned port_writes;
	uint32_t mmio_data;
	uint64_t mmio_offset;
	unsigned mmio_writes, mmio_reads;
	int exits;
	enum vcpu_exit_reason why;
	char msg[256];
	int first_runs;
	unsigned started_id;
	int refuse_start; /* what thread_start returns */
};

static void pio_write(void *dev, uint64_t offset, const void *data, unsigned len)
{
	struct tvm *t = dev;
	(void)offset;
	unsigned n = __atomic_load_n(&t->port_writes, __ATOMIC_RELAXED);
	if (n < sizeof(t->port_data) && len == 1)
		t->port_data[n] = *(const uint8_t *)data;
	__atomic_store_n(&t->port_writes, n + 1, __ATOMIC_RELEASE);
}

static void pio_read(void *dev, uint64_t offset, void *data, unsigned len)
{
	(void)dev, (void)offset;
	memset(data, 0, len);
}

static const struct bus_dev_ops pio_ops = {pio_read, pio_write};

static void mmio_write(void *dev, uint64_t offset, const void *data,
		       unsigned len)
{
	struct tvm *t = dev;
	t->mmio_offset = offset;
	memcpy(&t->mmio_data, data, len < 4 ? len : 4);
	t->mmio_writes++;
}

static void mmio_read(void *dev, uint64_t offset, void *data, unsigned len)
{
	struct tvm *t = dev;
	uint32_t v = 0x5a5a5a5a;
	(void)offset;
	memcpy(data, &v, len < 4 ? len : 4);
	t->mmio_reads++;
}

static const struct bus_dev_ops mmio_ops = {mmio_read, mmio_write};

static void on_vcpu_exit(void *opaque, enum vcpu_exit_reason why, const char *msg)
{
	struct tvm *t = opaque;
	if (t->exits++ == 0) {
		t->why = why;
		snprintf(t->msg, sizeof(t->msg), "%s", msg);
	}
	atomic_store(&t->stop, 1);
}

static int on_ring_full(void *opaque, unsigned id)
{
	(void)opaque, (void)id;
	return -EINVAL;
}

static int on_thread_start(void *opaque, unsigned id)
{
	struct tvm *t = opaque;
	t->first_runs++;
	t->started_id = id;
	return t->refuse_start;
}

static void kick_vcpu(void *opaque)
{
	vcpu_kick(opaque);
}

static void tvm_open(struct tvm *t)
{
	memset(t, 0, sizeof(*t));
	const uint64_t ranges[1][2] = {{0, 2ULL << 20}};
	kvm_guest_open(&t->g, ranges, 1);
	bus_init(&t->pio);
	bus_init(&t->mmio);
	cr_assert_eq(bus_insert(&t->pio, PORT, 1, &pio_ops, t), 0);
	cr_assert_eq(bus_insert(&t->mmio, MMIO_GPA, 0x1000, &mmio_ops, t), 0);
	cr_assert_eq(pause_gate_init(&t->pause, 0), 0);
	atomic_init(&t->stop, 0);
	t->env = (struct vcpu_env){
		.vm_fd = t->g.vm_fd,
		.mmap_size = t->g.vcpu_mmap_size,
		.pio_bus = &t->pio,
		.mmio_bus = &t->mmio,
		.pause = &t->pause,
		.stop = &t->stop,
		.arch = &vcpu_x86_ops,
		.opaque = t,
		.exit = on_vcpu_exit,
		.dirty_ring_full = on_ring_full,
		.thread_start = on_thread_start,
	};
	cr_assert_eq(vcpu_create(&t->vcpu, &t->env, 0), 0);
	cr_assert_eq(vcpu_signal_setup(), 0);
}

static void tvm_close(struct tvm *t)
{
	vcpu_destroy(&t->vcpu);
	pause_gate_destroy(&t->pause);
	kvm_guest_close(&t->g);
}

/* Copies code to CODE_GPA and points the vCPU at it. */
static void tvm_load(struct tvm *t, const uint8_t *code, size_t len)
{
	uint8_t *p = gmem_ptr(&t->g.mem, CODE_GPA, len);
	cr_assert_not_null(p);
	memcpy(p, code, len);
	kvm_guest_enter_flat32(t->vcpu.fd, CODE_GPA);
}

/* Starts the vCPU thread; this thread keeps the kick signal blocked, as
 * vm_run does. */
static void tvm_start(struct tvm *t)
{
	sigset_t kick;
	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &kick, NULL);
	cr_assert_eq(vcpu_start(&t->vcpu), 0);
}

/* Waits up to 5 s for the guest to write the port more than `than` times. */
static void wait_port_writes_above(struct tvm *t, unsigned than)
{
	for (int ms = 0; ms < 5000; ms++) {
		if (__atomic_load_n(&t->port_writes, __ATOMIC_ACQUIRE) > than)
			return;
		usleep(1000);
	}
	cr_assert_fail("the guest did not run");
}

/* Runs the vCPU thread until it ends by itself. */
static void tvm_run(struct tvm *t)
{
	tvm_start(t);
	vcpu_join(&t->vcpu);
}

Test(vcpu, port_writes_reach_the_bus_and_hlt_powers_off)
{
	struct tvm t;
	tvm_open(&t);
	static const uint8_t code[] = {
		0xb0, 0x42,       /* mov al, 0x42 */
		0xe6, PORT,       /* out PORT, al */
		0xb0, 0x43,       /* mov al, 0x43 */
		0xe6, PORT,       /* out PORT, al */
		0xf4,             /* hlt */
	};
	tvm_load(&t, code, sizeof(code));
	tvm_run(&t);
	cr_assert_eq(t.port_writes, 2);
	cr_assert_eq(t.port_data[0], 0x42);
	cr_assert_eq(t.port_data[1], 0x43);
	cr_assert_eq(t.exits, 1);
	cr_assert_eq(t.why, VCPU_EXIT_POWEROFF);
	cr_assert_str_eq(t.msg, "guest halted");
	cr_assert_eq(t.first_runs, 1, "the thread's set-up runs once");
	cr_assert_eq(t.started_id, 0);
	tvm_close(&t);
}

Test(vcpu, mmio_reads_and_writes_go_through_the_bus_with_offsets)
{
	struct tvm t;
	tvm_open(&t);
	static const uint8_t code[] = {
		0xc7, 0x05, 0x10, 0x00, 0x00, 0xd0, /* mov dword [MMIO_GPA+0x10], */
		0x78, 0x56, 0x34, 0x12,             /*     0x12345678 */
		0xa1, 0x20, 0x00, 0x00, 0xd0,       /* mov eax, [MMIO_GPA+0x20] */
		0xe6, PORT,                         /* out PORT, al */
		0xf4,                               /* hlt */
	};
	tvm_load(&t, code, sizeof(code));
	tvm_run(&t);
	cr_assert_eq(t.mmio_writes, 1);
	cr_assert_eq(t.mmio_offset, 0x10);
	cr_assert_eq(t.mmio_data, 0x12345678);
	cr_assert_eq(t.mmio_reads, 1);
	cr_assert_eq(t.port_writes, 1);
	cr_assert_eq(t.port_data[0], 0x5a, "the bus's read reached the guest");
	cr_assert_eq(t.why, VCPU_EXIT_POWEROFF);
	tvm_close(&t);
}

Test(vcpu, a_kick_after_stop_ends_a_spinning_guest_without_an_exit_reason)
{
	struct tvm t;
	tvm_open(&t);
	static const uint8_t code[] = {0xeb, 0xfe}; /* jmp $ */
	tvm_load(&t, code, sizeof(code));
	tvm_start(&t);
	usleep(20000);
	atomic_store(&t.stop, 1);
	vcpu_kick(&t.vcpu);
	vcpu_join(&t.vcpu);
	cr_assert_eq(t.exits, 0, "stopping from outside is not a guest exit");
	tvm_close(&t);
}

Test(vcpu, a_paused_vcpu_parks_outside_kvm_run_and_runs_on_after_resume)
{
	struct tvm t;
	tvm_open(&t);
	static const uint8_t code[] = {
		0xe6, PORT, /* l: out PORT, al */
		0xeb, 0xfc, /*    jmp l */
	};
	tvm_load(&t, code, sizeof(code));
	tvm_start(&t);
	wait_port_writes_above(&t, 0);
	cr_assert_eq(pause_gate_pause(&t.pause, kick_vcpu, &t.vcpu, 1000), 0);
	unsigned parked = __atomic_load_n(&t.port_writes, __ATOMIC_RELAXED);
	usleep(20000);
	cr_assert_eq(__atomic_load_n(&t.port_writes, __ATOMIC_RELAXED), parked,
		     "a parked vCPU ran guest code");
	cr_assert_eq(pause_gate_resume(&t.pause), 0);
	wait_port_writes_above(&t, parked);
	atomic_store(&t.stop, 1);
	pause_gate_shutdown(&t.pause);
	vcpu_kick(&t.vcpu);
	vcpu_join(&t.vcpu);
	cr_assert_eq(t.exits, 0);
	tvm_close(&t);
}

static void redirect(void)
{
	cr_redirect_stderr();
}

/* A hang report: a vCPU spinning in the guest, asked from another thread,
 * logs where it is, and runs on. */
Test(vcpu, a_dump_request_makes_a_spinning_vcpu_log_where_it_is, .init = redirect)
{
	struct tvm t;
	tvm_open(&t);
	static const uint8_t code[] = {0xeb, 0xfe}; /* jmp $ */
	tvm_load(&t, code, sizeof(code));
	tvm_start(&t);
	usleep(20000);
	vcpu_request_dump(&t.vcpu);
	for (int ms = 0; ms < 5000 && atomic_load(&t.vcpu.dump_requested); ms++)
		usleep(1000);
	cr_assert_not(atomic_load(&t.vcpu.dump_requested), "no answer");
	atomic_store(&t.stop, 1);
	vcpu_kick(&t.vcpu);
	vcpu_join(&t.vcpu);
	cr_assert_eq(t.exits, 0, "the dump did not end the VM");
	tvm_close(&t);

	fflush(stderr);
	char log[4096] = "";
	size_t n = fread(log, 1, sizeof(log) - 1, cr_get_redirected_stderr());
	log[n] = 0;
	char want[64];
	snprintf(want, sizeof(want), "dump: vcpu0: rip=0x%x ", CODE_GPA);
	cr_assert_not_null(strstr(log, want), "%s", log);
	cr_assert_not_null(strstr(log, "mp_state=0"), "runnable: %s", log);
	cr_assert_not_null(strstr(log, "exits by KVM reason:"), "%s", log);
	cr_assert_not_null(strstr(log, "dump: vcpu0: 0 exits"), "%s", log);
}

/* As vm.c does at a crash: the crashed vCPU dumps itself, from its own
 * thread, before it stops. */
static void on_exit_dump(void *opaque, enum vcpu_exit_reason why, const char *msg)
{
	struct tvm *t = opaque;
	if (why == VCPU_EXIT_CRASH)
		vcpu_request_dump(&t->vcpu);
	on_vcpu_exit(opaque, why, msg);
}

/* SVM resets a vCPU that triple-faults; the last exits still show the
 * steps before the crash. */
Test(vcpu, a_crashed_vcpu_lists_its_last_exits, .init = redirect)
{
	struct tvm t;
	tvm_open(&t);
	t.env.exit = on_exit_dump;
	static const uint8_t code[] = {
		0xe6, PORT,                   /* out PORT, al */
		0xa3, 0x00, 0x00, 0x00, 0xd0, /* mov [MMIO_GPA], eax */
		0x0f, 0x0b,                   /* ud2: no IDT entry, triple fault */
	};
	tvm_load(&t, code, sizeof(code));
	tvm_start(&t);
	vcpu_join(&t.vcpu);
	cr_assert_eq(t.why, VCPU_EXIT_CRASH, "%s", t.msg);
	tvm_close(&t);

	fflush(stderr);
	char log[4096] = "";
	size_t n = fread(log, 1, sizeof(log) - 1, cr_get_redirected_stderr());
	log[n] = 0;
	const char *line = strstr(log, "last exits");
	cr_assert_not_null(line, "%s", log);
	char want[64];
	snprintf(want, sizeof(want), " %uw0x%x@", KVM_EXIT_IO, PORT);
	const char *io = strstr(line, want);
	cr_assert_not_null(io, "no port write in: %s", log);
	snprintf(want, sizeof(want), " %uw0x%x@", KVM_EXIT_MMIO, MMIO_GPA);
	const char *mmio = strstr(line, want);
	cr_assert_not_null(mmio, "no MMIO write in: %s", log);
	snprintf(want, sizeof(want), " %u@", KVM_EXIT_SHUTDOWN);
	const char *shutdown = strstr(line, want);
	cr_assert_not_null(shutdown, "no shutdown in: %s", log);
	cr_assert(io < mmio && mmio < shutdown, "oldest first: %s", log);
}

Test(vcpu, a_dump_of_a_vcpu_never_started_says_so, .init = redirect)
{
	struct tvm t;
	tvm_open(&t);
	vcpu_request_dump(&t.vcpu);
	cr_assert_not(atomic_load(&t.vcpu.dump_requested));
	tvm_close(&t);
	fflush(stderr);
	char log[512] = "";
	size_t n = fread(log, 1, sizeof(log) - 1, cr_get_redirected_stderr());
	log[n] = 0;
	cr_assert_not_null(strstr(log, "dump: vcpu0: not running"), "%s", log);
}

Test(vcpu, a_failed_thread_start_runs_no_guest_code)
{
	struct tvm t;
	tvm_open(&t);
	static const uint8_t code[] = {
		0xb0, 0x42, /* mov al, 0x42 */
		0xe6, PORT, /* out PORT, al */
		0xf4,       /* hlt */
	};
	tvm_load(&t, code, sizeof(code));
	t.refuse_start = -EPERM;
	tvm_run(&t);
	cr_assert_eq(t.first_runs, 1);
	cr_assert_eq(t.port_writes, 0, "the guest ran after a failed set-up");
	tvm_close(&t);
}
