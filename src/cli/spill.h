/* spill: an append-only byte store for `-o group`: the first bytes in memory, the rest in an
 * unlinked temporary file (like GNU parallel's --group), so a pod's output is held whole however
 * large it is, in bounded memory. All file work is asynchronous on the loop (libuv's thread
 * pool), one request at a time, which keeps the bytes in order. */
#ifndef PMX_CLI_SPILL_H
#define PMX_CLI_SPILL_H

#include <stdint.h>
#include <uv.h>

#include "util/buf.h"

typedef struct cli_spill cli_spill_t;
/* Replay: emit returns 1 when the sink wants a pause (cli_spill_resume() restarts); done follows
 * the last byte, or a failure of the file (err <0: what was not written is gone). */
typedef int (*cli_spill_emit_fn)(void *ctx, const char *buf, size_t len);
typedef void (*cli_spill_done_fn)(void *ctx, int err);
/* above 1: too many bytes wait for the disk (the producer should pause); 0: they drained. */
typedef void (*cli_spill_pressure_fn)(void *ctx, int above);

struct cli_spill {
    uv_loop_t *loop;
    buf_t mem;  /* the first bytes, up to mem.limit */
    buf_t pend; /* bytes for the file, not yet handed to a write */
    char *wbuf; /* the write in flight */
    size_t wlen;
    uv_fs_t req;         /* the one file request in flight (busy) */
    uv_file fd;          /* -1: no file (yet) */
    uint64_t flen, roff; /* bytes in the file; replay position */
    uint64_t lost;       /* bytes dropped after a file error */
    int err;             /* the first file error */
    unsigned busy : 1, replaying : 1, paused : 1, above : 1, freeing : 1;
    char *rbuf;
    cli_spill_emit_fn emit;
    cli_spill_done_fn done;
    cli_spill_pressure_fn on_pressure;
    void *ctx;
};

/* mem_max bytes stay in memory; on_pressure (may be NULL) gets ctx. */
void cli_spill_init(cli_spill_t *sp, uv_loop_t *loop, size_t mem_max,
                    cli_spill_pressure_fn on_pressure, void *ctx);
/* 0, or the first file error (the bytes are then dropped and counted in lost). */
int cli_spill_append(cli_spill_t *sp, const char *buf, size_t len);
/* Hands every byte, in order, to emit (memory first, then the file); then done. */
void cli_spill_replay(cli_spill_t *sp, cli_spill_emit_fn emit, cli_spill_done_fn done);
void cli_spill_resume(cli_spill_t *sp);
/* Frees memory and the file; a request in flight finishes on its own first. No callback after. */
void cli_spill_free(cli_spill_t *sp);

#endif
