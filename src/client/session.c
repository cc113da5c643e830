/* session: one exec or attach session on the caller's loop.
 *
 *   waiting_credentials -> resolving -> connecting -> tls_handshake -> upgrading   (its request)
 *     -> open -> (stdin_closed) -> exited -> closing -> closed                     (its own)
 *
 * The session starts a request (request.c: credentials, conn, the upgrade request, 401 retry,
 * the response) whose 101 hands it the conn and the bytes that came with the headers. From then
 * on every byte of plaintext enters through session_input(), whichever read it came in: the
 * WebSocket engine (ws), the channel codec (chan), the exit status. Every user callback runs
 * from a loop event, never from inside the pmx_* call that caused it.
 *
 * Lifetime: the session owns its request (until it is closed), its conn (after the upgrade) and
 * three timers; it is freed once all of them have closed, right after on_close. A user call made
 * from inside a callback only sets state or starts asynchronous work, so closing from a callback
 * is safe by construction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/conn.h"
#include "client/internal.h"
#include "client/request.h"
#include "proto/chan.h"
#include "proto/http.h"
#include "proto/ws.h"
#include "util/buf.h"
#include "util/fmt.h"

#define DEFAULT_PROTOCOLS "v5.channel.k8s.io, v4.channel.k8s.io, channel.k8s.io"
#define STDIN_CHUNK (32 * 1024)

typedef enum { STDIN_OPEN, STDIN_CLOSE_PENDING, STDIN_CLOSE_SENT } stdin_state_t;

struct pmx_session {
    pmx_client_t *c;
    pmx_state_t state; /* the one state; phases before open are the request's and its conn's */
    pmx_session_cb_t cb;
    void *data;
    int user_closed; /* pmx_session_close() was called: no more data callbacks */

    char *label; /* "ns/pod" for messages */
    int tty;
    unsigned init_w, init_h;
    char *protocols;
    char key[25];

    pmx__request_t *req; /* the upgrade, until it is closed */
    pmx__conn_t *conn;   /* after the 101 */
    unsigned children;   /* request, conn and timers not yet closed */

    ws_t *ws;
    chan_proto_t proto;
    char proto_name[40];
    buf_t decoded;
    buf_t errstream; /* parsed when the session ends (it may come in pieces) */
    int status_received;

    buf_t stdin_q;
    size_t stdin_hw, stdin_lw;
    int stdin_above;
    stdin_state_t stdin_state;
    int paused;
    int ws_blocked; /* reading stopped: the engine owes the server more pongs than it takes */

    uv_timer_t keepalive; /* pings once open */
    uv_timer_t deadline;  /* whole-session timeout */
    uv_timer_t defer;     /* events decided inside a pmx_* call: cancel, drain */
    uv_timer_t grace;     /* stdin ended on a protocol that cannot say so: quiet output ends it */
    int grace_armed;
    uint64_t timeout_ms, keepalive_ms;
    uint64_t last_rx, t_start;

    pmx_exit_t exit;
    char *message; /* made when the session ends: an open one keeps no room for it */
    char reason[64];
};

static void begin_close(pmx_session_t *s);
static void check_drain(pmx_session_t *s);
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
    return (double)(uv_now(pmx__client_loop(s->c)) - s->t_start);
}

static void set_state(pmx_session_t *s, pmx_state_t st)
{
    if (s->state == st) return;
    pmx__log(s->c, "%s: %s -> %s (%.1f ms)", s->label, pmx_state_name(s->state), pmx_state_name(st),
             ms_since(s));
    s->state = st;
}

static int finished(const pmx_session_t *s)
{
    return s->state >= PMX_STATE_EXITED;
}

/* ---- ending ---------------------------------------------------------------------------------- */
/* Decides the outcome, once, and reports it (err 0: exit_code is valid). A session the user
 * closed before it ended reports PMX_ECANCELED whatever ended it. */
static void finish(pmx_session_t *s, int err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void finish(pmx_session_t *s, int err, int code, const char *fmt, ...)
{
    if (finished(s)) return;
    char msg[1024] = "";
    if (s->user_closed) {
        err = PMX_ECANCELED;
        snprintf(msg, sizeof msg, "%s: canceled", s->label);
    } else if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        /* pmx_exit_t.message is one line even when a server's text is not. */
        for (char *p = msg; *p; p++)
            if ((unsigned char)*p < ' ') *p = ' ';
    }
    s->message = strdup(msg); /* once: finished() guards this function */
    s->exit.err = err;
    s->exit.exit_code = err ? -1 : code;
    s->exit.message = s->message ? s->message : (err ? "out of memory" : "");
    s->exit.reason = s->reason;
    set_state(s, PMX_STATE_EXITED);
    if (err == 0)
        pmx__log(s->c, "%s: exit %d (%.1f ms)", s->label, s->exit.exit_code, ms_since(s));
    else
        pmx__log(s->c, "%s: %s: %s", s->label, pmx_err_name(err), s->exit.message);
    if (s->cb.on_exit) s->cb.on_exit(s, &s->exit, s->data);
    begin_close(s);
}

static void finish_status(pmx_session_t *s)
{
    chan_status_t status, *st = &status;
    chan_status_parse(s->proto, (const uint8_t *)s->errstream.data, s->errstream.len, st);
    snprintf(s->reason, sizeof s->reason, "%.63s", st->reason);
    if (st->http_code) s->exit.http_status = st->http_code;
    if (st->kind == CHAN_STATUS_SUCCESS || st->kind == CHAN_STATUS_EXIT)
        finish(s, 0, st->exit_code, "%s", st->kind == CHAN_STATUS_SUCCESS ? "" : st->message);
    else
        finish(s, PMX_EREMOTE, -1, "%s", st->message);
}

/* One of the session's children (request, conn, timer) is closed: the last one frees it. */
static void child_closed(pmx_session_t *s)
{
    if (--s->children > 0) return;
    set_state(s, PMX_STATE_CLOSED);
    if (s->ws) ws_free(s->ws);
    buf_free(&s->decoded);
    buf_free(&s->errstream);
    buf_free(&s->stdin_q);
    pmx_client_t *c = s->c;
    if (s->cb.on_close) s->cb.on_close(s, s->data);
    free(s->label);
    free(s->protocols);
    free(s->message);
    free(s);
    pmx__client_release(c);
}

static void timer_closed(uv_handle_t *h)
{
    child_closed(h->data);
}

static void begin_close(pmx_session_t *s)
{
    if (s->state >= PMX_STATE_CLOSING) return;
    set_state(s, PMX_STATE_CLOSING);
    if (s->req) {
        pmx__request_close(s->req); /* its on_close is a child_closed */
        s->req = NULL;
    }
    if (s->conn) {
        if (s->ws && !ws_close_sent(s->ws)) {
            ws_queue_close(s->ws, 1000, NULL);
            ws_flush(s->ws);
        }
        /* After a status the peer is alive: let the close frame out. After a failure or a
         * cancel the peer may be stalled: close at once (the server then ends the process). */
        pmx__conn_close(s->conn, s->exit.err == 0 && !s->user_closed);
    }
    uv_close((uv_handle_t *)&s->keepalive, timer_closed);
    uv_close((uv_handle_t *)&s->deadline, timer_closed);
    uv_close((uv_handle_t *)&s->defer, timer_closed);
    uv_close((uv_handle_t *)&s->grace, timer_closed);
}

/* Events decided inside a pmx_* call run from here: a cancel, an on_drain. */
static void defer_cb(uv_timer_t *t)
{
    pmx_session_t *s = t->data;
    if (finished(s)) return;
    if (s->user_closed) {
        finish(s, PMX_ECANCELED, -1, NULL);
        return;
    }
    check_drain(s);
}

/* ---- WebSocket + channels -------------------------------------------------------------------- */
static int ws_send_cb(void *arg, const uint8_t *data, size_t len)
{
    pmx_session_t *s = arg;
    if (!s->conn) return -1;
    if (pmx__conn_above_high_water(s->conn)) return WS_WOULDBLOCK;
    return pmx__conn_write(s->conn, data, len) < 0 ? -1 : 0;
}

static int genmask_cb(void *arg, uint8_t *buf, size_t len)
{
    pmx_session_t *s = arg;
    return pmx__client_random(s->c, buf, len);
}
static void ws_message_cb(void *arg, int opcode, const uint8_t *data, size_t len)
{
    pmx_session_t *s = arg;
    if (finished(s) || s->user_closed) return;
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
        s->exit.bytes_out += n;
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
        s->status_received = 1;
        break;
    default:
        break; /* initial empty frame, unknown channels: ignored as client-go does */
    }
}

static void conclude_without_more_data(pmx_session_t *s, int clean_close, uint16_t code)
{
    if (finished(s)) return;
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
        fmt_bytes(s->exit.bytes_out, amount, sizeof amount);
        finish(s, PMX_ELOST, -1,
               "connection to %s lost after %s; the command's exit status is unknown",
               pmx__client_endpoint(s->c)->hostport, amount);
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

/* ---- stdin's end without v5 --------------------------------------------------------------------
 * v4 and older cannot carry the end of stdin, so `printf 'a\n' | podmux exec -i POD -- cat`
 * would wait for ever (kubectl falls back to SPDY, which can). Once stdin has ended and all of
 * it was sent, the session ends when the output has been quiet for the grace
 * (pmx_client_opts_t.eof_grace_ms, default 2 s), as PMX_ENOSTATUS: the exit status is unknown. */
static uint64_t eof_grace_ms(const pmx_session_t *s)
{
    uint64_t g = pmx__client_opts(s->c)->eof_grace_ms;
    return g ? g : 2000;
}

static void grace_cb(uv_timer_t *t)
{
    pmx_session_t *s = t->data;
    if (finished(s)) return;
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
    if (finished(s) || s->grace_armed || eof_grace_ms(s) == UINT64_MAX) return;
    s->grace_armed = 1;
    uv_timer_start(&s->grace, grace_cb, eof_grace_ms(s), 0);
}

static void flush_stdin(pmx_session_t *s)
{
    if (!s->ws || s->state >= PMX_STATE_CLOSING) return;
    buf_t enc;
    buf_init(&enc, 0);
    while (s->stdin_q.len && !pmx__conn_above_high_water(s->conn)) {
        size_t n = s->stdin_q.len < STDIN_CHUNK ? s->stdin_q.len : STDIN_CHUNK;
        int op = WS_OP_BINARY;
        buf_reset(&enc);
        if (chan_encode(s->proto, CHAN_STDIN, (const uint8_t *)s->stdin_q.data, n, &enc, &op) < 0 ||
            ws_queue(s->ws, op, (const uint8_t *)enc.data, enc.len) < 0)
            break;
        s->exit.bytes_in += n;
        buf_consume(&s->stdin_q, n);
        ws_flush(s->ws);
    }
    if (s->stdin_state == STDIN_CLOSE_PENDING && s->stdin_q.len == 0) {
        int op = WS_OP_BINARY;
        buf_reset(&enc);
        if (chan_encode_close(s->proto, CHAN_STDIN, &enc, &op) == 0 &&
            ws_queue(s->ws, op, (const uint8_t *)enc.data, enc.len) == 0) {
            s->stdin_state = STDIN_CLOSE_SENT;
            if (s->state == PMX_STATE_OPEN) set_state(s, PMX_STATE_STDIN_CLOSED);
        } else if (!chan_proto_has_close(s->proto)) {
            arm_grace(s); /* closed before the 101 chose a protocol without the signal */
        }
    }
    buf_free(&enc);
    ws_flush(s->ws);
}

static size_t total_queued(const pmx_session_t *s)
{
    size_t q = s->stdin_q.len;
    if (s->ws) q += ws_queued_bytes(s->ws);
    if (s->conn) q += pmx__conn_queued(s->conn);
    return q;
}

/* Be told when the socket's queue is down to what leaves the whole queue at our low water: the
 * stream's own mark (256 KiB) is no use to a session whose mark is lower (fan-out: 64 KiB). */
static void want_socket_drain(pmx_session_t *s, size_t total)
{
    size_t sock = pmx__conn_queued(s->conn), other = total - sock;
    size_t at = s->stdin_lw > other ? s->stdin_lw - other : 0;
    /* Input still waits in front of the socket (it took all it could): refill at its own mark. */
    size_t lw = pmx__conn_low_water(s->conn);
    if (s->stdin_q.len && at < lw) at = lw;
    pmx__conn_want_drain(s->conn, at);
}

/* on_drain once the whole queue (ours, the engine's, the socket's) is below low water. */
static void check_drain(pmx_session_t *s)
{
    if (!s->stdin_above) return;
    size_t total = total_queued(s);
    if (total <= s->stdin_lw) {
        s->stdin_above = 0;
        if (s->cb.on_drain && !s->user_closed && !finished(s)) s->cb.on_drain(s, s->data);
    } else if (s->conn) {
        want_socket_drain(s, total); /* not yet: be called again when the socket drains */
    }
}

static void flush_all(pmx_session_t *s)
{
    if (!s->ws || !s->conn) return;
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

/* ---- timers ---------------------------------------------------------------------------------- */
static void keepalive_cb(uv_timer_t *t)
{
    pmx_session_t *s = t->data;
    if (finished(s) || !s->ws) return;
    uint64_t now = uv_now(pmx__client_loop(s->c));
    /* While the owner holds reading off (its output is backed up) pongs wait unread in the
     * socket, as they do for client-go, whose read deadline only runs inside a read: the
     * silence is ours, not the server's. */
    if (s->paused) s->last_rx = now;
    uint64_t idle = now - s->last_rx;
    if (idle > 12 * s->keepalive_ms + 1000 && ws_read_blocked(s->ws)) {
        /* Reading stopped because the server does not read the pongs it asks for. */
        finish(s, PMX_ETIMEDOUT, -1,
               "%s: %s sends pings but has not read the replies for %.1f s; the command's exit "
               "status is unknown",
               s->label, pmx__client_endpoint(s->c)->hostport, (double)idle / 1000);
        return;
    }
    /* client-go's pingReadDeadline: 12 periods + 1 s. A server that is not reading because
     * our stdin fills its process's pipe cannot answer pings either; a shorter deadline
     * failed healthy sessions under load (100 sessions x 10 MiB of stdin). */
    if (idle > 12 * s->keepalive_ms + 1000) {
        finish(s, PMX_ETIMEDOUT, -1,
               "%s: no data and no pong from %s for %.1f s; the command's exit status is unknown",
               s->label, pmx__client_endpoint(s->c)->hostport, (double)idle / 1000);
        return;
    }
    ws_queue_ping(s->ws);
    ws_flush(s->ws);
}

static void deadline_cb(uv_timer_t *t)
{
    pmx_session_t *s = t->data;
    finish(s, PMX_ETIMEDOUT, -1, "%s: timed out after %.1f s", s->label,
           (double)s->timeout_ms / 1000);
}

/* ---- plaintext in: one entry point ----------------------------------------------------------- */
/* Every byte after the 101's headers comes through here: those that arrived with the headers
 * and every later read alike. Returns 1 when reading must pause. */
static int session_input(pmx_session_t *s, const uint8_t *data, size_t len)
{
    if (finished(s)) return 0;
    if (len) s->last_rx = uv_now(pmx__client_loop(s->c));
    /* len 0: parse what the engine kept while it owed pongs. */
    if (ws_feed(s->ws, data, len) < 0 && !finished(s))
        finish(s, PMX_EPROTO, -1, "%s: malformed WebSocket data from the server", s->label);
    /* The status is the last message: conclude without waiting for close or EOF, once
     * everything in this read was delivered. */
    if (s->status_received && !finished(s)) finish_status(s);
    if (!finished(s)) flush_all(s);
    /* The engine owes the server more pongs than it takes: read no further until they go out
     * (conn_drain reads again; keepalive_cb gives up if that lasts). */
    if (!finished(s) && ws_read_blocked(s->ws)) s->ws_blocked = 1;
    return s->paused || s->ws_blocked;
}

static int conn_data(void *data, const uint8_t *p, size_t n)
{
    return session_input(data, p, n);
}

static void conn_end(void *data, int status)
{
    pmx_session_t *s = data;
    conclude_without_more_data(s, 0, 0);
}

static void conn_drain(void *data)
{
    pmx_session_t *s = data;
    if (finished(s)) return;
    flush_all(s);
    /* The pongs that stopped reading went out: parse what was kept, then read again. */
    if (s->ws_blocked && !finished(s) && !ws_read_blocked(s->ws)) {
        s->ws_blocked = 0;
        session_input(s, NULL, 0);
        if (!finished(s) && !s->paused && !s->ws_blocked && s->conn) pmx__conn_resume(s->conn);
    }
}

static void conn_closed(void *data)
{
    pmx_session_t *s = data;
    s->conn = NULL;
    child_closed(s);
}

static const pmx__conn_cb_t session_conn_cb = {NULL,     NULL,       NULL,       conn_data,
                                               conn_end, conn_drain, conn_closed};

/* ---- the upgrade ----------------------------------------------------------------------------- */
/* The protocol the server chose must be one we offered (client-go treats anything else as an
 * upgrade failure); none at all means channel.k8s.io semantics. */
static int offered(const pmx_session_t *s, const char *proto)
{
    if (!proto || !*proto) return 1;
    const char *p = s->protocols;
    size_t pl = strlen(proto);
    while ((p = strstr(p, proto))) {
        char after = p[pl];
        if ((p == s->protocols || p[-1] == ' ' || p[-1] == ',') &&
            (after == 0 || after == ',' || after == ' '))
            return 1;
        p += pl;
    }
    return 0;
}

static int open_websocket(pmx_session_t *s, const http_msg_t *m)
{
    char accept[29], why[96];
    if (http_check_ws_101(m, why, sizeof why) < 0) { /* RFC 6455 4.1 */
        finish(s, PMX_EUPGRADE, -1, "%s: bad upgrade response from %s: %s", s->label,
               pmx__client_endpoint(s->c)->hostport, why);
        return -1;
    }
    const char *got = http_msg_header(m, "Sec-WebSocket-Accept");
    if (ws_accept_for_key(s->key, accept) < 0 || !got || strcmp(got, accept) != 0) {
        finish(s, PMX_EUPGRADE, -1, "%s: bad Sec-WebSocket-Accept from %s", s->label,
               pmx__client_endpoint(s->c)->hostport);
        return -1;
    }
    const char *proto = http_msg_header(m, "Sec-WebSocket-Protocol");
    s->proto = chan_proto_from_name(proto ? proto : "");
    if (s->proto == CHAN_PROTO_INVALID || !offered(s, proto)) {
        finish(s, PMX_EUPGRADE, -1, "%s: server chose protocol \"%s\", which was not offered",
               s->label, proto ? proto : "");
        return -1;
    }
    snprintf(s->proto_name, sizeof s->proto_name, "%s", chan_proto_name(s->proto));
    ws_io_t io = {ws_send_cb, ws_message_cb, ws_close_cb, ws_pong_cb, ws_error_cb, genmask_cb, s};
    const pmx_client_opts_t *o = pmx__client_opts(s->c);
    size_t maxmsg = o->max_message ? o->max_message : 32u * 1024 * 1024;
    if (ws_new(0, maxmsg, &io, &s->ws) < 0) {
        finish(s, PMX_ENOMEM, -1, "%s: out of memory", s->label);
        return -1;
    }
    return 0;
}

static void req_upgrade(void *data, pmx__conn_t *conn, const http_msg_t *m, const uint8_t *rest,
                        size_t n)
{
    pmx_session_t *s = data;
    s->conn = conn;
    s->children++;
    pmx__conn_set_cb(conn, &session_conn_cb, s);
    /* The request's work is done: an open session keeps neither its parsed response nor its
     * timer (m stays valid until the request's close completes, on a later loop turn). */
    pmx__request_close(s->req);
    s->req = NULL;
    s->exit.http_status = m->status;
    if (s->paused) pmx__conn_pause(conn);
    if (open_websocket(s, m) < 0) return;
    s->exit.command_started = 1;
    set_state(s, PMX_STATE_OPEN);
    pmx__log(s->c, "%s: protocol \"%s\"", s->label, s->proto_name);
    if (s->keepalive_ms != UINT64_MAX)
        uv_timer_start(&s->keepalive, keepalive_cb, s->keepalive_ms, s->keepalive_ms);
    if (s->cb.on_open && !s->user_closed) s->cb.on_open(s, s->proto_name, s->data);
    if (finished(s)) return;
    if (s->tty && s->init_w && s->init_h) send_resize(s, s->init_w, s->init_h);
    flush_all(s);
    /* The bytes that came with the headers take the path of every later read; the request's
     * read callback cannot pass on a pause, so it is applied here. */
    if (session_input(s, rest, n) && s->conn) pmx__conn_pause(s->conn);
}

static void req_phase(void *data, pmx_state_t st)
{
    pmx_session_t *s = data;
    if (!finished(s)) set_state(s, st);
}

static void req_sent(void *data)
{
    pmx_session_t *s = data;
    s->exit.request_sent = 1;
}

static void req_done(void *data, const pmx__response_t *r)
{
    pmx_session_t *s = data;
    s->exit.http_status = r->http_status;
    s->exit.retry_after = r->retry_after;
    snprintf(s->reason, sizeof s->reason, "%s", r->reason);
    finish(s, r->err ? r->err : PMX_EUPGRADE, -1, "%s", r->message);
}

static void req_closed(void *data)
{
    child_closed(data);
}

/* ---- creation -------------------------------------------------------------------------------- */
/* Kubernetes names: no '/', '?', '#', '%', whitespace or control bytes in a path segment. */
static int valid_segment(const char *v)
{
    if (!v || !*v || strlen(v) > 253) return 0;
    for (const char *p = v; *p; p++)
        if (*p == '/' || *p == '?' || *p == '#' || *p == '%' || (unsigned char)*p <= ' ') return 0;
    return strcmp(v, ".") && strcmp(v, "..");
}

/* The exec/attach path and query, as kubectl builds them. 0 or PMX_ENOMEM. */
static int build_target(buf_t *t, const pmx_session_opts_t *o, const char *ns)
{
    int first = 1;
    int r = buf_printf(t, "/api/v1/namespaces/%s/pods/%s/%s", ns, o->pod,
                       o->kind == PMX_ATTACH ? "attach" : "exec");
    if (o->kind == PMX_EXEC)
        for (int i = 0; r == 0 && i < o->argc; i++)
            r = http_query_add(t, &first, "command", o->argv[i]);
    if (r == 0 && o->container) r = http_query_add(t, &first, "container", o->container);
    int out = o->stdout_, err = o->stderr_;
    if (!o->stdin_ && !o->stdout_ && !o->stderr_ && !o->tty) out = 1;
    if (r == 0 && err && !o->tty) r = http_query_add(t, &first, "stderr", "true");
    if (r == 0 && o->stdin_) r = http_query_add(t, &first, "stdin", "true");
    if (r == 0 && (out || o->tty)) r = http_query_add(t, &first, "stdout", "true");
    if (r == 0 && o->tty) r = http_query_add(t, &first, "tty", "true");
    return r < 0 ? PMX_ENOMEM : 0;
}

static void session_free_unstarted(pmx_session_t *s)
{
    free(s->label);
    free(s->protocols);
    free(s->message);
    buf_free(&s->decoded);
    buf_free(&s->errstream);
    buf_free(&s->stdin_q);
    free(s);
}

static int start_upgrade(pmx_session_t *s, const pmx_session_opts_t *o, const char *ns)
{
    uint8_t rnd[16];
    if (genmask_cb(s, rnd, sizeof rnd) < 0) return PMX_EIO;
    ws_key_from_random(rnd, s->key);
    const char *hdrs[] = {"Connection",
                          "Upgrade",
                          "Upgrade",
                          "websocket",
                          "Sec-WebSocket-Key",
                          s->key,
                          "Sec-WebSocket-Protocol",
                          s->protocols,
                          "Sec-WebSocket-Version",
                          "13",
                          NULL};
    buf_t target;
    buf_init(&target, 0);
    int r = build_target(&target, o, ns);
    pmx__request_opts_t ro = {0};
    ro.target = target.data;
    ro.headers = hdrs;
    ro.upgrade = 1;
    ro.timeout_ms = pmx__client_opts(s->c)->upgrade_timeout_ms;
    ro.label = s->label;
    pmx__request_cb_t rcb = {req_phase, req_sent, req_upgrade, req_done, req_closed};
    if (r == 0) r = pmx__request_start(s->c, &ro, &rcb, s, &s->req);
    buf_free(&target);
    return r;
}

PMX_API int pmx_session_start(pmx_client_t *c, const pmx_session_opts_t *o,
                              const pmx_session_cb_t *cb, void *data, pmx_session_t **out)
{
    if (!c || !o || !cb || !out) return PMX_EINVAL;
    const char *ns = o->namespace_ ? o->namespace_ : pmx_client_namespace(c);
    if (!valid_segment(ns) || !valid_segment(o->pod)) return PMX_EINVAL;
    if (o->container && !valid_segment(o->container)) return PMX_EINVAL;
    if (o->kind == PMX_EXEC && (o->argc < 1 || !o->argv)) return PMX_EINVAL;
    pmx_session_t *s = calloc(1, sizeof *s);
    if (!s) return PMX_ENOMEM;
    s->c = c;
    s->state = PMX_STATE_WAITING_CREDENTIALS;
    s->exit.exit_code = -1;
    s->proto = CHAN_PROTO_INVALID;
    s->cb = *cb;
    s->data = data;
    s->tty = o->tty;
    s->init_w = o->width;
    s->init_h = o->height;
    s->timeout_ms = o->timeout_ms;
    s->keepalive_ms = pmx__client_opts(c)->keepalive_ms;
    s->stdin_hw = o->stdin_high_water ? o->stdin_high_water : 1024 * 1024;
    s->stdin_lw = o->stdin_low_water ? o->stdin_low_water : 256 * 1024;
    buf_init(&s->decoded, 0);
    buf_init(&s->errstream, PMX_MAX_ERROR_STREAM);
    buf_init(&s->stdin_q, PMX_MAX_STDIN_QUEUE);
    s->protocols = strdup(o->protocols ? o->protocols : DEFAULT_PROTOCOLS);
    size_t ll = strlen(ns) + strlen(o->pod) + 2;
    s->label = malloc(ll);
    if (!s->protocols || !s->label) {
        session_free_unstarted(s);
        return PMX_ENOMEM;
    }
    snprintf(s->label, ll, "%s/%s", ns, o->pod);
    int r = start_upgrade(s, o, ns);
    if (r < 0) {
        session_free_unstarted(s);
        return r;
    }
    uv_loop_t *loop = pmx__client_loop(c);
    uv_timer_init(loop, &s->keepalive);
    uv_timer_init(loop, &s->deadline);
    uv_timer_init(loop, &s->defer);
    uv_timer_init(loop, &s->grace);
    s->keepalive.data = s->deadline.data = s->defer.data = s->grace.data = s;
    s->children = 5; /* the request and the four timers */
    s->t_start = s->last_rx = uv_now(loop);
    pmx__client_hold(c);
    if (s->timeout_ms) uv_timer_start(&s->deadline, deadline_cb, s->timeout_ms, 0);
    *out = s;
    return 0;
}

/* ---- calls on a live session ----------------------------------------------------------------- */
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
    return s->exit.err ? s->exit.message : "";
}

PMX_API long pmx_session_write(pmx_session_t *s, const void *buf, size_t len)
{
    if (finished(s) || s->user_closed) return PMX_EBUSY;
    if (s->stdin_state != STDIN_OPEN) return PMX_EBUSY;
    if (buf_append(&s->stdin_q, buf, len) < 0) return PMX_ENOMEM;
    if (s->ws) flush_stdin(s);
    size_t q = total_queued(s);
    if (q > s->stdin_hw) {
        s->stdin_above = 1;
        /* Be told when the socket's queue empties, even if it never passed its own mark; and
         * if everything already left, say so from the loop (never from inside this call). */
        if (s->conn) want_socket_drain(s, q);
        if (q <= s->stdin_lw || (s->conn && !pmx__conn_queued(s->conn)))
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
    if (finished(s)) return PMX_EBUSY;
    if (s->ws && !chan_proto_has_close(s->proto)) {
        if (s->stdin_state == STDIN_OPEN) s->stdin_state = STDIN_CLOSE_PENDING;
        arm_grace(s); /* end after quiet output instead */
        return PMX_ENOTSUP;
    }
    if (s->stdin_state == STDIN_OPEN) s->stdin_state = STDIN_CLOSE_PENDING;
    if (s->ws) flush_stdin(s);
    return 0;
}

PMX_API int pmx_session_resize(pmx_session_t *s, unsigned width, unsigned height)
{
    if (!s->tty || width == 0 || height == 0 || width > 65535 || height > 65535) return PMX_EINVAL;
    if (finished(s)) return PMX_EBUSY;
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
    if (s->conn) pmx__conn_pause(s->conn);
}

PMX_API void pmx_session_resume(pmx_session_t *s)
{
    if (!s->paused) return;
    s->paused = 0;
    s->last_rx = uv_now(pmx__client_loop(s->c)); /* the dead-peer clock restarts with reading */
    if (s->conn) pmx__conn_resume(s->conn);
}

PMX_API void pmx_session_close(pmx_session_t *s)
{
    if (s->user_closed) return;
    s->user_closed = 1;
    if (finished(s)) {
        begin_close(s);
        return;
    }
    uv_timer_start(&s->defer, defer_cb, 0, 0);
}
