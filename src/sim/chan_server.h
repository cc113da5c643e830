/* chan_server: the server's half of the channel protocols (podmux-sim only); see chan_server.c. */
#ifndef PMX_SIM_CHAN_SERVER_H
#define PMX_SIM_CHAN_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "proto/chan.h"
#include "util/buf.h"

/* Status JSON exactly as the kubelet (v5 == 0) or the apiserver translator (v5 == 1) writes it:
 * exit 0 -> {"metadata":{},"status":"Success"}; exit N -> NonZeroExitCode with the kubelet's
 * "error executing command [argv...], exit code N" or the translator's
 * "command terminated with exit code N" wording. argv is used for the kubelet wording. */
int chan_status_exit_json(buf_t *out, int v5, int exit_code, const char *const *argv, int argc);
/* InternalError Status JSON: message "Internal error occurred: <msg>", cause without reason,
 * code 500. */
int chan_status_internal_json(buf_t *out, const char *msg);
/* The text a v1/""/base64 server puts on the error channel for that status JSON (its message),
 * nothing for success. */
int chan_status_v1_text(buf_t *out, int exit_code, const char *const *argv, int argc);

/* Streaming decoder for the resize channel, like Go's json.Decoder over the channel's bytes:
 * objects may be split across messages or packed several in one, whitespace between them,
 * field names case-insensitive, numbers must fit uint16. The first error disables it for good. */
typedef struct chan_resize_decoder {
    buf_t pending;
    int failed;
} chan_resize_decoder_t;
void chan_resize_init(chan_resize_decoder_t *d);
void chan_resize_free(chan_resize_decoder_t *d);
/* Feeds bytes; calls cb for every complete size. Returns 0, or -EPROTO once failed. */
int chan_resize_feed(chan_resize_decoder_t *d, const uint8_t *data, size_t len,
                     void (*cb)(void *arg, unsigned width, unsigned height), void *arg);

#endif
