/* The REST API's transport: libmicrohttpd serving HTTP/1.1 on a Unix socket
 * from a thread of its own. Each complete request is queued for the main
 * loop (an eventfd wakes it) and its connection suspended; the handler runs
 * there, so device state is touched on the main loop only, and the API
 * thread, which never waits for the main loop, sends the answer.
 *
 * Hostile local clients: the socket is mode 0600; at most
 * API_MAX_CONNECTIONS are served at once and one more gets an immediate 503
 * (its socket closed when the client closes, or after a second); a
 * request's headers and body must arrive within API_REQUEST_DEADLINE_S of
 * its start (a total, not an inactivity timeout);
 * a path that decodes to a NUL or a byte outside printable ASCII gets 400.
 *
 * Ordering: the main loop runs queued requests in order. While a handler's
 * answer is deferred (snapshot/create waiting for the guest's hints), GETs
 * are still answered, and other requests wait for the deferred answer.
 *
 * Threads: api_server_start/attach/stop run on the main thread; the handler
 * runs on the main thread, from the event loop the server is attached to.
 * The API thread blocks every asynchronous signal, so SIGTERM and the vCPU
 * kick reach the main loop's signalfd and the vCPU threads only.
 *
 * Pre-boot: start the server on a small loop of its own, run that loop
 * until InstanceStart, then api_server_attach() it to the VM's loop. A
 * request that arrives in between waits (its eventfd stays readable). */
#ifndef VMM_API_SERVER_H
#define VMM_API_SERVER_H

#include "vm/event_loop.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Larger bodies get 413; no Firecracker body is near this. */
#define API_MAX_BODY (64 * 1024)

struct api_request {
	const char *method; /* "GET", "PUT", "PATCH", ... */
	const char *path;   /* without the query string */
	const char *body;   /* NUL-terminated; "" when there is none */
	size_t body_len;
};

struct api_response {
	unsigned status; /* HTTP status; 0 is answered as 500 */
	char *body;      /* malloc'd JSON, or NULL for no body */
	/* "Deprecation: true": the request used a deprecated field, as
	 * Firecracker marks it (whatever the outcome). */
	bool deprecated;
	char allow[24]; /* a 405's "Allow" value ("GET, PUT"); "" for none */
};

/* A handler that cannot answer yet (a snapshot waiting for the guest's
 * hints) sets this status and later calls api_server_answer on the main
 * loop; until then GETs are answered and other requests wait. */
#define API_STATUS_DEFERRED 1

typedef void (*api_handler_fn)(void *ctx, const struct api_request *req,
			       struct api_response *resp);

struct MHD_Daemon;

/* The server's life: a zeroed server is OFF. */
enum api_server_phase {
	API_SERVER_OFF,
	API_SERVER_RUNNING,
	API_SERVER_STOPPING, /* waiting requests get 503, new ones too */
};

/* Connections served at once; one more is answered 503 and closed. */
#define API_MAX_CONNECTIONS 16
/* A request's headers and body must arrive within this of its start (the
 * connection's, or the end of its previous answer). */
#define API_REQUEST_DEADLINE_S 10

/* A request on its way through the main loop (api_server.c). */
struct api_item;

/* One accepted connection (API thread only). */
struct api_conn_slot {
	bool used;
	bool bad_path;        /* the request's path decoded to a bad byte */
	int fd;
	uint64_t deadline_ns; /* 0: none (answering, or cut already) */
};

struct api_server {
	enum api_server_phase phase; /* written on the main thread, under lock */
	struct MHD_Daemon *mhd;
	char *sock_path;
	int listen_fd;
	int event_fd; /* API thread -> main loop: requests are queued */
	int wake_fd;  /* -> API thread: answers are ready, or stop */
	struct event_loop *loop;
	api_handler_fn handler;
	void *ctx;
	void (*thread_init)(void *ctx);
	pthread_t thread;
	bool thread_started;
	/* The request deadline in ms; API_REQUEST_DEADLINE_S unless set
	 * (tests) after start. */
	_Atomic unsigned deadline_ms;

	/* Requests between the two threads; guarded by lock.
	 *   queue    complete, waiting for the main loop (in order)
	 *   handling the main loop runs its handler
	 *   deferred its handler answers later (api_server_answer)
	 *   ready    answered: the API thread resumes its connection
	 * Stopping answers queue and deferred with 503. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct api_item *queue, *handling, *deferred, *ready;
	bool stop_thread;
	unsigned answering; /* handed to the main loop, answer not yet sent */

	/* API thread only. */
	struct api_conn_slot conns[API_MAX_CONNECTIONS];
	unsigned nr_conns;
	/* Over-limit clients answered 503 and kept open a moment, so a
	 * client that sends its request after the answer still reads it
	 * (closing at once made its send fail with EPIPE). [0, nr_refused). */
	struct {
		int fd;
		uint64_t close_ns;
	} refused[API_MAX_CONNECTIONS];
	unsigned nr_refused;
	uint64_t accept_paused_until_ns; /* out of fds: accept later */
};

/* Creates, binds (mode 0600) and listens on sock_path (a stale socket file
 * left by a dead server is removed; -EADDRINUSE if a live or busy server
 * answers there, -EEXIST if the path is not a socket; never waits) and
 * starts the API thread. 0 or -errno; the reason is logged. */
int api_server_start(struct api_server *s, const char *sock_path,
		     struct event_loop *loop, api_handler_fn handler, void *ctx);
/* The same, and thread_init(ctx) runs once on the API thread as it
 * starts, before it accepts a connection (where the thread confines
 * itself). */
int api_server_start_hooked(struct api_server *s, const char *sock_path,
			    struct event_loop *loop, api_handler_fn handler,
			    void *ctx, void (*thread_init)(void *ctx));
/* Moves the server to another loop (pre-boot loop -> VM loop). 0 or -errno. */
int api_server_attach(struct api_server *s, struct event_loop *loop);
/* Answers waiting requests with 503, stops the thread, closes and unlinks
 * the socket. A no-op on a zeroed server or one whose start failed. */
void api_server_stop(struct api_server *s);

/* Main loop: the answer to the deferred request, or to the one being
 * handled when none is deferred (resp's body is taken). */
void api_server_answer(struct api_server *s, struct api_response *resp);

/* 0 when a decoded request path of len bytes may be routed; -EINVAL when
 * it holds a NUL or a byte outside printable ASCII (compared as a C string,
 * "/balloon%00/x" would be "/balloon"). */
int api_path_check(const char *path, size_t len);

/* Response builders for handlers. */
/* Takes the reference to body. */
void api_respond_json(struct api_response *resp, unsigned status, json_t *body);
void api_respond_no_content(struct api_response *resp);
/* {"fault_message": "..."} */
void api_respond_error(struct api_response *resp, unsigned status,
		       const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
