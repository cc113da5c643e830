/* conn: one connection to the API server, for one request or session.
 *
 *   resolving -> (tls_gate) -> connecting -> (proxy_connect) -> tls_handshake -> ready
 *
 * It resolves the host (unless the client already knows its addresses), tries every address in
 * turn, tunnels through the client's HTTP proxy with CONNECT, and runs the TLS handshake, waiting
 * at the client's first-handshake gate so that a fan-out resumes one TLS session instead of doing
 * a full handshake per connection. It knows nothing of what is sent over it.
 *
 * Lifetime: pmx__conn_open() -> on_ready or on_fail -> ... -> pmx__conn_close() -> on_close,
 * always exactly once and always from a later loop turn. The conn owns its stream(s), its
 * getaddrinfo request and its timer; on_close runs once all of them are closed.
 *
 * The owner drives a conn only through the pmx__conn_* calls below, which go through an ops table:
 * the real one over a TCP stream, or a scripted one in the unit tests (tests/unit/test_session.c),
 * so the request and session state machines run without sockets. */
#ifndef PMX_CLIENT_CONN_H
#define PMX_CLIENT_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "podmux.h"

struct auth_cred;

typedef struct pmx__conn pmx__conn_t;

typedef struct pmx__conn_cb {
    /* The public state the connection is in: resolving, connecting or tls_handshake. */
    void (*on_phase)(void *data, pmx_state_t st);
    /* Connected (through the proxy) and, with TLS, handshake done: plaintext may be written. */
    void (*on_ready)(void *data);
    /* The connection could not be made: err is a PMX_E* code, message one line naming the
     * server or proxy. No other callback but on_close follows; the owner still closes. */
    void (*on_fail)(void *data, int err, const char *message);
    /* Plaintext from the peer (only after on_ready). Return 1 to pause reading. */
    int (*on_data)(void *data, const uint8_t *p, size_t n);
    /* The peer ended the connection (status 0) or it broke (<0). No on_data after it. */
    void (*on_end)(void *data, int status);
    /* The queue of written bytes fell to the mark asked for with pmx__conn_want_drain(). */
    void (*on_drain)(void *data);
    /* After pmx__conn_close(): the conn is gone. */
    void (*on_close)(void *data);
} pmx__conn_cb_t;

typedef struct pmx__conn_ops {
    int (*write)(pmx__conn_t *c, const void *p, size_t n);
    size_t (*queued)(const pmx__conn_t *c);
    int (*above_high_water)(const pmx__conn_t *c);
    size_t (*low_water)(const pmx__conn_t *c);
    void (*want_drain)(pmx__conn_t *c, size_t at);
    void (*pause)(pmx__conn_t *c);
    void (*resume)(pmx__conn_t *c);
    /* graceful: after the queued writes (the peer is alive); else at once. */
    void (*close)(pmx__conn_t *c, int graceful);
    void (*set_cb)(pmx__conn_t *c, const pmx__conn_cb_t *cb, void *data);
} pmx__conn_ops_t;

/* The part every implementation starts with. */
struct pmx__conn {
    const pmx__conn_ops_t *ops;
};

typedef struct pmx__conn_opts {
    const struct auth_cred *cred; /* the credential (its client certificate), or NULL */
    const char *label;            /* for the log: "ns/pod" or the request path */
} pmx__conn_opts_t;

/* Opens a connection for the client (through the client's conn factory: the real one unless a
 * test installed another). Returns 0 or a PMX_E* code (nothing to close then). */
int pmx__conn_open(pmx_client_t *cl, const pmx__conn_opts_t *o, const pmx__conn_cb_t *cb,
                   void *data, pmx__conn_t **out);
/* The real implementation, over TCP (and TLS). */
int pmx__conn_open_tcp(pmx_client_t *cl, const pmx__conn_opts_t *o, const pmx__conn_cb_t *cb,
                       void *data, pmx__conn_t **out);

static inline int pmx__conn_write(pmx__conn_t *c, const void *p, size_t n)
{
    return c->ops->write(c, p, n);
}
static inline size_t pmx__conn_queued(const pmx__conn_t *c)
{
    return c->ops->queued(c);
}
static inline int pmx__conn_above_high_water(const pmx__conn_t *c)
{
    return c->ops->above_high_water(c);
}
static inline size_t pmx__conn_low_water(const pmx__conn_t *c)
{
    return c->ops->low_water(c);
}
static inline void pmx__conn_want_drain(pmx__conn_t *c, size_t at)
{
    c->ops->want_drain(c, at);
}
static inline void pmx__conn_pause(pmx__conn_t *c)
{
    c->ops->pause(c);
}
static inline void pmx__conn_resume(pmx__conn_t *c)
{
    c->ops->resume(c);
}
static inline void pmx__conn_close(pmx__conn_t *c, int graceful)
{
    c->ops->close(c, graceful);
}
/* Hands the conn to a new owner (a request's 101 to its session). */
static inline void pmx__conn_set_cb(pmx__conn_t *c, const pmx__conn_cb_t *cb, void *data)
{
    c->ops->set_cb(c, cb, data);
}

#endif
