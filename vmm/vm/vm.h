/* The VM: KVM fds, guest memory, buses, devices, vCPUs and the main loop.
 * Threads: built and torn down on the main thread; vm_request_exit() is
 * safe from any thread. */
#ifndef VMM_VM_H
#define VMM_VM_H

#include "config/config.h"
#include "vm/console.h"
#include "vm/dirty_log.h"
#include "vm/event_loop.h"
#include "vm/pause_gate.h"
#include "vm/vcpu.h"

#include <arch/machine.h>
#include <core/gmem.h>
#include <core/discard.h>
#include <devices/acpi_pm.h>
#include <devices/balloon.h>
#include <devices/bus.h>
#include <devices/i8042.h>
#include <devices/serial.h>
#include <devices/virtio_mmio.h>

#include <signal.h>
#include <stdatomic.h>
#include <termios.h>

#define VM_MAX_VIRTIO 4
/* SIGUSR2 makes a running VM log where each vCPU is (a hung guest's
 * report); the VM goes on. */
#define VM_DUMP_SIGNAL SIGUSR2

struct cmdline;
struct discard_engine;
struct queue_event;
struct vm_reclaim;
struct snapshot_job;

enum vm_exit_kind {
	VM_EXIT_NONE,
	VM_EXIT_POWEROFF, /* clean guest power-off: status 0 */
	VM_EXIT_RESET,    /* guest reboot (i8042, ACPI, PSCI): status 0 */
	VM_EXIT_TRIPLE_FAULT,
	VM_EXIT_SIGNAL,   /* SIGTERM/SIGINT from the host: status 0 */
	VM_EXIT_ERROR,    /* KVM or internal error: status 1 */
};

struct vm {
	/* Set once every fd below is -1 or owned, before anything can fail:
	 * vm_destroy does nothing without it (a zeroed or destroyed vm). */
	bool created;
	/* CLOCK_MONOTONIC ns when main() began, for the startup figure. */
	uint64_t start_ns;
	const struct vm_config *cfg;
	int kvm_fd;
	int vm_fd;
	int vcpu_mmap_size;
	struct gmem mem;
	struct bus mmio_bus;
	struct bus pio_bus;
	struct event_loop loop;
	/* The architecture's own state (vm_arch.h). */
	struct arch_vm arch;

	struct serial serial;
	struct console console; /* the UART's output, never blocking */
	int serial_irqfd;
	/* Only where vm_arch_platform has them (x86). */
	struct i8042 i8042;
	struct acpi_pm acpi_pm;

	/* virtio-mmio slots, one device each, where vm_arch_virtio_slot says. */
	unsigned nr_virtio;
	struct vm_virtio_slot {
		struct virtio_mmio mmio;
		bool initialized;
		uint64_t base;
		unsigned gsi;
		int irqfd;
		int ioeventfds[VIRTIO_MMIO_MAX_QUEUES];
		struct queue_event *queue_events[VIRTIO_MMIO_MAX_QUEUES];
	} virtio[VM_MAX_VIRTIO];

	/* The balloon, NULL when not configured. */
	struct balloon *balloon;
	struct discard *discard;
	struct discard_engine *discard_engine;
	int stats_timer_fd;

	unsigned nr_vcpus;
	struct vcpu *vcpus;
	struct vcpu_env vcpu_env; /* what every vCPU is handed */
	/* vCPU threads park here while the VM is paused (vm_pause.c). */
	struct pause_gate pause;
	/* Hint-based reclaim in progress or last done (vm_reclaim.c). */
	struct vm_reclaim *reclaim;
	/* The snapshot being taken (snapshot_save.c), one at a time. */
	struct snapshot_job *snapshot_job;
	/* Dirty page logging of guest RAM, ring or bitmap (dirty_log.c). */
	struct dirty_log dirty;

	atomic_int exit_kind;
	char exit_msg[256];
	int signal_fd;
	int stdin_fd;
	bool stdin_open;
	/* The terminal as it was before vm_run made it raw. */
	struct termios saved_termios;
	bool termios_saved;
};

int vm_create(struct vm *vm, const struct vm_config *cfg, char *err,
	      size_t errlen);
/* The same VM without a kernel: memory zeroed, devices fresh, vCPUs with
 * CPUID only, for snapshot_load to fill in. */
int vm_create_for_restore(struct vm *vm, const struct vm_config *cfg,
			  char *err, size_t errlen);
/* Starts vCPUs and runs the main loop until the guest or host ends it.
 * Returns the process exit status. */
int vm_run(struct vm *vm);
/* Releases what a create (whole or failed) built; a no-op on a zeroed or
 * destroyed vm, so safe to call after any failure and to repeat. */
void vm_destroy(struct vm *vm);
/* Records why the VM ends (first reason wins), stops the main loop and
 * kicks every vCPU out of KVM_RUN. */
void vm_request_exit(struct vm *vm, enum vm_exit_kind kind, const char *msg);

/* Balloon controls for the API (main loop): 0 or -errno. */
int vm_balloon_set_stats_interval(struct vm *vm, uint32_t interval_s);

/* Pause and resume (vm_pause.c), main loop: every vCPU thread leaves
 * KVM_RUN and waits until resume. 0, -EALREADY (already paused / not
 * paused), -ETIMEDOUT (a vCPU did not stop; the VM runs on), -ESHUTDOWN. */
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);
bool vm_paused(struct vm *vm);

/* Device wiring (vm_devices.c), before the kernel is loaded. The guest
 * finds the devices in the DSDT (x86) or the device tree (arm64);
 * vm_add_virtio_cmdline appends their virtio_mmio.device= arguments for an
 * x86 guest that runs without ACPI. Each slot's irqfd is made here and
 * registered with KVM by vm_virtio_register_irqfds once the vCPUs exist. */
int vm_add_virtio(struct vm *vm, struct virtio_dev *dev);
int vm_virtio_register_irqfds(struct vm *vm);
int vm_add_balloon(struct vm *vm);
int vm_add_virtio_cmdline(struct vm *vm, struct cmdline *cl);
/* The balloon's settings from the VM's config (mem_lock included). */
void vm_balloon_config(const struct vm_config *cfg, struct balloon_config *bc);
void vm_devices_destroy(struct vm *vm);

#endif
