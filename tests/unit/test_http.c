/* http: writers byte for byte, parsers fed in 1-byte, 7-byte and whole chunks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http.h"
#include "sim/http_server.h"

static const size_t steps[] = {1, 7, (size_t)-1};
#define NSTEPS (sizeof steps / sizeof steps[0])

/* Feeds data in pieces of `step` until DONE or an error; *used gets the bytes consumed. */
static int feed_in_steps(http_msg_t *m, const char *data, size_t len, size_t step, size_t *used)
{
    size_t off = 0;
    *used = 0;
    int r = HTTP_NEED_MORE;
    while (off < len) {
        size_t n = len - off < step ? len - off : step;
        size_t consumed = 0;
        r = http_msg_feed(m, data + off, n, &consumed);
        *used += consumed;
        if (r != HTTP_NEED_MORE) return r;
        assert_int_equal(consumed, n);
        off += n;
    }
    return r;
}

static void escape_is(const char *in, const char *want)
{
    buf_t b;
    buf_init(&b, 0);
    assert_int_equal(http_query_escape(&b, in), 0);
    assert_string_equal(b.data ? b.data : "", want);
    buf_free(&b);
}

static void test_query_escape(void **state)
{
    escape_is("echo hi; exit 3", "echo+hi%3B+exit+3");
    escape_is("&#%+;=\"'\n", "%26%23%25%2B%3B%3D%22%27%0A");
    escape_is("\xc3\xa9", "%C3%A9");
    escape_is("AZaz09-_.~", "AZaz09-_.~");
    escape_is("a b&c", "a+b%26c");
    escape_is("(x)/?", "%28x%29%2F%3F");
    escape_is("", "");
}

static void test_query_add_builds_kubectl_path(void **state)
{
    buf_t p;
    buf_init(&p, 0);
    int first = 1;
    buf_append_str(&p, "/api/v1/namespaces/default/pods/web-1/exec");
    assert_int_equal(http_query_add(&p, &first, "command", "sh"), 0);
    assert_int_equal(first, 0);
    assert_int_equal(http_query_add(&p, &first, "command", "-c"), 0);
    assert_int_equal(http_query_add(&p, &first, "command", "echo hi; exit 3"), 0);
    assert_int_equal(http_query_add(&p, &first, "container", "main"), 0);
    assert_int_equal(http_query_add(&p, &first, "stderr", "true"), 0);
    assert_int_equal(http_query_add(&p, &first, "stdout", "true"), 0);
    assert_string_equal(p.data, "/api/v1/namespaces/default/pods/web-1/exec?command=sh&command=-c&"
                                "command=echo+hi%3B+exit+3&container=main&stderr=true&stdout=true");
    buf_free(&p);
}

static void test_write_request(void **state)
{
    buf_t b;
    buf_init(&b, 0);
    const char *h[] = {"Connection", "Upgrade", "Upgrade", "websocket", NULL};
    assert_int_equal(http_write_request(&b, "GET", "/x?a=b", "127.0.0.1:18443", h, NULL, 0), 0);
    assert_string_equal(b.data, "GET /x?a=b HTTP/1.1\r\nHost: 127.0.0.1:18443\r\n"
                                "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    buf_reset(&b);
    assert_int_equal(http_write_request(&b, "POST", "/p", "h", NULL, "abc", 3), 0);
    assert_string_equal(b.data, "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc");
    /* Injection attempts are refused and leave the buffer as it was. */
    size_t before = b.len;
    const char *evil[] = {"X-A", "1\r\nX-B: 2", NULL};
    assert_int_equal(http_write_request(&b, "GET", "/", "h", evil, NULL, 0), -EINVAL);
    assert_int_equal(http_write_request(&b, "GET", "/ x", "h", NULL, NULL, 0), -EINVAL);
    assert_int_equal(http_write_request(&b, "GET", "/", "h\n", NULL, NULL, 0), -EINVAL);
    assert_int_equal(b.len, before);
    assert_string_equal(b.data, "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc");
    buf_free(&b);
}

static void test_write_response(void **state)
{
    buf_t b;
    buf_init(&b, 0);
    const char *h[] = {"Upgrade",
                       "websocket",
                       "Connection",
                       "Upgrade",
                       "Sec-WebSocket-Accept",
                       "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
                       "Sec-WebSocket-Protocol",
                       "v5.channel.k8s.io",
                       NULL};
    assert_int_equal(http_write_response(&b, 101, h, NULL, 0), 0);
    assert_string_equal(b.data, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Accept: "
                                "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: "
                                "v5.channel.k8s.io\r\n\r\n");
    buf_reset(&b);
    assert_int_equal(http_write_response(&b, 403, NULL, "", 0), 0);
    assert_string_equal(b.data, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    buf_reset(&b);
    assert_int_equal(http_write_response(&b, 405, NULL, "bad method", 10), 0);
    assert_string_equal(b.data,
                        "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 10\r\n\r\nbad method");
    buf_reset(&b);
    assert_int_equal(http_write_response(&b, 599, NULL, NULL, 0), 0);
    assert_string_equal(b.data, "HTTP/1.1 599 status code 599\r\n\r\n");
    assert_string_equal(http_reason_phrase(429), "Too Many Requests");
    assert_string_equal(http_reason_phrase(500), "Internal Server Error");
    assert_int_equal(http_write_response(&b, 42, NULL, NULL, 0), -EINVAL);
    buf_free(&b);
}

static const char resp101[] = "HTTP/1.1 101 Switching Protocols\r\n"
                              "Upgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                              "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n"
                              "\r\n";

static void test_parse_101_leaves_frames(void **state)
{
    const char frames[] = "\x82\x01\x01\x82\x04\x01hi\n";
    char all[512];
    size_t hlen = strlen(resp101), total = hlen + sizeof frames - 1;
    memcpy(all, resp101, hlen);
    memcpy(all + hlen, frames, sizeof frames - 1);
    for (size_t i = 0; i < NSTEPS; i++) {
        http_msg_t m;
        assert_int_equal(http_msg_init(&m, 0, 0, 0), 0);
        size_t used;
        assert_int_equal(feed_in_steps(&m, all, total, steps[i], &used), HTTP_DONE);
        assert_int_equal(used, hlen);
        assert_int_equal(m.status, 101);
        assert_int_equal(m.upgrade, 1);
        assert_int_equal(m.nheaders, 4);
        assert_string_equal(m.headers[2].name, "Sec-WebSocket-Accept");
        assert_string_equal(http_msg_header(&m, "sec-websocket-accept"),
                            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_string_equal(http_msg_header(&m, "Sec-WebSocket-Protocol"), "v5.channel.k8s.io");
        assert_true(http_msg_header_has_token(&m, "Connection", "upgrade"));
        assert_true(http_msg_header_has_token(&m, "Upgrade", "WebSocket"));
        assert_false(http_msg_header_has_token(&m, "Upgrade", "web"));
        assert_null(http_msg_header(&m, "Content-Length"));
        assert_int_equal(m.body.len, 0);
        /* After DONE nothing more is consumed. */
        size_t c = 99;
        assert_int_equal(http_msg_feed(&m, "x", 1, &c), HTTP_DONE);
        assert_int_equal(c, 0);
        http_msg_free(&m);
    }
}

static void parse_response(const char *raw, size_t len, int want, http_msg_t *m, size_t step)
{
    assert_int_equal(http_msg_init(m, 0, 0, 1024), 0);
    size_t used;
    assert_int_equal(feed_in_steps(m, raw, len, step, &used), want);
}

static void test_parse_bodies(void **state)
{
    static const char cl[] = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                             "Content-Length: 17\r\n\r\n{\"kind\":\"Status\"}";
    static const char chunked[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
    static const char zero[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";
    static const char nocontent[] = "HTTP/1.1 204 No Content\r\n\r\n";
    static const char notmod[] = "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n";
    for (size_t i = 0; i < NSTEPS; i++) {
        http_msg_t m;
        parse_response(cl, sizeof cl - 1, HTTP_DONE, &m, steps[i]);
        assert_int_equal(m.status, 404);
        assert_string_equal(m.body.data, "{\"kind\":\"Status\"}");
        assert_int_equal(m.keep_alive, 1);
        assert_int_equal(m.upgrade, 0);
        http_msg_free(&m);

        parse_response(chunked, sizeof chunked - 1, HTTP_DONE, &m, steps[i]);
        assert_int_equal(m.status, 200);
        assert_int_equal(m.body.len, 12);
        assert_string_equal(m.body.data, "hello, world");
        http_msg_free(&m);

        parse_response(zero, sizeof zero - 1, HTTP_DONE, &m, steps[i]);
        assert_int_equal(m.status, 500);
        assert_int_equal(m.body.len, 0);
        http_msg_free(&m);

        parse_response(nocontent, sizeof nocontent - 1, HTTP_DONE, &m, steps[i]);
        assert_int_equal(m.status, 204);
        http_msg_free(&m);

        parse_response(notmod, sizeof notmod - 1, HTTP_DONE, &m, steps[i]);
        assert_int_equal(m.status, 304);
        assert_int_equal(m.body.len, 0);
        assert_int_equal(m.keep_alive, 1);
        http_msg_free(&m);
    }
}

static void test_parse_body_until_eof(void **state)
{
    static const char raw[] = "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\n"
                              "container not found (\"main\")";
    for (size_t i = 0; i < NSTEPS; i++) {
        http_msg_t m;
        parse_response(raw, sizeof raw - 1, HTTP_NEED_MORE, &m, steps[i]);
        assert_int_equal(http_msg_eof(&m), HTTP_DONE);
        assert_int_equal(m.status, 500);
        assert_string_equal(m.body.data, "container not found (\"main\")");
        assert_int_equal(m.keep_alive, 0);
        http_msg_free(&m);
    }
    /* EOF inside the headers or a Content-Length body is a truncation. */
    http_msg_t m;
    parse_response("HTTP/1.1 200 OK\r\nContent-Le", 27, HTTP_NEED_MORE, &m, 7);
    assert_int_equal(http_msg_eof(&m), -EPROTO);
    http_msg_free(&m);
    parse_response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", 40, HTTP_NEED_MORE, &m, 1);
    assert_int_equal(http_msg_eof(&m), -EPROTO);
    http_msg_free(&m);
}

static const char kubectl_req[] =
    "GET /api/v1/namespaces/default/pods/web-1/exec?command=sh&command=-c&command=echo+hi%3B+"
    "exit+3&container=main&stderr=true&stdout=true HTTP/1.1\r\n"
    "Host: 127.0.0.1:18443\r\n"
    "User-Agent: kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07\r\n"
    "Authorization: Bearer s3cr3t-token\r\n"
    "Connection: Upgrade\r\n"
    "Kubectl-Command: kubectl exec\r\n"
    "Kubectl-Session: 1a9fbf6c-fdeb-40ad-b259-d1ff3c0eed96\r\n"
    "Sec-WebSocket-Key: Jm4ph3VARJTy9yPXEUUrWA==\r\n"
    "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Upgrade: websocket\r\n"
    "\r\n";

static void test_parse_kubectl_request(void **state)
{
    const char frame[] = "\x82\x83\x37\xfa\x21\x3d\x37\x9b\x2b";
    char all[1024];
    size_t hlen = strlen(kubectl_req);
    memcpy(all, kubectl_req, hlen);
    memcpy(all + hlen, frame, 9);
    for (size_t i = 0; i < NSTEPS; i++) {
        http_msg_t m;
        assert_int_equal(http_msg_init(&m, 1, 0, 0), 0);
        size_t used;
        assert_int_equal(feed_in_steps(&m, all, hlen + 9, steps[i], &used), HTTP_DONE);
        assert_int_equal(used, hlen);
        assert_int_equal(m.is_request, 1);
        assert_string_equal(m.method, "GET");
        assert_string_equal(m.path, "/api/v1/namespaces/default/pods/web-1/exec");
        assert_string_equal(m.query, "command=sh&command=-c&command=echo+hi%3B+exit+3&container="
                                     "main&stderr=true&stdout=true");
        assert_int_equal(m.upgrade, 1);
        assert_int_equal(m.keep_alive, 1);
        assert_int_equal(m.nheaders, 10);
        assert_string_equal(http_msg_header(&m, "host"), "127.0.0.1:18443");
        assert_string_equal(http_msg_header(&m, "Sec-WebSocket-Key"), "Jm4ph3VARJTy9yPXEUUrWA==");
        char *c0 = http_msg_query_get(&m, "command", 0), *c1 = http_msg_query_get(&m, "command", 1),
             *c2 = http_msg_query_get(&m, "command", 2), *c3 = http_msg_query_get(&m, "command", 3);
        assert_string_equal(c0, "sh");
        assert_string_equal(c1, "-c");
        assert_string_equal(c2, "echo hi; exit 3");
        assert_null(c3);
        char *ct = http_msg_query_get(&m, "container", 0), *tty = http_msg_query_get(&m, "tty", 0);
        assert_string_equal(ct, "main");
        assert_null(tty);
        free(c0);
        free(c1);
        free(c2);
        free(ct);
        http_msg_free(&m);
    }
}

static void test_parse_python_request(void **state)
{
    static const char raw[] =
        "GET /api/v1/namespaces/default/pods/web-1/exec?command=sh&command=-c&command=echo+a+b%26c&"
        "stderr=True&stdin=False&stdout=True&tty=False HTTP/1.1\r\n"
        "Upgrade: websocket\r\nHost: 127.0.0.1:18080\r\nOrigin: http://127.0.0.1:18080\r\n"
        "Sec-WebSocket-Key: 8KV7AnLAAu9wswh+klxeog==\r\nSec-WebSocket-Version: 13\r\n"
        "Connection: Upgrade\r\nauthorization: Bearer s3cr3t-token\r\n"
        "sec-websocket-protocol: v4.channel.k8s.io\r\n\r\n";
    http_msg_t m;
    assert_int_equal(http_msg_init(&m, 1, 0, 0), 0);
    size_t used;
    assert_int_equal(feed_in_steps(&m, raw, sizeof raw - 1, 7, &used), HTTP_DONE);
    assert_int_equal(used, sizeof raw - 1);
    assert_string_equal(http_msg_header(&m, "Authorization"), "Bearer s3cr3t-token");
    assert_string_equal(http_msg_header(&m, "Sec-WebSocket-Protocol"), "v4.channel.k8s.io");
    assert_string_equal(m.headers[6].name, "authorization");
    char *c = http_msg_query_get(&m, "command", 2), *s = http_msg_query_get(&m, "stdin", 0);
    assert_string_equal(c, "echo a b&c");
    assert_string_equal(s, "False");
    free(c);
    free(s);
    http_msg_free(&m);
}

static void test_parse_request_with_body_and_next(void **state)
{
    static const char raw[] = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /";
    http_msg_t m;
    assert_int_equal(http_msg_init(&m, 1, 0, 0), 0);
    size_t used;
    assert_int_equal(feed_in_steps(&m, raw, sizeof raw - 1, (size_t)-1, &used), HTTP_DONE);
    assert_int_equal(used, sizeof raw - 1 - 5);
    assert_string_equal(m.method, "POST");
    assert_string_equal(m.url, "/x");
    assert_null(m.query);
    assert_string_equal(m.body.data, "abc");
    assert_int_equal(m.upgrade, 0);
    http_msg_free(&m);
}

static void test_limits_and_errors(void **state)
{
    http_msg_t m;
    char big[400];
    memset(big, 'a', sizeof big);
    buf_t raw;
    buf_init(&raw, 0);
    buf_printf(&raw, "GET / HTTP/1.1\r\nX-Big: %.*s\r\n\r\n", (int)sizeof big, big);
    size_t used;
    for (size_t i = 0; i < NSTEPS; i++) {
        assert_int_equal(http_msg_init(&m, 1, 256, 0), 0);
        assert_int_equal(feed_in_steps(&m, raw.data, raw.len, steps[i], &used), -E2BIG);
        assert_int_equal(http_msg_feed(&m, "x", 1, &used), -E2BIG);
        http_msg_free(&m);
    }
    /* Too many headers. */
    buf_reset(&raw);
    buf_append_str(&raw, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < HTTP_MAX_HEADERS + 1; i++)
        buf_printf(&raw, "X-%d: v\r\n", i);
    buf_append_str(&raw, "\r\n");
    assert_int_equal(http_msg_init(&m, 1, 0, 0), 0);
    assert_int_equal(feed_in_steps(&m, raw.data, raw.len, 7, &used), -E2BIG);
    http_msg_free(&m);
    /* Body over the limit. */
    static const char body[] = "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n01234567890123456789";
    assert_int_equal(http_msg_init(&m, 0, 0, 10), 0);
    assert_int_equal(feed_in_steps(&m, body, sizeof body - 1, 1, &used), -E2BIG);
    http_msg_free(&m);
    /* Two-digit status codes pass http-parser but not Go. */
    assert_int_equal(http_msg_init(&m, 0, 0, 0), 0);
    assert_int_equal(feed_in_steps(&m, "HTTP/1.1 10 X\r\n\r\n", 17, 1, &used), -EPROTO);
    http_msg_free(&m);
    /* Garbage. */
    assert_int_equal(http_msg_init(&m, 0, 0, 0), 0);
    assert_int_equal(feed_in_steps(&m, "XTTP/1.1 200", 12, 1, &used), -EPROTO);
    assert_int_equal(http_msg_eof(&m), -EPROTO);
    http_msg_free(&m);
    assert_int_equal(http_msg_init(&m, 1, 0, 0), 0);
    assert_int_equal(feed_in_steps(&m, "GET / HTTP/x.1\r\n\r\n", 18, 7, &used), -EPROTO);
    http_msg_free(&m);
    assert_int_equal(http_msg_init(&m, 1, 0, 0), 0);
    assert_int_equal(feed_in_steps(&m, "GET / HTTP/1.1\r\nHost: a\x01b\r\n\r\n", 27, 1, &used),
                     -EPROTO);
    http_msg_free(&m);
    buf_free(&raw);
}

static void test_keep_alive_http10(void **state)
{
    http_msg_t m;
    static const char raw[] = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
    parse_response(raw, sizeof raw - 1, HTTP_DONE, &m, 7);
    assert_int_equal(m.keep_alive, 0);
    http_msg_free(&m);
    /* A 101 without Upgrade/Connection headers ends at its headers, and is no WebSocket. */
    static const char bare[] = "HTTP/1.1 101 Switching Protocols\r\n\r\nxyz";
    parse_response(bare, sizeof bare - 1, HTTP_DONE, &m, (size_t)-1);
    char why[96];
    assert_int_equal(http_check_ws_101(&m, why, sizeof why), -EPROTO);
    assert_string_equal(why, "the 101 response has no \"Upgrade: websocket\" header");
    http_msg_free(&m);
}

/* issue 13 item 6: body headers on a 101 are ignored; the 101 is checked as RFC 6455 4.1
 * wants; an error body is cut at its cap instead of failing. */
static void test_ws_101_checks(void **state)
{
    static const char *const heads[] = {
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Content-Length: 5\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.0 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nconnection: keep-alive, "
        "upgrade\r\n\r\n",
    };
    static const char *const whys[] = {
        NULL,
        NULL,
        "the 101 response is not HTTP/1.1",
        "the 101 response has no \"Connection: Upgrade\" header",
        NULL,
    };
    const char frames[] = "\x82\x01\x01\x82\x04\x01hi\n";
    for (size_t k = 0; k < sizeof heads / sizeof *heads; k++) {
        for (size_t i = 0; i < NSTEPS; i++) {
            char all[512];
            size_t hlen = strlen(heads[k]), total = hlen + sizeof frames - 1;
            memcpy(all, heads[k], hlen);
            memcpy(all + hlen, frames, sizeof frames - 1);
            http_msg_t m;
            assert_int_equal(http_msg_init(&m, 0, 0, 0), 0);
            size_t used;
            assert_int_equal(feed_in_steps(&m, all, total, steps[i], &used), HTTP_DONE);
            assert_int_equal(used, hlen); /* the frames are not a body */
            assert_int_equal(m.body.len, 0);
            char why[96] = "";
            int r = http_check_ws_101(&m, why, sizeof why);
            if (whys[k]) {
                assert_int_equal(r, -EPROTO);
                assert_string_equal(why, whys[k]);
            } else {
                assert_int_equal(r, 0);
            }
            http_msg_free(&m);
        }
    }
    /* A 403 with a 200 KiB body and a 64 KiB cap: done, the first 64 KiB kept. */
    size_t blen = 200 * 1024;
    buf_t raw;
    buf_init(&raw, 0);
    assert_int_equal(
        buf_printf(&raw, "HTTP/1.1 403 Forbidden\r\nContent-Length: %zu\r\n\r\n", blen), 0);
    for (size_t i = 0; i < blen; i++)
        assert_int_equal(buf_append_byte(&raw, (uint8_t)('a' + i % 26)), 0);
    http_msg_t m;
    assert_int_equal(http_msg_init(&m, 0, 0, 128 * 1024), 0);
    http_msg_set_body_cap(&m, 64 * 1024);
    size_t used;
    assert_int_equal(feed_in_steps(&m, raw.data, raw.len, 4096, &used), HTTP_DONE);
    assert_int_equal(m.status, 403);
    assert_int_equal(m.body.len, 64 * 1024);
    assert_int_equal(m.body_truncated, 1);
    assert_memory_equal(m.body.data, raw.data + raw.len - blen, 64 * 1024);
    assert_int_equal(http_check_ws_101(&m, NULL, 0), -EPROTO);
    http_msg_free(&m);
    buf_free(&raw);
}

static void unescape_is(const char *in, const char *want)
{
    char *s = http_query_unescape(in, strlen(in));
    if (!want) {
        assert_null(s);
        return;
    }
    assert_non_null(s);
    assert_string_equal(s, want);
    free(s);
}

static void test_query_unescape(void **state)
{
    unescape_is("%C3%A9", "\xc3\xa9");
    unescape_is("a+b%2B", "a b+");
    unescape_is("%3b%3D", ";=");
    unescape_is("plain", "plain");
    unescape_is("%zz", NULL);
    unescape_is("%4", NULL);
    unescape_is("abc%", NULL);
    unescape_is("", "");
}

static void test_query_get_go_rules(void **state)
{
    http_msg_t m;
    memset(&m, 0, sizeof m);
    m.query = "a=1;b=2&stdin&c=%zz&c=ok&&d=x=y&e=";
    char *v;
    assert_null(http_msg_query_get(&m, "a", 0)); /* pair with ';' is rejected */
    assert_null(http_msg_query_get(&m, "b", 0));
    v = http_msg_query_get(&m, "stdin", 0);
    assert_string_equal(v, "");
    free(v);
    v = http_msg_query_get(&m, "c", 0); /* bad escape skipped */
    assert_string_equal(v, "ok");
    free(v);
    assert_null(http_msg_query_get(&m, "c", 1));
    v = http_msg_query_get(&m, "d", 0);
    assert_string_equal(v, "x=y");
    free(v);
    v = http_msg_query_get(&m, "e", 0);
    assert_string_equal(v, "");
    free(v);
    assert_null(http_msg_query_get(&m, "zz", 0));
}

static void test_ws_key_and_accept(void **state)
{
    char key[25], acc[29];
    ws_key_from_random((const uint8_t *)"the sample nonce", key);
    assert_string_equal(key, "dGhlIHNhbXBsZSBub25jZQ==");
    uint8_t seq[16];
    for (int i = 0; i < 16; i++)
        seq[i] = (uint8_t)i;
    ws_key_from_random(seq, key);
    assert_string_equal(key, "AAECAwQFBgcICQoLDA0ODw==");
    assert_int_equal(ws_accept_for_key("dGhlIHNhbXBsZSBub25jZQ==", acc), 0);
    assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_choose_protocol(void **state)
{
    const char *kubelet[] = {"",
                             "channel.k8s.io",
                             "base64.channel.k8s.io",
                             "v4.channel.k8s.io",
                             "v4.base64.channel.k8s.io",
                             NULL};
    const char *v5only[] = {"v5.channel.k8s.io", NULL};
    assert_int_equal(ws_choose_protocol(NULL, kubelet), 0);
    assert_int_equal(ws_choose_protocol("", kubelet), 0);
    assert_int_equal(ws_choose_protocol("  ", kubelet), 0);
    assert_int_equal(ws_choose_protocol("v4.channel.k8s.io", kubelet), 3);
    assert_int_equal(ws_choose_protocol("v5.channel.k8s.io, v4.channel.k8s.io", kubelet), 3);
    assert_int_equal(ws_choose_protocol(" v4.base64.channel.k8s.io ,v4.channel.k8s.io", kubelet),
                     4);
    assert_int_equal(ws_choose_protocol("v2.channel.k8s.io", kubelet), -1);
    assert_int_equal(ws_choose_protocol("V4.CHANNEL.K8S.IO", kubelet), -1);
    assert_int_equal(ws_choose_protocol("x,,y", kubelet), 0);
    assert_int_equal(ws_choose_protocol("v4.channel.k8s.io,v5.channel.k8s.io", v5only), 0);
    assert_int_equal(ws_choose_protocol(NULL, v5only), -1);
    assert_int_equal(ws_choose_protocol("v4.channel.k8s.io", v5only), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_escape),
        cmocka_unit_test(test_query_add_builds_kubectl_path),
        cmocka_unit_test(test_write_request),
        cmocka_unit_test(test_write_response),
        cmocka_unit_test(test_parse_101_leaves_frames),
        cmocka_unit_test(test_parse_bodies),
        cmocka_unit_test(test_parse_body_until_eof),
        cmocka_unit_test(test_parse_kubectl_request),
        cmocka_unit_test(test_parse_python_request),
        cmocka_unit_test(test_parse_request_with_body_and_next),
        cmocka_unit_test(test_limits_and_errors),
        cmocka_unit_test(test_keep_alive_http10),
        cmocka_unit_test(test_query_unescape),
        cmocka_unit_test(test_query_get_go_rules),
        cmocka_unit_test(test_ws_key_and_accept),
        cmocka_unit_test(test_choose_protocol),
        cmocka_unit_test(test_ws_101_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
