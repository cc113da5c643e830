/* auth.c: the credential of one client (docs/PROTOCOL.md §5.4-5.5). Static tokens and basic auth
 * are ready at once; a tokenFile is re-read in libuv's thread pool at most once a minute; exec
 * plugins run through uv_spawn. Whatever is in flight is one "job" that every caller waits
 * for, so a thousand sessions starting together cause one plugin run. */
#include "kube/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/base64.h>

#include "podmux.h"
#include "util/buf.h"

#define AUTH_TOKEN_FILE_TTL_MS 60000 /* client-go's cachedFileTokenSource period */
#define AUTH_MAX_FILE (1u << 20)
#define AUTH_MAX_PLUGIN_OUT (1u << 20)
#define AUTH_DEFAULT_TIMEOUT_MS 60000
/* After the plugin exits, how long its stdout may stay open (a child of the plugin holding
 * it) before what it printed is used anyway. */
#define AUTH_PIPE_GRACE_MS 1000
#define AUTH_ERRLEN 1024
#define ENOTREGULAR (-1) /* slurp: the path is not a regular file (errno values are > 0) */

extern char **environ;

enum { JOB_FILE, JOB_EXEC };

typedef struct job {
    auth_t *a; /* NULL once auth_free let go of it: the job then only cleans up */
    int kind;
} job_t;

typedef struct file_job {
    job_t j;
    uv_work_t work;
    char *path;
    buf_t data;
    int err; /* errno from the worker, or EFBIG */
} file_job_t;

typedef struct exec_job {
    job_t j;
    uv_process_t proc;
    uv_pipe_t out;
    uv_timer_t timer;
    buf_t stdout_;
    int open; /* handles not yet closed */
    int exited, eof, timed_out, overflow, done, term_signal;
    int grace_over; /* exited, and the pipe had AUTH_PIPE_GRACE_MS to reach EOF */
    int64_t exit_status;
} exec_job_t;

typedef struct waiter {
    auth_cb cb;
    void *arg;
} waiter_t;

struct auth {
    uv_loop_t *loop;
    uv_timer_t kick; /* reports a failure that happened inside auth_get on a later turn */
    int no_creds;    /* http:// server: client-go sends no credentials at all */
    int freed, delivering;

    char *inline_token, *token_file, *file_token;
    uint64_t file_read_at; /* uv_now() of the last good read; 0: read it */

    char *command, *api_version, *install_hint;
    char **argv, **env_extra; /* NULL-terminated; env_extra ends with KUBERNETES_EXEC_INFO */
    uint64_t timeout_ms;
    int have_exec_cred, has_expiry;
    int64_t expiry;

    char *authz; /* the current credential */
    char *cert, *key;
    uint64_t generation;

    job_t *job;
    int pending; /* a failure waits for the kick timer */
    int pending_status;
    char pending_err[AUTH_ERRLEN];
    char *setup_err; /* a configuration problem found in auth_new, reported by auth_get */

    waiter_t *waiters, *deliver_list;
    size_t nwait, capwait, ndeliver;
};

/* ---- small helpers ------------------------------------------------------------------- */

static int strneq(const char *x, const char *y)
{
    return (x == NULL) != (y == NULL) || (x && strcmp(x, y));
}

/* Go's net/http refuses such header values; we refuse them before they reach a request. */
static int header_safe(const char *s)
{
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f) return 0;
    return 1;
}

static char *bearer(const char *token)
{
    char *s;
    return asprintf(&s, "Bearer %s", token) < 0 ? NULL : s;
}

static char *b64(const uint8_t *d, size_t len)
{
    size_t olen = 0;
    mbedtls_base64_encode(NULL, 0, &olen, d, len);
    char *s = malloc(olen + 1);
    if (s && mbedtls_base64_encode((unsigned char *)s, olen + 1, &olen, d, len)) {
        free(s);
        return NULL;
    }
    if (s) s[olen] = 0;
    return s;
}

static char *basic(const char *user, const char *pass)
{
    char *raw, *enc, *out = NULL;
    if (asprintf(&raw, "%s:%s", user ? user : "", pass ? pass : "") < 0) return NULL;
    if ((enc = b64((const uint8_t *)raw, strlen(raw))) && asprintf(&out, "Basic %s", enc) < 0)
        out = NULL;
    free(raw);
    free(enc);
    return out;
}

/* Reads a whole small file into b (blocking: used only in auth_new and in the thread pool). */
static int slurp(const char *path, buf_t *b)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; only regular files are read. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return errno;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ENOTREGULAR;
    }
    int e = 0;
    for (;;) {
        if (buf_reserve(b, 4096)) {
            e = EFBIG;
            break;
        }
        ssize_t r = read(fd, b->data + b->len, 4096);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            e = r < 0 ? errno : 0;
            break;
        }
        b->len += (size_t)r;
        b->data[b->len] = 0;
    }
    close(fd);
    return e;
}

/* ---- waiters and delivery ------------------------------------------------------------- */

static void fill(const auth_t *a, auth_cred_t *c)
{
    memset(c, 0, sizeof *c);
    c->authorization = a->authz;
    c->cert_pem = (const uint8_t *)a->cert;
    c->cert_pem_len = a->cert ? strlen(a->cert) : 0;
    c->key_pem = (const uint8_t *)a->key;
    c->key_pem_len = a->key ? strlen(a->key) : 0;
    c->generation = a->generation;
}

static void really_free(auth_t *a);

/* Calls every waiter once. A callback may call auth_get, auth_cancel or auth_free. */
static void deliver(auth_t *a, int status, const char *err)
{
    char msg[AUTH_ERRLEN];
    auth_cred_t cred;
    snprintf(msg, sizeof msg, "%s", err ? err : "");
    fill(a, &cred);
    a->deliver_list = a->waiters;
    a->ndeliver = a->nwait;
    a->waiters = NULL;
    a->nwait = a->capwait = 0;
    a->delivering = 1;
    for (size_t i = 0; i < a->ndeliver && !a->freed; i++) {
        waiter_t w = a->deliver_list[i];
        if (!w.cb) continue;
        a->deliver_list[i].cb = NULL;
        w.cb(w.arg, status, status ? NULL : &cred, status ? msg : NULL);
    }
    a->delivering = 0;
    free(a->deliver_list);
    a->deliver_list = NULL;
    a->ndeliver = 0;
    if (a->freed) really_free(a);
}

static void on_kick(uv_timer_t *t)
{
    auth_t *a = t->data;
    a->pending = 0;
    deliver(a, a->pending_status, a->pending_err);
}

/* A failure found inside auth_get: reported on a later loop turn, never re-entrantly. */
static void fail_later(auth_t *a, int status, const char *msg)
{
    snprintf(a->pending_err, sizeof a->pending_err, "%s", msg);
    a->pending_status = status;
    a->pending = 1;
    uv_timer_start(&a->kick, on_kick, 0, 0);
}

static int add_waiter(auth_t *a, auth_cb cb, void *arg)
{
    if (a->nwait == a->capwait) {
        size_t cap = a->capwait ? a->capwait * 2 : 8;
        waiter_t *w = realloc(a->waiters, cap * sizeof *w);
        if (!w) return PMX_ENOMEM;
        a->waiters = w;
        a->capwait = cap;
    }
    a->waiters[a->nwait++] = (waiter_t){cb, arg};
    return 0;
}

void auth_cancel(auth_t *a, auth_cb cb, void *arg)
{
    size_t o = 0;
    if (!a) return;
    for (size_t i = 0; i < a->nwait; i++)
        if (a->waiters[i].cb != cb || a->waiters[i].arg != arg) a->waiters[o++] = a->waiters[i];
    a->nwait = o;
    for (size_t i = 0; i < a->ndeliver; i++)
        if (a->deliver_list[i].cb == cb && a->deliver_list[i].arg == arg)
            a->deliver_list[i].cb = NULL;
}

/* ---- tokenFile, read in the thread pool ------------------------------------------------ */

static void file_work(uv_work_t *w)
{
    file_job_t *j = w->data;
    j->err = slurp(j->path, &j->data);
}

static void file_result(auth_t *a, file_job_t *j)
{
    char err[AUTH_ERRLEN] = "";
    char *tok = j->data.data ? j->data.data : "";
    size_t len = j->data.len, start = strspn(tok, " \t\r\n\v\f");
    while (len > start && strchr(" \t\r\n\v\f", tok[len - 1]))
        tok[--len] = 0;
    tok += start;
    if (j->err)
        snprintf(err, sizeof err, "failed to read token file \"%s\": %s", a->token_file,
                 j->err == EFBIG         ? "file too large"
                 : j->err == ENOTREGULAR ? "not a regular file"
                                         : strerror(j->err));
    else if (!*tok)
        snprintf(err, sizeof err, "read empty token from file \"%s\"", a->token_file);
    else if (!header_safe(tok))
        snprintf(err, sizeof err, "token file \"%s\" holds characters not allowed in a header",
                 a->token_file);
    if (!err[0] && strneq(tok, a->file_token)) {
        char *copy = strdup(tok), *h = copy ? bearer(copy) : NULL;
        if (!h) {
            free(copy);
            deliver(a, PMX_ENOMEM, "out of memory");
            return;
        }
        free(a->file_token), free(a->authz);
        a->file_token = copy;
        a->authz = h;
        a->generation++;
    }
    if (!err[0] || a->authz) {
        /* The file wins whenever readable; else the last good content, else the inline token
         * (already in authz). Either way, wait a minute before reading again. */
        a->file_read_at = uv_now(a->loop) ? uv_now(a->loop) : 1;
        deliver(a, 0, NULL);
        return;
    }
    deliver(a, PMX_ECREDENTIAL, err);
}

static void file_done(uv_work_t *w, int status)
{
    file_job_t *j = w->data;
    auth_t *a = j->j.a;
    if (a) {
        a->job = NULL;
        if (status == UV_ECANCELED) j->err = ECANCELED;
        file_result(a, j);
    }
    buf_free(&j->data);
    free(j->path);
    free(j);
}

static int start_file_job(auth_t *a)
{
    file_job_t *j = calloc(1, sizeof *j);
    if (!j || !(j->path = strdup(a->token_file))) {
        free(j);
        return PMX_ENOMEM;
    }
    j->j = (job_t){a, JOB_FILE};
    j->work.data = j;
    buf_init(&j->data, AUTH_MAX_FILE);
    int r = uv_queue_work(a->loop, &j->work, file_work, file_done);
    if (r) {
        free(j->path);
        free(j);
        return PMX_EIO;
    }
    a->job = &j->j;
    return 0;
}

/* ---- exec plugins ------------------------------------------------------------------- */

static void exec_closed(uv_handle_t *h)
{
    exec_job_t *j = h->data;
    if (--j->open) return;
    buf_free(&j->stdout_);
    free(j);
}

static void exec_close(exec_job_t *j)
{
    j->open = 3;
    uv_close((uv_handle_t *)&j->proc, exec_closed);
    uv_close((uv_handle_t *)&j->out, exec_closed);
    uv_close((uv_handle_t *)&j->timer, exec_closed);
}

static int install(auth_t *a, auth_exec_cred_t *c, char *err, size_t errlen)
{
    char *h = NULL;
    if (c->token && !header_safe(c->token)) {
        snprintf(err, errlen,
                 "exec plugin returned a token with characters not allowed in a header");
        return PMX_ECREDENTIAL;
    }
    if (c->token && !(h = bearer(c->token))) {
        snprintf(err, errlen, "out of memory");
        return PMX_ENOMEM;
    }
    if (strneq(h, a->authz) || strneq(c->cert_pem, a->cert) || strneq(c->key_pem, a->key))
        a->generation++;
    free(a->authz), free(a->cert), free(a->key);
    a->authz = h;
    a->cert = c->cert_pem;
    a->key = c->key_pem;
    c->cert_pem = c->key_pem = NULL;
    a->have_exec_cred = 1;
    a->has_expiry = c->has_expiry;
    a->expiry = c->expiry;
    return 0;
}

static int exec_result(auth_t *a, exec_job_t *j, char *err, size_t errlen)
{
    if (j->timed_out)
        return snprintf(err, errlen, "exec plugin \"%s\" timed out after %llu ms", a->command,
                        (unsigned long long)a->timeout_ms),
               PMX_ETIMEDOUT;
    if (j->overflow)
        return snprintf(err, errlen, "exec plugin \"%s\" wrote more than %u bytes to stdout",
                        a->command, AUTH_MAX_PLUGIN_OUT),
               PMX_ECREDENTIAL;
    if (j->term_signal)
        return snprintf(err, errlen, "exec: executable %s was killed by signal %d", a->command,
                        j->term_signal),
               PMX_ECREDENTIAL;
    if (j->exit_status)
        return snprintf(err, errlen, "exec: executable %s failed with exit code %lld", a->command,
                        (long long)j->exit_status),
               PMX_ECREDENTIAL;
    auth_exec_cred_t c;
    char why[AUTH_ERRLEN];
    int rc = auth_parse_exec_credential(a->api_version, j->stdout_.data ? j->stdout_.data : "",
                                        j->stdout_.len, &c, why, sizeof why);
    if (rc) { /* client-go's text alone does not say which program is at fault */
        const char *pre = "exec plugin ";
        if (!strncmp(why, pre, strlen(pre)))
            snprintf(err, errlen, "exec plugin \"%.300s\" %.600s", a->command, why + strlen(pre));
        else
            snprintf(err, errlen, "exec plugin \"%.300s\": %.600s", a->command, why);
        return PMX_ECREDENTIAL;
    }
    rc = install(a, &c, err, errlen);
    auth_exec_cred_clear(&c);
    return rc;
}

static void exec_maybe_finish(exec_job_t *j)
{
    /* Wait for exit and EOF; after a kill, or once the plugin has exited and the pipe had its
     * grace, a grandchild holding stdout must not keep us. */
    if (j->done || !j->exited ||
        !(j->eof || j->timed_out || j->overflow || !j->j.a || j->grace_over))
        return;
    j->done = 1;
    uv_timer_stop(&j->timer);
    uv_read_stop((uv_stream_t *)&j->out);
    auth_t *a = j->j.a;
    if (a) {
        char err[AUTH_ERRLEN];
        a->job = NULL;
        int rc = exec_result(a, j, err, sizeof err);
        deliver(a, rc, rc ? err : NULL);
    }
    exec_close(j);
}

static void exec_kill(exec_job_t *j)
{
    if (j->proc.pid <= 0) return; /* never kill(0): that would be our own process group */
    /* The plugin runs in its own process group (UV_PROCESS_DETACHED): kill all of it, so a
     * grandchild holding stdout dies too. */
    uv_kill(-j->proc.pid, SIGKILL);
    if (!j->exited) uv_process_kill(&j->proc, SIGKILL);
}

static void on_grace(uv_timer_t *t)
{
    exec_job_t *j = t->data;
    j->grace_over = 1;
    exec_maybe_finish(j);
}

static void on_exit_(uv_process_t *p, int64_t status, int sig)
{
    exec_job_t *j = p->data;
    j->exited = 1;
    j->exit_status = status;
    j->term_signal = sig;
    /* The plugin is gone but its stdout may still be held by a child it left behind: give the
     * pipe a short grace instead of waiting for the plugin timeout (the exit status is known;
     * no timeout can be due any more). */
    if (!j->eof && !j->timed_out && !j->overflow && j->j.a)
        uv_timer_start(&j->timer, on_grace, AUTH_PIPE_GRACE_MS, 0);
    exec_maybe_finish(j);
}

static void on_timeout(uv_timer_t *t)
{
    exec_job_t *j = t->data;
    j->timed_out = 1;
    exec_kill(j);
    exec_maybe_finish(j);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    exec_job_t *j = h->data;
    size_t room = j->stdout_.limit - j->stdout_.len;
    if (room > 65536) room = 65536;
    if (!room || buf_reserve(&j->stdout_, room)) {
        *buf = uv_buf_init(NULL, 0); /* read_cb gets UV_ENOBUFS */
        return;
    }
    *buf = uv_buf_init(j->stdout_.data + j->stdout_.len, (unsigned)room);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    exec_job_t *j = s->data;
    if (n > 0) {
        j->stdout_.len += (size_t)n;
        j->stdout_.data[j->stdout_.len] = 0;
        return;
    }
    if (n == 0) return;
    if (n == UV_ENOBUFS) {
        j->overflow = 1;
        exec_kill(j);
    }
    j->eof = 1;
    uv_read_stop(s);
    exec_maybe_finish(j);
}

/* The parent environment with the plugin's env entries (and KUBERNETES_EXEC_INFO) replacing
 * variables of the same name, as Go's exec.Cmd does with duplicates. */
static char **exec_env(const auth_t *a)
{
    size_t n = 0, m = 0;
    while (environ && environ[n])
        n++;
    while (a->env_extra[m])
        m++;
    char **env = calloc(n + m + 1, sizeof *env);
    if (!env) return NULL;
    memcpy(env, environ, n * sizeof *env);
    for (size_t i = 0; i < m; i++) {
        const char *e = a->env_extra[i];
        size_t nl = strcspn(e, "="), k = 0;
        while (k < n && !(strncmp(env[k], e, nl) == 0 && env[k][nl] == '='))
            k++;
        env[k] = (char *)e;
        if (k == n) n++;
    }
    return env;
}

static int exec_spawn_error(auth_t *a, int r)
{
    char msg[AUTH_ERRLEN];
    if (r == UV_ENOENT || r == UV_EACCES)
        snprintf(msg, sizeof msg, "exec: executable %s not found%s%s", a->command,
                 a->install_hint ? "\n\n" : "", a->install_hint ? a->install_hint : "");
    else
        snprintf(msg, sizeof msg, "exec: executable %s could not be started: %s", a->command,
                 uv_strerror(r));
    fail_later(a, PMX_ECREDENTIAL, msg);
    return 0;
}

static int start_exec_job(auth_t *a)
{
    exec_job_t *j = calloc(1, sizeof *j);
    char **env = exec_env(a);
    if (!j || !env) {
        free(j);
        free(env);
        return PMX_ENOMEM;
    }
    j->j = (job_t){a, JOB_EXEC};
    j->proc.data = j->out.data = j->timer.data = j;
    buf_init(&j->stdout_, AUTH_MAX_PLUGIN_OUT);
    uv_pipe_init(a->loop, &j->out, 0);
    uv_timer_init(a->loop, &j->timer);
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE}, /* never our stdin: the session may need it (interactive false) */
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&j->out},
        {.flags = UV_INHERIT_FD, .data.fd = 2},
    };
    uv_process_options_t o = {.exit_cb = on_exit_,
                              .file = a->command,
                              .args = a->argv,
                              .env = env,
                              .flags = UV_PROCESS_DETACHED,
                              .stdio_count = 3,
                              .stdio = stdio};
    int r = uv_spawn(a->loop, &j->proc, &o);
    free(env);
    if (r) {
        j->j.a = NULL;
        exec_close(j); /* a failed spawn still leaves the handles to close */
        return exec_spawn_error(a, r);
    }
    uv_read_start((uv_stream_t *)&j->out, on_alloc, on_read);
    uv_timer_start(&j->timer, on_timeout, a->timeout_ms, 0);
    a->job = &j->j;
    return 0;
}

/* ---- setup ------------------------------------------------------------------------------ */

static int json_quoted(buf_t *b, const char *v)
{
    int rc = buf_append_byte(b, '"');
    for (; !rc && *v; v++) {
        unsigned char c = (unsigned char)*v;
        if (c == '"' || c == '\\')
            rc = buf_printf(b, "\\%c", c);
        else if (c < 0x20 || c == '<' || c == '>' || c == '&') /* as Go's encoding/json */
            rc = buf_printf(b, "\\u%04x", c);
        else
            rc = buf_append_byte(b, c);
    }
    return rc ? rc : buf_append_byte(b, '"');
}

static int field(buf_t *b, int *first, const char *key)
{
    int rc = buf_printf(b, "%s\"%s\":", *first ? "" : ",", key);
    *first = 0;
    return rc;
}

/* certificate-authority-data for the plugin, read from the CA file if only a file is set. */
static char *ca_b64(auth_t *a, const kcfg_t *cfg)
{
    if (cfg->ca_data) return b64(cfg->ca_data, cfg->ca_data_len);
    if (!cfg->ca_file) return NULL;
    buf_t ca;
    buf_init(&ca, AUTH_MAX_FILE);
    int e = slurp(cfg->ca_file, &ca);
    char *r = NULL;
    if (e &&
        asprintf(&a->setup_err, "failed to load CA bundle for execProvider: %s: %s", cfg->ca_file,
                 e == EFBIG         ? "file too large"
                 : e == ENOTREGULAR ? "not a regular file"
                                    : strerror(e)) < 0)
        a->setup_err = NULL;
    if (!e) r = b64((const uint8_t *)(ca.data ? ca.data : ""), ca.len);
    buf_free(&ca);
    return r;
}

/* KUBERNETES_EXEC_INFO exactly as client-go writes it (docs/PROTOCOL.md §5.5), field order
 * included. */
static char *exec_info(auth_t *a, const kcfg_t *cfg)
{
    const kcfg_exec_t *x = cfg->exec;
    buf_t b;
    char *cad = NULL;
    int first = 1, rc;
    buf_init(&b, 4 * AUTH_MAX_FILE);
    rc = buf_append_str(&b, "KUBERNETES_EXEC_INFO={\"kind\":\"ExecCredential\",\"apiVersion\":") ||
         json_quoted(&b, x->api_version) || buf_append_str(&b, ",\"spec\":{");
    if (!rc && x->provide_cluster_info) {
        cad = ca_b64(a, cfg);
        rc = buf_append_str(&b, "\"cluster\":{") || field(&b, &first, "server") ||
             json_quoted(&b, cfg->server);
        if (!rc && cfg->tls_server_name)
            rc = field(&b, &first, "tls-server-name") || json_quoted(&b, cfg->tls_server_name);
        if (!rc && cfg->insecure)
            rc = field(&b, &first, "insecure-skip-tls-verify") || buf_append_str(&b, "true");
        if (!rc && cad)
            rc = field(&b, &first, "certificate-authority-data") || json_quoted(&b, cad);
        if (!rc && cfg->proxy_url)
            rc = field(&b, &first, "proxy-url") || json_quoted(&b, cfg->proxy_url);
        if (!rc && x->cluster_config_json)
            rc = field(&b, &first, "config") || buf_append_str(&b, x->cluster_config_json);
        rc = rc || buf_append_str(&b, "},");
    }
    rc = rc || buf_append_str(&b, "\"interactive\":false}}");
    free(cad);
    if (rc) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

/* installHint without ANSI escape sequences (client-go strips them before printing). */
static char *strip_ansi(const char *s)
{
    char *o = malloc(strlen(s) + 1), *d = o;
    if (!o) return NULL;
    while (*s) {
        if (*s == 0x1b && s[1] == '[') {
            s += 2;
            while (*s && !(*s >= 0x40 && *s <= 0x7e))
                s++;
            if (*s) s++;
        } else if (*s == 0x1b) {
            s++;
        } else {
            *d++ = *s++;
        }
    }
    *d = 0;
    return o;
}

static int setup_exec(auth_t *a, const kcfg_t *cfg)
{
    const kcfg_exec_t *x = cfg->exec;
    if (!(a->command = strdup(x->command ? x->command : "")) ||
        !(a->api_version = strdup(x->api_version ? x->api_version : "")) ||
        (x->install_hint && !(a->install_hint = strip_ansi(x->install_hint))) ||
        !(a->argv = calloc(x->nargs + 2, sizeof *a->argv)) ||
        !(a->env_extra = calloc(x->nenv + 2, sizeof *a->env_extra)) ||
        !(a->argv[0] = strdup(a->command)))
        return PMX_ENOMEM;
    for (size_t i = 0; i < x->nargs; i++)
        if (!(a->argv[i + 1] = strdup(x->args[i]))) return PMX_ENOMEM;
    for (size_t i = 0; i < x->nenv; i++)
        if (!(a->env_extra[i] = strdup(x->env[i]))) return PMX_ENOMEM;
    if (!(a->env_extra[x->nenv] = exec_info(a, cfg))) return PMX_ENOMEM;
    /* We never hand the plugin a terminal (our stdin may belong to a session). */
    if (x->interactive_mode && !strcmp(x->interactive_mode, "Always") && !a->setup_err &&
        !(a->setup_err = strdup("exec plugin cannot support interactive mode: standard input is "
                                "unavailable")))
        return PMX_ENOMEM;
    return 0;
}

static int setup(auth_t *a, const kcfg_t *cfg)
{
    /* client-go reads no credential at all unless the transport is TLS (docs/PROTOCOL.md §5.4). */
    if (!cfg->server || strncmp(cfg->server, "https://", 8)) {
        a->no_creds = 1;
        return 0;
    }
    if ((cfg->token && !(a->inline_token = strdup(cfg->token))) ||
        (cfg->token_file && !(a->token_file = strdup(cfg->token_file))))
        return PMX_ENOMEM;
    if (cfg->token && !header_safe(cfg->token)) {
        if (!(a->setup_err = strdup("the token holds characters not allowed in a header")))
            return PMX_ENOMEM;
    } else if (cfg->token) {
        if (!(a->authz = bearer(cfg->token))) return PMX_ENOMEM;
    } else if (cfg->username || cfg->password) {
        if (!(a->authz = basic(cfg->username, cfg->password))) return PMX_ENOMEM;
    }
    return cfg->exec ? setup_exec(a, cfg) : 0;
}

static void free_fields(auth_t *a)
{
    for (size_t i = 0; a->argv && a->argv[i]; i++)
        free(a->argv[i]);
    for (size_t i = 0; a->env_extra && a->env_extra[i]; i++)
        free(a->env_extra[i]);
    free(a->argv), free(a->env_extra), free(a->command), free(a->api_version);
    free(a->install_hint), free(a->inline_token), free(a->token_file), free(a->file_token);
    free(a->authz), free(a->cert), free(a->key), free(a->setup_err), free(a->waiters);
}

int auth_new(uv_loop_t *loop, const kcfg_t *cfg, auth_t **out)
{
    *out = NULL;
    if (!loop || !cfg) return PMX_EINVAL;
    auth_t *a = calloc(1, sizeof *a);
    if (!a) return PMX_ENOMEM;
    a->loop = loop;
    a->timeout_ms = AUTH_DEFAULT_TIMEOUT_MS;
    a->generation = 1;
    int rc = setup(a, cfg);
    if (rc) {
        free_fields(a);
        free(a);
        return rc;
    }
    uv_timer_init(loop, &a->kick);
    a->kick.data = a;
    *out = a;
    return 0;
}

void auth_set_exec_timeout(auth_t *a, uint64_t timeout_ms)
{
    a->timeout_ms = timeout_ms ? timeout_ms : AUTH_DEFAULT_TIMEOUT_MS;
}

static void kick_closed(uv_handle_t *h)
{
    auth_t *a = h->data;
    free_fields(a);
    free(a);
}

static void really_free(auth_t *a)
{
    uv_timer_stop(&a->kick);
    uv_close((uv_handle_t *)&a->kick, kick_closed);
}

void auth_kill_plugin(auth_t *a)
{
    if (a && a->job && a->job->kind == JOB_EXEC) exec_kill((exec_job_t *)a->job);
}

void auth_free(auth_t *a)
{
    if (!a || a->freed) return;
    a->freed = 1;
    job_t *j = a->job;
    a->job = NULL;
    if (j) {
        j->a = NULL; /* the job frees itself when its process exits or its read returns */
        if (j->kind == JOB_EXEC)
            exec_kill((exec_job_t *)j);
        else
            uv_cancel((uv_req_t *)&((file_job_t *)j)->work);
    }
    if (!a->delivering) really_free(a);
}

static int need_refresh(const auth_t *a, int force)
{
    if (a->token_file)
        return force || !a->file_read_at ||
               uv_now(a->loop) - a->file_read_at >= AUTH_TOKEN_FILE_TTL_MS;
    if (a->command)
        return force || !a->have_exec_cred || (a->has_expiry && (int64_t)time(NULL) >= a->expiry);
    return 0;
}

int auth_get(auth_t *a, int force_refresh, auth_cb cb, void *arg, auth_cred_t *cred)
{
    if (!a || a->freed) return PMX_EINVAL;
    if (a->no_creds ||
        (!a->job && !a->pending && !a->setup_err && !need_refresh(a, force_refresh))) {
        if (cred) fill(a, cred);
        return 1;
    }
    if (!cb) return PMX_EINVAL;
    if (!a->job && !a->pending) {
        int rc = 0;
        if (a->setup_err)
            fail_later(a, PMX_ECONFIG, a->setup_err);
        else
            rc = a->token_file ? start_file_job(a) : start_exec_job(a);
        if (rc) return rc;
    }
    return add_waiter(a, cb, arg);
}
