/* cli.h: what the podmux program's files share. Of the library, only the public podmux.h API is
 * used; the exceptions are util/buf.h below and util/fmt.h (main.c). */
#ifndef PMX_CLI_H
#define PMX_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "podmux.h"
/* The project's bounded buffer, a utility rather than library API: its code reaches the program
 * through podmux_static (hidden visibility only limits what the shared library exports), so the
 * CLI must keep linking the static library, or a copy of buf.c, to use it. */
#include "../util/buf.h"

/* Exit status when podmux itself failed (like ssh). */
#define CLI_EXIT_FAIL 255

enum { CMD_NONE, CMD_EXEC, CMD_ATTACH, CMD_VERSION, CMD_HELP, CMD_SHELL, CMD_CP };
enum { OUT_AUTO, OUT_RAW, OUT_PREFIX, OUT_GROUP, OUT_JSON };

typedef struct cli_opts {
    int cmd;
    int help; /* --help given: print the command's help */
    const char *ns, *container;
    int stdin_, tty, quiet, verbose;
    const char *kubeconfig, *context, *cluster, *user, *server, *token, *ca_file;
    int insecure;
    uint64_t request_timeout_ms;
    uint64_t pod_running_timeout_ms;
    int escape_char; /* -1: disabled */
    uint64_t keepalive_ms;
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
    const char *layout;
    /* cp */
    uint64_t max_bytes, max_entries,
        max_lag; /* shell: "panes", "lines" or NULL (panes on a big enough terminal) */
    /* the command after "--" */
    char **argv;
    int argc;
} cli_opts_t;

/* ---- args.c (pure) ---- */
/* Parses a Go-style duration ("500ms", "5s", "1m30s", "1.5h"; a bare integer means seconds, as
 * kubectl's --request-timeout) into milliseconds (a non-zero value below 1 ms rounds up). */
int cli_parse_duration(const char *s, uint64_t *ms);

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
const char *cli_help_text(int cmd);

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
} cli_tally_t;
void cli_tally_add(cli_tally_t *t, const pmx_exit_t *ex);
/* 0 all ok; 1 some non-zero; 255 some could not run or ended without status; 255 nothing ran. */
int cli_exit_code(const cli_tally_t *t);
/* Appends the summary text (ends with "\n") for the finished results to out (bounded). */
size_t cli_summary(const pmx_fanout_result_t *const *r, size_t n, int show_container, char *out,
                   size_t outlen);
/* One line for a failure: "pods \"web-1\" not found" or the error name. */
const char *cli_exit_text(const pmx_exit_t *ex, char *buf, size_t len);
/* Drops a trailing " (404)" (the library's detail; kubectl's wording has none). */
void cli_strip_status(char *s);

#endif
