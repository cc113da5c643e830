/* request: one HTTP request to the API server on a conn of its own: the credential (waiting for
 * an exec plugin if need be), the connection, the request bytes, the response with its limits,
 * one retry with refreshed credentials after a 401, and the response timeout.
 *
 *   waiting_credentials -> (conn: resolving, connecting, tls_handshake) -> sent -> done
 *
 * A REST GET ends in on_done with the body. An upgrade (a session's exec or attach) ends in
 * on_upgrade when the server answers 101: the conn and the bytes that followed the headers pass
 * to the session; any other answer ends in on_done with the error it means.
 *
 * Lifetime: pmx__request_start() -> (on_phase...) -> on_done or on_upgrade, exactly once unless
 * closed before -> pmx__request_close() (also to cancel) -> on_close, always from a later loop
 * turn. The request owns its conn until it hands it over, its timer and its parsed response. */
#ifndef PMX_CLIENT_REQUEST_H
#define PMX_CLIENT_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "client/conn.h"
#include "podmux.h"
#include "proto/http.h"

typedef struct pmx__request pmx__request_t;

/* The outcome of a request that did not upgrade. */
typedef struct pmx__response {
    int err;          /* 0: a 2xx to a GET; else a PMX_E* code */
    int http_status;  /* 0 when no response came */
    const char *body; /* the body (never NULL) */
    size_t len;
    const char *message; /* one line when err != 0: the Status message, or what went wrong */
    const char *reason;  /* the Status reason ("NotFound"), or "" */
    double retry_after;  /* Retry-After in seconds, or 0 */
} pmx__response_t;

typedef struct pmx__request_cb {
    void (*on_phase)(void *data, pmx_state_t st);
    /* The request is written (for an exec: the command may now run). May be NULL. */
    void (*on_sent)(void *data);
    /* 101: the conn is the caller's from now on (give it callbacks with pmx__conn_set_cb()
     * before returning); rest is what followed the headers in the same read. */
    void (*on_upgrade)(void *data, pmx__conn_t *conn, const http_msg_t *resp, const uint8_t *rest,
                       size_t n);
    void (*on_done)(void *data, const pmx__response_t *r);
    void (*on_close)(void *data);
} pmx__request_cb_t;

typedef struct pmx__request_opts {
    const char *target;         /* path and query after the server's prefix ("/api/v1/...") */
    const char *const *headers; /* more "Name", "value" pairs, NULL-terminated, or NULL */
    int upgrade;                /* a WebSocket upgrade rather than a GET of a document */
    uint64_t timeout_ms;        /* from the request written to the response's end (headers) */
    size_t max_body;            /* 0: PMX_MAX_REST_BODY */
    const char *label;          /* for messages and the log */
} pmx__request_opts_t;

/* Copies what it needs of o. Returns 0 or PMX_ENOMEM (nothing to close then). */
int pmx__request_start(pmx_client_t *c, const pmx__request_opts_t *o, const pmx__request_cb_t *cb,
                       void *data, pmx__request_t **out);
void pmx__request_close(pmx__request_t *r);

/* A GET whose result goes to a pmx_get_cb (what api.c and pmx_client_get() use). */
int pmx__get(pmx_client_t *c, const char *path, pmx_get_cb cb, void *data);

#endif
