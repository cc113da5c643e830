/* conn: every address in turn, and resolving again after they all failed, on a real loop over
 * loopback. The client's server is a name that does not resolve (podmux-test.invalid), and the
 * test hands the client its address list: 127.0.0.2 (nothing listens there: refused), then
 * 127.0.0.1, where a listener accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/conn.h"
#include "client/internal.h"
#include "podmux.h"

typedef struct fx {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_tcp_t accepted[4];
    int naccepted;
    int port;
    pmx_client_t *c;
    char kubeconfig[64];
} fx_t;

typedef struct outcome {
    int ready, failed, closed, err;
    char message[256];
    pmx__conn_t *conn;
} outcome_t;

static void on_connection(uv_stream_t *l, int status)
{
    fx_t *x = l->data;
    assert_int_equal(status, 0);
    assert_true(x->naccepted < 4);
    uv_tcp_t *t = &x->accepted[x->naccepted++];
    uv_tcp_init(&x->loop, t);
    assert_int_equal(uv_accept(l, (uv_stream_t *)t), 0);
}

static int setup(void **state)
{
    fx_t *x = calloc(1, sizeof *x);
    uv_loop_init(&x->loop);
    uv_tcp_init(&x->loop, &x->listener);
    x->listener.data = x;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&x->listener, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&x->listener, 8, on_connection), 0);
    struct sockaddr_in got;
    int len = sizeof got;
    uv_tcp_getsockname(&x->listener, (struct sockaddr *)&got, &len);
    x->port = ntohs(got.sin_port);
    snprintf(x->kubeconfig, sizeof x->kubeconfig, "/tmp/pmx_test_conn_XXXXXX");
    int fd = mkstemp(x->kubeconfig);
    assert_true(fd >= 0);
    char kc[512];
    int n = snprintf(kc, sizeof kc,
                     "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
                     "clusters:\n- name: t\n  cluster:\n    server: http://podmux-test.invalid:%d\n"
                     "users:\n- name: t\n  user: {}\n"
                     "contexts:\n- name: t\n  context:\n    cluster: t\n    user: t\n",
                     x->port);
    assert_int_equal(write(fd, kc, (size_t)n), n);
    close(fd);
    pmx_client_opts_t o = {0};
    o.kubeconfig = x->kubeconfig;
    char err[256];
    assert_int_equal(pmx_client_new(&x->loop, &o, &x->c, err, sizeof err), 0);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fx_t *x = *state;
    for (int i = 0; i < x->naccepted; i++)
        uv_close((uv_handle_t *)&x->accepted[i], NULL);
    uv_close((uv_handle_t *)&x->listener, NULL);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    assert_int_equal(pmx_client_free(x->c), 0);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&x->loop), 0);
    unlink(x->kubeconfig);
    free(x);
    return 0;
}

static void c_ready(void *data)
{
    outcome_t *o = data;
    o->ready = 1;
    pmx__conn_close(o->conn, 0);
}
static void c_fail(void *data, int err, const char *message)
{
    outcome_t *o = data;
    o->failed = 1;
    o->err = err;
    snprintf(o->message, sizeof o->message, "%s", message);
    pmx__conn_close(o->conn, 0);
}
static void c_closed(void *data)
{
    ((outcome_t *)data)->closed = 1;
}

static void run_conn(fx_t *x, outcome_t *o)
{
    memset(o, 0, sizeof *o);
    pmx__conn_cb_t cb = {NULL, c_ready, c_fail, NULL, NULL, NULL, c_closed};
    pmx__conn_opts_t opts = {NULL, "test"};
    assert_int_equal(pmx__conn_open(x->c, &opts, &cb, o, &o->conn), 0);
    while (!o->closed)
        uv_run(&x->loop, UV_RUN_ONCE);
}

/* Sets the client's addresses (the port is the server URL's). */
static void set_addrs(fx_t *x, const char *const *ips, int n)
{
    struct sockaddr_in sa[4];
    struct addrinfo ai[4];
    memset(ai, 0, sizeof ai);
    for (int i = 0; i < n; i++) {
        uv_ip4_addr(ips[i], 1, &sa[i]);
        ai[i].ai_family = AF_INET;
        ai[i].ai_socktype = SOCK_STREAM;
        ai[i].ai_addr = (struct sockaddr *)&sa[i];
        ai[i].ai_addrlen = sizeof sa[i];
        ai[i].ai_next = i + 1 < n ? &ai[i + 1] : NULL;
    }
    pmx__client_set_addrs(x->c, ai);
    assert_int_equal(pmx__client_addrs(x->c), (size_t)n);
}

static void test_every_address_in_turn(void **state)
{
    fx_t *x = *state;
    static const char *const ips[] = {"127.0.0.2", "127.0.0.1"};
    set_addrs(x, ips, 2);
    outcome_t o;
    run_conn(x, &o);
    assert_int_equal(o.failed, 0);
    assert_int_equal(o.ready, 1); /* the first refused, the second took it */
    assert_int_equal(x->naccepted, 1);
    assert_int_equal(pmx__client_addrs(x->c), 2); /* a list that worked is kept */
}

static void test_resolves_again_after_all_failed(void **state)
{
    fx_t *x = *state;
    static const char *const ips[] = {"127.0.0.2"};
    set_addrs(x, ips, 1);
    outcome_t o;
    run_conn(x, &o);
    assert_int_equal(o.ready, 0);
    assert_int_equal(o.err, PMX_ECONNECT);
    assert_non_null(strstr(o.message, "cannot connect to podmux-test.invalid:"));
    assert_int_equal(pmx__client_addrs(x->c), 0); /* forgotten */
    /* The next connection resolves the name again instead of trusting the old answer. */
    run_conn(x, &o);
    assert_int_equal(o.ready, 0);
    assert_int_equal(o.err, PMX_EDNS);
    assert_non_null(strstr(o.message, "cannot resolve podmux-test.invalid"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_address_in_turn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolves_again_after_all_failed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
