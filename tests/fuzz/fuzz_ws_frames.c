/* Fuzzes the WebSocket engine with arbitrary peer bytes. Byte 0: bit 0 server/client, bits 1-4
 * chunk size - 1, bit 5 whole input at once, bit 6 a transport that refuses every other frame.
 * After every feed the engine flushes and queues a message, as a session would. Invariants:
 * io.send only ever sees whole frames, a close code reported is 1002, 1007 or 1009, and a
 * message fed through a client and a server engine comes out unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ws.h"

typedef struct state {
    int flip, block;
    size_t msgs, bytes;
} state_t;

/* A frame handed to io.send must be exactly one frame: header length + payload == len. */
static void check_one_frame(const uint8_t *d, size_t len)
{
    if (len < 2) abort();
    size_t l7 = d[1] & 0x7f, h = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + (d[1] & 0x80 ? 4 : 0);
    uint64_t pl = l7;
    if (l7 >= 126) {
        pl = 0;
        for (size_t i = 0; i < (l7 == 126 ? 2u : 8u); i++)
            pl = pl << 8 | d[2 + i];
    }
    if (len < h || len - h != pl) abort();
}

static int fz_send(void *arg, const uint8_t *d, size_t len)
{
    state_t *s = arg;
    if (s->block && (s->flip ^= 1)) return WS_WOULDBLOCK;
    check_one_frame(d, len);
    return 0;
}

static void fz_msg(void *arg, int op, const uint8_t *d, size_t len)
{
    state_t *s = arg;
    if (op != WS_OP_TEXT && op != WS_OP_BINARY) abort();
    s->msgs++;
    s->bytes += len;
}

static void fz_close(void *arg, uint16_t code, const uint8_t *r, size_t len)
{
    if (len > 123) abort();
}

static void fz_error(void *arg, uint16_t code, const char *what)
{
    if (code != 1002 && code != 1007 && code != 1009) abort();
}

static int fz_mask(void *arg, uint8_t *b, size_t len)
{
    memset(b, 0x5a, len);
    return 0;
}

static void engine_run(const uint8_t *data, size_t size)
{
    state_t st = {0, (data[0] >> 6) & 1, 0, 0};
    ws_io_t io = {fz_send, fz_msg, fz_close, NULL, fz_error, fz_mask, &st};
    ws_t *ws;
    if (ws_new(data[0] & 1, 4096, &io, &ws)) return;
    size_t step = (data[0] & 0x20) ? size : (size_t)((data[0] >> 1) & 15) + 1;
    for (size_t off = 1; off < size; off += step) {
        size_t n = size - off < step ? size - off : step;
        if (ws_feed(ws, data + off, n) < 0) break;
        ws_queue(ws, WS_OP_BINARY, data + off, n);
        if (off % 5 == 1) ws_queue_ping(ws);
        if (ws_flush(ws) < 0) break;
    }
    ws_queue_close(ws, 1000, NULL);
    ws_flush(ws);
    ws_flush(ws);
    ws_free(ws);
}

typedef struct pipe_state {
    ws_t *peer;
    const uint8_t *want;
    size_t want_len;
    int got;
} pipe_state_t;

static int pipe_send(void *arg, const uint8_t *d, size_t len)
{
    pipe_state_t *p = arg;
    check_one_frame(d, len);
    return ws_feed(p->peer, d, len);
}

static void pipe_msg(void *arg, int op, const uint8_t *d, size_t len)
{
    pipe_state_t *p = arg;
    if (len != p->want_len || (len && memcmp(d, p->want, len))) abort();
    p->got++;
}

static int sink_send(void *arg, const uint8_t *d, size_t len)
{
    check_one_frame(d, len);
    return 0;
}

static void no_msg(void *arg, int op, const uint8_t *d, size_t len)
{
    abort(); /* nothing is ever fed to the client here */
}

static void roundtrip(const uint8_t *data, size_t size)
{
    pipe_state_t cs = {0}, ss = {0, data, size, 0};
    ws_io_t cio = {pipe_send, no_msg, fz_close, NULL, fz_error, fz_mask, &cs};
    ws_io_t sio = {sink_send, pipe_msg, fz_close, NULL, fz_error, NULL, &ss};
    ws_t *c, *s;
    if (ws_new(0, 0, &cio, &c)) return;
    if (ws_new(1, 0, &sio, &s)) {
        ws_free(c);
        return;
    }
    cs.peer = s;
    if (ws_queue(c, WS_OP_BINARY, data, size) || ws_flush(c)) abort();
    if (ss.got != 1) abort();
    ws_free(c);
    ws_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    engine_run(data, size);
    roundtrip(data, size);
    return 0;
}
