/* multi: one command over many pods through pmx_fanout_t.
 *
 * Targets come from named pods, workloads (one pod, or all with --all-pods) and selectors; pods
 * that are not Running are skipped with their phase. Output: `POD ` prefixed lines (held until
 * whole, so two pods never mix inside a line), group (each pod's output at its end), json (one
 * object per line of output and one per finished pod) or raw. A summary goes to stderr, and a
 * progress line while stderr is a terminal. */
#include <signal.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spill.h"
#include "targets.h"

/* -o group: each stream of a pod keeps this much in memory, the rest in a temporary file (up to
 * --group-max for the pod, both streams together). */
#define GROUP_MEM (1024u * 1024)
#define LINE_LIMIT (64u * 1024)
#define MAX_TARGETS 100000

typedef struct entry {
    char *ns, *pod, *container, *skip; /* skip: why it does not run, or NULL */
} entry_t;

typedef struct multi multi_t;
typedef struct slot {
    multi_t *m;
    size_t index;
    char *prefix;
    cli_prefixer_t po, pe;
    cli_spill_t go, ge;      /* -o group: the pod's stdout and stderr until it ends */
    int flush_fd, flush_err; /* -o group, while this slot is written out */
    size_t flushed;
    char tail;
    const pmx_fanout_result_t *r; /* -o group: the pod's result (the fan-out's) once it ended */
    int step;                     /* -o group: where its section is (G_*) */
    uint64_t err_bytes;           /* -o group: stderr bytes kept */
    uint64_t kept, cut_bytes;     /* -o group: bytes kept, and dropped past --group-max */
} slot_t;

struct multi {
    app_t *a;
    entry_t *e;
    size_t n, cap;
    int resolve_failed;
    pmx_fanout_t *f;
    slot_t *slots;
    int mode, color, several_ns;
    size_t *fq, fq_head, fq_tail; /* -o group: ended slots waiting to be written out, in order */
    slot_t *flushing;
    int in_flush_next, flush_again;
    int group_wait, group_stepping, group_again; /* see group_step */
    int same_out_err;                            /* stdout and stderr are one file */
    cli_in_t in;
    int have_in;
    app_signals_t sigs;
    int signaled, pressure;
    uv_timer_t progress;
    int progress_on, progress_shown;
    int finished, out_error;
};

/* ---- collecting targets ---------------------------------------------------------------------- */
static int add_entry(multi_t *m, const char *ns, const char *pod, const char *container,
                     const char *skip)
{
    for (size_t i = 0; i < m->n; i++) /* the same pod named twice runs once */
        if (!strcmp(m->e[i].ns, ns) && !strcmp(m->e[i].pod, pod) &&
            !strcmp(m->e[i].container ? m->e[i].container : "", container ? container : ""))
            return 0;
    if (m->n == MAX_TARGETS) return -1;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        entry_t *ne = realloc(m->e, cap * sizeof *ne);
        if (!ne) return -1;
        m->e = ne, m->cap = cap;
    }
    entry_t *e = &m->e[m->n];
    e->ns = strdup(ns);
    e->pod = strdup(pod);
    e->container = container ? strdup(container) : NULL;
    e->skip = skip ? strdup(skip) : NULL;
    if (!e->ns || !e->pod || (container && !e->container) || (skip && !e->skip)) {
        free(e->ns), free(e->pod), free(e->container), free(e->skip);
        return -1;
    }
    m->n++;
    return 0;
}

/* A pod a lookup found: not Running is skipped with its phase; --all-containers runs each. */
static void add_pod(void *ctx, const pmx_pod_t *p)
{
    multi_t *m = ctx;
    cli_opts_t *o = m->a->o;
    char why[128] = "";
    if (strcmp(p->phase, "Running"))
        snprintf(why, sizeof why, "phase %s", p->phase);
    else if (p->deleting)
        snprintf(why, sizeof why, "terminating");
    const char *skip = why[0] ? why : NULL;
    if (o->all_containers) {
        int any = 0;
        for (size_t i = 0; i < p->ncontainers; i++)
            if (p->containers[i].kind == 0)
                any = 1, add_entry(m, p->namespace_, p->name, p->containers[i].name, skip);
        if (any) return;
    }
    const char *c = o->container ? o->container : pmx_default_container(p);
    add_entry(m, p->namespace_, p->name, c, skip);
}

/* A named pod that could not be read: its session reports the server's error. */
static void on_unread(void *ctx, const char *ns, const char *pod)
{
    multi_t *m = ctx;
    add_entry(m, ns, pod, m->a->o->container, NULL);
}

/* ---- output ---------------------------------------------------------------------------------- */
static void on_pressure(void *ctx, int above);
static void spill_pressure(void *ctx, int above);

static void clear_progress(multi_t *m)
{
    if (!m->progress_shown) return;
    m->progress_shown = 0;
    cli_out_write(&m->a->err, "\r\033[K", 4);
}

static int mwrite(void *ctx, int fd, const char *buf, size_t len)
{
    multi_t *m = ctx;
    clear_progress(m);
    return cli_out_write(fd == 2 ? &m->a->err : &m->a->out, buf, len);
}

/* 67108864 -> "64 MiB", 1000 -> "1000 B". */
static void fmt_size(uint64_t v, char *out, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (u < 4 && v >= 1024 && v % 1024 == 0)
        v /= 1024, u++;
    snprintf(out, len, "%llu %s", (unsigned long long)v, units[u]);
}

static const entry_t *entry_of(multi_t *m, size_t index)
{
    return &m->e[index];
}

static void json_line(void *ctx, int fd, const char *line, size_t len)
{
    slot_t *s = ctx;
    const entry_t *e = entry_of(s->m, s->index);
    char *j = cli_json_chunk(e->ns, e->pod, e->container, fd, line, len);
    if (j) mwrite(s->m, 1, j, strlen(j));
    free(j);
}

static void make_slot(multi_t *m, size_t index)
{
    slot_t *s = &m->slots[index];
    const entry_t *e = entry_of(m, index);
    int with_c = m->a->o->all_containers && e->container;
    char label[800], pre[900];
    snprintf(label, sizeof label, "%s%s%s%s%s", m->several_ns ? e->ns : "",
             m->several_ns ? "/" : "", e->pod, with_c ? "/" : "", with_c ? e->container : "");
    cli_prefix_text(label, index, m->color, pre, sizeof pre);
    s->m = m;
    s->index = index;
    s->prefix = strdup(pre);
    const char *p = s->prefix ? s->prefix : "";
    void *ctx = m->mode == OUT_JSON ? (void *)s : (void *)m;
    cli_prefixer_init(&s->po, p, 1, LINE_LIMIT, mwrite, ctx);
    cli_prefixer_init(&s->pe, p, 2, LINE_LIMIT, mwrite, ctx);
    if (m->mode == OUT_JSON) s->po.on_line = s->pe.on_line = json_line;
    cli_spill_init(&s->go, m->a->loop, GROUP_MEM, spill_pressure, s);
    cli_spill_init(&s->ge, m->a->loop, GROUP_MEM, spill_pressure, s);
}

static void on_output(pmx_fanout_t *f, size_t index, int fd, const char *buf, size_t len,
                      void *data)
{
    multi_t *m = data;
    slot_t *s = &m->slots[index];
    switch (m->mode) {
    case OUT_RAW:
        mwrite(m, fd, buf, len);
        break;
    case OUT_GROUP: {
        uint64_t max = m->a->o->group_max; /* 0: no cap */
        size_t keep = len;
        if (max && s->kept + len > max) keep = s->kept >= max ? 0 : (size_t)(max - s->kept);
        s->cut_bytes += len - keep;
        s->kept += keep;
        if (!keep) break;
        if (fd == 2) s->err_bytes += keep;
        cli_spill_append(fd == 2 ? &s->ge : &s->go, buf, keep);
        break;
    }
    default:
        cli_prefixer_feed(fd == 2 ? &s->pe : &s->po, buf, len);
        break;
    }
}

/* ---- -o group: one ended pod at a time: header, stdout, stderr ---------------------------------
 * stdout and stderr are two streams with their own queues, so bytes given to one can reach the
 * screen (or a shared pipe) before bytes given earlier to the other. A section therefore writes
 * one stream at a time: before it writes to one, the other has written everything (on_empty).
 * When stdout and stderr are not the same file, the header is also put in front of the pod's
 * stderr, so that each file reads as sections. */
enum { G_HEADER, G_STDOUT, G_ERR_HEADER, G_STDERR, G_END, G_IDLE };
static void flush_next(multi_t *m);
static void group_step(multi_t *m);

/* 1 when fd may be written now: the other stream has nothing queued (or can never drain). */
static int group_ready(multi_t *m, int fd)
{
    cli_out_t *other = fd == 1 ? &m->a->err : &m->a->out;
    if (other->error || other->closed || !cli_out_queued(other)) return 1;
    m->group_wait = 1; /* on_out_empty calls group_step */
    return 0;
}

static void on_out_empty(void *ctx)
{
    multi_t *m = ctx;
    if (!m->group_wait) return;
    m->group_wait = 0;
    group_step(m);
}

static int group_emit(void *ctx, const char *buf, size_t len)
{
    slot_t *s = ctx;
    multi_t *m = s->m;
    if (m->out_error) return 1; /* nobody reads: stop here */
    mwrite(m, s->flush_fd, buf, len);
    s->flushed += len;
    s->tail = buf[len - 1];
    return m->pressure > 0;
}

/* Output cut short (or without a final newline) must not run into the next header. */
static void group_end_stream(slot_t *s, int err)
{
    if (s->flushed && s->tail != '\n') mwrite(s->m, s->flush_fd, "\n", 1);
    if (err && !s->flush_err) s->flush_err = err;
}

static void group_stream_done(void *ctx, int err)
{
    slot_t *s = ctx;
    group_end_stream(s, err);
    s->step = s->step == G_STDOUT ? G_ERR_HEADER : G_END;
    group_step(s->m);
}

static void group_header(multi_t *m, slot_t *s, int fd)
{
    char text[512], head[1400];
    int n = snprintf(head, sizeof head, "=== %s(%s, %.2fs) ===\n", s->prefix,
                     cli_exit_text(&s->r->exit, text, sizeof text), s->r->seconds);
    if (n > 0) mwrite(m, fd, head, (size_t)n < sizeof head ? (size_t)n : sizeof head - 1);
}

/* The section of m->flushing, as far as the streams allow; re-entered from the spill's callbacks
 * and on_out_empty (iteratively, through group_stepping). */
static void group_step(multi_t *m)
{
    if (m->group_stepping) {
        m->group_again = 1;
        return;
    }
    m->group_stepping = 1;
    do {
        m->group_again = 0;
        slot_t *s = m->flushing;
        if (!s || m->group_wait) break;
        switch (s->step) {
        case G_HEADER:
            if (m->progress_shown) clear_progress(m); /* it is on stderr: wait for it */
            if (!group_ready(m, 1)) break;
            group_header(m, s, 1);
            s->step = G_STDOUT;
            s->flush_fd = 1;
            s->flushed = 0;
            cli_spill_replay(&s->go, group_emit, group_stream_done);
            break;
        case G_ERR_HEADER:
            if (!s->err_bytes) {
                s->step = G_END;
                m->group_again = 1;
                break;
            }
            if (!group_ready(m, 2)) break;
            if (!m->same_out_err) group_header(m, s, 2);
            s->step = G_STDERR;
            s->flush_fd = 2;
            s->flushed = 0;
            cli_spill_replay(&s->ge, group_emit, group_stream_done);
            break;
        case G_END: {
            uint64_t lost = s->go.lost + s->ge.lost;
            if (s->flush_err || lost) {
                if (!group_ready(m, 2)) break;
                char line[1400];
                const char *dir = getenv("TMPDIR");
                int n =
                    snprintf(line, sizeof line,
                             "podmux: %s: %llu bytes of output lost: temporary file in %s: %s\n",
                             s->r->pod, (unsigned long long)lost, dir && *dir ? dir : "/tmp",
                             uv_strerror(s->flush_err ? s->flush_err : UV_EIO));
                if (n > 0)
                    mwrite(m, 2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
            }
            if (s->cut_bytes) {
                if (!group_ready(m, 2)) break;
                char line[1400], cap[32];
                fmt_size(m->a->o->group_max, cap, sizeof cap);
                int n = snprintf(line, sizeof line,
                                 "podmux: %s: output cut at %s (--group-max): %llu bytes dropped\n",
                                 s->r->pod, cap, (unsigned long long)s->cut_bytes);
                if (n > 0)
                    mwrite(m, 2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
            }
            s->step = G_IDLE;
            cli_spill_free(&s->go);
            cli_spill_free(&s->ge);
            m->flushing = NULL;
            flush_next(m);
            break;
        }
        default: /* a replay is under way: its done callback steps on */
            break;
        }
    } while (m->group_again);
    m->group_stepping = 0;
}

static void group_start(multi_t *m, slot_t *s)
{
    m->flushing = s;
    s->step = G_HEADER;
    group_step(m);
}

/* Iterative, so a long run of pods whose output is all in memory does not nest a call per pod. */
static void flush_next(multi_t *m)
{
    if (m->in_flush_next) {
        m->flush_again = 1;
        return;
    }
    m->in_flush_next = 1;
    do {
        m->flush_again = 0;
        if (!m->flushing && m->fq_head < m->fq_tail) group_start(m, &m->slots[m->fq[m->fq_head++]]);
    } while (m->flush_again);
    m->in_flush_next = 0;
}

static void group_queue(multi_t *m, slot_t *s, const pmx_fanout_result_t *r)
{
    s->r = r;
    m->fq[m->fq_tail++] = s->index;
    flush_next(m);
}

/* A spill waits for the disk (or drained): the same pause as a slow reader of our output. */
static void spill_pressure(void *ctx, int above)
{
    slot_t *s = ctx;
    on_pressure(s->m, above);
}

static void on_done(pmx_fanout_t *f, const pmx_fanout_result_t *r, void *data)
{
    multi_t *m = data;
    slot_t *s = &m->slots[r->index];
    cli_prefixer_flush(&s->po);
    cli_prefixer_flush(&s->pe);
    if (m->mode == OUT_GROUP && r->exit.err != PMX_ESKIPPED) group_queue(m, s, r);
    if (m->mode == OUT_JSON) {
        char *j = cli_json_result(r);
        if (j) mwrite(m, 1, j, strlen(j));
        free(j);
    }
}

/* ---- progress, signals, stdin ------------------------------------------------------------------
 */
static void on_progress(uv_timer_t *h)
{
    multi_t *m = h->data;
    pmx_fanout_stats_t st;
    pmx_fanout_stats(m->f, &st);
    char line[200];
    int n = snprintf(line, sizeof line, "\r\033[K%zu/%zu done, %zu running, %zu failed", st.done,
                     st.total, st.running, st.failed + st.nonzero);
    /* Only between writes: a progress line given to stderr while stdout has bytes queued could
     * land among them (on a terminal both are the screen), and none inside a -o group section. */
    if (n > 0 && !cli_out_queued(&m->a->err) && !cli_out_queued(&m->a->out) && !m->flushing) {
        cli_out_write(&m->a->err, line, (size_t)n);
        m->progress_shown = 1;
    }
}

static void stop_handles(multi_t *m)
{
    app_watch_end(m->a, &m->sigs, m->have_in ? &m->in : NULL);
    if (m->progress_on) uv_close((uv_handle_t *)&m->progress, NULL);
    m->progress_on = 0;
    clear_progress(m);
}

static void on_signal(uv_signal_t *h, int sig)
{
    multi_t *m = h->data;
    if (m->signaled) app_exit_now(sig);
    m->signaled = sig;
    pmx_fanout_cancel(m->f);
}

static void on_stdin(void *ctx, const char *buf, size_t len)
{
    multi_t *m = ctx;
    if (m->finished) return;
    if (!buf) {
        pmx_fanout_close_stdin(m->f);
        return;
    }
    if (pmx_fanout_write(m->f, buf, len) == 1) cli_in_stop(&m->in);
}

static void on_stdin_drain(pmx_fanout_t *f, void *data)
{
    multi_t *m = data;
    if (m->have_in && !m->finished) cli_in_start(&m->in);
}

static void on_pressure(void *ctx, int above)
{
    multi_t *m = ctx;
    m->pressure += above ? 1 : -1;
    if (above && m->pressure == 1) pmx_fanout_pause(m->f);
    if (!above && m->pressure == 0) {
        pmx_fanout_resume(m->f);
        if (m->flushing) { /* -o group: the pod being written out goes on */
            cli_spill_resume(&m->flushing->go);
            cli_spill_resume(&m->flushing->ge);
        }
    }
}

/* Our reader went away (EPIPE): nobody will see more output, so stop, like a pipeline would. */
static void on_out_error(void *ctx, int err)
{
    multi_t *m = ctx;
    m->out_error = err;
    pmx_fanout_cancel(m->f);
}

static void on_finish(pmx_fanout_t *f, void *data)
{
    multi_t *m = data;
    m->finished = 1;
    stop_handles(m);
}

static const pmx_fanout_cb_t FCB = {
    .on_output = on_output,
    .on_done = on_done,
    .on_stdin_drain = on_stdin_drain,
    .on_finish = on_finish,
};

/* ---- the run -----------------------------------------------------------------------------------
 */
static int resolve_all(multi_t *m)
{
    static const targets_cb_t cb = {.on_pod = add_pod, .on_unread = on_unread};
    m->resolve_failed += targets_resolve(m->a, &cb, m);
    for (size_t i = 1; i < m->n; i++)
        if (strcmp(m->e[i].ns, m->e[0].ns)) m->several_ns = 1;
    return 0;
}

static int build_fanout(multi_t *m)
{
    cli_opts_t *o = m->a->o;
    pmx_fanout_opts_t fo = {
        .kind = o->cmd == CMD_ATTACH ? PMX_ATTACH : PMX_EXEC,
        .argv = (const char *const *)o->argv,
        .argc = o->argc,
        .stdin_ = o->stdin_ || o->kill_on_close, /* opened, never written: see args.c */
        .parallel = o->parallel,
        .qps = o->qps,
        .burst = o->burst,
        .timeout_ms = o->timeout_ms,
        .fail_fast = o->fail_fast,
        .retries = o->retries,
    };
    int rc = pmx_fanout_new(m->a->c, &fo, &FCB, m, &m->f);
    if (rc < 0) return rc;
    m->slots = calloc(m->n ? m->n : 1, sizeof *m->slots);
    if (m->mode == OUT_GROUP) m->fq = calloc(m->n ? m->n : 1, sizeof *m->fq);
    if (!m->slots || (m->mode == OUT_GROUP && !m->fq)) return PMX_ENOMEM;
    for (size_t i = 0; i < m->n; i++) {
        entry_t *e = &m->e[i];
        long idx = e->skip ? pmx_fanout_add_skipped(m->f, e->ns, e->pod, e->container, e->skip)
                           : pmx_fanout_add(m->f, e->ns, e->pod, e->container);
        if (idx < 0) return (int)idx;
        make_slot(m, (size_t)idx);
    }
    return 0;
}

static void watch(multi_t *m, int sig)
{
    app_signal_watch(m->a, &m->sigs, sig, on_signal, m);
}

static void start_extras(multi_t *m)
{
    watch(m, SIGINT);
    watch(m, SIGTERM);
    watch(m, SIGHUP);
    if (isatty(2) && m->mode != OUT_JSON && !m->a->o->quiet) {
        uv_timer_init(m->a->loop, &m->progress);
        m->progress.data = m;
        uv_timer_start(&m->progress, on_progress, 250, 250);
        m->progress_on = 1;
    }
    if (m->a->o->stdin_ && cli_in_init(&m->in, m->a->loop, 0, on_stdin, m) == 0) {
        m->have_in = 1;
        cli_in_start(&m->in);
    }
    app_hook_output(m->a, on_pressure, on_out_error, m);
    if (m->mode == OUT_GROUP) {
        m->a->out.on_empty = m->a->err.on_empty = on_out_empty;
        struct stat so, se; /* one file (2>&1, a terminal): one header per section */
        m->same_out_err = fstat(1, &so) == 0 && fstat(2, &se) == 0 && so.st_dev == se.st_dev &&
                          so.st_ino == se.st_ino && so.st_rdev == se.st_rdev;
    }
}

static int finish_run(multi_t *m)
{
    size_t n;
    const pmx_fanout_result_t *const *r = pmx_fanout_results(m->f, &n);
    cli_tally_t t = {0};
    for (size_t i = 0; i < n; i++)
        cli_tally_add(&t, &r[i]->exit);
    int code = cli_exit_code(&t);
    if (m->resolve_failed) code = CLI_EXIT_FAIL;
    int all_ok = t.ok == n && !m->resolve_failed;
    if (m->out_error != UV_EPIPE && (!m->a->o->quiet || !all_ok)) {
        app_summary(m->a, r, n, m->a->o->all_containers);
    }
    if (m->signaled)
        code = 128 + m->signaled;
    else if (m->out_error == UV_EPIPE)
        code = 128 + SIGPIPE;
    return code;
}

static void free_multi(multi_t *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->e[i].ns), free(m->e[i].pod), free(m->e[i].container), free(m->e[i].skip);
        if (m->slots) {
            cli_prefixer_free(&m->slots[i].po);
            cli_prefixer_free(&m->slots[i].pe);
            cli_spill_free(&m->slots[i].go);
            cli_spill_free(&m->slots[i].ge);
            free(m->slots[i].prefix);
        }
    }
    free(m->e);
    free(m->slots);
    free(m->fq);
    if (m->have_in) cli_in_restore(&m->in);
    if (m->f) pmx_fanout_free(m->f);
}

int run_multi(app_t *a)
{
    cli_opts_t *o = a->o;
    if (o->tty && o->stdin_) {
        app_errorf(a, "-t needs a single pod");
        return CLI_EXIT_FAIL;
    }
    multi_t *m = calloc(1, sizeof *m);
    if (!m) return CLI_EXIT_FAIL;
    m->a = a;
    m->mode = o->output == OUT_AUTO ? OUT_PREFIX : o->output;
    m->color = m->mode == OUT_PREFIX && app_color_wanted(a);
    resolve_all(m);
    int code;
    if (m->n == 0) {
        if (!m->resolve_failed) app_errorf(a, "no pods matched"); /* else already said why */
        code = CLI_EXIT_FAIL;
    } else if (build_fanout(m) < 0) {
        app_errorf(a, "cannot start the fan-out: out of memory");
        code = CLI_EXIT_FAIL;
    } else {
        start_extras(m);
        pmx_fanout_start(m->f);
        uv_run(a->loop, UV_RUN_DEFAULT);
        app_unhook_output(a);
        a->out.on_empty = a->err.on_empty = NULL;
        code = finish_run(m);
    }
    free_multi(m);
    uv_run(a->loop, UV_RUN_DEFAULT); /* the fan-out's timer close */
    free(m);
    return code;
}
