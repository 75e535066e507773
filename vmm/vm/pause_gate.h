/* The pause handshake between the main thread and vCPU threads, without
 * KVM: the main thread asks, kicks each thread, and waits until every thread
 * that still runs has parked at its checkpoint (the top of its KVM_RUN loop);
 * resume lets them go. Shutdown releases everyone for good.
 *
 * Threads: checkpoint/leave from the threads that honour the gate; pause and
 * resume from one controlling thread; shutdown from any thread. */
#ifndef VMM_PAUSE_GATE_H
#define VMM_PAUSE_GATE_H

#include <pthread.h>
#include <stdbool.h>

struct pause_gate {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* parked, active, pause or shutdown changed */
	unsigned active;     /* threads still honouring the gate */
	unsigned parked;     /* of those, waiting at their checkpoint */
	bool pause;          /* requested by the controller */
	bool shutdown;
};

/* nr threads will honour the gate (they may not have started yet: a thread
 * parks at its first checkpoint). 0 or -errno. */
int pause_gate_init(struct pause_gate *g, unsigned nr);
void pause_gate_destroy(struct pause_gate *g);
/* Thread side, before each run: blocks while a pause is requested. Returns
 * false once the gate is shut down (the thread should end). Before parking,
 * calls before_park(opaque) (may be NULL) without the lock: a vCPU completes
 * pending I/O there so its saved state is whole. */
bool pause_gate_checkpoint(struct pause_gate *g,
			   void (*before_park)(void *opaque), void *opaque);
/* One more thread honours the gate (call before creating it). */
void pause_gate_join(struct pause_gate *g);
/* Thread side: this thread ends and no longer counts. */
void pause_gate_leave(struct pause_gate *g);
/* Controller: requests a pause and calls kick(opaque) until every active
 * thread parked (kicks are repeated, as a signal can land just before a
 * thread blocks). 0 once all parked; -EALREADY if already paused;
 * -ESHUTDOWN after shutdown; -ETIMEDOUT after timeout_ms (the request is
 * withdrawn and parked threads run again). */
int pause_gate_pause(struct pause_gate *g, void (*kick)(void *opaque),
		     void *opaque, unsigned timeout_ms);
/* Controller: lets parked threads run. -EALREADY when not paused. */
int pause_gate_resume(struct pause_gate *g);
bool pause_gate_paused(struct pause_gate *g);
/* Before any thread started: they park at their first checkpoint (a VM
 * restored paused). Resume as usual. */
void pause_gate_start_paused(struct pause_gate *g);
/* Releases every thread and makes checkpoints return false from now on. */
void pause_gate_shutdown(struct pause_gate *g);

#endif
