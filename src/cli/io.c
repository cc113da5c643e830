/* io: our stdin, stdout and stderr on the loop, whatever they are (tty, pipe, socket, file).
 *
 * Output is staged and handed to libuv once per loop turn (a uv_prepare hook, like redis'
 * beforesleep), so many small writes cost one syscall. The bytes queued (staged + in flight)
 * are bounded by telling the producer to pause above the high mark and to resume below the low
 * mark: a slow reader of our stdout pauses the sessions instead of growing memory. Input is read
 * in chunks and can be stopped and restarted for backpressure the other way. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"

#define READ_CHUNK (64 * 1024)

typedef struct wreq {
    union {
        uv_write_t w;
        uv_fs_t fs;
    } u;
    cli_out_t *o;
    size_t len, cap;
    char *data;
} wreq_t;

/* The staging buffer's memory is reused after each write up to this size. */
#define STAGE_KEEP (256 * 1024)

static void out_kick(cli_out_t *o);
static void maybe_close(cli_out_t *o);
static void on_prepare(uv_prepare_t *p);

static void pressure(cli_out_t *o)
{
    size_t q = o->stage.len + o->inflight;
    if (!o->above && q > o->high) {
        o->above = 1;
        if (o->on_pressure) o->on_pressure(o->ctx, 1);
    } else if (o->above && q < o->low) {
        o->above = 0;
        if (o->on_pressure) o->on_pressure(o->ctx, 0);
    }
}

static void write_done(cli_out_t *o, wreq_t *r, int status)
{
    o->inflight -= r->len;
    o->nreq--;
    buf_give_back(&o->stage, r->data, r->cap, STAGE_KEEP);
    free(r);
    if (status < 0 && !o->error) {
        o->error = status;
        if (o->on_error) o->on_error(o->ctx, status);
    }
    if (o->io.is_file && o->stage.len && !o->error) out_kick(o);
    pressure(o);
    if (!o->nreq && !o->stage.len && o->on_empty) o->on_empty(o->ctx);
    maybe_close(o);
}

static void on_write(uv_write_t *w, int status)
{
    wreq_t *r = (wreq_t *)w;
    write_done(r->o, r, status);
}

static void on_fs_write(uv_fs_t *fs)
{
    wreq_t *r = (wreq_t *)fs;
    int status = fs->result < 0 ? (int)fs->result : 0;
    cli_out_t *o = r->o;
    /* A short write to a file: queue the rest in front of what is staged. */
    if (status == 0 && (size_t)fs->result < r->len) {
        size_t done = (size_t)fs->result;
        uv_fs_req_cleanup(fs);
        memmove(r->data, r->data + done, r->len - done);
        o->inflight -= done;
        r->len -= done;
        uv_buf_t b = uv_buf_init(r->data, (unsigned)r->len);
        if (uv_fs_write(o->loop, &r->u.fs, o->io.fd, &b, 1, -1, on_fs_write) == 0) return;
        status = UV_EIO;
    } else {
        uv_fs_req_cleanup(fs);
    }
    write_done(o, r, status);
}

/* Hands everything staged to libuv as one request. Files take one request at a time so the
 * thread pool cannot reorder them. */
static void out_kick(cli_out_t *o)
{
    if (!o->stage.len || o->error) return;
    if (o->io.is_file && o->nreq) return;
    wreq_t *r = calloc(1, sizeof *r);
    if (!r) return; /* retried on the next turn */
    r->o = o;
    r->len = o->stage.len;
    r->cap = o->stage.cap;
    r->data = buf_steal(&o->stage);
    o->inflight += r->len;
    o->nreq++;
    uv_buf_t b = uv_buf_init(r->data, (unsigned)r->len);
    int rc = o->io.is_file ? uv_fs_write(o->loop, &r->u.fs, o->io.fd, &b, 1, -1, on_fs_write)
                           : uv_write(&r->u.w, o->io.stream, &b, 1, on_write);
    if (rc < 0) write_done(o, r, rc);
}

static void on_prepare(uv_prepare_t *p)
{
    cli_out_t *o = p->data;
    out_kick(o);
    if (o->error) buf_reset(&o->stage); /* nobody will read it: do not wait on it */
    if (!o->stage.len) uv_prepare_stop(p);
    maybe_close(o);
}

/* Puts fd on the loop (readable: it is our input); the stream's data is owner. */
static int fd_open(cli_fd_t *d, uv_loop_t *loop, int fd, int readable, void *owner)
{
    d->fd = fd;
    d->fl_saved = fcntl(fd, F_GETFL);
    uv_handle_type t = uv_guess_handle(fd);
    int rc = 0;
    if (t == UV_TTY) {
        rc = uv_tty_init(loop, &d->h.tty, fd, readable);
        d->is_tty = 1;
    } else if (t == UV_NAMED_PIPE) {
        rc = uv_pipe_init(loop, &d->h.pipe, 0);
        if (rc == 0) rc = uv_pipe_open(&d->h.pipe, fd);
    } else {
        d->is_file = 1;
    }
    if (rc < 0) return rc;
    d->stream = d->is_file ? NULL : (uv_stream_t *)&d->h;
    if (d->stream) d->stream->data = owner;
    return 0;
}

/* uv_pipe_open made the descriptor non-blocking, which the shell's other users share. */
static void fd_restore(cli_fd_t *d)
{
    if (d->fl_saved >= 0 && !d->is_tty) fcntl(d->fd, F_SETFL, d->fl_saved);
}

int cli_out_init(cli_out_t *o, uv_loop_t *loop, int fd, size_t high, size_t low)
{
    memset(o, 0, sizeof *o);
    o->loop = loop;
    o->high = high;
    o->low = low;
    buf_init(&o->stage, 0);
    int rc = fd_open(&o->io, loop, fd, 0, o);
    if (rc < 0) return rc;
    uv_prepare_init(loop, &o->prep);
    o->prep.data = o;
    return 0;
}

int cli_out_write(cli_out_t *o, const char *buf, size_t len)
{
    if (o->error) return o->error;
    if (o->closed) return UV_EPIPE;
    if (!len) return 0;
    if (buf_append(&o->stage, buf, len) < 0) return UV_ENOMEM;
    if (!uv_is_active((uv_handle_t *)&o->prep)) uv_prepare_start(&o->prep, on_prepare);
    pressure(o);
    return 0;
}

size_t cli_out_queued(const cli_out_t *o)
{
    return o->stage.len + o->inflight;
}

static void close_handles(cli_out_t *o)
{
    if (o->closed) return;
    o->closed = 1;
    uv_close((uv_handle_t *)&o->prep, NULL);
    if (o->io.stream) uv_close((uv_handle_t *)o->io.stream, NULL);
}

/* Closing a stream cancels its queued writes: wait until everything is written (or failed). */
static void maybe_close(cli_out_t *o)
{
    if (o->closing && !o->nreq && (!o->stage.len || o->error)) close_handles(o);
}

void cli_out_close(cli_out_t *o)
{
    o->closing = 1;
    out_kick(o);
    if (o->stage.len && !o->error && !uv_is_active((uv_handle_t *)&o->prep))
        uv_prepare_start(&o->prep, on_prepare);
    maybe_close(o);
}

void cli_out_restore(cli_out_t *o)
{
    fd_restore(&o->io);
    buf_free(&o->stage);
}

/* ---- input ------------------------------------------------------------------------------------
 */
static void in_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    cli_in_t *in = h->data;
    *b = uv_buf_init(in->buf, READ_CHUNK);
}

static void in_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    cli_in_t *in = s->data;
    if (n == UV_EOF) {
        uv_read_stop(s);
        in->eof = 1;
        in->on_data(in->ctx, NULL, 0);
    } else if (n < 0) {
        uv_read_stop(s);
        in->eof = 1;
        in->on_data(in->ctx, NULL, 0);
    } else if (n > 0) {
        in->on_data(in->ctx, b->base, (size_t)n);
    }
}

static void fs_read_next(cli_in_t *in);

static void on_fs_read(uv_fs_t *req)
{
    cli_in_t *in = req->data;
    ssize_t n = req->result;
    uv_fs_req_cleanup(req);
    in->fs_busy = 0;
    if (in->closing) return;
    if (n <= 0) {
        in->eof = 1;
        in->on_data(in->ctx, NULL, 0);
        return;
    }
    in->on_data(in->ctx, in->buf, (size_t)n);
    if (in->reading && !in->eof) fs_read_next(in);
}

static void fs_read_next(cli_in_t *in)
{
    if (in->fs_busy || in->eof) return;
    uv_buf_t b = uv_buf_init(in->buf, READ_CHUNK);
    in->fs.data = in;
    if (uv_fs_read(in->loop, &in->fs, in->io.fd, &b, 1, -1, on_fs_read) == 0) in->fs_busy = 1;
}

int cli_in_init(cli_in_t *in, uv_loop_t *loop, int fd, cli_in_fn on_data, void *ctx)
{
    memset(in, 0, sizeof *in);
    in->loop = loop;
    in->on_data = on_data;
    in->ctx = ctx;
    in->buf = malloc(READ_CHUNK);
    if (!in->buf) return UV_ENOMEM;
    return fd_open(&in->io, loop, fd, 1, in);
}

void cli_in_start(cli_in_t *in)
{
    if (in->eof || in->reading || in->closing) return;
    in->reading = 1;
    if (in->io.stream)
        uv_read_start(in->io.stream, in_alloc, in_read);
    else
        fs_read_next(in);
}

void cli_in_stop(cli_in_t *in)
{
    if (!in->reading) return;
    in->reading = 0;
    if (in->io.stream) uv_read_stop(in->io.stream);
}

void cli_in_close(cli_in_t *in)
{
    cli_in_stop(in);
    in->closing = 1;
    if (in->io.stream && !uv_is_closing((uv_handle_t *)in->io.stream))
        uv_close((uv_handle_t *)in->io.stream, NULL);
    if (in->fs_busy) uv_cancel((uv_req_t *)&in->fs);
}

void cli_in_restore(cli_in_t *in)
{
    fd_restore(&in->io);
    free(in->buf);
    in->buf = NULL;
}
