/* pmx_transfer against podmux-sim: one 24 MiB file to three pods' stdin. A pod that does not
 * read for a while makes the other wait: at every loop turn the fast one is never more than
 * max_lag + one chunk ahead of the slow one, and it did run ahead (the bound was reached, not
 * just never tested). A pod whose command exits early is removed and holds nobody back. Every
 * byte arrives (bytes_in), both complete sessions exit 0. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "podmux.h"
#include "simproc.h"

#define SIZE (24u << 20)
#define LAG (1u << 20)
#define CHUNK (64u << 10)

static simproc_t SIM;

typedef struct tctx {
    pmx_transfer_t *t;
    pmx_session_t *s[3];
    int sent[3], sent_err[3], closed;
    pmx_exit_t ex[3];
    uint64_t max_seen;
    char pods[3][256];
    int npods;
} tctx_t;

static int idx(tctx_t *c, pmx_session_t *s)
{
    for (int i = 0; i < 3; i++)
        if (c->s[i] == s) return i;
    return -1;
}

static void on_pods(pmx_client_t *cl, int err, const pmx_pod_list_t *l, const char *m, void *d)
{
    tctx_t *c = d;
    assert_int_equal(err, 0);
    for (size_t i = 0; i < l->npods && c->npods < 3; i++)
        snprintf(c->pods[c->npods++], sizeof c->pods[0], "%s", l->pods[i].name);
}

static void on_drain(pmx_session_t *s, void *data)
{
    tctx_t *c = pmx_session_data(s);
    pmx_transfer_drain(c->t, s);
}

static void on_exit_cb(pmx_session_t *s, const pmx_exit_t *e, void *data)
{
    tctx_t *c = data;
    c->ex[idx(c, s)] = *e;
    pmx_transfer_remove(c->t, s);
}

static void on_close(pmx_session_t *s, void *data)
{
    tctx_t *c = data;
    c->s[idx(c, s)] = NULL;
    c->closed++;
}

static void on_sent(pmx_transfer_t *t, pmx_session_t *s, int err, void *data)
{
    tctx_t *c = data;
    int i = idx(c, s);
    c->sent[i] = 1;
    c->sent_err[i] = err;
}

/* Every loop turn: the lag between fast (0) and slow (1) while both are sending. */
static void on_check(uv_check_t *h)
{
    tctx_t *c = h->data;
    if (!c->s[0] || !c->s[1] || c->sent[0] || c->sent[1]) return;
    uint64_t f = pmx_transfer_sent(c->t, c->s[0]), s = pmx_transfer_sent(c->t, c->s[1]);
    if (f > s && f - s > c->max_seen) c->max_seen = f - s;
    if (f > s) assert_true(f - s <= LAG + CHUNK);
}

static void test_transfer_lag(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pmx_client_opts_t co = {.kubeconfig = SIM.kubeconfig};
    pmx_client_t *cl;
    char err[512];
    assert_int_equal(pmx_client_new(&loop, &co, &cl, err, sizeof err), 0);
    tctx_t c = {0};
    assert_int_equal(pmx_list_pods(cl, "default", NULL, NULL, on_pods, &c), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(c.npods, 3);

    char path[] = "/tmp/pmx-itest-transfer-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    char *block = malloc(1 << 20);
    assert_non_null(block);
    for (unsigned i = 0; i < SIZE >> 20; i++) {
        for (size_t k = 0; k < 1 << 20; k++)
            block[k] = (char)(k * 31 + i);
        assert_int_equal(write(fd, block, 1 << 20), 1 << 20);
    }
    free(block);

    pmx_transfer_opts_t to = {
        .fd = fd, .size = SIZE, .chunk = CHUNK, .max_lag = LAG, .close_stdin = 1};
    pmx_transfer_cb_t tcb = {.on_sent = on_sent};
    assert_int_equal(pmx_transfer_new(&loop, &to, &tcb, &c, &c.t), 0);
    static const char *const fast[] = {"sh", "-c", "cat >/dev/null"};
    static const char *const slow[] = {"sh", "-c", "sleep 2; cat >/dev/null"};
    static const char *const quits[] = {"sh", "-c", "head -c 100000 >/dev/null"};
    const char *const *argv[3] = {fast, slow, quits};
    pmx_session_cb_t cb = {.on_exit = on_exit_cb, .on_drain = on_drain, .on_close = on_close};
    for (int i = 0; i < 3; i++) {
        pmx_session_opts_t o = {.kind = PMX_EXEC,
                                .pod = c.pods[i],
                                .argv = argv[i],
                                .argc = 3,
                                .stdin_ = 1,
                                .stdout_ = 1};
        assert_int_equal(pmx_session_start(cl, &o, &cb, &c, &c.s[i]), 0);
        assert_int_equal(pmx_transfer_add(c.t, c.s[i]), 0);
    }
    uv_check_t chk;
    uv_check_init(&loop, &chk);
    chk.data = &c;
    uv_check_start(&chk, on_check);
    while (c.closed < 3)
        uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&chk, NULL);

    for (int i = 0; i < 2; i++) {
        assert_int_equal(c.sent[i], 1);
        assert_int_equal(c.sent_err[i], 0);
        assert_int_equal(c.ex[i].err, 0);
        assert_int_equal(c.ex[i].exit_code, 0);
        assert_true(c.ex[i].bytes_in == SIZE);
    }
    assert_true(c.ex[2].bytes_in < SIZE); /* ended early, removed, held nobody */
    printf("most the fast pod ran ahead: %llu bytes (bound %u + %u)\n",
           (unsigned long long)c.max_seen, LAG, CHUNK);
    assert_true(c.max_seen >= LAG / 2); /* the slow one did hold the fast one back */
    assert_int_equal(pmx_transfer_free(c.t), 0);
    assert_int_equal(pmx_client_free(cl), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    close(fd);
}

static int setup(void **state)
{
    const char *args[] = {"--pods", "3", NULL};
    return simproc_start(&SIM, args);
}

static int teardown(void **state)
{
    simproc_stop(&SIM);
    return 0;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_transfer_lag)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
