/* ws: WebSocket framing on wslay 1.1.1's event API.
 *
 * Sending: our own FIFO holds queued messages; wslay gets one at a time, and what it writes
 * through send_cb is collected as whole frames in `out`. ws_flush() offers io.send exactly one
 * frame per call, so a transport can give each frame its own TLS record. Frames are only ever
 * started in `out` when it is below a soft limit, so wslay never holds half a frame.
 *
 * Receiving: bytes pass a frame-header check before wslay sees them, because wslay answers
 * header-level violations (oversized or fragmented control frames, non-minimal lengths) with a
 * close that has no status code; we answer those with 1002 ourselves. Everything else (masking,
 * opcodes, continuation order, UTF-8, message size) is wslay's, and the code it sends is read
 * back from the close frame it writes. */
#include "proto/ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "util/buf.h"

#define WS_DEFAULT_MAX_MSG (32u << 20)  /* x/net's DefaultMaxPayloadBytes */
#define WS_MAX_QUEUED (16u << 20)       /* a caller far past its high-water mark: refuse */
#define WS_OUT_SOFT_LIMIT (256u * 1024) /* start no new frame in `out` above this */
#define WS_IN_LIMIT (64u << 20)         /* one feed's bytes plus a partial header */
/* Replies wslay owes the peer (pongs, a close) and has not handed to `out`: past this many,
 * stop reading the peer until they go out (a peer that pings without reading). */
#define WS_OWED_MAX 64
/* Fragments per message: WS_FRAG_FREE of any size, then one more per WS_FRAG_MIN bytes of
 * payload, so wslay's per-fragment allocations stay proportional to the payload. */
#define WS_FRAG_FREE 1024u
#define WS_FRAG_MIN 1024u

typedef struct ws_item {
    struct ws_item *next;
    int opcode; /* WS_OP_CLOSE: data is code (big endian, absent when 0) + reason */
    size_t len;
    uint8_t data[];
} ws_item_t;

struct ws {
    wslay_event_context_ptr ctx;
    ws_io_t io;
    int is_server;
    uint64_t max_msg;
    /* receive */
    buf_t in;            /* fed bytes not yet given to wslay */
    size_t in_ok;        /* bytes of `in` whose frame headers passed the check */
    size_t in_pos;       /* bytes of `in` wslay took during this feed */
    uint64_t in_payload; /* payload bytes left in the frame that ends at in_ok */
    uint64_t frag_n;     /* data frames of the message being checked (0: between messages) */
    uint64_t frag_bytes; /* their announced payload */
    int error_reported;
    char bad_what[96]; /* what check_headers found, for on_error */
    /* send */
    ws_item_t *head, *tail;
    size_t fifo_bytes;
    buf_t out;            /* complete frames, oldest first */
    uint64_t out_payload; /* payload bytes wslay still owes for the frame it is writing */
    int capture_all;      /* ignore the soft limit (reading back an error close) */
    int close_queued;     /* ws_queue_close() was called */
    int close_handed;     /* a close frame was taken by io.send */
    int fatal;
};

/* ---- frame headers ------------------------------------------------------------------------ */

/* Parses a frame header at p. Returns its length (0: need more bytes), the payload length and
 * whether the header is one wslay would reject without a status code (*bad). */
static size_t parse_header(const uint8_t *p, size_t n, uint64_t *payload, int *bad)
{
    *bad = 0;
    if (n < 2) return 0;
    size_t len7 = p[1] & 0x7f;
    size_t hlen = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((p[1] & 0x80) ? 4 : 0);
    if (n < hlen) return 0;
    uint64_t len = len7;
    if (len7 >= 126) {
        len = 0;
        for (size_t i = 0; i < (len7 == 126 ? 2u : 8u); i++)
            len = len << 8 | p[2 + i];
    }
    int ctrl = (p[0] & 0x08) != 0, fin = (p[0] & 0x80) != 0;
    if ((ctrl && (len7 > 125 || !fin)) || (len7 == 126 && len < 126) ||
        (len7 == 127 && (len < 65536 || (len >> 63))))
        *bad = 1;
    *payload = len;
    return hlen;
}

/* Moves in_ok over every frame whose header is fine. Returns 0, or the close code for the bad
 * header that sits there: 1002, or 1009 for a frame that alone is over the message limit (wslay
 * would only notice once its payload starts arriving). */
static uint16_t check_headers(ws_t *ws)
{
    for (;;) {
        size_t avail = ws->in.len - ws->in_ok;
        if (ws->in_payload) {
            size_t skip = ws->in_payload < avail ? (size_t)ws->in_payload : avail;
            ws->in_ok += skip;
            ws->in_payload -= skip;
            if (ws->in_payload) return 0;
            continue;
        }
        int bad;
        uint64_t payload;
        size_t hlen = parse_header((const uint8_t *)ws->in.data + ws->in_ok, avail, &payload, &bad);
        if (bad) return 1002;
        if (!hlen) return 0;
        uint8_t b0 = (uint8_t)ws->in.data[ws->in_ok];
        if (payload > ws->max_msg && !(b0 & 0x08)) return 1009;
        if (!(b0 & 0x08)) {
            if ((b0 & 0x0f) != 0) ws->frag_n = ws->frag_bytes = 0; /* a first frame */
            ws->frag_n++;
            ws->frag_bytes += payload;
            if (ws->frag_n > WS_FRAG_FREE + ws->frag_bytes / WS_FRAG_MIN) {
                snprintf(ws->bad_what, sizeof ws->bad_what,
                         "message in too many fragments (%llu for %llu bytes)",
                         (unsigned long long)ws->frag_n, (unsigned long long)ws->frag_bytes);
                return 1009;
            }
            if (b0 & 0x80) ws->frag_n = ws->frag_bytes = 0;
        }
        ws->in_ok += hlen;
        ws->in_payload = payload;
    }
}

/* The status code in the last close frame of `out` from offset off on (0 if none). */
static uint16_t last_close_code(const ws_t *ws, size_t off)
{
    uint16_t code = 0;
    const uint8_t *p = (const uint8_t *)ws->out.data;
    while (off < ws->out.len) {
        int bad;
        uint64_t payload;
        size_t hlen = parse_header(p + off, ws->out.len - off, &payload, &bad);
        if (!hlen || payload > ws->out.len - off - hlen) break;
        if ((p[off] & 0x0f) == WS_OP_CLOSE && payload >= 2) {
            const uint8_t *m = (p[off + 1] & 0x80) ? p + off + hlen - 4 : NULL;
            const uint8_t *d = p + off + hlen;
            code = (uint16_t)((d[0] ^ (m ? m[0] : 0)) << 8 | (d[1] ^ (m ? m[1] : 0)));
        }
        off += hlen + (size_t)payload;
    }
    return code;
}

/* ---- wslay callbacks ------------------------------------------------------------------------ */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    ws_t *ws = user;
    size_t avail = ws->in_ok - ws->in_pos;
    if (!avail || wslay_event_get_queued_msg_count(ctx) > WS_OWED_MAX) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < avail ? len : avail;
    memcpy(buf, ws->in.data + ws->in_pos, n);
    ws->in_pos += n;
    return (ssize_t)n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    ws_t *ws = user;
    uint64_t payload = ws->out_payload;
    if (payload == 0) {
        /* wslay hands over a whole header in one call: a new frame starts here. */
        if (!ws->capture_all && ws->out.len >= WS_OUT_SOFT_LIMIT) {
            wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
            return -1;
        }
        int bad;
        if (!parse_header(data, len, &payload, &bad)) {
            wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
            return -1;
        }
    } else {
        payload -= len < payload ? len : payload;
    }
    if (buf_append(&ws->out, data, len)) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    ws->out_payload = payload;
    return (ssize_t)len;
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
    ws_t *ws = user;
    return ws->io.genmask(ws->io.arg, buf, len) ? -1 : 0;
}

static void on_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *user)
{
    ws_t *ws = user;
    const uint8_t *msg = arg->msg ? arg->msg : (const uint8_t *)"";
    switch (arg->opcode) {
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        ws->io.on_message(ws->io.arg, arg->opcode, msg, arg->msg_length);
        break;
    case WS_OP_CLOSE: {
        size_t rlen = arg->msg_length >= 2 ? arg->msg_length - 2 : 0;
        ws->io.on_close(ws->io.arg, arg->status_code ? arg->status_code : 1005,
                        rlen ? msg + 2 : msg, rlen);
        break;
    }
    case WS_OP_PONG:
        if (ws->io.on_pong) ws->io.on_pong(ws->io.arg);
        break;
    default: /* ping: wslay has queued the pong */
        break;
    }
}

/* ---- lifecycle --------------------------------------------------------------------------------
 */

int ws_new(int is_server, size_t max_msg_len, const ws_io_t *io, ws_t **out)
{
    *out = NULL;
    if (!io || !io->send || !io->on_message || !io->on_close || (!is_server && !io->genmask))
        return -EINVAL;
    ws_t *ws = calloc(1, sizeof *ws);
    if (!ws) return -ENOMEM;
    ws->io = *io;
    ws->is_server = is_server;
    ws->max_msg = max_msg_len ? max_msg_len : WS_DEFAULT_MAX_MSG;
    buf_init(&ws->in, WS_IN_LIMIT);
    buf_init(&ws->out, 0);
    struct wslay_event_callbacks cbs = {recv_cb, send_cb, genmask_cb, NULL, NULL, NULL, on_msg_cb};
    int r = is_server ? wslay_event_context_server_init(&ws->ctx, &cbs, ws)
                      : wslay_event_context_client_init(&ws->ctx, &cbs, ws);
    if (r) {
        free(ws);
        return -ENOMEM;
    }
    wslay_event_config_set_max_recv_msg_length(ws->ctx, ws->max_msg);
    *out = ws;
    return 0;
}

static void fifo_clear(ws_t *ws)
{
    while (ws->head) {
        ws_item_t *it = ws->head;
        ws->head = it->next;
        free(it);
    }
    ws->tail = NULL;
    ws->fifo_bytes = 0;
}

void ws_free(ws_t *ws)
{
    if (!ws) return;
    wslay_event_context_free(ws->ctx);
    fifo_clear(ws);
    buf_free(&ws->in);
    buf_free(&ws->out);
    free(ws);
}

/* ---- receiving --------------------------------------------------------------------------------
 */

static void report_error(ws_t *ws, uint16_t code)
{
    ws->error_reported = 1;
    char big[80];
    snprintf(big, sizeof big, "message too big (the limit is %llu bytes)",
             (unsigned long long)ws->max_msg);
    const char *what = ws->bad_what[0] ? ws->bad_what
                       : code == 1009  ? big
                       : code == 1007  ? "invalid UTF-8 in a text or close frame"
                                       : "protocol error";
    if (ws->io.on_error) ws->io.on_error(ws->io.arg, code, what);
}

/* wslay stopped reading without a close from the peer: it queued its own close. Write its
 * frames out now (into `out`, not to the transport) to learn the code it chose. */
static void report_wslay_error(ws_t *ws)
{
    size_t before = ws->out.len; /* earlier frames, perhaps our own close, are not it */
    ws->capture_all = 1;
    int r = wslay_event_send(ws->ctx);
    ws->capture_all = 0;
    uint16_t code = r == 0 ? last_close_code(ws, before) : 0;
    report_error(ws, code ? code : 1002);
}

int ws_read_blocked(const ws_t *ws)
{
    return !ws->fatal && wslay_event_get_read_enabled(ws->ctx) &&
           wslay_event_get_queued_msg_count(ws->ctx) > WS_OWED_MAX;
}

int ws_feed(ws_t *ws, const uint8_t *data, size_t len)
{
    if (ws->fatal) return -EPROTO;
    if (!wslay_event_get_read_enabled(ws->ctx)) return 0; /* after a close: ignored */
    if (buf_append(&ws->in, data, len)) return -ENOMEM;
    uint16_t bad = check_headers(ws);
    int r;
    for (;;) {
        r = wslay_event_recv(ws->ctx);
        if (r || ws->in_pos == ws->in_ok || !ws_read_blocked(ws)) break;
        /* Stopped on the replies owed: move them to `out` (up to its soft limit) and go on,
         * so that input stays unparsed only while the transport really does not take them. */
        size_t before = ws->out.len;
        if (wslay_event_send(ws->ctx) || ws->out.len == before) break;
    }
    buf_consume(&ws->in, ws->in_pos);
    ws->in_ok -= ws->in_pos;
    ws->in_pos = 0;
    if (r == WSLAY_ERR_NOMEM) {
        ws->fatal = 1;
        return -ENOMEM;
    }
    int reading = wslay_event_get_read_enabled(ws->ctx);
    if (bad && reading) {
        wslay_event_shutdown_read(ws->ctx);
        wslay_event_queue_close(ws->ctx, bad, NULL, 0);
        report_error(ws, bad);
    } else if ((r || !reading) && !wslay_event_get_close_received(ws->ctx) && !ws->error_reported) {
        report_wslay_error(ws);
    }
    if (!wslay_event_get_read_enabled(ws->ctx)) {
        buf_free(&ws->in);
        ws->in_ok = 0;
    }
    return ws->error_reported && !ws->io.on_error ? -EPROTO : 0;
}

/* ---- sending ----------------------------------------------------------------------------------
 */

static int fifo_push(ws_t *ws, int opcode, const void *data, size_t len)
{
    if (ws->fifo_bytes + len > WS_MAX_QUEUED) return -ENOBUFS;
    ws_item_t *it = malloc(sizeof *it + len);
    if (!it) return -ENOMEM;
    it->next = NULL;
    it->opcode = opcode;
    it->len = len;
    if (len) memcpy(it->data, data, len);
    if (ws->tail)
        ws->tail->next = it;
    else
        ws->head = it;
    ws->tail = it;
    ws->fifo_bytes += len + 2;
    return 0;
}

static int can_queue(const ws_t *ws)
{
    return !ws->fatal && !ws->close_queued && wslay_event_get_write_enabled(ws->ctx);
}

int ws_queue(ws_t *ws, int opcode, const uint8_t *data, size_t len)
{
    if (opcode != WS_OP_TEXT && opcode != WS_OP_BINARY) return -EINVAL;
    if (!can_queue(ws)) return -EPIPE;
    return fifo_push(ws, opcode, data, len);
}

int ws_queue_ping(ws_t *ws)
{
    if (!can_queue(ws)) return -EPIPE;
    /* Control frames go to wslay directly: it sends them ahead of the next data frame. */
    struct wslay_event_msg m = {WS_OP_PING, NULL, 0};
    int r = wslay_event_queue_msg(ws->ctx, &m);
    return r == 0 ? 0 : r == WSLAY_ERR_NOMEM ? -ENOMEM : -EPIPE;
}

int ws_queue_close(ws_t *ws, uint16_t code, const char *reason)
{
    size_t rlen = reason ? strlen(reason) : 0;
    if (rlen > 123 || (rlen && !code)) return -EINVAL;
    if (!can_queue(ws)) return -EPIPE;
    uint8_t msg[125] = {(uint8_t)(code >> 8), (uint8_t)code};
    if (rlen) memcpy(msg + 2, reason, rlen);
    int r = fifo_push(ws, WS_OP_CLOSE, msg, code ? rlen + 2 : 0);
    if (!r) ws->close_queued = 1;
    return r;
}

/* Gives wslay the oldest queued message. A refusal because a close went first drops it. */
static int hand_one(ws_t *ws)
{
    ws_item_t *it = ws->head;
    ws->head = it->next;
    if (!ws->head) ws->tail = NULL;
    ws->fifo_bytes -= it->len + 2;
    int r;
    if (it->opcode == WS_OP_CLOSE) {
        uint16_t code = it->len >= 2 ? (uint16_t)(it->data[0] << 8 | it->data[1]) : 0;
        r = wslay_event_queue_close(ws->ctx, code, it->data + 2, it->len >= 2 ? it->len - 2 : 0);
    } else {
        struct wslay_event_msg m = {(uint8_t)it->opcode, it->data, it->len};
        r = wslay_event_queue_msg(ws->ctx, &m);
    }
    free(it);
    if (r == WSLAY_ERR_NOMEM) return -ENOMEM;
    return 0;
}

static size_t head_frame_len(const ws_t *ws)
{
    int bad;
    uint64_t payload = 0;
    size_t hlen = parse_header((const uint8_t *)ws->out.data, ws->out.len, &payload, &bad);
    return hlen + (size_t)payload;
}

static int fail(ws_t *ws, int err)
{
    ws->fatal = 1;
    return err;
}

int ws_flush(ws_t *ws)
{
    if (ws->fatal) return -EPROTO;
    for (;;) {
        if (ws->out.len) {
            size_t flen = head_frame_len(ws);
            int opcode = ws->out.data[0] & 0x0f;
            int r = ws->io.send(ws->io.arg, (const uint8_t *)ws->out.data, flen);
            if (r == WS_WOULDBLOCK) return 0;
            if (r < 0) return fail(ws, r);
            if (opcode == WS_OP_CLOSE) ws->close_handed = 1;
            buf_consume(&ws->out, flen);
        } else if (wslay_event_want_write(ws->ctx)) {
            if (wslay_event_send(ws->ctx)) return fail(ws, -EIO);
            if (!ws->out.len) return 0; /* nothing came out: wait for a later flush */
        } else if (ws->head && wslay_event_get_write_enabled(ws->ctx)) {
            int r = hand_one(ws);
            if (r) return fail(ws, r);
        } else {
            fifo_clear(ws); /* after our close went out, nothing else may follow */
            return 0;
        }
    }
}

size_t ws_queued_bytes(const ws_t *ws)
{
    /* Headers of queued control frames count too, so "0" means nothing at all is pending. */
    size_t n = ws->fifo_bytes + ws->out.len;
    /* Once wslay has written a close it never sends what is left in its queue. */
    if (wslay_event_get_write_enabled(ws->ctx))
        n += wslay_event_get_queued_msg_length(ws->ctx) +
             2 * wslay_event_get_queued_msg_count(ws->ctx);
    return n;
}

int ws_want_write(const ws_t *ws)
{
    if (ws->fatal) return 0;
    return ws->out.len || (ws->head && wslay_event_get_write_enabled(ws->ctx)) ||
           wslay_event_want_write(ws->ctx);
}

int ws_close_sent(const ws_t *ws)
{
    return ws->close_handed;
}

int ws_close_received(const ws_t *ws)
{
    return wslay_event_get_close_received(ws->ctx);
}
