/* session: the request and session state machines driven by a scripted conn, without sockets
 * or podmux-sim. The client's conn factory is replaced by one whose conns are byte buffers: what
 * the session writes is kept, and the test feeds the server's side (the 101, frames, the exit
 * status, a close) in every chunking: whole, one byte at a time, and random cuts. The checks:
 * the callbacks and their order (open, output, exit, close), the exit status, that a status
 * ends the session at once even when the connection stays open, backpressure both ways, and
 * cancellation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/conn.h"
#include "client/internal.h"
#include "podmux.h"
#include "proto/http.h"
#include "util/buf.h"

/* ---- the scripted conn ------------------------------------------------------------------------
 */
typedef struct fake {
    pmx__conn_t base;
    pmx__conn_cb_t cb;
    void *data;
    uv_timer_t timer; /* on_ready, then on_close, each from a loop turn of its own */
    buf_t written;
    size_t queued; /* what the "kernel" has not taken: above 64 KiB is above high water */
    int paused, closed, graceful, ready;
} fake_t;

static fake_t *g_fake; /* the test's current conn (one at a time) */
static int g_fail_connect;

static int f_write(pmx__conn_t *c, const void *p, size_t n)
{
    fake_t *f = (fake_t *)c;
    assert_false(f->closed);
    f->queued += n;
    return buf_append(&f->written, p, n);
}
static size_t f_queued(const pmx__conn_t *c)
{
    return ((const fake_t *)c)->queued;
}
static int f_above(const pmx__conn_t *c)
{
    return ((const fake_t *)c)->queued > 64 * 1024;
}
static size_t f_low(const pmx__conn_t *c)
{
    return 16 * 1024;
}
static void f_want_drain(pmx__conn_t *c, size_t at) {}
static void f_pause(pmx__conn_t *c)
{
    ((fake_t *)c)->paused = 1;
}
static void f_resume(pmx__conn_t *c)
{
    ((fake_t *)c)->paused = 0;
}
static void f_closed(uv_handle_t *h)
{
    fake_t *f = h->data;
    if (g_fake == f) g_fake = NULL;
    pmx__conn_cb_t cb = f->cb;
    void *data = f->data;
    buf_free(&f->written);
    free(f);
    if (cb.on_close) cb.on_close(data);
}
static void f_close(pmx__conn_t *c, int graceful)
{
    fake_t *f = (fake_t *)c;
    assert_false(f->closed);
    f->closed = 1;
    f->graceful = graceful;
    uv_close((uv_handle_t *)&f->timer, f_closed);
}
static void f_set_cb(pmx__conn_t *c, const pmx__conn_cb_t *cb, void *data)
{
    fake_t *f = (fake_t *)c;
    f->cb = *cb;
    f->data = data;
}
static const pmx__conn_ops_t fake_ops = {f_write, f_queued, f_above, f_low,   f_want_drain,
                                         f_pause, f_resume, f_close, f_set_cb};

static void f_start(uv_timer_t *t)
{
    fake_t *f = t->data;
    if (g_fail_connect) {
        f->cb.on_fail(f->data, PMX_ECONNECT, "cannot connect to 127.0.0.1:1: connection refused");
        return;
    }
    f->ready = 1;
    f->cb.on_ready(f->data);
}

static int fake_open(pmx_client_t *cl, const pmx__conn_opts_t *o, const pmx__conn_cb_t *cb,
                     void *data, pmx__conn_t **out)
{
    fake_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->base.ops = &fake_ops;
    f->cb = *cb;
    f->data = data;
    buf_init(&f->written, 0);
    uv_timer_init(pmx__client_loop(cl), &f->timer);
    f->timer.data = f;
    uv_timer_start(&f->timer, f_start, 0, 0);
    g_fake = f;
    *out = &f->base;
    return 0;
}

/* ---- the session's user ---------------------------------------------------------------------- */
typedef struct rec {
    char events[256]; /* one letter per callback: o open, 1 stdout, 2 stderr, x exit, c close, d */
    buf_t out, err;
    int exit_err, exit_code, exits, closes;
    char message[512];
    pmx_session_t *s;
    int pause_on_output;
} rec_t;

static void ev(rec_t *r, char c)
{
    size_t n = strlen(r->events);
    if (n + 1 < sizeof r->events) r->events[n] = c;
}
static void on_open(pmx_session_t *s, const char *proto, void *data)
{
    ev(data, 'o');
}
static void on_stdout(pmx_session_t *s, const char *b, size_t n, void *data)
{
    rec_t *r = data;
    size_t len = strlen(r->events);
    if (!len || r->events[len - 1] != '1') ev(r, '1');
    buf_append(&r->out, b, n);
    if (r->pause_on_output) pmx_session_pause(s);
}
static void on_stderr(pmx_session_t *s, const char *b, size_t n, void *data)
{
    rec_t *r = data;
    size_t len = strlen(r->events);
    if (!len || r->events[len - 1] != '2') ev(r, '2');
    buf_append(&r->err, b, n);
}
static void on_exit_cb(pmx_session_t *s, const pmx_exit_t *e, void *data)
{
    rec_t *r = data;
    ev(r, 'x');
    r->exits++;
    r->exit_err = e->err;
    r->exit_code = e->exit_code;
    snprintf(r->message, sizeof r->message, "%s", e->message ? e->message : "");
}
static void on_drain(pmx_session_t *s, void *data)
{
    ev(data, 'd');
}
static void on_close(pmx_session_t *s, void *data)
{
    rec_t *r = data;
    ev(r, 'c');
    r->closes++;
    r->s = NULL;
}

/* ---- fixture --------------------------------------------------------------------------------- */
typedef struct fx {
    uv_loop_t loop;
    pmx_client_t *c;
    char kubeconfig[64];
} fx_t;

static int setup(void **state)
{
    fx_t *x = calloc(1, sizeof *x);
    uv_loop_init(&x->loop);
    snprintf(x->kubeconfig, sizeof x->kubeconfig, "/tmp/pmx_test_session_XXXXXX");
    int fd = mkstemp(x->kubeconfig);
    assert_true(fd >= 0);
    const char *kc = "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
                     "clusters:\n- name: t\n  cluster:\n    server: http://127.0.0.1:1\n"
                     "users:\n- name: t\n  user:\n    token: abc\n"
                     "contexts:\n- name: t\n  context:\n    cluster: t\n    user: t\n";
    assert_int_equal(write(fd, kc, strlen(kc)), (ssize_t)strlen(kc));
    close(fd);
    pmx_client_opts_t o = {0};
    o.kubeconfig = x->kubeconfig;
    o.keepalive_ms = UINT64_MAX;
    char err[256];
    assert_int_equal(pmx_client_new(&x->loop, &o, &x->c, err, sizeof err), 0);
    pmx__client_set_conn_factory(x->c, fake_open);
    g_fail_connect = 0;
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fx_t *x = *state;
    uv_run(&x->loop, UV_RUN_DEFAULT);
    assert_int_equal(pmx_client_free(x->c), 0);
    uv_run(&x->loop, UV_RUN_DEFAULT); /* the client's own handles close */
    assert_int_equal(uv_loop_close(&x->loop), 0);
    unlink(x->kubeconfig);
    free(x);
    return 0;
}

static void rec_init(rec_t *r)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->out, 0);
    buf_init(&r->err, 0);
}
static void rec_free(rec_t *r)
{
    buf_free(&r->out);
    buf_free(&r->err);
}

static const pmx_session_cb_t CB = {on_open, on_stdout, on_stderr, on_exit_cb, on_drain, on_close};

/* Starts `sh -c 'echo hi'` on pod p with the given callbacks. */
static pmx_session_t *start_cb(fx_t *x, rec_t *r, int in, const pmx_session_cb_t *cb)
{
    static const char *const argv[] = {"sh", "-c", "echo hi"};
    pmx_session_opts_t o = {0};
    o.kind = PMX_EXEC;
    o.pod = "p";
    o.argv = argv;
    o.argc = 3;
    o.stdin_ = in;
    o.stdout_ = o.stderr_ = 1;
    o.stdin_high_water = 128 * 1024;
    o.stdin_low_water = 32 * 1024;
    pmx_session_t *s = NULL;
    assert_int_equal(pmx_session_start(x->c, &o, cb, r, &s), 0);
    r->s = s;
    return s;
}

static pmx_session_t *start(fx_t *x, rec_t *r, int in)
{
    return start_cb(x, r, in, &CB);
}

/* Runs the loop until the request has been written (the conn is ready and holds it). */
static void until_request(fx_t *x)
{
    for (int i = 0; i < 100 && !(g_fake && g_fake->written.len); i++)
        uv_run(&x->loop, UV_RUN_NOWAIT);
    assert_non_null(g_fake);
    assert_true(g_fake->written.len > 0);
}

/* The server's answer to the request the session wrote: a 101 for its key. */
static void upgrade_response(buf_t *out, const char *proto)
{
    const char *req = g_fake->written.data;
    assert_non_null(strstr(req, "GET /api/v1/namespaces/default/pods/p/exec?command=sh&command=-c"
                                "&command=echo+hi&stderr=true"));
    /* A bearer token never travels in clear text to an http:// server. */
    assert_null(strstr(req, "Authorization:"));
    const char *k = strstr(req, "Sec-WebSocket-Key: ");
    assert_non_null(k);
    char key[25];
    memcpy(key, k + 19, 24);
    key[24] = 0;
    char accept[29];
    assert_int_equal(ws_accept_for_key(key, accept), 0);
    buf_printf(out,
               "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
               accept, proto);
}

/* An unmasked server frame: a binary message on a v4/v5 channel. */
static void frame(buf_t *out, int channel, const char *payload, size_t n)
{
    uint8_t h[4] = {0x82, 0, 0, 0};
    size_t total = n + 1, hl = 2;
    if (total < 126) {
        h[1] = (uint8_t)total;
    } else {
        h[1] = 126;
        h[2] = (uint8_t)(total >> 8);
        h[3] = (uint8_t)total;
        hl = 4;
    }
    buf_append(out, h, hl);
    uint8_t ch = (uint8_t)channel;
    buf_append(out, &ch, 1);
    buf_append(out, payload, n);
}

static void close_frame(buf_t *out)
{
    buf_append(out, "\x88\x02\x03\xe8", 4);
}

#define SUCCESS "{\"metadata\":{},\"status\":\"Success\"}"
#define EXIT3                                                                                      \
    "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"command terminated with non-zero exit " \
    "code: error executing command [sh -c exit 3], exit code 3\",\"reason\":\"NonZeroExitCode\","  \
    "\"details\":{\"causes\":[{\"reason\":\"ExitCode\",\"message\":\"3\"}]}}"

/* The server's whole side of a session: 101, an empty frame on stdout, output, status. */
static void script(buf_t *b, const char *status, int with_close)
{
    upgrade_response(b, "v5.channel.k8s.io");
    frame(b, 1, "", 0);
    frame(b, 1, "hello ", 6);
    frame(b, 2, "oops\n", 5);
    frame(b, 1, "world\n", 6);
    frame(b, 3, status, strlen(status));
    if (with_close) close_frame(b);
}

/* Feeds bytes to the session in pieces of the given sizes (0 ends the list: the rest). */
static void feed_cuts(const buf_t *b, const size_t *cuts)
{
    size_t off = 0;
    for (size_t i = 0; off < b->len && g_fake; i++) {
        size_t n = cuts && cuts[i] ? cuts[i] : b->len - off;
        if (n > b->len - off) n = b->len - off;
        g_fake->cb.on_data(g_fake->data, (const uint8_t *)b->data + off, n);
        off += n;
    }
}

static void run_script(fx_t *x, rec_t *r, const char *status, int with_close, int mode)
{
    start(x, r, 0);
    until_request(x);
    buf_t b;
    buf_init(&b, 0);
    script(&b, status, with_close);
    size_t cuts[4096] = {0};
    if (mode == 1) { /* one byte at a time */
        for (size_t i = 0; i < b.len && i < 4095; i++)
            cuts[i] = 1;
    } else if (mode == 2) { /* random cuts */
        for (size_t i = 0; i < 4095; i++)
            cuts[i] = 1 + (size_t)(rand() % 23);
    }
    feed_cuts(&b, mode ? cuts : NULL);
    /* The status ended the session at once: on_exit ran inside the read that carried it. */
    assert_int_equal(r->exits, 1);
    buf_free(&b);
    uv_run(&x->loop, UV_RUN_DEFAULT);
}

static void check_success(rec_t *r)
{
    assert_string_equal(r->events, "o121xc");
    assert_int_equal(r->exits, 1);
    assert_int_equal(r->closes, 1);
    assert_int_equal(r->exit_err, 0);
    assert_int_equal(r->exit_code, 0);
    assert_int_equal(r->out.len, 12);
    assert_memory_equal(r->out.data, "hello world\n", 12);
    assert_int_equal(r->err.len, 5);
}

static void test_whole_read(void **state)
{
    fx_t *x = *state;
    for (int with_close = 0; with_close < 2; with_close++) {
        rec_t r;
        rec_init(&r);
        run_script(x, &r, SUCCESS, with_close, 0);
        check_success(&r);
        rec_free(&r);
    }
}

static void test_one_byte_at_a_time(void **state)
{
    fx_t *x = *state;
    rec_t r;
    rec_init(&r);
    run_script(x, &r, SUCCESS, 1, 1);
    check_success(&r);
    rec_free(&r);
}

static void test_random_cuts(void **state)
{
    fx_t *x = *state;
    srand(42);
    for (int round = 0; round < 50; round++) {
        rec_t r;
        rec_init(&r);
        run_script(x, &r, round % 2 ? EXIT3 : SUCCESS, round % 3 == 0, 2);
        if (round % 2) {
            assert_int_equal(r.exit_err, 0);
            assert_int_equal(r.exit_code, 3);
        } else {
            check_success(&r);
        }
        rec_free(&r);
    }
}

/* 101 + output + status in one read, and the server keeps the connection open: the session
 * ends at once, sends its close frame and closes the connection after it (gracefully). */
static void test_status_with_open_connection(void **state)
{
    fx_t *x = *state;
    rec_t r;
    rec_init(&r);
    start(x, &r, 0);
    until_request(x);
    fake_t *f = g_fake;
    buf_t b;
    buf_init(&b, 0);
    script(&b, EXIT3, 0);
    size_t before = f->written.len;
    feed_cuts(&b, NULL);
    assert_int_equal(r.exits, 1);
    assert_int_equal(r.exit_code, 3);
    assert_true(f->closed);
    assert_true(f->graceful);
    /* The client's close frame (masked, opcode 8, code 1000) went out before the close. */
    assert_true(f->written.len >= before + 8);
    assert_int_equal((uint8_t)f->written.data[before], 0x88);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    assert_string_equal(r.events, "o121xc");
    buf_free(&b);
    rec_free(&r);
}

/* The connection ends after output but before any status: lost, exit status unknown. */
static void test_lost_before_status(void **state)
{
    fx_t *x = *state;
    rec_t r;
    rec_init(&r);
    start(x, &r, 0);
    until_request(x);
    buf_t b;
    buf_init(&b, 0);
    upgrade_response(&b, "v5.channel.k8s.io");
    frame(&b, 1, "partial", 7);
    feed_cuts(&b, NULL);
    assert_int_equal(r.exits, 0);
    g_fake->cb.on_end(g_fake->data, 0);
    assert_int_equal(r.exits, 1);
    assert_int_equal(r.exit_err, PMX_ELOST);
    assert_non_null(strstr(r.message, "exit status is unknown"));
    uv_run(&x->loop, UV_RUN_DEFAULT);
    assert_string_equal(r.events, "o1xc");
    assert_memory_equal(r.out.data, "partial", 7);
    buf_free(&b);
    rec_free(&r);
}

/* A refusal with a Status body, one byte at a time: the Status message, mapped code. */
static void test_refused_upgrade(void **state)
{
    fx_t *x = *state;
    rec_t r;
    rec_init(&r);
    start(x, &r, 0);
    until_request(x);
    const char *body = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
                       "\"Failure\",\"message\":\"pods \\\"p\\\" not found\",\"reason\":"
                       "\"NotFound\",\"code\":404}";
    buf_t b;
    buf_init(&b, 0);
    buf_printf(&b,
               "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
               "Content-Length: %zu\r\n\r\n%s",
               strlen(body), body);
    size_t cuts[1024];
    for (size_t i = 0; i < 1024; i++)
        cuts[i] = 1;
    feed_cuts(&b, cuts);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    assert_string_equal(r.events, "xc");
    assert_int_equal(r.exit_err, PMX_ENOTFOUND);
    assert_string_equal(r.message, "pods \"p\" not found (404)");
    buf_free(&b);
    rec_free(&r);
}

/* A connect failure reaches on_exit with the conn's message; nothing else is called. */
static void test_connect_failure(void **state)
{
    fx_t *x = *state;
    g_fail_connect = 1;
    rec_t r;
    rec_init(&r);
    start(x, &r, 0);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    assert_string_equal(r.events, "xc");
    assert_int_equal(r.exit_err, PMX_ECONNECT);
    assert_non_null(strstr(r.message, "connection refused"));
    rec_free(&r);
}

/* Closing before the upgrade: on_exit(PMX_ECANCELED) from the loop, never from inside
 * pmx_session_close(), then on_close. */
static void test_cancel(void **state)
{
    fx_t *x = *state;
    rec_t r;
    rec_init(&r);
    pmx_session_t *s = start(x, &r, 0);
    until_request(x);
    pmx_session_close(s);
    assert_int_equal(r.exits, 0);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    assert_string_equal(r.events, "xc");
    assert_int_equal(r.exit_err, PMX_ECANCELED);
    rec_free(&r);
}

/* stdin: queued before open, sent after it; above high water until the conn drains, then one
 * on_drain; the close signal after the data; pause reaches the conn. */
static void test_backpressure(void **state)
{
    fx_t *x = *state;
    rec_t r;
    rec_init(&r);
    pmx_session_t *s = start(x, &r, 1);
    static char chunk[48 * 1024];
    memset(chunk, 'a', sizeof chunk);
    assert_int_equal(pmx_session_write(s, chunk, sizeof chunk), (long)sizeof chunk);
    until_request(x);
    fake_t *f = g_fake;
    buf_t b;
    buf_init(&b, 0);
    upgrade_response(&b, "v5.channel.k8s.io");
    size_t before = f->written.len;
    feed_cuts(&b, NULL);
    /* Open: the queued stdin went out as channel-0 frames. */
    assert_true(f->written.len >= before + sizeof chunk);
    long q = 0;
    for (int i = 0; i < 8; i++)
        q = pmx_session_write(s, chunk, sizeof chunk);
    assert_true(q > 128 * 1024); /* above high water: the caller must wait for on_drain */
    assert_null(strchr(r.events, 'd'));
    /* The "kernel" takes everything: the conn drains, the session flushes and says so. */
    for (int i = 0; i < 20 && !strchr(r.events, 'd'); i++) {
        f->queued = 0;
        f->cb.on_drain(f->data);
        uv_run(&x->loop, UV_RUN_NOWAIT);
    }
    assert_non_null(strchr(r.events, 'd'));
    f->queued = 0;
    assert_int_equal(pmx_session_close_stdin(s), 0);
    assert_int_equal(pmx_session_state(s), PMX_STATE_STDIN_CLOSED);
    assert_int_equal(pmx_session_write(s, "x", 1), PMX_EBUSY);
    pmx_session_pause(s);
    assert_true(f->paused);
    pmx_session_resume(s);
    assert_false(f->paused);
    buf_reset(&b);
    frame(&b, 3, SUCCESS, strlen(SUCCESS));
    feed_cuts(&b, NULL);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    assert_int_equal(r.exit_err, 0);
    assert_int_equal(r.closes, 1);
    buf_free(&b);
    rec_free(&r);
}

/* A session closed from inside its own on_stdout: the rest of that read is not delivered,
 * on_exit(PMX_ECANCELED) and on_close follow from the loop. */
static void on_stdout_close(pmx_session_t *s, const char *b, size_t n, void *data)
{
    rec_t *r = data;
    ev(r, '1');
    pmx_session_close(s);
}

static void test_close_from_callback(void **state)
{
    fx_t *x = *state;
    rec_t r;
    rec_init(&r);
    static const pmx_session_cb_t cb = {on_open, on_stdout_close, on_stderr, on_exit_cb,
                                        NULL,    on_close};
    start_cb(x, &r, 0, &cb);
    until_request(x);
    buf_t b;
    buf_init(&b, 0);
    script(&b, SUCCESS, 1);
    feed_cuts(&b, NULL);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    assert_string_equal(r.events, "o1xc");
    assert_int_equal(r.exit_err, PMX_ECANCELED);
    buf_free(&b);
    rec_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_whole_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_byte_at_a_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_cuts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_with_open_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_before_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_upgrade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_from_callback, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
