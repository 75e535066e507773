/* The API server's internals, shared by its files: the request items passed
 * between the API thread and the main loop (api_server.c), the HTTP side
 * the API thread runs through libmicrohttpd (api_http.c) and the listening
 * socket with its admission of connections (api_listen.c). */
#ifndef MVMM_API_SERVER_PRIV_H
#define MVMM_API_SERVER_PRIV_H

#include "api/api_server.h"

#include <stdbool.h>
#include <stdint.h>

/* A body over the cap is read and dropped up to this much before the
 * connection is closed instead of answered. */
#define API_DISCARD_LIMIT (16u << 20)
/* Out of file descriptors: how long accepting pauses. */
#define API_ACCEPT_PAUSE_NS (100ULL * 1000000ULL)
/* An idle connection: how long MHD keeps it between requests at most. */
#define API_IDLE_TIMEOUT_S 60

/* A complete request handed to the main loop; lives in its api_conn. */
struct api_item {
	struct api_item *next;
	struct MHD_Connection *conn;
	struct api_request req;
	struct api_response resp;
	bool answered; /* resp holds the answer (ready, or early) */
};

/* Per-connection request state, owned by the API thread. */
struct api_conn {
	char *body;
	size_t len;
	size_t dropped;
	bool too_big;
	bool queued; /* handed to the main loop: counted in answering */
	char *method, *path;
	struct api_item item;
};

/* Appends it to a list (lock held). */
void api_list_push(struct api_item **head, struct api_item *it);
/* Signals an eventfd; a full counter is fine. */
void api_wake(int fd);

/* The HTTP server on s, polled by the API thread; NULL on failure. */
struct MHD_Daemon *api_http_start(struct api_server *s);

/* A listening socket at path, mode 0600 (a stale socket file is removed,
 * a live one refused); the fd or -errno. */
int api_listen_unix(const char *path);
/* Accepts what is pending: each to MHD, or a 503 over the limit. */
void api_accept_all(struct api_server *s);
/* Cuts connections past their deadline; the next wake-up in ms, or -1. */
int api_watchdog(struct api_server *s);
/* Closes refused sockets whose client closed or whose second is up (all
 * with force); the next wake-up in ms, or -1. */
int api_refused_expire(struct api_server *s, bool force);

#endif
