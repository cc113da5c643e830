/* Fuzzes the request parser (server side) and everything podmux-sim does with a request: query
 * lookups, protocol choice, accept key. Byte 0 picks the chunk size (0: all at once). Also
 * checks that form escaping round-trips for arbitrary bytes. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http.h"
#include "sim/http_server.h"

static void use_request(const http_msg_t *m)
{
    if (!m->method || !m->url || !m->path) abort();
    for (int i = 0; i < 64; i++) {
        char *v = http_msg_query_get(m, "command", i);
        if (!v) break;
        free(v);
    }
    free(http_msg_query_get(m, "container", 0));
    static const char *const supported[] = {"", "channel.k8s.io", "v4.channel.k8s.io",
                                            "v5.channel.k8s.io", NULL};
    int p = ws_choose_protocol(http_msg_header(m, "Sec-WebSocket-Protocol"), supported);
    if (p < -1 || p > 3) abort();
    const char *key = http_msg_header(m, "Sec-WebSocket-Key");
    char acc[29];
    if (key && ws_accept_for_key(key, acc) == 0 && strlen(acc) != 28) abort();
}

static void escape_roundtrip(const uint8_t *data, size_t size)
{
    char *s = strndup((const char *)data, size);
    if (!s) return;
    buf_t b;
    buf_init(&b, 0);
    if (http_query_escape(&b, s) == 0) {
        char *back = http_query_unescape(b.data ? b.data : "", b.len);
        if (!back || strcmp(back, s)) abort();
        free(back);
    }
    buf_free(&b);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t step = data[0] ? data[0] : size;
    const char *in = (const char *)data + 1;
    size_t len = size - 1, off = 0;
    http_msg_t m;
    if (http_msg_init(&m, 1, 4096, 4096)) return 0;
    int r = HTTP_NEED_MORE;
    while (off < len && r == HTTP_NEED_MORE) {
        size_t n = len - off < step ? len - off : step, used = 0;
        r = http_msg_feed(&m, in + off, n, &used);
        if (used > n || (r == HTTP_NEED_MORE && used != n)) abort();
        off += used;
    }
    if (r == HTTP_DONE)
        use_request(&m);
    else if (r != HTTP_NEED_MORE && r != -EPROTO && r != -E2BIG)
        abort();
    http_msg_free(&m);
    free(http_query_unescape(in, len));
    escape_roundtrip(data + 1, len);
    return 0;
}
