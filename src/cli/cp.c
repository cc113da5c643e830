/* cp: `podmux cp`, kubectl cp's syntax over one pod or many at once.
 *
 * To pods: the local sources are read once into one tar (an unlinked file in $TMPDIR), then
 * streamed to every pod's `tar xmf - -C DIR` through pmx_transfer (podmux.h): backpressure per
 * pod, and a pod may lag at most --max-lag behind the slowest; past that the slowest sets the
 * pace (a stuck pod holds the others until its --timeout ends it). When PATH may name a
 * directory (one source, no trailing '/'), each pod is first asked `test -d PATH`, as kubectl
 * does, so that the copy lands in PATH/SRC or as PATH.
 * From pods: each pod's `tar cf - PATH` is spooled (asynchronous writes, the session paused
 * while they lag) into an unlinked file, then extracted on libuv's threadpool under DEST (or
 * DEST/POD, DEST/NS/POD with several pods), with cp_tar.c's checks. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "cp.h"
#include "targets.h"
#include "util/fmt.h"

#define CP_PEND_MAX (4u * 1024 * 1024) /* spool bytes waiting for the disk before a pause */
#define CP_STDERR_MAX 2048

enum { PH_PROBE, PH_COPY };

typedef struct cp_run cp_run_t;

typedef struct cp_job {
    cp_run_t *r;
    size_t index;
    char ns[256], pod[256], container[256], skip[128];
    int phase, variant, started, finished;
    pmx_session_t *s;
    unsigned attempts;
    uint64_t t0;
    /* download spool */
    int spool;
    uint64_t spooled;
    char *pend, *inflight;
    size_t plen, pcap, ilen;
    int writing, paused, closed, wfail;
    uv_fs_t wreq;
    /* captured stderr, first bytes */
    char errtext[CP_STDERR_MAX];
    size_t errlen;
    pmx_exit_t ex;
    char message[1024], reason[64];
    pmx_fanout_result_t res;
    char dest[PATH_MAX];
    uv_work_t work;
    cp_extract_report_t rep;
    int xrc;
    char xerr[512];
    uv_timer_t retry;
    int retry_on;
} cp_job_t;

typedef struct cp_variant {
    int fd;
    uint64_t size;
    pmx_transfer_t *t;
    char dir[PATH_MAX]; /* tar -C */
    int used;
} cp_variant_t;

struct cp_run {
    app_t *a;
    cli_opts_t *o;
    int upload, many, with_ns;
    const char **srcs;
    size_t nsrcs;
    char rpath[PATH_MAX]; /* the path in the pods */
    char local[PATH_MAX]; /* download: DEST */
    cp_variant_t var[2];  /* 0: into PATH as a directory; 1: as PATH itself */
    cp_limits_t lim;
    cp_job_t **jobs;
    size_t njobs, cap, ndone;
    cp_job_t **queue; /* the jobs of the current stage (probe, then copy) */
    size_t nq, next, running, left;
    const pmx_fanout_result_t **res;
    uint64_t bytes_done;
    uv_timer_t progress;
    int progress_on, progress_shown, signaled;
    app_signals_t sigs;
};

/* ---- command line ---------------------------------------------------------------------------- */

/* "[NS/]POD:PATH", "KIND/NAME:PATH", ":PATH": remote when a ':' comes before any '/', or the
 * part before the ':' is a target. Local paths starting with '/' or '.' are always local. */
static const char *remote_path(const char *arg)
{
    if (arg[0] == '/' || arg[0] == '.') return NULL;
    const char *c = strchr(arg, ':');
    return c ? c + 1 : NULL;
}

static int set_target(cp_run_t *r, const char *arg, char *err, size_t errlen)
{
    cli_opts_t *o = r->o;
    const char *c = strchr(arg, ':');
    size_t n = (size_t)(c - arg);
    snprintf(r->rpath, sizeof r->rpath, "%s", c + 1);
    if (!r->rpath[0]) return snprintf(err, errlen, "%s: empty path in the pod", arg), -1;
    if (n == 0) {
        if (!o->selector && !o->field_selector)
            return snprintf(err, errlen, "\"%s\" names no pod: give one, or -l/--field-selector",
                            arg),
                   -1;
        o->ntargets = 0;
        return 0;
    }
    if (o->selector || o->field_selector)
        return snprintf(err, errlen, "%s: a pod and -l/--field-selector: use \":PATH\"", arg), -1;
    static char tgt[600], ns[256];
    snprintf(tgt, sizeof tgt, "%.*s", (int)(n < 599 ? n : 599), arg);
    cli_target_t t;
    char perr[256];
    char *slash = strchr(tgt, '/');
    if (slash && cli_parse_target(tgt, &t, perr, sizeof perr) < 0) { /* NAMESPACE/POD */
        snprintf(ns, sizeof ns, "%.*s", (int)(slash - tgt), tgt);
        if (o->ns && strcmp(o->ns, ns))
            return snprintf(err, errlen, "%s: namespace %s and -n %s", arg, ns, o->ns), -1;
        o->ns = ns;
        memmove(tgt, slash + 1, strlen(slash + 1) + 1);
    }
    if (cli_parse_target(tgt, &t, perr, sizeof perr) < 0)
        return snprintf(err, errlen, "%s", perr), -1;
    o->targets[0] = tgt;
    o->ntargets = 1;
    return 0;
}

static int parse_cp_args(cp_run_t *r, char *err, size_t errlen)
{
    cli_opts_t *o = r->o;
    if (o->ntargets < 2)
        return snprintf(err, errlen,
                        "cp needs a source and a destination: podmux cp SRC... "
                        "POD:PATH, or podmux cp POD:PATH DEST"),
               -1;
    const char *dest = o->targets[o->ntargets - 1];
    if (remote_path(dest)) {
        r->upload = 1;
        r->nsrcs = o->ntargets - 1;
        r->srcs = malloc(r->nsrcs * sizeof *r->srcs);
        if (!r->srcs) return snprintf(err, errlen, "out of memory"), -1;
        for (size_t i = 0; i < r->nsrcs; i++) {
            r->srcs[i] = o->targets[i];
            if (remote_path(r->srcs[i]))
                return snprintf(err, errlen, "%s: copying between pods is not supported",
                                r->srcs[i]),
                       -1;
            struct stat st;
            if (lstat(r->srcs[i], &st) < 0)
                return snprintf(err, errlen, "%s: %s", r->srcs[i], strerror(errno)), -1;
        }
        return set_target(r, dest, err, errlen);
    }
    if (o->ntargets != 2 || !remote_path(o->targets[0]))
        return snprintf(err, errlen, "one of the source and the destination must be POD:PATH"), -1;
    snprintf(r->local, sizeof r->local, "%s", dest);
    return set_target(r, o->targets[0], err, errlen);
}

/* ---- pods ------------------------------------------------------------------------------------ */

static void add_job(cp_run_t *r, const char *ns, const char *pod, const char *container,
                    const char *skip)
{
    if (r->njobs == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        cp_job_t **j = realloc(r->jobs, cap * sizeof *j);
        if (!j) return;
        r->jobs = j, r->cap = cap;
    }
    cp_job_t *j = calloc(1, sizeof *j);
    if (!j) return;
    j->r = r;
    j->index = r->njobs;
    j->spool = -1;
    snprintf(j->ns, sizeof j->ns, "%s", ns);
    snprintf(j->pod, sizeof j->pod, "%s", pod);
    snprintf(j->container, sizeof j->container, "%s", container ? container : "");
    if (skip) snprintf(j->skip, sizeof j->skip, "%s", skip);
    r->jobs[r->njobs++] = j;
}

static void on_pod(void *ctx, const pmx_pod_t *p)
{
    cp_run_t *r = ctx;
    char why[128] = "";
    if (strcmp(p->phase, "Running"))
        snprintf(why, sizeof why, "phase %s", p->phase);
    else if (p->deleting)
        snprintf(why, sizeof why, "terminating");
    const char *c = r->o->container ? r->o->container : pmx_default_container(p);
    add_job(r, p->namespace_, p->name, c, why[0] ? why : NULL);
}

static void on_unread(void *ctx, const char *ns, const char *pod)
{
    cp_run_t *r = ctx;
    add_job(r, ns, pod, r->o->container, NULL);
}

/* ---- results --------------------------------------------------------------------------------- */

static void start_more(cp_run_t *r);

static void stop_handles(cp_run_t *r)
{
    app_watch_end(r->a, &r->sigs, NULL);
    if (r->progress_on) uv_close((uv_handle_t *)&r->progress, NULL);
    r->progress_on = 0;
    if (r->progress_shown) cli_out_write(&r->a->err, "\r\033[K", 4);
    r->progress_shown = 0;
}

/* A job is through the current stage: the next one starts, or the stage ends. */
static void stage_left(cp_run_t *r)
{
    if (--r->left == 0) stop_handles(r);
    start_more(r);
}

/* The job's result is final: recorded, printed with -o json, and the next job starts. */
static void job_done(cp_job_t *j)
{
    cp_run_t *r = j->r;
    if (j->finished) return;
    j->finished = 1;
    if (j->started) r->running--;
    if (j->spool >= 0) close(j->spool), j->spool = -1;
    j->res.index = j->index;
    j->res.namespace_ = j->ns;
    j->res.pod = j->pod;
    j->res.container = j->container[0] ? j->container : NULL;
    j->res.exit = j->ex;
    j->res.exit.message = j->message;
    j->res.exit.reason = j->reason;
    j->res.attempts = j->attempts;
    j->res.seconds = j->t0 ? (double)(uv_now(r->a->loop) - j->t0) / 1000.0 : 0;
    r->res[r->ndone++] = &j->res;
    r->bytes_done += r->upload ? j->ex.bytes_in : j->spooled;
    if (r->o->output == OUT_JSON) {
        char *line = cli_json_result(&j->res);
        if (line) cli_out_write(&r->a->out, line, strlen(line)), free(line);
    } else if (!r->many && (j->ex.err < 0 || j->ex.exit_code)) {
        if (j->ex.err < 0)
            app_errorf(r->a, "%s", j->message[0] ? j->message : pmx_strerror(j->ex.err));
    }
    if (j->ex.err == 0 && j->ex.exit_code && j->errlen) { /* tar's own words */
        char line[CP_STDERR_MAX + 300];
        size_t n = strcspn(j->errtext, "\n");
        snprintf(line, sizeof line, "%s%s%.*s", r->many ? j->pod : "", r->many ? ": " : "", (int)n,
                 j->errtext);
        app_errorf(r->a, "%s", line);
    }
    stage_left(r);
}

static void fail_job(cp_job_t *j, int err, const char *fmt, const char *arg)
{
    memset(&j->ex, 0, sizeof j->ex);
    j->ex.err = err;
    j->ex.exit_code = -1;
    snprintf(j->message, sizeof j->message, fmt, arg);
    job_done(j);
}

/* ---- sessions -------------------------------------------------------------------------------- */

static void start_job(cp_job_t *j);

static void on_stderr(pmx_session_t *s, const char *buf, size_t len, void *data)
{
    cp_job_t *j = data;
    size_t room = sizeof j->errtext - 1 - j->errlen;
    if (len > room) len = room;
    memcpy(j->errtext + j->errlen, buf, len);
    j->errlen += len;
    j->errtext[j->errlen] = 0;
}

static void after_extract(uv_work_t *w, int status);
static void finish_download(cp_job_t *j);

static void on_spool_write(uv_fs_t *req)
{
    cp_job_t *j = req->data;
    if (req->result < 0 || (size_t)req->result != j->ilen) j->wfail = 1;
    uv_fs_req_cleanup(req);
    free(j->inflight);
    j->inflight = NULL;
    j->writing = 0;
    if (j->plen && !j->wfail) {
        j->inflight = j->pend, j->ilen = j->plen;
        j->pend = NULL, j->plen = j->pcap = 0;
        uv_buf_t b = uv_buf_init(j->inflight, (unsigned)j->ilen);
        j->writing = 1;
        j->wreq.data = j;
        if (uv_fs_write(j->r->a->loop, &j->wreq, j->spool, &b, 1, -1, on_spool_write) < 0)
            j->writing = 0, j->wfail = 1;
    }
    if (j->paused && !j->closed && j->plen < CP_PEND_MAX / 2) {
        j->paused = 0;
        pmx_session_resume(j->s);
    }
    if (j->closed && !j->writing) finish_download(j);
}

static void on_stdout(pmx_session_t *s, const char *buf, size_t len, void *data)
{
    cp_job_t *j = data;
    cp_run_t *r = j->r;
    if (r->upload || j->phase == PH_PROBE || j->wfail) return;
    /* A pod sends at most the limit plus the tar headers of its entries. */
    uint64_t most = r->lim.max_bytes + (r->lim.max_entries + 2) * 1024;
    if (j->spooled + len > most) {
        j->wfail = 2;
        pmx_session_close(s);
        return;
    }
    if (j->plen + len > j->pcap) { /* doubling: no copy per chunk while a write is out */
        size_t cap = j->pcap ? j->pcap : 64 * 1024;
        while (cap < j->plen + len)
            cap *= 2;
        char *p = realloc(j->pend, cap);
        if (!p) {
            j->wfail = 1;
            pmx_session_close(s);
            return;
        }
        j->pend = p, j->pcap = cap;
    }
    char *p = j->pend;
    memcpy(p + j->plen, buf, len);
    j->plen += len;
    j->spooled += len;
    if (!j->writing) {
        j->inflight = j->pend, j->ilen = j->plen;
        j->pend = NULL, j->plen = j->pcap = 0;
        uv_buf_t b = uv_buf_init(j->inflight, (unsigned)j->ilen);
        j->writing = 1;
        j->wreq.data = j;
        if (uv_fs_write(r->a->loop, &j->wreq, j->spool, &b, 1, -1, on_spool_write) < 0)
            j->writing = 0, j->wfail = 1;
    }
    if (j->plen > CP_PEND_MAX && !j->paused) {
        j->paused = 1;
        pmx_session_pause(s);
    }
}

static void on_drain(pmx_session_t *s, void *data)
{
    cp_job_t *j = data;
    if (j->phase == PH_COPY && j->r->upload) pmx_transfer_drain(j->r->var[j->variant].t, s);
}

static void on_exit_cb(pmx_session_t *s, const pmx_exit_t *ex, void *data)
{
    cp_job_t *j = data;
    j->ex = *ex;
    snprintf(j->message, sizeof j->message, "%s", ex->message ? ex->message : "");
    snprintf(j->reason, sizeof j->reason, "%s", ex->reason ? ex->reason : "");
    if (j->phase == PH_COPY && j->r->upload) pmx_transfer_remove(j->r->var[j->variant].t, s);
}

static void on_retry(uv_timer_t *h)
{
    cp_job_t *j = h->data;
    uv_close((uv_handle_t *)h, NULL);
    j->retry_on = 0;
    if (j->r->signaled) {
        fail_job(j, PMX_ECANCELED, "%s", "canceled");
        return;
    }
    start_job(j);
}

static void on_close_cb(pmx_session_t *s, void *data)
{
    cp_job_t *j = data;
    cp_run_t *r = j->r;
    j->s = NULL;
    pmx_exit_t *ex = &j->ex;
    if (ex->err < 0 && !ex->command_started && j->attempts <= r->o->retries && !r->signaled &&
        ex->err != PMX_ECANCELED && ex->err != PMX_ENOTFOUND && ex->err != PMX_EFORBIDDEN) {
        if (j->spool >= 0) close(j->spool), j->spool = -1; /* the retry gets a new one */
        free(j->pend), j->pend = NULL, j->plen = j->pcap = 0, j->spooled = 0;
        uint64_t delay = 500ull << (j->attempts > 6 ? 6 : j->attempts - 1);
        if (ex->retry_after * 1000 > (double)delay) delay = (uint64_t)(ex->retry_after * 1000);
        uv_timer_init(r->a->loop, &j->retry);
        j->retry.data = j;
        j->retry_on = 1;
        uv_timer_start(&j->retry, on_retry, delay, 0);
        return;
    }
    if (ex->err < 0 && strstr(j->message, "executable file not found")) {
        const char *what = j->phase == PH_PROBE ? "test" : "tar";
        snprintf(j->message, sizeof j->message,
                 "%s/%s: no %s in container %s (podmux cp runs %s in the pod, as kubectl cp)",
                 j->ns, j->pod, what, j->container[0] ? j->container : "(default)", what);
    }
    if (j->phase == PH_PROBE) {
        if (ex->err < 0) {
            job_done(j);
            return;
        }
        /* test -d: 0 is a directory (copy into it), else the copy is named PATH. */
        j->variant = ex->exit_code == 0 ? 0 : 1;
        j->attempts = 0;
        j->started = 0;
        r->running--;
        stage_left(r);
        return;
    }
    if (!r->upload && ex->err == 0 && ex->exit_code == 0) {
        j->closed = 1;
        if (!j->writing) finish_download(j);
        return;
    }
    if (!r->upload && j->wfail == 2) {
        ex->err = PMX_EPROTO, ex->exit_code = -1;
        snprintf(j->message, sizeof j->message, "more than %llu bytes (--max-bytes)",
                 (unsigned long long)r->lim.max_bytes);
    }
    job_done(j);
}

static int make_spool(void)
{
    const char *dir = getenv("TMPDIR");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/podmux-cp-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0) unlink(path);
    return fd;
}

static void start_job(cp_job_t *j)
{
    cp_run_t *r = j->r;
    cli_opts_t *o = r->o;
    if (j->skip[0]) {
        memset(&j->ex, 0, sizeof j->ex);
        j->ex.err = PMX_ESKIPPED, j->ex.exit_code = -1;
        snprintf(j->message, sizeof j->message, "%s", j->skip);
        job_done(j);
        return;
    }
    j->started = 1;
    r->running++;
    j->attempts++;
    if (!j->t0) j->t0 = uv_now(r->a->loop);
    j->errlen = 0;
    j->errtext[0] = 0;
    memset(&j->ex, 0, sizeof j->ex);
    const char *argv[6];
    int argc = 0;
    cp_variant_t *v = &r->var[j->variant];
    if (j->phase == PH_PROBE) {
        argv[argc++] = "test", argv[argc++] = "-d", argv[argc++] = r->rpath;
    } else if (r->upload) {
        argv[argc++] = "tar", argv[argc++] = "xmf", argv[argc++] = "-";
        argv[argc++] = "-C", argv[argc++] = v->dir;
    } else {
        argv[argc++] = "tar", argv[argc++] = "cf", argv[argc++] = "-", argv[argc++] = r->rpath;
        if (j->spool < 0 && (j->spool = make_spool()) < 0) {
            fail_job(j, PMX_EIO, "cannot make a temporary file in $TMPDIR: %s", strerror(errno));
            return;
        }
    }
    pmx_session_opts_t so = {
        .kind = PMX_EXEC,
        .namespace_ = j->ns,
        .pod = j->pod,
        .container = j->container[0] ? j->container : NULL,
        .argv = argv,
        .argc = argc,
        .stdin_ = j->phase == PH_COPY && r->upload,
        .stdout_ = 1,
        .stderr_ = 1,
        .timeout_ms = o->timeout_ms,
    };
    static const pmx_session_cb_t cb = {.on_stdout = on_stdout,
                                        .on_stderr = on_stderr,
                                        .on_exit = on_exit_cb,
                                        .on_drain = on_drain,
                                        .on_close = on_close_cb};
    int rc = pmx_session_start(r->a->c, &so, &cb, j, &j->s);
    if (rc < 0) {
        fail_job(j, rc, "%s", pmx_strerror(rc));
        return;
    }
    if (so.stdin_ && (rc = pmx_transfer_add(v->t, j->s)) < 0) pmx_session_close(j->s);
}

static void start_more(cp_run_t *r)
{
    while (r->next < r->nq && !r->signaled && (!r->o->parallel || r->running < r->o->parallel))
        start_job(r->queue[r->next++]);
    while (r->signaled && r->next < r->nq)
        fail_job(r->queue[r->next++], PMX_ECANCELED, "%s", "canceled");
}

/* ---- extraction (threadpool) ------------------------------------------------------------------
 */

static void do_extract(uv_work_t *w)
{
    cp_job_t *j = w->data;
    cp_run_t *r = j->r;
    j->xrc = -1;
    if (lseek(j->spool, 0, SEEK_SET) < 0) {
        snprintf(j->xerr, sizeof j->xerr, "spool: %s", strerror(errno));
        return;
    }
    j->xrc = cp_extract_fd(j->spool, j->dest, r->rpath, &r->lim, &j->rep, j->xerr, sizeof j->xerr);
}

static void after_extract(uv_work_t *w, int status)
{
    cp_job_t *j = w->data;
    if (status < 0 || j->xrc < 0) {
        j->ex.err = PMX_EPROTO, j->ex.exit_code = -1;
        snprintf(j->message, sizeof j->message, "%s", status < 0 ? "canceled" : j->xerr);
    } else if (j->rep.refused) {
        j->ex.err = PMX_EPROTO, j->ex.exit_code = -1;
        snprintf(j->message, sizeof j->message, "refused %llu unsafe tar entr%s, first %s",
                 (unsigned long long)j->rep.refused, j->rep.refused == 1 ? "y" : "ies",
                 j->rep.first_refused);
    }
    job_done(j);
}

static int mkdirs(char *p)
{
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            int rc = mkdir(p, 0755);
            *s = '/';
            if (rc < 0 && errno != EEXIST) return -1;
        }
    return mkdir(p, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static void finish_download(cp_job_t *j)
{
    cp_run_t *r = j->r;
    if (j->wfail) {
        fail_job(j, PMX_EIO, "%s", "cannot write the temporary file");
        return;
    }
    /* DEST, or DEST/POD, DEST/NS/POD: the parent must exist; the copy itself is made by the
     * extraction, so that a single file lands as DEST like kubectl. */
    if (r->many)
        snprintf(j->dest, sizeof j->dest, "%s/%s%s%s", r->local, r->with_ns ? j->ns : "",
                 r->with_ns ? "/" : "", j->pod);
    else
        snprintf(j->dest, sizeof j->dest, "%s", r->local);
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", j->dest);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = 0;
        if (mkdirs(parent) < 0) {
            fail_job(j, PMX_EIO, "cannot create %s", parent);
            return;
        }
    }
    j->work.data = j;
    if (uv_queue_work(r->a->loop, &j->work, do_extract, after_extract) < 0)
        fail_job(j, PMX_EIO, "%s", "cannot queue the extraction");
}

/* Sending stopped early (a read or a write failed, or stdin cannot be closed alone on an old
 * protocol): the pod's tar would wait for the rest forever, so the session ends. */
static void on_sent(pmx_transfer_t *t, pmx_session_t *s, int err, void *data)
{
    if (err < 0) pmx_session_close(s);
}

/* ---- upload: the tar built once ------------------------------------------------------------- */

static const char *base_name(const char *p, char *buf, size_t len)
{
    snprintf(buf, len, "%s", p);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = 0;
    char *s = strrchr(buf, '/');
    return s && s[1] ? s + 1 : buf;
}

static int build_variant(cp_run_t *r, int v, char *err, size_t errlen)
{
    cp_variant_t *cv = &r->var[v];
    cv->fd = make_spool();
    if (cv->fd < 0)
        return snprintf(err, errlen, "cannot make a temporary file: %s", strerror(errno)), -1;
    char b1[PATH_MAX], b2[PATH_MAX];
    const char *rb = base_name(r->rpath, b2, sizeof b2);
    if (v == 0) {
        snprintf(cv->dir, sizeof cv->dir, "%s", r->rpath);
    } else { /* tar -C dir(PATH) with the copy named base(PATH) */
        snprintf(cv->dir, sizeof cv->dir, "%s", r->rpath);
        size_t n = strlen(cv->dir);
        while (n > 1 && cv->dir[n - 1] == '/')
            cv->dir[--n] = 0;
        char *s = strrchr(cv->dir, '/');
        if (!s)
            snprintf(cv->dir, sizeof cv->dir, ".");
        else if (s == cv->dir)
            s[1] = 0;
        else
            *s = 0;
    }
    cp_tar_t *t = cp_tar_open(cv->fd, err, errlen);
    if (!t) return -1;
    uint64_t bytes = 0;
    for (size_t i = 0; i < r->nsrcs; i++) {
        const char *name = v == 0 ? base_name(r->srcs[i], b1, sizeof b1) : rb;
        if (!strcmp(name, "/") || !strcmp(name, ".") || !strcmp(name, "..")) name = ".";
        if (cp_tar_add(t, r->srcs[i], name, &bytes, err, errlen) < 0) {
            cp_tar_close(t, b1, sizeof b1);
            return -1;
        }
    }
    if (cp_tar_close(t, err, errlen) < 0) return -1;
    struct stat st;
    if (fstat(cv->fd, &st) < 0) return snprintf(err, errlen, "%s", strerror(errno)), -1;
    cv->size = (uint64_t)st.st_size;
    pmx_transfer_opts_t to = {
        .fd = cv->fd, .size = cv->size, .max_lag = r->o->max_lag, .close_stdin = 1};
    static const pmx_transfer_cb_t tcb = {.on_sent = on_sent};
    int rc = pmx_transfer_new(r->a->loop, &to, &tcb, r, &cv->t);
    if (rc < 0) return snprintf(err, errlen, "%s", pmx_strerror(rc)), -1;
    return 0;
}

/* ---- progress and signals -------------------------------------------------------------------- */

static void on_progress(uv_timer_t *h)
{
    cp_run_t *r = h->data;
    uint64_t bytes = r->bytes_done;
    for (size_t i = 0; i < r->njobs; i++) {
        cp_job_t *j = r->jobs[i];
        if (j->finished || !j->s) continue;
        bytes += r->upload ? pmx_transfer_sent(r->var[j->variant].t, j->s) : j->spooled;
    }
    char amount[64], line[200];
    fmt_bytes(bytes, amount, sizeof amount);
    int n = snprintf(line, sizeof line, "\r\033[Kcp: %zu/%zu pods done, %s %s", r->ndone, r->njobs,
                     amount, r->upload ? "sent" : "received");
    if (n > 0 && !cli_out_queued(&r->a->err)) {
        cli_out_write(&r->a->err, line, (size_t)n);
        r->progress_shown = 1;
    }
}

static void on_signal(uv_signal_t *h, int sig)
{
    cp_run_t *r = h->data;
    if (r->signaled) app_exit_now(sig);
    r->signaled = sig;
    for (size_t i = 0; i < r->njobs; i++) {
        cp_job_t *j = r->jobs[i];
        if (j->s) pmx_session_close(j->s);
    }
    start_more(r);
}

/* ---- the command ----------------------------------------------------------------------------- */

/* Runs every unfinished job through one stage; the loop ends with the stage. */
static void run_stage(cp_run_t *r, int phase)
{
    app_t *a = r->a;
    r->nq = r->next = r->running = 0;
    for (size_t i = 0; i < r->njobs; i++)
        if (!r->jobs[i]->finished) r->jobs[i]->phase = phase, r->queue[r->nq++] = r->jobs[i];
    r->left = r->nq;
    if (!r->nq) return;
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < 3; i++)
        app_signal_watch(a, &r->sigs, sigs[i], on_signal, r);
    if (isatty(2) && !r->o->quiet && r->o->output != OUT_JSON) {
        uv_timer_init(a->loop, &r->progress);
        r->progress.data = r;
        uv_timer_start(&r->progress, on_progress, 200, 200);
        r->progress_on = 1;
    }
    start_more(r);
    uv_run(a->loop, UV_RUN_DEFAULT);
}

static int finish(cp_run_t *r)
{
    cli_tally_t t = {0};
    for (size_t i = 0; i < r->ndone; i++)
        cli_tally_add(&t, &r->res[i]->exit);
    int code = cli_exit_code(&t);
    if (r->many && (!r->o->quiet || code))
        app_summary(r->a, (const pmx_fanout_result_t *const *)r->res, r->ndone, 0);
    if (r->signaled) code = 128 + r->signaled;
    return code;
}

static void free_run(cp_run_t *r)
{
    for (size_t i = 0; i < r->njobs; i++) {
        cp_job_t *j = r->jobs[i];
        if (j->spool >= 0) close(j->spool);
        free(j->pend);
        free(j->inflight);
        free(j);
    }
    for (int v = 0; v < 2; v++) {
        if (r->var[v].t) pmx_transfer_free(r->var[v].t);
        if (r->var[v].fd >= 0) close(r->var[v].fd);
    }
    free(r->jobs);
    free(r->queue);
    free(r->res);
    free(r->srcs);
    free(r);
}

int run_cp(app_t *a)
{
    cli_opts_t *o = a->o;
    cp_run_t *r = calloc(1, sizeof *r);
    if (!r) return app_errorf(a, "out of memory"), CLI_EXIT_FAIL;
    r->a = a;
    r->o = o;
    r->var[0].fd = r->var[1].fd = -1;
    r->lim.max_bytes = o->max_bytes ? o->max_bytes : CP_MAX_BYTES;
    r->lim.max_entries = o->max_entries ? o->max_entries : CP_MAX_ENTRIES;
    char err[1024];
    int code = CLI_EXIT_FAIL;
    if (parse_cp_args(r, err, sizeof err) < 0) {
        app_errorf(a, "%s", err);
        goto out;
    }
    r->many = o->selector || o->field_selector || o->all_ns || o->all_pods;
    r->with_ns = o->all_ns;
    if (o->all_ns && o->ntargets) {
        app_errorf(a, "-A/--all-namespaces goes with -l/--field-selector, not a named pod");
        goto out;
    }
    static const targets_cb_t cb = {.on_pod = on_pod, .on_unread = on_unread};
    int failed = targets_resolve(a, &cb, r);
    if (!r->njobs) {
        if (!failed) app_errorf(a, "no pods matched");
        goto out;
    }
    if (r->njobs > 1) r->many = 1;
    r->res = calloc(r->njobs, sizeof *r->res);
    r->queue = calloc(r->njobs, sizeof *r->queue);
    if (!r->res || !r->queue) {
        app_errorf(a, "out of memory");
        goto out;
    }
    if (r->upload) {
        /* Is PATH a directory? Asked (test -d, as kubectl) only when that changes the layout. */
        size_t pl = strlen(r->rpath);
        if (r->nsrcs > 1 || r->rpath[pl - 1] == '/' || !strcmp(r->rpath, "."))
            r->var[0].used = 1;
        else
            run_stage(r, PH_PROBE);
        for (size_t i = 0; i < r->njobs; i++)
            if (!r->jobs[i]->finished && !r->signaled) r->var[r->jobs[i]->variant].used = 1;
        for (int v = 0; v < 2; v++)
            if (r->var[v].used && build_variant(r, v, err, sizeof err) < 0) {
                app_errorf(a, "%s", err);
                goto out;
            }
    }
    if (!r->signaled) run_stage(r, PH_COPY);
    code = finish(r);
    if (failed) code = CLI_EXIT_FAIL;
out:
    free_run(r);
    return code;
}
