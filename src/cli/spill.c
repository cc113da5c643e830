/* spill: see spill.h. One uv_fs_t does everything, one step at a time: create the file
 * (mkstemp), unlink it at once (nothing is left behind, whatever happens to us), write what is
 * pending at the end of the file, and during a replay read it back in chunks. step() starts the
 * next request whenever none is in flight. */
#include "spill.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK (64 * 1024)
#define PEND_HIGH (4u * 1024 * 1024) /* pause the producer above this much waiting for the disk */
#define PEND_LOW (1u * 1024 * 1024)

static void step(cli_spill_t *sp);

void cli_spill_init(cli_spill_t *sp, uv_loop_t *loop, size_t mem_max,
                    cli_spill_pressure_fn on_pressure, void *ctx)
{
    memset(sp, 0, sizeof *sp);
    sp->loop = loop;
    sp->fd = -1;
    buf_init(&sp->mem, mem_max ? mem_max : 1);
    buf_init(&sp->pend, 0);
    sp->on_pressure = on_pressure;
    sp->ctx = ctx;
    sp->req.data = sp;
}

static void pressure(cli_spill_t *sp)
{
    size_t waiting = sp->pend.len + sp->wlen;
    int above = sp->above ? waiting > PEND_LOW : waiting > PEND_HIGH;
    if (sp->err || sp->freeing) above = 0;
    if (above == sp->above) return;
    sp->above = above;
    if (sp->on_pressure) sp->on_pressure(sp->ctx, above);
}

/* The file failed: what waits for it is dropped (and counted); a replay ends after what the file
 * already holds. */
static void fail(cli_spill_t *sp, int err)
{
    if (!sp->err) sp->err = err;
    sp->lost += sp->pend.len + sp->wlen;
    buf_free(&sp->pend);
    free(sp->wbuf);
    sp->wbuf = NULL;
    sp->wlen = 0;
    pressure(sp);
}

static void finish_replay(cli_spill_t *sp)
{
    sp->replaying = 0;
    free(sp->rbuf);
    sp->rbuf = NULL;
    if (sp->done) sp->done(sp->ctx, sp->err);
}

static void on_fs(uv_fs_t *req)
{
    cli_spill_t *sp = req->data;
    ssize_t res = req->result;
    uv_fs_type type = req->fs_type;
    char *path = type == UV_FS_MKSTEMP && res >= 0 && req->path ? strdup(req->path) : NULL;
    uv_fs_req_cleanup(req);
    sp->busy = 0;
    if (sp->freeing) { /* freed while this was in flight: finish the cleanup here */
        if (type == UV_FS_MKSTEMP && res >= 0) {
            close((int)res);
            if (path) unlink(path); /* teardown only: a local metadata call */
        }
        free(path);
        cli_spill_free(sp);
        return;
    }
    switch (type) {
    case UV_FS_MKSTEMP:
        if (res < 0) {
            fail(sp, (int)res);
        } else if (!path) {
            close((int)res);
            fail(sp, UV_ENOMEM);
        } else {
            sp->fd = (uv_file)res;
            sp->busy = 1; /* nothing else until the name is gone */
            if (uv_fs_unlink(sp->loop, &sp->req, path, on_fs) < 0) sp->busy = 0;
        }
        free(path);
        break;
    case UV_FS_WRITE:
        if (res < 0) {
            fail(sp, (int)res);
        } else {
            sp->flen += (uint64_t)res;
            if ((size_t)res < sp->wlen) { /* short write: the rest goes first next time */
                memmove(sp->wbuf, sp->wbuf + res, sp->wlen - (size_t)res);
                sp->wlen -= (size_t)res;
                break;
            }
            free(sp->wbuf);
            sp->wbuf = NULL;
            sp->wlen = 0;
        }
        break;
    case UV_FS_READ:
        if (!sp->replaying) break;
        if (res <= 0) {
            if (!sp->err) sp->err = res < 0 ? (int)res : UV_EIO;
            sp->roff = sp->flen; /* nothing more can be read */
            break;
        }
        sp->roff += (uint64_t)res;
        if (sp->emit(sp->ctx, sp->rbuf, (size_t)res)) sp->paused = 1;
        break;
    default: /* the unlink: failing to remove the name loses nothing */
        break;
    }
    pressure(sp);
    step(sp);
}

static void step(cli_spill_t *sp)
{
    if (sp->busy || sp->freeing) return;
    if (sp->fd < 0) {
        if (!sp->pend.len || sp->err) goto replay; /* a file only for bytes past memory */
        const char *dir = getenv("TMPDIR");
        char tpl[4096];
        int n = snprintf(tpl, sizeof tpl, "%s/podmux-group-XXXXXX", dir && *dir ? dir : "/tmp");
        if (n < 0 || (size_t)n >= sizeof tpl) {
            fail(sp, UV_ENAMETOOLONG);
            goto replay;
        }
        sp->busy = 1;
        int r = uv_fs_mkstemp(sp->loop, &sp->req, tpl, on_fs);
        if (r < 0) {
            sp->busy = 0;
            fail(sp, r);
            goto replay;
        }
        return;
    }
    if (!sp->wlen && sp->pend.len) {
        sp->wlen = sp->pend.len;
        sp->wbuf = buf_steal(&sp->pend);
    }
    if (sp->wlen) {
        uv_buf_t b = uv_buf_init(sp->wbuf, (unsigned)sp->wlen);
        sp->busy = 1;
        int r = uv_fs_write(sp->loop, &sp->req, sp->fd, &b, 1, (int64_t)sp->flen, on_fs);
        if (r < 0) {
            sp->busy = 0;
            fail(sp, r);
        } else {
            return;
        }
    }
replay:
    if (!sp->replaying || sp->paused) return;
    if (sp->wlen || sp->pend.len) return; /* the file first gets everything */
    if (sp->fd < 0 || sp->roff >= sp->flen) {
        finish_replay(sp);
        return;
    }
    uint64_t left = sp->flen - sp->roff;
    uv_buf_t b = uv_buf_init(sp->rbuf, (unsigned)(left < READ_CHUNK ? left : READ_CHUNK));
    sp->busy = 1;
    int r = uv_fs_read(sp->loop, &sp->req, sp->fd, &b, 1, (int64_t)sp->roff, on_fs);
    if (r < 0) {
        sp->busy = 0;
        if (!sp->err) sp->err = r;
        finish_replay(sp);
    }
}

int cli_spill_append(cli_spill_t *sp, const char *buf, size_t len)
{
    if (sp->err) {
        sp->lost += len;
        return sp->err;
    }
    if (sp->fd < 0 && !sp->pend.len) { /* memory, while nothing overflowed */
        size_t room = sp->mem.limit - sp->mem.len;
        size_t take = len < room ? len : room;
        if (take && buf_append(&sp->mem, buf, take) < 0) take = 0;
        buf += take;
        len -= take;
    }
    if (!len) return 0;
    if (buf_append(&sp->pend, buf, len) < 0) {
        fail(sp, UV_ENOMEM);
        sp->lost += len;
        return sp->err;
    }
    pressure(sp);
    step(sp);
    return 0;
}

void cli_spill_replay(cli_spill_t *sp, cli_spill_emit_fn emit, cli_spill_done_fn done)
{
    sp->emit = emit;
    sp->done = done;
    sp->replaying = 1;
    sp->paused = 0;
    sp->roff = 0;
    if (sp->fd >= 0 || sp->pend.len) { /* a file exists or is being made */
        sp->rbuf = malloc(READ_CHUNK);
        if (!sp->rbuf) {
            fail(sp, UV_ENOMEM);
            sp->lost += sp->flen;
            sp->roff = sp->flen; /* the file cannot be read back */
        }
    }
    if (sp->mem.len && emit(sp->ctx, sp->mem.data, sp->mem.len)) sp->paused = 1;
    buf_free(&sp->mem);
    step(sp);
}

void cli_spill_resume(cli_spill_t *sp)
{
    if (!sp->replaying || !sp->paused) return;
    sp->paused = 0;
    step(sp);
}

void cli_spill_free(cli_spill_t *sp)
{
    sp->freeing = 1;
    sp->replaying = 0;
    buf_free(&sp->mem);
    buf_free(&sp->pend);
    free(sp->rbuf);
    sp->rbuf = NULL;
    if (sp->busy) return; /* the request in flight uses wbuf and fd: on_fs finishes this */
    free(sp->wbuf);
    sp->wbuf = NULL;
    if (sp->fd >= 0) close(sp->fd);
    sp->fd = -1;
}
