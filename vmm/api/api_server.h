/* The REST API's transport: libmicrohttpd serving HTTP/1.1 on a Unix socket
 * from its own thread. Each complete request is handed to the main loop
 * through an eventfd; the handler runs there, so device state is touched on
 * the main loop only, and the API thread sends the handler's answer.
 * Requests are served one at a time, as in Firecracker.
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
#include <stdbool.h>
#include <stddef.h>

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
 * loop; the request is held, and later ones wait, until then. */
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

/* The one request in flight, handed between the API thread and the main
 * loop:
 *   IDLE -> QUEUED        API thread: a request, the eventfd written
 *   QUEUED -> HANDLING    main loop: the handler runs
 *   HANDLING -> ANSWERED  it returned an answer
 *   HANDLING -> DEFERRED  it returned API_STATUS_DEFERRED
 *   HANDLING -> EARLY     it called api_server_answer before returning
 *   EARLY -> ANSWERED     ... and then returned DEFERRED
 *   DEFERRED -> ANSWERED  api_server_answer, later
 *   ANSWERED -> IDLE      API thread: the answer taken to send
 * Stopping sends the API thread back to IDLE from any state with a 503. */
enum api_req_state {
	API_REQ_IDLE,
	API_REQ_QUEUED,
	API_REQ_HANDLING,
	API_REQ_EARLY,
	API_REQ_DEFERRED,
	API_REQ_ANSWERED,
};

struct api_server {
	enum api_server_phase phase; /* written on the main thread, under lock */
	struct MHD_Daemon *mhd;
	char *sock_path;
	int event_fd; /* API thread -> main loop: a request is waiting */
	struct event_loop *loop;
	api_handler_fn handler;
	void *ctx;
	void (*thread_init)(void *ctx);
	bool thread_ready; /* API thread only */

	/* The one request in flight; guarded by lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum api_req_state state;
	const struct api_request *req;
	struct api_response resp; /* EARLY, ANSWERED: the answer */
	unsigned answering; /* dispatched requests whose answer is unsent */
};

/* Creates, binds and listens on sock_path (a stale socket file left by a
 * dead server is removed; -EADDRINUSE if a live server answers there, -EEXIST
 * if the path is not a socket) and starts the API thread. 0 or -errno; the
 * reason is logged. */
int api_server_start(struct api_server *s, const char *sock_path,
		     struct event_loop *loop, api_handler_fn handler, void *ctx);
/* The same, and thread_init(ctx) runs once on the API thread, after it
 * accepted its first connection and before it reads a byte of it (where
 * the thread confines itself). */
int api_server_start_hooked(struct api_server *s, const char *sock_path,
			    struct event_loop *loop, api_handler_fn handler,
			    void *ctx, void (*thread_init)(void *ctx));
/* Moves the server to another loop (pre-boot loop -> VM loop). 0 or -errno. */
int api_server_attach(struct api_server *s, struct event_loop *loop);
/* Answers a waiting request with 503, stops the thread, closes and unlinks
 * the socket. A no-op on a zeroed server or one whose start failed. */
void api_server_stop(struct api_server *s);

/* Main loop: the answer to the deferred request (resp's body is taken). */
void api_server_answer(struct api_server *s, struct api_response *resp);

/* Response builders for handlers. */
/* Takes the reference to body. */
void api_respond_json(struct api_response *resp, unsigned status, json_t *body);
void api_respond_no_content(struct api_response *resp);
/* {"fault_message": "..."} */
void api_respond_error(struct api_response *resp, unsigned status,
		       const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
