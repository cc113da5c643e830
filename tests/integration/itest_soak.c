/* Integrity and soak for libpodmux against podmux-sim (issue 9).
 *
 * Integrity: PMX_INTEGRITY_SESSIONS (100) concurrent `cat` sessions, each sent
 * PMX_INTEGRITY_MIB (10) MiB of its own pseudo-random bytes; what comes back must have the same
 * length and sha256. Keepalive is off by default (PMX_INTEGRITY_KEEPALIVE_MS: 0 = the library's
 * 5 s, N ms, -1 = off): podmux-sim under ASan blocks its loop in fork() while it starts 100
 * processes, and a session then sees no data and no pong for longer than 12 periods + 1 s (up to
 * 36 s measured on a loaded 2-core box), which is the sim's stall, not the client's.
 *
 * Soak: PMX_SOAK_ROUNDS (5) rounds of PMX_SOAK_SESSIONS (200) sessions opened and closed on a
 * fresh client, PMX_SOAK_WINDOW (50) at a time; after each round the process's open fds must equal
 * the baseline taken after the first round, the RSS must stay within PMX_SOAK_RSS_SLACK_MB (24) of
 * it, and the sim must have no session and no child process left.
 *
 * Default run (about 100 s under ASan on 2 idle cores):
 *   cd build-faults && ctest -R itest_soak --output-on-failure
 * The full soak, 10 rounds of 1,000 sessions (about 10 minutes under ASan):
 *   cd build-faults && PMX_SOAK_ROUNDS=10 PMX_SOAK_SESSIONS=1000 PMX_SRC=.. \
 *     PODMUX_SIM=$PWD/podmux-sim tests/itest_soak */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podmux.h"
#include "simproc.h"

static simproc_t SIM;

static long env_num(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v && atol(v) > 0 ? atol(v) : dflt;
}

static pmx_client_t *new_client(uv_loop_t *loop)
{
    pmx_client_opts_t o = {0};
    o.kubeconfig = SIM.kubeconfig;
    pmx_client_t *c = NULL;
    char err[512];
    int rc = pmx_client_new(loop, &o, &c, err, sizeof err);
    if (rc) fprintf(stderr, "client: %s\n", err);
    assert_int_equal(rc, 0);
    return c;
}

static void free_client(uv_loop_t *loop, pmx_client_t *c)
{
    assert_int_equal(pmx_client_free(c), 0);
    uv_run(loop, UV_RUN_DEFAULT); /* the client's handles close asynchronously */
}

/* ---- integrity ---------------------------------------------------------------------------- */
typedef struct flow {
    pmx_session_t *s;
    uint64_t rng;
    size_t total, sent;
    mbedtls_sha256_context in_sha, out_sha;
    uint64_t out_bytes;
    uint64_t last_out_ms, max_gap_ms, t_start_ms;
    int exited, closed, err, code;
    char message[256];
} flow_t;

static void flow_feed(flow_t *f)
{
    uint8_t chunk[65536];
    while (f->sent < f->total) {
        size_t n = f->total - f->sent < sizeof chunk ? f->total - f->sent : sizeof chunk;
        for (size_t i = 0; i < n; i += 8) {
            f->rng ^= f->rng << 13, f->rng ^= f->rng >> 7, f->rng ^= f->rng << 17;
            memcpy(chunk + i, &f->rng, n - i < 8 ? n - i : 8);
        }
        mbedtls_sha256_update_ret(&f->in_sha, chunk, n);
        long q = pmx_session_write(f->s, chunk, n);
        assert_true(q >= 0);
        f->sent += n;
        if (q > 1024 * 1024) return; /* on_drain brings us back */
    }
    if (f->sent == f->total && f->total) {
        f->total = 0; /* close once */
        assert_int_equal(pmx_session_close_stdin(f->s), 0);
    }
}

static void fl_out(pmx_session_t *s, const char *b, size_t n, void *d)
{
    flow_t *f = d;
    mbedtls_sha256_update_ret(&f->out_sha, (const unsigned char *)b, n);
    f->out_bytes += n;
    uint64_t now = uv_hrtime() / 1000000;
    uint64_t since = f->last_out_ms ? f->last_out_ms : f->t_start_ms;
    if (now - since > f->max_gap_ms) f->max_gap_ms = now - since;
    f->last_out_ms = now;
}

static void fl_exit(pmx_session_t *s, const pmx_exit_t *e, void *d)
{
    flow_t *f = d;
    assert_int_equal(f->exited, 0);
    f->exited = 1;
    f->err = e->err;
    f->code = e->exit_code;
    snprintf(f->message, sizeof f->message, "%s", e->message);
}

static void fl_drain(pmx_session_t *s, void *d)
{
    flow_feed(d);
}

static void fl_close(pmx_session_t *s, void *d)
{
    flow_t *f = d;
    assert_int_equal(f->exited, 1);
    f->closed = 1;
}

static const pmx_session_cb_t FLOW_CB = {NULL, fl_out, fl_out, fl_exit, fl_drain, fl_close};

static void test_integrity_concurrent(void **state)
{
    long n = env_num("PMX_INTEGRITY_SESSIONS", 100);
    size_t bytes = (size_t)env_num("PMX_INTEGRITY_MIB", 10) << 20;
    uv_loop_t loop;
    uv_loop_init(&loop);
    pmx_client_opts_t co = {0};
    co.kubeconfig = SIM.kubeconfig;
    /* PMX_INTEGRITY_KEEPALIVE_MS: see the top of the file. */
    long ka =
        getenv("PMX_INTEGRITY_KEEPALIVE_MS") ? atol(getenv("PMX_INTEGRITY_KEEPALIVE_MS")) : -1;
    co.keepalive_ms = ka < 0 ? UINT64_MAX : (uint64_t)ka;
    pmx_client_t *c = NULL;
    assert_int_equal(pmx_client_new(&loop, &co, &c, NULL, 0), 0);
    flow_t *fl = calloc((size_t)n, sizeof *fl);
    const char *argv[] = {"cat"};
    for (long i = 0; i < n; i++) {
        flow_t *f = &fl[i];
        f->rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
        f->total = bytes;
        f->code = -2;
        f->t_start_ms = uv_hrtime() / 1000000;
        mbedtls_sha256_init(&f->in_sha);
        mbedtls_sha256_starts_ret(&f->in_sha, 0);
        mbedtls_sha256_init(&f->out_sha);
        mbedtls_sha256_starts_ret(&f->out_sha, 0);
        pmx_session_opts_t o = {0};
        o.pod = "ok";
        o.argv = argv;
        o.argc = 1;
        o.stdin_ = o.stdout_ = o.stderr_ = 1;
        assert_int_equal(pmx_session_start(c, &o, &FLOW_CB, f, &f->s), 0);
        flow_feed(f);
    }
    uint64_t t0 = uv_hrtime();
    uv_run(&loop, UV_RUN_DEFAULT);
    double secs = (double)(uv_hrtime() - t0) / 1e9;
    int good = 0;
    uint64_t worst_gap = 0;
    for (long i = 0; i < n; i++) {
        flow_t *f = &fl[i];
        if (f->max_gap_ms > worst_gap) worst_gap = f->max_gap_ms;
        unsigned char a[32], b[32];
        mbedtls_sha256_finish_ret(&f->in_sha, a);
        mbedtls_sha256_finish_ret(&f->out_sha, b);
        int ok =
            f->closed && f->err == 0 && f->code == 0 && f->out_bytes == bytes && !memcmp(a, b, 32);
        if (!ok)
            fprintf(stderr, "session %ld: err %d code %d, %llu of %zu bytes back, sha %s: %s\n", i,
                    f->err, f->code, (unsigned long long)f->out_bytes, bytes,
                    memcmp(a, b, 32) ? "differs" : "equal", f->message);
        good += ok;
        mbedtls_sha256_free(&f->in_sha);
        mbedtls_sha256_free(&f->out_sha);
    }
    fprintf(stderr,
            "integrity: %ld sessions x %zu MiB each way in %.1f s (%.0f MiB/s total), longest "
            "gap between outputs of one session %.1f s\n",
            n, bytes >> 20, secs, 2.0 * (double)n * (double)(bytes >> 20) / secs,
            (double)worst_gap / 1000);
    assert_int_equal(good, n);
    free(fl);
    free_client(&loop, c);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- soak ------------------------------------------------------------------------------- */
typedef struct one {
    int exited, closed, err, code;
    char message[200];
    struct round *round;
} one_t;

static void o_exit(pmx_session_t *s, const pmx_exit_t *e, void *d)
{
    one_t *o = d;
    o->exited++;
    o->err = e->err;
    o->code = e->exit_code;
    snprintf(o->message, sizeof o->message, "%s", e->message);
}

/* A round: n sessions, at most `window` at once (each on_close starts the next). */
typedef struct round {
    pmx_client_t *c;
    one_t *res;
    long n, next;
} round_t;

static void start_next(round_t *r);

static void o_close(pmx_session_t *s, void *d)
{
    one_t *o = d;
    o->closed++;
    start_next(o->round);
}

static void o_out(pmx_session_t *s, const char *b, size_t n, void *d) {}

static const pmx_session_cb_t ONE_CB = {NULL, o_out, o_out, o_exit, NULL, o_close};

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n - 1; /* the DIR's own fd */
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f && fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
    if (f) fclose(f);
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Child processes of the sim (running or not yet reaped). */
static int sim_children(void)
{
    char path[128], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)SIM.pid, (int)SIM.pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    int count = 0;
    for (char *p = strtok(buf, " \n"); p; p = strtok(NULL, " \n"))
        count++;
    return count;
}

typedef struct stats_req {
    int done, active;
} stats_req_t;

static void stats_cb(pmx_client_t *c, int err, int status, const char *body, size_t len,
                     const char *msg, void *d)
{
    stats_req_t *r = d;
    assert_int_equal(err, 0);
    const char *p = strstr(body, "\"sessionsActive\":");
    assert_non_null(p);
    r->active = atoi(p + 17);
    r->done = 1;
}

static int sim_active_sessions(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pmx_client_t *c = new_client(&loop);
    stats_req_t r = {0, -1};
    assert_int_equal(pmx_client_get(c, "/podmux-sim/stats", stats_cb, &r), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    free_client(&loop, c);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_true(r.done);
    return r.active;
}

static void start_next(round_t *r)
{
    if (r->next >= r->n) return;
    static const char *const argv[] = {"sh", "-c", "echo x; exit 3"};
    one_t *o = &r->res[r->next++];
    o->round = r;
    pmx_session_opts_t so = {0};
    so.pod = "ok";
    so.argv = argv;
    so.argc = 3;
    so.stdout_ = 1;
    pmx_session_t *s = NULL;
    assert_int_equal(pmx_session_start(r->c, &so, &ONE_CB, o, &s), 0);
}

/* Sessions run PMX_SOAK_WINDOW (50) at a time: the sim forks every process from its loop, and
 * hundreds of forks at once under ASan stall it past the 5 s keepalive's limit. */
static void soak_round(long n, one_t *res)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    memset(res, 0, (size_t)n * sizeof *res);
    round_t r = {new_client(&loop), res, n, 0};
    pmx_client_t *c = r.c;
    for (long w = env_num("PMX_SOAK_WINDOW", 50); w > 0; w--)
        start_next(&r);
    uv_run(&loop, UV_RUN_DEFAULT);
    long ok = 0;
    for (long i = 0; i < n; i++) {
        assert_int_equal(res[i].exited, 1);
        assert_int_equal(res[i].closed, 1);
        int good = res[i].err == 0 && res[i].code == 3;
        if (!good && ok + 5 > i) /* the first few failures say why */
            fprintf(stderr, "session %ld: %s %d: %s\n", i, pmx_err_name(res[i].err), res[i].code,
                    res[i].message);
        ok += good;
    }
    assert_int_equal(ok, n);
    free_client(&loop, c);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void wait_sim_idle(void)
{
    int kids = -1, active = -1;
    for (int i = 0; i < 50; i++) {
        kids = sim_children();
        active = sim_active_sessions();
        if (kids == 0 && active == 0) return;
        usleep(100000);
    }
    fprintf(stderr, "sim not idle: %d child processes, %d active sessions\n", kids, active);
    assert_int_equal(kids, 0);
    assert_int_equal(active, 0);
}

static void test_soak_rounds(void **state)
{
    long rounds = env_num("PMX_SOAK_ROUNDS", 5), n = env_num("PMX_SOAK_SESSIONS", 200);
    long slack_kb = env_num("PMX_SOAK_RSS_SLACK_MB", 24) * 1024;
    one_t *res = calloc((size_t)n, sizeof *res);
    int fd0 = -1;
    long rss0 = 0;
    for (long r = 0; r < rounds; r++) {
        uint64_t t0 = uv_hrtime();
        soak_round(n, res);
        double run_s = (double)(uv_hrtime() - t0) / 1e9;
        wait_sim_idle();
        int fds = count_fds();
        long rss = rss_kb();
        fprintf(stderr,
                "round %ld: %ld sessions in %.1f s (sim idle after %.1f s), %d fds, RSS %ld KiB\n",
                r + 1, n, run_s, (double)(uv_hrtime() - t0) / 1e9, fds, rss);
        if (r == 0) {
            fd0 = fds;
            rss0 = rss;
            continue;
        }
        assert_int_equal(fds, fd0);
        if (rss > rss0 + slack_kb)
            fprintf(stderr, "RSS grew from %ld to %ld KiB (slack %ld)\n", rss0, rss, slack_kb);
        assert_true(rss <= rss0 + slack_kb);
    }
    free(res);
}

static int setup(void **state)
{
    const char *src = getenv("PMX_SRC");
    static char cluster[600];
    snprintf(cluster, sizeof cluster, "%s/tests/integration/data/faults-cluster.yaml",
             src ? src : ".");
    const char *args[] = {"--cluster", cluster, NULL};
    return simproc_start(&SIM, args);
}

static int teardown(void **state)
{
    int kids = sim_children();
    simproc_stop(&SIM);
    return kids == 0 ? 0 : -1;
}

/* ASan keeps freed blocks in a quarantine (256 MiB by default) that would read as growth. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "quarantine_size_mb=16";
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* libuv writes with write(2); embedders ignore SIGPIPE */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integrity_concurrent),
        cmocka_unit_test(test_soak_rounds),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
