/* conn: one connection to the API server over TCP (see conn.h). Its phases, in order:
 *
 *   RESOLVE  uv_getaddrinfo, unless the client knows the addresses
 *   GATE     waiting at the client's gate (the first TLS handshake, or too many connecting)
 *   TCP      connecting to the client's address number `next`; a refusal moves to the next
 *   PROXY    CONNECT sent to the proxy, reading its answer
 *   TLS      handshake (inside the tunnel when there is a proxy)
 *   READY    plaintext flows; on_data/on_end/on_drain belong to the owner
 *   FAILED   on_fail was called; waiting for the owner's close
 *   CLOSING  the owner closed: waiting for the stream(s), the resolver and the timer
 *
 * One timer bounds resolving, then (restarted once the gate admits the conn) everything up to
 * READY: the connect and handshake timeouts added up. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/conn.h"
#include "client/internal.h"
#include "util/buf.h"

typedef enum {
    PH_RESOLVE,
    PH_GATE,
    PH_TCP,
    PH_PROXY,
    PH_TLS,
    PH_READY,
    PH_FAILED,
    PH_CLOSING,
} phase_t;

typedef struct tcp_conn {
    pmx__conn_t base;
    pmx_client_t *cl;
    pmx__conn_cb_t cb;
    void *data;
    auth_cred_t cred; /* a copy of the credential's pointers (its certificate) */
    int has_cred;
    const char *label;
    phase_t phase;

    stream_t *stream;      /* the current attempt */
    unsigned streams_open; /* attempts not yet closed (failed ones close in the background) */
    uv_getaddrinfo_t gai;  /* in flight while gai_pending */
    int gai_pending, resolved;
    uv_timer_t timer; /* the connect + handshake bound */
    int timer_open;
    pmx__tls_waiter_t gate;
    size_t naddrs, next; /* the client's addresses (read by index, not copied) */
    char last_error[128];
    buf_t proxy_resp;
    int close_graceful;
} tcp_conn_t;

static const pmx__conn_ops_t tcp_ops;

static void maybe_closed(tcp_conn_t *t);
static void try_next(tcp_conn_t *t);

static void fail(tcp_conn_t *t, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(tcp_conn_t *t, int err, const char *fmt, ...)
{
    if (t->phase >= PH_READY) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    t->phase = PH_FAILED;
    uv_timer_stop(&t->timer);
    pmx__client_tls_gate_leave(t->cl, &t->gate); /* a failed first lets the others go */
    if (t->cb.on_fail) t->cb.on_fail(t->data, err, msg);
}

static void set_phase(tcp_conn_t *t, phase_t ph)
{
    t->phase = ph;
    pmx_state_t st = ph == PH_RESOLVE ? PMX_STATE_RESOLVING
                     : ph == PH_TLS   ? PMX_STATE_TLS_HANDSHAKE
                                      : PMX_STATE_CONNECTING;
    if (t->cb.on_phase) t->cb.on_phase(t->data, st);
}

static const char *server(const tcp_conn_t *t)
{
    return pmx__client_endpoint(t->cl)->hostport;
}

/* ---- the stream's callbacks ------------------------------------------------------------------ */
static void send_request_to_proxy(tcp_conn_t *t);
static void proxy_data(tcp_conn_t *t, const uint8_t *p, size_t n);

static void ready(tcp_conn_t *t)
{
    uv_timer_stop(&t->timer);
    tls_conn_t *tc = stream_tls(t->stream);
    if (tc) pmx__client_tls_done(t->cl, tc);
    pmx__client_tls_gate_leave(t->cl, &t->gate);
    t->phase = PH_READY;
    if (t->cb.on_ready) t->cb.on_ready(t->data);
}

static void on_stream_ready(stream_t *st, int status)
{
    tcp_conn_t *t = stream_data(st);
    if (st != t->stream || t->phase >= PH_READY) return;
    const pmx__endpoint_t *ep = pmx__client_endpoint(t->cl);
    if (status < 0 && !stream_connected(st)) {
        /* This address refused or is unreachable: the next one, if any. */
        snprintf(t->last_error, sizeof t->last_error, "%s", stream_error(st));
        pmx__log(t->cl, "%s: connect to address %zu of %zu failed: %s", t->label, t->next,
                 t->naddrs, t->last_error);
        t->stream = NULL;
        stream_close(st);
        try_next(t);
        return;
    }
    if (status < 0) {
        fail(t, PMX_ETLS, "%s (server %s)", stream_error(st), server(t));
        return;
    }
    if (ep->proxy_host && t->phase == PH_TCP) {
        send_request_to_proxy(t);
        return;
    }
    ready(t);
}

static int on_stream_data(stream_t *st, const uint8_t *p, size_t n)
{
    tcp_conn_t *t = stream_data(st);
    if (st != t->stream) return 0;
    if (t->phase == PH_PROXY) {
        proxy_data(t, p, n);
        return 0;
    }
    if (t->phase != PH_READY || !t->cb.on_data) return 0;
    return t->cb.on_data(t->data, p, n);
}

static void on_stream_end(stream_t *st, int status)
{
    tcp_conn_t *t = stream_data(st);
    if (st != t->stream) return;
    if (t->phase < PH_READY) {
        fail(t, PMX_ECONNECT, "connection to %s closed during %s", server(t),
             t->phase == PH_PROXY ? "the proxy CONNECT" : "the TLS handshake");
        return;
    }
    if (t->phase == PH_READY && t->cb.on_end) t->cb.on_end(t->data, status);
}

static void on_stream_drain(stream_t *st)
{
    tcp_conn_t *t = stream_data(st);
    if (st == t->stream && t->phase == PH_READY && t->cb.on_drain) t->cb.on_drain(t->data);
}

static void on_stream_close(stream_t *st)
{
    tcp_conn_t *t = stream_data(st);
    if (st == t->stream) t->stream = NULL;
    t->streams_open--;
    maybe_closed(t);
}

/* ---- HTTP CONNECT through a proxy ------------------------------------------------------------ */
static void send_request_to_proxy(tcp_conn_t *t)
{
    const pmx__endpoint_t *ep = pmx__client_endpoint(t->cl);
    buf_t req;
    buf_init(&req, 0);
    int r = buf_printf(&req,
                       "CONNECT %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: podmux/" PMX_VERSION "\r\n",
                       ep->hostport, ep->hostport);
    if (r == 0 && ep->proxy_authz)
        r = buf_printf(&req, "Proxy-Authorization: %s\r\n", ep->proxy_authz);
    if (r == 0) r = buf_append_str(&req, "\r\n");
    if (r == 0) r = stream_write(t->stream, req.data, req.len);
    buf_free(&req);
    if (r < 0) {
        fail(t, PMX_ECONNECT, "cannot send CONNECT to proxy %s", ep->proxy_host);
        return;
    }
    t->phase = PH_PROXY;
}

/* The proxy's answer: a CONNECT response has no body, its headers end it. */
static void proxy_data(tcp_conn_t *t, const uint8_t *p, size_t n)
{
    const pmx__endpoint_t *ep = pmx__client_endpoint(t->cl);
    if (buf_append(&t->proxy_resp, p, n) < 0) {
        fail(t, PMX_EHTTP, "proxy %s: response headers too large", ep->proxy_host);
        return;
    }
    const char *end = strstr(t->proxy_resp.data, "\r\n\r\n");
    if (!end) return;
    int status = 0;
    if (sscanf(t->proxy_resp.data, "HTTP/1.%*d %d", &status) != 1 || status != 200) {
        fail(t, PMX_ECONNECT, "proxy %s:%d refused CONNECT %s (HTTP %d)", ep->proxy_host,
             ep->proxy_port, ep->hostport, status);
        return;
    }
    if ((size_t)(end + 4 - t->proxy_resp.data) != t->proxy_resp.len) {
        fail(t, PMX_EPROTO, "proxy %s sent data before the tunnel was used", ep->proxy_host);
        return;
    }
    pmx__log(t->cl, "%s: tunnel through proxy %s:%d open", t->label, ep->proxy_host,
             ep->proxy_port);
    buf_free(&t->proxy_resp);
    if (!ep->https) {
        ready(t);
        return;
    }
    set_phase(t, PH_TLS);
    if (stream_start_tls(t->stream) < 0)
        fail(t, PMX_ETLS, "%s (server %s)", stream_error(t->stream), server(t));
}

/* ---- connecting ------------------------------------------------------------------------------ */
static void connect_one(tcp_conn_t *t)
{
    const pmx__endpoint_t *ep = pmx__client_endpoint(t->cl);
    char err[256] = "";
    tls_ctx_t *ctx = NULL;
    if (ep->https) {
        ctx = pmx__client_tls(t->cl, t->has_cred ? &t->cred : NULL, err, sizeof err);
        if (!ctx) {
            fail(t, PMX_ETLS, "%s", err);
            return;
        }
    }
    stream_opts_t so = {0};
    so.tls = ctx;
    so.server_name = ep->host;
    so.verify_name = ep->verify_name;
    so.resume = pmx__client_resume(t->cl);
    so.rbuf = pmx__client_rbuf(t->cl);
    so.defer_tls = ep->proxy_host != NULL; /* TLS runs inside the CONNECT tunnel */
    stream_cb_t cb = {on_stream_ready, on_stream_data, on_stream_end, on_stream_drain,
                      on_stream_close};
    struct sockaddr_storage sa;
    /* Another conn may have made the client forget the list since: then no more to try. */
    if (!pmx__client_addr(t->cl, t->next++, &sa)) {
        try_next(t);
        return;
    }
    int r = stream_connect(pmx__client_loop(t->cl), (const struct sockaddr *)&sa, &so, &cb, t,
                           &t->stream);
    if (r < 0) {
        t->stream = NULL;
        snprintf(t->last_error, sizeof t->last_error, "%s", strerror(-r));
        try_next(t);
        return;
    }
    t->streams_open++;
}

static void try_next(tcp_conn_t *t)
{
    if (t->next >= t->naddrs || t->next >= pmx__client_addrs(t->cl)) {
        /* Every address failed: the next connection resolves again. */
        pmx__client_forget_addrs(t->cl);
        fail(t, PMX_ECONNECT, "cannot connect to %s: %s", server(t),
             t->last_error[0] ? t->last_error : "no address");
        return;
    }
    connect_one(t);
}

static void timeout_cb(uv_timer_t *tm);

/* Admitted at the client's gate: the connect and handshake bound starts now, not while the
 * conn waited for others. */
static void admitted(tcp_conn_t *t)
{
    const pmx_client_opts_t *o = pmx__client_opts(t->cl);
    uv_timer_start(&t->timer, timeout_cb, o->connect_timeout_ms + o->handshake_timeout_ms, 0);
    set_phase(t, PH_TCP);
    try_next(t);
}

static void gate_open(pmx__tls_waiter_t *w)
{
    tcp_conn_t *t = (tcp_conn_t *)((char *)w - offsetof(tcp_conn_t, gate));
    if (t->phase != PH_GATE) return;
    admitted(t);
}

static void start_connecting(tcp_conn_t *t)
{
    t->next = 0;
    if (!pmx__client_tls_gate(t->cl, &t->gate)) {
        uv_timer_stop(&t->timer); /* no bound while waiting at the gate */
        t->phase = PH_GATE;
        if (t->cb.on_phase) t->cb.on_phase(t->data, PMX_STATE_CONNECTING);
        return;
    }
    admitted(t);
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    tcp_conn_t *t = req->data;
    t->gai_pending = 0;
    if (t->phase == PH_CLOSING || t->phase == PH_FAILED) {
        if (res) uv_freeaddrinfo(res);
        maybe_closed(t);
        return;
    }
    if (status < 0 || !res) {
        fail(t, PMX_EDNS, "cannot resolve %s: %s", pmx__client_connect_host(t->cl),
             uv_strerror(status));
        return;
    }
    pmx__client_set_addrs(t->cl, res);
    uv_freeaddrinfo(res);
    t->naddrs = pmx__client_addrs(t->cl);
    if (!t->naddrs) {
        fail(t, PMX_EDNS, "cannot resolve %s: no IPv4 or IPv6 address",
             pmx__client_connect_host(t->cl));
        return;
    }
    start_connecting(t);
}

static void timeout_cb(uv_timer_t *tm)
{
    tcp_conn_t *t = tm->data;
    const pmx__endpoint_t *ep = pmx__client_endpoint(t->cl);
    if (t->phase == PH_TLS || (t->stream && stream_connected(t->stream) && t->phase != PH_PROXY))
        fail(t, PMX_ETIMEDOUT, "TLS handshake timeout (server %s)", server(t));
    else if (t->phase == PH_PROXY)
        fail(t, PMX_ETIMEDOUT, "proxy %s:%d did not answer CONNECT %s", ep->proxy_host,
             ep->proxy_port, ep->hostport);
    else if (t->phase == PH_RESOLVE)
        fail(t, PMX_ETIMEDOUT, "cannot resolve %s: timeout", pmx__client_connect_host(t->cl));
    else
        fail(t, PMX_ETIMEDOUT, "cannot connect to %s: connect timeout", server(t));
}

/* Starts from a loop turn of its own, so that no callback runs inside pmx__conn_open(). */
static void start_cb(uv_timer_t *tm)
{
    tcp_conn_t *t = tm->data;
    const pmx_client_opts_t *o = pmx__client_opts(t->cl);
    uv_timer_start(&t->timer, timeout_cb, o->connect_timeout_ms + o->handshake_timeout_ms, 0);
    t->naddrs = pmx__client_addrs(t->cl);
    if (t->naddrs) {
        start_connecting(t);
        return;
    }
    set_phase(t, PH_RESOLVE);
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    t->gai.data = t;
    int r = uv_getaddrinfo(pmx__client_loop(t->cl), &t->gai, gai_cb,
                           pmx__client_connect_host(t->cl), NULL, &hints);
    if (r < 0) {
        fail(t, PMX_EDNS, "cannot resolve %s: %s", pmx__client_connect_host(t->cl), uv_strerror(r));
        return;
    }
    t->gai_pending = 1;
}

/* ---- closing --------------------------------------------------------------------------------- */
static void timer_closed(uv_handle_t *h)
{
    tcp_conn_t *t = h->data;
    t->timer_open = 0;
    maybe_closed(t);
}

static void maybe_closed(tcp_conn_t *t)
{
    if (t->phase != PH_CLOSING || t->streams_open || t->gai_pending) return;
    if (t->timer_open == 1) {
        t->timer_open = 2; /* closing */
        uv_close((uv_handle_t *)&t->timer, timer_closed);
        return;
    }
    if (t->timer_open) return;
    buf_free(&t->proxy_resp);
    pmx_client_t *cl = t->cl;
    if (t->cb.on_close) t->cb.on_close(t->data);
    pmx__client_release(cl);
    free(t);
}

static void tcp_close(pmx__conn_t *c, int graceful)
{
    tcp_conn_t *t = (tcp_conn_t *)c;
    if (t->phase == PH_CLOSING) return;
    int was_ready = t->phase == PH_READY;
    t->phase = PH_CLOSING;
    uv_timer_stop(&t->timer);
    pmx__client_tls_gate_leave(t->cl, &t->gate);
    if (t->gai_pending) uv_cancel((uv_req_t *)&t->gai);
    if (t->stream) {
        if (graceful && was_ready)
            stream_close_after_write(t->stream);
        else
            stream_close(t->stream);
    }
    maybe_closed(t);
}

/* ---- the ops --------------------------------------------------------------------------------- */
static int tcp_write(pmx__conn_t *c, const void *p, size_t n)
{
    tcp_conn_t *t = (tcp_conn_t *)c;
    if (!t->stream || t->phase != PH_READY) return PMX_ELOST;
    return stream_write(t->stream, p, n) < 0 ? PMX_ENOMEM : 0;
}

static size_t tcp_queued(const pmx__conn_t *c)
{
    const tcp_conn_t *t = (const tcp_conn_t *)c;
    return t->stream ? stream_queued(t->stream) : 0;
}

static int tcp_above(const pmx__conn_t *c)
{
    const tcp_conn_t *t = (const tcp_conn_t *)c;
    return t->stream ? stream_above_high_water(t->stream) : 0;
}

static size_t tcp_low_water(const pmx__conn_t *c)
{
    const tcp_conn_t *t = (const tcp_conn_t *)c;
    return t->stream ? stream_low_water(t->stream) : 0;
}

static void tcp_want_drain(pmx__conn_t *c, size_t at)
{
    tcp_conn_t *t = (tcp_conn_t *)c;
    if (t->stream) stream_want_drain(t->stream, at);
}

static void tcp_pause(pmx__conn_t *c)
{
    tcp_conn_t *t = (tcp_conn_t *)c;
    if (t->stream) stream_pause(t->stream);
}

static void tcp_resume(pmx__conn_t *c)
{
    tcp_conn_t *t = (tcp_conn_t *)c;
    if (t->stream) stream_resume(t->stream);
}

static void tcp_set_cb(pmx__conn_t *c, const pmx__conn_cb_t *cb, void *data)
{
    tcp_conn_t *t = (tcp_conn_t *)c;
    t->cb = *cb;
    t->data = data;
}

static const pmx__conn_ops_t tcp_ops = {tcp_write,     tcp_queued,     tcp_above,
                                        tcp_low_water, tcp_want_drain, tcp_pause,
                                        tcp_resume,    tcp_close,      tcp_set_cb};

int pmx__conn_open_tcp(pmx_client_t *cl, const pmx__conn_opts_t *o, const pmx__conn_cb_t *cb,
                       void *data, pmx__conn_t **out)
{
    tcp_conn_t *t = calloc(1, sizeof *t);
    if (!t) return PMX_ENOMEM;
    t->base.ops = &tcp_ops;
    t->cl = cl;
    t->cb = *cb;
    t->data = data;
    if (o && o->cred) {
        t->cred = *o->cred;
        t->has_cred = 1;
    }
    t->label = o && o->label ? o->label : "";
    t->gate.go = gate_open;
    buf_init(&t->proxy_resp, PMX_MAX_HEADER_BYTES);
    uv_timer_init(pmx__client_loop(cl), &t->timer);
    t->timer.data = t;
    t->timer_open = 1;
    pmx__client_hold(cl);
    uv_timer_start(&t->timer, start_cb, 0, 0);
    *out = &t->base;
    return 0;
}

int pmx__conn_open(pmx_client_t *cl, const pmx__conn_opts_t *o, const pmx__conn_cb_t *cb,
                   void *data, pmx__conn_t **out)
{
    pmx__conn_factory_t f = pmx__client_conn_factory(cl);
    return (f ? f : pmx__conn_open_tcp)(cl, o, cb, data, out);
}
