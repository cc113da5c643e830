/* session: one exec/attach session, or one REST GET, as a state machine on the caller's loop.
 *
 *   waiting_credentials -> resolving -> connecting -> tls_handshake -> upgrading -> open
 *     -> (stdin_closed) -> exited -> closing -> closed
 *
 * Every user callback runs from a loop event (a socket read, a timer, a libuv completion), never
 * from inside the pmx_* call that caused it. The session is freed when its stream and timers are
 * closed and on_close has run; any call a user makes from inside a callback only sets flags or
 * starts asynchronous work, so closing from a callback is safe by construction. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kube/chan.h"
#include "net/http.h"
#include "net/stream.h"
#include "net/ws.h"
#include "util/fmt.h"

#define DEFAULT_PROTOCOLS "v5.channel.k8s.io, v4.channel.k8s.io, channel.k8s.io"
#define STDIN_CHUNK (32 * 1024)
#define STATUS_GRACE_MS 2000

enum { MODE_STREAM, MODE_REST };

struct pmx_session {
    pmx_client_t *c;
    int mode;
    pmx_state_t state;
    pmx_session_cb_t cb;
    pmx_get_cb rest_cb;
    void *data;

    char *target; /* path + query */
    char *label;  /* "ns/pod" for messages */
    int tty;
    unsigned init_w, init_h;
    char *protocols;
    char key[25];
    char *authz; /* Authorization header value, or NULL */
    uint64_t cred_gen;
    const uint8_t *cert_pem;

    stream_t *stream;
    int stream_connected_seen;
    http_msg_t resp;
    int resp_init;
    ws_t *ws;
    chan_proto_t proto;
    char proto_name[40];
    buf_t decoded;
    buf_t errstream;
    int status_received;
    chan_status_t status;

    buf_t stdin_q;
    size_t stdin_hw, stdin_lw;
    int stdin_above, stdin_close_pending, stdin_close_sent;

    uv_timer_t timer;    /* phase timeout, then keepalive */
    uv_timer_t deadline; /* whole-session timeout */
    uv_timer_t defer;    /* deferred events (errors found inside a pmx_* call, cancel) */
    uv_timer_t grace;    /* issue 13: stdin ended on a protocol that cannot say so */
    int grace_armed;
    uv_getaddrinfo_t gai;
    int gai_pending;
    int handles_open;
    uint64_t timeout_ms, keepalive_ms;
    uint64_t last_rx, t_start;
    int paused;
    int ws_blocked; /* issue 13: reading stopped because ws_read_blocked() */
    int auth_waiting, auth_retried;

    int tunnel; /* 0 none, 1 CONNECT sent, 2 tunnel open */
    buf_t tunnel_resp;
    int tls_first, tls_waiting;
    pmx_session_t *next_waiter;
    int user_closed, exit_delivered, closing, finished;
    int started;
    pmx_exit_t exit;
    char message[1024];
    char reason[64];
    uint64_t bytes_out, bytes_in;
};

static void start_connect(pmx_session_t *s);
static void release_tls_waiters(pmx_session_t *first);
static void unlink_tls_waiter(pmx_session_t *s);
static void check_drain(pmx_session_t *s);
static void tunnel_data(pmx_session_t *s, const uint8_t *data, size_t len);
static void auth_done_cb(void *arg, int status, const auth_cred_t *cred, const char *err);
static void begin_close(pmx_session_t *s);
static void flush_all(pmx_session_t *s);
static size_t total_queued(const pmx_session_t *s);
static uint64_t eof_grace_ms(const pmx_session_t *s);
static void grace_cb(uv_timer_t *t);

const char *pmx_state_name(pmx_state_t st)
{
    static const char *const names[] = {
        "waiting_credentials", "resolving", "connecting", "tls_handshake", "upgrading", "open",
        "stdin_closed",        "exited",    "closing",    "closed"};
    return (unsigned)st < sizeof names / sizeof names[0] ? names[st] : "unknown";
}

static double ms_since(pmx_session_t *s)
{
    return (double)(uv_now(s->c->loop) - s->t_start);
}

static void set_state(pmx_session_t *s, pmx_state_t st)
{
    if (s->state == st) return;
    pmx_log(s->c, "%s: %s -> %s (%.1f ms)", s->label, pmx_state_name(s->state), pmx_state_name(st),
            ms_since(s));
    s->state = st;
}

/* ---- ending ------------------------------------------------------------------------------- */
static void deliver_exit(pmx_session_t *s)
{
    if (s->exit_delivered) return;
    s->exit_delivered = 1;
    s->exit.message = s->message;
    s->exit.reason = s->reason;
    s->exit.bytes_out = s->bytes_out;
    s->exit.bytes_in = s->bytes_in;
    if (s->exit.err == 0)
        pmx_log(s->c, "%s: exit %d (%.1f ms)", s->label, s->exit.exit_code, ms_since(s));
    else
        pmx_log(s->c, "%s: %s: %s", s->label, pmx_err_name(s->exit.err), s->message);
    if (s->cb.on_exit) s->cb.on_exit(s, &s->exit, s->data);
}

/* Decides the outcome once. err 0 = exit_code valid. */
static void finish(pmx_session_t *s, int err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void finish(pmx_session_t *s, int err, int code, const char *fmt, ...)
{
    if (s->finished) return;
    s->finished = 1;
    s->exit.err = err;
    s->exit.exit_code = err ? -1 : code;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->message, sizeof s->message, fmt, ap);
        va_end(ap);
        /* pmx_exit_t.message is one line even when a server's text is not. */
        for (char *p = s->message; *p; p++)
            if ((unsigned char)*p < ' ') *p = ' ';
    }
    if (s->state < PMX_STATE_EXITED) set_state(s, PMX_STATE_EXITED);
    if (s->mode == MODE_REST) {
        s->exit_delivered = 1;
        if (s->rest_cb && !s->user_closed) {
            const char *body = s->resp_init ? s->resp.body.data : NULL;
            size_t len = s->resp_init ? s->resp.body.len : 0;
            s->rest_cb(s->c, err, s->exit.http_status, body ? body : "", len, s->message, s->data);
        }
    } else if (!s->user_closed) {
        deliver_exit(s);
    } else {
        s->exit_delivered = 1; /* canceled: already reported by the defer handler */
    }
    begin_close(s);
}

static void finish_status(pmx_session_t *s)
{
    chan_status_t *st = &s->status;
    snprintf(s->reason, sizeof s->reason, "%s", st->reason);
    if (st->http_code) s->exit.http_status = st->http_code;
    if (st->kind == CHAN_STATUS_SUCCESS || st->kind == CHAN_STATUS_EXIT)
        finish(s, 0, st->exit_code, "%s", st->kind == CHAN_STATUS_SUCCESS ? "" : st->message);
    else
        finish(s, PMX_EREMOTE, -1, "%s", st->message);
}

static void on_handle_closed(uv_handle_t *h)
{
    pmx_session_t *s = h->data;
    if (--s->handles_open > 0 || s->stream || s->gai_pending) return;
    set_state(s, PMX_STATE_CLOSED);
    if (s->ws) ws_free(s->ws);
    if (s->resp_init) http_msg_free(&s->resp);
    buf_free(&s->decoded);
    buf_free(&s->errstream);
    buf_free(&s->stdin_q);
    buf_free(&s->tunnel_resp);
    pmx_client_t *c = s->c;
    if (s->mode == MODE_STREAM && s->cb.on_close) s->cb.on_close(s, s->data);
    c->live--;
    free(s->target);
    free(s->label);
    free(s->protocols);
    free(s->authz);
    free(s);
}

static void close_timers(pmx_session_t *s)
{
    if (s->handles_open == 0) return;
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->deadline, on_handle_closed);
    uv_close((uv_handle_t *)&s->defer, on_handle_closed);
    uv_close((uv_handle_t *)&s->grace, on_handle_closed);
}

static void begin_close(pmx_session_t *s)
{
    if (s->closing) return;
    s->closing = 1;
    set_state(s, PMX_STATE_CLOSING);
    if (s->tls_waiting) unlink_tls_waiter(s);
    release_tls_waiters(s); /* the first handshake failed: the others go on their own */
    if (s->auth_waiting) auth_cancel(s->c->auth, auth_done_cb, s);
    s->auth_waiting = 0;
    if (s->gai_pending) uv_cancel((uv_req_t *)&s->gai);
    if (s->stream) {
        if (s->ws && !ws_close_sent(s->ws)) {
            ws_queue_close(s->ws, 1000, NULL);
            ws_flush(s->ws);
        }
        /* After a status the peer is alive: let the close frame out. After a failure or a
         * cancel the peer may be stalled: close at once (the server then ends the process). */
        if (s->ws && s->exit.err == 0 && !s->user_closed)
            stream_close_after_write(s->stream);
        else
            stream_close(s->stream);
    }
    close_timers(s);
}

static void start_auth(pmx_session_t *s, int force);

/* Starting and canceling both happen from here, so that no callback ever runs from inside
 * pmx_session_start() or pmx_session_close(). */
static void defer_cb(uv_timer_t *t)
{
    pmx_session_t *s = t->data;
    if (s->finished) return;
    if (!s->started && !s->user_closed) {
        s->started = 1;
        start_auth(s, 0);
        return;
    }
    if (s->user_closed) {
        s->exit.err = PMX_ECANCELED;
        snprintf(s->message, sizeof s->message, "%s: canceled", s->label);
        s->exit.exit_code = -1;
        if (s->mode == MODE_STREAM) {
            s->exit_delivered = 1;
            s->exit.message = s->message;
            s->exit.reason = s->reason;
            if (s->cb.on_exit) s->cb.on_exit(s, &s->exit, s->data);
        }
        s->finished = 1;
        begin_close(s);
        return;
    }
    check_drain(s);
}

/* ---- WebSocket + channels ------------------------------------------------------------------ */
static int ws_send_cb(void *arg, const uint8_t *data, size_t len)
{
    pmx_session_t *s = arg;
    if (!s->stream) return -EPIPE;
    if (stream_above_high_water(s->stream)) return WS_WOULDBLOCK;
    return stream_write(s->stream, data, len);
}

static int ws_genmask_cb(void *arg, uint8_t *buf, size_t len)
{
    (void)arg;
    /* getrandom(2) through libuv: a CSPRNG, synchronous without a callback. */
    return uv_random(NULL, NULL, buf, len, 0, NULL) < 0 ? -1 : 0;
}

static void ws_message_cb(void *arg, int opcode, const uint8_t *data, size_t len)
{
    pmx_session_t *s = arg;
    if (s->finished || s->user_closed) return;
    int ch = -1;
    buf_reset(&s->decoded);
    if (chan_decode(s->proto, data, len, &ch, &s->decoded) < 0) {
        finish(s, PMX_EPROTO, -1, "%s: undecodable %s message from the server", s->label,
               s->proto_name);
        return;
    }
    const char *p = s->decoded.data ? s->decoded.data : "";
    size_t n = s->decoded.len;
    switch (ch) {
    case CHAN_STDOUT:
    case CHAN_STDERR:
        if (n == 0) return;
        s->bytes_out += n;
        if (s->grace_armed) uv_timer_start(&s->grace, grace_cb, eof_grace_ms(s), 0);
        if (ch == CHAN_STDOUT && s->cb.on_stdout) s->cb.on_stdout(s, p, n, s->data);
        if (ch == CHAN_STDERR && s->cb.on_stderr) s->cb.on_stderr(s, p, n, s->data);
        break;
    case CHAN_ERROR:
        if (n == 0) return;
        if (buf_append(&s->errstream, p, n) < 0) {
            finish(s, PMX_EPROTO, -1, "%s: error stream larger than %u bytes", s->label,
                   PMX_MAX_ERROR_STREAM);
            return;
        }
        chan_status_parse(s->proto, (const uint8_t *)s->errstream.data, s->errstream.len,
                          &s->status);
        s->status_received = 1;
        break;
    default:
        break; /* initial empty frame, unknown channels: ignored as client-go does */
    }
}

static void conclude_without_more_data(pmx_session_t *s, int clean_close, uint16_t code)
{
    if (s->finished) return;
    if (s->status_received) {
        finish_status(s);
    } else if (clean_close && code == 1000 && !chan_proto_status_json(s->proto)) {
        /* v1 family: success is the absence of an error message. */
        finish(s, 0, 0, NULL);
    } else if (clean_close && code == 1000) {
        finish(s, PMX_ENOSTATUS, -1,
               "%s: the server closed the session without sending an exit status; the "
               "command's exit status is unknown",
               s->label);
    } else if (clean_close) {
        finish(s, PMX_ELOST, -1,
               "%s: the server closed the WebSocket with code %u before any status; the "
               "command's exit status is unknown",
               s->label, code);
    } else {
        char amount[32];
        fmt_bytes(s->bytes_out, amount, sizeof amount);
        finish(s, PMX_ELOST, -1,
               "connection to %s lost after %s; the command's exit status is unknown",
               s->c->hostport, amount);
    }
}

static void ws_close_cb(void *arg, uint16_t code, const uint8_t *reason, size_t len)
{
    pmx_session_t *s = arg;
    conclude_without_more_data(s, 1, code);
}

static void ws_pong_cb(void *arg)
{
    (void)arg;
}

static void ws_error_cb(void *arg, uint16_t code, const char *what)
{
    pmx_session_t *s = arg;
    finish(s, PMX_EPROTO, -1, "%s: WebSocket protocol error from the server: %s", s->label,
           what ? what : "malformed frame");
}

/* ---- stdin's end without v5 (issue 13) ------------------------------------------------------
 * v4 and older cannot carry the end of stdin, so `printf 'a\n' | podmux exec -i POD -- cat`
 * would wait for ever (kubectl falls back to SPDY, which can). Once stdin has ended and all of
 * it was sent, the session ends when the output has been quiet for the grace
 * (pmx_client_opts_t.eof_grace_ms, default 2 s), as PMX_ENOSTATUS: the exit status is unknown. */
static uint64_t eof_grace_ms(const pmx_session_t *s)
{
    return s->c->opts.eof_grace_ms ? s->c->opts.eof_grace_ms : 2000;
}

static void grace_cb(uv_timer_t *t)
{
    pmx_session_t *s = t->data;
    if (s->finished || s->closing) return;
    if (total_queued(s)) { /* stdin still on its way: count from when it has left */
        uv_timer_start(&s->grace, grace_cb, eof_grace_ms(s), 0);
        return;
    }
    finish(s, PMX_ENOSTATUS, -1,
           "%s: stdin ended, which the server's protocol (%s) cannot tell the command; ended "
           "after %.1f s without output; the command's exit status is unknown",
           s->label, s->proto_name, (double)eof_grace_ms(s) / 1000);
}

static void arm_grace(pmx_session_t *s)
{
    if (s->finished || s->closing || eof_grace_ms(s) == UINT64_MAX) return;
    s->grace_armed = 1;
    uv_timer_start(&s->grace, grace_cb, eof_grace_ms(s), 0);
}

static void flush_stdin(pmx_session_t *s)
{
    if (!s->ws || s->closing) return;
    buf_t enc;
    buf_init(&enc, 0);
    while (s->stdin_q.len && !stream_above_high_water(s->stream)) {
        size_t n = s->stdin_q.len < STDIN_CHUNK ? s->stdin_q.len : STDIN_CHUNK;
        int op = WS_OP_BINARY;
        buf_reset(&enc);
        if (chan_encode(s->proto, CHAN_STDIN, (const uint8_t *)s->stdin_q.data, n, &enc, &op) < 0 ||
            ws_queue(s->ws, op, (const uint8_t *)enc.data, enc.len) < 0)
            break;
        s->bytes_in += n;
        buf_consume(&s->stdin_q, n);
        ws_flush(s->ws);
    }
    if (s->stdin_close_pending && !s->stdin_close_sent && s->stdin_q.len == 0) {
        int op = WS_OP_BINARY;
        buf_reset(&enc);
        if (chan_encode_close(s->proto, CHAN_STDIN, &enc, &op) == 0 &&
            ws_queue(s->ws, op, (const uint8_t *)enc.data, enc.len) == 0) {
            s->stdin_close_sent = 1;
            if (s->state == PMX_STATE_OPEN) set_state(s, PMX_STATE_STDIN_CLOSED);
        } else if (!chan_proto_has_close(s->proto) && !s->grace_armed) {
            arm_grace(s); /* closed before the 101 chose a protocol without it */
        }
    }
    buf_free(&enc);
    ws_flush(s->ws);
}

static size_t total_queued(const pmx_session_t *s)
{
    size_t q = s->stdin_q.len;
    if (s->ws) q += ws_queued_bytes(s->ws);
    if (s->stream) q += stream_queued(s->stream);
    return q;
}

/* Be told when the socket's queue is down to what leaves the whole queue at our low water: the
 * stream's own mark (256 KiB) is no use to a session whose mark is lower (fan-out: 64 KiB). */
static void want_socket_drain(pmx_session_t *s, size_t total)
{
    size_t sock = stream_queued(s->stream), other = total - sock;
    size_t at = s->stdin_lw > other ? s->stdin_lw - other : 0;
    /* Input still waits in front of the socket (it took all it could): refill at its own mark. */
    if (s->stdin_q.len && at < stream_low_water(s->stream)) at = stream_low_water(s->stream);
    stream_want_drain(s->stream, at);
}

/* on_drain once the whole queue (ours, the engine's, the socket's) is below low water. */
static void check_drain(pmx_session_t *s)
{
    if (!s->stdin_above) return;
    size_t total = total_queued(s);
    if (total <= s->stdin_lw) {
        s->stdin_above = 0;
        if (s->cb.on_drain && !s->user_closed && !s->finished) s->cb.on_drain(s, s->data);
    } else if (s->stream) {
        want_socket_drain(s, total); /* not yet: be called again when the socket drains */
    }
}

static void flush_all(pmx_session_t *s)
{
    if (!s->ws || !s->stream) return;
    ws_flush(s->ws);
    flush_stdin(s);
    check_drain(s);
}

static int send_resize(pmx_session_t *s, unsigned w, unsigned h)
{
    buf_t enc;
    buf_init(&enc, 0);
    int op = WS_OP_BINARY;
    int r = chan_encode_resize(s->proto, w, h, &enc, &op);
    if (r == 0) r = ws_queue(s->ws, op, (const uint8_t *)enc.data, enc.len);
    buf_free(&enc);
    if (r == 0) ws_flush(s->ws);
    return r < 0 ? PMX_ENOMEM : 0;
}

/* ---- timers ------------------------------------------------------------------------------- */
static void keepalive_cb(uv_timer_t *t)
{
    pmx_session_t *s = t->data;
    if (s->finished || !s->ws) return;
    /* While the owner holds reading off (its output is backed up) pongs wait unread in the
     * socket, as they do for client-go, whose read deadline only runs inside a read: the
     * silence is ours, not the server's. */
    if (s->paused) s->last_rx = uv_now(s->c->loop);
    uint64_t idle = uv_now(s->c->loop) - s->last_rx;
    /* client-go's pingReadDeadline: 12 periods + 1 s. A server that is not reading because
     * our stdin fills its process's pipe cannot answer pings either; a shorter deadline
     * failed healthy sessions under load (100 sessions x 10 MiB of stdin). */
    if (idle > 12 * s->keepalive_ms + 1000 && ws_read_blocked(s->ws)) {
        /* issue 13: reading stopped because the server does not read the pongs it asks for. */
        finish(s, PMX_ETIMEDOUT, -1,
               "%s: %s sends pings but has not read the replies for %.1f s; the command's exit "
               "status is unknown",
               s->label, s->c->hostport, (double)idle / 1000);
        return;
    }
    if (idle > 12 * s->keepalive_ms + 1000) {
        finish(s, PMX_ETIMEDOUT, -1,
               "%s: no data and no pong from %s for %.1f s; the command's exit status is unknown",
               s->label, s->c->hostport, (double)idle / 1000);
        return;
    }
    ws_queue_ping(s->ws);
    ws_flush(s->ws);
}

static void phase_timeout_cb(uv_timer_t *t)
{
    pmx_session_t *s = t->data;
    if (s->finished) return;
    if (s->state == PMX_STATE_UPGRADING)
        finish(s, PMX_ETIMEDOUT, -1, "%s: %s did not answer the %s request within %.0f s", s->label,
               s->c->hostport, s->mode == MODE_REST ? "GET" : "upgrade",
               (double)s->c->opts.upgrade_timeout_ms / 1000);
    else if (s->stream && stream_connected(s->stream))
        finish(s, PMX_ETIMEDOUT, -1, "TLS handshake timeout (server %s)", s->c->hostport);
    else
        finish(s, PMX_ETIMEDOUT, -1, "cannot connect to %s: connect timeout", s->c->hostport);
}

static void deadline_cb(uv_timer_t *t)
{
    pmx_session_t *s = t->data;
    finish(s, PMX_ETIMEDOUT, -1, "%s: timed out after %.1f s", s->label,
           (double)s->timeout_ms / 1000);
}

/* ---- HTTP response ------------------------------------------------------------------------ */
static int open_websocket(pmx_session_t *s, const char *leftover, size_t n)
{
    const http_msg_t *m = &s->resp;
    char accept[29], why[96];
    if (http_check_ws_101(m, why, sizeof why) < 0) { /* issue 13: RFC 6455 4.1 */
        finish(s, PMX_EUPGRADE, -1, "%s: bad upgrade response from %s: %s", s->label,
               s->c->hostport, why);
        return -1;
    }
    const char *got = http_msg_header(m, "Sec-WebSocket-Accept");
    if (ws_accept_for_key(s->key, accept) < 0 || !got || strcmp(got, accept) != 0) {
        finish(s, PMX_EUPGRADE, -1, "%s: bad Sec-WebSocket-Accept from %s", s->label,
               s->c->hostport);
        return -1;
    }
    const char *proto = http_msg_header(m, "Sec-WebSocket-Protocol");
    s->proto = chan_proto_from_name(proto ? proto : "");
    int offered = 0;
    if (proto && *proto) {
        /* It must be one of ours (client-go treats anything else as an upgrade failure). */
        const char *p = s->protocols;
        size_t pl = strlen(proto);
        while ((p = strstr(p, proto))) {
            char after = p[pl];
            if ((p == s->protocols || p[-1] == ' ' || p[-1] == ',') &&
                (after == 0 || after == ',' || after == ' '))
                offered = 1;
            p += pl;
        }
    } else {
        offered = 1; /* no protocol: "" (channel.k8s.io semantics) */
    }
    if (s->proto == CHAN_PROTO_INVALID || !offered) {
        finish(s, PMX_EUPGRADE, -1, "%s: server chose protocol \"%s\", which was not offered",
               s->label, proto ? proto : "");
        return -1;
    }
    snprintf(s->proto_name, sizeof s->proto_name, "%s", chan_proto_name(s->proto));
    ws_io_t io = {ws_send_cb, ws_message_cb, ws_close_cb, ws_pong_cb, ws_error_cb, ws_genmask_cb,
                  s};
    size_t maxmsg = s->c->opts.max_message ? s->c->opts.max_message : 32u * 1024 * 1024;
    if (ws_new(0, maxmsg, &io, &s->ws) < 0) {
        finish(s, PMX_ENOMEM, -1, "%s: out of memory", s->label);
        return -1;
    }
    s->exit.command_started = 1;
    set_state(s, PMX_STATE_OPEN);
    pmx_log(s->c, "%s: protocol \"%s\"", s->label, s->proto_name);
    uv_timer_stop(&s->timer);
    if (s->keepalive_ms != UINT64_MAX)
        uv_timer_start(&s->timer, keepalive_cb, s->keepalive_ms, s->keepalive_ms);
    if (s->cb.on_open && !s->user_closed) s->cb.on_open(s, s->proto_name, s->data);
    if (s->finished || s->closing) return -1;
    if (s->tty && s->init_w && s->init_h) send_resize(s, s->init_w, s->init_h);
    flush_all(s);
    if (n && ws_feed(s->ws, (const uint8_t *)leftover, n) < 0 && !s->finished)
        finish(s, PMX_EPROTO, -1, "%s: malformed WebSocket data from the server", s->label);
    return 0;
}

static void retry_after_401(pmx_session_t *s);

/* The metav1.Status reason of an error body ("NotFound", "Forbidden"), so that exit.reason is
 * set for refusals as it is for Status messages on the error channel. */
static void reason_from_body(pmx_session_t *s, const char *body, size_t len)
{
    if (!body || !len) return;
    cJSON *j = cJSON_ParseWithLength(body, len);
    const cJSON *r = j ? cJSON_GetObjectItemCaseSensitive(j, "reason") : NULL;
    if (cJSON_IsString(r)) snprintf(s->reason, sizeof s->reason, "%s", r->valuestring);
    cJSON_Delete(j);
}

static void handle_response(pmx_session_t *s, const char *leftover, size_t n)
{
    const http_msg_t *m = &s->resp;
    s->exit.http_status = m->status;
    if (s->mode == MODE_STREAM && m->status == 101) {
        open_websocket(s, leftover, n);
        return;
    }
    if (m->status == 401 && !s->auth_retried && s->c->cfg &&
        (s->c->cfg->exec || s->c->cfg->token_file)) {
        retry_after_401(s);
        return;
    }
    if (s->mode == MODE_REST && m->status >= 200 && m->status < 300) {
        finish(s, 0, 0, NULL);
        return;
    }
    char msg[600];
    pmx_message_from_body(m->body.data, m->body.len, m->status, msg, sizeof msg);
    reason_from_body(s, m->body.data, m->body.len);
    const char *ra = http_msg_header(m, "Retry-After");
    if (ra) s->exit.retry_after = atof(ra);
    int err = pmx_err_from_http(m->status);
    if (s->mode == MODE_STREAM && m->status >= 200 && m->status < 300) err = PMX_EUPGRADE;
    if (m->status == 401)
        finish(s, err, -1, "unauthorized: the server rejected the credentials (%s)", msg);
    else
        finish(s, err, -1, "%s (%d)", msg, m->status);
}

/* ---- stream callbacks --------------------------------------------------------------------- */
static int on_stream_data(stream_t *st, const uint8_t *data, size_t len)
{
    pmx_session_t *s = stream_data(st);
    if (st != s->stream || s->finished) return 0;
    s->last_rx = uv_now(s->c->loop);
    if (s->ws) {
        if (ws_feed(s->ws, data, len) < 0 && !s->finished)
            finish(s, PMX_EPROTO, -1, "%s: malformed WebSocket data from the server", s->label);
        if (s->status_received && !s->finished) {
            /* The status is the last message: conclude without waiting for close/EOF, but only
             * after everything in this read was delivered. */
            finish_status(s);
        }
        if (!s->finished) flush_all(s);
        /* issue 13: the engine owes the server more pongs than it takes: read no further
         * until they go out (on_stream_drain reads again; keepalive_cb gives up). */
        if (!s->finished && ws_read_blocked(s->ws)) s->ws_blocked = 1;
        return s->paused || s->ws_blocked;
    }
    if (s->tunnel == 1) {
        tunnel_data(s, data, len);
        return s->paused;
    }
    size_t used = 0;
    int r = http_msg_feed(&s->resp, (const char *)data, len, &used);
    if (r < 0) {
        finish(s, PMX_EHTTP, -1, "%s: malformed HTTP response from %s", s->label, s->c->hostport);
    } else if (r == HTTP_DONE) {
        handle_response(s, (const char *)data + used, len - used);
    }
    return s->paused;
}

static void on_stream_end(stream_t *st, int status)
{
    pmx_session_t *s = stream_data(st);
    if (st != s->stream || s->finished) return;
    if (!s->ws) {
        if (http_msg_eof(&s->resp) == HTTP_DONE) {
            handle_response(s, NULL, 0);
            return;
        }
        finish(s, PMX_ELOST, -1, "%s: connection to %s closed before the server answered", s->label,
               s->c->hostport);
        return;
    }
    conclude_without_more_data(s, 0, 0);
}

static void on_stream_drain(stream_t *st)
{
    pmx_session_t *s = stream_data(st);
    if (st != s->stream || s->finished) return;
    flush_all(s);
    /* issue 13: the pongs that stopped reading went out (here or in any flush since): parse
     * what was kept, read again. */
    if (s->ws_blocked && !s->finished && !ws_read_blocked(s->ws)) {
        s->ws_blocked = 0;
        if (ws_feed(s->ws, NULL, 0) < 0 && !s->finished)
            finish(s, PMX_EPROTO, -1, "%s: malformed WebSocket data from the server", s->label);
        if (!s->finished) flush_all(s);
        if (!s->finished && ws_read_blocked(s->ws)) s->ws_blocked = 1;
        if (!s->finished && !s->paused && !s->ws_blocked && s->stream) stream_resume(s->stream);
    }
}

static void on_stream_close(stream_t *st)
{
    pmx_session_t *s = stream_data(st);
    if (st != s->stream) return; /* an older connection (retry after 401) */
    s->stream = NULL;
    if (s->closing && s->handles_open == 0 && !s->gai_pending) {
        s->handles_open = 1;
        on_handle_closed((uv_handle_t *)&s->timer);
    }
}

static void send_request(pmx_session_t *s)
{
    buf_t req;
    buf_init(&req, 0);
    const char *hdrs[24];
    int n = 0;
    hdrs[n++] = "User-Agent";
    hdrs[n++] = "podmux/" PMX_VERSION;
    if (s->authz) {
        hdrs[n++] = "Authorization";
        hdrs[n++] = s->authz;
    }
    if (s->mode == MODE_STREAM) {
        uint8_t rnd[16];
        ws_genmask_cb(s, rnd, sizeof rnd);
        ws_key_from_random(rnd, s->key);
        hdrs[n++] = "Connection";
        hdrs[n++] = "Upgrade";
        hdrs[n++] = "Upgrade";
        hdrs[n++] = "websocket";
        hdrs[n++] = "Sec-WebSocket-Key";
        hdrs[n++] = s->key;
        hdrs[n++] = "Sec-WebSocket-Protocol";
        hdrs[n++] = s->protocols;
        hdrs[n++] = "Sec-WebSocket-Version";
        hdrs[n++] = "13";
    } else {
        hdrs[n++] = "Accept";
        hdrs[n++] = "application/json";
    }
    hdrs[n] = NULL;
    int r = http_write_request(&req, "GET", s->target, s->c->hostport, hdrs, NULL, 0);
    if (r == 0) r = stream_write(s->stream, req.data, req.len);
    buf_free(&req);
    if (r < 0) {
        finish(s, PMX_ENOMEM, -1, "%s: cannot send the request", s->label);
        return;
    }
    set_state(s, PMX_STATE_UPGRADING);
    if (s->mode == MODE_STREAM) s->exit.request_sent = 1;
    uint64_t to = s->c->opts.upgrade_timeout_ms;
    if (s->mode == MODE_REST) to = s->c->opts.request_timeout_ms;
    uv_timer_start(&s->timer, phase_timeout_cb, to, 0);
}

/* ---- HTTP CONNECT tunnel through a proxy ----------------------------------------------------- */
static void send_connect(pmx_session_t *s)
{
    buf_t req;
    buf_init(&req, 0);
    buf_printf(&req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: podmux/" PMX_VERSION "\r\n",
               s->c->hostport, s->c->hostport);
    if (s->c->proxy_authz) buf_printf(&req, "Proxy-Authorization: %s\r\n", s->c->proxy_authz);
    buf_append_str(&req, "\r\n");
    int r = req.data ? stream_write(s->stream, req.data, req.len) : PMX_ENOMEM;
    buf_free(&req);
    if (r < 0) {
        finish(s, PMX_ECONNECT, -1, "cannot send CONNECT to proxy %s", s->c->proxy_host);
        return;
    }
    s->tunnel = 1;
}

/* Reads the proxy's answer (a CONNECT response has no body: headers end it). */
static void tunnel_data(pmx_session_t *s, const uint8_t *data, size_t len)
{
    if (buf_append(&s->tunnel_resp, data, len) < 0) {
        finish(s, PMX_EHTTP, -1, "proxy %s: response headers too large", s->c->proxy_host);
        return;
    }
    const char *end = strstr(s->tunnel_resp.data, "\r\n\r\n");
    if (!end) return;
    int status = 0;
    if (sscanf(s->tunnel_resp.data, "HTTP/1.%*d %d", &status) != 1 || status != 200) {
        finish(s, PMX_ECONNECT, -1, "proxy %s:%d refused CONNECT %s (HTTP %d)", s->c->proxy_host,
               s->c->proxy_port, s->c->hostport, status);
        return;
    }
    if ((size_t)(end + 4 - s->tunnel_resp.data) != s->tunnel_resp.len) {
        finish(s, PMX_EPROTO, -1, "proxy %s sent data before the tunnel was used",
               s->c->proxy_host);
        return;
    }
    s->tunnel = 2;
    pmx_log(s->c, "%s: tunnel through proxy %s:%d open", s->label, s->c->proxy_host,
            s->c->proxy_port);
    if (s->c->https) {
        if (stream_start_tls(s->stream) < 0)
            finish(s, PMX_ETLS, -1, "%s (server %s)", stream_error(s->stream), s->c->hostport);
        return;
    }
    send_request(s);
}

static void on_stream_ready(stream_t *st, int status)
{
    pmx_session_t *s = stream_data(st);
    if (st != s->stream || s->finished) return;
    if (status < 0) {
        if (!stream_connected(st))
            finish(s, PMX_ECONNECT, -1, "cannot connect to %s: %s", s->c->hostport,
                   stream_error(st));
        else
            finish(s, PMX_ETLS, -1, "%s (server %s)", stream_error(st), s->c->hostport);
        return;
    }
    if (s->c->proxy_host && s->tunnel == 0) {
        send_connect(s);
        return;
    }
    tls_conn_t *tc = stream_tls(st);
    if (tc) {
        pmx_client_tls_done(s->c, tc);
    }
    release_tls_waiters(s);
    send_request(s);
}

/* ---- connecting --------------------------------------------------------------------------- */
static void connect_addr(pmx_session_t *s);

static void release_tls_waiters(pmx_session_t *first)
{
    pmx_client_t *c = first->c;
    if (!first->tls_first) return;
    first->tls_first = 0;
    c->tls_first_inflight = 0;
    pmx_session_t *w = c->tls_waiters;
    c->tls_waiters = NULL;
    while (w) {
        pmx_session_t *next = w->next_waiter;
        w->next_waiter = NULL;
        w->tls_waiting = 0;
        if (!w->closing && !w->finished) connect_addr(w);
        w = next;
    }
}

static void unlink_tls_waiter(pmx_session_t *s)
{
    pmx_session_t **pp = &s->c->tls_waiters;
    while (*pp && *pp != s)
        pp = &(*pp)->next_waiter;
    if (*pp) *pp = s->next_waiter;
    s->tls_waiting = 0;
}

static void connect_addr(pmx_session_t *s)
{
    if (s->c->https && !s->c->resume) {
        if (s->c->tls_first_inflight) {
            s->tls_waiting = 1;
            s->next_waiter = s->c->tls_waiters;
            s->c->tls_waiters = s;
            set_state(s, PMX_STATE_CONNECTING);
            return;
        }
        s->c->tls_first_inflight = 1;
        s->tls_first = 1;
    }
    char err[256] = "";
    tls_ctx_t *ctx = NULL;
    if (s->c->https) {
        auth_cred_t cred = {0};
        cred.cert_pem = s->cert_pem;
        cred.generation = s->cred_gen;
        ctx = pmx_client_tls(s->c, &cred, err, sizeof err);
        if (!ctx) {
            finish(s, PMX_ETLS, -1, "%s", err);
            return;
        }
    }
    stream_opts_t so = {0};
    so.tls = ctx;
    so.server_name = s->c->host;
    so.verify_name = s->c->cfg ? s->c->cfg->tls_server_name : NULL;
    so.resume = s->c->resume;
    so.rbuf = s->c->rbuf;
    so.defer_tls = s->c->proxy_host != NULL; /* TLS runs inside the CONNECT tunnel */
    stream_cb_t cb = {on_stream_ready, on_stream_data, on_stream_end, on_stream_drain,
                      on_stream_close};
    set_state(s, PMX_STATE_CONNECTING);
    int r =
        stream_connect(s->c->loop, (const struct sockaddr *)&s->c->addr, &so, &cb, s, &s->stream);
    if (r < 0) {
        s->stream = NULL;
        finish(s, PMX_ECONNECT, -1, "cannot connect to %s: %s", s->c->hostport, strerror(-r));
        return;
    }
    if (s->resp_init) http_msg_free(&s->resp);
    http_msg_init(&s->resp, 0, PMX_MAX_HEADER_BYTES, PMX_MAX_REST_BODY);
    /* issue 13: an upgrade's error body is read for its message only: keep 64 KiB of it. */
    if (s->mode == MODE_STREAM) http_msg_set_body_cap(&s->resp, 64u * 1024);
    s->resp_init = 1;
    uv_timer_start(&s->timer, phase_timeout_cb,
                   s->c->opts.connect_timeout_ms + s->c->opts.handshake_timeout_ms, 0);
}

static const char *connect_host(const pmx_client_t *c)
{
    return c->proxy_host ? c->proxy_host : c->host;
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    pmx_session_t *s = req->data;
    s->gai_pending = 0;
    if (s->closing) {
        if (res) uv_freeaddrinfo(res);
        if (s->handles_open == 0 && !s->stream) {
            s->handles_open = 1;
            on_handle_closed((uv_handle_t *)&s->timer);
        }
        return;
    }
    if (status < 0 || !res) {
        finish(s, PMX_EDNS, -1, "cannot resolve %s: %s", connect_host(s->c), uv_strerror(status));
        return;
    }
    memcpy(&s->c->addr, res->ai_addr, res->ai_addrlen);
    /* sin_port and sin6_port sit at the same offset */
    ((struct sockaddr_in *)&s->c->addr)->sin_port =
        htons((uint16_t)(s->c->proxy_host ? s->c->proxy_port : s->c->port));
    s->c->addr_ok = 1;
    uv_freeaddrinfo(res);
    connect_addr(s);
}

static void start_connect(pmx_session_t *s)
{
    if (s->c->addr_ok) {
        connect_addr(s);
        return;
    }
    set_state(s, PMX_STATE_RESOLVING);
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    s->gai.data = s;
    int r = uv_getaddrinfo(s->c->loop, &s->gai, gai_cb, connect_host(s->c), NULL, &hints);
    if (r < 0) {
        finish(s, PMX_EDNS, -1, "cannot resolve %s: %s", connect_host(s->c), uv_strerror(r));
        return;
    }
    s->gai_pending = 1;
}

static void take_cred(pmx_session_t *s, const auth_cred_t *cred)
{
    free(s->authz);
    s->authz = NULL;
    if (cred && cred->authorization && s->c->https) s->authz = strdup(cred->authorization);
    s->cert_pem = cred ? cred->cert_pem : NULL;
    s->cred_gen = cred ? cred->generation : 0;
}

static void auth_done_cb(void *arg, int status, const auth_cred_t *cred, const char *err)
{
    pmx_session_t *s = arg;
    s->auth_waiting = 0;
    if (s->finished || s->closing) return;
    if (status < 0) {
        finish(s, PMX_ECREDENTIAL, -1, "%s", err ? err : "credential plugin failed");
        return;
    }
    take_cred(s, cred);
    start_connect(s);
}

static void start_auth(pmx_session_t *s, int force)
{
    if (!s->c->auth) {
        start_connect(s);
        return;
    }
    auth_cred_t cred = {0};
    int r = auth_get(s->c->auth, force, auth_done_cb, s, &cred);
    if (r == 1) {
        take_cred(s, &cred);
        start_connect(s);
    } else if (r == 0) {
        s->auth_waiting = 1;
        set_state(s, PMX_STATE_WAITING_CREDENTIALS);
    } else {
        finish(s, PMX_ECREDENTIAL, -1, "%s: cannot get credentials", s->label);
    }
}

static void retry_after_401(pmx_session_t *s)
{
    s->auth_retried = 1;
    pmx_log(s->c, "%s: 401, refreshing credentials once", s->label);
    stream_t *old = s->stream;
    s->stream = NULL;
    stream_close(old); /* its on_close sees st != s->stream */
    uv_timer_stop(&s->timer);
    start_auth(s, 1);
}

/* ---- creation ----------------------------------------------------------------------------- */
static pmx_session_t *session_alloc(pmx_client_t *c, int mode)
{
    pmx_session_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->c = c;
    s->mode = mode;
    s->state = PMX_STATE_WAITING_CREDENTIALS;
    s->exit.exit_code = -1;
    s->proto = CHAN_PROTO_INVALID;
    buf_init(&s->decoded, 0);
    buf_init(&s->errstream, PMX_MAX_ERROR_STREAM);
    buf_init(&s->stdin_q, PMX_MAX_STDIN_QUEUE);
    buf_init(&s->tunnel_resp, PMX_MAX_HEADER_BYTES);
    uv_timer_init(c->loop, &s->timer);
    uv_timer_init(c->loop, &s->deadline);
    uv_timer_init(c->loop, &s->defer);
    uv_timer_init(c->loop, &s->grace);
    s->timer.data = s->deadline.data = s->defer.data = s->grace.data = s;
    s->handles_open = 4;
    s->t_start = s->last_rx = uv_now(c->loop);
    s->keepalive_ms = c->opts.keepalive_ms;
    c->live++;
    return s;
}

/* Kubernetes names: no '/', '?', '#', '%', whitespace or control bytes in a path segment. */
static int valid_segment(const char *v)
{
    if (!v || !*v || strlen(v) > 253) return 0;
    for (const char *p = v; *p; p++)
        if (*p == '/' || *p == '?' || *p == '#' || *p == '%' || (unsigned char)*p <= ' ') return 0;
    return strcmp(v, ".") && strcmp(v, "..");
}

static char *build_target(pmx_client_t *c, const pmx_session_opts_t *o, const char *ns)
{
    buf_t t;
    buf_init(&t, 0);
    int first = 1;
    buf_printf(&t, "%s/api/v1/namespaces/%s/pods/%s/%s", c->prefix, ns, o->pod,
               o->kind == PMX_ATTACH ? "attach" : "exec");
    if (o->kind == PMX_EXEC)
        for (int i = 0; i < o->argc; i++)
            http_query_add(&t, &first, "command", o->argv[i]);
    if (o->container) http_query_add(&t, &first, "container", o->container);
    int out = o->stdout_, err = o->stderr_;
    if (!o->stdin_ && !o->stdout_ && !o->stderr_ && !o->tty) out = 1;
    if (err && !o->tty) http_query_add(&t, &first, "stderr", "true");
    if (o->stdin_) http_query_add(&t, &first, "stdin", "true");
    if (out || o->tty) http_query_add(&t, &first, "stdout", "true");
    if (o->tty) http_query_add(&t, &first, "tty", "true");
    if (!t.data) return NULL;
    return buf_steal(&t);
}

PMX_API int pmx_session_start(pmx_client_t *c, const pmx_session_opts_t *o,
                              const pmx_session_cb_t *cb, void *data, pmx_session_t **out)
{
    if (!c || !o || !cb || !out) return PMX_EINVAL;
    const char *ns = o->namespace_ ? o->namespace_ : pmx_client_namespace(c);
    if (!valid_segment(ns) || !valid_segment(o->pod)) return PMX_EINVAL;
    if (o->container && !valid_segment(o->container)) return PMX_EINVAL;
    if (o->kind == PMX_EXEC && (o->argc < 1 || !o->argv)) return PMX_EINVAL;
    pmx_session_t *s = session_alloc(c, MODE_STREAM);
    if (!s) return PMX_ENOMEM;
    s->cb = *cb;
    s->data = data;
    s->tty = o->tty;
    s->init_w = o->width;
    s->init_h = o->height;
    s->timeout_ms = o->timeout_ms;
    s->stdin_hw = o->stdin_high_water ? o->stdin_high_water : 1024 * 1024;
    s->stdin_lw = o->stdin_low_water ? o->stdin_low_water : 256 * 1024;
    s->target = build_target(c, o, ns);
    s->protocols = strdup(o->protocols ? o->protocols : DEFAULT_PROTOCOLS);
    size_t ll = strlen(ns) + strlen(o->pod) + 2;
    s->label = malloc(ll);
    if (!s->target || !s->protocols || !s->label) {
        s->user_closed = 1;
        s->finished = 1;
        s->cb.on_close = NULL;
        begin_close(s);
        return PMX_ENOMEM;
    }
    snprintf(s->label, ll, "%s/%s", ns, o->pod);
    if (s->timeout_ms) uv_timer_start(&s->deadline, deadline_cb, s->timeout_ms, 0);
    *out = s;
    uv_timer_start(&s->defer, defer_cb, 0, 0);
    return 0;
}

int pmx_rest_get(pmx_client_t *c, const char *path, pmx_get_cb cb, void *data)
{
    pmx_session_t *s = session_alloc(c, MODE_REST);
    if (!s) return PMX_ENOMEM;
    s->rest_cb = cb;
    s->data = data;
    s->keepalive_ms = UINT64_MAX;
    size_t tl = strlen(c->prefix) + strlen(path) + 1;
    s->target = malloc(tl);
    s->label = strdup(path);
    if (!s->target || !s->label) {
        s->finished = 1;
        s->user_closed = 1;
        begin_close(s);
        return PMX_ENOMEM;
    }
    snprintf(s->target, tl, "%s%s", c->prefix, path);
    uv_timer_start(&s->defer, defer_cb, 0, 0);
    return 0;
}

PMX_API int pmx_client_get(pmx_client_t *c, const char *path, pmx_get_cb cb, void *data)
{
    if (!c || !path || path[0] != '/' || !cb) return PMX_EINVAL;
    return pmx_rest_get(c, path, cb, data);
}

/* ---- calls on a live session -------------------------------------------------------------- */
PMX_API void *pmx_session_data(const pmx_session_t *s)
{
    return s->data;
}

PMX_API pmx_state_t pmx_session_state(const pmx_session_t *s)
{
    return s->state;
}

PMX_API const char *pmx_session_protocol(const pmx_session_t *s)
{
    return s->ws ? s->proto_name : NULL;
}

PMX_API const char *pmx_session_error(const pmx_session_t *s)
{
    return s->exit.err ? s->message : "";
}

PMX_API long pmx_session_write(pmx_session_t *s, const void *buf, size_t len)
{
    if (s->finished || s->closing || s->user_closed) return PMX_EBUSY;
    if (s->stdin_close_pending) return PMX_EBUSY;
    if (buf_append(&s->stdin_q, buf, len) < 0) return PMX_ENOMEM;
    if (s->ws) flush_stdin(s);
    size_t q = total_queued(s);
    if (q > s->stdin_hw) {
        s->stdin_above = 1;
        /* Be told when the socket's queue empties, even if it never passed its own mark; and
         * if everything already left, say so from the loop (never from inside this call). */
        if (s->stream) want_socket_drain(s, q);
        if (q <= s->stdin_lw || (s->stream && !stream_queued(s->stream)))
            uv_timer_start(&s->defer, defer_cb, 0, 0);
    }
    return (long)q;
}

PMX_API size_t pmx_session_queued(const pmx_session_t *s)
{
    return total_queued(s);
}

PMX_API int pmx_session_close_stdin(pmx_session_t *s)
{
    if (s->finished || s->closing) return PMX_EBUSY;
    if (s->ws && !chan_proto_has_close(s->proto)) {
        s->stdin_close_pending = 1;
        if (!s->grace_armed) arm_grace(s); /* issue 13: end after quiet output instead */
        return PMX_ENOTSUP;
    }
    s->stdin_close_pending = 1;
    if (s->ws) flush_stdin(s);
    return 0;
}

PMX_API int pmx_session_resize(pmx_session_t *s, unsigned width, unsigned height)
{
    if (!s->tty || width == 0 || height == 0 || width > 65535 || height > 65535) return PMX_EINVAL;
    if (s->finished || s->closing) return PMX_EBUSY;
    if (!s->ws) {
        s->init_w = width; /* sent right after open */
        s->init_h = height;
        return 0;
    }
    return send_resize(s, width, height);
}

PMX_API void pmx_session_pause(pmx_session_t *s)
{
    s->paused = 1;
    if (s->stream) stream_pause(s->stream);
}

PMX_API void pmx_session_resume(pmx_session_t *s)
{
    if (!s->paused) return;
    s->paused = 0;
    s->last_rx = uv_now(s->c->loop); /* the dead-peer clock restarts with reading */
    if (s->stream && !s->ws_blocked) stream_resume(s->stream); /* issue 13: drain resumes */
}

PMX_API void pmx_session_close(pmx_session_t *s)
{
    if (s->user_closed) return;
    s->user_closed = 1;
    if (s->finished) {
        begin_close(s);
        return;
    }
    uv_timer_start(&s->defer, defer_cb, 0, 0);
}
