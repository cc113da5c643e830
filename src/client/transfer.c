/* transfer: one seekable file streamed to the stdin of many sessions (podmux.h, "transfer").
 *
 * Built only on the public session API, so it does not depend on how sessions work inside.
 * Each session added has its own read position: a chunk is read with uv_fs_read at that
 * position (libuv's threadpool: no file I/O on the loop thread), handed to pmx_session_write
 * (which copies it), and the next read waits while the session's queue is above its high-water
 * mark (until the caller forwards on_drain) or while the session is more than max_lag ahead of
 * the slowest unfinished session. Callbacks only ever run from a read's completion, never from
 * inside the call that caused them. */
#include <stdlib.h>
#include <string.h>

#include "podmux.h"

#define XFER_CHUNK (64u * 1024)
#define XFER_HIGH (1u * 1024 * 1024)
#define XFER_LAG (8ull * 1024 * 1024)

typedef struct xfer_sess {
    struct xfer_sess *next;
    pmx_transfer_t *t; /* NULL once removed while its read was in flight */
    pmx_session_t *s;
    uint64_t pos;
    int reading, waiting_drain, done;
    uv_fs_t req;
    char *buf;
} xfer_sess_t;

struct pmx_transfer {
    uv_loop_t *loop;
    pmx_transfer_opts_t o;
    pmx_transfer_cb_t cb;
    void *data;
    xfer_sess_t *head;
};

static void on_read(uv_fs_t *req);

static xfer_sess_t *find(const pmx_transfer_t *t, const pmx_session_t *s)
{
    for (xfer_sess_t *x = t->head; x; x = x->next)
        if (x->s == s) return x;
    return NULL;
}

/* Position of the slowest session still sending (UINT64_MAX when none). */
static uint64_t slowest(const pmx_transfer_t *t)
{
    uint64_t m = UINT64_MAX;
    for (const xfer_sess_t *x = t->head; x; x = x->next)
        if (!x->done && x->pos < m) m = x->pos;
    return m;
}

/* Starts the next read of x when nothing holds it back. */
static void pump(pmx_transfer_t *t, xfer_sess_t *x)
{
    if (x->reading || x->waiting_drain || x->done) return;
    uint64_t low = slowest(t);
    if (low != UINT64_MAX && x->pos > low && x->pos - low >= t->o.max_lag) return;
    uint64_t left = t->o.size - x->pos;
    uv_buf_t b = uv_buf_init(x->buf, (unsigned)(left < t->o.chunk ? left : t->o.chunk));
    x->reading = 1;
    if (uv_fs_read(t->loop, &x->req, t->o.fd, &b, 1, (int64_t)x->pos, on_read) < 0) {
        /* Cannot happen with a callback given; kept bounded: the session just waits. */
        x->reading = 0;
    }
}

static void pump_all(pmx_transfer_t *t)
{
    for (xfer_sess_t *x = t->head; x; x = x->next)
        pump(t, x);
}

static void xfer_sess_free(xfer_sess_t *x)
{
    free(x->buf);
    free(x);
}

static void on_read(uv_fs_t *req)
{
    xfer_sess_t *x = req->data;
    ssize_t n = req->result;
    uv_fs_req_cleanup(req);
    x->reading = 0;
    pmx_transfer_t *t = x->t;
    if (!t) { /* removed meanwhile */
        xfer_sess_free(x);
        return;
    }
    int err = 0;
    if (n < 0 || (n == 0 && x->pos < t->o.size)) {
        err = PMX_EIO; /* read failed, or the file is shorter than said */
    } else {
        long q = n > 0 ? pmx_session_write(x->s, x->buf, (size_t)n) : 0;
        if (q < 0) {
            err = (int)q;
        } else {
            x->pos += (uint64_t)n;
            if (x->pos < t->o.size) {
                if (n > 0 && (size_t)q > t->o.high_water)
                    x->waiting_drain = 1;
                else
                    pump(t, x);
                pump_all(t); /* the slowest may have moved */
                return;
            }
            if (t->o.close_stdin) err = pmx_session_close_stdin(x->s);
        }
    }
    x->done = 1;
    pump_all(t);
    pmx_session_t *s = x->s;
    if (t->cb.on_sent) t->cb.on_sent(t, s, err, t->data); /* last: it may remove or free */
}

int pmx_transfer_new(uv_loop_t *loop, const pmx_transfer_opts_t *opts, const pmx_transfer_cb_t *cb,
                     void *data, pmx_transfer_t **out)
{
    if (!loop || !opts || !out || opts->fd < 0) return PMX_EINVAL;
    pmx_transfer_t *t = calloc(1, sizeof *t);
    if (!t) return PMX_ENOMEM;
    t->loop = loop;
    t->o = *opts;
    if (!t->o.chunk) t->o.chunk = XFER_CHUNK;
    if (t->o.chunk > (1u << 30)) t->o.chunk = 1u << 30;
    if (!t->o.high_water) t->o.high_water = XFER_HIGH;
    if (!t->o.max_lag) t->o.max_lag = XFER_LAG;
    if (cb) t->cb = *cb;
    t->data = data;
    *out = t;
    return 0;
}

int pmx_transfer_add(pmx_transfer_t *t, pmx_session_t *s)
{
    if (!t || !s) return PMX_EINVAL;
    if (find(t, s)) return PMX_EBUSY;
    xfer_sess_t *x = calloc(1, sizeof *x);
    if (!x) return PMX_ENOMEM;
    x->buf = malloc(t->o.chunk);
    if (!x->buf) {
        free(x);
        return PMX_ENOMEM;
    }
    x->t = t;
    x->s = s;
    x->req.data = x;
    x->next = t->head;
    t->head = x;
    /* At byte 0 it is the slowest, so its first read goes out (a zero-length file too, so
     * that on_sent comes on a later turn); the others wait for it past max_lag. */
    pump(t, x);
    return 0;
}

void pmx_transfer_drain(pmx_transfer_t *t, pmx_session_t *s)
{
    xfer_sess_t *x = t ? find(t, s) : NULL;
    if (!x || !x->waiting_drain) return;
    x->waiting_drain = 0;
    pump(t, x);
}

void pmx_transfer_remove(pmx_transfer_t *t, pmx_session_t *s)
{
    if (!t) return;
    for (xfer_sess_t **p = &t->head; *p; p = &(*p)->next) {
        xfer_sess_t *x = *p;
        if (x->s != s) continue;
        *p = x->next;
        if (x->reading) {
            x->t = NULL; /* on_read frees it */
            x->req.data = x;
        } else {
            xfer_sess_free(x);
        }
        pump_all(t);
        return;
    }
}

uint64_t pmx_transfer_sent(const pmx_transfer_t *t, const pmx_session_t *s)
{
    const xfer_sess_t *x = t ? find(t, s) : NULL;
    return x ? x->pos : 0;
}

int pmx_transfer_free(pmx_transfer_t *t)
{
    if (!t) return 0;
    if (t->head) return PMX_EBUSY;
    free(t);
    return 0;
}
