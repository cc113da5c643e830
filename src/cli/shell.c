/* shell: one interactive session per pod, all on one loop, typing once.
 *
 * Targets are resolved as the fan-out does (named pods, workloads, -l/--field-selector; pods
 * not Running are left out with a note), then each pod gets its own pmx_session_t rather than a
 * pmx_fanout_t, because input may go to one focused session and each tty has its own size.
 * Layout "lines": no tty, output lines prefixed with the pod (lines.c's prefixer, so two pods
 * never mix inside a line); the local terminal stays in cooked mode and each typed line goes
 * to every session, or to the focused one; a line starting with Ctrl-b is a command for us
 * (Ctrl-b N focus, Ctrl-b b broadcast, Ctrl-b d detach, Ctrl-b ? help). Layout "panes": see
 * shell_panes.c. The exit code follows the fan-out rules (lines.c's tally). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shell.h"
#include "targets.h"

#define SESSION_HIGH (1024u * 1024)
#define SESSION_LOW (256u * 1024)
#define LINE_LIMIT (64u * 1024)
#define MAX_SESSIONS 256
static const char LINES_HELP[] =
    "podmux shell: each line goes to every pod (broadcast) or to the focused one.\n"
    "  %-3s N Enter   focus pod N (0-based, as numbered below); broadcast goes off\n"
    "  %-3s b Enter   toggle broadcast\n"
    "  %-3s d Enter   detach: close every session\n"
    "  %-3s ? Enter   this help\n";

int shell_wanted(const cli_opts_t *o)
{
    if (o->cmd == CMD_SHELL) return 1;
    if (o->cmd != CMD_EXEC && o->cmd != CMD_ATTACH) return 0;
    return o->tty && o->stdin_ &&
           (o->ntargets > 1 || o->selector || o->field_selector || o->all_pods);
}

/* ---- targets ------------------------------------------------------------------------------ */
static void add_target(shell_t *sh, const char *ns, const char *pod, const char *container)
{
    for (size_t i = 0; i < sh->n; i++) /* the same pod named twice runs once */
        if (!strcmp(sh->ss[i].ns, ns) && !strcmp(sh->ss[i].pod, pod)) return;
    if (sh->n == MAX_SESSIONS) {
        app_errorf(sh->a, "more than %d pods: %s left out", MAX_SESSIONS, pod);
        return;
    }
    if (sh->n == sh->cap) {
        size_t cap = sh->cap ? sh->cap * 2 : 16;
        sh_sess_t *nx = realloc(sh->ss, cap * sizeof *nx);
        if (!nx) return (void)sh->resolve_failed++;
        sh->ss = nx, sh->cap = cap;
    }
    sh_sess_t *x = &sh->ss[sh->n];
    memset(x, 0, sizeof *x);
    x->ns = strdup(ns);
    x->pod = strdup(pod);
    x->container = container ? strdup(container) : NULL;
    if (!x->ns || !x->pod || (container && !x->container)) {
        free(x->ns), free(x->pod), free(x->container);
        sh->resolve_failed++;
        return;
    }
    sh->n++;
}

/* A pod a lookup found: one not Running is left out with a note. */
static void add_pod(void *ctx, const pmx_pod_t *p)
{
    shell_t *sh = ctx;
    if (strcmp(p->phase, "Running") || p->deleting) {
        if (!sh->a->o->quiet)
            app_notef(sh->a, "podmux: %s left out (%s)", p->name,
                      p->deleting ? "terminating" : p->phase);
        return;
    }
    const char *c = sh->a->o->container ? sh->a->o->container : pmx_default_container(p);
    add_target(sh, p->namespace_, p->name, c);
}

/* A named pod that could not be read: its session reports the server's error, as in a
 * fan-out. */
static void on_unread(void *ctx, const char *ns, const char *pod)
{
    shell_t *sh = ctx;
    add_target(sh, ns, pod, sh->a->o->container);
}

static int by_name(const void *pa, const void *pb)
{
    const sh_sess_t *a = pa, *b = pb;
    int c = strcmp(a->ns, b->ns);
    return c ? c : strcmp(a->pod, b->pod);
}

static void resolve_all(shell_t *sh)
{
    static const targets_cb_t cb = {.on_pod = add_pod, .on_unread = on_unread};
    sh->resolve_failed += targets_resolve(sh->a, &cb, sh);
    if (sh->n > 1) qsort(sh->ss, sh->n, sizeof *sh->ss, by_name); /* stable pane order */
    for (size_t i = 0; i < sh->n; i++)
        sh->ss[i].sh = sh, sh->ss[i].idx = i;
}

/* ---- sessions ----------------------------------------------------------------------------- */
static int out_write(void *ctx, int fd, const char *buf, size_t len)
{
    shell_t *sh = ctx;
    return cli_out_write(fd == 2 ? &sh->a->err : &sh->a->out, buf, len);
}

/* A pane's emulation takes both streams; lines keep them apart, each with its prefix. */
static void output(sh_sess_t *x, cli_prefixer_t *p, const char *buf, size_t len)
{
    if (x->sh->panes)
        shp_output(x, buf, len);
    else
        cli_prefixer_feed(p, buf, len);
}

static void on_stdout(pmx_session_t *s, const char *buf, size_t len, void *data)
{
    sh_sess_t *x = data;
    output(x, &x->po, buf, len);
}

static void on_stderr(pmx_session_t *s, const char *buf, size_t len, void *data)
{
    sh_sess_t *x = data;
    output(x, &x->pe, buf, len);
}

static void on_exit_cb(pmx_session_t *s, const pmx_exit_t *ex, void *data)
{
    sh_sess_t *x = data;
    x->ex = *ex;
    snprintf(x->msg, sizeof x->msg, "%s", ex->message ? ex->message : "");
    cli_strip_status(x->msg);
    x->ex.message = x->msg;
    x->ex.reason = "";
    x->ended = 1;
    if (x->sh->panes) {
        shp_changed(x->sh);
    } else {
        cli_prefixer_flush(&x->po);
        cli_prefixer_flush(&x->pe);
        /* Panes show it in the status line; lines say at once that a pod failed to go on. */
        if (x->ex.err && x->ex.err != PMX_ECANCELED) {
            char text[600];
            app_notef(x->sh->a, "podmux: %s: %s", x->pod, cli_exit_text(&x->ex, text, sizeof text));
        }
    }
}

static void teardown(shell_t *sh)
{
    if (sh->torn_down) return;
    sh->torn_down = 1;
    if (sh->panes) shp_end(sh);
    app_watch_end(sh->a, &sh->sigs, sh->have_in ? &sh->in : NULL);
}

static void on_close(pmx_session_t *s, void *data)
{
    sh_sess_t *x = data;
    x->s = NULL;
    if (--x->sh->open == 0) teardown(x->sh);
}

static void on_drain(pmx_session_t *s, void *data)
{
    sh_sess_t *x = data;
    shell_t *sh = x->sh;
    x->above_high = 0;
    for (size_t i = 0; i < sh->n; i++)
        if (sh->ss[i].above_high) return;
    if (sh->in_stopped && sh->have_in && !sh->torn_down) {
        sh->in_stopped = 0;
        cli_in_start(&sh->in);
    }
}

static const pmx_session_cb_t CB = {
    .on_stdout = on_stdout,
    .on_stderr = on_stderr,
    .on_exit = on_exit_cb,
    .on_drain = on_drain,
    .on_close = on_close,
};

static void make_prefix(shell_t *sh, sh_sess_t *x)
{
    char pre[600];
    cli_prefix_text(x->pod, x->idx, app_color_wanted(sh->a), pre, sizeof pre);
    x->prefix = strdup(pre);
    cli_prefixer_init(&x->po, x->prefix ? x->prefix : "", 1, LINE_LIMIT, out_write, sh);
    cli_prefixer_init(&x->pe, x->prefix ? x->prefix : "", 2, LINE_LIMIT, out_write, sh);
}

static void start_one(shell_t *sh, sh_sess_t *x)
{
    static const char *const DEFAULT_CMD[] = {"sh"};
    cli_opts_t *o = sh->a->o;
    int has_cmd = o->argc > 0 && o->cmd != CMD_ATTACH;
    pmx_session_opts_t so = {
        .kind = o->cmd == CMD_ATTACH ? PMX_ATTACH : PMX_EXEC,
        .namespace_ = x->ns,
        .pod = x->pod,
        .container = x->container,
        .argv = has_cmd ? (const char *const *)o->argv : DEFAULT_CMD,
        .argc = o->cmd == CMD_ATTACH ? 0
                : has_cmd            ? o->argc
                                     : 1,
        .stdin_ = 1,
        .stdout_ = 1,
        .stderr_ = !sh->panes, /* a tty has no stderr channel */
        .tty = sh->panes,
        .timeout_ms = o->timeout_ms,
        .stdin_high_water = SESSION_HIGH,
        .stdin_low_water = SESSION_LOW,
    };
    if (sh->panes)
        shp_pane_size(sh, x->idx, &so.width, &so.height);
    else
        make_prefix(sh, x);
    int rc = pmx_session_start(sh->a->c, &so, &CB, x, &x->s);
    if (rc < 0) {
        x->s = NULL;
        x->ended = 1;
        x->ex.err = rc;
        x->ex.exit_code = -1;
        x->ex.message = x->msg;
        x->ex.reason = "";
        snprintf(x->msg, sizeof x->msg, "%s", pmx_strerror(rc));
        return;
    }
    sh->open++;
}

/* ---- input -------------------------------------------------------------------------------- */
static void write_one(shell_t *sh, sh_sess_t *x, const char *buf, size_t len)
{
    if (!x->s || x->ended) return;
    long q = pmx_session_write(x->s, buf, len);
    if (q > (long)SESSION_HIGH && !x->above_high) {
        x->above_high = 1;
        if (sh->have_in && !sh->in_stopped) {
            sh->in_stopped = 1;
            cli_in_stop(&sh->in);
        }
    }
}

void shell_send(shell_t *sh, const char *buf, size_t len)
{
    if (!len) return;
    if (!sh->broadcast) {
        if (sh->focus < sh->n) write_one(sh, &sh->ss[sh->focus], buf, len);
        return;
    }
    for (size_t i = 0; i < sh->n; i++)
        write_one(sh, &sh->ss[i], buf, len);
}

void shell_close_all(shell_t *sh)
{
    for (size_t i = 0; i < sh->n; i++)
        if (sh->ss[i].s) pmx_session_close(sh->ss[i].s);
}

size_t shell_status_text(shell_t *sh, char *out, size_t len)
{
    size_t w = 0;
    const char *fp = sh->focus < sh->n ? sh->ss[sh->focus].pod : "-";
    int n = snprintf(out, len, " %s ? help | focus %zu:%s | broadcast %s", sh->prefix_name,
                     sh->focus, fp, sh->broadcast ? "ON" : "off");
    if (n < 0) return 0;
    w = (size_t)n < len ? (size_t)n : len - 1;
    int first = 1;
    for (size_t i = 0; i < sh->n && w + 1 < len; i++) {
        sh_sess_t *x = &sh->ss[i];
        if (!x->ended) continue;
        char code[32];
        if (x->ex.err == 0)
            snprintf(code, sizeof code, "%d", x->ex.exit_code);
        else
            snprintf(code, sizeof code, "%s", pmx_err_name(x->ex.err) + 5);
        n = snprintf(out + w, len - w, "%s%s(%s)", first ? " | ended: " : " ", x->pod, code);
        if (n < 0) break;
        w += (size_t)n < len - w ? (size_t)n : len - w - 1;
        first = 0;
    }
    return w;
}

static void lines_note(shell_t *sh)
{
    if (sh->broadcast)
        app_notef(sh->a, "podmux: input goes to all %zu pods (%s ? Enter: help)", sh->n,
                  sh->prefix_name);
    else
        app_notef(sh->a, "podmux: input goes to %zu:%s (%s ? Enter: help)", sh->focus,
                  sh->ss[sh->focus].pod, sh->prefix_name);
}

static void lines_help(shell_t *sh)
{
    char text[sizeof LINES_HELP + 16];
    const char *k = sh->prefix_name;
    int tn = snprintf(text, sizeof text, LINES_HELP, k, k, k, k);
    if (tn > 0) cli_out_write(&sh->a->err, text, (size_t)tn < sizeof text ? (size_t)tn : 0);
    for (size_t i = 0; i < sh->n; i++)
        app_notef(sh->a, "  %zu: %s%s", i, sh->ss[i].pod, sh->ss[i].ended ? " (ended)" : "");
    lines_note(sh);
}

static int is_number(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

/* A typed line that starts with Ctrl-b: a command for podmux, not for the pods. */
static void lines_command(shell_t *sh, const char *cmd, size_t len)
{
    while (len && (cmd[len - 1] == '\n' || cmd[len - 1] == '\r'))
        len--;
    if (len == 1 && cmd[0] == 'b') {
        sh->broadcast = !sh->broadcast;
        lines_note(sh);
    } else if (len == 1 && cmd[0] == 'd') {
        sh->detached = 1;
        shell_close_all(sh);
    } else if (len >= 1 && len <= 3 && is_number(cmd, len)) {
        size_t k = 0;
        for (size_t i = 0; i < len; i++) /* the line is not NUL-terminated */
            k = k * 10 + (size_t)(cmd[i] - '0');
        if (k < sh->n) {
            sh->focus = k;
            sh->broadcast = 0;
        }
        lines_note(sh);
    } else {
        lines_help(sh);
    }
}

static void lines_line(shell_t *sh, const char *l, size_t len)
{
    if (len && l[0] == sh->prefix)
        lines_command(sh, l + 1, len - 1);
    else
        shell_send(sh, l, len);
}

static void lines_input(shell_t *sh, const char *buf, size_t len)
{
    while (len) {
        const char *nl = memchr(buf, '\n', len);
        size_t seg = nl ? (size_t)(nl - buf) + 1 : len;
        if (buf_append(&sh->line, buf, seg) < 0) { /* longer than the bound: pass it on */
            shell_send(sh, sh->line.data, sh->line.len);
            buf_reset(&sh->line);
            shell_send(sh, buf, seg);
        } else if (nl) {
            lines_line(sh, sh->line.data, sh->line.len);
            buf_reset(&sh->line);
        }
        buf += seg, len -= seg;
    }
}

static void on_stdin(void *ctx, const char *buf, size_t len)
{
    shell_t *sh = ctx;
    if (sh->torn_down) return;
    if (!buf) { /* EOF: the shells read theirs and end */
        if (sh->line.len) lines_line(sh, sh->line.data, sh->line.len);
        buf_reset(&sh->line);
        for (size_t i = 0; i < sh->n; i++)
            if (sh->ss[i].s && pmx_session_close_stdin(sh->ss[i].s) == PMX_ENOTSUP)
                pmx_session_close(sh->ss[i].s);
        return;
    }
    if (sh->panes)
        shp_keys(sh, buf, len);
    else
        lines_input(sh, buf, len);
}

/* ---- signals, output pressure ------------------------------------------------------------- */
static void on_signal(uv_signal_t *h, int sig)
{
    shell_t *sh = h->data;
    if (sig == SIGWINCH) {
        if (sh->panes) shp_winch(sh);
        return;
    }
    if (sh->signaled) app_exit_now(sig); /* second signal: stop waiting for the server */
    sh->signaled = sig;
    shell_close_all(sh);
}

static void watch_signal(shell_t *sh, int sig)
{
    app_signal_watch(sh->a, &sh->sigs, sig, on_signal, sh);
}

static void on_pressure(void *ctx, int above)
{
    shell_t *sh = ctx;
    for (size_t i = 0; i < sh->n; i++) {
        if (!sh->ss[i].s) continue;
        if (above)
            pmx_session_pause(sh->ss[i].s);
        else
            pmx_session_resume(sh->ss[i].s);
    }
}

static void on_out_error(void *ctx, int err)
{
    shell_close_all(ctx); /* our reader went away: nothing to deliver to */
}

/* ---- the run ------------------------------------------------------------------------------ */
static int choose_layout(shell_t *sh)
{
    const char *l = sh->a->o->layout;
    if (l && strcmp(l, "lines") && strcmp(l, "panes")) {
        app_errorf(sh->a, "invalid argument \"%s\" for \"--layout\" flag (lines or panes)", l);
        return -1;
    }
    if (l && !strcmp(l, "lines")) return 0;
    /* Panes need both ends to be a terminal; a pipe or a file gets lines. */
    if (!sh->a->out.io.is_tty || !sh->have_in || !sh->in.io.is_tty) return 0;
    sh->panes = 1;
    if (shp_begin(sh) < 0) {
        sh->panes = 0;
        if (l && !sh->a->o->quiet)
            app_notef(sh->a, "podmux: the terminal is too small for %zu panes; using lines", sh->n);
    }
    return 0;
}

static int final_code(shell_t *sh)
{
    cli_tally_t t = {.detached = sh->detached};
    pmx_fanout_result_t *res = calloc(sh->n, sizeof *res);
    const pmx_fanout_result_t **rp = calloc(sh->n, sizeof *rp);
    for (size_t i = 0; i < sh->n; i++) {
        sh_sess_t *x = &sh->ss[i];
        if (!x->ended) x->ex.err = PMX_ECANCELED, x->ex.exit_code = -1;
        cli_tally_add(&t, &x->ex);
        if (!res || !rp) continue;
        res[i] = (pmx_fanout_result_t){.index = i,
                                       .namespace_ = x->ns,
                                       .pod = x->pod,
                                       .container = x->container,
                                       .exit = x->ex,
                                       .attempts = 1};
        rp[i] = &res[i];
    }
    int all_ok = t.ok + (sh->detached ? t.canceled : 0) == sh->n && !sh->resolve_failed;
    if (res && rp && (!all_ok || !sh->a->o->quiet)) app_summary(sh->a, rp, sh->n, 0);
    free(res);
    free(rp);
    int code = cli_exit_code(&t);
    if (sh->resolve_failed) code = CLI_EXIT_FAIL;
    if (sh->signaled) code = 128 + sh->signaled;
    return code;
}

static void free_shell(shell_t *sh)
{
    for (size_t i = 0; i < sh->n; i++) {
        sh_sess_t *x = &sh->ss[i];
        cli_prefixer_free(&x->po);
        cli_prefixer_free(&x->pe);
        free(x->ns), free(x->pod), free(x->container), free(x->prefix);
    }
    free(sh->ss);
    buf_free(&sh->line);
    if (sh->have_in) cli_in_restore(&sh->in);
}

static int run_sessions(shell_t *sh)
{
    app_t *a = sh->a;
    if (choose_layout(sh) < 0) return CLI_EXIT_FAIL;
    for (size_t i = 0; i < sh->n; i++)
        start_one(sh, &sh->ss[i]);
    if (sh->panes) shp_changed(sh);
    if (!sh->open) { /* nothing could start */
        teardown(sh);
        uv_run(a->loop, UV_RUN_DEFAULT);
        return final_code(sh);
    }
    if (sh->panes) {
        watch_signal(sh, SIGWINCH);
    } else {
        watch_signal(sh, SIGINT);
        if (!a->o->quiet && sh->have_in && sh->in.io.is_tty) lines_note(sh);
    }
    watch_signal(sh, SIGTERM);
    watch_signal(sh, SIGHUP);
    app_hook_output(a, on_pressure, on_out_error, sh);
    if (sh->have_in) cli_in_start(&sh->in);
    uv_run(a->loop, UV_RUN_DEFAULT);
    app_unhook_output(a);
    return final_code(sh);
}

int run_shell(app_t *a)
{
    shell_t *sh = calloc(1, sizeof *sh);
    if (!sh) return app_errorf(a, "out of memory"), CLI_EXIT_FAIL;
    sh->a = a;
    sh->broadcast = 1; /* typing once is the point */
    char err[400] = "";
    sh->prefix = cli_shell_prefix(a->o->prefix_key, getenv("PODMUX_PREFIX"), getenv("TMUX"),
                                  getenv("STY"), err, sizeof err);
    if (sh->prefix < 0) {
        free(sh);
        app_errorf(a, "%s", err);
        return CLI_EXIT_FAIL;
    }
    cli_ctrl_key_name(sh->prefix, sh->prefix_name, sizeof sh->prefix_name);
    buf_init(&sh->line, LINE_LIMIT);
    resolve_all(sh);
    int code;
    if (sh->n == 0) {
        app_errorf(a, "no pods matched");
        code = CLI_EXIT_FAIL;
    } else {
        if (cli_in_init(&sh->in, a->loop, 0, on_stdin, sh) == 0) sh->have_in = 1;
        code = run_sessions(sh);
    }
    free_shell(sh);
    free(sh);
    return code;
}
