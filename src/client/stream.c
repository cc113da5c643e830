/* stream: TCP (+ TLS) on a libuv loop. See stream.h.
 *
 * Each ciphertext (or plaintext, without TLS) chunk is written whole at once when nothing is
 * queued; whatever the kernel did not take becomes one uv_write with its own copy, so the bytes
 * live until the write completes and order is kept.
 * While a read is being handled, small writes are corked: what the reply to that read sends
 * (the handshake's last flight and the upgrade request; a WebSocket close and TLS close_notify)
 * leaves in one write(2) when the read's handling returns, not one each.
 * Handles: the TCP handle and a zero-delay timer used to deliver buffered plaintext after a
 * resume from a fresh loop turn; on_close runs when both are closed. */
#include "client/stream.h"
#include "util/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long a server waits for the peer's FIN after its own, reading and discarding. */
#define STREAM_LINGER_MS 30000

struct stream {
    uv_tcp_t tcp;
    uv_timer_t pump;
    uv_connect_t connect_req;
    uv_shutdown_t shutdown_req;
    tls_conn_t *tls;
    stream_rbuf_t *rbuf;
    stream_cb_t cb;
    void *data;
    size_t queued, high_water, low_water;
    size_t drain_at; /* on_drain once queued falls to this (low_water unless asked lower) */
    uint64_t bytes_in, bytes_out, sends;
    int open_handles;
    unsigned is_server : 1, reading : 1, paused : 1, ended : 1, closing : 1, ready : 1,
        above_hw : 1, close_after_write : 1, shutdown_after_write : 1, in_read : 1, connected : 1,
        tls_active : 1, defer_tls : 1, lingering : 1, shut_sent : 1;
    buf_t cork; /* small writes made while a read is handled (at most STREAM_CORK_MAX) */
    char *err;  /* made when there is an error: an open stream keeps no room for one */
};

/* Writes up to this size are corked; a larger one first sends the cork, then itself. */
#define STREAM_CORK_MAX 4096

typedef struct wreq {
    uv_write_t req;
    stream_t *s;
    size_t len;
    char bytes[];
} wreq_t;

/* What one queued write costs besides its bytes (the request and the allocation's header):
 * counted in `queued`, so that a peer that is sent many tiny frames (pongs) and reads none of
 * them cannot make the queue take many times the high-water mark (issue 13). */
#define WREQ_COST (sizeof(wreq_t) + 16)

static void on_handle_closed(uv_handle_t *h)
{
    stream_t *s = h->data;
    if (--s->open_handles > 0) return;
    buf_free(&s->cork);
    free(s->err);
    if (s->tls) tls_conn_free(s->tls);
    s->tls = NULL;
    if (s->cb.on_close) s->cb.on_close(s);
    free(s);
}

static void set_err(stream_t *s, const char *fmt, const char *detail)
{
    char line[512];
    snprintf(line, sizeof line, fmt, detail);
    free(s->err);
    s->err = strdup(line);
}

/* Ends the stream once: no more on_data after this. */
static void stream_end(stream_t *s, int status)
{
    if (s->ended || s->closing) return;
    s->ended = 1;
    if (s->reading) uv_read_stop((uv_stream_t *)&s->tcp);
    s->reading = 0;
    if (s->cb.on_end) s->cb.on_end(s, status);
}

static void fail_ready(stream_t *s, int status)
{
    if (!s->ready && s->cb.on_ready) {
        s->ready = 1; /* reported */
        s->ended = 1;
        if (s->reading) uv_read_stop((uv_stream_t *)&s->tcp);
        s->reading = 0;
        s->cb.on_ready(s, status);
        return;
    }
    stream_end(s, status);
}

static int send_fin(stream_t *s)
{
    if (s->shut_sent) return 0;
    s->shut_sent = 1;
    return uv_shutdown(&s->shutdown_req, (uv_stream_t *)&s->tcp, NULL);
}

static void read_cb(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf);
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

static void linger_expired(uv_timer_t *t)
{
    stream_close(t->data);
}

/* The last write is in the kernel. A client closes now. A server sends its FIN and reads (and
 * drops) whatever the peer still sends until the peer's FIN: closing a socket with unread bytes,
 * or one that bytes reach later (a keepalive ping), makes the kernel answer with a reset that
 * throws away the response still in its send queue, so a slow reader would lose its tail. */
static void finish_close(stream_t *s)
{
    if (!s->is_server || s->lingering) {
        stream_close(s);
        return;
    }
    s->lingering = 1;
    s->ended = 1;
    s->paused = 0;
    if (send_fin(s) < 0) {
        stream_close(s);
        return;
    }
    if (!s->reading && uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, read_cb) < 0) {
        stream_close(s);
        return;
    }
    s->reading = 1;
    uv_timer_start(&s->pump, linger_expired, STREAM_LINGER_MS, 0);
}

static void after_write(uv_write_t *req, int status)
{
    wreq_t *w = (wreq_t *)req;
    stream_t *s = w->s;
    s->queued -= w->len + WREQ_COST;
    free(w);
    if (s->closing) return;
    if (status < 0) {
        set_err(s, "write failed: %s", uv_strerror(status));
        if (s->close_after_write)
            stream_close(s);
        else
            stream_end(s, -EIO);
        return;
    }
    if (s->queued == 0 && s->close_after_write) {
        finish_close(s);
        return;
    }
    if (s->queued == 0 && s->shutdown_after_write) {
        s->shutdown_after_write = 0;
        send_fin(s);
    }
    if (s->above_hw && s->queued <= s->drain_at) {
        s->above_hw = 0;
        s->drain_at = s->low_water;
        if (s->cb.on_drain) s->cb.on_drain(s);
    }
}

/* Sends raw bytes (ciphertext with TLS). When nothing is queued ahead of them they are written
 * at once from the caller's buffer; only what the kernel does not take is copied and queued as
 * one uv_write. A copy per record cost a fresh heap block per 16 KiB, and the page faults of
 * refilling the heap were a tenth of podmux-sim's CPU on a stdout stream. */
static int raw_send(stream_t *s, const uint8_t *data, size_t len)
{
    if (s->closing) return -EPIPE;
    size_t done = 0;
    if (s->queued == 0) {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
        s->sends++;
        int n = uv_try_write((uv_stream_t *)&s->tcp, &b, 1);
        if (n > 0) done = (size_t)n; /* errors: uv_write below reports them as before */
    }
    s->bytes_out += done;
    if (done == len) return 0;
    data += done;
    len -= done;
    wreq_t *w = malloc(sizeof *w + len);
    if (!w) return -ENOMEM;
    w->s = s;
    w->len = len;
    memcpy(w->bytes, data, len);
    uv_buf_t b = uv_buf_init(w->bytes, (unsigned)len);
    int r = uv_write(&w->req, (uv_stream_t *)&s->tcp, &b, 1, after_write);
    if (r < 0) {
        free(w);
        set_err(s, "write failed: %s", uv_strerror(r));
        return -EIO;
    }
    s->queued += len + WREQ_COST;
    s->bytes_out += len;
    if (s->queued > s->high_water) s->above_hw = 1;
    return 0;
}

/* Sends what was corked (and frees the cork: an idle stream keeps no buffer). */
static int cork_flush(stream_t *s)
{
    int r =
        s->cork.len && !s->closing ? raw_send(s, (const uint8_t *)s->cork.data, s->cork.len) : 0;
    buf_free(&s->cork);
    return r;
}

/* Corked while a read is handled, as long as the cork has room; otherwise the cork goes first. */
static int raw_write(stream_t *s, const uint8_t *data, size_t len)
{
    if (s->closing) return -EPIPE;
    if (s->in_read && buf_append(&s->cork, data, len) == 0) return 0;
    int r = cork_flush(s);
    return r < 0 ? r : raw_send(s, data, len);
}

/* The end of a read's handling: its corked writes go out together. */
static void uncork(stream_t *s)
{
    s->in_read = 0;
    if (cork_flush(s) < 0 && !s->closing) {
        if (!s->ready)
            fail_ready(s, -EIO);
        else
            stream_end(s, -EIO);
    }
}

/* ---- TLS engine callbacks ------------------------------------------------------------------ */
static int tls_send_cb(void *arg, const uint8_t *data, size_t len)
{
    return raw_write(arg, data, len);
}

static int tls_recv_cb(void *arg, const uint8_t *data, size_t len)
{
    stream_t *s = arg;
    if (s->ended || s->closing) return 1;
    int pause = s->cb.on_data ? s->cb.on_data(s, data, len) : 0;
    if (s->closing || s->ended) return 1;
    if (pause || s->paused) {
        stream_pause(s);
        return 1;
    }
    return 0;
}

static void tls_handshake_cb(void *arg, int status)
{
    stream_t *s = arg;
    if (status < 0) {
        set_err(s, "%s", tls_conn_error(s->tls));
        fail_ready(s, status);
        return;
    }
    s->ready = 1;
    if (s->cb.on_ready) s->cb.on_ready(s, 0);
}

/* ---- reading ------------------------------------------------------------------------------ */
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    stream_t *s = h->data;
    (void)suggested;
    if (s->rbuf && !s->rbuf->busy) {
        s->rbuf->busy = 1;
        *buf = uv_buf_init(s->rbuf->bytes, sizeof s->rbuf->bytes);
        return;
    }
    buf->base = malloc(STREAM_READ_CHUNK);
    buf->len = buf->base ? STREAM_READ_CHUNK : 0;
}

static void release_buf(stream_t *s, const uv_buf_t *buf)
{
    if (s->rbuf && buf->base == s->rbuf->bytes)
        s->rbuf->busy = 0;
    else
        free(buf->base);
}

static void handle_tls_status(stream_t *s, int r)
{
    if (r == 0 || s->closing || s->ended) return;
    if (r == TLS_ECLOSED) {
        stream_end(s, 0);
        return;
    }
    set_err(s, "%s", tls_conn_error(s->tls));
    if (!s->ready)
        fail_ready(s, r);
    else
        stream_end(s, r);
}

static void read_cb(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
    stream_t *s = h->data;
    if (s->lingering) {
        if (nread < 0 && !s->closing) stream_close(s);
        release_buf(s, buf);
        return;
    }
    if (nread > 0 && !s->closing && !s->ended) {
        s->bytes_in += (uint64_t)nread;
        s->in_read = 1;
        if (s->tls && s->tls_active) {
            handle_tls_status(s, tls_conn_feed(s->tls, (const uint8_t *)buf->base, (size_t)nread));
        } else if (s->cb.on_data && s->cb.on_data(s, (const uint8_t *)buf->base, (size_t)nread)) {
            stream_pause(s);
        }
        uncork(s);
    } else if (nread < 0 && !s->closing) {
        if (nread == UV_EOF) {
            if (!s->ready) {
                set_err(s, "%s", "connection closed by peer during TLS handshake");
                fail_ready(s, -ECONNRESET);
            } else {
                stream_end(s, 0);
            }
        } else {
            set_err(s, "read failed: %s", uv_strerror((int)nread));
            if (!s->ready)
                fail_ready(s, -ECONNRESET);
            else
                stream_end(s, (int)nread == UV_ECONNRESET ? -ECONNRESET : -EIO);
        }
    }
    release_buf(s, buf);
}

static int start_reading(stream_t *s)
{
    if (s->reading || s->ended || s->closing) return 0;
    int r = uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, read_cb);
    if (r == 0) s->reading = 1;
    return r;
}

static void pump_cb(uv_timer_t *t)
{
    stream_t *s = t->data;
    if (s->closing || s->ended || s->paused) return;
    if (s->tls && s->tls_active && s->ready) {
        s->in_read = 1;
        handle_tls_status(s, tls_conn_pump(s->tls));
        uncork(s);
    }
    if (!s->closing && !s->ended && !s->paused) start_reading(s);
}

/* ---- setup -------------------------------------------------------------------------------- */
static stream_t *stream_alloc(uv_loop_t *loop, const stream_opts_t *opts, const stream_cb_t *cb,
                              void *data)
{
    stream_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->cb = *cb;
    s->data = data;
    s->rbuf = opts ? opts->rbuf : NULL;
    s->high_water = opts && opts->high_water ? opts->high_water : 1024 * 1024;
    s->low_water = opts && opts->low_water ? opts->low_water : 256 * 1024;
    s->drain_at = s->low_water;
    buf_init(&s->cork, STREAM_CORK_MAX);
    if (uv_tcp_init(loop, &s->tcp) < 0) {
        free(s);
        return NULL;
    }
    s->tcp.data = s;
    s->open_handles = 1;
    uv_timer_init(loop, &s->pump);
    s->pump.data = s;
    s->open_handles++;
    return s;
}

static int setup_tls(stream_t *s, const stream_opts_t *opts)
{
    if (!opts || !opts->tls) return 0;
    tls_io_t io = {tls_send_cb, tls_recv_cb, tls_handshake_cb, s};
    int r = tls_conn_new(opts->tls, s->is_server ? NULL : opts->server_name,
                         s->is_server ? NULL : opts->verify_name, &io, &s->tls);
    if (r < 0) return r;
    if (!s->is_server && opts->resume) tls_conn_set_session(s->tls, opts->resume);
    s->defer_tls = !s->is_server && opts->defer_tls;
    s->tls_active = !s->defer_tls;
    return 0;
}

static void connect_cb(uv_connect_t *req, int status)
{
    stream_t *s = req->data;
    if (s->closing) return;
    if (status < 0) {
        set_err(s, "%s", uv_strerror(status));
        fail_ready(s, status == UV_ECONNREFUSED ? -ECONNREFUSED : -EIO);
        return;
    }
    s->connected = 1;
    uv_tcp_nodelay(&s->tcp, 1);
    if (start_reading(s) < 0) {
        set_err(s, "%s", "cannot read from socket");
        fail_ready(s, -EIO);
        return;
    }
    if (!s->tls || s->defer_tls) {
        s->ready = 1;
        if (s->cb.on_ready) s->cb.on_ready(s, 0);
        return;
    }
    int r = tls_conn_start(s->tls);
    if (r < 0) {
        set_err(s, "%s", tls_conn_error(s->tls));
        fail_ready(s, r);
    }
}

int stream_connect(uv_loop_t *loop, const struct sockaddr *addr, const stream_opts_t *opts,
                   const stream_cb_t *cb, void *data, stream_t **out)
{
    stream_t *s = stream_alloc(loop, opts, cb, data);
    if (!s) return -ENOMEM;
    int r = setup_tls(s, opts);
    if (r == 0) {
        s->connect_req.data = s;
        r = uv_tcp_connect(&s->connect_req, &s->tcp, addr, connect_cb);
        /* libuv creates the socket here: out of descriptors must read as such ("Too many open
         * files"), not "Invalid argument". */
        if (r < 0 && r != UV_EMFILE && r != UV_ENFILE) r = -EINVAL;
        /* Reading is asked for with the connect, so that the socket joins epoll once for both
         * (libuv reports the connect first); asked for after it, libuv's second EPOLL_CTL_ADD
         * fails with EEXIST and is retried as a MOD: two system calls more per connection. */
        if (r == 0 && start_reading(s) < 0) r = -EIO;
    }
    if (r < 0) {
        s->cb.on_close = NULL;
        stream_close(s);
        return r;
    }
    *out = s;
    return 0;
}

int stream_accept(uv_stream_t *listener, const stream_opts_t *opts, const stream_cb_t *cb,
                  void *data, stream_t **out)
{
    stream_t *s = stream_alloc(listener->loop, opts, cb, data);
    if (!s) return -ENOMEM;
    s->is_server = 1;
    int r = uv_accept(listener, (uv_stream_t *)&s->tcp);
    if (r == 0) r = setup_tls(s, opts);
    if (r == 0) {
        uv_tcp_nodelay(&s->tcp, 1);
        r = start_reading(s) < 0 ? -EIO : 0;
    }
    if (r < 0) {
        s->cb.on_close = NULL;
        stream_close(s);
        return r;
    }
    if (!s->tls) {
        /* Plain TCP: ready now, reported from the loop like every other callback. */
        s->ready = 1;
    }
    *out = s;
    return 0;
}

/* ---- public calls ------------------------------------------------------------------------- */
void *stream_data(const stream_t *s)
{
    return s->data;
}

int stream_write(stream_t *s, const void *data, size_t len)
{
    if (s->closing || s->close_after_write) return -EPIPE;
    if (len == 0) return 0;
    if (s->tls && s->tls_active) return tls_conn_write(s->tls, data, len);
    return raw_write(s, data, len);
}

size_t stream_queued(const stream_t *s)
{
    return s->queued;
}

int stream_above_high_water(const stream_t *s)
{
    return s->queued > s->high_water;
}

size_t stream_low_water(const stream_t *s)
{
    return s->low_water;
}

void stream_want_drain(stream_t *s, size_t at)
{
    if (s->queued <= at) return;
    if (!s->above_hw || at > s->drain_at) s->drain_at = at; /* the earliest asked for */
    s->above_hw = 1;
}

void stream_pause(stream_t *s)
{
    s->paused = 1;
    if (s->reading) uv_read_stop((uv_stream_t *)&s->tcp);
    s->reading = 0;
}

void stream_resume(stream_t *s)
{
    if (!s->paused || s->closing || s->ended) return;
    s->paused = 0;
    uv_timer_start(&s->pump, pump_cb, 0, 0);
}

int stream_shutdown(stream_t *s)
{
    if (s->closing) return -EPIPE;
    if (s->tls && s->tls_active && s->ready) tls_conn_close_notify(s->tls);
    cork_flush(s);
    if (s->queued)
        s->shutdown_after_write = 1;
    else
        send_fin(s);
    return 0;
}

void stream_close(stream_t *s)
{
    if (s->closing) return;
    cork_flush(s); /* what was written before the close goes out, as when it was not corked */
    s->closing = 1;
    if (s->reading) uv_read_stop((uv_stream_t *)&s->tcp);
    s->reading = 0;
    uv_close((uv_handle_t *)&s->pump, on_handle_closed);
    uv_close((uv_handle_t *)&s->tcp, on_handle_closed);
}

void stream_reset(stream_t *s)
{
    if (s->closing) return;
    cork_flush(s); /* written before the reset: in the kernel first, as when not corked */
    s->closing = 1;
    if (s->reading) uv_read_stop((uv_stream_t *)&s->tcp);
    s->reading = 0;
    uv_close((uv_handle_t *)&s->pump, on_handle_closed);
    if (uv_tcp_close_reset(&s->tcp, on_handle_closed) < 0)
        uv_close((uv_handle_t *)&s->tcp, on_handle_closed);
}

void stream_close_after_write(stream_t *s)
{
    if (s->closing || s->close_after_write) return;
    if (s->tls && s->tls_active && s->ready && !s->ended) tls_conn_close_notify(s->tls);
    cork_flush(s);
    s->close_after_write = 1;
    if (s->queued == 0) finish_close(s);
}

const char *stream_error(const stream_t *s)
{
    return s->err ? s->err : "";
}

tls_conn_t *stream_tls(stream_t *s)
{
    return s->tls;
}

uint64_t stream_bytes_in(const stream_t *s)
{
    return s->bytes_in;
}

uint64_t stream_bytes_out(const stream_t *s)
{
    return s->bytes_out;
}

uint64_t stream_sends(const stream_t *s)
{
    return s->sends;
}

int stream_start_tls(stream_t *s)
{
    if (!s->tls || s->tls_active || s->closing || s->ended) return -EINVAL;
    s->tls_active = 1;
    s->ready = 0; /* on_ready reports the handshake */
    int r = tls_conn_start(s->tls);
    if (r < 0) set_err(s, "%s", tls_conn_error(s->tls));
    return r;
}

int stream_connected(const stream_t *s)
{
    return s->connected || s->is_server;
}

uv_tcp_t *stream_tcp(stream_t *s)
{
    return &s->tcp;
}
