#include "vm/vcpu.h"

#include "vm/vm.h"

#include <arch/cpuid.h>
#include <arch/lapic.h>
#include <arch/msr.h>
#include <core/log.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define VCPU_KICK_SIGNAL SIGUSR1

static void vcpu_kick_handler(int sig) { (void)sig; }

int vcpu_signal_setup(void)
{
	struct sigaction sa = {.sa_handler = vcpu_kick_handler};
	sigemptyset(&sa.sa_mask);
	return sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0 ? -errno : 0;
}

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned id)
{
	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0)
		return -errno;
	vcpu->run = mmap(NULL, (size_t)vm->vcpu_mmap_size,
			 PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		int e = -errno;
		close(vcpu->fd);
		vcpu->fd = -1;
		vcpu->run = NULL;
		return e;
	}
	size_t ring_bytes = dirty_log_ring_bytes(vm);
	if (ring_bytes) {
		void *p = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE,
			       MAP_SHARED, vcpu->fd,
			       (off_t)KVM_DIRTY_LOG_PAGE_OFFSET * getpagesize());
		if (p == MAP_FAILED) {
			int e = -errno;
			vcpu_destroy(vcpu);
			return e;
		}
		vcpu->dirty_ring.gfns = p;
	}
	return 0;
}

int vcpu_set_cpuid(struct vcpu *vcpu)
{
	const struct kvm_cpuid2 *sup = vcpu->vm->supported_cpuid;
	size_t sz = sizeof(*sup) + sup->nent * sizeof(sup->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	if (!c)
		return -ENOMEM;
	memcpy(c, sup, sz);
	int r = x86_cpuid_setup(c, vcpu->id, vcpu->vm->nr_vcpus);
	/* KVM emulates the TSC-deadline timer with the in-kernel LAPIC but
	 * leaves the CPUID bit to userspace. With it the guest skips LAPIC
	 * timer calibration, which fails on slow or nested hosts. */
	if (!r && ioctl(vcpu->vm->kvm_fd, KVM_CHECK_EXTENSION,
			KVM_CAP_TSC_DEADLINE_TIMER) > 0) {
		for (uint32_t i = 0; i < c->nent; i++)
			if (c->entries[i].function == 1)
				c->entries[i].ecx |= 1u << 24;
	}
	if (!r && ioctl(vcpu->fd, KVM_SET_CPUID2, c) < 0)
		r = -errno;
	free(c);
	return r;
}

static int vcpu_set_msrs(struct vcpu *vcpu)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[32];
	} m;
	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = x86_boot_msrs(m.e, 32);
	int n = ioctl(vcpu->fd, KVM_SET_MSRS, &m);
	if (n < 0)
		return -errno;
	if ((unsigned)n != m.hdr.nmsrs) {
		log_error("vcpu%u: KVM rejected MSR 0x%x", vcpu->id,
			  m.e[n].index);
		return -EINVAL;
	}
	return 0;
}

static int vcpu_set_lapic(struct vcpu *vcpu)
{
	struct kvm_lapic_state lapic;
	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	x86_lapic_setup(&lapic);
	return ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic) < 0 ? -errno : 0;
}

static int vcpu_set_fpu(struct vcpu *vcpu)
{
	struct kvm_fpu fpu;
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;   /* x87 default control word */
	fpu.mxcsr = 0x1f80; /* SSE exceptions masked */
	return ioctl(vcpu->fd, KVM_SET_FPU, &fpu) < 0 ? -errno : 0;
}

static int vcpu_set_boot_regs(struct vcpu *vcpu)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	memset(&regs, 0, sizeof(regs));
	int r = x86_setup_boot_regs(&vcpu->vm->mem, &vcpu->vm->boot, &regs,
				    &sregs);
	if (r)
		return r;
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0 ||
	    ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

int vcpu_configure(struct vcpu *vcpu)
{
	int r;
	if ((r = vcpu_set_cpuid(vcpu)) < 0) {
		log_error("vcpu%u: CPUID setup failed: %s", vcpu->id, strerror(-r));
		return r;
	}
	if ((r = vcpu_set_msrs(vcpu)) < 0)
		return r;
	if ((r = vcpu_set_fpu(vcpu)) < 0)
		return r;
	if ((r = vcpu_set_lapic(vcpu)) < 0)
		return r;
	/* Application processors wait for INIT/SIPI in the in-kernel LAPIC. */
	if (vcpu->id == 0 && (r = vcpu_set_boot_regs(vcpu)) < 0)
		return r;
	return 0;
}

static void vcpu_report_failure(struct vcpu *vcpu, const char *what)
{
	struct kvm_regs regs;
	char msg[256];
	memset(&regs, 0, sizeof(regs));
	ioctl(vcpu->fd, KVM_GET_REGS, &regs);
	snprintf(msg, sizeof(msg), "vcpu%u: %s (rip=0x%llx)", vcpu->id, what,
		 (unsigned long long)regs.rip);
	vm_request_exit(vcpu->vm, VM_EXIT_ERROR, msg);
}

static void vcpu_handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	for (uint32_t i = 0; i < run->io.count; i++) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			bus_write(&vcpu->vm->pio_bus, run->io.port, data,
				  run->io.size);
		else
			bus_read(&vcpu->vm->pio_bus, run->io.port, data,
				 run->io.size);
		data += run->io.size;
	}
}

static void vcpu_handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	unsigned len = run->mmio.len;
	if (len > sizeof(run->mmio.data))
		return;
	if (run->mmio.is_write)
		bus_write(&vcpu->vm->mmio_bus, run->mmio.phys_addr,
			  run->mmio.data, len);
	else
		bus_read(&vcpu->vm->mmio_bus, run->mmio.phys_addr,
			 run->mmio.data, len);
}

/* Returns false when the vCPU must stop. */
static bool vcpu_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	char msg[128];
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_handle_io(vcpu);
		return true;
	case KVM_EXIT_MMIO:
		vcpu_handle_mmio(vcpu);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_DIRTY_RING_FULL: {
		int r = dirty_log_ring_full(vcpu->vm, vcpu);
		if (!r)
			return true;
		snprintf(msg, sizeof(msg), "dirty ring full: %s", strerror(-r));
		vcpu_report_failure(vcpu, msg);
		return false;
	}
	case KVM_EXIT_SHUTDOWN:
		vm_request_exit(vcpu->vm, VM_EXIT_TRIPLE_FAULT,
				"guest triple fault (crash or failed reset)");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
			vm_request_exit(vcpu->vm, VM_EXIT_POWEROFF, "guest power-off");
		else
			vm_request_exit(vcpu->vm, VM_EXIT_RESET, "guest reset");
		return false;
	case KVM_EXIT_HLT:
		vm_request_exit(vcpu->vm, VM_EXIT_POWEROFF, "guest halted");
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(msg, sizeof(msg), "KVM entry failed, reason 0x%llx",
			 (unsigned long long)
				 run->fail_entry.hardware_entry_failure_reason);
		vcpu_report_failure(vcpu, msg);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(msg, sizeof(msg), "KVM internal error, suberror %u",
			 run->internal.suberror);
		vcpu_report_failure(vcpu, msg);
		return false;
	default:
		snprintf(msg, sizeof(msg), "unexpected KVM exit %u",
			 run->exit_reason);
		vcpu_report_failure(vcpu, msg);
		return false;
	}
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
	struct vm *vm = vcpu->vm;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	bool first = vcpu->id == 0;
	while (atomic_load(&vm->exit_kind) == VM_EXIT_NONE) {
		/* Paused VMs park here, outside KVM_RUN (vm_pause.c). */
		if (!pause_gate_checkpoint(&vm->pause, vcpu_complete_io, vcpu))
			break;
		if (first) {
			vm_log_startup(vm);
			first = false;
		}
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				vcpu->run->immediate_exit = 0;
				continue;
			}
			char msg[128];
			snprintf(msg, sizeof(msg), "KVM_RUN failed: %s",
				 strerror(errno));
			vcpu_report_failure(vcpu, msg);
			break;
		}
		vcpu->io_pending = vcpu->run->exit_reason == KVM_EXIT_IO ||
				   vcpu->run->exit_reason == KVM_EXIT_MMIO;
		if (!vcpu_handle_exit(vcpu))
			break;
	}
	pause_gate_leave(&vm->pause);
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	pause_gate_join(&vcpu->vm->pause);
	int r = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
	if (r) {
		pause_gate_leave(&vcpu->vm->pause);
		return -r;
	}
	char name[16];
	snprintf(name, sizeof(name), "vcpu%u", vcpu->id);
	pthread_setname_np(vcpu->thread, name);
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
	if (vcpu->dirty_ring.gfns)
		munmap(vcpu->dirty_ring.gfns, dirty_log_ring_bytes(vcpu->vm));
	vcpu->dirty_ring.gfns = NULL;
	if (vcpu->run)
		munmap(vcpu->run, (size_t)vcpu->vm->vcpu_mmap_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}
