/* single: one exec/attach session wired to our terminal or pipes.
 *
 * stdin -> pmx_session_write, stopped above the session's high-water mark and restarted by
 * on_drain; EOF -> pmx_session_close_stdin. stdout/stderr are kept apart and byte-exact, and a
 * slow reader of either pauses the session (io.c's bounded queues). With -t on a terminal the
 * terminal is raw, SIGWINCH resizes the remote tty and ssh's escapes (~. ~? ~~) are honoured;
 * otherwise SIGINT/SIGTERM/SIGHUP close the session (the server then ends the process) and we
 * exit 128+signal. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "term.h"

#define SESSION_HIGH (1024u * 1024)
#define SESSION_LOW (256u * 1024)

typedef struct single {
    app_t *a;
    const single_target_t *t;
    pmx_session_t *s;
    cli_in_t in;
    int have_in, in_eof, in_waiting_drain;
    int raw;
    cli_escape_t esc;
    char *escbuf;
    app_signals_t sigs;
    int pressure; /* output streams above their high mark */
    int signaled, disconnected, done;
    /* With a tty, ending the session first types the interrupt character (the kubelet does not
     * end the remote command when the stream goes away): intr sends it before --timeout,
     * intr_close closes the session a moment after a signal sent it. */
    uv_timer_t intr, intr_close;
    int timers, intr_sent;
    /* --retries: a session that failed before its command could have started is started again
     * (the fan-out's rule), unless stdin was already read. */
    pmx_session_opts_t so;
    uv_timer_t retry;
    unsigned attempts;
    int retry_due, stdin_read;
    pmx_exit_t ex;
    char message[1024];
} single_t;

/* How long the remote command has between the interrupt character and the close. */
#define INTR_GRACE_MS 250

static const char ESCAPE_HELP[] =
    "Supported escape sequences:\r\n"
    " %c.   - terminate connection\r\n"
    " %c?   - this message\r\n"
    " %c%c   - send the escape character by typing it twice\r\n"
    "(Note that escapes are only recognized immediately after newline.)\r\n";

static void on_stdout(pmx_session_t *s, const char *buf, size_t len, void *data)
{
    single_t *x = data;
    cli_out_write(&x->a->out, buf, len);
}

static void on_stderr(pmx_session_t *s, const char *buf, size_t len, void *data)
{
    single_t *x = data;
    cli_out_write(&x->a->err, buf, len);
}

static void on_drain(pmx_session_t *s, void *data)
{
    single_t *x = data;
    if (x->in_waiting_drain) {
        x->in_waiting_drain = 0;
        cli_in_start(&x->in);
    }
}

static void on_retry(uv_timer_t *h);

static void on_exit_cb(pmx_session_t *s, const pmx_exit_t *ex, void *data)
{
    single_t *x = data;
    cli_opts_t *o = x->a->o;
    if (x->attempts <= o->retries && pmx_exit_retryable(ex) && !x->signaled && !x->disconnected &&
        !x->stdin_read && x->timers) {
        /* 500 ms, doubled per attempt, at most 30 s; a longer Retry-After wins. */
        uint64_t ms = 500ull << (x->attempts - 1 < 6 ? x->attempts - 1 : 6);
        if (ms > 30000) ms = 30000;
        if (ex->retry_after * 1000.0 > (double)ms) ms = (uint64_t)(ex->retry_after * 1000.0);
        if (!o->quiet)
            app_notef(x->a, "podmux: attempt %u failed (%s), retrying in %.1f s", x->attempts,
                      ex->message && *ex->message ? ex->message : pmx_strerror(ex->err),
                      (double)ms / 1000.0);
        x->retry_due = 1;
        uv_timer_start(&x->retry, on_retry, ms, 0);
        return;
    }
    x->ex = *ex;
    snprintf(x->message, sizeof x->message, "%s", ex->message ? ex->message : "");
    x->ex.message = x->message;
    x->ex.reason = "";
    x->done = 1;
}

static void teardown(single_t *x)
{
    if (x->timers) {
        uv_close((uv_handle_t *)&x->intr, NULL);
        uv_close((uv_handle_t *)&x->intr_close, NULL);
        uv_close((uv_handle_t *)&x->retry, NULL);
        x->timers = 0;
    }
    app_watch_end(x->a, &x->sigs, x->have_in ? &x->in : NULL);
}

static void on_close(pmx_session_t *s, void *data)
{
    single_t *x = data;
    x->s = NULL;
    if (!x->retry_due) teardown(x); /* else on_retry starts the next attempt */
}

static const pmx_session_cb_t CB;

static void on_retry(uv_timer_t *h)
{
    single_t *x = h->data;
    x->retry_due = 0;
    x->attempts++;
    int rc = pmx_session_start(x->a->c, &x->so, &CB, x, &x->s);
    if (rc < 0) {
        x->ex.err = rc;
        x->ex.message = "";
        teardown(x);
    }
}

static const pmx_session_cb_t CB = {
    .on_stdout = on_stdout,
    .on_stderr = on_stderr,
    .on_exit = on_exit_cb,
    .on_drain = on_drain,
    .on_close = on_close,
};

static void send_stdin(single_t *x, const char *buf, size_t len)
{
    if (len) x->stdin_read = 1; /* from now on, a retry could not give the pod these bytes */
    if (!x->s || !len) return;
    long q = pmx_session_write(x->s, buf, len);
    if (q > (long)SESSION_HIGH) {
        x->in_waiting_drain = 1;
        cli_in_stop(&x->in);
    }
}

static void escape_help(single_t *x)
{
    char text[sizeof ESCAPE_HELP + 8];
    int c = x->esc.ch;
    int n = snprintf(text, sizeof text, ESCAPE_HELP, c, c, c, c);
    if (n > 0) cli_out_write(&x->a->err, text, (size_t)n);
}

static void on_stdin(void *ctx, const char *buf, size_t len)
{
    single_t *x = ctx;
    if (!buf) { /* EOF: interactive tty sessions never close stdin (kubectl) */
        x->in_eof = 1;
        if (x->s && !x->raw && pmx_session_close_stdin(x->s) == PMX_ENOTSUP && !x->a->o->quiet)
            app_errorf(x->a,
                       "warning: the server's protocol (%s) cannot close stdin alone; the "
                       "session ends once the output has been quiet for --eof-grace",
                       pmx_session_protocol(x->s) ? pmx_session_protocol(x->s) : "?");
        return;
    }
    if (!x->raw || x->esc.ch < 0) {
        send_stdin(x, buf, len);
        return;
    }
    while (len && x->s) {
        size_t used;
        int action;
        size_t n = cli_escape_feed(&x->esc, buf, len, x->escbuf, &used, &action);
        send_stdin(x, x->escbuf, n);
        buf += used, len -= used;
        if (action == ESC_HELP) escape_help(x);
        if (action == ESC_DISCONNECT) {
            x->disconnected = 1;
            pmx_session_close(x->s);
        }
    }
}

/* The size of the terminal we draw on: stdout's, else stdin's. */
static int window_size(single_t *x, unsigned *w, unsigned *h)
{
    int iw = 0, ih = 0, rc = -1;
    if (x->a->out.io.is_tty)
        rc = uv_tty_get_winsize(&x->a->out.io.h.tty, &iw, &ih);
    else if (x->have_in && x->in.io.is_tty)
        rc = uv_tty_get_winsize(&x->in.io.h.tty, &iw, &ih);
    if (rc == 0 && iw > 0 && ih > 0) {
        *w = (unsigned)iw, *h = (unsigned)ih;
        return 0;
    }
    return term_winsize(x->a->out.io.is_tty ? 1 : 0, w, h);
}

/* Types the interrupt character into the remote tty, once. Returns 1 when it was sent. */
static int send_intr(single_t *x)
{
    if (!x->s || x->intr_sent) return 0;
    char c = (char)term_intr_char();
    x->intr_sent = 1;
    return pmx_session_write(x->s, &c, 1) >= 0;
}

static void on_intr(uv_timer_t *h)
{
    send_intr(h->data); /* --timeout closes the session INTR_GRACE_MS later */
}

static void on_intr_close(uv_timer_t *h)
{
    single_t *x = h->data;
    if (x->s) pmx_session_close(x->s);
}

static void on_signal(uv_signal_t *h, int sig)
{
    single_t *x = h->data;
    if (sig == SIGWINCH) {
        unsigned w, hgt;
        if (x->s && window_size(x, &w, &hgt) == 0) pmx_session_resize(x->s, w, hgt);
        return;
    }
    if (x->signaled) app_exit_now(sig); /* second signal: stop waiting for the server */
    x->signaled = sig;
    if (x->retry_due) { /* between attempts: nothing runs */
        x->retry_due = 0;
        uv_timer_stop(&x->retry);
        teardown(x);
        return;
    }
    if (!x->s) return;
    if (x->t->tty && send_intr(x)) /* the remote command's turn to end, then close */
        uv_timer_start(&x->intr_close, on_intr_close, INTR_GRACE_MS, 0);
    else
        pmx_session_close(x->s);
}

static void watch_signal(single_t *x, int sig)
{
    app_signal_watch(x->a, &x->sigs, sig, on_signal, x);
}

static void on_pressure(void *ctx, int above)
{
    single_t *x = ctx;
    x->pressure += above ? 1 : -1;
    if (!x->s) return;
    if (above && x->pressure == 1) pmx_session_pause(x->s);
    if (!above && x->pressure == 0) pmx_session_resume(x->s);
}

static void on_out_error(void *ctx, int err)
{
    single_t *x = ctx;
    if (x->s) pmx_session_close(x->s); /* our reader went away (EPIPE): nothing to deliver to */
}

/* Raw mode, escapes and the initial size when -t and stdin is a terminal. */
static int setup_tty(single_t *x, pmx_session_opts_t *so)
{
    if (!x->t->tty) return 0;
    unsigned w = 0, h = 0;
    if (window_size(x, &w, &h) == 0) so->width = w, so->height = h;
    if (!x->have_in || !x->in.io.is_tty) return 0;
    if (term_raw_begin(&x->in.io.h.tty) < 0) return 0;
    x->raw = x->a->raw = 1;
    cli_escape_init(&x->esc, x->a->o->escape_char);
    x->escbuf = malloc(64 * 1024 + 1);
    if (!x->escbuf) x->esc.ch = -1;
    return 0;
}

static int final_code(single_t *x)
{
    app_t *a = x->a;
    if (x->signaled) {
        /* The remote prompt or a partial line may be on screen: the local prompt goes below. */
        if (x->raw) cli_out_write(&a->err, "\r\n", 2);
        return 128 + x->signaled;
    }
    if (x->a->out.error == UV_EPIPE) return 128 + SIGPIPE;
    if (x->disconnected) {
        app_errorf(a, "disconnected (%c.)", x->esc.ch);
        return CLI_EXIT_FAIL;
    }
    if (x->ex.err == 0) {
        if (x->ex.exit_code && a->o->verbose)
            app_errorf(a, "command terminated with exit code %d", x->ex.exit_code);
        return x->ex.exit_code;
    }
    char line[1400];
    app_failure_line(a, &x->ex, line, sizeof line);
    app_errorf(a, "%s", line);
    return CLI_EXIT_FAIL;
}

int run_single(app_t *a, const single_target_t *t)
{
    single_t x;
    memset(&x, 0, sizeof x);
    x.a = a;
    x.t = t;
    x.ex.err = PMX_ECANCELED;
    cli_opts_t *o = a->o;
    pmx_session_opts_t so = {
        .kind = o->cmd == CMD_ATTACH ? PMX_ATTACH : PMX_EXEC,
        .namespace_ = t->ns,
        .pod = t->pod,
        .container = t->container,
        .argv = (const char *const *)o->argv,
        .argc = o->cmd == CMD_EXEC ? o->argc : 0,
        .stdin_ = t->stdin_ || o->kill_on_close, /* opened, never written: see args.c */
        .stdout_ = 1,
        .stderr_ = !t->tty, /* a tty has no stderr channel */
        .tty = t->tty,
        .timeout_ms = o->timeout_ms,
        .stdin_high_water = SESSION_HIGH,
        .stdin_low_water = SESSION_LOW,
    };
    if (t->stdin_ && cli_in_init(&x.in, a->loop, 0, on_stdin, &x) == 0) x.have_in = 1;
    setup_tty(&x, &so);
    app_hook_output(a, on_pressure, on_out_error, &x);
    x.so = so;
    x.attempts = 1;
    int rc = pmx_session_start(a->c, &so, &CB, &x, &x.s);
    if (rc < 0) {
        teardown(&x);
        app_errorf(a, "%s", pmx_strerror(rc));
        return CLI_EXIT_FAIL;
    }
    uv_timer_init(a->loop, &x.intr);
    uv_timer_init(a->loop, &x.intr_close);
    uv_timer_init(a->loop, &x.retry);
    x.intr.data = x.intr_close.data = x.retry.data = &x;
    x.timers = 1;
    if (t->tty && o->timeout_ms) {
        uint64_t lead = o->timeout_ms / 2 < INTR_GRACE_MS ? o->timeout_ms / 2 : INTR_GRACE_MS;
        uv_timer_start(&x.intr, on_intr, o->timeout_ms - lead, 0);
    }
    if (x.raw) watch_signal(&x, SIGWINCH);
    watch_signal(&x, SIGINT); /* from the keyboard only without raw mode; kill -INT always */
    watch_signal(&x, SIGTERM);
    watch_signal(&x, SIGHUP);
    if (x.have_in) cli_in_start(&x.in);
    uv_run(a->loop, UV_RUN_DEFAULT);
    /* The session is closed and our handles too; the loop only ends with output flushed. */
    app_unhook_output(a);
    int code = final_code(&x);
    if (x.have_in) cli_in_restore(&x.in);
    free(x.escbuf);
    return code;
}
