/* app.h: one podmux run: the loop, the client, our stdout/stderr, and the two runners. */
#ifndef PMX_CLI_APP_H
#define PMX_CLI_APP_H

#include "cli.h"
#include "io.h"

typedef struct app {
    uv_loop_t *loop;
    cli_opts_t *o;
    pmx_client_t *c;
    cli_out_t out, err;
    int raw; /* terminal in raw mode: lines end in CRLF */
    int exit_code;
    /* Until a runner watches signals itself (while targets are looked up, a credential plugin
     * may run): SIGINT/SIGTERM/SIGHUP end the plugin and podmux, 128+N. */
    uv_signal_t early[3];
    int nearly;
} app_t;

/* "podmux: <text>" on stderr (CRLF in raw mode). */
void app_errorf(app_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A note without the prefix (kubectl's own wording: "Defaulted container ..."). */
void app_notef(app_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* host:port of the server, for messages. */
void app_server_hostport(app_t *a, char *out, size_t len);
/* The line podmux prints when it failed (ssh style), for a session's exit. */
void app_failure_line(app_t *a, const pmx_exit_t *ex, char *out, size_t len);
/* The early signal watchers (see app_t), and their end once a runner has its own. */
void app_early_signals(app_t *a);
void app_early_signals_off(app_t *a);

/* ---- runner.c: what the runners (single, multi, shell) share around their sessions ---- */
/* The signals a runner watches, closed together at its end. */
typedef struct app_signals {
    uv_signal_t h[4];
    int n;
} app_signals_t;
/* Watches sig with cb (the handle's data is data); one that cannot be watched is left alone. */
void app_signal_watch(app_t *a, app_signals_t *s, int sig, uv_signal_cb cb, void *data);
/* A second SIGINT/SIGTERM/SIGHUP while the first one's close is under way: stop waiting for the
 * server, leaving the terminal as it was. */
void app_exit_now(int sig) __attribute__((noreturn));
/* Our stdout/stderr say "slow reader" (on_pressure) and "write failed" (on_error, stdout only)
 * to ctx; app_unhook_output after the loop ends. */
void app_hook_output(app_t *a, void (*on_pressure)(void *ctx, int above),
                     void (*on_error)(void *ctx, int err), void *ctx);
void app_unhook_output(app_t *a);
/* A runner's end: the terminal back in its mode, the signals and stdin (in may be NULL) closed,
 * so that the loop ends once the sessions have. */
void app_watch_end(app_t *a, app_signals_t *s, cli_in_t *in);
/* 1 when our stdout is a terminal and NO_COLOR is unset or empty (no-color.org). */
int app_color_wanted(const app_t *a);
/* The summary of the finished sessions r[0..n) on stderr (lines.c's cli_summary). */
void app_summary(app_t *a, const pmx_fanout_result_t *const *r, size_t n, int show_container);

/* One pod: exec or attach with the terminal, stdin streaming and signals. Returns the exit
 * code. The loop is run inside. */
typedef struct single_target {
    const char *ns, *pod, *container;
    int tty, stdin_;
} single_target_t;
int run_single(app_t *a, const single_target_t *t);

/* Resolving targets (resolve.c) and the fan-out runner (multi.c). */
int run_exec_attach(app_t *a);
int run_multi(app_t *a);
/* podmux cp (cp.c). */
int run_cp(app_t *a);

#endif
