/* vCPU threads: each loops on KVM_RUN and dispatches port and MMIO exits to
 * the buses. They never run device queue work (that arrives on the main loop
 * through ioeventfds). The loop is the same on every architecture; what
 * differs (setup, the exits only one architecture has, the program counter)
 * lives in vcpu_<arch>.c behind struct vcpu_arch_ops. A vCPU knows nothing of
 * the VM: the VM hands it a struct vcpu_env.
 *
 * Threads: create/start/join/destroy on the main thread; a vcpu is owned by
 * its thread once started; vcpu_kick() from any thread. */
#ifndef VMM_VCPU_H
#define VMM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bus;
struct pause_gate;
struct vcpu;

/* Kicks a vCPU out of KVM_RUN: blocked by the thread that starts the
 * vCPUs, unblocked by each vCPU thread. */
#define VCPU_KICK_SIGNAL SIGUSR1

/* Why a vCPU ends the VM. */
enum vcpu_exit_reason {
	VCPU_EXIT_POWEROFF, /* the guest powered off or halted */
	VCPU_EXIT_RESET,    /* the guest asked for a reset */
	VCPU_EXIT_CRASH,    /* x86 triple fault */
	VCPU_EXIT_ERROR,    /* KVM or the host failed */
};

enum vcpu_exit_action {
	VCPU_RUN_ON,
	VCPU_STOP,         /* env->exit was called */
	VCPU_UNKNOWN_EXIT, /* the loop reports it and stops */
};

/* What the generic loop asks of the architecture. */
struct vcpu_arch_ops {
	/* An exit the generic loop does not handle (x86: HLT, SHUTDOWN). */
	enum vcpu_exit_action (*handle_exit)(struct vcpu *vcpu);
	/* The guest's program counter for error messages (0 when unknown),
	 * and its register name ("rip"). */
	uint64_t (*pc)(const struct vcpu *vcpu);
	const char *pc_name;
	/* One line of the state a hang is located by (registers, pending
	 * events and interrupts), from the vCPU's thread. */
	void (*describe)(const struct vcpu *vcpu, char *buf, size_t len);
};

/* What a vCPU needs from its VM; owned by the VM, outlives the vCPUs. */
struct vcpu_env {
	int vm_fd;
	size_t mmap_size;         /* KVM_GET_VCPU_MMAP_SIZE */
	struct bus *pio_bus;      /* port I/O exits; NULL where there is none */
	struct bus *mmio_bus;
	struct pause_gate *pause; /* parked here while the VM is paused */
	const atomic_int *stop;   /* non-zero once the VM ends */
	const struct vcpu_arch_ops *arch;
	void *opaque;             /* passed to the callbacks below */
	/* Ends the VM (first reason wins); from the vCPU's thread. */
	void (*exit)(void *opaque, enum vcpu_exit_reason why, const char *msg);
	/* KVM_EXIT_DIRTY_RING_FULL: harvest vCPU id's ring. 0 or -errno. */
	int (*dirty_ring_full)(void *opaque, unsigned id);
	/* Every vCPU, on its thread, before its first KVM_RUN: the last
	 * set-up (vCPU 0's startup figures, the thread's seccomp filter).
	 * Non-zero ends the VM with env->exit called; may be NULL. */
	int (*thread_start)(void *opaque, unsigned id);
};

/* Exit counters by KVM exit reason; reasons past the end share the last. */
#define VCPU_EXIT_REASONS 48
/* The last exits a dump lists: where a vCPU was before it crashed. */
#define VCPU_RECENT_EXITS 12

struct vcpu_exit_record {
	uint64_t ns;     /* clock_now_ns() at the exit */
	uint64_t where;  /* port, MMIO address, or 0 */
	uint32_t reason; /* KVM exit reason */
	bool write;      /* an OUT or an MMIO write */
};

struct vcpu {
	const struct vcpu_env *env;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	bool io_pending; /* last exit was port or MMIO I/O (vcpu thread) */
	/* For vcpu_request_dump: written by the vCPU thread, read anywhere. */
	atomic_bool dump_requested;
	_Atomic uint64_t exits;
	_Atomic uint64_t last_exit_ns; /* 0 before the first exit */
	uint32_t exit_counts[VCPU_EXIT_REASONS]; /* vCPU thread only */
	struct vcpu_exit_record recent[VCPU_RECENT_EXITS]; /* vCPU thread */
	unsigned recent_next;
};

/* KVM_CREATE_VCPU and the kvm_run mapping. 0 or -errno. */
int vcpu_create(struct vcpu *vcpu, const struct vcpu_env *env, unsigned id);
int vcpu_start(struct vcpu *vcpu);
/* Forces the thread out of KVM_RUN (signal + immediate_exit). */
void vcpu_kick(struct vcpu *vcpu);
/* Asks the vCPU to log where it is (program counter, pending interrupts,
 * exit counts, its last exits) at its next exit, and kicks it; from any
 * thread. Also logs, from the caller, how long ago it last left KVM_RUN,
 * so a vCPU that never answers is located too. From the vCPU's own thread
 * (a crash) it logs at once. */
void vcpu_request_dump(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);
void vcpu_destroy(struct vcpu *vcpu);
/* Installs the no-op signal handler used to kick vCPUs; once per process. */
int vcpu_signal_setup(void);

#endif
