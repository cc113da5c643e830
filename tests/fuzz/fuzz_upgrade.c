/* Fuzzes the client's upgrade-response path: what a server sends back to an exec/attach
 * request, through the same modules and checks a session uses (src/session.c open_websocket and
 * handle_response): http_msg_feed in response mode with the session's header limit, then on a
 * 101 the Sec-WebSocket-Accept and offered-protocol checks, then the bytes after the headers
 * through a client WebSocket engine, channel decoding and status parsing; on any other status
 * the one-line message and the error mapping.
 *
 * Byte 0: chunk size (0 = all at once). Byte 1: bits 0-1 pick the protocol offer, bits 2-3 the
 * message limit (64 B .. 32 MiB). The rest is the server's bytes.
 * Invariants: consumed never exceeds what was fed; a 101 is accepted only with the right
 * accept key and an offered protocol; no message over the limit is delivered; decoded channel
 * data is never longer than its message; messages and statuses are one bounded line. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "proto/chan.h"
#include "proto/http.h"
#include "proto/ws.h"

#define KEY                                                                                        \
    "dGhlIHNhbXBsZSBub25jZQ==" /* RFC 6455's sample: accept s3pPLMBiTxaQ9kYGzzhZRbK+xOo=           \
                                */

static const char *const OFFERS[] = {
    "v5.channel.k8s.io, v4.channel.k8s.io, channel.k8s.io",
    "v4.channel.k8s.io",
    "base64.channel.k8s.io, v4.base64.channel.k8s.io",
    "channel.k8s.io",
};
static const size_t LIMITS[] = {64, 4096, 65536, 32u << 20};

typedef struct st {
    chan_proto_t proto;
    size_t max_msg;
    buf_t dec, err;
    int closed, failed;
} st_t;

static int fz_send(void *arg, const uint8_t *d, size_t len)
{
    return 0; /* the client's pongs and closes go nowhere */
}

static int fz_mask(void *arg, uint8_t *b, size_t len)
{
    memset(b, 0x3c, len);
    return 0;
}

static void fz_msg(void *arg, int op, const uint8_t *d, size_t len)
{
    st_t *s = arg;
    if (len > s->max_msg) abort();
    int ch = -1;
    buf_reset(&s->dec);
    if (chan_decode(s->proto, d, len, &ch, &s->dec) < 0) return;
    if (s->dec.len > len) abort();
    if (ch == CHAN_ERROR && s->dec.len) {
        if (buf_append(&s->err, s->dec.data, s->dec.len) < 0) return; /* bounded, as a session */
        chan_status_t cs;
        chan_status_parse(s->proto, (const uint8_t *)s->err.data, s->err.len, &cs);
        if (strlen(cs.message) >= sizeof cs.message || strlen(cs.reason) >= sizeof cs.reason)
            abort();
        if (cs.kind == CHAN_STATUS_EXIT && (cs.exit_code < 1 || cs.exit_code > 255)) abort();
    }
}

static void fz_close(void *arg, uint16_t code, const uint8_t *r, size_t len)
{
    ((st_t *)arg)->closed = 1;
}

static void fz_error(void *arg, uint16_t code, const char *what)
{
    if (code != 1002 && code != 1007 && code != 1009) abort();
    ((st_t *)arg)->failed = 1;
}

/* The session's rule: the chosen protocol must be an entry of our offer (or none at all). */
static int offered(const char *offer, const char *proto)
{
    if (!proto || !*proto) return 1;
    size_t pl = strlen(proto);
    for (const char *p = offer; (p = strstr(p, proto)); p += pl) {
        char after = p[pl];
        if ((p == offer || p[-1] == ' ' || p[-1] == ',') &&
            (after == 0 || after == ',' || after == ' '))
            return 1;
    }
    return 0;
}

static void upgraded(const http_msg_t *m, const char *offer, size_t max_msg, const uint8_t *rest,
                     size_t n, size_t step)
{
    char accept[29];
    const char *got = http_msg_header(m, "Sec-WebSocket-Accept");
    if (ws_accept_for_key(KEY, accept) < 0) abort();
    if (!got || strcmp(got, accept)) return; /* PMX_EUPGRADE */
    const char *proto = http_msg_header(m, "Sec-WebSocket-Protocol");
    chan_proto_t p = chan_proto_from_name(proto ? proto : "");
    if (p == CHAN_PROTO_INVALID || !offered(offer, proto)) return; /* PMX_EUPGRADE */
    if (proto && *proto && !strstr(offer, chan_proto_name(p))) abort();
    st_t s;
    memset(&s, 0, sizeof s);
    s.proto = p;
    s.max_msg = max_msg;
    buf_init(&s.dec, 0);
    buf_init(&s.err, PMX_MAX_ERROR_STREAM);
    ws_io_t io = {fz_send, fz_msg, fz_close, NULL, fz_error, fz_mask, &s};
    ws_t *ws = NULL;
    if (ws_new(0, max_msg, &io, &ws) == 0) {
        for (size_t off = 0; off < n && !s.failed;) {
            size_t k = n - off < step ? n - off : step;
            if (ws_feed(ws, rest + off, k) < 0) break;
            ws_flush(ws);
            off += k;
        }
        ws_free(ws);
    }
    buf_free(&s.dec);
    buf_free(&s.err);
}

static void refused(const http_msg_t *m)
{
    char msg[600];
    pmx__message_from_body(m->body.data, m->body.len, m->status, msg, sizeof msg);
    if (!msg[0] || strlen(msg) >= sizeof msg || strchr(msg, '\n')) abort();
    int err = pmx__err_from_http(m->status);
    if (err >= 0) abort();
    const char *ra = http_msg_header(m, "Retry-After");
    if (ra) (void)atof(ra);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t step = data[0] ? data[0] : size;
    const char *offer = OFFERS[data[1] & 3];
    size_t max_msg = LIMITS[(data[1] >> 2) & 3];
    const char *in = (const char *)data + 2;
    size_t len = size - 2, off = 0;
    http_msg_t m;
    if (http_msg_init(&m, 0, PMX_MAX_HEADER_BYTES, 65536)) return 0;
    int r = HTTP_NEED_MORE;
    while (off < len && r == HTTP_NEED_MORE) {
        size_t n = len - off < step ? len - off : step, used = 0;
        r = http_msg_feed(&m, in + off, n, &used);
        if (used > n) abort();
        if (r == HTTP_NEED_MORE && used != n) abort();
        off += used;
    }
    if (r == HTTP_NEED_MORE) r = http_msg_eof(&m);
    if (r == HTTP_DONE && m.status == 101)
        upgraded(&m, offer, max_msg, (const uint8_t *)in + off, len - off, step);
    else if (r == HTTP_DONE)
        refused(&m);
    else if (r != -EPROTO && r != -E2BIG && r != HTTP_NEED_MORE)
        abort();
    http_msg_free(&m);
    return 0;
}
