/* podmux CLI: argument parsing, durations, targets and the escape-key state machine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"

static uint64_t dur(const char *s)
{
    uint64_t ms = 12345;
    assert_int_equal(cli_parse_duration(s, &ms), 0);
    return ms;
}

static void test_durations(void **state)
{
    assert_int_equal(dur("500ms"), 500);
    assert_int_equal(dur("5s"), 5000);
    assert_int_equal(dur("1m"), 60000);
    assert_int_equal(dur("1h30m"), 5400000);
    assert_int_equal(dur("1.5s"), 1500);
    assert_int_equal(dur("0"), 0);
    assert_int_equal(dur("30"), 30000); /* bare integer: seconds, as kubectl */
    assert_int_equal(dur("1500us"), 2); /* rounds up to whole ms */
    assert_int_equal(dur("1ns"), 1);
    assert_int_equal(dur("2m3s4ms"), 123004);
    uint64_t ms;
    assert_int_equal(cli_parse_duration("", &ms), -1);
    assert_int_equal(cli_parse_duration("5", &ms), 0);
    assert_int_equal(cli_parse_duration("5x", &ms), -1);
    assert_int_equal(cli_parse_duration("1.5", &ms), -1); /* missing unit */
    assert_int_equal(cli_parse_duration("-1s", &ms), -1);
    assert_int_equal(cli_parse_duration("s", &ms), -1);
    assert_int_equal(cli_parse_duration("1s ", &ms), -1);
}

static void test_targets(void **state)
{
    cli_target_t t;
    char err[256];
    assert_int_equal(cli_parse_target("web-1", &t, err, sizeof err), 0);
    assert_int_equal(t.kind, TGT_POD);
    assert_string_equal(t.name, "web-1");
    assert_int_equal(cli_parse_target("pod/web-1", &t, err, sizeof err), 0);
    assert_int_equal(t.kind, TGT_POD);
    assert_string_equal(t.name, "web-1");
    assert_int_equal(cli_parse_target("deployment/web", &t, err, sizeof err), 0);
    assert_int_equal(t.kind, TGT_WORKLOAD);
    assert_string_equal(t.workload, "deploy/web");
    assert_int_equal(cli_parse_target("statefulsets/db", &t, err, sizeof err), 0);
    assert_string_equal(t.workload, "sts/db");
    assert_int_equal(cli_parse_target("ds/agent", &t, err, sizeof err), 0);
    assert_string_equal(t.workload, "ds/agent");
    assert_int_equal(cli_parse_target("rs/web-abc", &t, err, sizeof err), 0);
    assert_string_equal(t.workload, "rs/web-abc");
    assert_int_equal(cli_parse_target("job/migrate", &t, err, sizeof err), 0);
    assert_string_equal(t.workload, "job/migrate");
    assert_int_equal(cli_parse_target("svc/web", &t, err, sizeof err), -1);
    assert_string_equal(err, "the server doesn't have a resource type \"svc\"");
    assert_int_equal(cli_parse_target("deploy/", &t, err, sizeof err), -1);
    assert_int_equal(cli_parse_target("Web", &t, err, sizeof err), -1);
    assert_int_equal(cli_parse_target("deploy/-x", &t, err, sizeof err), -1);
}

static int parse(cli_opts_t *o, char *err, ...)
{
    static char *argv[64]; /* o->argv points into it after the call */
    int argc = 0;
    va_list ap;
    va_start(ap, err);
    for (char *a; (a = va_arg(ap, char *));)
        argv[argc++] = a;
    va_end(ap);
    return cli_parse_args(argc, argv, o, err, 256);
}

static void test_exec_flags(void **state)
{
    cli_opts_t o;
    char err[256];
    assert_int_equal(parse(&o, err, "podmux", "exec", "-it", "-nprod", "--container=main", "web-1",
                           "--request-timeout", "5s", "--", "sh", "-c", "echo -n hi", NULL),
                     0);
    assert_int_equal(o.cmd, CMD_EXEC);
    assert_true(o.stdin_);
    assert_true(o.tty);
    assert_string_equal(o.ns, "prod");
    assert_string_equal(o.container, "main");
    assert_int_equal(o.ntargets, 1);
    assert_string_equal(o.targets[0], "web-1");
    assert_int_equal(o.request_timeout_ms, 5000);
    assert_int_equal(o.argc, 3);
    assert_string_equal(o.argv[0], "sh");
    assert_string_equal(o.argv[2], "echo -n hi"); /* flags after -- belong to the command */
    assert_int_equal(o.escape_char, '~');
    assert_int_equal(o.parallel, 64);
    assert_int_equal(o.pod_running_timeout_ms, 60000);
    assert_int_equal(o.keepalive_ms, 5000);
    cli_opts_free(&o);
}

static void test_impersonation_flags(void **state)
{
    cli_opts_t o;
    char err[256];
    assert_int_equal(parse(&o, err, "podmux", "--as", "alice", "exec", "--as-group=dev",
                           "--as-group", "a,b", "--as-uid=42", "web-1", "--", "id", NULL),
                     0);
    assert_string_equal(o.as, "alice");
    assert_string_equal(o.as_uid, "42");
    assert_int_equal(o.nas_groups, 2); /* repeatable; a comma is part of the name (StringArray) */
    assert_string_equal(o.as_groups[0], "dev");
    assert_string_equal(o.as_groups[1], "a,b");
    assert_int_equal(o.ntargets, 1);
    cli_opts_free(&o);
    assert_int_equal(parse(&o, err, "podmux", "exec", "web-1", "--", "id", NULL), 0);
    assert_null(o.as);
    assert_int_equal(o.nas_groups, 0);
    cli_opts_free(&o);
}

static void test_fanout_flags(void **state)
{
    cli_opts_t o;
    char err[256];
    assert_int_equal(parse(&o, err, "kubectl-podmux", "exec", "-l", "app=web", "-A", "-P", "5",
                           "--qps=20", "--burst", "4", "--timeout", "1m", "--fail-fast",
                           "--retries=2", "-o", "json", "--all-containers", "a", "deploy/b", "--",
                           "true", NULL),
                     0);
    assert_string_equal(o.selector, "app=web");
    assert_true(o.all_ns);
    assert_int_equal(o.parallel, 5);
    assert_true(o.qps > 19.99 && o.qps < 20.01);
    assert_int_equal(o.burst, 4);
    assert_int_equal(o.timeout_ms, 60000);
    assert_true(o.fail_fast);
    assert_int_equal(o.retries, 2);
    assert_int_equal(o.output, OUT_JSON);
    assert_true(o.all_containers);
    assert_int_equal(o.ntargets, 2);
    assert_string_equal(o.targets[1], "deploy/b");
    cli_opts_free(&o);

    assert_int_equal(parse(&o, err, "podmux", "attach", "-P0", "--escape", "none", "--stdin=false",
                           "-q=true", "x", NULL),
                     0);
    assert_int_equal(o.cmd, CMD_ATTACH);
    assert_int_equal(o.parallel, 0);
    assert_int_equal(o.escape_char, -1);
    assert_false(o.stdin_);
    assert_true(o.quiet);
    cli_opts_free(&o);

    assert_int_equal(parse(&o, err, "podmux", "exec", "--escape=^A", "x", NULL), 0);
    assert_int_equal(o.escape_char, 1);
    cli_opts_free(&o);
}

static void test_errors(void **state)
{
    cli_opts_t o;
    char err[256];
    assert_int_equal(parse(&o, err, "podmux", "exec", "--nope", NULL), -1);
    assert_string_equal(err, "unknown flag: --nope");
    cli_opts_free(&o);
    assert_int_equal(parse(&o, err, "podmux", "exec", "-ix", NULL), -1);
    assert_string_equal(err, "unknown shorthand flag: 'x' in -ix");
    cli_opts_free(&o);
    assert_int_equal(parse(&o, err, "podmux", "exec", "-n", NULL), -1);
    assert_string_equal(err, "flag needs an argument: 'n' in -n");
    cli_opts_free(&o);
    assert_int_equal(parse(&o, err, "podmux", "exec", "--namespace", NULL), -1);
    assert_string_equal(err, "flag needs an argument: --namespace");
    cli_opts_free(&o);
    assert_int_equal(parse(&o, err, "podmux", "exec", "--timeout", "5y", NULL), -1);
    assert_string_equal(err, "invalid argument \"5y\" for \"--timeout\" flag");
    cli_opts_free(&o);
    assert_int_equal(parse(&o, err, "podmux", "exec", "-P", "-3", NULL), -1);
    assert_string_equal(err, "invalid argument \"-3\" for \"-P, --parallel\" flag");
    cli_opts_free(&o);
    assert_int_equal(parse(&o, err, "podmux", "exec", "-o", "yaml", NULL), -1);
    cli_opts_free(&o);
    assert_int_equal(parse(&o, err, "podmux", "frobnicate", NULL), -1);
    assert_string_equal(err, "unknown command \"frobnicate\" for \"podmux\"");
    cli_opts_free(&o);
    assert_int_equal(parse(&o, err, "podmux", "help", "exec", NULL), 0);
    assert_int_equal(o.cmd, CMD_EXEC);
    assert_true(o.help);
    cli_opts_free(&o);
}

/* Issue 13.12 / 14.7: bad -n/-c named, control characters escaped, --version, the name in help. */
static void test_names_version_help(void **state)
{
    (void)state;
    cli_opts_t o;
    char err[512];
    assert_int_equal(parse(&o, err, "podmux", "exec", "-n",
                           "a\x01"
                           "b\n",
                           "p", "--", "x", NULL),
                     -1);
    assert_string_equal(err, "invalid namespace name \"a\\x01b\\n\": it may not contain '/', "
                             "'?', '#', '%', spaces or control characters");
    cli_opts_free(&o);
    assert_int_equal(parse(&o, err, "podmux", "exec", "-c", "a/b", "p", "--", "x", NULL), -1);
    assert_true(!strncmp(err, "invalid container name \"a/b\": ", 30));
    cli_opts_free(&o);
    assert_int_equal(parse(&o, err, "podmux", "exec", "-n", "", "p", "--", "x", NULL), -1);
    assert_string_equal(err, "invalid namespace name \"\": it is empty");
    cli_opts_free(&o);
    assert_int_equal(parse(&o, err, "podmux", "exec", "-n", "Team-A", "p", "--", "x", NULL), 0);
    cli_opts_free(&o); /* the server judges the rest, as with kubectl */
    assert_int_equal(parse(&o, err, "podmux", "exec", "--timeout", "\x1b[2J", NULL), -1);
    assert_string_equal(err, "invalid argument \"\\x1b[2J\" for \"--timeout\" flag");
    cli_opts_free(&o);
    assert_int_equal(parse(&o, err, "podmux", "\x1b]0;x\a", NULL), -1);
    assert_string_equal(err, "unknown command \"\\x1b]0;x\\x07\" for \"podmux\"");
    cli_opts_free(&o);
    assert_int_equal(parse(&o, err, "podmux", "exec", "pod/a\tb", NULL), 0);
    cli_target_t t;
    assert_int_equal(cli_parse_target(o.targets[0], &t, err, sizeof err), -1);
    assert_string_equal(err, "invalid resource name \"pod/a\\tb\"");
    cli_opts_free(&o);
    char small[6];
    cli_quote("\x01\x02", small, sizeof small); /* never cuts an escape in half */
    assert_string_equal(small, "\\x01");
    cli_quote("abcd\"", small, sizeof small);
    assert_string_equal(small, "abcd");

    assert_int_equal(parse(&o, err, "podmux", "--version", NULL), 0);
    assert_int_equal(o.cmd, CMD_VERSION);
    cli_opts_free(&o);
    assert_string_equal(cli_prog_name("/usr/bin/kubectl-podmux"), "kubectl podmux");
    assert_string_equal(cli_prog_name("kubectl-podmux"), "kubectl podmux");
    assert_string_equal(cli_prog_name("./podmux"), "podmux");
    const char *h = cli_help_text(CMD_NONE, "kubectl podmux");
    assert_non_null(strstr(h, "  kubectl podmux exec [flags]"));
    assert_non_null(strstr(h, "`kubectl podmux exec ...`"));
    assert_null(strstr(h, "kubectl kubectl"));
    assert_null(strstr(h, "  podmux "));
    h = cli_help_text(CMD_NONE, "podmux");
    assert_non_null(strstr(h, "podmux shell"));
    h = cli_help_text(CMD_SHELL, "podmux");
    assert_non_null(strstr(h, "--layout"));
    assert_non_null(strstr(cli_help_text(CMD_EXEC, "podmux"), "opens `podmux shell`"));
}

/* Issue 14.4: --kill-on-close wraps the command, exec without -i/-t only. */
static void test_kill_on_close(void **state)
{
    (void)state;
    cli_opts_t o;
    char err[512];
    assert_int_equal(
        parse(&o, err, "podmux", "exec", "--kill-on-close", "p", "--", "sleep", "9", NULL), 0);
    assert_int_equal(o.argc, 6);
    assert_string_equal(o.argv[0], "sh");
    assert_string_equal(o.argv[1], "-c");
    assert_non_null(strstr(o.argv[2], "kill -TERM"));
    assert_string_equal(o.argv[3], "podmux-kill-on-close");
    assert_string_equal(o.argv[4], "sleep");
    assert_string_equal(o.argv[5], "9");
    cli_opts_free(&o);
    assert_int_equal(
        parse(&o, err, "podmux", "exec", "-i", "--kill-on-close", "p", "--", "x", NULL), -1);
    assert_true(!strncmp(err, "--kill-on-close cannot go with -i", 33));
    cli_opts_free(&o);
    assert_int_equal(
        parse(&o, err, "podmux", "exec", "-t", "--kill-on-close", "p", "--", "x", NULL), -1);
    cli_opts_free(&o);
    assert_int_equal(parse(&o, err, "podmux", "attach", "--kill-on-close", "p", NULL), -1);
    assert_string_equal(err, "--kill-on-close goes with exec only");
    cli_opts_free(&o);
    assert_non_null(strstr(cli_help_text(CMD_EXEC, "podmux"), "--kill-on-close"));
    uint64_t v = 1;
    assert_int_equal(cli_parse_size("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(cli_parse_size("10Ki", &v), 0);
    assert_int_equal(v, 10240);
    assert_int_equal(cli_parse_size("10k", &v), 0);
    assert_int_equal(v, 10000);
    assert_int_equal(cli_parse_size("64MiB", &v), 0);
    assert_int_equal(v, 64u << 20);
    assert_int_equal(cli_parse_size("2G", &v), 0);
    assert_int_equal(v, 2000000000ull);
    assert_int_equal(cli_parse_size("2Gi", &v), 0);
    assert_int_equal(v, 2ull << 30);
    assert_int_equal(cli_parse_size("10X", &v), -1);
    assert_int_equal(cli_parse_size("-1", &v), -1);
    assert_int_equal(cli_parse_size("", &v), -1);
    assert_int_equal(cli_parse_size("99999999999999999999", &v), -1);
    assert_int_equal(cli_parse_size("17179869184Ti", &v), -1); /* 2^34 TiB overflows */
    assert_int_equal(parse(&o, err, "podmux", "exec", "p", "--", "x", NULL), 0);
    assert_int_equal(o.group_max, 64u << 20); /* the documented default */
    cli_opts_free(&o);
}

/* Issue 14.3: the shell's prefix key: a flag, PODMUX_PREFIX, and inside tmux/screen C-]. */
static void test_prefix_key(void **state)
{
    (void)state;
    assert_int_equal(cli_parse_ctrl_key("C-b"), 0x02);
    assert_int_equal(cli_parse_ctrl_key("^a"), 0x01);
    assert_int_equal(cli_parse_ctrl_key("Ctrl-]"), 0x1d);
    assert_int_equal(cli_parse_ctrl_key("C-B"), 0x02);
    assert_int_equal(cli_parse_ctrl_key("b"), -1);
    assert_int_equal(cli_parse_ctrl_key("C-bb"), -1);
    assert_int_equal(cli_parse_ctrl_key("C-1"), -1);
    assert_int_equal(cli_parse_ctrl_key("^@"), -1); /* NUL */
    char name[8], err[400] = "";
    cli_ctrl_key_name(0x1d, name, sizeof name);
    assert_string_equal(name, "C-]");
    cli_ctrl_key_name(0x01, name, sizeof name);
    assert_string_equal(name, "C-a");
    assert_int_equal(cli_shell_prefix(0, NULL, NULL, NULL, err, sizeof err), 0x02);
    assert_int_equal(cli_shell_prefix(0, NULL, "/tmp/tmux-0/default,1,0", NULL, err, sizeof err),
                     0x1d);
    assert_int_equal(cli_shell_prefix(0, "", NULL, "123.pts-0.host", err, sizeof err), 0x1d);
    assert_int_equal(cli_shell_prefix(0, "^g", "/tmp/tmux", NULL, err, sizeof err), 0x07);
    assert_int_equal(cli_shell_prefix(0x01, "^g", "/tmp/tmux", NULL, err, sizeof err), 0x01);
    assert_int_equal(cli_shell_prefix(0, "x\x1b", NULL, NULL, err, sizeof err), -1);
    assert_string_equal(err, "invalid PODMUX_PREFIX \"x\\x1b\" (a control key: C-b, ^a, Ctrl-])");
    cli_opts_t o;
    assert_int_equal(parse(&o, err, "podmux", "shell", "--prefix", "C-a", "p", NULL), 0);
    assert_int_equal(o.prefix_key, 0x01);
    cli_opts_free(&o);
    assert_int_equal(parse(&o, err, "podmux", "shell", "--prefix", "a", "p", NULL), -1);
    assert_string_equal(err, "invalid argument \"a\" for \"--prefix\" flag");
    cli_opts_free(&o);
}

/* Feeds `in` in chunks of `chunk` bytes; returns what would be sent and the first action. */
static int run_escape(int ch, const char *in, size_t chunk, char *sent, size_t *nsent)
{
    cli_escape_t e;
    cli_escape_init(&e, ch);
    char out[64];
    size_t len = strlen(in), pos = 0;
    *nsent = 0;
    while (pos < len) {
        size_t n = len - pos < chunk ? len - pos : chunk, used;
        int action;
        size_t k = cli_escape_feed(&e, in + pos, n, out, &used, &action);
        memcpy(sent + *nsent, out, k);
        *nsent += k;
        pos += used;
        if (action) return action;
    }
    return ESC_NONE;
}

static void check_escape(int ch, const char *in, int want_action, const char *want_sent)
{
    size_t chunks[] = {1, 7, 1000};
    for (size_t i = 0; i < 3; i++) {
        char sent[128];
        size_t n;
        int action = run_escape(ch, in, chunks[i], sent, &n);
        assert_int_equal(action, want_action);
        assert_int_equal(n, strlen(want_sent));
        assert_memory_equal(sent, want_sent, n);
    }
}

/* podmux cp: the command word, positional SRC/DEST kept in order, sizes with suffixes. */
static void test_cp_flags(void **state)
{
    cli_opts_t o;
    char err[256];
    assert_int_equal(parse(&o, err, "podmux", "cp", "-l", "app=web", "./a", "b", ":/etc/",
                           "--max-bytes", "100Mi", "--max-entries=10", "--max-lag", "2M", NULL),
                     0);
    assert_int_equal(o.cmd, CMD_CP);
    assert_int_equal(o.ntargets, 3);
    assert_string_equal(o.targets[2], ":/etc/");
    assert_true(o.max_bytes == 100ull << 20);
    assert_true(o.max_entries == 10);
    assert_true(o.max_lag == 2000000);
    cli_opts_free(&o);
    assert_int_equal(parse(&o, err, "podmux", "cp", "--max-bytes", "1.5Gi", "a", "p:b", NULL), -1);
    assert_string_equal(err, "invalid argument \"1.5Gi\" for \"--max-bytes\" flag");
    cli_opts_free(&o);
    assert_int_equal(parse(&o, err, "podmux", "cp", "--max-lag=0", "a", "p:b", NULL), -1);
    cli_opts_free(&o);
    assert_int_equal(parse(&o, err, "podmux", "cp", "--max-entries", "99999999999999999999", NULL),
                     -1);
    cli_opts_free(&o);
}

static void test_escape(void **state)
{
    check_escape('~', "~.", ESC_DISCONNECT, "");
    check_escape('~', "ls\r~.", ESC_DISCONNECT, "ls\r");
    check_escape('~', "ls\n~?", ESC_HELP, "ls\n");
    check_escape('~', "a~.b", ESC_NONE, "a~.b"); /* not at a line start */
    check_escape('~', "~~.", ESC_NONE, "~.");    /* ~~ sends one ~ and ends the escape */
    check_escape('~', "~x", ESC_NONE, "~x");
    check_escape('~', "\r~\r~.", ESC_DISCONNECT, "\r~\r"); /* "~\r" sends both; a line starts */
    check_escape('%', "x\r%.", ESC_DISCONNECT, "x\r");
    check_escape('%', "~.", ESC_NONE, "~.");
    check_escape(-1, "~.", ESC_NONE, "~.");
    check_escape('~', "\x03\r~.", ESC_DISCONNECT, "\x03\r"); /* Ctrl-C is just a byte */
}

/* Random keystrokes in random chunks: the same bytes sent and the same first action as when
 * fed one byte at a time. */
static void test_escape_random_chunks(void **state)
{
    static const char alphabet[] = "~.?\r\nab\x03";
    unsigned seed = 777;
    for (int round = 0; round < 500; round++) {
        char in[64];
        for (size_t i = 0; i < sizeof in; i++) {
            seed = seed * 1103515245u + 12345u;
            in[i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        char sent1[128], sent2[128];
        size_t n1 = 0, n2 = 0;
        int a1 = ESC_NONE, a2 = ESC_NONE;
        cli_escape_t e1, e2;
        cli_escape_init(&e1, '~');
        cli_escape_init(&e2, '~');
        char out[80];
        for (size_t pos = 0; pos < sizeof in && !a1;) { /* one byte at a time */
            size_t used;
            size_t k = cli_escape_feed(&e1, in + pos, 1, out, &used, &a1);
            memcpy(sent1 + n1, out, k), n1 += k, pos += used;
        }
        for (size_t pos = 0; pos < sizeof in && !a2;) {
            seed = seed * 1103515245u + 12345u;
            size_t n = 1 + (seed >> 16) % 9, used;
            if (n > sizeof in - pos) n = sizeof in - pos;
            size_t k = cli_escape_feed(&e2, in + pos, n, out, &used, &a2);
            memcpy(sent2 + n2, out, k), n2 += k, pos += used;
        }
        assert_int_equal(a1, a2);
        assert_int_equal(n1, n2);
        assert_memory_equal(sent1, sent2, n1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_exec_flags),
        cmocka_unit_test(test_fanout_flags),
        cmocka_unit_test(test_impersonation_flags),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_names_version_help),
        cmocka_unit_test(test_kill_on_close),
        cmocka_unit_test(test_prefix_key),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_escape_random_chunks),
        cmocka_unit_test(test_cp_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
