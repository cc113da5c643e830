/* runner: what the runners (single.c, multi.c, shell.c) share around their sessions: the signals
 * and stdin they watch and their end, written once so that the order that keeps the terminal sane
 * (its mode back before the tty handle closes) cannot drift apart; the output hooks; the color
 * choice and the summary of several pods. */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "app.h"
#include "term.h"

static void early_signal(uv_signal_t *h, int sig)
{
    app_t *a = h->data;
    if (a->c) pmx_client_abort(a->c); /* its own process group: no terminal signal reaches it */
    app_exit_now(sig);
}

void app_early_signals(app_t *a)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        uv_signal_t *h = &a->early[a->nearly];
        if (uv_signal_init(a->loop, h) < 0) continue;
        h->data = a;
        uv_signal_start(h, early_signal, sigs[i]);
        uv_unref((uv_handle_t *)h); /* never what keeps the loop running */
        a->nearly++;
    }
}

void app_early_signals_off(app_t *a)
{
    for (int i = 0; i < a->nearly; i++)
        uv_signal_stop(&a->early[i]); /* closed with every other handle at the end */
}

void app_signal_watch(app_t *a, app_signals_t *s, int sig, uv_signal_cb cb, void *data)
{
    app_early_signals_off(a);
    if (s->n == (int)(sizeof s->h / sizeof s->h[0])) return;
    uv_signal_t *h = &s->h[s->n];
    if (uv_signal_init(a->loop, h) < 0) return;
    h->data = data;
    uv_signal_start(h, cb, sig);
    s->n++;
}

void app_exit_now(int sig)
{
    term_restore(); /* _exit skips atexit, which would otherwise restore it */
    _exit(128 + sig);
}

void app_hook_output(app_t *a, void (*on_pressure)(void *ctx, int above),
                     void (*on_error)(void *ctx, int err), void *ctx)
{
    a->out.on_pressure = a->err.on_pressure = on_pressure;
    a->out.on_error = on_error;
    a->out.ctx = a->err.ctx = ctx;
}

void app_unhook_output(app_t *a)
{
    a->out.on_pressure = a->err.on_pressure = NULL;
    a->out.on_error = NULL;
}

void app_watch_end(app_t *a, app_signals_t *s, cli_in_t *in)
{
    term_restore(); /* before the tty handle (whose descriptor libuv restores through) closes */
    a->raw = 0;
    for (int i = 0; i < s->n; i++)
        uv_close((uv_handle_t *)&s->h[i], NULL);
    s->n = 0;
    if (in) cli_in_close(in);
}

int app_color_wanted(const app_t *a)
{
    const char *nc = getenv("NO_COLOR");
    return a->out.io.is_tty && !(nc && *nc);
}

void app_summary(app_t *a, const pmx_fanout_result_t *const *r, size_t n, int show_container)
{
    size_t cap = 64 * 1024; /* 1 KiB a line at most; the rest is counted, not listed */
    char *text = malloc(cap);
    if (!text) return;
    cli_out_write(&a->err, text, cli_summary(r, n, show_container, text, cap));
    free(text);
}
