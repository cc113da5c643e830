/* test_stream: the TCP stream's write path on a real loop over loopback. A writer whose bytes
 * the kernel takes at once is not queued; once the peer stops reading and the socket buffers
 * fill, the rest is queued, reported by stream_queued(), drained in order, and on_drain follows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "client/stream.h"

#define TOTAL (24u * 1024 * 1024)
#define CHUNK (64u * 1024)

typedef struct run {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_timer_t timer;
    stream_t *server, *client;
    size_t sent, received, max_queued, queued_after_first;
    int drains, ends, closes, mismatch, end_status;
} run_t;

static uint8_t pattern(size_t i)
{
    return (uint8_t)(i * 7 + i / 65521);
}

static void server_fill(run_t *r)
{
    static uint8_t chunk[CHUNK];
    while (r->sent < TOTAL && !stream_above_high_water(r->server)) {
        for (size_t i = 0; i < CHUNK; i++)
            chunk[i] = pattern(r->sent + i);
        assert_int_equal(stream_write(r->server, chunk, CHUNK), 0);
        if (r->sent == 0) r->queued_after_first = stream_queued(r->server);
        r->sent += CHUNK;
        if (stream_queued(r->server) > r->max_queued) r->max_queued = stream_queued(r->server);
    }
    if (r->sent == TOTAL) stream_close_after_write(r->server);
}

static void on_server_drain(stream_t *s)
{
    run_t *r = stream_data(s);
    r->drains++;
    server_fill(r);
}

static void on_closed(stream_t *s)
{
    run_t *r = stream_data(s);
    r->closes++;
    if (r->closes == 2) uv_close((uv_handle_t *)&r->listener, NULL);
}

static void on_server_end(stream_t *s, int status)
{
    (void)status;
    stream_close(s);
}

static int on_client_data(stream_t *s, const uint8_t *data, size_t len)
{
    run_t *r = stream_data(s);
    for (size_t i = 0; i < len; i++)
        if (data[i] != pattern(r->received + i)) r->mismatch++;
    r->received += len;
    return 0;
}

static void on_client_end(stream_t *s, int status)
{
    run_t *r = stream_data(s);
    r->ends++;
    r->end_status = status;
    stream_close(s);
}

static void resume_client(uv_timer_t *t)
{
    run_t *r = t->data;
    stream_resume(r->client);
    uv_close((uv_handle_t *)t, NULL);
}

static void on_client_ready(stream_t *s, int status)
{
    run_t *r = stream_data(s);
    assert_int_equal(status, 0);
    stream_pause(s); /* the kernel buffers fill while we wait */
    uv_timer_start(&r->timer, resume_client, 300, 0);
}

static void on_connection(uv_stream_t *l, int status)
{
    run_t *r = l->data;
    assert_int_equal(status, 0);
    static const stream_cb_t cb = {
        .on_end = on_server_end, .on_drain = on_server_drain, .on_close = on_closed};
    stream_opts_t o = {.high_water = 1024 * 1024, .low_water = 256 * 1024};
    assert_int_equal(stream_accept(l, &o, &cb, r, &r->server), 0);
    server_fill(r);
}

/* A listener on 127.0.0.1 and a free port, written to *a. */
static void listen_loopback(uv_loop_t *loop, uv_tcp_t *l, void *data, uv_connection_cb cb,
                            struct sockaddr_in *a)
{
    assert_int_equal(uv_loop_init(loop), 0);
    uv_tcp_init(loop, l);
    l->data = data;
    uv_ip4_addr("127.0.0.1", 0, a);
    assert_int_equal(uv_tcp_bind(l, (const struct sockaddr *)a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)l, 8, cb), 0);
    int len = sizeof *a;
    uv_tcp_getsockname(l, (struct sockaddr *)a, &len);
}

static void test_write_queue_and_order(void **state)
{
    (void)state;
    run_t r;
    memset(&r, 0, sizeof r);
    struct sockaddr_in a;
    listen_loopback(&r.loop, &r.listener, &r, on_connection, &a);
    uv_timer_init(&r.loop, &r.timer);
    r.timer.data = &r;

    static const stream_cb_t ccb = {.on_ready = on_client_ready,
                                    .on_data = on_client_data,
                                    .on_end = on_client_end,
                                    .on_close = on_closed};
    assert_int_equal(
        stream_connect(&r.loop, (const struct sockaddr *)&a, NULL, &ccb, &r, &r.client), 0);
    assert_int_equal(uv_run(&r.loop, UV_RUN_DEFAULT), 0);

    assert_int_equal(r.received, TOTAL);
    assert_int_equal(r.mismatch, 0);
    assert_true(r.queued_after_first < CHUNK); /* an empty socket took (some of) it at once */
    assert_true(r.max_queued > 0);             /* a full one makes us queue */
    assert_true(r.drains > 0);
    assert_int_equal(r.ends, 1);
    assert_int_equal(r.end_status, 0);
    assert_int_equal(r.closes, 2);
    assert_int_equal(uv_loop_close(&r.loop), 0);
}

/* ---- corked replies ----------------------------------------------------------------------- *
 * A raw libuv server sends "ping"; the client's stream answers from inside its read with three
 * small writes, one of 8 KiB, and a close after them. The small ones must leave in one send, the
 * big one after them in its own, everything in order and before the FIN. Writes made outside a
 * read go one send each. */
#define BIG (8u * 1024)

typedef struct cork_run {
    uv_loop_t loop;
    uv_tcp_t listener, peer;
    stream_t *client;
    char got[BIG + 64];
    size_t got_len;
    int peer_eof, closes;
    uint64_t sends_before_read, sends_after_read;
} cork_run_t;

static void cork_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    (void)h;
    b->base = malloc(sz);
    b->len = sz;
}

static void cork_peer_closed(uv_handle_t *h)
{
    cork_run_t *r = h->data;
    uv_close((uv_handle_t *)&r->listener, NULL);
}

static void cork_peer_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    cork_run_t *r = st->data;
    if (n > 0) {
        assert_true(r->got_len + (size_t)n <= sizeof r->got);
        memcpy(r->got + r->got_len, b->base, (size_t)n);
        r->got_len += (size_t)n;
    } else if (n < 0) {
        r->peer_eof = (n == UV_EOF);
        uv_close((uv_handle_t *)st, cork_peer_closed);
    }
    free(b->base);
}

static void cork_connection(uv_stream_t *l, int status)
{
    cork_run_t *r = l->data;
    assert_int_equal(status, 0);
    uv_tcp_init(&r->loop, &r->peer);
    r->peer.data = r;
    assert_int_equal(uv_accept(l, (uv_stream_t *)&r->peer), 0);
    uv_buf_t b = uv_buf_init("ping", 4);
    assert_int_equal(uv_try_write((uv_stream_t *)&r->peer, &b, 1), 4);
    uv_read_start((uv_stream_t *)&r->peer, cork_alloc, cork_peer_read);
}

static void cork_client_ready(stream_t *s, int status)
{
    cork_run_t *r = stream_data(s);
    assert_int_equal(status, 0);
    /* Outside a read: a send each. */
    assert_int_equal(stream_write(s, "<", 1), 0);
    assert_int_equal(stream_write(s, ">", 1), 0);
    r->sends_before_read = stream_sends(s);
}

static int cork_client_data(stream_t *s, const uint8_t *data, size_t len)
{
    cork_run_t *r = stream_data(s);
    (void)data;
    (void)len;
    static char big[BIG];
    memset(big, 'x', sizeof big);
    uint64_t before = stream_sends(s);
    assert_int_equal(stream_write(s, "a", 1), 0);
    assert_int_equal(stream_write(s, "b", 1), 0);
    assert_int_equal(stream_write(s, "c", 1), 0);
    assert_int_equal(stream_sends(s), before); /* corked so far */
    assert_int_equal(stream_write(s, big, sizeof big), 0);
    assert_int_equal(stream_write(s, "d", 1), 0);
    stream_close_after_write(s);
    r->sends_after_read = stream_sends(s) - before;
    return 0;
}

static void cork_client_closed(stream_t *s)
{
    cork_run_t *r = stream_data(s);
    r->closes++;
}

static void test_corked_replies(void **state)
{
    (void)state;
    cork_run_t r;
    memset(&r, 0, sizeof r);
    struct sockaddr_in a;
    listen_loopback(&r.loop, &r.listener, &r, cork_connection, &a);
    static const stream_cb_t cb = {
        .on_ready = cork_client_ready, .on_data = cork_client_data, .on_close = cork_client_closed};
    assert_int_equal(stream_connect(&r.loop, (const struct sockaddr *)&a, NULL, &cb, &r, &r.client),
                     0);
    assert_int_equal(uv_run(&r.loop, UV_RUN_DEFAULT), 0);

    assert_int_equal(r.sends_before_read, 2);
    /* "abc" in one send, then the big one; "d" went into a new cork, sent by the close. */
    assert_int_equal(r.sends_after_read, 3);
    assert_int_equal(r.got_len, 2 + 3 + BIG + 1);
    assert_memory_equal(r.got, "<>abc", 5);
    for (size_t i = 0; i < BIG; i++)
        assert_int_equal(r.got[5 + i], 'x');
    assert_int_equal(r.got[5 + BIG], 'd');
    assert_true(r.peer_eof);
    assert_int_equal(r.closes, 1);
    assert_int_equal(uv_loop_close(&r.loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_queue_and_order),
        cmocka_unit_test(test_corked_replies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
