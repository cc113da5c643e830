/* fanout: one command over many pods, shaped like curl's multi interface.
 *
 * Targets wait in a PENDING queue; pump() starts them while the concurrency limit (running
 * sessions, counted until on_close so sockets stay bounded) and the start-rate token bucket
 * allow. A target whose attempt failed before the command could have started (connect, TLS,
 * 429/5xx before the upgrade) waits in a retry list with exponential backoff; once the request
 * is out and no clear refusal came back it is never retried, because the command may have run.
 * Broadcast stdin is kept in a bounded replay buffer only while some target may still need it from
 * the start. One timer drives rate limiting, retries and the deferred reports, so no user callback
 * ever runs from inside a pmx_fanout_* call. */
#include <stdlib.h>
#include <string.h>

#include "client/errors.h"
#include "client/internal.h"
#include "util/buf.h"

#define DEFAULT_RETRY_BASE_MS 500
#define MAX_RETRY_MS 30000
#define DEFAULT_REPLAY_MAX (64u * 1024 * 1024)
/* Per-session stdin marks: lower than a single session's default because N sessions each hold
 * their own copy of the broadcast. */
#define FAN_STDIN_HIGH (256u * 1024)
#define FAN_STDIN_LOW (64u * 1024)

enum { T_NEW, T_PENDING, T_RETRY_WAIT, T_RUNNING, T_DONE };

typedef struct target {
    pmx_fanout_t *f;
    pmx_fanout_result_t r;
    char *ns, *pod, *container, *message;
    char reason[64];
    int state;
    int skipped, opened, above, stdin_closed, final_exit;
    pmx_session_t *s;
    uint64_t due_ms;            /* retry: loop time to start again */
    uint64_t t_first;           /* uv_hrtime of the first attempt */
    struct target *prev, *next; /* running list */
} target_t;

struct pmx_fanout {
    pmx_client_t *c;
    uv_loop_t *loop;
    pmx_fanout_opts_t o;
    char **argv;
    pmx_fanout_cb_t cb;
    void *data;
    target_t **t;
    size_t n, cap;
    size_t next_pending; /* index of the next T_PENDING target in t[] (FIFO by index) */
    size_t nretry;       /* targets in T_RETRY_WAIT */
    target_t *running;   /* sessions not yet closed */
    size_t nrunning;
    size_t nabove; /* running sessions above the stdin high-water mark */
    int want_drain;
    const pmx_fanout_result_t **results;
    size_t nresults;
    pmx_fanout_stats_t st;
    double tokens;
    uint64_t tokens_at;
    uv_timer_t timer;
    int started, canceled, paused, stdin_eof, finished, finish_queued, skipped_reported;
    buf_t replay;
    int replay_dropped;
};

static void pump(pmx_fanout_t *f);
static void cancel_waiting(pmx_fanout_t *f);

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void arm(pmx_fanout_t *f, uint64_t ms);

static void list_add(pmx_fanout_t *f, target_t *t)
{
    t->prev = NULL;
    t->next = f->running;
    if (f->running) f->running->prev = t;
    f->running = t;
    f->nrunning++;
}

static void list_del(pmx_fanout_t *f, target_t *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        f->running = t->next;
    if (t->next) t->next->prev = t->prev;
    t->prev = t->next = NULL;
    f->nrunning--;
}

/* Records the final outcome of a target and reports it. */
static void finish_target(target_t *t, const pmx_exit_t *ex)
{
    pmx_fanout_t *f = t->f;
    t->r.exit = *ex;
    char *msg = strdup(ex->message ? ex->message : ""); /* ex->message may be t->message */
    free(t->message);
    t->message = msg;
    snprintf(t->reason, sizeof t->reason, "%s", ex->reason ? ex->reason : "");
    t->r.exit.message = t->message ? t->message : "";
    t->r.exit.reason = t->reason;
    t->r.seconds = t->t_first ? (double)(uv_hrtime() - t->t_first) / 1e9 : 0;
    if (t->state == T_RETRY_WAIT) f->nretry--;
    t->state = T_DONE;
    f->st.done++;
    if (ex->err == PMX_ESKIPPED)
        f->st.skipped++;
    else if (ex->err == PMX_ECANCELED)
        f->st.canceled++;
    else if (ex->err < 0)
        f->st.failed++;
    else if (ex->exit_code != 0)
        f->st.nonzero++;
    else
        f->st.ok++;
    f->results[f->nresults++] = &t->r;
    if (f->cb.on_done) f->cb.on_done(f, &t->r, f->data);
    if (f->o.fail_fast && !f->canceled && ex->err != PMX_ESKIPPED && ex->err != PMX_ECANCELED &&
        (ex->err < 0 || ex->exit_code != 0))
        pmx_fanout_cancel(f);
}

static void finish_simple(target_t *t, int err, const char *message)
{
    pmx_exit_t ex = {.err = err, .exit_code = -1, .reason = "", .message = message};
    finish_target(t, &ex);
}

/* Errors that happened before the command could have started and may pass on their own. A
 * silence or a lost connection after the request went out is not one of them: the server may
 * have started the command without our seeing the 101, and running it twice is worse than
 * reporting the failure (kubectl never retries). A 429 or 5xx answer is a refusal: retried. */
PMX_API int pmx_exit_retryable(const pmx_exit_t *ex)
{
    if (ex->command_started) return 0;
    switch (ex->err) {
    case PMX_EDNS:
    case PMX_ECONNECT:
    case PMX_ETLS:
    case PMX_ETOOMANY:
    case PMX_ESERVER:
        return 1;
    case PMX_ETIMEDOUT:
    case PMX_ELOST:
        return !ex->request_sent;
    default:
        return 0;
    }
}

static uint64_t backoff_ms(const pmx_fanout_t *f, unsigned attempt, double retry_after)
{
    uint64_t base = f->o.retry_base_ms ? f->o.retry_base_ms : DEFAULT_RETRY_BASE_MS;
    uint64_t ms = base;
    for (unsigned i = 1; i < attempt && ms < MAX_RETRY_MS; i++)
        ms *= 2;
    if (ms > MAX_RETRY_MS) ms = MAX_RETRY_MS;
    uint64_t ra = retry_after > 0 ? (uint64_t)(retry_after * 1000.0) : 0;
    return ra > ms ? ra : ms;
}

static void on_open(pmx_session_t *s, const char *protocol, void *data)
{
    target_t *t = data;
    t->opened = 1;
}

static void on_stdout(pmx_session_t *s, const char *buf, size_t len, void *data)
{
    target_t *t = data;
    t->f->cb.on_output(t->f, t->r.index, 1, buf, len, t->f->data);
}

static void on_stderr(pmx_session_t *s, const char *buf, size_t len, void *data)
{
    target_t *t = data;
    t->f->cb.on_output(t->f, t->r.index, 2, buf, len, t->f->data);
}

static void on_exit_cb(pmx_session_t *s, const pmx_exit_t *in, void *data)
{
    target_t *t = data;
    pmx_fanout_t *f = t->f;
    pmx_exit_t mapped = *in; /* results and callbacks carry only PMX_E* codes */
    mapped.err = pmx__err_from_internal(in->err);
    const pmx_exit_t *ex = &mapped;
    if (!f->canceled && pmx_exit_retryable(ex) && t->r.attempts <= f->o.retries &&
        !(f->o.stdin_ && f->replay_dropped)) {
        t->state = T_RETRY_WAIT;
        t->due_ms = uv_now(f->loop) + backoff_ms(f, t->r.attempts, ex->retry_after);
        f->nretry++;
        pmx__log(f->c, "%s/%s: attempt %u failed (%s), retrying in %llu ms", t->ns, t->pod,
                 t->r.attempts, pmx_err_name(ex->err),
                 (unsigned long long)(t->due_ms - uv_now(f->loop)));
        return;
    }
    finish_target(t, ex);
}

static void stdin_drained(pmx_fanout_t *f)
{
    if (f->nabove == 0 && f->want_drain) {
        f->want_drain = 0;
        if (f->cb.on_stdin_drain) f->cb.on_stdin_drain(f, f->data);
    }
}

static void on_drain(pmx_session_t *s, void *data)
{
    target_t *t = data;
    if (!t->above) return;
    t->above = 0;
    t->f->nabove--;
    stdin_drained(t->f);
}

static void on_close(pmx_session_t *s, void *data)
{
    target_t *t = data;
    pmx_fanout_t *f = t->f;
    t->s = NULL;
    list_del(f, t);
    if (t->above) {
        t->above = 0;
        f->nabove--;
    }
    if (t->state == T_RUNNING) { /* on_exit never came: should not happen, stay correct */
        pmx_exit_t ex = {
            .err = PMX_ENOSTATUS, .exit_code = -1, .reason = "", .message = pmx_session_error(s)};
        finish_target(t, &ex);
    }
    stdin_drained(f);
    pump(f);
}

static const pmx_session_cb_t session_cb = {
    .on_open = on_open,
    .on_stdout = on_stdout,
    .on_stderr = on_stderr,
    .on_exit = on_exit_cb,
    .on_drain = on_drain,
    .on_close = on_close,
};

static void feed_stdin(target_t *t)
{
    pmx_fanout_t *f = t->f;
    if (!f->o.stdin_) return;
    if (f->replay.len) {
        long q = pmx_session_write(t->s, f->replay.data, f->replay.len);
        if (q > (long)FAN_STDIN_HIGH && !t->above) {
            t->above = 1;
            f->nabove++;
        }
    }
    if (f->stdin_eof) {
        pmx_session_close_stdin(t->s); /* PMX_ENOTSUP on v4: nothing better to do */
        t->stdin_closed = 1;
    }
}

static void start_target(target_t *t)
{
    pmx_fanout_t *f = t->f;
    if (f->o.stdin_ && f->replay_dropped) {
        finish_simple(t, PMX_ENOMEM,
                      "stdin was larger than the replay limit before this "
                      "session could start (raise -P)");
        return;
    }
    pmx_session_opts_t so = {
        .kind = f->o.kind,
        .namespace_ = t->ns,
        .pod = t->pod,
        .container = t->container,
        .argv = (const char *const *)f->argv,
        .argc = f->o.argc,
        .stdin_ = f->o.stdin_,
        .stdout_ = 1,
        .stderr_ = 1,
        .protocols = f->o.protocols,
        .timeout_ms = f->o.timeout_ms,
        .stdin_high_water = FAN_STDIN_HIGH,
        .stdin_low_water = FAN_STDIN_LOW,
    };
    t->r.attempts++;
    t->opened = 0;
    if (!t->t_first) t->t_first = uv_hrtime();
    if (f->cb.on_start) f->cb.on_start(f, t->r.index, t->r.attempts, f->data);
    /* The result is reported as a PMX_E* code whatever layer it came from. */
    int rc = pmx__err_from_internal(pmx_session_start(f->c, &so, &session_cb, t, &t->s));
    if (rc < 0) {
        t->s = NULL;
        finish_simple(t, rc, pmx_strerror(rc));
        return;
    }
    t->state = T_RUNNING;
    list_add(f, t);
    if (f->paused) pmx_session_pause(t->s);
    feed_stdin(t);
}

/* Token bucket for --qps/--burst: returns 0 when a start is allowed now, else ms to wait. */
static uint64_t rate_wait(pmx_fanout_t *f)
{
    if (f->o.qps <= 0) return 0;
    double burst = f->o.burst ? f->o.burst : 1;
    uint64_t now = uv_now(f->loop);
    f->tokens += (double)(now - f->tokens_at) * f->o.qps / 1000.0;
    if (f->tokens > burst) f->tokens = burst;
    f->tokens_at = now;
    if (f->tokens >= 1.0) return 0;
    uint64_t ms = (uint64_t)((1.0 - f->tokens) * 1000.0 / f->o.qps) + 1;
    return ms;
}

static target_t *next_ready(pmx_fanout_t *f, uint64_t *retry_wait)
{
    uint64_t now = uv_now(f->loop);
    *retry_wait = 0;
    if (f->nretry)
        for (size_t i = 0; i < f->n; i++) {
            target_t *t = f->t[i];
            if (t->state != T_RETRY_WAIT || t->s) continue; /* old session still closing */
            if (t->due_ms <= now) return t;
            uint64_t w = t->due_ms - now;
            if (!*retry_wait || w < *retry_wait) *retry_wait = w;
        }
    while (f->next_pending < f->n && f->t[f->next_pending]->state != T_PENDING)
        f->next_pending++;
    return f->next_pending < f->n ? f->t[f->next_pending] : NULL;
}

static void maybe_finish(pmx_fanout_t *f)
{
    if (f->finished || f->finish_queued || f->st.done < f->n || f->nrunning) return;
    f->finish_queued = 1;
    arm(f, 0);
}

static void pump(pmx_fanout_t *f)
{
    if (!f->started || f->finished) return;
    uint64_t wake = 0;
    while (!f->canceled && (!f->o.parallel || f->nrunning < f->o.parallel)) {
        uint64_t rw;
        target_t *t = next_ready(f, &rw);
        wake = rw;
        if (!t) break;
        uint64_t rate = rate_wait(f);
        if (rate) {
            wake = rate;
            break;
        }
        if (f->o.qps > 0) f->tokens -= 1.0;
        if (t->state == T_RETRY_WAIT) f->nretry--;
        t->state = T_NEW;
        start_target(t);
        wake = 0;
    }
    if (wake) arm(f, wake);
    maybe_finish(f);
}

static void report_skipped(pmx_fanout_t *f)
{
    f->skipped_reported = 1;
    for (size_t i = 0; i < f->n && !f->finished; i++) {
        target_t *t = f->t[i];
        if (!t->skipped || t->state == T_DONE) continue;
        finish_simple(t, PMX_ESKIPPED, t->message ? t->message : "skipped");
    }
}

static void on_timer(uv_timer_t *h)
{
    pmx_fanout_t *f = h->data;
    if (!f->skipped_reported) report_skipped(f);
    if (f->canceled) cancel_waiting(f);
    if (f->finish_queued && !f->finished) {
        f->finished = 1;
        buf_free(&f->replay);
        if (f->cb.on_finish) f->cb.on_finish(f, f->data);
        return;
    }
    pump(f);
}

static void arm(pmx_fanout_t *f, uint64_t ms)
{
    uv_timer_start(&f->timer, on_timer, ms, 0);
}

PMX_API int pmx_fanout_new(pmx_client_t *c, const pmx_fanout_opts_t *opts,
                           const pmx_fanout_cb_t *cb, void *data, pmx_fanout_t **out)
{
    if (!c || !opts || !cb || !cb->on_output || !cb->on_done || !out) return PMX_EINVAL;
    if (opts->kind == PMX_EXEC && (opts->argc < 1 || !opts->argv)) return PMX_EINVAL;
    pmx_fanout_t *f = calloc(1, sizeof *f);
    if (!f) return PMX_ENOMEM;
    f->c = c;
    f->loop = pmx__client_loop(c);
    f->o = *opts;
    f->o.protocols = NULL;
    f->cb = *cb;
    f->data = data;
    int argc = opts->kind == PMX_EXEC ? opts->argc : 0;
    f->argv = calloc((size_t)argc + 1, sizeof *f->argv);
    int ok = f->argv != NULL;
    for (int i = 0; ok && i < argc; i++)
        ok = (f->argv[i] = strdup(opts->argv[i])) != NULL;
    if (ok && opts->protocols) ok = (f->o.protocols = strdup(opts->protocols)) != NULL;
    f->o.argv = (const char *const *)f->argv;
    if (!ok) {
        for (int i = 0; f->argv && i < argc; i++)
            free(f->argv[i]);
        free(f->argv);
        free((char *)f->o.protocols);
        free(f);
        return PMX_ENOMEM;
    }
    buf_init(&f->replay, opts->stdin_replay_max ? opts->stdin_replay_max : DEFAULT_REPLAY_MAX);
    f->tokens = opts->burst ? opts->burst : 1;
    f->tokens_at = uv_now(f->loop);
    uv_timer_init(f->loop, &f->timer);
    f->timer.data = f;
    *out = f;
    return 0;
}

static long add_target(pmx_fanout_t *f, const char *ns, const char *pod, const char *container,
                       const char *why)
{
    if (!f || !pod || f->started) return f && f->started ? PMX_EBUSY : PMX_EINVAL;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        target_t **nt = realloc(f->t, cap * sizeof *nt);
        if (!nt) return PMX_ENOMEM;
        f->t = nt;
        f->cap = cap;
    }
    target_t *t = calloc(1, sizeof *t);
    if (!t) return PMX_ENOMEM;
    t->f = f;
    t->ns = dup_or_null(ns ? ns : pmx_client_namespace(f->c));
    t->pod = strdup(pod);
    t->container = dup_or_null(container);
    t->message = dup_or_null(why);
    if (!t->ns || !t->pod || (container && !t->container) || (why && !t->message)) {
        free(t->ns), free(t->pod), free(t->container), free(t->message), free(t);
        return PMX_ENOMEM;
    }
    t->skipped = why != NULL;
    t->state = why ? T_NEW : T_PENDING;
    t->r.index = f->n;
    t->r.namespace_ = t->ns;
    t->r.pod = t->pod;
    t->r.container = t->container;
    t->r.exit.exit_code = -1;
    t->r.exit.reason = t->reason;
    t->r.exit.message = "";
    f->t[f->n] = t;
    f->st.total = ++f->n;
    return (long)t->r.index;
}

PMX_API long pmx_fanout_add(pmx_fanout_t *f, const char *ns, const char *pod, const char *container)
{
    return add_target(f, ns, pod, container, NULL);
}

PMX_API long pmx_fanout_add_skipped(pmx_fanout_t *f, const char *ns, const char *pod,
                                    const char *container, const char *why)
{
    return add_target(f, ns, pod, container, why ? why : "skipped");
}

PMX_API int pmx_fanout_start(pmx_fanout_t *f)
{
    if (!f) return PMX_EINVAL;
    if (f->started) return PMX_EBUSY;
    f->results = calloc(f->n ? f->n : 1, sizeof *f->results);
    if (!f->results) return PMX_ENOMEM;
    f->started = 1;
    arm(f, 0); /* skipped reports and the first starts happen on the loop, not in here */
    return 0;
}

/* The replay buffer is needed while a target may still start its command from the top. */
static int replay_needed(const pmx_fanout_t *f)
{
    if (f->next_pending < f->n || f->nretry) {
        for (size_t i = f->next_pending; i < f->n; i++)
            if (f->t[i]->state == T_PENDING) return 1;
        if (f->nretry) return 1;
    }
    if (f->o.retries)
        for (const target_t *t = f->running; t; t = t->next)
            if (!t->opened && t->state == T_RUNNING) return 1;
    return 0;
}

PMX_API long pmx_fanout_write(pmx_fanout_t *f, const void *buf, size_t len)
{
    if (!f || !f->o.stdin_ || f->stdin_eof) return PMX_EINVAL;
    if (!f->replay_dropped) {
        if (!replay_needed(f) && f->started) {
            buf_free(&f->replay);
            f->replay_dropped = 1;
        } else if (buf_append(&f->replay, buf, len) < 0) {
            pmx__log(f->c, "fanout: stdin passed the replay limit; targets not yet started "
                           "will fail");
            buf_free(&f->replay);
            f->replay_dropped = 1;
        }
    }
    for (target_t *t = f->running; t; t = t->next) {
        if (!t->s || t->state != T_RUNNING || t->stdin_closed) continue;
        long q = pmx_session_write(t->s, buf, len);
        if (q < 0) continue; /* the session is ending; its on_exit tells why */
        if (q > (long)FAN_STDIN_HIGH && !t->above) {
            t->above = 1;
            f->nabove++;
        }
    }
    if (f->nabove) f->want_drain = 1;
    return f->nabove ? 1 : 0;
}

PMX_API int pmx_fanout_close_stdin(pmx_fanout_t *f)
{
    if (!f || !f->o.stdin_) return PMX_EINVAL;
    f->stdin_eof = 1;
    for (target_t *t = f->running; t; t = t->next)
        if (t->s && t->state == T_RUNNING && !t->stdin_closed) {
            pmx_session_close_stdin(t->s);
            t->stdin_closed = 1;
        }
    return 0;
}

PMX_API void pmx_fanout_pause(pmx_fanout_t *f)
{
    if (!f || f->paused) return;
    f->paused = 1;
    for (target_t *t = f->running; t; t = t->next)
        if (t->s) pmx_session_pause(t->s);
}

PMX_API void pmx_fanout_resume(pmx_fanout_t *f)
{
    if (!f || !f->paused) return;
    f->paused = 0;
    for (target_t *t = f->running; t; t = t->next)
        if (t->s) pmx_session_resume(t->s);
}

/* Finishes what never got a session; runs from the timer so on_done stays out of the
 * pmx_fanout_cancel call. */
static void cancel_waiting(pmx_fanout_t *f)
{
    for (size_t i = 0; i < f->n && f->skipped_reported; i++) {
        target_t *t = f->t[i];
        if (t->state == T_PENDING || t->state == T_RETRY_WAIT)
            finish_simple(t, PMX_ECANCELED, "canceled");
    }
}

PMX_API void pmx_fanout_cancel(pmx_fanout_t *f)
{
    if (!f || f->canceled) return;
    f->canceled = 1;
    for (target_t *t = f->running; t; t = t->next)
        if (t->s) pmx_session_close(t->s);
    if (f->started) arm(f, 0);
}

PMX_API void pmx_fanout_stats(const pmx_fanout_t *f, pmx_fanout_stats_t *st)
{
    if (!f || !st) return;
    *st = f->st;
    st->running = f->nrunning;
    st->pending = f->st.total - f->st.done - f->nrunning;
    if (st->pending > st->total) st->pending = 0;
}

PMX_API const pmx_fanout_result_t *const *pmx_fanout_results(const pmx_fanout_t *f, size_t *n)
{
    if (n) *n = f ? f->nresults : 0;
    return f ? (const pmx_fanout_result_t *const *)f->results : NULL;
}

static void free_after_close(uv_handle_t *h)
{
    free(h->data);
}

PMX_API int pmx_fanout_free(pmx_fanout_t *f)
{
    if (!f) return 0;
    if (f->started && !f->finished) return PMX_EBUSY;
    for (size_t i = 0; i < f->n; i++) {
        target_t *t = f->t[i];
        free(t->ns), free(t->pod), free(t->container), free(t->message), free(t);
    }
    free(f->t);
    free(f->results);
    for (int i = 0; f->argv && f->argv[i]; i++)
        free(f->argv[i]);
    free(f->argv);
    free((char *)f->o.protocols);
    buf_free(&f->replay);
    /* The struct holds the timer: it goes when libuv is done with the handle. */
    uv_close((uv_handle_t *)&f->timer, free_after_close);
    return 0;
}
