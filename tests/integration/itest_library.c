/* libpodmux against podmux-sim over TLS, on one loop: exit codes, streams, stdin EOF, binary data
 * with sha256 both ways, every protocol, errors, many concurrent sessions, pause/resume, cancel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podmux.h"
#include "simproc.h"

static simproc_t SIM;
static char POD[256];

typedef struct result {
    int exited, closed;
    int err, code;
    char message[512];
    char protocol[40];
    mbedtls_sha256_context out_sha, err_sha;
    uint64_t out_bytes, err_bytes;
    char out_head[256];
    size_t out_head_len;
    /* stdin feeding */
    const uint8_t *in;
    size_t in_len, in_off;
    size_t in_cycle; /* in holds this many bytes, repeated up to in_len (0: in_len) */
    int close_stdin_after;
    int pause_every; /* pause after each stdout chunk, resume from a timer */
    uv_timer_t resume_timer;
    int pauses;
    uint64_t pause_at; /* once out_bytes reaches it: pause for pause_ms, then resume */
    uint64_t pause_ms;
    pmx_session_t *s;
    int cancel_on_open;
} result_t;

static void res_init(result_t *r)
{
    memset(r, 0, sizeof *r);
    mbedtls_sha256_init(&r->out_sha);
    mbedtls_sha256_starts_ret(&r->out_sha, 0);
    mbedtls_sha256_init(&r->err_sha);
    mbedtls_sha256_starts_ret(&r->err_sha, 0);
    r->code = -2;
}

static void feed_stdin(result_t *r)
{
    size_t cycle = r->in_cycle ? r->in_cycle : r->in_len;
    while (r->in_off < r->in_len) {
        size_t at = r->in_off % cycle, n = r->in_len - r->in_off;
        if (n > 65536) n = 65536;
        if (n > cycle - at) n = cycle - at;
        long q = pmx_session_write(r->s, r->in + at, n);
        assert_true(q >= 0);
        r->in_off += n;
        if (q > 1024 * 1024) return; /* wait for on_drain */
    }
    if (r->close_stdin_after && r->close_stdin_after != 2) {
        r->close_stdin_after = 2;
        assert_int_equal(pmx_session_close_stdin(r->s), 0);
    }
}

static void on_open(pmx_session_t *s, const char *proto, void *d)
{
    result_t *r = d;
    snprintf(r->protocol, sizeof r->protocol, "%s", proto);
    if (r->cancel_on_open) pmx_session_close(s);
}

static void resume_cb(uv_timer_t *t)
{
    result_t *r = t->data;
    if (!r->closed && !r->exited) pmx_session_resume(r->s);
}

static void on_stdout(pmx_session_t *s, const char *buf, size_t len, void *d)
{
    result_t *r = d;
    mbedtls_sha256_update_ret(&r->out_sha, (const unsigned char *)buf, len);
    size_t room = sizeof r->out_head - 1 - r->out_head_len;
    size_t n = len < room ? len : room;
    memcpy(r->out_head + r->out_head_len, buf, n);
    r->out_head_len += n;
    r->out_bytes += len;
    if (r->pause_every) {
        r->pauses++;
        pmx_session_pause(s);
        uv_timer_start(&r->resume_timer, resume_cb, 1, 0);
    } else if (r->pause_at && r->out_bytes >= r->pause_at && !r->pauses) {
        r->pauses++;
        pmx_session_pause(s);
        uv_timer_start(&r->resume_timer, resume_cb, r->pause_ms, 0);
    }
}

static void on_stderr(pmx_session_t *s, const char *buf, size_t len, void *d)
{
    result_t *r = d;
    mbedtls_sha256_update_ret(&r->err_sha, (const unsigned char *)buf, len);
    r->err_bytes += len;
}

static void on_exit_cb(pmx_session_t *s, const pmx_exit_t *e, void *d)
{
    result_t *r = d;
    assert_int_equal(r->exited, 0); /* exactly once */
    assert_int_equal(r->closed, 0); /* before on_close */
    r->exited = 1;
    r->err = e->err;
    r->code = e->exit_code;
    snprintf(r->message, sizeof r->message, "%s", e->message ? e->message : "");
}

static void on_drain(pmx_session_t *s, void *d)
{
    feed_stdin(d);
}

static void on_close(pmx_session_t *s, void *d)
{
    result_t *r = d;
    assert_int_equal(r->exited, 1);
    r->closed = 1;
}

static const pmx_session_cb_t CB = {on_open, on_stdout, on_stderr, on_exit_cb, on_drain, on_close};

static uint64_t KEEPALIVE_MS;     /* 0: the default */
static uint64_t PHASE_TIMEOUT_MS; /* 0: twice KEEPALIVE_MS (0: the defaults) */

static pmx_client_t *new_client_of(uv_loop_t *loop, const simproc_t *sim, const char *context)
{
    pmx_client_opts_t o = {0};
    o.keepalive_ms = KEEPALIVE_MS;
    o.upgrade_timeout_ms = PHASE_TIMEOUT_MS ? PHASE_TIMEOUT_MS
                           : KEEPALIVE_MS   ? KEEPALIVE_MS * 2
                                            : 0;
    o.connect_timeout_ms = o.handshake_timeout_ms = o.upgrade_timeout_ms;
    o.kubeconfig = sim->kubeconfig;
    o.context = context;
    pmx_client_t *c = NULL;
    char err[512];
    int rc = pmx_client_new(loop, &o, &c, err, sizeof err);
    if (rc) fprintf(stderr, "client: %s\n", err);
    assert_int_equal(rc, 0);
    return c;
}

static pmx_client_t *new_client(uv_loop_t *loop, const char *context)
{
    return new_client_of(loop, &SIM, context);
}

/* Runs one exec to completion on a fresh loop. */
static void run_exec(const char *context, const char *protocols, const char *const *argv, int argc,
                     result_t *r, int want_stdin)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pmx_client_t *c = new_client(&loop, context);
    uv_timer_init(&loop, &r->resume_timer);
    r->resume_timer.data = r;
    pmx_session_opts_t o = {0};
    o.kind = PMX_EXEC;
    o.pod = POD;
    o.argv = argv;
    o.argc = argc;
    o.stdin_ = want_stdin;
    o.stdout_ = o.stderr_ = 1;
    o.protocols = protocols;
    assert_int_equal(pmx_session_start(c, &o, &CB, r, &r->s), 0);
    if (want_stdin) feed_stdin(r);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&r->resume_timer, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_true(r->closed);
    assert_int_equal(pmx_client_free(c), 0);
    uv_run(&loop, UV_RUN_DEFAULT); /* the client's handles close asynchronously */
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void sha_hex(mbedtls_sha256_context *ctx, char out[65])
{
    unsigned char d[32];
    mbedtls_sha256_finish_ret(ctx, d);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

/* ---- tests ---------------------------------------------------------------------------------- */
static void list_cb(pmx_client_t *c, int err, const pmx_pod_list_t *l, const char *msg, void *d)
{
    assert_int_equal(err, 0);
    assert_true(l->npods >= 3);
    int i = pmx_pick_pod(l);
    assert_true(i >= 0);
    snprintf(POD, sizeof POD, "%s", l->pods[i].name);
    assert_string_equal(pmx_default_container(&l->pods[i]), "main");
    *(size_t *)d = l->npods;
}

static void test_list_pods(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pmx_client_t *c = new_client(&loop, NULL);
    size_t n = 0;
    assert_int_equal(pmx_list_pods(c, NULL, "app=web", NULL, list_cb, &n), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(n, 5);
    n = 0;
    assert_int_equal(pmx_list_workload_pods(c, "default", "deploy/web", list_cb, &n), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(n, 5);
    assert_int_equal(pmx_client_free(c), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_exit_codes(void **state)
{
    static const int codes[] = {0, 1, 3, 127, 255};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char script[64];
        snprintf(script, sizeof script, "echo out; echo err >&2; exit %d", codes[i]);
        const char *argv[] = {"sh", "-c", script};
        result_t r;
        res_init(&r);
        run_exec(NULL, NULL, argv, 3, &r, 0);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.code, codes[i]);
        assert_string_equal(r.protocol, "v5.channel.k8s.io");
        assert_int_equal(r.out_bytes, 4);
        assert_memory_equal(r.out_head, "out\n", 4);
        assert_int_equal(r.err_bytes, 4);
    }
    const char *kill9[] = {"sh", "-c", "kill -9 $$"};
    result_t r;
    res_init(&r);
    run_exec(NULL, NULL, kill9, 3, &r, 0);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.code, 137);
}

static void test_protocols(void **state)
{
    const char *argv[] = {"sh", "-c", "echo hi; exit 3"};
    const char *protos[] = {"v4.channel.k8s.io", "channel.k8s.io", "base64.channel.k8s.io",
                            "v4.base64.channel.k8s.io"};
    for (int i = 0; i < 4; i++) {
        result_t r;
        res_init(&r);
        run_exec(NULL, protos[i], argv, 3, &r, 0);
        assert_string_equal(r.protocol, protos[i]);
        assert_int_equal(r.out_bytes, 3);
        assert_memory_equal(r.out_head, "hi\n", 3);
        if (strstr(protos[i], "v4")) {
            assert_int_equal(r.err, 0);
            assert_int_equal(r.code, 3);
        } else {
            /* v1 family: a text message, never a number guessed from it. */
            assert_int_equal(r.err, PMX_EREMOTE);
            assert_non_null(strstr(r.message, "exit code 3"));
        }
    }
}

static uint8_t *random_bytes(size_t n, uint64_t x)
{
    uint8_t *b = malloc(n);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        b[i] = (uint8_t)(x >> 11);
    }
    return b;
}

/* sha256 of `cycle` bytes repeated up to n. */
static void sha_of_cycled(const uint8_t *in, size_t cycle, size_t n, char out[65])
{
    mbedtls_sha256_context ctx;
    mbedtls_sha256_init(&ctx);
    mbedtls_sha256_starts_ret(&ctx, 0);
    for (size_t off = 0; off < n; off += cycle)
        mbedtls_sha256_update_ret(&ctx, in, n - off < cycle ? n - off : cycle);
    sha_hex(&ctx, out);
}

/* 1 GiB each way through one session (PMX_ITEST_BIG_MIB sets the size), sim and client both
 * under the sanitizers in the test build: the input is 64 MiB of random bytes, cycled. */
static void test_stdin_binary_sha(void **state)
{
    long mib = getenv("PMX_ITEST_BIG_MIB") ? atol(getenv("PMX_ITEST_BIG_MIB")) : 1024;
    size_t n = (size_t)(mib > 0 ? mib : 1024) << 20, cycle = (size_t)64 << 20;
    if (cycle > n) cycle = n;
    uint8_t *in = random_bytes(cycle, 88172645463325252ull);
    char want[65], got[65];
    sha_of_cycled(in, cycle, n, want);
    const char *argv[] = {"cat"};
    result_t r;
    res_init(&r);
    r.in = in;
    r.in_len = n;
    r.in_cycle = cycle;
    r.close_stdin_after = 1;
    PHASE_TIMEOUT_MS = 30000;
    uint64_t t0 = uv_hrtime();
    run_exec(NULL, NULL, argv, 1, &r, 1);
    PHASE_TIMEOUT_MS = 0;
    fprintf(stderr, "    %zu MiB each way through one session in %.1f s\n", n >> 20,
            (double)(uv_hrtime() - t0) / 1e9);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.code, 0);
    assert_int_equal(r.out_bytes, n);
    sha_hex(&r.out_sha, got);
    assert_string_equal(got, want);
    free(in);
}

/* 10 MiB each way through each of 100 concurrent sessions, every one checked by sha256. */
static void test_concurrent_integrity(void **state)
{
    enum { N = 100 };
    size_t n = (size_t)10 << 20;
    uint8_t *in = random_bytes(n, 0x2545F4914F6CDD1Dull);
    char want[65], got[65];
    sha_of_cycled(in, n, n, want);
    uv_loop_t loop;
    uv_loop_init(&loop);
    PHASE_TIMEOUT_MS = 30000;
    pmx_client_t *c = new_client(&loop, NULL);
    PHASE_TIMEOUT_MS = 0;
    result_t *rs = calloc(N, sizeof *rs);
    assert_non_null(rs);
    const char *argv[] = {"cat"};
    uint64_t t0 = uv_hrtime();
    for (int i = 0; i < N; i++) {
        res_init(&rs[i]);
        rs[i].in = in;
        rs[i].in_len = n;
        rs[i].close_stdin_after = 1;
        uv_timer_init(&loop, &rs[i].resume_timer);
        rs[i].resume_timer.data = &rs[i];
        pmx_session_opts_t o = {0};
        o.kind = PMX_EXEC;
        o.pod = POD;
        o.argv = argv;
        o.argc = 1;
        o.stdin_ = 1;
        o.stdout_ = o.stderr_ = 1;
        assert_int_equal(pmx_session_start(c, &o, &CB, &rs[i], &rs[i].s), 0);
        feed_stdin(&rs[i]);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    fprintf(stderr, "    %d sessions x %zu MiB each way in %.1f s\n", N, n >> 20,
            (double)(uv_hrtime() - t0) / 1e9);
    for (int i = 0; i < N; i++) {
        if (rs[i].err) fprintf(stderr, "session %d: %s\n", i, rs[i].message);
        assert_true(rs[i].closed);
        assert_int_equal(rs[i].err, 0);
        assert_int_equal(rs[i].code, 0);
        assert_int_equal(rs[i].out_bytes, n);
        sha_hex(&rs[i].out_sha, got);
        assert_string_equal(got, want);
        uv_close((uv_handle_t *)&rs[i].resume_timer, NULL);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    free(rs);
    free(in);
    assert_int_equal(pmx_client_free(c), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* The same integrity with keepalive ON at 100 ms (pings and pongs interleaved with tens of MiB
 * each way: a dead-peer verdict needs 2.2 s of silence), and the owner holding reading off for
 * 3 s in the middle (longer than that verdict: a paused session must not be declared dead, and
 * nothing may be lost or reordered across the pause). PMX_ITEST_KA_MIB sets the size (32). */
static void test_stdin_binary_sha_keepalive(void **state)
{
    long mib = getenv("PMX_ITEST_KA_MIB") ? atol(getenv("PMX_ITEST_KA_MIB")) : 32;
    size_t n = (size_t)(mib > 0 ? mib : 32) * 1024 * 1024;
    uint8_t *in = malloc(n);
    assert_non_null(in);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        in[i] = (uint8_t)(x >> 11);
    }
    char want[65], got[65], got_err[65];
    mbedtls_sha256_context ctx;
    mbedtls_sha256_init(&ctx);
    mbedtls_sha256_starts_ret(&ctx, 0);
    mbedtls_sha256_update_ret(&ctx, in, n);
    sha_hex(&ctx, want);
    /* stdout gets stdin back; stderr gets it too, so both output channels carry n bytes. */
    const char *argv[] = {"sh", "-c", "tee /dev/stderr"};
    result_t r;
    res_init(&r);
    r.in = in;
    r.in_len = n;
    r.close_stdin_after = 1;
    r.pause_at = n / 4;
    r.pause_ms = 3000;
    KEEPALIVE_MS = 100;
    PHASE_TIMEOUT_MS = 30000; /* a loaded machine: connecting is not what this tests */
    uint64_t t0 = uv_hrtime();
    run_exec(NULL, NULL, argv, 3, &r, 1);
    KEEPALIVE_MS = PHASE_TIMEOUT_MS = 0;
    fprintf(stderr, "    keepalive 100 ms: %zu MiB each way (stdout and stderr) in %.1f s, %s\n",
            n >> 20, (double)(uv_hrtime() - t0) / 1e9, r.err ? r.message : "ok");
    assert_int_equal(r.err, 0);
    assert_int_equal(r.code, 0);
    assert_int_equal(r.pauses, 1);
    assert_int_equal(r.out_bytes, n);
    assert_int_equal(r.err_bytes, n);
    sha_hex(&r.out_sha, got);
    sha_hex(&r.err_sha, got_err);
    assert_string_equal(got, want);
    assert_string_equal(got_err, want);
    free(in);
}

static void test_slow_consumer(void **state)
{
    const char *argv[] = {"head", "-c", "8000000", "/dev/zero"};
    result_t r;
    res_init(&r);
    r.pause_every = 1;
    run_exec(NULL, NULL, argv, 4, &r, 0);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.code, 0);
    assert_int_equal(r.out_bytes, 8000000);
    assert_true(r.pauses > 10);
}

static void test_errors(void **state)
{
    char saved[256];
    snprintf(saved, sizeof saved, "%s", POD);
    snprintf(POD, sizeof POD, "nosuchpod");
    const char *argv[] = {"true"};
    result_t r;
    res_init(&r);
    run_exec(NULL, NULL, argv, 1, &r, 0);
    assert_int_equal(r.err, PMX_ENOTFOUND);
    assert_non_null(strstr(r.message, "pods \"nosuchpod\" not found"));
    snprintf(POD, sizeof POD, "%s", saved);
    const char *missing[] = {"no-such-binary-xyz"};
    res_init(&r);
    run_exec(NULL, NULL, missing, 1, &r, 0);
    assert_int_equal(r.err, PMX_EREMOTE);
    assert_non_null(strstr(r.message, "no-such-binary-xyz"));
}

static void test_client_certificate(void **state)
{
    const char *argv[] = {"echo", "cert"};
    result_t r;
    res_init(&r);
    run_exec("podmux-sim-cert", NULL, argv, 2, &r, 0);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.code, 0);
    assert_memory_equal(r.out_head, "cert\n", 5);
}

/* A user whose token lives in a file (tokenFile), written next to a kubeconfig of our own. */
static void test_token_file(void **state)
{
    char path[400], tokpath[400], cmd[1200];
    snprintf(tokpath, sizeof tokpath, "%s/token", SIM.dir);
    snprintf(path, sizeof path, "%s/kc-tokenfile", SIM.dir);
    snprintf(cmd, sizeof cmd,
             "sed -n 's/^    token: //p' %s | tr -d '\\n' > %s && "
             "sed 's|^    token: .*|    tokenFile: token|' %s > %s",
             SIM.kubeconfig, tokpath, SIM.kubeconfig, path);
    assert_int_equal(system(cmd), 0);
    char saved[300];
    snprintf(saved, sizeof saved, "%s", SIM.kubeconfig);
    snprintf(SIM.kubeconfig, sizeof SIM.kubeconfig, "%s", path);
    const char *argv[] = {"echo", "from-token-file"};
    result_t r;
    res_init(&r);
    run_exec(NULL, NULL, argv, 2, &r, 0);
    snprintf(SIM.kubeconfig, sizeof SIM.kubeconfig, "%s", saved);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.code, 0);
    assert_memory_equal(r.out_head, "from-token-file\n", 16);
}

static void test_cancel(void **state)
{
    const char *argv[] = {"sleep", "100"};
    result_t r;
    res_init(&r);
    r.cancel_on_open = 1;
    run_exec(NULL, NULL, argv, 2, &r, 0);
    assert_int_equal(r.err, PMX_ECANCELED);
}

static void test_many_concurrent(void **state)
{
    int n = getenv("PMX_ITEST_SESSIONS") ? atoi(getenv("PMX_ITEST_SESSIONS")) : 1000;
    uv_loop_t loop;
    uv_loop_init(&loop);
    /* A sanitizer-built sim forks 1,000 processes slowly: this test is about concurrency and
     * exit codes, not about detecting a slow server (itest_faults covers keepalive). */
    KEEPALIVE_MS = 60000;
    pmx_client_t *c = new_client(&loop, NULL);
    KEEPALIVE_MS = 0;
    uint64_t t0 = uv_hrtime();
    result_t *rs = calloc((size_t)n, sizeof *rs);
    char(*scripts)[32] = calloc((size_t)n, 32);
    for (int i = 0; i < n; i++) {
        res_init(&rs[i]);
        snprintf(scripts[i], 32, "exit %d", i % 7);
        const char *argv[] = {"sh", "-c", scripts[i]};
        pmx_session_opts_t o = {0};
        o.pod = POD;
        o.argv = argv;
        o.argc = 3;
        o.stdout_ = 1;
        assert_int_equal(pmx_session_start(c, &o, &CB, &rs[i], &rs[i].s), 0);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    int ok = 0;
    for (int i = 0; i < n; i++) {
        if (rs[i].err) fprintf(stderr, "session %d: %s\n", i, rs[i].message);
        assert_true(rs[i].closed);
        ok += rs[i].err == 0 && rs[i].code == i % 7;
    }
    assert_int_equal(ok, n);
    uint64_t full = 0, resumed = 0;
    pmx_client_tls_stats(c, &full, &resumed);
    fprintf(stderr, "%d sessions in %.1f s: %llu full TLS handshakes, %llu resumed\n", n,
            (double)(uv_hrtime() - t0) / 1e9, (unsigned long long)full,
            (unsigned long long)resumed);
    assert_true(resumed > 0);
    free(rs);
    free(scripts);
    assert_int_equal(pmx_client_free(c), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A list longer than a page (500): three `continue` pages, each copied out of its JSON and the
 * JSON freed before the next is fetched. Every pod must come back once, whole. */
#define MANY_PODS 1203
typedef struct many {
    size_t n, distinct, complete;
} many_t;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void many_cb(pmx_client_t *c, int err, const pmx_pod_list_t *l, const char *msg, void *d)
{
    (void)c;
    many_t *m = d;
    if (err) fprintf(stderr, "list: %s\n", msg);
    assert_int_equal(err, 0);
    m->n = l->npods;
    const char **names = calloc(l->npods, sizeof *names);
    assert_non_null(names);
    for (size_t i = 0; i < l->npods; i++) {
        const pmx_pod_t *p = &l->pods[i];
        names[i] = p->name;
        const char *def = pmx_default_container(p);
        if (strncmp(p->name, "web-", 4) == 0 && !strcmp(p->namespace_, "default") &&
            !strcmp(p->phase, "Running") && p->ready && p->created && *p->created &&
            p->ncontainers >= 1 && def && !strcmp(def, "main"))
            m->complete++;
    }
    qsort(names, l->npods, sizeof *names, cmp_str);
    for (size_t i = 0; i < l->npods; i++)
        if (i == 0 || strcmp(names[i], names[i - 1])) m->distinct++;
    free(names);
}

static void test_list_many_pages(void **state)
{
    (void)state;
    simproc_t big;
    const char *args[] = {"--pods", "1203", "--exec-model", "remote", NULL};
    assert_int_equal(simproc_start(&big, args), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    pmx_client_t *c = new_client_of(&loop, &big, NULL);
    many_t m = {0};
    assert_int_equal(pmx_list_pods(c, "default", "app=web", NULL, many_cb, &m), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(m.n, MANY_PODS);
    assert_int_equal(m.distinct, MANY_PODS);
    assert_int_equal(m.complete, MANY_PODS);
    assert_int_equal(pmx_client_free(c), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    simproc_stop(&big);
}

static int setup(void **state)
{
    const char *args[] = {"--pods", "5", NULL};
    return simproc_start(&SIM, args);
}

static int teardown(void **state)
{
    simproc_stop(&SIM);
    return 0;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as libuv requires of every program that writes to sockets */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_pods),
        cmocka_unit_test(test_list_many_pages),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_protocols),
        cmocka_unit_test(test_stdin_binary_sha),
        cmocka_unit_test(test_stdin_binary_sha_keepalive),
        cmocka_unit_test(test_concurrent_integrity),
        cmocka_unit_test(test_slow_consumer),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_client_certificate),
        cmocka_unit_test(test_token_file),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_many_concurrent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
