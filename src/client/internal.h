/* internal.h: what client.c, session.c, api.c and fanout.c share. Not installed. */
#ifndef PMX_INTERNAL_H
#define PMX_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>
#include <uv.h>

#include "podmux.h"
#include "kube/auth.h"
#include "kube/kubeconfig.h"
#include "client/stream.h"
#include "proto/tls.h"
#include "util/buf.h"

#define PMX_API PMX_EXTERN

/* Bounds on what a server may send us. */
#define PMX_MAX_REST_BODY (64u * 1024 * 1024)
#define PMX_MAX_HEADER_BYTES (64u * 1024)
#define PMX_MAX_ERROR_STREAM (64u * 1024)
#define PMX_MAX_STDIN_QUEUE (256u * 1024 * 1024)

typedef struct pmx_tls_gen {
    tls_ctx_t *ctx;
    uint64_t cred_generation;  /* auth generation whose client certificate it carries */
    struct pmx_tls_gen *older; /* contexts still possibly used by live streams */
} pmx_tls_gen_t;

struct pmx_client {
    uv_loop_t *loop;
    kcfg_t *cfg;
    auth_t *auth;
    pmx_client_opts_t opts;
    pmx_tls_gen_t *tls; /* NULL for http:// servers */
    tls_session_t *resume;
    char *host;     /* for Host:, SNI and verification (no brackets) */
    char *hostport; /* Host header value: host[:port], IPv6 in brackets */
    int port;
    char *prefix; /* path prefix of the server URL, "" if none */
    int https;
    /* HTTP CONNECT proxy (kubeconfig proxy-url, else HTTPS_PROXY/HTTP_PROXY minus NO_PROXY). */
    char *proxy_host; /* NULL: direct */
    int proxy_port;
    char *proxy_authz;            /* "Basic ..." from user:pass in the proxy URL, or NULL */
    struct sockaddr_storage addr; /* of the proxy when there is one */
    int addr_ok;
    unsigned live;       /* sessions + REST requests not yet closed */
    stream_rbuf_t *rbuf; /* shared by every connection; freed once live is 0 */
    uint64_t tls_full, tls_resumed;
    /* While the first full handshake runs, other sessions wait for its TLS session so that they
     * resume it instead of each doing a full handshake (curl's multi handle does the same). */
    int tls_first_inflight;
    struct pmx_session *tls_waiters;
};

/* Sends a formatted line to the log sink (if any). */
void pmx_log(pmx_client_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Maps an HTTP status to a PMX_E* code. */
int pmx_err_from_http(int status);
/* Extracts "message" from a metav1.Status JSON body, or the body's first line for plain text. */
void pmx_message_from_body(const char *body, size_t len, int status, char *out, size_t outlen);
/* TLS context for the current credential (rebuilt when an exec plugin hands out a new client
 * certificate). */
tls_ctx_t *pmx_client_tls(pmx_client_t *c, const auth_cred_t *cred, char *err, size_t errlen);
void pmx_client_tls_done(pmx_client_t *c, tls_conn_t *conn);

/* A REST GET, through the same connection machinery as sessions (session.c). */
int pmx_rest_get(pmx_client_t *c, const char *path, pmx_get_cb cb, void *data);

#endif
