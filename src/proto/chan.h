/* chan: the Kubernetes remotecommand channel protocols over WebSocket (see docs/PROTOCOL.md §2).
 * Pure: WebSocket message payloads in, channel + bytes out, and back. No I/O. */
#ifndef PMX_KUBE_CHAN_H
#define PMX_KUBE_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

typedef enum chan_proto {
    CHAN_PROTO_INVALID = -1,
    CHAN_PROTO_NONE = 0,  /* "" : no Sec-WebSocket-Protocol; behaves as channel.k8s.io */
    CHAN_PROTO_V1,        /* channel.k8s.io */
    CHAN_PROTO_BASE64,    /* base64.channel.k8s.io */
    CHAN_PROTO_V4,        /* v4.channel.k8s.io */
    CHAN_PROTO_V4_BASE64, /* v4.base64.channel.k8s.io */
    CHAN_PROTO_V5,        /* v5.channel.k8s.io */
} chan_proto_t;

enum {
    CHAN_STDIN = 0,
    CHAN_STDOUT = 1,
    CHAN_STDERR = 2,
    CHAN_ERROR = 3,
    CHAN_RESIZE = 4,
    CHAN_CLOSE = 255,
};

chan_proto_t chan_proto_from_name(const char *name); /* NULL or "" -> NONE; unknown -> INVALID */
const char *chan_proto_name(chan_proto_t p);         /* NONE -> "" */
int chan_proto_is_base64(chan_proto_t p);            /* text frames, ASCII digit + base64 */
int chan_proto_has_close(chan_proto_t p);            /* v5 only */
int chan_proto_status_json(chan_proto_t p); /* v4, v4.base64, v5: error channel carries JSON */

/* Encodes data for channel ch into a WebSocket payload appended to out; *opcode gets 1 (text)
 * or 2 (binary). */
int chan_encode(chan_proto_t p, int ch, const uint8_t *data, size_t len, buf_t *out, int *opcode);
/* {"Width":w,"Height":h}\n on channel 4, as kubectl sends it. */
int chan_encode_resize(chan_proto_t p, unsigned width, unsigned height, buf_t *out, int *opcode);
/* FF ch (v5 only; -ENOTSUP otherwise). */
int chan_encode_close(chan_proto_t p, int ch, buf_t *out, int *opcode);

/* Decodes one received message. *ch gets the channel; the channel's bytes are appended to out
 * (base64 decoded on base64 protocols). An empty message gives *ch = -1. -EPROTO on bad base64. */
int chan_decode(chan_proto_t p, const uint8_t *msg, size_t len, int *ch, buf_t *out);

/* ---- status (error channel) ------------------------------------------------------------- */
typedef enum chan_status_kind {
    CHAN_STATUS_SUCCESS = 0, /* exit 0 */
    CHAN_STATUS_EXIT,        /* NonZeroExitCode with an ExitCode cause: exit_code 1..255 */
    CHAN_STATUS_FAILURE,     /* anything else: reason + message kept, no number guessed */
} chan_status_kind_t;

typedef struct chan_status {
    chan_status_kind_t kind;
    int exit_code;   /* 0 for success, 1..255 for EXIT, -1 otherwise */
    int http_code;   /* "code" field if present, else 0 */
    char reason[64]; /* "NonZeroExitCode", "InternalError", ... ("" on v1 text) */
    char message[1024];
} chan_status_t;

/* Parses everything received on the error channel (the whole concatenated stream) the way
 * client-go does: JSON Status on v4/v4.base64/v5; plain text message on v1/""/base64 (always a
 * FAILURE with that text). A malformed status is a FAILURE with reason "ProtocolError" and a
 * message saying what was wrong (client-go's wording: "error stream protocol error: ..."). */
int chan_status_parse(chan_proto_t p, const uint8_t *data, size_t len, chan_status_t *st);

#endif
