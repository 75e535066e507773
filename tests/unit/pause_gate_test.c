/* The pause handshake with real threads standing in for vCPUs. */
#include "vm/pause_gate.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <unistd.h>

#define NR 3

static struct pause_gate gate;
static atomic_ulong laps[NR];
static atomic_int kicks;
static pthread_t th[NR];

/* A vCPU loop: one lap per checkpoint. */
static void *runner(void *arg)
{
	atomic_ulong *lap = arg;
	while (pause_gate_checkpoint(&gate, NULL, NULL)) {
		atomic_fetch_add(lap, 1);
		usleep(100);
	}
	pause_gate_leave(&gate);
	return NULL;
}

static void count_kick(void *opaque)
{
	(void)opaque;
	atomic_fetch_add(&kicks, 1);
}

static void start(unsigned n)
{
	cr_assert_eq(pause_gate_init(&gate, 0), 0);
	for (unsigned i = 0; i < n; i++) {
		atomic_store(&laps[i], 0);
		pause_gate_join(&gate);
		cr_assert_eq(pthread_create(&th[i], NULL, runner, &laps[i]), 0);
	}
}

static void stop(unsigned n)
{
	pause_gate_shutdown(&gate);
	for (unsigned i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pause_gate_destroy(&gate);
}

/* Whether thread i laps past before within 2 s: a fixed sleep is too
 * short on a loaded host. */
static bool laps_past(unsigned i, unsigned long before)
{
	for (int ms = 0; ms < 2000; ms++) {
		if (atomic_load(&laps[i]) > before)
			return true;
		usleep(1000);
	}
	return false;
}

TestSuite(pause_gate);

Test(pause_gate, pause_parks_every_thread_until_resume)
{
	start(NR);
	usleep(2000);
	cr_assert_eq(pause_gate_pause(&gate, count_kick, NULL, 1000), 0);
	cr_assert_geq(atomic_load(&kicks), 1);
	cr_assert(pause_gate_paused(&gate));
	unsigned long before[NR];
	for (unsigned i = 0; i < NR; i++)
		before[i] = atomic_load(&laps[i]);
	usleep(5000);
	for (unsigned i = 0; i < NR; i++)
		cr_assert_eq(atomic_load(&laps[i]), before[i],
			     "thread %u ran while paused", i);
	cr_assert_eq(pause_gate_pause(&gate, count_kick, NULL, 10), -EALREADY);
	cr_assert_eq(pause_gate_resume(&gate), 0);
	for (unsigned i = 0; i < NR; i++)
		cr_assert(laps_past(i, before[i]), "thread %u did not resume", i);
	cr_assert_eq(pause_gate_resume(&gate), -EALREADY);
	stop(NR);
}

Test(pause_gate, a_thread_that_never_parks_times_out_and_the_rest_run_on)
{
	start(1);
	/* A second member that never reaches its checkpoint. */
	pause_gate_join(&gate);
	cr_assert_eq(pause_gate_pause(&gate, count_kick, NULL, 30), -ETIMEDOUT);
	cr_assert_not(pause_gate_paused(&gate), "the request is withdrawn");
	cr_assert(laps_past(0, atomic_load(&laps[0])),
		  "the thread that parked did not run on");
	pause_gate_leave(&gate);
	stop(1);
}

Test(pause_gate, threads_that_left_do_not_count)
{
	start(NR);
	/* Ending threads leave; pause must not wait for them. */
	pause_gate_shutdown(&gate);
	for (unsigned i = 0; i < NR; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(gate.active, 0);
	cr_assert_eq(pause_gate_pause(&gate, count_kick, NULL, 10), -ESHUTDOWN);
	pause_gate_destroy(&gate);
}

Test(pause_gate, shutdown_releases_parked_threads)
{
	start(NR);
	cr_assert_eq(pause_gate_pause(&gate, count_kick, NULL, 1000), 0);
	stop(NR); /* joins: hangs if shutdown left anyone parked */
	cr_assert_eq(gate.active, 0);
}

static atomic_int before_park_calls, before_park_saw_pause;

static void note_before_park(void *opaque)
{
	/* Called without the gate's lock: the query would deadlock else. */
	if (pause_gate_paused(opaque))
		atomic_fetch_add(&before_park_saw_pause, 1);
	atomic_fetch_add(&before_park_calls, 1);
}

static void *runner_with_hook(void *arg)
{
	atomic_ulong *lap = arg;
	while (pause_gate_checkpoint(&gate, note_before_park, &gate)) {
		atomic_fetch_add(lap, 1);
		usleep(100);
	}
	pause_gate_leave(&gate);
	return NULL;
}

Test(pause_gate, before_park_runs_once_per_park_and_only_when_pausing)
{
	cr_assert_eq(pause_gate_init(&gate, 0), 0);
	atomic_store(&laps[0], 0);
	atomic_store(&before_park_calls, 0);
	atomic_store(&before_park_saw_pause, 0);
	pause_gate_join(&gate);
	cr_assert_eq(pthread_create(&th[0], NULL, runner_with_hook, &laps[0]), 0);
	cr_assert(laps_past(0, 0));
	cr_assert_eq(atomic_load(&before_park_calls), 0, "called while running");
	cr_assert_eq(pause_gate_pause(&gate, count_kick, NULL, 1000), 0);
	cr_assert_eq(atomic_load(&before_park_calls), 1);
	cr_assert_eq(pause_gate_resume(&gate), 0);
	cr_assert(laps_past(0, atomic_load(&laps[0])));
	cr_assert_eq(pause_gate_pause(&gate, count_kick, NULL, 1000), 0);
	cr_assert_eq(atomic_load(&before_park_calls), 2);
	cr_assert_eq(atomic_load(&before_park_saw_pause), 2);
	stop(1);
}
