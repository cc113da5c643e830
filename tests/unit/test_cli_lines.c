/* podmux CLI: line prefixing in odd chunks, JSON lines, the summary and the exit-code rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"

typedef struct sink {
    buf_t out[3];
    int writes;
} sink_t;

static int sink_write(void *ctx, int fd, const char *buf, size_t len)
{
    sink_t *s = ctx;
    s->writes++;
    return buf_append(&s->out[fd], buf, len);
}

static void sink_init(sink_t *s)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < 3; i++)
        buf_init(&s->out[i], 0);
}

static void sink_free(sink_t *s)
{
    for (int i = 0; i < 3; i++)
        buf_free(&s->out[i]);
}

static void expect_n(const buf_t *b, const char *want, size_t n)
{
    assert_int_equal(b->len, n);
    if (b->len) assert_memory_equal(b->data, want, b->len);
}

static void expect(const buf_t *b, const char *want)
{
    expect_n(b, want, strlen(want));
}

/* Feeds `in` in chunks, then flushes; the result must not depend on the chunking. */
static void prefix_case_n(const char *in, size_t len, size_t limit, const char *want,
                          size_t wantlen)
{
    size_t chunks[] = {1, 7, len ? len : 1};
    for (size_t c = 0; c < 3; c++) {
        sink_t s;
        sink_init(&s);
        cli_prefixer_t p;
        cli_prefixer_init(&p, "web-1 ", 1, limit, sink_write, &s);
        for (size_t pos = 0; pos < len; pos += chunks[c]) {
            size_t n = len - pos < chunks[c] ? len - pos : chunks[c];
            assert_int_equal(cli_prefixer_feed(&p, in + pos, n), 0);
        }
        assert_int_equal(cli_prefixer_flush(&p), 0);
        expect_n(&s.out[1], want, wantlen);
        assert_int_equal(s.out[2].len, 0);
        sink_free(&s);
    }
}

static void prefix_case(const char *in, size_t len, size_t limit, const char *want)
{
    prefix_case_n(in, len, limit, want, strlen(want));
}

static void test_prefix_lines(void **state)
{
    prefix_case("a\nbb\n", 5, 0, "web-1 a\nweb-1 bb\n");
    prefix_case("a\n\nb", 4, 0, "web-1 a\nweb-1 \nweb-1 b\n"); /* partial last line closed */
    prefix_case("", 0, 0, "");
    /* UTF-8 split across chunks stays whole: é = c3 a9, 😀 = f0 9f 98 80 */
    prefix_case("caf\xc3\xa9\n\xf0\x9f\x98\x80!\n", 11, 0,
                "web-1 caf\xc3\xa9\nweb-1 \xf0\x9f\x98\x80!\n");
    /* A held line over the bound is cut, each piece prefixed and ended (a line that arrives
     * whole needs no memory and goes out whole). */
    prefix_case("abcdefghij", 10, 4, "web-1 abcd\nweb-1 efgh\nweb-1 ij\n");
    /* The cut never splits a UTF-8 sequence: "abc" + half of é is cut before é. */
    prefix_case("abc\xc3\xa9z", 6, 4, "web-1 abc\nweb-1 \xc3\xa9z\n");
    prefix_case_n("binary\0zero\n", 12, 0, "web-1 binary\0zero\n", 18);
}

static void test_prefix_partial_held(void **state)
{
    sink_t s;
    sink_init(&s);
    cli_prefixer_t p;
    cli_prefixer_init(&p, "P ", 2, 0, sink_write, &s);
    assert_int_equal(cli_prefixer_feed(&p, "half", 4), 0);
    assert_int_equal(s.out[2].len, 0); /* nothing until the newline */
    assert_int_equal(cli_prefixer_feed(&p, " line\nnext", 10), 0);
    expect(&s.out[2], "P half line\n");
    assert_int_equal(cli_prefixer_flush(&p), 0);
    expect(&s.out[2], "P half line\nP next\n");
    sink_free(&s);
}

typedef struct lines {
    char *got[16];
    size_t len[16];
    int n;
} lines_t;

static void on_line(void *ctx, int fd, const char *line, size_t len)
{
    lines_t *l = ctx;
    l->got[l->n] = malloc(len + 1);
    memcpy(l->got[l->n], line, len);
    l->len[l->n++] = len;
}

static void test_line_callback(void **state)
{
    size_t chunks[] = {1, 7, 100};
    const char in[] = "one\ntwo\nthr";
    for (size_t c = 0; c < 3; c++) {
        lines_t l = {0};
        cli_prefixer_t p;
        cli_prefixer_init(&p, "", 1, 0, NULL, &l);
        p.on_line = on_line;
        for (size_t pos = 0; pos < sizeof in - 1; pos += chunks[c]) {
            size_t n = sizeof in - 1 - pos < chunks[c] ? sizeof in - 1 - pos : chunks[c];
            cli_prefixer_feed(&p, in + pos, n);
        }
        cli_prefixer_flush(&p);
        assert_int_equal(l.n, 3);
        assert_int_equal(l.len[0], 4);
        assert_memory_equal(l.got[0], "one\n", 4);
        assert_memory_equal(l.got[1], "two\n", 4);
        assert_int_equal(l.len[2], 3); /* JSON keeps the bytes exact: no newline added */
        assert_memory_equal(l.got[2], "thr", 3);
        for (int i = 0; i < l.n; i++)
            free(l.got[i]);
    }
}

static void test_json(void **state)
{
    char *j = cli_json_chunk("default", "web-1", "main", 1, "hi \"x\"\\\n\t\x01", 10);
    assert_string_equal(j, "{\"type\":\"output\",\"namespace\":\"default\",\"pod\":\"web-1\","
                           "\"container\":\"main\",\"stream\":\"stdout\","
                           "\"data\":\"hi \\\"x\\\"\\\\\\n\\t\\u0001\"}\n");
    free(j);
    j = cli_json_chunk("ns", "p", NULL, 2, "\xff\xfe", 2); /* not UTF-8: base64 */
    assert_string_equal(j, "{\"type\":\"output\",\"namespace\":\"ns\",\"pod\":\"p\","
                           "\"container\":null,\"stream\":\"stderr\",\"data_b64\":\"//4=\"}\n");
    free(j);
    j = cli_json_chunk("ns", "p", "c", 1, "caf\xc3\xa9", 5);
    assert_non_null(strstr(j, "\"data\":\"caf\xc3\xa9\""));
    free(j);
    j = cli_json_chunk("ns", "p", "c", 1, "\xed\xa0\x80", 3); /* a surrogate is not UTF-8 */
    assert_non_null(strstr(j, "\"data_b64\":\"7aCA\""));
    free(j);

    pmx_fanout_result_t r = {.index = 0,
                             .namespace_ = "default",
                             .pod = "web-1",
                             .container = "main",
                             .attempts = 1,
                             .seconds = 1.5};
    r.exit = (pmx_exit_t){.err = 0,
                          .exit_code = 3,
                          .bytes_out = 10,
                          .bytes_in = 2,
                          .http_status = 101,
                          .message = "",
                          .reason = ""};
    j = cli_json_result(&r);
    assert_string_equal(j, "{\"type\":\"result\",\"namespace\":\"default\",\"pod\":\"web-1\","
                           "\"container\":\"main\",\"exit_code\":3,\"error\":null,"
                           "\"skipped\":false,\"duration\":1.500,\"bytes_out\":10,"
                           "\"bytes_in\":2,\"attempts\":1}\n");
    free(j);
    r.exit = (pmx_exit_t){.err = PMX_ENOTFOUND,
                          .exit_code = -1,
                          .http_status = 404,
                          .message = "pods \"web-1\" not found",
                          .reason = "NotFound"};
    r.attempts = 1, r.seconds = 0.25;
    j = cli_json_result(&r);
    assert_string_equal(j, "{\"type\":\"result\",\"namespace\":\"default\",\"pod\":\"web-1\","
                           "\"container\":\"main\",\"exit_code\":null,"
                           "\"error\":\"pods \\\"web-1\\\" not found\","
                           "\"error_code\":\"PMX_ENOTFOUND\",\"http_status\":404,"
                           "\"skipped\":false,\"duration\":0.250,\"bytes_out\":0,"
                           "\"bytes_in\":0,\"attempts\":1}\n");
    free(j);
}

static pmx_fanout_result_t res(const char *pod, int err, int code, const char *msg)
{
    pmx_fanout_result_t r = {.namespace_ = "default", .pod = pod, .container = "main"};
    r.exit = (pmx_exit_t){.err = err, .exit_code = code, .message = msg, .reason = ""};
    return r;
}

static void test_summary_and_exit(void **state)
{
    pmx_fanout_result_t r[4] = {
        res("a", 0, 0, ""),
        res("b", 0, 7, ""),
        res("c", PMX_ELOST, -1, "connection lost"),
        res("d", PMX_ESKIPPED, -1, "phase Pending"),
    };
    const pmx_fanout_result_t *p[4] = {&r[0], &r[1], &r[2], &r[3]};
    char out[1024];
    size_t n = cli_summary(p, 4, 0, out, sizeof out);
    assert_int_equal(n, strlen(out));
    assert_string_equal(out, "podmux: 1 ok, 1 non-zero, 1 failed, 1 skipped (4 pods)\n"
                             "  b: exit 7\n"
                             "  c: connection lost\n"
                             "  d: skipped: phase Pending\n");
    /* The library's "ns/pod: " in front of a message is not repeated after the pod. */
    pmx_fanout_result_t lab = res("web-1", PMX_ECANCELED, -1, "default/web-1: canceled");
    const pmx_fanout_result_t *pl[1] = {&lab};
    cli_summary(pl, 1, 0, out, sizeof out);
    assert_string_equal(out, "podmux: 0 ok, 0 non-zero, 0 failed, 0 skipped, 1 canceled (1 pod)\n"
                             "  canceled: web-1\n");
    pmx_fanout_result_t st = res("web-2", PMX_ETOOMANY, -1, "Too many requests. (429)");
    const pmx_fanout_result_t *ps[1] = {&st};
    cli_summary(ps, 1, 0, out, sizeof out);
    assert_string_equal(out, "podmux: 0 ok, 0 non-zero, 1 failed, 0 skipped (1 pod)\n"
                             "  web-2: Too many requests.\n");
    char msg[] = "x (12)", msg2[] = "pods \"a\" not found (404)";
    cli_strip_status(msg);
    cli_strip_status(msg2);
    assert_string_equal(msg, "x (12)");
    assert_string_equal(msg2, "pods \"a\" not found");
    char *j = cli_json_result(&lab);
    assert_non_null(strstr(j, "\"error\":\"canceled\""));
    free(j);
    cli_summary(p, 2, 1, out, sizeof out);
    assert_string_equal(out, "podmux: 1 ok, 1 non-zero, 0 failed, 0 skipped (2 pods)\n"
                             "  b/main: exit 7\n");
    /* Bounded: a tiny buffer still ends with the count of what was left out. */
    n = cli_summary(p, 4, 0, out, 100);
    assert_true(n < 100);
    assert_non_null(strstr(out, "... and 3 more"));

    cli_tally_t t = {0};
    cli_tally_add(&t, &r[0].exit);
    assert_int_equal(cli_exit_code(&t), 0);
    cli_tally_add(&t, &r[3].exit); /* skipped pods do not change the status */
    assert_int_equal(cli_exit_code(&t), 0);
    cli_tally_add(&t, &r[1].exit);
    assert_int_equal(cli_exit_code(&t), 1);
    cli_tally_add(&t, &r[2].exit);
    assert_int_equal(cli_exit_code(&t), 255);
    cli_tally_t none = {0};
    assert_int_equal(cli_exit_code(&none), 255); /* nothing ran */
    cli_tally_t skipped = {.skipped = 3};
    assert_int_equal(cli_exit_code(&skipped), 255);
}

/* Issue 14.6: canceled sessions (--fail-fast, a signal, a detach) are counted apart from the
 * failed ones and named in one line; a detach is no failure. */
static void test_summary_canceled(void **state)
{
    (void)state;
    pmx_fanout_result_t r[5] = {
        res("a", 0, 3, ""),
        res("b", PMX_ECANCELED, -1, "canceled"),
        res("c", PMX_ECANCELED, -1, "canceled"),
        res("d", PMX_ECANCELED, -1, "canceled"),
        res("e", PMX_ESKIPPED, -1, "phase Pending"),
    };
    const pmx_fanout_result_t *p[5] = {&r[0], &r[1], &r[2], &r[3], &r[4]};
    char out[1024];
    size_t n = cli_summary(p, 5, 0, out, sizeof out);
    assert_int_equal(n, strlen(out));
    assert_string_equal(out, "podmux: 0 ok, 1 non-zero, 0 failed, 1 skipped, 3 canceled (5 pods)\n"
                             "  a: exit 3\n"
                             "  e: skipped: phase Pending\n"
                             "  canceled: b, c, d\n");
    cli_tally_t t = {0};
    for (int i = 0; i < 5; i++)
        cli_tally_add(&t, &r[i].exit);
    assert_int_equal(t.canceled, 3);
    assert_int_equal(t.failed, 0);
    assert_int_equal(cli_exit_code(&t), 1); /* --fail-fast on a non-zero exit: 1 */
    cli_tally_t c = {.ok = 2, .canceled = 1};
    assert_int_equal(cli_exit_code(&c), 255); /* a session that never finished */
    c.detached = 1;
    assert_int_equal(cli_exit_code(&c), 0); /* the user detached: not a failure */
    cli_tally_t d = {.canceled = 3, .detached = 1};
    assert_int_equal(cli_exit_code(&d), 0); /* also when every session was still running */
    /* Many canceled: one line, bounded, with the count of the rest. */
    pmx_fanout_result_t many[100];
    const pmx_fanout_result_t *pm[100];
    char names[100][16];
    for (int i = 0; i < 100; i++) {
        snprintf(names[i], sizeof names[i], "worker-%d", i);
        many[i] = res(names[i], PMX_ECANCELED, -1, "canceled");
        pm[i] = &many[i];
    }
    n = cli_summary(pm, 100, 0, out, sizeof out);
    assert_int_equal(n, strlen(out));
    assert_non_null(strstr(out, "100 canceled (100 pods)\n  canceled: worker-0, worker-1,"));
    assert_non_null(strstr(out, " more\n"));
    size_t lines = 0;
    for (const char *q = out; *q; q++)
        lines += *q == '\n';
    assert_int_equal(lines, 2); /* the count line and the one canceled line */
    n = cli_summary(pm, 100, 0, out, 120);
    assert_true(n < 120);
    assert_int_equal(n, strlen(out));
}

/* Random bytes (newlines and UTF-8 included) in random chunks give the same output as one
 * chunk, as long as no held line reaches the bound. */
static void test_prefix_random_chunks(void **state)
{
    unsigned seed = 12345;
    char in[4096];
    for (int round = 0; round < 200; round++) {
        size_t len = 0;
        while (len < sizeof in - 4) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = (seed >> 16) % 10;
            if (r == 0)
                in[len++] = '\n';
            else if (r == 1)
                in[len++] = '\xc3', in[len++] = '\xa9';
            else
                in[len++] = (char)('a' + (seed >> 8) % 26);
        }
        sink_t whole, parts;
        sink_init(&whole);
        sink_init(&parts);
        cli_prefixer_t pw, pp;
        cli_prefixer_init(&pw, "p ", 1, 8192, sink_write, &whole);
        cli_prefixer_init(&pp, "p ", 1, 8192, sink_write, &parts);
        cli_prefixer_feed(&pw, in, len);
        for (size_t pos = 0; pos < len;) {
            seed = seed * 1103515245u + 12345u;
            size_t n = 1 + (seed >> 16) % 64;
            if (n > len - pos) n = len - pos;
            cli_prefixer_feed(&pp, in + pos, n);
            pos += n;
        }
        cli_prefixer_flush(&pw);
        cli_prefixer_flush(&pp);
        assert_int_equal(parts.out[1].len, whole.out[1].len);
        assert_memory_equal(parts.out[1].data, whole.out[1].data, whole.out[1].len);
        sink_free(&whole);
        sink_free(&parts);
    }
}

/* The prefix multi.c and shell.c put before each pod's lines: colors cycle through 12. */
static void test_prefix_text(void **state)
{
    char out[64];
    cli_prefix_text("web-1", 0, 0, out, sizeof out);
    assert_string_equal(out, "web-1 ");
    cli_prefix_text("web-1", 0, 1, out, sizeof out);
    assert_string_equal(out, "\033[32mweb-1\033[0m ");
    cli_prefix_text("web-2", 13, 1, out, sizeof out);
    assert_string_equal(out, "\033[33mweb-2\033[0m ");
    cli_prefix_text("a-very-long-pod-name", 0, 0, out, 8); /* bounded by the caller's buffer */
    assert_string_equal(out, "a-very-");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix_lines),         cmocka_unit_test(test_prefix_partial_held),
        cmocka_unit_test(test_line_callback),        cmocka_unit_test(test_json),
        cmocka_unit_test(test_summary_and_exit),     cmocka_unit_test(test_summary_canceled),
        cmocka_unit_test(test_prefix_random_chunks), cmocka_unit_test(test_prefix_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
