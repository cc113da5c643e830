/* Fuzzes the channel decoder, the error-channel status parser and the resize decoder. Byte 0
 * picks the protocol, byte 1 the resize chunk size. Invariants: the status is always a
 * consistent verdict (SUCCESS = 0, EXIT 0..255, FAILURE -1, NUL-terminated strings), and
 * encode -> decode gives the bytes back on every protocol. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/chan.h"
#include "sim/chan_server.h"

static void check_status(const chan_status_t *st)
{
    if (memchr(st->reason, 0, sizeof st->reason) == NULL) abort();
    if (memchr(st->message, 0, sizeof st->message) == NULL) abort();
    switch (st->kind) {
    case CHAN_STATUS_SUCCESS:
        if (st->exit_code != 0) abort();
        break;
    case CHAN_STATUS_EXIT:
        if (st->exit_code < 0 || st->exit_code > 255) abort();
        break;
    case CHAN_STATUS_FAILURE:
        if (st->exit_code != -1) abort();
        break;
    default:
        abort();
    }
}

static void on_size(void *arg, unsigned w, unsigned h)
{
    if (w > 65535 || h > 65535) abort();
}

static void roundtrip(chan_proto_t p, const uint8_t *data, size_t size)
{
    buf_t msg, out;
    buf_init(&msg, 0);
    buf_init(&out, 0);
    int op, ch = -2;
    if (chan_encode(p, CHAN_STDOUT, data, size, &msg, &op) == 0) {
        if (chan_decode(p, (const uint8_t *)msg.data, msg.len, &ch, &out)) abort();
        if (ch != CHAN_STDOUT || out.len != size || (size && memcmp(out.data, data, size))) abort();
    }
    buf_free(&msg);
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    chan_proto_t p = (chan_proto_t)(data[0] % 6);
    size_t step = data[1] ? data[1] : size;
    data += 2;
    size -= 2;

    chan_status_t st;
    int r = chan_status_parse(p, data, size, &st);
    if (r != 0 && r != -ENODATA) abort();
    check_status(&st);

    buf_t out;
    buf_init(&out, 0);
    int ch;
    if (chan_decode(p, data, size, &ch, &out) == 0 && ch == CHAN_ERROR) {
        r = chan_status_parse(p, (const uint8_t *)out.data, out.len, &st);
        check_status(&st);
    }
    buf_free(&out);

    chan_resize_decoder_t d;
    chan_resize_init(&d);
    for (size_t off = 0; off < size; off += step) {
        size_t n = size - off < step ? size - off : step;
        if (chan_resize_feed(&d, data + off, n, on_size, NULL)) break;
    }
    chan_resize_free(&d);
    roundtrip(p, data, size);
    return 0;
}
