/* pmx_bench: drives libpodmux (public header only) for bench/harness.py.
 *
 *   pmx_bench fanout [common] -l SELECTOR [-P CONC] -- CMD...   run CMD in every selected pod
 *   pmx_bench idle   [common] -l SELECTOR -n N [-P CONC] [--hold MS]   N idle `sleep` sessions
 *   pmx_bench stdout [common] --pod POD --bytes N                `head -c N /dev/zero` to us
 *   pmx_bench stdin  [common] --pod POD --bytes N                N bytes into `cat >/dev/null`
 *   pmx_bench keys   [common] --pod POD -n N                     N keystrokes to `cat` on a tty
 *   common: [--kubeconfig PATH]
 *
 * Every mode prints one JSON object on stdout (the harness parses it); progress goes to stderr.
 * Everything runs on one libuv loop in one thread, as an embedder would use the library. */
#include <podmux.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#define MAX_ARGV 32
#define MAX_LAT 100000
#define CHUNK (64 * 1024)

typedef struct bench bench_t;

/* One session slot: the bench keeps them in one array, indexed from the session's data. */
typedef struct slot {
    bench_t *b;
    pmx_session_t *s;
    int opened, exited, closed;
} slot_t;

struct bench {
    uv_loop_t loop;
    pmx_client_t *client;
    const char *mode, *kubeconfig, *selector, *pod;
    const char *argv[MAX_ARGV];
    int argc;
    long n, conc, hold_ms;
    int drain_poll; /* stdin: also re-check the queue every ms (see stdin_poll) */
    uint64_t bytes;
    /* pods from the list (owned copies) */
    char **pods;
    size_t npods;
    /* sessions */
    slot_t *slots;
    long started, opened, exited, closed, failed, nonzero;
    int first_err;
    uint64_t t0, t_done, bytes_seen, bytes_sent;
    long rss_base_kb;
    uv_timer_t timer;
    /* keys */
    uint64_t *lat;
    long nlat;
    char want;
    uint64_t key_t0;
    int stdin_done;
    int settled;
};

/* ---- helpers -------------------------------------------------------------------------------- */

static double now_s(void)
{
    return (double)uv_hrtime() / 1e9;
}

/* VmRSS / VmHWM (KiB) and Threads from /proc/self/status. */
static void proc_status(long *rss_kb, long *hwm_kb, long *threads)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    *rss_kb = *hwm_kb = *threads = -1;
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "VmRSS:", 6)) *rss_kb = strtol(line + 6, NULL, 10);
        if (!strncmp(line, "VmHWM:", 6)) *hwm_kb = strtol(line + 6, NULL, 10);
        if (!strncmp(line, "Threads:", 8)) *threads = strtol(line + 8, NULL, 10);
    }
    fclose(f);
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void die(const char *what, int err)
{
    fprintf(stderr, "pmx_bench: %s: %s\n", what, err < 0 ? pmx_strerror(err) : "failed");
    exit(2);
}

static void record_err(bench_t *b, int err)
{
    if (!b->first_err) b->first_err = err;
}

/* ---- session plumbing ----------------------------------------------------------------------- */

static void keys_next(bench_t *b, pmx_session_t *s);
static void start_more(bench_t *b);

static void on_open(pmx_session_t *s, const char *proto, void *d)
{
    slot_t *sl = d;
    bench_t *b = sl->b;
    sl->opened = 1;
    b->opened++;
    if (!strcmp(b->mode, "keys")) keys_next(b, s);
    if (!strcmp(b->mode, "idle")) start_more(b); /* one fewer still opening */
}

static void on_stdout(pmx_session_t *s, const char *buf, size_t len, void *d)
{
    slot_t *sl = d;
    bench_t *b = sl->b;
    b->bytes_seen += len;
    if (getenv("PMX_BENCH_DEBUG"))
        fprintf(stderr, "stdout %zu: %.*s\n", len, (int)(len < 64 ? len : 64), buf);
    if (strcmp(b->mode, "keys") || !b->want || !memchr(buf, b->want, len)) return;
    if (b->nlat < MAX_LAT) b->lat[b->nlat++] = uv_hrtime() - b->key_t0;
    b->want = 0;
    keys_next(b, s);
}

static void on_stderr(pmx_session_t *s, const char *buf, size_t len, void *d)
{
    if (getenv("PMX_BENCH_DEBUG")) fprintf(stderr, "stderr: %.*s\n", (int)len, buf);
}

static void start_more(bench_t *b);

static void on_exit_cb(pmx_session_t *s, const pmx_exit_t *e, void *d)
{
    slot_t *sl = d;
    bench_t *b = sl->b;
    sl->exited = 1;
    b->exited++;
    if (e->err < 0) {
        b->failed++;
        record_err(b, e->err);
        if (b->failed <= 3)
            fprintf(stderr, "pmx_bench: session failed: %s %s\n", pmx_err_name(e->err),
                    e->message ? e->message : "");
    } else if (e->exit_code != 0) {
        b->nonzero++;
    }
    b->t_done = uv_hrtime();
}

static void on_drain(pmx_session_t *s, void *d);

static void on_close(pmx_session_t *s, void *d)
{
    slot_t *sl = d;
    bench_t *b = sl->b;
    sl->closed = 1;
    sl->s = NULL;
    b->closed++;
    start_more(b);
}

static const pmx_session_cb_t CB = {on_open, on_stdout, on_stderr, on_exit_cb, on_drain, on_close};

static int start_one(bench_t *b, long i, const char *pod, const char *const *argv, int argc, int in,
                     int tty)
{
    pmx_session_opts_t o = {0};
    o.kind = PMX_EXEC;
    o.pod = pod;
    o.argv = argv;
    o.argc = argc;
    o.stdin_ = in;
    o.stdout_ = 1;
    o.stderr_ = !tty;
    o.tty = tty;
    b->slots[i].b = b;
    int rc = pmx_session_start(b->client, &o, &CB, &b->slots[i], &b->slots[i].s);
    b->started++;
    if (rc < 0) { /* counted as started, exited and closed so the queue moves on */
        record_err(b, rc);
        b->failed++;
        b->closed++;
        b->exited++;
    }
    return rc;
}

/* ---- fan-out and idle: a pending queue bounded by conc -------------------------------------- */

static const char *const SLEEP_ARGV[] = {"sleep", "3600"};

/* Starts sessions while fewer than conc are in flight. For fan-out "in flight" means not yet
 * closed; for idle it means not yet open (the open ones are the point of the test). */
static void start_more(bench_t *b)
{
    if (!b->pods) return; /* single-session modes */
    int idle = !strcmp(b->mode, "idle");
    while (b->started < b->n) {
        long inflight = idle ? b->started - b->opened - b->exited : b->started - b->closed;
        if (inflight >= b->conc) break;
        long i = b->started;
        const char *pod = b->pods[i % (long)b->npods];
        if (idle)
            start_one(b, i, pod, SLEEP_ARGV, 2, 0, 0);
        else
            start_one(b, i, pod, b->argv, b->argc, 0, 0);
    }
}

static void idle_check(uv_timer_t *t);

static void on_pods(pmx_client_t *c, int err, const pmx_pod_list_t *l, const char *msg, void *d)
{
    bench_t *b = d;
    if (err < 0) {
        fprintf(stderr, "pmx_bench: list pods: %s %s\n", pmx_strerror(err), msg ? msg : "");
        exit(2);
    }
    if (l->npods == 0) die("no pods matched the selector", 0);
    b->pods = calloc(l->npods, sizeof *b->pods);
    if (!b->pods) die("out of memory", PMX_ENOMEM);
    for (size_t i = 0; i < l->npods; i++)
        if (!(b->pods[i] = strdup(l->pods[i].name))) die("out of memory", PMX_ENOMEM);
    b->npods = l->npods;
    if (!strcmp(b->mode, "fanout")) b->n = (long)l->npods;
    b->slots = calloc((size_t)b->n, sizeof *b->slots);
    if (!b->slots) die("out of memory", PMX_ENOMEM);
    long hwm, thr;
    proc_status(&b->rss_base_kb, &hwm, &thr);
    b->t0 = uv_hrtime();
    start_more(b);
    if (!strcmp(b->mode, "idle")) uv_timer_start(&b->timer, idle_check, 100, 100);
}

static void close_all(bench_t *b)
{
    for (long i = 0; i < b->started; i++)
        if (b->slots[i].s && !b->slots[i].closed) pmx_session_close(b->slots[i].s);
}

static void print_fanout(bench_t *b)
{
    uint64_t full = 0, resumed = 0;
    pmx_client_tls_stats(b->client, &full, &resumed);
    printf("{\"mode\":\"fanout\",\"pods\":%ld,\"ok\":%ld,\"nonzero\":%ld,\"failed\":%ld,"
           "\"wall_s\":%.6f,\"cpu_s\":%.6f,\"tls_full\":%llu,\"tls_resumed\":%llu,"
           "\"error\":\"%s\"}\n",
           b->n, b->exited - b->failed - b->nonzero, b->nonzero, b->failed,
           (double)(b->t_done - b->t0) / 1e9, cpu_s(), (unsigned long long)full,
           (unsigned long long)resumed, b->first_err ? pmx_err_name(b->first_err) : "");
}

/* Idle: once every session is open (or failed), let the loop settle, sample RSS, hold, close. */
static void idle_hold_done(uv_timer_t *t)
{
    bench_t *b = t->data;
    uv_timer_stop(t);
    close_all(b);
}

static void idle_check(uv_timer_t *t)
{
    bench_t *b = t->data;
    if (b->opened + b->failed < b->n) return;
    if (!b->settled++) return; /* one more 100 ms tick so the last writes complete */
    uv_timer_stop(t);
    long rss, hwm, thr;
    proc_status(&rss, &hwm, &thr);
    double per = b->opened ? (double)(rss - b->rss_base_kb) * 1024.0 / (double)b->opened : 0;
    printf("{\"mode\":\"idle\",\"n\":%ld,\"open\":%ld,\"failed\":%ld,\"open_wall_s\":%.6f,"
           "\"rss_base_kib\":%ld,\"rss_kib\":%ld,\"hwm_kib\":%ld,\"threads\":%ld,"
           "\"bytes_per_session\":%.1f,\"cpu_s\":%.6f,\"error\":\"%s\"}\n",
           b->n, b->opened, b->failed, now_s() - (double)b->t0 / 1e9, b->rss_base_kb, rss, hwm, thr,
           per, cpu_s(), b->first_err ? pmx_err_name(b->first_err) : "");
    fflush(stdout);
    uv_timer_start(t, idle_hold_done, (uint64_t)b->hold_ms, 0);
}

/* ---- throughput ----------------------------------------------------------------------------- */

static const char ZEROS[CHUNK];

/* Writes stdin until the queue passes high-water (on_drain calls again), then the v5 close. */
static void stdin_pump(bench_t *b, pmx_session_t *s)
{
    while (b->bytes_sent < b->bytes) {
        uint64_t left = b->bytes - b->bytes_sent;
        size_t n = left < CHUNK ? (size_t)left : CHUNK;
        long q = pmx_session_write(s, ZEROS, n);
        if (q < 0) {
            record_err(b, (int)q);
            pmx_session_close(s);
            return;
        }
        b->bytes_sent += n;
        /* past the default high-water mark (1 MiB): on_drain follows, unless this was the last */
        if ((size_t)q > 1024 * 1024 && b->bytes_sent < b->bytes) return;
    }
    if (!b->stdin_done++) {
        int rc = pmx_session_close_stdin(s);
        if (rc < 0) die("close stdin", rc);
    }
}

/* Work-around mode (--drain-poll 1): libpodmux only re-checks its low-water mark on a socket
 * drain event, which does not come when the last flush stayed under the socket's own high-water
 * mark; on_drain then waits for the next keepalive (5 s). Polling the documented queue size
 * shows what the path does without that stall. */
static void stdin_poll(uv_timer_t *t)
{
    bench_t *b = t->data;
    pmx_session_t *s = b->slots[0].s;
    if (!s || b->stdin_done) {
        uv_timer_stop(t);
        return;
    }
    if (pmx_session_queued(s) <= 256 * 1024) stdin_pump(b, s);
}

static void on_drain(pmx_session_t *s, void *d)
{
    slot_t *sl = d;
    if (getenv("PMX_BENCH_DEBUG"))
        fprintf(stderr, "%.3f drain sent=%llu queued=%zu\n", now_s(),
                (unsigned long long)sl->b->bytes_sent, pmx_session_queued(s));
    if (!strcmp(sl->b->mode, "stdin")) stdin_pump(sl->b, s);
}

static void stdin_open(pmx_session_t *s, const char *proto, void *d)
{
    bench_t *b = ((slot_t *)d)->b;
    on_open(s, proto, d);
    if (b->drain_poll) uv_timer_start(&b->timer, stdin_poll, 1, 1);
    stdin_pump(b, s);
}

static void start_single(bench_t *b)
{
    static char head_n[32];
    static const pmx_session_cb_t STDIN_CB = {stdin_open, on_stdout, on_stderr,
                                              on_exit_cb, on_drain,  on_close};
    b->slots = calloc(1, sizeof *b->slots); /* b->n stays the key count for keys */
    if (!b->slots) die("out of memory", PMX_ENOMEM);
    b->slots[0].b = b;
    b->t0 = uv_hrtime();
    if (!strcmp(b->mode, "stdout")) {
        snprintf(head_n, sizeof head_n, "%llu", (unsigned long long)b->bytes);
        const char *const argv[] = {"head", "-c", head_n, "/dev/zero"};
        if (start_one(b, 0, b->pod, argv, 4, 0, 0) < 0) die("session start", b->first_err);
    } else if (!strcmp(b->mode, "stdin")) {
        const char *const argv[] = {"sh", "-c", "cat >/dev/null"};
        pmx_session_opts_t o = {.kind = PMX_EXEC, .pod = b->pod, .argv = argv, .argc = 3};
        o.stdin_ = o.stdout_ = o.stderr_ = 1;
        int rc = pmx_session_start(b->client, &o, &STDIN_CB, &b->slots[0], &b->slots[0].s);
        if (rc < 0) die("session start", rc);
        b->started = 1;
    } else {
        const char *const argv[] = {"cat"};
        if (start_one(b, 0, b->pod, argv, 1, 1, 1) < 0) die("session start", b->first_err);
    }
}

static void print_single(bench_t *b)
{
    double wall = (double)(b->t_done - b->t0) / 1e9;
    uint64_t moved = !strcmp(b->mode, "stdin") ? b->bytes_sent : b->bytes_seen;
    long rss, hwm, thr;
    proc_status(&rss, &hwm, &thr);
    printf("{\"mode\":\"%s\",\"bytes\":%llu,\"wall_s\":%.6f,\"mb_s\":%.3f,\"cpu_s\":%.6f,"
           "\"hwm_kib\":%ld,\"failed\":%ld,\"nonzero\":%ld,\"error\":\"%s\"}\n",
           b->mode, (unsigned long long)moved, wall, wall > 0 ? (double)moved / 1e6 / wall : 0,
           cpu_s(), hwm, b->failed, b->nonzero, b->first_err ? pmx_err_name(b->first_err) : "");
}

/* ---- keystrokes ----------------------------------------------------------------------------- */

static void keys_next(bench_t *b, pmx_session_t *s)
{
    if (b->nlat >= b->n) {
        if (!b->stdin_done++) pmx_session_write(s, "\n\x04", 2); /* flush the line, then EOF */
        return;
    }
    b->want = (char)('a' + b->nlat % 26);
    b->key_t0 = uv_hrtime();
    long q = pmx_session_write(s, &b->want, 1);
    if (q < 0) {
        record_err(b, (int)q);
        pmx_session_close(s);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void print_keys(bench_t *b)
{
    qsort(b->lat, (size_t)b->nlat, sizeof *b->lat, cmp_u64);
    double sum = 0;
    for (long i = 0; i < b->nlat; i++)
        sum += (double)b->lat[i];
    long n = b->nlat;
    double p50 = n ? (double)b->lat[n / 2] / 1e3 : 0;
    double p99 = n ? (double)b->lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1e3 : 0;
    printf("{\"mode\":\"keys\",\"keys\":%ld,\"p50_us\":%.1f,\"p99_us\":%.1f,\"mean_us\":%.1f,"
           "\"max_us\":%.1f,\"cpu_s\":%.6f,\"error\":\"%s\"}\n",
           n, p50, p99, n ? sum / (double)n / 1e3 : 0, n ? (double)b->lat[n - 1] / 1e3 : 0, cpu_s(),
           b->first_err ? pmx_err_name(b->first_err) : "");
}

/* ---- main ----------------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: pmx_bench fanout|idle|stdout|stdin|keys [--kubeconfig PATH] "
                    "[-l SEL] [-n N] [-P CONC] [--pod POD] [--bytes N] [--hold MS] [-- CMD...]\n");
    exit(2);
}

static void parse_args(bench_t *b, int argc, char **argv)
{
    if (argc < 2) usage();
    b->mode = argv[1];
    b->conc = 64;
    b->hold_ms = 1000;
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i];
        if (!strcmp(k, "--")) {
            for (i++; i < argc && b->argc < MAX_ARGV; i++)
                b->argv[b->argc++] = argv[i];
            break;
        }
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (!strcmp(k, "--kubeconfig"))
            b->kubeconfig = v;
        else if (!strcmp(k, "-l"))
            b->selector = v;
        else if (!strcmp(k, "-n"))
            b->n = strtol(v, NULL, 10);
        else if (!strcmp(k, "-P"))
            b->conc = strtol(v, NULL, 10);
        else if (!strcmp(k, "--pod"))
            b->pod = v;
        else if (!strcmp(k, "--bytes"))
            b->bytes = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--drain-poll"))
            b->drain_poll = atoi(v);
        else if (!strcmp(k, "--hold"))
            b->hold_ms = strtol(v, NULL, 10);
        else
            usage();
    }
    if (b->conc < 1) b->conc = 1;
}

int main(int argc, char **argv)
{
    static bench_t bench;
    bench_t *b = &bench;
    parse_args(b, argc, argv);
    signal(SIGPIPE, SIG_IGN); /* libuv writes to sockets with write(2): EPIPE, not a signal */
    int multi = !strcmp(b->mode, "fanout") || !strcmp(b->mode, "idle");
    if (multi && (!b->selector || (!strcmp(b->mode, "fanout") && b->argc == 0))) usage();
    if (!multi && !b->pod) usage();
    if (!strcmp(b->mode, "keys") && (b->n <= 0 || b->n > MAX_LAT)) usage();
    if (uv_loop_init(&b->loop) < 0) die("uv_loop_init", 0);
    uv_timer_init(&b->loop, &b->timer);
    b->timer.data = b;
    pmx_client_opts_t o = {.kubeconfig = b->kubeconfig};
    char err[512] = "";
    int rc = pmx_client_new(&b->loop, &o, &b->client, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "pmx_bench: %s\n", err);
        return 2;
    }
    if (!strcmp(b->mode, "keys") && !(b->lat = calloc((size_t)b->n, sizeof *b->lat)))
        die("out of memory", PMX_ENOMEM);
    if (multi) {
        rc = pmx_list_pods(b->client, pmx_client_namespace(b->client), b->selector, NULL, on_pods,
                           b);
        if (rc < 0) die("list pods", rc);
    } else {
        start_single(b);
    }
    uv_run(&b->loop, UV_RUN_DEFAULT);
    if (!strcmp(b->mode, "fanout"))
        print_fanout(b);
    else if (!strcmp(b->mode, "keys"))
        print_keys(b);
    else if (!multi)
        print_single(b);
    rc = pmx_client_free(b->client);
    if (rc < 0) fprintf(stderr, "pmx_bench: client free: %s\n", pmx_strerror(rc));
    uv_close((uv_handle_t *)&b->timer, NULL);
    uv_run(&b->loop, UV_RUN_DEFAULT);
    uv_loop_close(&b->loop);
    for (size_t i = 0; i < b->npods; i++)
        free(b->pods[i]);
    free(b->pods);
    free(b->slots);
    free(b->lat);
    return (b->failed || b->first_err) ? 1 : 0;
}
