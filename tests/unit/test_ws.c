/* ws: a client engine and a server engine wired to each other through byte buffers. Frames are
 * checked byte for byte against docs/PROTOCOL.md §0 (mask 37 fa 21 3d as in its examples), and the
 * wire is fed in 1-byte, 7-byte and whole chunks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ws.h"
#include "util/buf.h"

#define MAX_REC 64

typedef struct peer {
    ws_t *ws;
    buf_t wire; /* frames this side handed to its transport, concatenated */
    int nframes;
    size_t frame_len[MAX_REC];
    int budget; /* frames the transport still takes; -1: unlimited */
    int blocked_calls;
    buf_t msgs; /* received messages, concatenated */
    int nmsgs;
    size_t msg_len[MAX_REC];
    int msg_op[MAX_REC];
    int closes, pongs, errors;
    uint16_t close_code, error_code;
    char reason[128];
} peer_t;

static int io_send(void *arg, const uint8_t *data, size_t len)
{
    peer_t *p = arg;
    if (p->budget == 0) {
        p->blocked_calls++;
        return WS_WOULDBLOCK;
    }
    if (p->budget > 0) p->budget--;
    if (p->nframes < MAX_REC) p->frame_len[p->nframes] = len;
    p->nframes++;
    return buf_append(&p->wire, data, len);
}

static void io_message(void *arg, int opcode, const uint8_t *data, size_t len)
{
    peer_t *p = arg;
    if (p->nmsgs < MAX_REC) {
        p->msg_len[p->nmsgs] = len;
        p->msg_op[p->nmsgs] = opcode;
    }
    p->nmsgs++;
    assert_int_equal(buf_append(&p->msgs, data, len), 0);
}

static void io_close(void *arg, uint16_t code, const uint8_t *reason, size_t len)
{
    peer_t *p = arg;
    p->closes++;
    p->close_code = code;
    memcpy(p->reason, reason, len < 127 ? len : 127);
    p->reason[len < 127 ? len : 127] = '\0';
}

static void io_pong(void *arg)
{
    ((peer_t *)arg)->pongs++;
}

static void io_error(void *arg, uint16_t code, const char *what)
{
    peer_t *p = arg;
    p->errors++;
    p->error_code = code;
    assert_non_null(what);
}

static int io_genmask(void *arg, uint8_t *buf, size_t len)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    for (size_t i = 0; i < len; i++)
        buf[i] = key[i % 4];
    return 0;
}

static void peer_init(peer_t *p, int server, size_t max_msg)
{
    memset(p, 0, sizeof *p);
    buf_init(&p->wire, 0);
    buf_init(&p->msgs, 0);
    p->budget = -1;
    ws_io_t io = {io_send, io_message, io_close, io_pong, io_error, io_genmask, p};
    assert_int_equal(ws_new(server, max_msg, &io, &p->ws), 0);
}

static void peer_free(peer_t *p)
{
    ws_free(p->ws);
    buf_free(&p->wire);
    buf_free(&p->msgs);
}

/* Moves what `from` sent into `to`, step bytes per ws_feed. */
static void deliver(peer_t *from, peer_t *to, size_t step)
{
    for (size_t off = 0; off < from->wire.len; off += step) {
        size_t n = from->wire.len - off < step ? from->wire.len - off : step;
        assert_int_equal(ws_feed(to->ws, (const uint8_t *)from->wire.data + off, n), 0);
    }
    buf_reset(&from->wire);
}

static void wire_is(peer_t *p, const char *bytes, size_t len)
{
    assert_int_equal(p->wire.len, len);
    assert_memory_equal(p->wire.data, bytes, len);
    buf_reset(&p->wire);
}

static void test_server_frames_exact(void **state)
{
    peer_t s;
    peer_init(&s, 1, 0);
    static const char success[] = "\x03{\"metadata\":{},\"status\":\"Success\"}";
    assert_int_equal(ws_queue(s.ws, WS_OP_BINARY, (const uint8_t *)"\x01", 1), 0);
    assert_int_equal(ws_queue(s.ws, WS_OP_BINARY, (const uint8_t *)"\x01hi\n", 4), 0);
    assert_int_equal(ws_queue(s.ws, WS_OP_BINARY, (const uint8_t *)success, 35), 0);
    assert_int_equal(ws_queue_close(s.ws, 1000, NULL), 0);
    assert_true(ws_want_write(s.ws));
    assert_true(ws_queued_bytes(s.ws) > 0);
    assert_int_equal(ws_flush(s.ws), 0);
    assert_int_equal(s.nframes, 4);
    assert_int_equal(s.frame_len[0], 3);
    assert_int_equal(s.frame_len[1], 6);
    assert_int_equal(s.frame_len[2], 37);
    assert_int_equal(s.frame_len[3], 4);
    char want[64];
    memcpy(want, "\x82\x01\x01\x82\x04\x01hi\n\x82\x23", 11);
    memcpy(want + 11, success, 35);
    memcpy(want + 46, "\x88\x02\x03\xe8", 4);
    wire_is(&s, want, 50);
    assert_true(ws_close_sent(s.ws));
    assert_int_equal(ws_queued_bytes(s.ws), 0);
    assert_false(ws_want_write(s.ws));
    assert_int_equal(ws_queue(s.ws, WS_OP_BINARY, (const uint8_t *)"x", 1), -EPIPE);
    peer_free(&s);
}

static void test_v5_status_header(void **state)
{
    peer_t s;
    peer_init(&s, 1, 0);
    uint8_t msg[213];
    memset(msg, 'x', sizeof msg);
    msg[0] = 3;
    assert_int_equal(ws_queue(s.ws, WS_OP_BINARY, msg, sizeof msg), 0);
    assert_int_equal(ws_flush(s.ws), 0);
    assert_int_equal(s.wire.len, 4 + 213);
    assert_memory_equal(s.wire.data, "\x82\x7e\x00\xd5\x03", 5);
    peer_free(&s);
}

static void test_client_frames_exact(void **state)
{
    peer_t c;
    peer_init(&c, 0, 0);
    assert_int_equal(ws_queue(c.ws, WS_OP_BINARY,
                              (const uint8_t *)"\x00"
                                               "a\n",
                              3),
                     0);
    assert_int_equal(ws_flush(c.ws), 0);
    wire_is(&c, "\x82\x83\x37\xfa\x21\x3d\x37\x9b\x2b", 9);
    assert_int_equal(ws_queue(c.ws, WS_OP_BINARY, (const uint8_t *)"\xff\x00", 2), 0);
    assert_int_equal(ws_flush(c.ws), 0);
    wire_is(&c, "\x82\x82\x37\xfa\x21\x3d\xc8\xfa", 8);
    assert_int_equal(ws_queue_ping(c.ws), 0);
    assert_int_equal(ws_flush(c.ws), 0);
    wire_is(&c, "\x89\x80\x37\xfa\x21\x3d", 6);
    assert_int_equal(ws_queue(c.ws, WS_OP_TEXT, (const uint8_t *)"0Zm9vCg==", 9), 0);
    assert_int_equal(ws_flush(c.ws), 0);
    assert_int_equal(c.wire.len, 15);
    assert_memory_equal(c.wire.data, "\x81\x89\x37\xfa\x21\x3d", 6);
    assert_int_equal(ws_queue(c.ws, WS_OP_CLOSE, (const uint8_t *)"", 0), -EINVAL);
    peer_free(&c);
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 31 + seed + (i >> 8));
}

/* One message each way, through the wire in `step` chunks. */
static void exchange(size_t size, size_t step)
{
    peer_t c, s;
    peer_init(&c, 0, 2u << 20);
    peer_init(&s, 1, 2u << 20);
    uint8_t *a = malloc(size + 1), *b = malloc(size + 1);
    assert_non_null(a);
    assert_non_null(b);
    fill(a, size, 1);
    fill(b, size, 2);
    assert_int_equal(ws_queue(c.ws, WS_OP_BINARY, a, size), 0);
    assert_int_equal(ws_flush(c.ws), 0);
    assert_int_equal(c.nframes, 1);
    size_t hdr = size < 126 ? 2 : size < 65536 ? 4 : 10;
    assert_int_equal(c.wire.len, hdr + 4 + size);
    deliver(&c, &s, step);
    assert_int_equal(s.nmsgs, 1);
    assert_int_equal(s.msg_op[0], WS_OP_BINARY);
    assert_int_equal(s.msgs.len, size);
    if (size) assert_memory_equal(s.msgs.data, a, size);

    assert_int_equal(ws_queue(s.ws, WS_OP_BINARY, b, size), 0);
    assert_int_equal(ws_flush(s.ws), 0);
    assert_int_equal(s.wire.len, hdr + size);
    deliver(&s, &c, step);
    assert_int_equal(c.nmsgs, 1);
    assert_int_equal(c.msg_op[0], WS_OP_BINARY);
    assert_int_equal(c.msgs.len, size);
    if (size) assert_memory_equal(c.msgs.data, b, size);
    assert_int_equal(s.errors + c.errors, 0);
    free(a);
    free(b);
    peer_free(&c);
    peer_free(&s);
}

static void test_exchange_sizes(void **state)
{
    const size_t sizes[] = {0, 1, 125, 126, 65535, 65536, 1u << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (sizes[i] <= 65536) exchange(sizes[i], 1);
        exchange(sizes[i], 7);
        exchange(sizes[i], (size_t)-1);
    }
}

static void test_text_payloads_are_bytes(void **state)
{
    /* Text frames with valid UTF-8 arrive as text; the server takes them on any protocol. */
    peer_t c, s;
    peer_init(&c, 0, 0);
    peer_init(&s, 1, 0);
    assert_int_equal(ws_queue(c.ws, WS_OP_TEXT, (const uint8_t *)"0\xc3\xa9", 3), 0);
    assert_int_equal(ws_flush(c.ws), 0);
    deliver(&c, &s, 1);
    assert_int_equal(s.nmsgs, 1);
    assert_int_equal(s.msg_op[0], WS_OP_TEXT);
    assert_memory_equal(s.msgs.data, "0\xc3\xa9", 3);
    peer_free(&c);
    peer_free(&s);
}

static void test_ping_pong(void **state)
{
    peer_t c, s;
    peer_init(&c, 0, 0);
    peer_init(&s, 1, 0);
    assert_int_equal(ws_queue_ping(c.ws), 0);
    assert_int_equal(ws_flush(c.ws), 0);
    deliver(&c, &s, 1);
    assert_true(ws_want_write(s.ws));
    assert_int_equal(ws_flush(s.ws), 0);
    wire_is(&s, "\x8a\x00", 2);
    assert_int_equal(ws_feed(c.ws, (const uint8_t *)"\x8a\x00", 2), 0);
    assert_int_equal(c.pongs, 1);
    /* Server ping with payload: the client's pong echoes it, masked. */
    assert_int_equal(ws_feed(c.ws, (const uint8_t *)"\x89\x02hi", 4), 0);
    assert_int_equal(ws_flush(c.ws), 0);
    wire_is(&c, "\x8a\x82\x37\xfa\x21\x3d\x5f\x93", 8);
    assert_int_equal(c.nmsgs + s.nmsgs, 0);
    peer_free(&c);
    peer_free(&s);
}

static void test_close_handshake(void **state)
{
    const size_t steps[] = {1, 7, (size_t)-1};
    for (size_t i = 0; i < 3; i++) {
        peer_t c, s;
        peer_init(&c, 0, 0);
        peer_init(&s, 1, 0);
        assert_int_equal(ws_queue(s.ws, WS_OP_BINARY,
                                  (const uint8_t *)"\x01"
                                                   "bye",
                                  4),
                         0);
        assert_int_equal(ws_queue_close(s.ws, 1000, NULL), 0);
        assert_int_equal(ws_queue_close(s.ws, 1000, NULL), -EPIPE);
        assert_int_equal(ws_flush(s.ws), 0);
        assert_true(ws_close_sent(s.ws));
        assert_int_equal(ws_queued_bytes(s.ws), 0);
        assert_false(ws_want_write(s.ws));
        deliver(&s, &c, steps[i]);
        assert_int_equal(c.nmsgs, 1);
        assert_int_equal(c.closes, 1);
        assert_int_equal(c.close_code, 1000);
        assert_true(ws_close_received(c.ws));
        assert_false(ws_close_sent(c.ws));
        assert_int_equal(ws_flush(c.ws), 0);
        assert_true(ws_close_sent(c.ws));
        assert_int_equal(c.wire.len, 8);
        assert_memory_equal(c.wire.data, "\x88\x82\x37\xfa\x21\x3d\x34\x12", 8);
        deliver(&c, &s, steps[i]);
        assert_int_equal(s.closes, 1);
        assert_int_equal(s.close_code, 1000);
        assert_true(ws_close_received(s.ws));
        assert_int_equal(ws_flush(s.ws), 0);
        assert_int_equal(s.wire.len, 0); /* no second close */
        /* Data after a close is ignored. */
        assert_int_equal(ws_feed(s.ws, (const uint8_t *)"\x82\x80\0\0\0\0", 6), 0);
        assert_int_equal(s.nmsgs, 0);
        assert_int_equal(s.errors + c.errors, 0);
        peer_free(&c);
        peer_free(&s);
    }
}

static void test_client_close_with_reason(void **state)
{
    peer_t c, s;
    peer_init(&c, 0, 0);
    peer_init(&s, 1, 0);
    assert_int_equal(ws_queue_close(c.ws, 4000, "going away now"), 0);
    assert_int_equal(ws_flush(c.ws), 0);
    deliver(&c, &s, 7);
    assert_int_equal(s.closes, 1);
    assert_int_equal(s.close_code, 4000);
    assert_string_equal(s.reason, "going away now");
    /* Bare close: 1005. */
    peer_t s2;
    peer_init(&s2, 1, 0);
    assert_int_equal(ws_feed(s2.ws, (const uint8_t *)"\x88\x80\x01\x02\x03\x04", 6), 0);
    assert_int_equal(s2.closes, 1);
    assert_int_equal(s2.close_code, 1005);
    char long_reason[130];
    memset(long_reason, 'r', 129);
    long_reason[129] = '\0';
    assert_int_equal(ws_queue_close(s2.ws, 1000, long_reason), -EINVAL);
    peer_free(&c);
    peer_free(&s);
    peer_free(&s2);
}

static void test_too_big_gives_1009(void **state)
{
    peer_t c, s;
    peer_init(&c, 0, 0);
    peer_init(&s, 1, 1000);
    uint8_t buf[1001];
    fill(buf, sizeof buf, 3);
    assert_int_equal(ws_queue(c.ws, WS_OP_BINARY, buf, 1000), 0);
    assert_int_equal(ws_queue(c.ws, WS_OP_BINARY, buf, 1001), 0);
    assert_int_equal(ws_flush(c.ws), 0);
    deliver(&c, &s, 7);
    assert_int_equal(s.nmsgs, 1);
    assert_int_equal(s.errors, 1);
    assert_int_equal(s.error_code, 1009);
    assert_int_equal(ws_flush(s.ws), 0);
    wire_is(&s, "\x88\x02\x03\xf1", 4);
    assert_true(ws_close_sent(s.ws));
    /* The client hears about it as a close. */
    assert_int_equal(ws_feed(c.ws, (const uint8_t *)"\x88\x02\x03\xf1", 4), 0);
    assert_int_equal(c.closes, 1);
    assert_int_equal(c.close_code, 1009);
    peer_free(&c);
    peer_free(&s);
}

static void expect_1002(const char *frame, size_t len, int server, uint16_t code)
{
    const size_t steps[] = {1, 7, (size_t)-1};
    for (size_t i = 0; i < 3; i++) {
        peer_t p;
        peer_init(&p, server, 100);
        for (size_t off = 0; off < len; off += steps[i]) {
            size_t n = len - off < steps[i] ? len - off : steps[i];
            assert_int_equal(ws_feed(p.ws, (const uint8_t *)frame + off, n), 0);
        }
        assert_int_equal(p.errors, 1);
        assert_int_equal(p.error_code, code);
        assert_int_equal(p.nmsgs, 0);
        assert_int_equal(ws_flush(p.ws), 0);
        if (server) {
            assert_int_equal(p.wire.len, 4);
            assert_int_equal((uint8_t)p.wire.data[0], 0x88);
            assert_int_equal((uint8_t)p.wire.data[2] << 8 | (uint8_t)p.wire.data[3], code);
        }
        peer_free(&p);
    }
}

static void test_protocol_errors(void **state)
{
    expect_1002("\x82\x01\x01", 3, 1, 1002);                        /* unmasked to server */
    expect_1002("\x82\x81\0\0\0\0\x01", 7, 0, 1002);                /* masked to client */
    expect_1002("\x89\xfe\x00\x80\0\0\0\0", 8, 1, 1002);            /* 128-byte ping */
    expect_1002("\x09\x80\0\0\0\0", 6, 1, 1002);                    /* fragmented ping */
    expect_1002("\x82\xfe\x00\x05\0\0\0\0hello", 13, 1, 1002);      /* non-minimal length */
    expect_1002("\x83\x80\0\0\0\0", 6, 1, 1002);                    /* reserved opcode */
    expect_1002("\xc2\x80\0\0\0\0", 6, 1, 1002);                    /* RSV1 */
    expect_1002("\x80\x80\0\0\0\0", 6, 1, 1002);                    /* continuation first */
    expect_1002("\x88\x82\0\0\0\0\x03\xed", 8, 1, 1002);            /* close code 1005 */
    expect_1002("\x81\x81\0\0\0\0\xff", 7, 1, 1007);                /* bad UTF-8 text */
    expect_1002("\x82\xff\0\0\0\0\0\x01\0\0\0\0\0\0", 14, 1, 1009); /* 65536 > 100 */
}

static void test_fragments_over_limit_give_1009(void **state)
{
    /* Each frame is under the limit, the message is not: wslay's own check. */
    char frames[2 * (8 + 60)];
    memcpy(frames, "\x02\xbc\0\0\0\0", 6);
    memset(frames + 6, 'a', 60);
    memcpy(frames + 66, "\x80\xbc\0\0\0\0", 6);
    memset(frames + 72, 'b', 60);
    expect_1002(frames, 132, 1, 1009);
}

static void test_wouldblock_backpressure(void **state)
{
    peer_t c, s;
    peer_init(&c, 0, 0);
    peer_init(&s, 1, 0);
    s.budget = 0;
    for (int i = 0; i < 3; i++) {
        uint8_t m[2] = {1, (uint8_t)('a' + i)};
        assert_int_equal(ws_queue(s.ws, WS_OP_BINARY, m, 2), 0);
    }
    assert_int_equal(ws_flush(s.ws), 0);
    assert_int_equal(s.nframes, 0);
    assert_int_equal(s.blocked_calls, 1);
    assert_true(ws_want_write(s.ws));
    assert_true(ws_queued_bytes(s.ws) >= 6);
    /* A ping arriving meanwhile is answered once the transport drains. */
    assert_int_equal(ws_queue_ping(c.ws), 0);
    assert_int_equal(ws_flush(c.ws), 0);
    deliver(&c, &s, 1);
    s.budget = 1;
    assert_int_equal(ws_flush(s.ws), 0);
    assert_int_equal(s.nframes, 1);
    assert_int_equal(s.blocked_calls, 2);
    wire_is(&s, "\x82\x02\x01\x61", 4);
    /* The refused frame is offered again, whole. */
    s.budget = -1;
    assert_int_equal(ws_flush(s.ws), 0);
    assert_int_equal(s.nframes, 4);
    assert_int_equal(s.frame_len[1], 2);
    assert_int_equal(s.frame_len[2], 4);
    assert_int_equal(s.frame_len[3], 4);
    wire_is(&s, "\x8a\x00\x82\x02\x01\x62\x82\x02\x01\x63", 10);
    assert_int_equal(ws_queued_bytes(s.ws), 0);
    assert_false(ws_want_write(s.ws));
    peer_free(&c);
    peer_free(&s);
}

static int fatal_send(void *arg, const uint8_t *data, size_t len)
{
    return -EPIPE;
}

static void test_fatal_send_and_bad_args(void **state)
{
    ws_t *ws;
    ws_io_t io = {fatal_send, io_message, io_close, NULL, NULL, NULL, NULL};
    assert_int_equal(ws_new(0, 0, &io, &ws), -EINVAL); /* client needs genmask */
    assert_null(ws);
    assert_int_equal(ws_new(1, 0, &io, &ws), 0);
    assert_int_equal(ws_queue(ws, WS_OP_PING, NULL, 0), -EINVAL);
    assert_int_equal(ws_queue(ws, WS_OP_BINARY, (const uint8_t *)"x", 1), 0);
    assert_int_equal(ws_flush(ws), -EPIPE);
    assert_int_equal(ws_flush(ws), -EPROTO);
    assert_int_equal(ws_queue(ws, WS_OP_BINARY, (const uint8_t *)"x", 1), -EPIPE);
    ws_free(ws);
}

static void test_fragmented_input_reassembled(void **state)
{
    peer_t s;
    peer_init(&s, 1, 0);
    static const char frames[] = "\x02\x81\0\0\0\0a"
                                 "\x89\x80\0\0\0\0" /* ping between fragments */
                                 "\x80\x81\0\0\0\0b";
    assert_int_equal(ws_feed(s.ws, (const uint8_t *)frames, sizeof frames - 1), 0);
    assert_int_equal(s.nmsgs, 1);
    assert_int_equal(s.msgs.len, 2);
    assert_memory_equal(s.msgs.data, "ab", 2);
    assert_int_equal(ws_flush(s.ws), 0);
    wire_is(&s, "\x8a\x00", 2);
    peer_free(&s);
}

/* issue 13 item 1: a peer that pings without reading. The engine stops reading once it owes
 * more than 64 pongs, keeps the rest of the input, and goes on once they went out. */
static void test_ping_flood_stops_reading(void **state)
{
    peer_t c;
    peer_init(&c, 0, 0);
    c.budget = 0;        /* the peer reads nothing */
    enum { N = 100000 }; /* 600 KB of masked pongs */
    uint8_t *pings = malloc(2 * N + 7);
    assert_non_null(pings);
    for (int i = 0; i < N; i++)
        memcpy(pings + 2 * i, "\x89\x00", 2);
    memcpy(pings + 2 * N, "\x82\x05\x01hell", 7); /* data after the flood */
    assert_int_equal(ws_feed(c.ws, pings, 2 * N + 7), 0);
    assert_int_equal(ws_flush(c.ws), 0);
    for (int i = 0; i < 100 && !ws_read_blocked(c.ws); i++) {
        assert_int_equal(ws_feed(c.ws, NULL, 0), 0);
        assert_int_equal(ws_flush(c.ws), 0);
    }
    assert_true(ws_read_blocked(c.ws));
    size_t q = ws_queued_bytes(c.ws);
    assert_true(q < 300 * 1024);
    assert_int_equal(c.nmsgs, 0);
    /* More input while blocked is kept, not parsed: the queue does not grow. */
    assert_int_equal(ws_feed(c.ws, pings, 2 * 1000), 0);
    assert_int_equal(ws_queued_bytes(c.ws), q);
    /* The peer reads again: feeding nothing goes on where it stopped. */
    c.budget = -1;
    for (int rounds = 0; c.nmsgs == 0 || ws_want_write(c.ws); rounds++) {
        assert_int_equal(ws_flush(c.ws), 0);
        assert_int_equal(ws_feed(c.ws, NULL, 0), 0);
        assert_true(ws_queued_bytes(c.ws) < 300 * 1024);
        assert_true(rounds < 100000);
    }
    assert_false(ws_read_blocked(c.ws));
    assert_int_equal(c.nmsgs, 1);
    assert_memory_equal(c.msgs.data, "\x01hell", 5);
    assert_int_equal(c.nframes, N + 1000);
    assert_int_equal(c.errors, 0);
    free(pings);
    peer_free(&c);
}

/* issue 13 item 2: a message in 1-byte fragments is refused with 1009 once it has more than
 * 1024 fragments plus one per KiB; a message in 1 KiB fragments is fine. */
static void test_fragment_bomb_gives_1009(void **state)
{
    peer_t c;
    peer_init(&c, 0, 0);
    uint8_t f[3] = {0x02, 0x01, 'x'};
    assert_int_equal(ws_feed(c.ws, f, 3), 0);
    f[0] = 0x00;
    for (int i = 0; i < 1100 && !c.errors; i++)
        assert_int_equal(ws_feed(c.ws, f, 3), 0);
    assert_int_equal(c.errors, 1);
    assert_int_equal(c.error_code, 1009);
    assert_int_equal(c.nmsgs, 0);
    assert_int_equal(ws_flush(c.ws), 0);
    assert_true(c.wire.len >= 8);
    assert_memory_equal(c.wire.data, "\x88\x82", 2); /* close, masked, 2 bytes: the code */
    peer_free(&c);

    peer_init(&c, 0, 0);
    static uint8_t big[4 + 1024];
    memset(big + 4, 'y', 1024);
    for (int i = 0; i < 4000; i++) {
        big[0] = (uint8_t)((i == 0 ? 0x02 : 0x00) | (i == 3999 ? 0x80 : 0));
        big[1] = 126;
        big[2] = 0x04;
        big[3] = 0x00;
        assert_int_equal(ws_feed(c.ws, big, sizeof big), 0);
    }
    assert_int_equal(c.errors, 0);
    assert_int_equal(c.nmsgs, 1);
    assert_int_equal(c.msgs.len, 4000 * 1024);
    peer_free(&c);
}

/* A server that answers from inside its message callback, as podmux-sim's session does. */
static void echo_message(void *arg, int opcode, const uint8_t *data, size_t len)
{
    io_message(arg, opcode, data, len);
    peer_t *p = arg;
    assert_int_equal(ws_queue(p->ws, opcode, data, len), 0);
    assert_int_equal(ws_flush(p->ws), 0);
}

static void test_reentrant_echo(void **state)
{
    peer_t c, s;
    peer_init(&c, 0, 0);
    memset(&s, 0, sizeof s);
    buf_init(&s.wire, 0);
    buf_init(&s.msgs, 0);
    s.budget = -1;
    ws_io_t io = {io_send, echo_message, io_close, io_pong, io_error, NULL, &s};
    assert_int_equal(ws_new(1, 0, &io, &s.ws), 0);
    for (int i = 0; i < 5; i++) {
        uint8_t m[3] = {0, (uint8_t)('0' + i), '\n'};
        assert_int_equal(ws_queue(c.ws, WS_OP_BINARY, m, 3), 0);
    }
    assert_int_equal(ws_queue_ping(c.ws), 0);
    assert_int_equal(ws_flush(c.ws), 0);
    deliver(&c, &s, 7);
    assert_int_equal(s.nmsgs, 5);
    assert_int_equal(ws_flush(s.ws), 0);
    deliver(&s, &c, (size_t)-1);
    assert_int_equal(c.nmsgs, 5);
    assert_int_equal(c.pongs, 1);
    assert_memory_equal(c.msgs.data,
                        "\0"
                        "0\n\0"
                        "1\n\0"
                        "2\n\0"
                        "3\n\0"
                        "4\n",
                        15);
    peer_free(&c);
    peer_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_frames_exact),
        cmocka_unit_test(test_v5_status_header),
        cmocka_unit_test(test_client_frames_exact),
        cmocka_unit_test(test_exchange_sizes),
        cmocka_unit_test(test_text_payloads_are_bytes),
        cmocka_unit_test(test_ping_pong),
        cmocka_unit_test(test_close_handshake),
        cmocka_unit_test(test_client_close_with_reason),
        cmocka_unit_test(test_too_big_gives_1009),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_fragments_over_limit_give_1009),
        cmocka_unit_test(test_wouldblock_backpressure),
        cmocka_unit_test(test_fatal_send_and_bad_args),
        cmocka_unit_test(test_fragmented_input_reassembled),
        cmocka_unit_test(test_reentrant_echo),
        cmocka_unit_test(test_ping_flood_stops_reading),
        cmocka_unit_test(test_fragment_bomb_gives_1009),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
