/* io.h: stdin/stdout/stderr on the loop with bounded queues (see io.c). */
#ifndef PMX_CLI_IO_H
#define PMX_CLI_IO_H

#include <uv.h>

#include "cli.h"

/* One of our descriptors on the loop: a tty or a pipe/socket is a stream; anything else (a
 * regular file, /dev/null) is read or written through the thread pool (uv_fs_read/write). */
typedef struct cli_fd {
    int fd, fl_saved; /* fl_saved: its flags before us, put back by cli_*_restore */
    union {
        uv_pipe_t pipe;
        uv_tty_t tty;
    } h;
    uv_stream_t *stream; /* NULL: a file */
    int is_file, is_tty;
} cli_fd_t;

typedef struct cli_out {
    uv_loop_t *loop;
    cli_fd_t io;
    uv_prepare_t prep;
    buf_t stage;     /* bytes not yet handed to libuv */
    size_t inflight; /* bytes in write requests */
    unsigned nreq;
    size_t high, low;
    int above, error;
    int closing, closed;                       /* cli_out_close called; handles closed */
    void (*on_pressure)(void *ctx, int above); /* pause producers at 1, resume at 0 */
    void (*on_error)(void *ctx, int err);      /* first write error (EPIPE...) */
    void (*on_empty)(void *ctx);               /* everything written */
    void *ctx;
} cli_out_t;

int cli_out_init(cli_out_t *o, uv_loop_t *loop, int fd, size_t high, size_t low);
int cli_out_write(cli_out_t *o, const char *buf, size_t len);
size_t cli_out_queued(const cli_out_t *o);
/* Flushes what is staged, then closes the handles (once written: run the loop after). */
void cli_out_close(cli_out_t *o);
void cli_out_restore(cli_out_t *o); /* after the loop ended: descriptor flags, memory */

/* buf NULL, len 0: end of input. */
typedef void (*cli_in_fn)(void *ctx, const char *buf, size_t len);
typedef struct cli_in {
    uv_loop_t *loop;
    cli_fd_t io;
    uv_fs_t fs;
    int reading, eof, fs_busy, closing;
    char *buf;
    cli_in_fn on_data;
    void *ctx;
} cli_in_t;

int cli_in_init(cli_in_t *in, uv_loop_t *loop, int fd, cli_in_fn on_data, void *ctx);
void cli_in_start(cli_in_t *in);
void cli_in_stop(cli_in_t *in);
void cli_in_close(cli_in_t *in);
void cli_in_restore(cli_in_t *in);

#endif
