/* cli.h: what the podmux program's files share. Of the library, only the public podmux.h API is
 * used. The CLI has its own copy of the project's small helpers (src/util: util/buf.h below,
 * util/fmt.h in main.c): CMake compiles src/util into podmux_cli, whose include directory
 * (src) they are found through. libpodmux.a keeps its own copy with local symbols, so the two do
 * not meet. */
#ifndef PMX_CLI_H
#define PMX_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "podmux.h"
#include "util/buf.h"

/* -o group keeps at most this much of a pod's output (--group-max). */
#define CLI_GROUP_MAX_DEFAULT (64ull * 1024 * 1024)

/* Exit status when podmux itself failed (like ssh). */
#define CLI_EXIT_FAIL 255

enum { CMD_NONE, CMD_EXEC, CMD_ATTACH, CMD_VERSION, CMD_HELP, CMD_SHELL, CMD_CP };
enum { OUT_AUTO, OUT_RAW, OUT_PREFIX, OUT_GROUP, OUT_JSON };

typedef struct cli_opts {
    int cmd;
    int help;    /* --help given: print the command's help */
    int version; /* --version given */
    const char *ns, *container;
    int stdin_, tty, quiet, verbose;
    const char *kubeconfig, *context, *cluster, *user, *server, *token, *ca_file;
    int insecure;
    const char *as, *as_uid; /* --as, --as-uid */
    const char **as_groups;  /* --as-group, each */
    size_t nas_groups;
    uint64_t request_timeout_ms;
    uint64_t pod_running_timeout_ms;
    int escape_char; /* -1: disabled */
    uint64_t keepalive_ms;
    uint64_t eof_grace_ms; /* 0: never */
    /* fan-out */
    const char **targets; /* positional arguments before "--" */
    size_t ntargets;
    const char *selector, *field_selector;
    int all_ns, all_pods, all_containers;
    unsigned parallel;
    double qps;
    unsigned burst;
    uint64_t timeout_ms;
    int fail_fast;
    unsigned retries;
    int output;
    const char *layout; /* shell: "panes", "lines" or NULL (panes on a big enough terminal) */
    int prefix_key;     /* shell: --prefix as a control byte, 0: not given */
    uint64_t group_max; /* -o group: bytes kept per pod (0: no cap) */
    int kill_on_close;  /* exec: wrap the command so that it ends with the stream (args.c) */
    /* the command after "--" (with --kill-on-close: the wrapper, then the command) */
    uint64_t max_bytes, max_entries, max_lag; /* cp: --max-bytes, --max-entries, --max-lag */
    char **argv;
    int argc;
    char **wrapped; /* the wrapper's argv (owned) */
} cli_opts_t;

/* ---- args.c (pure) ---- */
/* Parses a Go-style duration ("500ms", "5s", "1m30s", "1.5h"; a bare integer means seconds, as
 * kubectl's --request-timeout) into milliseconds (a non-zero value below 1 ms rounds up). */
int cli_parse_duration(const char *s, uint64_t *ms);
/* A byte count: digits, then nothing or B, K/Ki/KiB, M/Mi/MiB, G/Gi/GiB, T/Ti/TiB (all 1024). */
int cli_parse_size(const char *s, uint64_t *out);

enum { TGT_POD, TGT_WORKLOAD };
typedef struct cli_target {
    int kind;
    char name[256];     /* pod name, or the workload's name */
    char workload[300]; /* canonical "deploy/web" for pmx_list_workload_pods */
} cli_target_t;
/* POD, pod/NAME, deploy/NAME, sts/NAME, ds/NAME, rs/NAME, job/NAME and their long forms. */
int cli_parse_target(const char *s, cli_target_t *t, char *err, size_t errlen);

/* Parses argv (argv[0] is the program) into o. Returns 0, or -1 with a one-line error. */
int cli_parse_args(int argc, char **argv, cli_opts_t *o, char *err, size_t errlen);
void cli_opts_free(cli_opts_t *o);
/* The help text; prog is how the user ran us ("podmux" or "kubectl podmux"). */
const char *cli_help_text(int cmd, const char *prog);
/* The program name to show: "kubectl podmux" when argv0 is kubectl-podmux, else "podmux". */
const char *cli_prog_name(const char *argv0);
/* s as Go's %q would show it inside quotes: '"' and '\\' escaped, control bytes as \n, \t,
 * \r or \xNN; cut to fit out (len > 0). Returns the length written. */
size_t cli_quote(const char *s, char *out, size_t len);

/* A key for --prefix / PODMUX_PREFIX: "C-b", "^b", "Ctrl-b" (any letter, or one of @[\\]^_).
 * Returns the control byte, or -1. */
int cli_parse_ctrl_key(const char *s);
/* "C-b" for 0x02. */
void cli_ctrl_key_name(int key, char *out, size_t len);
/* The shell's prefix key: the flag's, else PODMUX_PREFIX's (env, which may be NULL), else
 * Ctrl-b, or Ctrl-] inside tmux (tmux set) or screen (sty set), whose prefixes are Ctrl-b
 * and Ctrl-a. -1 with err set when PODMUX_PREFIX is not a key. */
int cli_shell_prefix(int flag, const char *env, const char *tmux, const char *sty, char *err,
                     size_t errlen);

/* ---- escape.c (pure) ---- */
enum { ESC_NONE = 0, ESC_DISCONNECT = 1, ESC_HELP = 2 };
typedef struct cli_escape {
    int ch;         /* escape character, -1 disabled */
    int line_start; /* the next byte starts a line */
    int pending;    /* saw the escape char at a line start */
} cli_escape_t;
void cli_escape_init(cli_escape_t *e, int ch);
/* Filters in[0..len) into out (room for len + 1 bytes): bytes to send to the pod. Stops at an
 * escape action, returning it in *action and the bytes consumed in *used. Returns out length. */
size_t cli_escape_feed(cli_escape_t *e, const char *in, size_t len, char *out, size_t *used,
                       int *action);

/* ---- lines.c (pure): output formats ---- */
/* A writer: fd 1 or 2. Returns 0 or <0. */
typedef int (*cli_write_fn)(void *ctx, int fd, const char *buf, size_t len);

/* Splits a stream into lines. Each complete line goes out with the prefix in front (or, when
 * on_line is set, to on_line); a partial line is held until its newline or cli_prefixer_flush.
 * A line longer than the bound is cut (at a UTF-8 boundary) and ended with a newline. */
typedef void (*cli_line_fn)(void *ctx, int fd, const char *line, size_t len);
typedef struct cli_prefixer {
    const char *prefix; /* e.g. "\033[32mweb-1\033[0m " (owned by the caller) */
    int fd;
    buf_t part; /* the held partial line (bounded) */
    cli_write_fn write;
    cli_line_fn on_line; /* NULL: write prefix + line */
    void *ctx;
} cli_prefixer_t;
void cli_prefixer_init(cli_prefixer_t *p, const char *prefix, int fd, size_t limit, cli_write_fn w,
                       void *ctx);
int cli_prefixer_feed(cli_prefixer_t *p, const char *buf, size_t len);
/* Session end: emits a held partial line (a newline added in prefix mode) and frees memory. */
int cli_prefixer_flush(cli_prefixer_t *p);
void cli_prefixer_free(cli_prefixer_t *p);
/* The prefix for the lines of target index: "label ", or in color the label in one of 12 colors
 * chosen by index, so that neighbours differ and a pod keeps its color through a run. */
void cli_prefix_text(const char *label, size_t index, int color, char *out, size_t len);

/* JSON lines. Each returns a malloc'd object ending in "\n", or NULL on allocation failure.
 * Output bytes go in "data" when they are valid UTF-8, else base64 in "data_b64". */
char *cli_json_chunk(const char *ns, const char *pod, const char *container, int fd,
                     const char *buf, size_t len);
char *cli_json_result(const pmx_fanout_result_t *r);

/* Summary and exit rules. */
typedef struct cli_tally {
    size_t ok, nonzero, failed, skipped;
    size_t canceled; /* ended by --fail-fast, a signal or a detach: counted apart from failed */
    int detached;    /* set by the caller: the user detached, so canceled is no failure */
} cli_tally_t;
void cli_tally_add(cli_tally_t *t, const pmx_exit_t *ex);
/* 0 all ok; 1 some non-zero; 255 some could not run or ended without status; 255 nothing ran;
 * 255 some were canceled (unless detached), but 1 when others exited non-zero (--fail-fast). */
int cli_exit_code(const cli_tally_t *t);
/* Appends the summary text (ends with "\n") for the finished results to out (bounded). */
size_t cli_summary(const pmx_fanout_result_t *const *r, size_t n, int show_container, char *out,
                   size_t outlen);
/* One line for a failure: "pods \"web-1\" not found" or the error name. */
const char *cli_exit_text(const pmx_exit_t *ex, char *buf, size_t len);
/* Drops a trailing " (404)" (the library's detail; kubectl's wording has none). */
void cli_strip_status(char *s);

#endif
