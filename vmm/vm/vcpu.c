/* The KVM_RUN loop every architecture shares (vcpu.h). */
#include "vm/vcpu.h"

#include "vm/pause_gate.h"

#include <core/clock.h>
#include <core/log.h>
#include <devices/bus.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static void vcpu_kick_handler(int sig) { (void)sig; }

int vcpu_signal_setup(void)
{
	struct sigaction sa = {.sa_handler = vcpu_kick_handler};
	sigemptyset(&sa.sa_mask);
	return sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0 ? -errno : 0;
}

int vcpu_create(struct vcpu *vcpu, const struct vcpu_env *env, unsigned id)
{
	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->env = env;
	vcpu->id = id;
	vcpu->fd = ioctl(env->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0)
		return -errno;
	vcpu->run = mmap(NULL, env->mmap_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		int e = -errno;
		close(vcpu->fd);
		vcpu->fd = -1;
		vcpu->run = NULL;
		return e;
	}
	return 0;
}

static void vcpu_fail(struct vcpu *vcpu, const char *what)
{
	const struct vcpu_env *env = vcpu->env;
	char msg[256];
	snprintf(msg, sizeof(msg), "vcpu%u: %s (%s=0x%llx)", vcpu->id, what,
		 env->arch->pc_name, (unsigned long long)env->arch->pc(vcpu));
	env->exit(env->opaque, VCPU_EXIT_ERROR, msg);
}

static void vcpu_handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct bus *pio = vcpu->env->pio_bus;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	for (uint32_t i = 0; i < run->io.count; i++) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			bus_write(pio, run->io.port, data, run->io.size);
		else
			bus_read(pio, run->io.port, data, run->io.size);
		data += run->io.size;
	}
}

static void vcpu_handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct bus *mmio = vcpu->env->mmio_bus;
	unsigned len = run->mmio.len;
	if (len > sizeof(run->mmio.data))
		return;
	if (run->mmio.is_write)
		bus_write(mmio, run->mmio.phys_addr, run->mmio.data, len);
	else
		bus_read(mmio, run->mmio.phys_addr, run->mmio.data, len);
}

/* Returns false when the vCPU must stop. */
static bool vcpu_handle_exit(struct vcpu *vcpu)
{
	const struct vcpu_env *env = vcpu->env;
	struct kvm_run *run = vcpu->run;
	char msg[128];
	int r;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		if (!env->pio_bus)
			break;
		vcpu_handle_io(vcpu);
		return true;
	case KVM_EXIT_MMIO:
		vcpu_handle_mmio(vcpu);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_DIRTY_RING_FULL:
		if (!(r = env->dirty_ring_full(env->opaque, vcpu->id)))
			return true;
		snprintf(msg, sizeof(msg), "dirty ring full: %s", strerror(-r));
		vcpu_fail(vcpu, msg);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
			env->exit(env->opaque, VCPU_EXIT_POWEROFF, "guest power-off");
		else
			env->exit(env->opaque, VCPU_EXIT_RESET, "guest reset");
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(msg, sizeof(msg), "KVM entry failed, reason 0x%llx",
			 (unsigned long long)
				 run->fail_entry.hardware_entry_failure_reason);
		vcpu_fail(vcpu, msg);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(msg, sizeof(msg), "KVM internal error, suberror %u",
			 run->internal.suberror);
		vcpu_fail(vcpu, msg);
		return false;
	default:
		switch (env->arch->handle_exit(vcpu)) {
		case VCPU_RUN_ON:
			return true;
		case VCPU_STOP:
			return false;
		case VCPU_UNKNOWN_EXIT:
			break;
		}
	}
	snprintf(msg, sizeof(msg), "unexpected KVM exit %u", run->exit_reason);
	vcpu_fail(vcpu, msg);
	return false;
}

static void vcpu_count_exit(struct vcpu *vcpu)
{
	const struct kvm_run *run = vcpu->run;
	unsigned r = run->exit_reason;
	uint64_t now = clock_now_ns();
	vcpu->exit_counts[r < VCPU_EXIT_REASONS ? r : VCPU_EXIT_REASONS - 1]++;
	atomic_fetch_add_explicit(&vcpu->exits, 1, memory_order_relaxed);
	atomic_store_explicit(&vcpu->last_exit_ns, now, memory_order_relaxed);
	struct vcpu_exit_record *rec =
		&vcpu->recent[vcpu->recent_next++ % VCPU_RECENT_EXITS];
	*rec = (struct vcpu_exit_record){.ns = now, .reason = r};
	if (r == KVM_EXIT_IO) {
		rec->where = run->io.port;
		rec->write = run->io.direction == KVM_EXIT_IO_OUT;
	} else if (r == KVM_EXIT_MMIO) {
		rec->where = run->mmio.phys_addr;
		rec->write = run->mmio.is_write;
	}
}

/* The last exits, oldest first, as "reason[r|w where] -ms": the steps
 * before a crash, whose registers SVM does not keep. */
static void vcpu_format_recent(const struct vcpu *vcpu, char *buf, size_t size)
{
	uint64_t now = clock_now_ns();
	unsigned total = vcpu->recent_next;
	unsigned n = total < VCPU_RECENT_EXITS ? total : VCPU_RECENT_EXITS;
	size_t len = 0;
	buf[0] = '\0';
	for (unsigned i = total - n; i != total && len < size; i++) {
		const struct vcpu_exit_record *rec =
			&vcpu->recent[i % VCPU_RECENT_EXITS];
		double ago_ms = (double)(now - rec->ns) / 1e6;
		if (rec->reason == KVM_EXIT_IO || rec->reason == KVM_EXIT_MMIO)
			len += (size_t)snprintf(buf + len, size - len,
						" %u%c0x%llx@-%.1fms", rec->reason,
						rec->write ? 'w' : 'r',
						(unsigned long long)rec->where,
						ago_ms);
		else
			len += (size_t)snprintf(buf + len, size - len,
						" %u@-%.1fms", rec->reason, ago_ms);
	}
}

/* Logs this vCPU's state for a hang report (vcpu_request_dump). */
static void vcpu_dump(struct vcpu *vcpu)
{
	char counts[512] = "", arch[512] = "", recent[512];
	size_t n = 0;
	for (unsigned r = 0; r < VCPU_EXIT_REASONS && n < sizeof(counts); r++)
		if (vcpu->exit_counts[r])
			n += (size_t)snprintf(counts + n, sizeof(counts) - n,
					      " %u:%u", r, vcpu->exit_counts[r]);
	if (vcpu->env->arch->describe)
		vcpu->env->arch->describe(vcpu, arch, sizeof(arch));
	vcpu_format_recent(vcpu, recent, sizeof(recent));
	log_info("dump: vcpu%u: %s=0x%llx %s; exits by KVM reason:%s; "
		 "last exits (reason, r/w port or address, age):%s",
		 vcpu->id, vcpu->env->arch->pc_name,
		 (unsigned long long)vcpu->env->arch->pc(vcpu), arch,
		 counts[0] ? counts : " none", recent[0] ? recent : " none");
}

void vcpu_request_dump(struct vcpu *vcpu)
{
	uint64_t last = atomic_load(&vcpu->last_exit_ns);
	if (!vcpu->started) {
		log_info("dump: vcpu%u: not running", vcpu->id);
		return;
	}
	log_info("dump: vcpu%u: %llu exits, the last %.3f s ago", vcpu->id,
		 (unsigned long long)atomic_load(&vcpu->exits),
		 last ? (double)(clock_now_ns() - last) / 1e9 : -1.0);
	/* The crashed vCPU's own thread stops without another exit. */
	if (pthread_equal(pthread_self(), vcpu->thread)) {
		vcpu_dump(vcpu);
		return;
	}
	atomic_store(&vcpu->dump_requested, true);
	vcpu_kick(vcpu);
}

/* KVM finishes a port or MMIO read on the next KVM_RUN; a snapshot of a
 * vCPU parked before that would lose it. An immediate exit completes it
 * without running guest code. */
static void vcpu_complete_io(void *opaque)
{
	struct vcpu *vcpu = opaque;
	if (!vcpu->io_pending)
		return;
	vcpu->run->immediate_exit = 1;
	if (ioctl(vcpu->fd, KVM_RUN, 0) < 0 && errno != EINTR)
		log_warn("vcpu%u: completing I/O before pause: %s", vcpu->id,
			 strerror(errno));
	vcpu->run->immediate_exit = 0;
	vcpu->io_pending = false;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	const struct vcpu_env *env = vcpu->env;
	sigset_t set;
	char name[16];

	/* Named from inside: naming another thread needs /proc, which a
	 * jail lacks. */
	snprintf(name, sizeof(name), "vcpu%u", vcpu->id);
	pthread_setname_np(pthread_self(), name);
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	bool first = env->thread_start != NULL;
	while (!atomic_load(env->stop)) {
		/* Paused VMs park here, outside KVM_RUN (vm_pause.c). */
		if (!pause_gate_checkpoint(env->pause, vcpu_complete_io, vcpu))
			break;
		if (first) {
			first = false;
			if (env->thread_start(env->opaque, vcpu->id))
				break;
		}
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				vcpu->run->immediate_exit = 0;
				if (atomic_exchange(&vcpu->dump_requested, false))
					vcpu_dump(vcpu);
				continue;
			}
			char msg[128];
			snprintf(msg, sizeof(msg), "KVM_RUN failed: %s",
				 strerror(errno));
			vcpu_fail(vcpu, msg);
			break;
		}
		vcpu_count_exit(vcpu);
		if (atomic_exchange(&vcpu->dump_requested, false))
			vcpu_dump(vcpu);
		vcpu->io_pending = vcpu->run->exit_reason == KVM_EXIT_IO ||
				   vcpu->run->exit_reason == KVM_EXIT_MMIO;
		if (!vcpu_handle_exit(vcpu))
			break;
	}
	pause_gate_leave(env->pause);
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	pause_gate_join(vcpu->env->pause);
	int r = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
	if (r) {
		pause_gate_leave(vcpu->env->pause);
		return -r;
	}
	vcpu->started = true;
	return 0;
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (!vcpu->started)
		return;
	vcpu->run->immediate_exit = 1;
	pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *vcpu)
{
	if (vcpu->started)
		pthread_join(vcpu->thread, NULL);
	vcpu->started = false;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, vcpu->env->mmap_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}
