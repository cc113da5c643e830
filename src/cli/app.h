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
} app_t;

/* "podmux: <text>" on stderr (CRLF in raw mode). */
void app_errorf(app_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A note without the prefix (kubectl's own wording: "Defaulted container ..."). */
void app_notef(app_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "12.3 MB" */
void app_human_bytes(uint64_t n, char *out, size_t len);
/* host:port of the server, for messages. */
void app_server_hostport(app_t *a, char *out, size_t len);
/* The line podmux prints when it failed (ssh style), for a session's exit. */
void app_failure_line(app_t *a, const pmx_exit_t *ex, char *out, size_t len);
/* Drops a trailing " (404)" from a library message. */
void app_strip_status(char *s);

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

#endif
