/* ws: WebSocket framing through wslay 1.1.1's event API, over a plaintext byte stream.
 * Pure: bytes come in with ws_feed(), go out through io.send. Client frames are masked with
 * io.genmask; messages are never fragmented by us. */
#ifndef PMX_NET_WS_H
#define PMX_NET_WS_H

#include <stddef.h>
#include <stdint.h>

#define WS_OP_TEXT 1
#define WS_OP_BINARY 2
#define WS_OP_CLOSE 8
#define WS_OP_PING 9
#define WS_OP_PONG 10

#define WS_WOULDBLOCK (-11) /* returned by io.send when the transport's queue is full */

typedef struct ws ws_t;

typedef struct ws_io {
    /* One whole frame for the transport (so the transport can put each frame in its own TLS
     * record, as the real server does). Return 0 when taken (copied or queued), or WS_WOULDBLOCK
     * when the transport is above its high-water mark: then nothing was taken and the same frame
     * is offered again on the next ws_flush(). Any other <0 is fatal. */
    int (*send)(void *arg, const uint8_t *data, size_t len);
    /* A complete data message (text or binary); data is valid for the call. */
    void (*on_message)(void *arg, int opcode, const uint8_t *data, size_t len);
    /* The peer sent a close frame with this code (1005 if none) and reason. */
    void (*on_close)(void *arg, uint16_t code, const uint8_t *reason, size_t len);
    /* A pong arrived (keepalive bookkeeping). May be NULL. */
    void (*on_pong)(void *arg);
    /* Protocol error (bad frame, message too big): the engine queued a close (1002/1009).
     * code is what it sent. */
    void (*on_error)(void *arg, uint16_t code, const char *what);
    /* Client only: fill len random bytes for masks. */
    int (*genmask)(void *arg, uint8_t *buf, size_t len);
    void *arg;
} ws_io_t;

int ws_new(int is_server, size_t max_msg_len, const ws_io_t *io, ws_t **out);
void ws_free(ws_t *ws);
/* Plaintext from the transport; parses every complete frame in it, calling the io callbacks,
 * unless ws_read_blocked(): then the rest is kept (copied) for a later ws_feed(ws, NULL, 0).
 * Returns 0 or <0 (fatal; the peer's stream is broken).
 * A data message may have 1024 fragments, then one more per KiB of payload; past that the
 * engine closes with 1009 ("message in too many fragments"). */
int ws_feed(ws_t *ws, const uint8_t *data, size_t len);
/* 1 while the engine owes the peer more than 64 control replies (pongs) that the transport
 * has not taken: it reads no further. The owner should stop reading the transport, and once
 * ws_flush() made room (the transport drained) call ws_feed(ws, NULL, 0) and read again; if
 * that does not happen soon, the peer is not reading and the owner should give up. */
int ws_read_blocked(const ws_t *ws);
/* Queue one unfragmented message (copied). Does not send: call ws_flush(). */
int ws_queue(ws_t *ws, int opcode, const uint8_t *data, size_t len);
int ws_queue_ping(ws_t *ws);
int ws_queue_close(ws_t *ws, uint16_t code, const char *reason);
/* Sends what is queued until io.send would block. Returns 0 or <0. */
int ws_flush(ws_t *ws);
/* Bytes queued in the engine not yet handed to io.send. */
size_t ws_queued_bytes(const ws_t *ws);
int ws_want_write(const ws_t *ws);
int ws_close_sent(const ws_t *ws);
int ws_close_received(const ws_t *ws);

#endif
