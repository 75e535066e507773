#include "vm/pause_gate.h"

#include <errno.h>
#include <time.h>

/* How often the controller re-kicks threads that have not parked yet. */
#define PAUSE_GATE_KICK_NS 5000000ULL

int pause_gate_init(struct pause_gate *g, unsigned nr)
{
	*g = (struct pause_gate){.active = nr};
	pthread_condattr_t ca;
	int r = pthread_condattr_init(&ca);
	if (r)
		return -r;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	r = pthread_cond_init(&g->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (r)
		return -r;
	if ((r = pthread_mutex_init(&g->lock, NULL))) {
		pthread_cond_destroy(&g->cond);
		return -r;
	}
	return 0;
}

void pause_gate_destroy(struct pause_gate *g)
{
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->cond);
}

bool pause_gate_checkpoint(struct pause_gate *g,
			   void (*before_park)(void *opaque), void *opaque)
{
	pthread_mutex_lock(&g->lock);
	if (before_park && g->pause && !g->shutdown) {
		pthread_mutex_unlock(&g->lock);
		before_park(opaque);
		pthread_mutex_lock(&g->lock);
	}
	if (g->pause && !g->shutdown) {
		g->parked++;
		pthread_cond_broadcast(&g->cond);
		while (g->pause && !g->shutdown)
			pthread_cond_wait(&g->cond, &g->lock);
		g->parked--;
		pthread_cond_broadcast(&g->cond);
	}
	bool run = !g->shutdown;
	pthread_mutex_unlock(&g->lock);
	return run;
}

void pause_gate_join(struct pause_gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->active++;
	pthread_mutex_unlock(&g->lock);
}

void pause_gate_leave(struct pause_gate *g)
{
	pthread_mutex_lock(&g->lock);
	if (g->active)
		g->active--;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static void pause_gate_deadline(struct timespec *ts, unsigned long long ns)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ns += (unsigned long long)ts->tv_nsec;
	ts->tv_sec += (time_t)(ns / 1000000000ULL);
	ts->tv_nsec = (long)(ns % 1000000000ULL);
}

static bool pause_gate_after(const struct timespec *a,
			     const struct timespec *b)
{
	return a->tv_sec > b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

int pause_gate_pause(struct pause_gate *g, void (*kick)(void *opaque),
		     void *opaque, unsigned timeout_ms)
{
	struct timespec end, now;
	pause_gate_deadline(&end, (unsigned long long)timeout_ms * 1000000ULL);
	pthread_mutex_lock(&g->lock);
	if (g->shutdown || g->pause) {
		int e = g->shutdown ? -ESHUTDOWN : -EALREADY;
		pthread_mutex_unlock(&g->lock);
		return e;
	}
	g->pause = true;
	int r = 0;
	while (!g->shutdown && g->parked < g->active) {
		/* Kick outside the lock: the kick may take other locks. */
		pthread_mutex_unlock(&g->lock);
		kick(opaque);
		pthread_mutex_lock(&g->lock);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!pause_gate_after(&end, &now)) {
			r = -ETIMEDOUT;
			break;
		}
		struct timespec wake;
		pause_gate_deadline(&wake, PAUSE_GATE_KICK_NS);
		if (pause_gate_after(&wake, &end))
			wake = end;
		if (g->parked < g->active && !g->shutdown)
			pthread_cond_timedwait(&g->cond, &g->lock, &wake);
	}
	if (g->shutdown && !r)
		r = -ESHUTDOWN;
	if (r) {
		g->pause = false;
		pthread_cond_broadcast(&g->cond);
	}
	pthread_mutex_unlock(&g->lock);
	return r;
}

int pause_gate_resume(struct pause_gate *g)
{
	pthread_mutex_lock(&g->lock);
	bool was = g->pause;
	g->pause = false;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
	return was ? 0 : -EALREADY;
}

bool pause_gate_paused(struct pause_gate *g)
{
	pthread_mutex_lock(&g->lock);
	bool p = g->pause;
	pthread_mutex_unlock(&g->lock);
	return p;
}

void pause_gate_start_paused(struct pause_gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->pause = true;
	pthread_mutex_unlock(&g->lock);
}

void pause_gate_shutdown(struct pause_gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->shutdown = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}
