/* chan: channel framing, Status JSON both ways, resize decoding, byte-exact against
 * docs/PROTOCOL.md §0, §1.8, §2.2, §2.4, §2.5, §2.6, §2.10. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "proto/chan.h"
#include "sim/chan_server.h"

#define V5_EXIT3                                                                                   \
    "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"command terminated with non-zero "      \
    "exit code: command terminated with exit code 3\",\"reason\":\"NonZeroExitCode\","             \
    "\"details\":{\"causes\":[{\"reason\":\"ExitCode\",\"message\":\"3\"}]}}"
#define KUBELET_EXIT3                                                                              \
    "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"command terminated with non-zero "      \
    "exit code: error executing command [sh -c exit 3], exit code 3\",\"reason\":"                 \
    "\"NonZeroExitCode\",\"details\":{\"causes\":[{\"reason\":\"ExitCode\",\"message\":\"3\"}]}}"
#define SUCCESS "{\"metadata\":{},\"status\":\"Success\"}"
#define INTERNAL_MAIN                                                                              \
    "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"Internal error occurred: unable to "    \
    "upgrade connection: container not found (\\\"main\\\")\",\"reason\":\"InternalError\","       \
    "\"details\":{\"causes\":[{\"message\":\"unable to upgrade connection: container not found "   \
    "(\\\"main\\\")\"}]},\"code\":500}"

static void test_proto_names(void **state)
{
    assert_int_equal(chan_proto_from_name(NULL), CHAN_PROTO_NONE);
    assert_int_equal(chan_proto_from_name(""), CHAN_PROTO_NONE);
    assert_int_equal(chan_proto_from_name("channel.k8s.io"), CHAN_PROTO_V1);
    assert_int_equal(chan_proto_from_name("base64.channel.k8s.io"), CHAN_PROTO_BASE64);
    assert_int_equal(chan_proto_from_name("v4.channel.k8s.io"), CHAN_PROTO_V4);
    assert_int_equal(chan_proto_from_name("v4.base64.channel.k8s.io"), CHAN_PROTO_V4_BASE64);
    assert_int_equal(chan_proto_from_name("v5.channel.k8s.io"), CHAN_PROTO_V5);
    assert_int_equal(chan_proto_from_name("v2.channel.k8s.io"), CHAN_PROTO_INVALID);
    assert_int_equal(chan_proto_from_name("v3.channel.k8s.io"), CHAN_PROTO_INVALID);
    assert_int_equal(chan_proto_from_name("v5.base64.channel.k8s.io"), CHAN_PROTO_INVALID);
    assert_int_equal(chan_proto_from_name("V5.channel.k8s.io"), CHAN_PROTO_INVALID);
    for (int p = CHAN_PROTO_NONE; p <= CHAN_PROTO_V5; p++)
        assert_int_equal(chan_proto_from_name(chan_proto_name((chan_proto_t)p)), p);
    assert_string_equal(chan_proto_name(CHAN_PROTO_NONE), "");
    assert_null(chan_proto_name(CHAN_PROTO_INVALID));

    const struct {
        chan_proto_t p;
        int b64, close, json;
    } t[] = {{CHAN_PROTO_NONE, 0, 0, 0},      {CHAN_PROTO_V1, 0, 0, 0},
             {CHAN_PROTO_BASE64, 1, 0, 0},    {CHAN_PROTO_V4, 0, 0, 1},
             {CHAN_PROTO_V4_BASE64, 1, 0, 1}, {CHAN_PROTO_V5, 0, 1, 1}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        assert_int_equal(chan_proto_is_base64(t[i].p), t[i].b64);
        assert_int_equal(chan_proto_has_close(t[i].p), t[i].close);
        assert_int_equal(chan_proto_status_json(t[i].p), t[i].json);
    }
}

static void encoded_is(chan_proto_t p, int ch, const char *data, size_t len, const char *want,
                       size_t want_len, int want_op)
{
    buf_t b;
    buf_init(&b, 0);
    int op = 0;
    assert_int_equal(chan_encode(p, ch, (const uint8_t *)data, len, &b, &op), 0);
    assert_int_equal(op, want_op);
    assert_int_equal(b.len, want_len);
    assert_memory_equal(b.data, want, want_len);
    buf_free(&b);
}

static void test_encode(void **state)
{
    encoded_is(CHAN_PROTO_V5, CHAN_STDIN, "a\n", 2, "\x00\x61\x0a", 3, 2);
    encoded_is(CHAN_PROTO_V4, CHAN_STDOUT, "", 0, "\x01", 1, 2);
    encoded_is(CHAN_PROTO_NONE, CHAN_STDERR, "\xff\x00", 2, "\x02\xff\x00", 3, 2);
    encoded_is(CHAN_PROTO_BASE64, CHAN_STDOUT, "hi\n", 3, "1aGkK", 5, 1);
    encoded_is(CHAN_PROTO_BASE64, CHAN_STDIN, "foo\n", 4, "0Zm9vCg==", 9, 1);
    encoded_is(CHAN_PROTO_V4_BASE64, CHAN_ERROR, "", 0, "3", 1, 1);
    buf_t b;
    buf_init(&b, 0);
    int op;
    assert_int_equal(chan_encode(CHAN_PROTO_BASE64, 255, (const uint8_t *)"x", 1, &b, &op),
                     -EINVAL);
    assert_int_equal(chan_encode(CHAN_PROTO_V5, 256, (const uint8_t *)"x", 1, &b, &op), -EINVAL);
    assert_int_equal(chan_encode(CHAN_PROTO_INVALID, 0, (const uint8_t *)"x", 1, &b, &op), -EINVAL);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_encode_resize_and_close(void **state)
{
    buf_t b;
    buf_init(&b, 0);
    int op = 0;
    assert_int_equal(chan_encode_resize(CHAN_PROTO_V5, 100, 30, &b, &op), 0);
    assert_int_equal(op, 2);
    assert_int_equal(b.len, 0x1b); /* frame header 82 9b in docs/PROTOCOL.md §0 */
    assert_memory_equal(b.data, "\x04{\"Width\":100,\"Height\":30}\n", 27);
    buf_reset(&b);
    assert_int_equal(chan_encode_resize(CHAN_PROTO_V4_BASE64, 100, 30, &b, &op), 0);
    assert_int_equal(op, 1);
    assert_string_equal(b.data, "4eyJXaWR0aCI6MTAwLCJIZWlnaHQiOjMwfQo=");
    buf_reset(&b);
    assert_int_equal(chan_encode_resize(CHAN_PROTO_V5, 65536, 1, &b, &op), -EINVAL);
    assert_int_equal(chan_encode_close(CHAN_PROTO_V5, CHAN_STDIN, &b, &op), 0);
    assert_int_equal(op, 2);
    assert_int_equal(b.len, 2);
    assert_memory_equal(b.data, "\xff\x00", 2);
    assert_int_equal(chan_encode_close(CHAN_PROTO_V4, CHAN_STDIN, &b, &op), -ENOTSUP);
    assert_int_equal(chan_encode_close(CHAN_PROTO_NONE, CHAN_STDIN, &b, &op), -ENOTSUP);
    buf_free(&b);
}

static void decoded_is(chan_proto_t p, const char *msg, size_t len, int want_ch, const char *want,
                       size_t want_len)
{
    buf_t b;
    buf_init(&b, 0);
    int ch = 42;
    assert_int_equal(chan_decode(p, (const uint8_t *)msg, len, &ch, &b), 0);
    assert_int_equal(ch, want_ch);
    assert_int_equal(b.len, want_len);
    if (want_len) assert_memory_equal(b.data, want, want_len);
    buf_free(&b);
}

static void test_decode(void **state)
{
    decoded_is(CHAN_PROTO_V5, "\x01hi\n", 4, 1, "hi\n", 3);
    decoded_is(CHAN_PROTO_V5, "\x01", 1, 1, "", 0);
    decoded_is(CHAN_PROTO_V5, "", 0, -1, "", 0);
    decoded_is(CHAN_PROTO_V4, "\x03" SUCCESS, 35, 3, SUCCESS, 34);
    decoded_is(CHAN_PROTO_V4, "\xff\x00", 2, 255, "\x00", 1);
    decoded_is(CHAN_PROTO_BASE64, "1aGkK", 5, 1, "hi\n", 3);
    decoded_is(CHAN_PROTO_BASE64, "0Zm9vCg==", 9, 0, "foo\n", 4);
    decoded_is(CHAN_PROTO_V4_BASE64, "1", 1, 1, "", 0);
    decoded_is(CHAN_PROTO_V4_BASE64, "2Zm9v\r\nCg==", 11, 2, "foo\n", 4);
    buf_t b;
    buf_init(&b, 0);
    int ch;
    assert_int_equal(chan_decode(CHAN_PROTO_BASE64, (const uint8_t *)"1Zm9vCg", 7, &ch, &b),
                     -EPROTO);
    assert_int_equal(chan_decode(CHAN_PROTO_BASE64, (const uint8_t *)"1!!!!", 5, &ch, &b), -EPROTO);
    assert_int_equal(chan_decode(CHAN_PROTO_BASE64, (const uint8_t *)"1Zm9vCg==    ", 13, &ch, &b),
                     -EPROTO);
    assert_int_equal(chan_decode(CHAN_PROTO_BASE64, (const uint8_t *)"1Zm9v=Cg=", 9, &ch, &b),
                     -EPROTO);
    assert_int_equal(chan_decode(CHAN_PROTO_BASE64, (const uint8_t *)"\x01hi", 3, &ch, &b),
                     -EPROTO);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void json_is(int v5, int code, const char *const *argv, int argc, const char *want)
{
    buf_t b;
    buf_init(&b, 0);
    assert_int_equal(chan_status_exit_json(&b, v5, code, argv, argc), 0);
    assert_string_equal(b.data, want);
    buf_free(&b);
}

static void test_status_builders(void **state)
{
    const char *argv[] = {"sh", "-c", "exit 3"};
    json_is(0, 3, argv, 3, KUBELET_EXIT3);
    json_is(1, 3, argv, 3, V5_EXIT3);
    json_is(0, 0, argv, 3, SUCCESS);
    json_is(1, 0, NULL, 0, SUCCESS);
    assert_int_equal(strlen(V5_EXIT3), 212); /* 82 7e 00 d5 = 1 + 212 */
    assert_int_equal(strlen(SUCCESS), 34);
    const char *odd[] = {"echo", "<a & \"b\">\n\x01\xe2\x80\xa8\xff"};
    json_is(
        0, 137, odd, 2,
        "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"command terminated with non-zero "
        "exit code: error executing command [echo \\u003ca \\u0026 \\\"b\\\"\\u003e\\n"
        "\\u0001\\u2028\\ufffd], exit code 137\",\"reason\":\"NonZeroExitCode\",\"details\":{"
        "\"causes\":[{\"reason\":\"ExitCode\",\"message\":\"137\"}]}}");
    buf_t b;
    buf_init(&b, 0);
    assert_int_equal(chan_status_exit_json(&b, 0, 256, argv, 3), -EINVAL);
    assert_int_equal(chan_status_exit_json(&b, 0, -1, argv, 3), -EINVAL);
    assert_int_equal(chan_status_internal_json(
                         &b, "unable to upgrade connection: container not found (\"main\")"),
                     0);
    assert_string_equal(b.data, INTERNAL_MAIN);
    buf_reset(&b);
    const char *f[] = {"false"};
    assert_int_equal(chan_status_v1_text(&b, 1, f, 1), 0);
    assert_string_equal(b.data, "command terminated with non-zero exit code: error executing "
                                "command [false], exit code 1");
    buf_reset(&b);
    assert_int_equal(chan_status_v1_text(&b, 0, f, 1), 0);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static chan_status_t parse(chan_proto_t p, const char *s)
{
    chan_status_t st;
    assert_int_equal(chan_status_parse(p, (const uint8_t *)s, strlen(s), &st), 0);
    return st;
}

static void expect_protocol_error(const char *json, const char *msg)
{
    chan_status_t st = parse(CHAN_PROTO_V5, json);
    assert_int_equal(st.kind, CHAN_STATUS_FAILURE);
    assert_int_equal(st.exit_code, -1);
    assert_string_equal(st.reason, "ProtocolError");
    assert_string_equal(st.message, msg);
}

static void test_status_parse_exit_codes(void **state)
{
    chan_status_t st = parse(CHAN_PROTO_V4, SUCCESS);
    assert_int_equal(st.kind, CHAN_STATUS_SUCCESS);
    assert_int_equal(st.exit_code, 0);
    st = parse(CHAN_PROTO_V4, KUBELET_EXIT3);
    assert_int_equal(st.kind, CHAN_STATUS_EXIT);
    assert_int_equal(st.exit_code, 3);
    assert_string_equal(st.reason, "NonZeroExitCode");
    assert_string_equal(st.message, "command terminated with exit code 3");
    assert_int_equal(st.http_code, 0);
    st = parse(CHAN_PROTO_V5, V5_EXIT3);
    assert_int_equal(st.kind, CHAN_STATUS_EXIT);
    assert_int_equal(st.exit_code, 3);
    st = parse(CHAN_PROTO_V4_BASE64, "{\"status\":\"Failure\",\"reason\":\"NonZeroExitCode\","
                                     "\"details\":{\"causes\":[{\"reason\":\"Other\",\"message\":"
                                     "\"9\"},{\"reason\":\"ExitCode\",\"message\":\"255\"}]}}");
    assert_int_equal(st.kind, CHAN_STATUS_EXIT);
    assert_int_equal(st.exit_code, 255);
    /* Go's json matches field names case-insensitively. */
    st = parse(CHAN_PROTO_V5, "{\"Status\":\"Success\"} \n");
    assert_int_equal(st.kind, CHAN_STATUS_SUCCESS);
}

static void test_status_parse_errors(void **state)
{
#define NZ(details) "{\"status\":\"Failure\",\"reason\":\"NonZeroExitCode\"" details "}"
#define CAUSE(m) NZ(",\"details\":{\"causes\":[{\"reason\":\"ExitCode\",\"message\":\"" m "\"}]}")
    expect_protocol_error(CAUSE("300"), "error stream protocol error: invalid exit code value "
                                        "\"300\"");
    expect_protocol_error(CAUSE("-1"), "error stream protocol error: invalid exit code value "
                                       "\"-1\"");
    expect_protocol_error(CAUSE("3a"), "error stream protocol error: invalid exit code value "
                                       "\"3a\"");
    expect_protocol_error(CAUSE(""), "error stream protocol error: invalid exit code value \"\"");
    expect_protocol_error(NZ(""), "error stream protocol error: details must be set");
    expect_protocol_error(NZ(",\"details\":null"), "error stream protocol error: details must be "
                                                   "set");
    expect_protocol_error(NZ(",\"details\":{}"), "error stream protocol error: no ExitCode cause "
                                                 "given");
    expect_protocol_error("{\"status\":\"Weird\"}", "error stream protocol error: unknown error");
    expect_protocol_error("{\"metadata\":{}}", "error stream protocol error: unknown error");
    expect_protocol_error("null", "error stream protocol error: unknown error");
    expect_protocol_error("exit 3", "error stream protocol error: invalid JSON in \"exit 3\"");
    expect_protocol_error("{\"status\":\"Success\"}x", "error stream protocol error: invalid JSON "
                                                       "in \"{\\\"status\\\":\\\"Success\\\"}x\"");
    chan_status_t st = parse(CHAN_PROTO_V5, "{\"status\":5}");
    assert_string_equal(st.reason, "ProtocolError");
    assert_non_null(strstr(st.message, "error stream protocol error: json: cannot unmarshal"));
    st = parse(CHAN_PROTO_V5, "[1]");
    assert_string_equal(st.reason, "ProtocolError");
#undef CAUSE
#undef NZ
}

static void test_status_parse_failures(void **state)
{
    chan_status_t st = parse(CHAN_PROTO_V5, INTERNAL_MAIN);
    assert_int_equal(st.kind, CHAN_STATUS_FAILURE);
    assert_int_equal(st.exit_code, -1);
    assert_int_equal(st.http_code, 500);
    assert_string_equal(st.reason, "InternalError");
    assert_string_equal(st.message, "Internal error occurred: unable to upgrade connection: "
                                    "container not found (\"main\")");
    /* v1 family: the text, never a guessed number. */
    const char *txt = "command terminated with non-zero exit code: error executing command "
                      "[false], exit code 1";
    for (chan_proto_t p = CHAN_PROTO_NONE; p <= CHAN_PROTO_BASE64; p++) {
        st = parse(p, txt);
        assert_int_equal(st.kind, CHAN_STATUS_FAILURE);
        assert_int_equal(st.exit_code, -1);
        assert_string_equal(st.reason, "");
        assert_string_equal(st.message, txt);
    }
    /* v1 with JSON-looking text is still text. */
    st = parse(CHAN_PROTO_V1, SUCCESS);
    assert_int_equal(st.kind, CHAN_STATUS_FAILURE);
    /* Nothing at all: no status, and no guess. */
    assert_int_equal(chan_status_parse(CHAN_PROTO_V5, (const uint8_t *)"", 0, &st), -ENODATA);
    assert_int_equal(st.kind, CHAN_STATUS_FAILURE);
    assert_int_equal(st.exit_code, -1);
    /* A long message is cut to fit, NUL-terminated. */
    char big[3000];
    memset(big, 'x', sizeof big);
    assert_int_equal(chan_status_parse(CHAN_PROTO_V1, (const uint8_t *)big, sizeof big, &st), 0);
    assert_int_equal(strlen(st.message), sizeof st.message - 1);
}

typedef struct sizes {
    unsigned w[16], h[16];
    int n;
} sizes_t;

static void on_size(void *arg, unsigned w, unsigned h)
{
    sizes_t *s = arg;
    if (s->n < 16) {
        s->w[s->n] = w;
        s->h[s->n] = h;
    }
    s->n++;
}

static int resize_in_steps(const char *data, size_t step, sizes_t *out)
{
    chan_resize_decoder_t d;
    chan_resize_init(&d);
    memset(out, 0, sizeof *out);
    size_t len = strlen(data);
    int r = 0;
    for (size_t off = 0; off < len && r == 0; off += step) {
        size_t n = len - off < step ? len - off : step;
        r = chan_resize_feed(&d, (const uint8_t *)data + off, n, on_size, out);
    }
    chan_resize_free(&d);
    return r;
}

static void test_resize_streaming(void **state)
{
    const char *in = "{\"Width\":100,\"Height\":30}\n{\"width\":80, \"HEIGHT\" : 24}\n"
                     "{\"Width\":1,\"Height\":2}{\"Height\":4,\"Width\":3}\t\r\n"
                     "{\"Width\":5,\"x\":[1,{\"a\":\"}\\\"\"}],\"y\":-1.5e3,\"Height\":6}"
                     "{\"Width\":65535,\"Height\":null}null{\"W\\u0069dth\":7,\"Height\":8}  ";
    const size_t steps[] = {1, 7, 4096};
    for (size_t i = 0; i < 3; i++) {
        sizes_t s;
        assert_int_equal(resize_in_steps(in, steps[i], &s), 0);
        assert_int_equal(s.n, 8);
        const unsigned w[] = {100, 80, 1, 3, 5, 65535, 0, 7}, h[] = {30, 24, 2, 4, 6, 0, 0, 8};
        for (int k = 0; k < 8; k++) {
            assert_int_equal(s.w[k], w[k]);
            assert_int_equal(s.h[k], h[k]);
        }
    }
}

static void test_resize_first_error_disables(void **state)
{
    const char *bad[] = {"\x00\x18\x00\x50",    "{\"Width\":65536,\"Height\":1}",
                         "{\"Width\":-1}",      "{\"Width\":1.5}",
                         "{\"Width\":\"100\"}", "[1]",
                         "{\"Width\":1,}",      "{Width:1}",
                         "{\"Width\":1e2}",     "{\"Width\":true}",
                         "{\"Width\":01}",      "\"str\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        chan_resize_decoder_t d;
        chan_resize_init(&d);
        sizes_t s = {0};
        const char *ok = "{\"Width\":1,\"Height\":2}";
        size_t blen = i == 0 ? 4 : strlen(bad[i]);
        assert_int_equal(chan_resize_feed(&d, (const uint8_t *)ok, strlen(ok), on_size, &s), 0);
        int r = chan_resize_feed(&d, (const uint8_t *)bad[i], blen, on_size, &s);
        /* "{"Width":01}" fails only once the next byte shows the number went on. */
        if (r == 0) r = chan_resize_feed(&d, (const uint8_t *)" ", 1, on_size, &s);
        assert_int_equal(r, -EPROTO);
        assert_int_equal(chan_resize_feed(&d, (const uint8_t *)ok, strlen(ok), on_size, &s),
                         -EPROTO);
        assert_int_equal(s.n, 1);
        assert_int_equal(d.failed, 1);
        chan_resize_free(&d);
    }
}

static void test_resize_roundtrip_through_channel(void **state)
{
    buf_t msg, data;
    buf_init(&msg, 0);
    buf_init(&data, 0);
    int op, ch;
    assert_int_equal(chan_encode_resize(CHAN_PROTO_V4_BASE64, 120, 40, &msg, &op), 0);
    assert_int_equal(
        chan_decode(CHAN_PROTO_V4_BASE64, (const uint8_t *)msg.data, msg.len, &ch, &data), 0);
    assert_int_equal(ch, CHAN_RESIZE);
    chan_resize_decoder_t d;
    chan_resize_init(&d);
    sizes_t s = {0};
    assert_int_equal(chan_resize_feed(&d, (const uint8_t *)data.data, data.len, on_size, &s), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.w[0], 120);
    assert_int_equal(s.h[0], 40);
    chan_resize_free(&d);
    buf_free(&msg);
    buf_free(&data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto_names),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_encode_resize_and_close),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_status_builders),
        cmocka_unit_test(test_status_parse_exit_codes),
        cmocka_unit_test(test_status_parse_errors),
        cmocka_unit_test(test_status_parse_failures),
        cmocka_unit_test(test_resize_streaming),
        cmocka_unit_test(test_resize_first_error_disables),
        cmocka_unit_test(test_resize_roundtrip_through_channel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
