/* shell.h: `podmux shell` and `podmux exec -it` over several pods: one interactive session per
 * pod on one loop, typed input going to every session (broadcast) or to the focused one.
 *
 * Two layouts: "lines" (sessions without a tty, each output line prefixed with its pod, as the
 * fan-out prints them) and "panes" (the screen tiled, one libvterm emulation per pod's tty).
 * shell.c owns targets, sessions, input routing and exit rules; shell_panes.c draws. */
#ifndef PMX_CLI_SHELL_H
#define PMX_CLI_SHELL_H

#include "app.h"

/* 1 when the command line asks for the multi-pod interactive mode: `podmux shell`, or exec /
 * attach with -i -t and more than one target or a selector. */
int shell_wanted(const cli_opts_t *o);
/* Runs it (the loop is run inside); returns the exit code: 0 all exited 0, 1 some exited
 * non-zero, 255 some failed or could not start, 128+N after signal N. */
int run_shell(app_t *a);

/* ---- shared between shell.c and shell_panes.c ---- */
typedef struct shell shell_t;
typedef struct sh_pane sh_pane_t;

typedef struct sh_sess {
    shell_t *sh;
    size_t idx;
    char *ns, *pod, *container;
    pmx_session_t *s; /* NULL once closed (or never started) */
    int ended, above_high;
    pmx_exit_t ex;
    char msg[512];
    char *prefix; /* lines: "pod " (colored on a terminal) */
    cli_prefixer_t po, pe;
    sh_pane_t *pane; /* panes layout only */
} sh_sess_t;

struct shell {
    app_t *a;
    sh_sess_t *ss;
    size_t n, cap;
    int resolve_failed;
    int panes; /* layout: 1 panes, 0 lines */
    size_t focus;
    int broadcast, zoom;
    size_t open; /* sessions whose on_close has not come */
    cli_in_t in;
    int have_in, in_stopped;
    app_signals_t sigs;
    int signaled, detached, torn_down;
    buf_t line;          /* lines layout: the typed line until its newline */
    int prefix;          /* the command key (Ctrl-b; see cli_shell_prefix) */
    char prefix_name[8]; /* "C-b" */
    void *panes_state;
};

/* Sends typed bytes to the focused session, or to every running one with broadcast on. */
void shell_send(shell_t *sh, const char *buf, size_t len);
/* Closes every session (detach, signal). */
void shell_close_all(shell_t *sh);
/* "focus web-1, broadcast on, ended: web-2(0) web-3(1)" for the status line. */
size_t shell_status_text(shell_t *sh, char *out, size_t len);

/* shell_panes.c. shp_begin returns -1 when the terminal is too small (lines are used then). */
int shp_begin(shell_t *sh);
void shp_pane_size(shell_t *sh, size_t idx, unsigned *w, unsigned *h);
void shp_output(sh_sess_t *x, const char *buf, size_t len);
void shp_changed(shell_t *sh); /* focus, broadcast, an ended session: redraw borders/status */
void shp_winch(shell_t *sh);
void shp_keys(shell_t *sh, const char *buf, size_t len);
void shp_end(shell_t *sh); /* leaves the alternate screen, frees the emulations */

#endif
