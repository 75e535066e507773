#include "vm/vm.h"

#include "confine/confine.h"

#include "memory/mem_lock.h"
#include "reclaim/vm_reclaim.h"
#include "vm/irqfd.h"
#include "vm/vm_arch.h"

#include <core/clock.h>
#include <core/err.h>
#include <core/cmdline.h>
#include <core/checked.h>
#include <core/log.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* How long the exit waits for a slow console reader to take the guest's
 * last lines. */
#define VM_CONSOLE_DRAIN_MS 2000

/* vcpu_env.stop reads exit_kind as "non-zero: the VM ends". */
_Static_assert(VM_EXIT_NONE == 0, "VM_EXIT_NONE must be 0");

void vm_request_exit(struct vm *vm, enum vm_exit_kind kind, const char *msg)
{
	int expected = VM_EXIT_NONE;
	if (atomic_compare_exchange_strong(&vm->exit_kind, &expected, (int)kind))
		snprintf(vm->exit_msg, sizeof(vm->exit_msg), "%s", msg);
	pause_gate_shutdown(&vm->pause);
	event_loop_stop(&vm->loop);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
}

/* vCPU 0, before its first KVM_RUN: time since start and mvmm's own RSS. */
static void vm_log_startup(struct vm *vm)
{
	char line[256];
	long rss_kib = -1;
	FILE *f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &rss_kib) == 1)
			break;
	if (f)
		fclose(f);
	log_info("startup: first KVM_RUN %.2f ms after start, VmRSS %ld KiB, guest RAM %llu MiB",
		 (double)(clock_now_ns() - vm->start_ns) / 1e6, rss_kib,
		 (unsigned long long)(vm->mem.total_bytes >> 20));
}

/* Each vCPU thread, before its first KVM_RUN; vCPU 0 reads
 * /proc/self/status first, which its filter would forbid. */
static int vm_vcpu_thread_start(void *opaque, unsigned id)
{
	struct vm *vm = opaque;
	char err[256];
	if (id == 0)
		vm_log_startup(vm);
	int r = confine_seccomp_install(CONFINE_VCPU, vm->cfg->seccomp, err,
					sizeof(err));
	if (r) {
		char msg[300];
		snprintf(msg, sizeof(msg), "vcpu%u: %s", id, err);
		vm_request_exit(vm, VM_EXIT_ERROR, msg);
	}
	return r;
}

/* The devices' side of a dump: the UART and every virtqueue. */
static void vm_dump_devices(struct vm *vm)
{
	serial_dump(&vm->serial);
	for (unsigned i = 0; i < vm->nr_virtio; i++) {
		char name[32];
		snprintf(name, sizeof(name), "virtio%u", i);
		if (vm->virtio[i].initialized)
			virtio_mmio_dump(&vm->virtio[i].mmio, name);
	}
}

static void vm_on_vcpu_exit(void *opaque, enum vcpu_exit_reason why,
			    const char *msg)
{
	struct vm *vm = opaque;
	if (why == VCPU_EXIT_CRASH) {
		/* The crashed vCPU's registers are gone (SVM re-initialises
		 * its VMCB on shutdown); the others' and the devices' say
		 * whether the guest or the host below it went wrong. */
		log_info("dump: at the crash");
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			vcpu_request_dump(&vm->vcpus[i]);
		vm_dump_devices(vm);
	}
	static const enum vm_exit_kind kinds[] = {
		[VCPU_EXIT_POWEROFF] = VM_EXIT_POWEROFF,
		[VCPU_EXIT_RESET] = VM_EXIT_RESET,
		[VCPU_EXIT_CRASH] = VM_EXIT_TRIPLE_FAULT,
		[VCPU_EXIT_ERROR] = VM_EXIT_ERROR,
	};
	vm_request_exit(vm, kinds[why], msg);
}

static int vm_on_dirty_ring_full(void *opaque, unsigned id)
{
	struct vm *vm = opaque;
	return dirty_log_ring_full(&vm->dirty, id);
}

static void i8042_reset(void *opaque)
{
	vm_request_exit(opaque, VM_EXIT_RESET, "guest reset (i8042)");
}

static void acpi_poweroff(void *opaque)
{
	vm_request_exit(opaque, VM_EXIT_POWEROFF, "guest power-off (ACPI S5)");
}

static void acpi_reset(void *opaque)
{
	vm_request_exit(opaque, VM_EXIT_RESET, "guest reset (ACPI)");
}

static int vm_setup_memory(struct vm *vm)
{
	uint64_t ranges[GMEM_MAX_REGIONS][2];
	int n = vm_arch_ram_ranges(vm->cfg->mem_size_mib << 20, ranges,
				   GMEM_MAX_REGIONS);
	if (n < 0)
		return n;
	struct gmem_opts opts = {
		.backend = vm->cfg->huge_pages == HUGE_PAGES_2M ? GMEM_HUGETLB_2M
			   : vm->cfg->mem_backend == MEM_BACKEND_MEMFD
				   ? GMEM_MEMFD_SHARED
				   : GMEM_ANON_PRIVATE,
		.transparent_hugepages =
			vm->cfg->huge_pages == HUGE_PAGES_TRANSPARENT,
	};
	int r = gmem_init(&vm->mem, (const uint64_t(*)[2])ranges, (unsigned)n,
			  &opts);
	if (r)
		return r;
	if (vm->cfg->mem_lock) {
		char msg[256];
		if ((r = mem_lock_all(&vm->mem, msg, sizeof(msg)))) {
			log_error("%s", msg);
			return r;
		}
	}
	for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
		const struct gmem_region *g = &vm->mem.regions[i];
		struct kvm_userspace_memory_region kr = {
			.slot = i,
			.guest_phys_addr = g->gpa,
			.memory_size = g->len,
			.userspace_addr = (uint64_t)(uintptr_t)g->hva,
		};
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0)
			return -errno;
	}
	return 0;
}

/* The UART where the platform has it (x86 COM1 ports, arm64 MMIO, both
 * with the 8250's registers one byte apart), and x86's reset and power-off
 * devices. arm64 powers off and resets through PSCI, which KVM handles. */
static int vm_setup_legacy_devices(struct vm *vm)
{
	const struct vm_arch_platform *p = &vm_arch_platform;
	vm->serial_irqfd = irqfd_new();
	if (vm->serial_irqfd < 0)
		return vm->serial_irqfd;
	int r = console_init(&vm->console, STDOUT_FILENO);
	if (!r)
		r = console_attach(&vm->console, &vm->loop);
	if (r)
		return r;
	struct serial_out out = {console_serial_out, &vm->console};
	serial_init(&vm->serial, irqfd_trigger(vm->serial_irqfd), out);
	r = bus_insert(p->uart_on_pio ? &vm->pio_bus : &vm->mmio_bus,
		       p->uart_base, SERIAL_PORT_LEN, &serial_bus_ops,
		       &vm->serial);
	if (r)
		return r;
	if (p->has_i8042) {
		i8042_init(&vm->i8042, i8042_reset, vm);
		r = bus_insert(&vm->pio_bus, I8042_BASE, I8042_LEN,
			       &i8042_bus_ops, &vm->i8042);
		if (r)
			return r;
	}
	if (p->has_acpi_pm) {
		acpi_pm_init(&vm->acpi_pm, acpi_poweroff, acpi_reset, vm);
		r = bus_insert(&vm->pio_bus, ACPI_PM_BASE, ACPI_PM_LEN,
			       &acpi_pm_bus_ops, &vm->acpi_pm);
	}
	return r;
}

/* The balloon, when configured. */
static int vm_add_configured_balloon(struct vm *vm, char *err, size_t errlen)
{
	int r = vm->cfg->balloon.enabled ? vm_add_balloon(vm) : 0;
	if (r)
		return err_set(err, errlen, r, "balloon: %s", strerror(-r));
	return 0;
}

static int vm_load_guest(struct vm *vm, char *err, size_t errlen)
{
	size_t max;
	int r = vm_arch_cmdline_max(vm->cfg->kernel_path, &max, err, errlen);
	if (r)
		return r;
	struct cmdline cl;
	cmdline_init(&cl, max);
	if (vm->cfg->boot_args && cmdline_append(&cl, "%s", vm->cfg->boot_args))
		return err_set(err, errlen, -E2BIG,
			       "boot-source.boot_args: longer than the kernel's %zu bytes",
			       max);
	if ((r = vm_add_configured_balloon(vm, err, errlen)))
		return r;
	/* With ACPI the DSDT lists the devices, and a kernel that also took
	 * them from the line would register each twice (the second probe
	 * fails with EBUSY); QEMU's microvm draws the same line. */
	if (vm_arch_platform.virtio_on_cmdline_without_acpi &&
	    cmdline_has_word(cmdline_str(&cl), "acpi=off") &&
	    vm_add_virtio_cmdline(vm, &cl))
		return err_set(err, errlen, -E2BIG,
			       "boot-source.boot_args: no room for the virtio_mmio.device= arguments within the kernel's %zu bytes",
			       max);
	return vm_arch_load_guest(vm, cmdline_str(&cl), err, errlen);
}

static int vm_open_kvm(struct vm *vm, char *err, size_t errlen)
{
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		snprintf(err, errlen, "/dev/kvm: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		snprintf(err, errlen, "/dev/kvm: unsupported KVM API version");
		return -EINVAL;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VM: %s", strerror(errno));
		return -errno;
	}
	vm->vcpu_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->vcpu_mmap_size <= 0) {
		snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -EINVAL;
	}
	return vm_arch_init(vm, err, errlen);
}

/* KVM, memory and the legacy devices: what booting and restoring share. */
static int vm_create_base(struct vm *vm, const struct vm_config *cfg,
			  char *err, size_t errlen)
{
	int r;
	uint64_t start_ns = vm->start_ns ? vm->start_ns : clock_now_ns();
	memset(vm, 0, sizeof(*vm));
	vm->start_ns = start_ns;
	vm->cfg = cfg;
	vm->kvm_fd = vm->vm_fd = vm->serial_irqfd = vm->signal_fd = -1;
	vm->stdin_fd = vm->stats_timer_fd = -1;
	vm->loop.epfd = vm->loop.stop_fd = -1;
	vm->created = true;
	vm->nr_vcpus = cfg->vcpu_count;
	atomic_init(&vm->exit_kind, VM_EXIT_NONE);
	if ((r = pause_gate_init(&vm->pause, 0)))
		return err_set(err, errlen, r, "pause gate: %s", strerror(-r));
	bus_init(&vm->mmio_bus);
	bus_init(&vm->pio_bus);
	if ((r = event_loop_init(&vm->loop)))
		return err_set(err, errlen, r, "event loop: %s", strerror(-r));
	if ((r = vm_open_kvm(vm, err, errlen)))
		return r;
	if ((r = vm_setup_memory(vm)))
		return err_set(err, errlen, r, "guest memory (%llu MiB): %s",
			       (unsigned long long)cfg->mem_size_mib,
			       strerror(-r));
	/* KVM takes the dirty ring only before the first vCPU exists; only
	 * hint runs read the log. */
	bool hinting = cfg->balloon.enabled && cfg->balloon.free_page_hinting;
	if ((r = dirty_log_init(&vm->dirty, vm->vm_fd, &vm->mem, vm->nr_vcpus,
				hinting)))
		return err_set(err, errlen, r, "dirty log: %s", strerror(-r));
	if (!hinting)
		log_debug("dirty log: bitmap (free_page_hinting is off)");
	if ((r = vm_setup_legacy_devices(vm)))
		return err_set(err, errlen, r, "legacy devices: %s",
			       strerror(-r));
	return 0;
}

/* Once every vCPU exists and the arch has finished with them: the
 * interrupts reach KVM (arm64 refuses irqfds before its GIC is ready). */
static int vm_connect_irqfds(struct vm *vm)
{
	int r = irqfd_register(vm->vm_fd, vm->serial_irqfd,
			       vm_arch_platform.uart_gsi);
	return r ? r : vm_virtio_register_irqfds(vm);
}

/* boot: registers for the kernel's entry; else only what a restore does not
 * set from the snapshot (x86: CPUID). */
static int vm_create_vcpus(struct vm *vm, bool boot, char *err, size_t errlen)
{
	int r;
	vm->vcpu_env = (struct vcpu_env){
		.vm_fd = vm->vm_fd,
		.mmap_size = (size_t)vm->vcpu_mmap_size,
		.pio_bus = &vm->pio_bus,
		.mmio_bus = &vm->mmio_bus,
		.pause = &vm->pause,
		.stop = &vm->exit_kind,
		.arch = vm_arch_platform.vcpu_ops,
		.opaque = vm,
		.exit = vm_on_vcpu_exit,
		.dirty_ring_full = vm_on_dirty_ring_full,
		.thread_start = vm_vcpu_thread_start,
	};
	vm->vcpus = calloc(vm->nr_vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vm->vcpus[i].fd = -1;
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if ((r = vcpu_create(v, &vm->vcpu_env, i)) ||
		    (r = dirty_log_map_ring(&vm->dirty, i, v->fd)) ||
		    (r = vm_arch_vcpu_init(vm, v, boot)))
			return err_set(err, errlen, r, "vcpu%u: %s", i,
				       strerror(-r));
	}
	if ((r = vm_arch_finalize(vm, boot, err, errlen)))
		return r;
	if ((r = vm_connect_irqfds(vm)))
		return err_set(err, errlen, r, "KVM_IRQFD: %s", strerror(-r));
	return 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg, char *err,
	      size_t errlen)
{
	int r;
	if ((r = vm_create_base(vm, cfg, err, errlen)) ||
	    (r = vm_load_guest(vm, err, errlen)))
		return r;
	return vm_create_vcpus(vm, true, err, errlen);
}

int vm_create_for_restore(struct vm *vm, const struct vm_config *cfg,
			  char *err, size_t errlen)
{
	int r;
	if ((r = vm_create_base(vm, cfg, err, errlen)))
		return r;
	if ((r = vm_add_configured_balloon(vm, err, errlen)))
		return r;
	return vm_create_vcpus(vm, false, err, errlen);
}

static void terminal_restore(struct vm *vm)
{
	if (vm->termios_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &vm->saved_termios);
	vm->termios_saved = false;
}

/* Characters go to the guest as typed; the guest echoes them. Signals stay
 * with the host so Ctrl-C still stops mvmm. vm_run and vm_destroy restore
 * the terminal. */
static void terminal_raw(struct vm *vm)
{
	struct termios t;
	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &vm->saved_termios))
		return;
	vm->termios_saved = true;
	t = vm->saved_termios;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ECHONL | IEXTEN);
	t.c_iflag &= ~(tcflag_t)(ICRNL | IXON);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	tcsetattr(STDIN_FILENO, TCSANOW, &t);
}

static void on_stdin(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	uint8_t buf[256];
	size_t space = serial_rx_space(&vm->serial);
	(void)events;
	if (space == 0)
		return; /* guest is not reading; level-triggered epoll retries */
	ssize_t n = read(vm->stdin_fd, buf, MIN(space, sizeof(buf)));
	if (n > 0) {
		serial_rx_push(&vm->serial, buf, (size_t)n);
		return;
	}
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	/* EOF or error: the console has no more input. */
	event_loop_del(&vm->loop, vm->stdin_fd);
	vm->stdin_open = false;
}

static void on_signal(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	struct signalfd_siginfo si;
	(void)events;
	if (read(vm->signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == VM_DUMP_SIGNAL) {
		log_info("dump: requested by signal %u (pid %u)", si.ssi_signo,
			 si.ssi_pid);
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			vcpu_request_dump(&vm->vcpus[i]);
		vm_dump_devices(vm);
		return;
	}
	char msg[64];
	snprintf(msg, sizeof(msg), "stopped by signal %u", si.ssi_signo);
	vm_request_exit(vm, VM_EXIT_SIGNAL, msg);
}

static int vm_setup_host_events(struct vm *vm)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, VM_DUMP_SIGNAL);
	/* Blocked before vCPU threads exist so only the signalfd sees them. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	vm->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (vm->signal_fd < 0)
		return -errno;
	int r = event_loop_add(&vm->loop, vm->signal_fd, 0, on_signal, vm);
	if (r)
		return r;
	vm->stdin_fd = STDIN_FILENO;
	int fl = fcntl(vm->stdin_fd, F_GETFL);
	if (fl >= 0 && event_loop_add(&vm->loop, vm->stdin_fd, 0, on_stdin, vm) == 0) {
		vm->stdin_open = true;
		terminal_raw(vm);
	}
	return 0;
}

/* The process exit status for why the VM ended, logged. */
static int vm_exit_status(const struct vm *vm)
{
	switch ((enum vm_exit_kind)atomic_load(&vm->exit_kind)) {
	case VM_EXIT_POWEROFF:
	case VM_EXIT_RESET:
	case VM_EXIT_SIGNAL:
		log_info("%s", vm->exit_msg);
		return 0;
	default:
		log_error("%s", vm->exit_msg);
		return 1;
	}
}

int vm_run(struct vm *vm)
{
	int r = vcpu_signal_setup();
	if (!r)
		r = vm_setup_host_events(vm);
	if (r) {
		log_error("host events: %s", strerror(-r));
		return 1;
	}
	/* The kick signal stays blocked here; vCPU threads unblock it. */
	sigset_t kick;
	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &kick, NULL);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		if ((r = vcpu_start(&vm->vcpus[i]))) {
			vm_request_exit(vm, VM_EXIT_ERROR, "cannot start vCPU thread");
			break;
		}
	}
	/* Last: the main filter allows no new thread, and every other thread
	 * (vCPUs, the API's) exists now. */
	char err[256];
	if (!r && (r = confine_seccomp_install(CONFINE_MAIN, vm->cfg->seccomp,
					       err, sizeof(err))))
		vm_request_exit(vm, VM_EXIT_ERROR, err);
	if (!r && (r = event_loop_run(&vm->loop)))
		vm_request_exit(vm, VM_EXIT_ERROR, "event loop failed");
	vm_request_exit(vm, VM_EXIT_SIGNAL, "stopped");
	/* A vCPU resetting the balloon waits for discards that only this
	 * (stopped) loop would reap. */
	if (vm->balloon)
		balloon_stop(vm->balloon);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_join(&vm->vcpus[i]);
	console_drain(&vm->console, VM_CONSOLE_DRAIN_MS);
	terminal_restore(vm);
	return vm_exit_status(vm);
}

void vm_destroy(struct vm *vm)
{
	if (!vm->created)
		return;
	terminal_restore(vm);
	if (vm->vcpus) {
		for (unsigned i = 0; i < vm->nr_vcpus; i++) {
			dirty_log_unmap_ring(&vm->dirty, i);
			vcpu_destroy(&vm->vcpus[i]);
		}
		free(vm->vcpus);
	}
	vm_reclaim_destroy(vm);
	dirty_log_destroy(&vm->dirty);
	vm_devices_destroy(vm);
	serial_destroy(&vm->serial);
	console_destroy(&vm->console);
	if (vm->serial_irqfd >= 0)
		close(vm->serial_irqfd);
	if (vm->signal_fd >= 0)
		close(vm->signal_fd);
	vm_arch_destroy(vm);
	gmem_destroy(&vm->mem);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	event_loop_destroy(&vm->loop);
	pause_gate_destroy(&vm->pause);
	/* created false again: a second destroy closes nothing reused. */
	memset(vm, 0, sizeof(*vm));
}
