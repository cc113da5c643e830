/* Fuzzes the response parser (client side). Byte 0 picks the chunk size (0: all at once); the
 * rest is the server's bytes. Invariants: consumed never exceeds what was fed, a DONE message
 * has a status in 100..999 and a body within its limit, and an upgrade leaves the rest unread. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http.h"

#define MAX_BODY 4096

static void check_done(const http_msg_t *m)
{
    if (m->status < 100 || m->status > 999) abort();
    if (m->body.len > MAX_BODY) abort();
    if (m->nheaders < 0 || m->nheaders > HTTP_MAX_HEADERS) abort();
    for (int i = 0; i < m->nheaders; i++)
        if (!m->headers[i].name || !m->headers[i].value) abort();
    (void)http_msg_header(m, "Sec-WebSocket-Accept");
    (void)http_msg_header_has_token(m, "Connection", "upgrade");
    (void)http_msg_header_has_token(m, "Upgrade", "websocket");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t step = data[0] ? data[0] : size;
    const char *in = (const char *)data + 1;
    size_t len = size - 1, off = 0;
    http_msg_t m;
    if (http_msg_init(&m, 0, 2048, MAX_BODY)) return 0;
    int r = HTTP_NEED_MORE;
    while (off < len && r == HTTP_NEED_MORE) {
        size_t n = len - off < step ? len - off : step, used = 0;
        r = http_msg_feed(&m, in + off, n, &used);
        if (used > n) abort();
        if (r == HTTP_NEED_MORE && used != n) abort();
        off += used;
    }
    if (r == HTTP_NEED_MORE) r = http_msg_eof(&m);
    if (r == HTTP_DONE)
        check_done(&m);
    else if (r != -EPROTO && r != -E2BIG && r != HTTP_NEED_MORE)
        abort();
    http_msg_free(&m);
    return 0;
}
