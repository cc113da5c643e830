/* stream: a TCP connection on a libuv loop with optional TLS, for the client and for
 * podmux-sim. It owns the uv_tcp_t and the tls_conn, writes at once what the kernel takes and
 * keeps a copy of the rest until uv_write completes, counts queued bytes for backpressure, and
 * can pause reading.
 *
 * Plaintext in:  stream_cb.on_data.   Plaintext out: stream_write().
 * All callbacks run from the loop, never from inside the stream_* call that caused them,
 * except on_data during stream_resume() (documented there). */
#ifndef PMX_NET_STREAM_H
#define PMX_NET_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "proto/tls.h"

typedef struct stream stream_t;

#define STREAM_READ_CHUNK (64 * 1024)

/* A read buffer that the streams of one owner (a client, the sim's server) share. libuv reads
 * one stream at a time and a stream never keeps the bytes past its read callback (the TLS engine
 * copies what it cannot use yet), so one buffer serves every connection: no 64 KiB malloc and
 * free per read, and no holes in the heap that later callocs must zero (and so make resident). */
typedef struct stream_rbuf {
    int busy;
    char bytes[STREAM_READ_CHUNK];
} stream_rbuf_t;

typedef struct stream_cb {
    /* TCP connected (client) and, with TLS, handshake done. status 0 or <0 (text in
     * stream_error()). */
    void (*on_ready)(stream_t *s, int status);
    /* Plaintext from the peer. Return 0 to continue, 1 to pause (as stream_pause()). */
    int (*on_data)(stream_t *s, const uint8_t *data, size_t len);
    /* The peer ended the stream (EOF / close_notify: status 0) or it failed (<0). Called at most
     * once; after it no more on_data. The owner then calls stream_close(). */
    void (*on_end)(stream_t *s, int status);
    /* Queued bytes dropped below the low-water mark after having been above high-water. */
    void (*on_drain)(stream_t *s);
    /* After stream_close(): the handle is gone; the owner may free what data points to. */
    void (*on_close)(stream_t *s);
} stream_cb_t;

typedef struct stream_opts {
    tls_ctx_t *tls;              /* NULL: plain TCP */
    const char *server_name;     /* client: host for SNI / verification (IP literals ok) */
    const char *verify_name;     /* client: tls-server-name override */
    const tls_session_t *resume; /* client: TLS session to offer */
    int defer_tls;       /* client: on_ready after TCP only; TLS starts at stream_start_tls() (proxy
                          * CONNECT tunnels) */
    size_t high_water;   /* default 1 MiB */
    size_t low_water;    /* default 256 KiB */
    stream_rbuf_t *rbuf; /* shared read buffer, outliving the stream; NULL: malloc per read */
} stream_opts_t;

/* Client: connects to addr (already resolved). */
int stream_connect(uv_loop_t *loop, const struct sockaddr *addr, const stream_opts_t *opts,
                   const stream_cb_t *cb, void *data, stream_t **out);
/* Server: accepts a pending connection from listener. With TLS, on_ready follows the handshake;
 * without TLS the stream is ready at once and on_ready is not called. */
int stream_accept(uv_stream_t *listener, const stream_opts_t *opts, const stream_cb_t *cb,
                  void *data, stream_t **out);

void *stream_data(const stream_t *s);
/* Writes data (encrypting it first with TLS: a write <= 16 KiB is one record): at once when
 * nothing is queued, what the kernel does not take is copied and queued. Returns 0 or <0.
 * Never calls a callback before returning. */
int stream_write(stream_t *s, const void *data, size_t len);
/* Bytes copied and queued because the kernel did not take them yet, plus the cost of each
 * queued write's bookkeeping (some 200 bytes), so that many tiny writes count for what they
 * take. */
size_t stream_queued(const stream_t *s);
int stream_above_high_water(const stream_t *s);
/* Asks for on_drain when the queue next falls to `at` bytes or fewer (if it is above that now):
 * an owner with queues of its own in front of the socket's needs marks below the stream's. */
void stream_want_drain(stream_t *s, size_t at);
size_t stream_low_water(const stream_t *s);
void stream_pause(stream_t *s);
/* Restarts reading; plaintext the TLS engine already holds is delivered from a later loop turn. */
void stream_resume(stream_t *s);
/* Half-close after queued writes (TLS close_notify, then TCP shutdown). */
int stream_shutdown(stream_t *s);
/* Closes now (queued writes that the kernel has not taken are dropped); on_close follows. */
void stream_close(stream_t *s);
/* Closes with a TCP reset (RST), dropping queued writes; on_close follows. */
void stream_reset(stream_t *s);
/* Closes after the queued writes complete (what a server does after its final frame). */
void stream_close_after_write(stream_t *s);
const char *stream_error(const stream_t *s);
tls_conn_t *stream_tls(stream_t *s);
uint64_t stream_bytes_in(const stream_t *s);
uint64_t stream_bytes_out(const stream_t *s);
/* Sends handed to the kernel at once (one write(2) each), not counting queued retries: small
 * writes made while a read is handled leave together, in one. */
uint64_t stream_sends(const stream_t *s);
uv_tcp_t *stream_tcp(stream_t *s);
/* Starts the deferred TLS handshake (opts.defer_tls); on_ready follows once it is done. */
int stream_start_tls(stream_t *s);
/* 1 once the TCP connection is up (tells a connect failure from a TLS one). */
int stream_connected(const stream_t *s);

#endif
