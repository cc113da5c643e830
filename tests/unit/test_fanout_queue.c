/* fanout: the pending queue, concurrency limit, start rate, retries before the command started,
 * skipped targets, fail-fast cancel and the results list, against a port nobody listens on (so
 * every attempt fails at connect, the one kind of failure that may be retried). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "podmux.h"

typedef struct watch {
    pmx_fanout_t *f;
    int starts, done, finish, max_running;
    size_t order[32];
    int errs[32];
    unsigned attempts[32];
} watch_t;

static void on_start(pmx_fanout_t *f, size_t index, unsigned attempt, void *data)
{
    watch_t *w = data;
    pmx_fanout_stats_t st;
    pmx_fanout_stats(f, &st);
    w->starts++;
    if ((int)st.running + 1 > w->max_running) w->max_running = (int)st.running + 1;
}

static void on_output(pmx_fanout_t *f, size_t index, int fd, const char *b, size_t n, void *d)
{
    fail_msg("no output expected");
}

static void on_done(pmx_fanout_t *f, const pmx_fanout_result_t *r, void *data)
{
    watch_t *w = data;
    w->order[w->done] = r->index;
    w->errs[r->index] = r->exit.err;
    w->attempts[r->index] = r->attempts;
    w->done++;
}

static void on_finish(pmx_fanout_t *f, void *data)
{
    watch_t *w = data;
    w->finish++;
}

static const pmx_fanout_cb_t CB = {
    .on_start = on_start, .on_output = on_output, .on_done = on_done, .on_finish = on_finish};
static const char *const ARGV[] = {"true"};

static pmx_client_t *client(uv_loop_t *loop)
{
    /* Port 1 on loopback: connection refused at once. */
    pmx_client_opts_t co = {.server = "https://127.0.0.1:1",
                            .token = "t",
                            .insecure = 1,
                            .kubeconfig = PMX_TEST_DATA_DIR "/../../unit/no-such-kubeconfig"};
    pmx_client_t *c = NULL;
    char err[256] = "";
    int rc = pmx_client_new(loop, &co, &c, err, sizeof err);
    if (rc < 0) { /* the override alone must be enough; retry without the file */
        co.kubeconfig = NULL;
        rc = pmx_client_new(loop, &co, &c, err, sizeof err);
    }
    if (rc < 0) fail_msg("client: %s", err);
    return c;
}

static pmx_fanout_t *fanout(pmx_client_t *c, pmx_fanout_opts_t *o, watch_t *w)
{
    o->kind = PMX_EXEC;
    o->argv = ARGV;
    o->argc = 1;
    assert_int_equal(pmx_fanout_new(c, o, &CB, w, &w->f), 0);
    return w->f;
}

static void test_retries_and_parallel(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pmx_client_t *c = client(&loop);
    watch_t w = {0};
    pmx_fanout_opts_t o = {.parallel = 2, .retries = 2, .retry_base_ms = 10};
    pmx_fanout_t *f = fanout(c, &o, &w);
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%d", i);
        assert_int_equal(pmx_fanout_add(f, "default", name, NULL), i);
    }
    assert_int_equal(pmx_fanout_start(f), 0);
    assert_int_equal(pmx_fanout_add(f, "default", "late", NULL), PMX_EBUSY);
    assert_int_equal(pmx_fanout_free(f), PMX_EBUSY);
    assert_int_equal(w.starts, 0); /* nothing happens inside the call */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(w.finish, 1);
    assert_int_equal(w.done, 5);
    assert_int_equal(w.starts, 15); /* 1 + 2 retries each */
    assert_true(w.max_running <= 2);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(w.errs[i], PMX_ECONNECT);
        assert_int_equal(w.attempts[i], 3);
    }
    size_t n;
    const pmx_fanout_result_t *const *r = pmx_fanout_results(f, &n);
    assert_int_equal(n, 5);
    assert_string_equal(r[0]->namespace_, "default");
    assert_int_equal(r[0]->exit.command_started, 0);
    pmx_fanout_stats_t st;
    pmx_fanout_stats(f, &st);
    assert_int_equal(st.total, 5);
    assert_int_equal(st.failed, 5);
    assert_int_equal(st.done, 5);
    assert_int_equal(st.running, 0);
    assert_int_equal(pmx_fanout_free(f), 0);
    assert_int_equal(pmx_client_free(c), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_skipped_and_fail_fast(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pmx_client_t *c = client(&loop);
    watch_t w = {0};
    pmx_fanout_opts_t o = {.parallel = 1, .fail_fast = 1};
    pmx_fanout_t *f = fanout(c, &o, &w);
    assert_int_equal(pmx_fanout_add_skipped(f, "default", "s0", NULL, "phase Pending"), 0);
    for (int i = 1; i < 5; i++)
        assert_int_equal(pmx_fanout_add(f, "default", "p", "c"), i);
    assert_int_equal(pmx_fanout_start(f), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(w.finish, 1);
    assert_int_equal(w.done, 5);
    assert_int_equal(w.order[0], 0); /* skipped ones are reported first */
    assert_int_equal(w.errs[0], PMX_ESKIPPED);
    assert_int_equal(w.errs[1], PMX_ECONNECT);
    for (int i = 2; i < 5; i++)
        assert_int_equal(w.errs[i], PMX_ECANCELED); /* never started */
    assert_int_equal(w.starts, 1);
    size_t n;
    const pmx_fanout_result_t *const *r = pmx_fanout_results(f, &n);
    assert_int_equal(n, 5);
    assert_string_equal(r[0]->exit.message, "phase Pending");
    assert_string_equal(r[1]->container, "c");
    assert_int_equal(pmx_fanout_free(f), 0);
    assert_int_equal(pmx_client_free(c), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_rate_limit(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pmx_client_t *c = client(&loop);
    watch_t w = {0};
    pmx_fanout_opts_t o = {.parallel = 0, .qps = 20, .burst = 1};
    pmx_fanout_t *f = fanout(c, &o, &w);
    for (int i = 0; i < 5; i++)
        pmx_fanout_add(f, NULL, "p", NULL);
    uint64_t t0 = uv_hrtime();
    pmx_fanout_start(f);
    uv_run(&loop, UV_RUN_DEFAULT);
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    assert_int_equal(w.done, 5);
    assert_true(ms >= 190); /* 4 waits of 50 ms after the first start */
    assert_true(ms < 2000);
    pmx_fanout_free(f);
    pmx_client_free(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_empty_and_cancel(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pmx_client_t *c = client(&loop);
    watch_t w = {0};
    pmx_fanout_opts_t o = {0};
    pmx_fanout_t *f = fanout(c, &o, &w);
    pmx_fanout_start(f);
    assert_int_equal(w.finish, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(w.finish, 1);
    pmx_fanout_free(f);

    watch_t w2 = {0};
    pmx_fanout_opts_t o2 = {.parallel = 1, .retries = 5, .retry_base_ms = 5000};
    f = fanout(c, &o2, &w2);
    pmx_fanout_add(f, NULL, "a", NULL);
    pmx_fanout_add(f, NULL, "b", NULL);
    pmx_fanout_start(f);
    uv_run(&loop, UV_RUN_ONCE); /* a starts */
    pmx_fanout_cancel(f);       /* a waits for a retry 5 s away; b is pending */
    assert_int_equal(w2.done, 0);
    uint64_t t0 = uv_hrtime();
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_true((uv_hrtime() - t0) / 1000000 < 2000); /* did not wait for the backoff */
    assert_int_equal(w2.finish, 1);
    assert_int_equal(w2.done, 2);
    assert_int_equal(w2.errs[1], PMX_ECANCELED);
    pmx_fanout_free(f);
    pmx_client_free(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retries_and_parallel),
        cmocka_unit_test(test_skipped_and_fail_fast),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_empty_and_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
