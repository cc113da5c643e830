/* internal.h: what the client core's objects (client, conn, request, session, api, fanout) know
 * of each other. Not installed. The client's fields are its own (client.c); the others go
 * through the functions below. */
#ifndef PMX_CLIENT_INTERNAL_H
#define PMX_CLIENT_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "podmux.h"
#include "client/errors.h"
#include "client/stream.h"
#include "kube/auth.h"
#include "proto/tls.h"

#define PMX_API PMX_EXTERN

/* Bounds on what a server may send us. */
#define PMX_MAX_REST_BODY (64u * 1024 * 1024)
#define PMX_MAX_HEADER_BYTES (64u * 1024)
#define PMX_MAX_ERROR_STREAM (64u * 1024)
#define PMX_MAX_STDIN_QUEUE (256u * 1024 * 1024)
#define PMX_MAX_ADDRS 8

/* Where connections go: the API server, and the HTTP CONNECT proxy in front of it (kubeconfig
 * proxy-url, else HTTPS_PROXY/HTTP_PROXY minus NO_PROXY). Read-only outside client.c. */
typedef struct pmx__endpoint {
    char *host;     /* for SNI and verification (no brackets) */
    char *hostport; /* Host header value: host[:port], IPv6 in brackets */
    int port;
    char *prefix; /* path prefix of the server URL, "" if none */
    int https;
    const char *verify_name; /* kubeconfig tls-server-name, or NULL */
    char *proxy_host;        /* NULL: direct */
    int proxy_port;
    char *proxy_authz; /* "Basic ..." from user:pass in the proxy URL, or NULL */
} pmx__endpoint_t;

/* ---- the client, for its objects --------------------------------------------------------- */
void pmx__log(pmx_client_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uv_loop_t *pmx__client_loop(const pmx_client_t *c);
const pmx_client_opts_t *pmx__client_opts(const pmx_client_t *c);
const pmx__endpoint_t *pmx__client_endpoint(const pmx_client_t *c);
/* Credentials (NULL: none configured). 1 when a 401 may be answered by refreshing them. */
auth_t *pmx__client_auth(const pmx_client_t *c);
int pmx__client_cred_refreshable(const pmx_client_t *c);
/* Headers every request carries (Impersonate-*, from the kubeconfig and the options): the
 * number of name/value pairs, and the pairs themselves. */
size_t pmx__client_headers(const pmx_client_t *c, const char *const **pairs);
/* A live request or session holds the client (pmx_client_free() refuses while any does). */
void pmx__client_hold(pmx_client_t *c);
void pmx__client_release(pmx_client_t *c);
/* The read buffer every connection of this client shares. */
stream_rbuf_t *pmx__client_rbuf(pmx_client_t *c);

/* Addresses of the host connected to (the proxy's when there is one), port included. The first
 * answer is kept for the next connections; pmx__client_forget_addrs() after a connect failure
 * makes the next connection resolve again. Literal IPs are known from the start. */
size_t pmx__client_addrs(const pmx_client_t *c);
/* Copies address number i; 0 when there is none (the list was forgotten or is shorter). */
int pmx__client_addr(const pmx_client_t *c, size_t i, struct sockaddr_storage *out);
void pmx__client_set_addrs(pmx_client_t *c, const struct addrinfo *res);
void pmx__client_forget_addrs(pmx_client_t *c);
const char *pmx__client_connect_host(const pmx_client_t *c);

/* TLS: the context for a credential's client certificate (rebuilt, without reading any file,
 * when an exec plugin hands out a new one), the session offered for resumption, and the count
 * of full and resumed handshakes. */
tls_ctx_t *pmx__client_tls(pmx_client_t *c, const auth_cred_t *cred, char *err, size_t errlen);
const tls_session_t *pmx__client_resume(const pmx_client_t *c);
/* len bytes from a CSPRNG (the TLS context's; getrandom(2) without TLS). 0 or -1. */
int pmx__client_random(pmx_client_t *c, uint8_t *buf, size_t len);
void pmx__client_tls_done(pmx_client_t *c, tls_conn_t *conn);

/* The connection gate: while one connection does the first full TLS handshake, the others
 * wait for its session so that they resume it (curl's multi handle does the same); and at most
 * PMX_MAX_CONNECTING connections are being made at once, the rest waiting in order. 256, not
 * 1,024: each handshake in flight holds ~3 KiB of mbedTLS state whose freed holes the opened
 * sessions do not fill again (2,000 idle sessions: 48.9 against 52.0 KiB each, opened as fast). */
#define PMX_MAX_CONNECTING 256
typedef struct pmx__tls_waiter {
    struct pmx__tls_waiter *next;
    void (*go)(struct pmx__tls_waiter *w); /* admitted after waiting: connect now */
    int state; /* 0 not at the gate, 1 admitted as the first handshake, 2 waiting, 3 admitted */
} pmx__tls_waiter_t;
/* 1: connect now; 0: wait for go() (already admitted then). */
int pmx__client_tls_gate(pmx_client_t *c, pmx__tls_waiter_t *w);
/* The connection is through (ready or failed) or gives up waiting. */
void pmx__client_tls_gate_leave(pmx_client_t *c, pmx__tls_waiter_t *w);

struct pmx__conn;
struct pmx__conn_cb;
struct pmx__conn_opts;
/* Test hook: the factory pmx__conn_open() uses (NULL: the real TCP one). */
typedef int (*pmx__conn_factory_t)(pmx_client_t *cl, const struct pmx__conn_opts *o,
                                   const struct pmx__conn_cb *cb, void *data,
                                   struct pmx__conn **out);
void pmx__client_set_conn_factory(pmx_client_t *c, pmx__conn_factory_t f);
pmx__conn_factory_t pmx__client_conn_factory(const pmx_client_t *c);

/* Extracts "message" from a metav1.Status JSON body, or the body's first line for plain text. */
void pmx__message_from_body(const char *body, size_t len, int status, char *out, size_t outlen);

#endif
