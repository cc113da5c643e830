/* test_proc: real processes (pipes and ptys) on a real libuv loop, and the remote-cluster
 * model's in-sim commands (proc_model.c) behind the same calls. proc.c, proc_spawn.c and
 * proc_model.c belong to podmux-sim's library, which this test links. */
#include "sim/proc.h"
#include "sim/proc_internal.h"

#include <dirent.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/buf.h"

typedef struct run {
    uv_loop_t loop;
    sim_proc_registry_t reg;
    sim_proc_t *p;
    buf_t out[3];
    int exit_calls, exit_code, closed, drains, in_call, reentered, after_exit, after_close;
    int refusable; /* feed() takes UV_ENOBUFS as "wait for on_stdin_drain" (what exec does) */
    int close_called;
    char start_error[512];
    size_t total;        /* bytes seen on fd 1 (also when not kept) */
    int keep;            /* append output to out[] */
    int pause_on_first;  /* pause output at the first chunk */
    int close_on_first;  /* sim_proc_close from inside on_output */
    size_t bytes_paused; /* output delivered while paused (must stay 0) */
    int paused;
    /* stdin feeding */
    const char *feed;
    size_t feed_len, fed, max_queued, chunk_i;
    int eof_sent;
} run_t;

static const char *const ENV[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", NULL};

/* ---- harness ------------------------------------------------------------------------------------
 */
static void cb_output(sim_proc_t *p, int fd, const char *data, size_t len)
{
    run_t *r = sim_proc_data(p);
    if (r->in_call) r->reentered++;
    if (r->exit_calls) r->after_exit++;
    if (r->close_called) r->after_close++;
    if (r->paused) r->bytes_paused += len;
    if (fd == 1) r->total += len;
    if (r->keep) assert_int_equal(buf_append(&r->out[fd], data, len), 0);
    if (r->pause_on_first && !r->paused) {
        r->pause_on_first = 0;
        r->paused = 1;
        sim_proc_pause_output(p);
    }
    if (r->close_on_first) {
        r->close_on_first = 0;
        r->close_called = 1;
        sim_proc_close(p);
    }
}

static void cb_exit(sim_proc_t *p, int code, const char *start_error)
{
    run_t *r = sim_proc_data(p);
    if (r->in_call) r->reentered++;
    r->exit_calls++;
    r->exit_code = code;
    snprintf(r->start_error, sizeof r->start_error, "%s", start_error ? start_error : "");
}

static void feed(run_t *r);

static void cb_drain(sim_proc_t *p)
{
    run_t *r = sim_proc_data(p);
    if (r->in_call) r->reentered++;
    r->drains++;
    feed(r);
}

static void cb_close(sim_proc_t *p)
{
    run_t *r = sim_proc_data(p);
    if (r->in_call) r->reentered++;
    r->closed++;
}

static const sim_proc_cb_t CB = {cb_output, cb_exit, cb_drain, cb_close};

static void tick(uv_timer_t *t) {}

/* Runs the loop until pred(r, arg) or ms pass; returns pred's final value. */
static int run_until(run_t *r, int (*pred)(run_t *, const void *), const void *arg, uint64_t ms)
{
    uv_timer_t t;
    uv_timer_init(&r->loop, &t);
    uv_timer_start(&t, tick, 10, 10);
    uint64_t end = uv_now(&r->loop) + ms;
    while (!pred(r, arg) && uv_now(&r->loop) < end)
        uv_run(&r->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&r->loop, UV_RUN_NOWAIT);
    return pred(r, arg);
}

static int exited(run_t *r, const void *arg)
{
    return r->exit_calls > 0;
}

static int closed(run_t *r, const void *arg)
{
    return r->closed > 0;
}

static int never(run_t *r, const void *arg)
{
    return 0;
}

static int out_has(run_t *r, const void *s)
{
    return r->out[1].data && strstr(r->out[1].data, s) != NULL;
}

static void wait_ms(run_t *r, uint64_t ms)
{
    run_until(r, never, NULL, ms);
}

static int setup(void **state)
{
    run_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    assert_int_equal(uv_loop_init(&r->loop), 0);
    assert_int_equal(sim_proc_registry_init(&r->reg, &r->loop), 0);
    for (int i = 0; i < 3; i++)
        buf_init(&r->out[i], 64u << 20);
    r->keep = 1;
    *state = r;
    return 0;
}

/* Every process closed, every handle gone: uv_loop_close would fail otherwise. */
static int teardown(void **state)
{
    run_t *r = *state;
    if (r->p && !r->closed) {
        sim_proc_close(r->p);
        assert_true(run_until(r, closed, NULL, 5000));
    }
    assert_int_equal(r->reg.nkids, 0); /* every child reaped */
    assert_null(r->reg.kids);
    sim_proc_registry_close(&r->reg);
    uv_run(&r->loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&r->loop), 0);
    for (int i = 0; i < 3; i++)
        buf_free(&r->out[i]);
    free(r);
    return 0;
}

static void reset(run_t *r)
{
    if (r->p && !r->closed) {
        sim_proc_close(r->p);
        assert_true(run_until(r, closed, NULL, 5000));
    }
    for (int i = 0; i < 3; i++)
        buf_reset(&r->out[i]);
    r->p = NULL;
    r->exit_calls = r->closed = r->drains = r->after_exit = r->paused = 0;
    r->bytes_paused = 0;
    r->exit_code = -999;
    r->total = 0;
    r->fed = r->chunk_i = 0;
    r->eof_sent = 0;
    r->start_error[0] = 0;
}

static void spawn_o(run_t *r, sim_proc_opts_t *o)
{
    if (!o->env) o->env = ENV;
    if (!o->registry) o->registry = &r->reg;
    r->in_call = 1;
    assert_int_equal(sim_proc_spawn(&r->loop, o, &CB, r, &r->p), 0);
    r->in_call = 0;
    assert_non_null(r->p);
}

static void spawn(run_t *r, int tty, int want_stdin, const char *const *argv)
{
    sim_proc_opts_t o = {.argv = argv, .tty = tty, .want_stdin = want_stdin};
    spawn_o(r, &o);
}

static void spawn_sh(run_t *r, int tty, int want_stdin, const char *script)
{
    const char *argv[] = {"sh", "-c", script, NULL};
    spawn(r, tty, want_stdin, argv);
}

static void expect_exit(run_t *r, int code)
{
    assert_true(run_until(r, exited, NULL, 10000));
    assert_int_equal(r->exit_code, code);
    assert_int_equal(r->exit_calls, 1);
    assert_int_equal(r->reentered, 0);
    assert_string_equal(r->start_error, "");
}

static const char *out(run_t *r, int fd)
{
    return r->out[fd].data ? r->out[fd].data : "";
}

/* Processes of group pgid that are not zombies (zombies are reaped by init, not by us). */
static int live_in_group(pid_t pgid)
{
    int n = 0;
    DIR *d = opendir("/proc");
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        char path[300], line[512];
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t len = fread(line, 1, sizeof line - 1, f);
        fclose(f);
        line[len] = 0;
        char *rp = strrchr(line, ')'); /* comm may hold spaces */
        char st;
        int ppid, pgrp;
        if (rp && sscanf(rp + 2, "%c %d %d", &st, &ppid, &pgrp) == 3 && pgrp == pgid && st != 'Z')
            n++;
    }
    closedir(d);
    return n;
}

/* ---- pipes --------------------------------------------------------------------------------------
 */
/* SIGKILL is delivered at once but the victims take a moment to die. */
static int group_gone(run_t *r, pid_t pgid)
{
    for (int i = 0; i < 100 && live_in_group(pgid) > 0; i++)
        wait_ms(r, 10);
    return live_in_group(pgid) == 0;
}

static void test_stdout_stderr_apart(void **state)
{
    run_t *r = *state;
    spawn_sh(r, 0, 0, "printf out1; echo err1 >&2; echo out2");
    expect_exit(r, 0);
    assert_string_equal(out(r, 1), "out1out2\n");
    assert_string_equal(out(r, 2), "err1\n");
    assert_int_equal(r->after_exit, 0);
    assert_true(sim_proc_pid(r->p) > 0);
}

static void test_exit_codes(void **state)
{
    run_t *r = *state;
    const char *scripts[] = {"exit 0", "exit 3", "exit 42", "kill -9 $$", "kill -TERM $$"};
    const int codes[] = {0, 3, 42, 137, 143};
    for (int i = 0; i < 5; i++) {
        reset(r);
        spawn_sh(r, 0, 0, scripts[i]);
        expect_exit(r, codes[i]);
    }
}

static void test_kill_sigkill_137(void **state)
{
    run_t *r = *state;
    const char *argv[] = {"sleep", "100", NULL};
    spawn(r, 0, 1, argv);
    assert_int_equal(sim_proc_kill(r->p, SIGKILL), 0);
    expect_exit(r, 137);
}

/* The signal reaches the whole group: the background sleep holds stdout, so on_exit comes only
 * because it died too. */
static void test_kill_reaches_group(void **state)
{
    run_t *r = *state;
    spawn_sh(r, 0, 0, "sleep 100 & echo started; wait");
    assert_true(run_until(r, out_has, "started\n", 5000));
    uint64_t t0 = uv_now(&r->loop);
    assert_int_equal(sim_proc_kill(r->p, SIGTERM), 0);
    expect_exit(r, 143);
    assert_true(uv_now(&r->loop) - t0 < 5000);
    assert_string_equal(out(r, 1), "started\n");
}

/* Exit waits for EOF: a background child that still writes delays it, and its output comes
 * before the status. */
static void test_exit_after_all_output(void **state)
{
    run_t *r = *state;
    spawn_sh(r, 0, 0, "(sleep 0.3; echo late) & echo early");
    expect_exit(r, 0);
    assert_string_equal(out(r, 1), "early\nlate\n");
    assert_int_equal(r->after_exit, 0);
}

static void feed(run_t *r)
{
    static const size_t sizes[] = {1, 7, 65521, 4096, 100000};
    while (r->feed && r->fed < r->feed_len) {
        size_t n = sizes[r->chunk_i++ % 5];
        if (n > r->feed_len - r->fed) n = r->feed_len - r->fed;
        long q = sim_proc_write(r->p, r->feed + r->fed, n);
        if (q == UV_ENOBUFS && r->refusable) return; /* on_stdin_drain follows, as exec expects */
        assert_true(q >= 0); /* bytes still queued: 0 when the pipe took them all */
        r->fed += n;
        if ((size_t)q > r->max_queued) r->max_queued = (size_t)q;
        if ((size_t)q > 1024 * 1024) return; /* above high water: wait for on_stdin_drain */
    }
    if (r->feed && !r->eof_sent) {
        r->eof_sent = 1;
        assert_int_equal(sim_proc_close_stdin(r->p), 0);
    }
}

/* Input that arrives while the spawn is still on the thread pool and fills the queue at once (as
 * kubectl's does): every refusal must be followed by on_stdin_drain, or the input stalls. */
static void test_stdin_flood_from_start(void **state)
{
    run_t *r = *state;
    static char data[1 << 20];
    memset(data, 'z', sizeof data);
    for (int i = 0; i < 5; i++) {
        reset(r);
        const char *argv[] = {"cat", NULL};
        sim_proc_opts_t o = {.argv = argv, .want_stdin = 1, .stdin_high_water = 4096};
        spawn_o(r, &o);
        r->refusable = 1;
        r->feed = data;
        r->feed_len = sizeof data;
        feed(r);
        expect_exit(r, 0);
        assert_int_equal(r->out[1].len, sizeof data);
    }
    r->refusable = 0;
}

static void test_cat_10mib(void **state)
{
    run_t *r = *state;
    size_t n = 10u << 20;
    char *data = malloc(n);
    assert_non_null(data);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        data[i] = (char)x;
    }
    const char *argv[] = {"cat", NULL};
    spawn(r, 0, 1, argv);
    r->feed = data;
    r->feed_len = n;
    feed(r);
    expect_exit(r, 0);
    assert_int_equal(r->out[1].len, n);
    assert_memory_equal(r->out[1].data, data, n);
    assert_true(r->drains > 0);                               /* backpressure was exercised */
    assert_true(r->max_queued <= 1024 * 1024 + 100000);       /* bounded by high water + a chunk */
    assert_int_equal(sim_proc_write(r->p, "x", 1), UV_EPIPE); /* after close_stdin */
    free(data);
}

static void test_no_stdin_is_dev_null(void **state)
{
    run_t *r = *state;
    spawn_sh(r, 0, 0, "cat; echo \"rc=$?\"; ls -l /proc/self/fd/0 | sed 's/.*-> //'");
    assert_int_equal(sim_proc_write(r->p, "x", 1), UV_EPIPE);
    expect_exit(r, 0);
    assert_string_equal(out(r, 1), "rc=0\n/dev/null\n");
}

static void test_write_high_water(void **state)
{
    run_t *r = *state;
    static char chunk[5000];
    const char *argv[] = {"sh", "-c", "sleep 0.3; exec cat >/dev/null", NULL};
    sim_proc_opts_t o = {.argv = argv, .want_stdin = 1, .stdin_high_water = 4096};
    spawn_o(r, &o);
    wait_ms(r, 100); /* started: its pipe is open */
    r->in_call = 1;
    assert_int_equal(sim_proc_write(r->p, chunk, sizeof chunk), 0); /* the pipe took it all */
    long q = 0;
    for (int i = 0; i < 100 && q == 0; i++)
        q = sim_proc_write(r->p, chunk, sizeof chunk);
    assert_true(q > 0 && q <= (long)sizeof chunk); /* the pipe is full: the rest is queued */
    if (q <= 4096) assert_int_equal(sim_proc_write(r->p, chunk, sizeof chunk), q + 5000);
    assert_int_equal(sim_proc_write(r->p, chunk, 10), UV_ENOBUFS);
    r->in_call = 0;
    assert_int_equal(r->drains, 0); /* never from inside the write */
    wait_ms(r, 1000);
    assert_int_equal(r->drains, 1);
    assert_int_equal(sim_proc_write(r->p, chunk, 10), 0);
    assert_int_equal(sim_proc_kill(r->p, SIGKILL), 0);
    expect_exit(r, 137);
}

/* The process closed its stdin: the failed write is remembered and later writes get it. */
static void test_write_after_reader_gone(void **state)
{
    run_t *r = *state;
    spawn_sh(r, 0, 1, "exec 0<&-; echo closed; sleep 5");
    assert_true(run_until(r, out_has, "closed\n", 5000));
    assert_int_equal(sim_proc_write(r->p, "x", 1), 1);
    wait_ms(r, 50);
    assert_int_equal(sim_proc_write(r->p, "x", 1), UV_EPIPE);
    assert_int_equal(sim_proc_kill(r->p, SIGKILL), 0);
    expect_exit(r, 137);
}

static void test_env_and_cwd(void **state)
{
    run_t *r = *state;
    static const char *const env[] = {"FOO=bar baz", "TERM=dumb", NULL};
    const char *argv[] = {"sh", "-c", "echo \"$FOO:$PWD:$TERM:$PATH\"", NULL};
    sim_proc_opts_t o = {.argv = argv, .env = env, .cwd = "/tmp"};
    spawn_o(r, &o);
    expect_exit(r, 0);
    assert_string_equal(
        out(r, 1),
        "bar baz:/tmp:dumb:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
    reset(r);
    o.tty = 1;
    spawn_o(r, &o);
    expect_exit(r, 0);
    assert_string_equal(
        out(r, 1),
        "bar baz:/tmp:xterm:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\r\n");
}

/* ---- start errors
 * -------------------------------------------------------------------------------- */
static void expect_start_error(run_t *r, int tty, const char *cwd, const char *arg0,
                               const char *text)
{
    reset(r);
    const char *argv[] = {arg0, NULL};
    sim_proc_opts_t o = {.argv = argv, .tty = tty, .cwd = cwd, .want_stdin = 1};
    spawn_o(r, &o);
    assert_int_equal(r->exit_calls, 0); /* on a later loop turn, not from inside spawn */
    assert_int_equal(sim_proc_pid(r->p), 0);
    assert_true(run_until(r, exited, NULL, 2000));
    assert_int_equal(r->exit_code, -1);
    assert_string_equal(r->start_error, text);
    assert_int_equal(sim_proc_write(r->p, "x", 1), UV_EPIPE);
}

static void test_start_errors(void **state)
{
    run_t *r = *state;
    for (int tty = 0; tty <= 1; tty++) {
        expect_start_error(r, tty, NULL, "no-such-binary-podmux",
                           "executable file not found in $PATH");
        expect_start_error(r, tty, NULL, "", "executable file not found in $PATH");
        expect_start_error(r, tty, NULL, "/nonexistent/x",
                           "stat /nonexistent/x: no such file or directory");
        expect_start_error(r, tty, NULL, "/etc/passwd", "permission denied");
        expect_start_error(r, tty, NULL, "/tmp", "permission denied");
        expect_start_error(r, tty, "/nonexistent", "true",
                           "chdir to cwd (\"/nonexistent\") set in config.json failed: no such "
                           "file or directory");
    }
    /* A relative name with a slash resolves against cwd. */
    reset(r);
    const char *argv[] = {"./true", NULL};
    sim_proc_opts_t o = {.argv = argv, .cwd = "/bin"};
    spawn_o(r, &o);
    expect_exit(r, 0);
}

/* ---- pty
 * ------------------------------------------------------------------------------------------ */
static void test_tty_is_pts(void **state)
{
    run_t *r = *state;
    const char *argv[] = {"tty", NULL};
    spawn(r, 1, 1, argv);
    expect_exit(r, 0);
    assert_memory_equal(out(r, 1), "/dev/pts/", 9);
    assert_string_equal(out(r, 1) + strlen(out(r, 1)) - 2, "\r\n");
    assert_int_equal(r->out[2].len, 0);
}

static void test_tty_initial_size(void **state)
{
    run_t *r = *state;
    const char *argv[] = {"stty", "size", NULL};
    spawn(r, 1, 0, argv);
    assert_int_equal(sim_proc_write(r->p, "x", 1), UV_EPIPE); /* no stdin asked for */
    assert_int_equal(sim_proc_close_stdin(r->p), UV_EPIPE);
    expect_exit(r, 0);
    assert_string_equal(out(r, 1), "24 80\r\n");
    reset(r);
    sim_proc_opts_t o = {.argv = argv, .tty = 1, .width = 120, .height = 40};
    spawn_o(r, &o);
    expect_exit(r, 0);
    assert_string_equal(out(r, 1), "40 120\r\n");
}

/* Is the pty the controlling terminal of a new session led by the command? */
static void test_tty_controlling_terminal(void **state)
{
    run_t *r = *state;
    /* /proc/PID/stat fields 5-8: pgrp session tty_nr tpgid (the foreground group). */
    spawn_sh(r, 1, 0, "cut -d' ' -f5,6,8 /proc/$$/stat; cut -d' ' -f7 /proc/$$/stat");
    expect_exit(r, 0);
    char buf[80];
    int pid = (int)sim_proc_pid(r->p); /* argv runs in the spawned pid: no trampoline */
    snprintf(buf, sizeof buf, "%d %d %d\r\n", pid, pid, pid);
    assert_memory_equal(out(r, 1), buf, strlen(buf));
    assert_true(atoi(out(r, 1) + strlen(buf)) > 0); /* a controlling tty */
}

static void test_tty_resize_shell(void **state)
{
    run_t *r = *state;
    const char *argv[] = {"sh", NULL};
    spawn(r, 1, 1, argv);
    assert_true(sim_proc_write(r->p, "stty size\n", 10) >= 0);
    assert_true(run_until(r, out_has, "24 80\r\n", 5000));
    assert_int_equal(sim_proc_resize(r->p, 100, 30), 0);
    assert_true(sim_proc_write(r->p, "stty size\n", 10) >= 0);
    assert_true(run_until(r, out_has, "30 100\r\n", 5000));
    assert_true(sim_proc_write(r->p, "exit 7\n", 7) >= 0);
    expect_exit(r, 7);
}

static void test_tty_sigwinch(void **state)
{
    run_t *r = *state;
    spawn_sh(r, 1, 1, "trap 'stty size; exit 0' WINCH; echo ready; while :; do sleep 0.05; done");
    assert_true(run_until(r, out_has, "ready\r\n", 5000));
    assert_int_equal(sim_proc_resize(r->p, 100, 30), 0);
    expect_exit(r, 0);
    assert_string_equal(out(r, 1), "ready\r\n30 100\r\n");
}

static void test_tty_ctrl_c(void **state)
{
    run_t *r = *state;
    spawn_sh(r, 1, 1, "trap 'echo INT; exit 5' INT; echo ready; sleep 10");
    assert_true(run_until(r, out_has, "ready\r\n", 5000));
    wait_ms(r, 300); /* let sh start the sleep: dash runs the trap once its child is done */
    uint64_t t0 = uv_now(&r->loop);
    assert_int_equal(sim_proc_write(r->p, "\x03", 1), 0);
    expect_exit(r, 5);
    assert_true(uv_now(&r->loop) - t0 < 5000);
    assert_string_equal(out(r, 1), "ready\r\n^CINT\r\n"); /* ECHOCTL echoes ^C */
}

static void test_tty_close_stdin(void **state)
{
    run_t *r = *state;
    const char *argv[] = {"cat", NULL};
    spawn(r, 1, 1, argv);
    assert_int_equal(sim_proc_write(r->p, "abc", 3), 0);
    assert_int_equal(sim_proc_close_stdin(r->p), 0); /* ^D ^D: flush the partial line, EOF */
    expect_exit(r, 0);
    assert_string_equal(out(r, 1), "abcabc"); /* echo, then cat */
    reset(r);
    spawn(r, 1, 1, argv);
    assert_int_equal(sim_proc_write(r->p, "line\n", 5), 0);
    assert_int_equal(sim_proc_close_stdin(r->p), 0); /* one ^D after a newline */
    expect_exit(r, 0);
    assert_string_equal(out(r, 1), "line\r\nline\r\n");
}

/* The tail of a pty's output is not lost when the slave closes (libuv's POLLHUP shortcut), and a
 * program that closes its stdio before exiting is not SIGHUPed by an early master close. */
static void test_tty_tail_and_exit_races(void **state)
{
    run_t *r = *state;
    const char *head[] = {"head", "-c", "1000000", "/dev/zero", NULL};
    const char *cat[] = {"cat", NULL};
    r->keep = 0;
    for (int i = 0; i < 10; i++) {
        reset(r);
        spawn(r, 1, 0, head);
        expect_exit(r, 0);
        assert_int_equal(r->total, 1000000);
    }
    r->keep = 1;
    for (int i = 0; i < 20; i++) {
        reset(r);
        spawn(r, 1, 1, cat);
        assert_int_equal(sim_proc_write(r->p, "abc", 3), 0);
        assert_int_equal(sim_proc_close_stdin(r->p), 0);
        expect_exit(r, 0);
        assert_string_equal(out(r, 1), "abcabc");
    }
}

static void test_resize_needs_tty(void **state)
{
    run_t *r = *state;
    const char *argv[] = {"true", NULL};
    spawn(r, 0, 0, argv);
    assert_int_equal(sim_proc_resize(r->p, 100, 30), UV_EINVAL);
    expect_exit(r, 0);
}

/* ---- hangup
 * --------------------------------------------------------------------------------------- */
static void test_hangup_pipes_sigpipe(void **state)
{
    run_t *r = *state;
    spawn_sh(r, 0, 1, "sleep 0.5; while true; do echo x; done");
    sim_proc_hangup(r->p);
    assert_int_equal(sim_proc_write(r->p, "x", 1), UV_EPIPE);
    expect_exit(r, 141);
    assert_int_equal(r->total, 0);
}

static void test_hangup_pipes_stdin_eof(void **state)
{
    run_t *r = *state;
    spawn_sh(r, 0, 1, "read x; echo \"rc=$?\" >/dev/null; exit 9");
    sim_proc_hangup(r->p);
    expect_exit(r, 9); /* the read saw EOF; not killed */
}

static void test_hangup_tty_sighup(void **state)
{
    run_t *r = *state;
    /* Right after the start (the pty is its terminal from before the exec). */
    const char *argv[] = {"sleep", "100", NULL};
    spawn(r, 1, 1, argv);
    sim_proc_hangup(r->p);
    expect_exit(r, 129);
    /* And once the command runs as session leader. */
    reset(r);
    spawn(r, 1, 1, argv);
    wait_ms(r, 300);
    sim_proc_hangup(r->p);
    expect_exit(r, 129);
    reset(r);
    spawn_sh(r, 1, 1, "echo ready; exec sleep 100");
    assert_true(run_until(r, out_has, "ready\r\n", 5000));
    sim_proc_hangup(r->p);
    expect_exit(r, 129);
}

/* ---- backpressure and close
 * ----------------------------------------------------------------------- */
static void pause_case(run_t *r, int tty, size_t n)
{
    char cmd[64];
    snprintf(cmd, sizeof cmd, "head -c %zu /dev/zero", n);
    r->keep = 0;
    r->pause_on_first = 1;
    spawn_sh(r, tty, 0, cmd);
    wait_ms(r, 400);
    assert_int_equal(r->paused, 1);
    assert_int_equal(r->bytes_paused, 0); /* nothing read, nothing buffered here */
    assert_int_equal(r->exit_calls, 0);
    assert_int_equal(kill(sim_proc_pid(r->p), 0), 0); /* blocked in write, alive */
    assert_true(r->total < n);
    r->paused = 0;
    sim_proc_resume_output(r->p);
    expect_exit(r, 0);
    assert_int_equal(r->total, n);
    r->keep = 1;
}

static void test_pause_output_bounded(void **state)
{
    run_t *r = *state;
    pause_case(r, 0, 20000000);
    reset(r);
    pause_case(r, 1, 2000000);
}

static void test_close_kills_group(void **state)
{
    run_t *r = *state;
    spawn_sh(r, 0, 0, "sleep 100 & echo started; wait");
    assert_true(run_until(r, out_has, "started\n", 5000));
    pid_t pid = sim_proc_pid(r->p);
    assert_int_equal(live_in_group(pid), 2);
    r->in_call = 1;
    sim_proc_close(r->p);
    r->in_call = 0;
    assert_int_equal(r->closed, 0); /* on_close comes from the loop */
    assert_true(run_until(r, closed, NULL, 5000));
    assert_int_equal(r->exit_calls, 0);
    assert_true(group_gone(r, pid));
    assert_int_equal(r->reentered, 0);
}

static void test_close_after_exit_kills_leftovers(void **state)
{
    run_t *r = *state;
    spawn_sh(r, 0, 0, "sleep 100 >/dev/null 2>&1 </dev/null & echo $!");
    expect_exit(r, 0);
    pid_t pid = sim_proc_pid(r->p);
    assert_int_equal(live_in_group(pid), 1); /* the orphaned sleep */
    sim_proc_close(r->p);
    assert_true(run_until(r, closed, NULL, 5000));
    assert_true(group_gone(r, pid));
}

static void test_close_inside_output(void **state)
{
    run_t *r = *state;
    const char *argv[] = {"yes", NULL};
    r->close_on_first = 1;
    spawn(r, 0, 1, argv);
    assert_true(run_until(r, closed, NULL, 5000));
    assert_int_equal(r->exit_calls, 0);
    assert_int_equal(r->after_close, 0);
    assert_true(r->total > 0 && r->total <= SIM_PROC_READ_CHUNK);
}

static void test_registry(void **state)
{
    run_t *r = *state;
    sim_proc_registry_t reg;
    assert_int_equal(sim_proc_registry_init(&reg, &r->loop), 0);
    run_t *rs[2] = {r, calloc(1, sizeof(run_t))};
    assert_non_null(rs[1]);
    const char *argv[] = {"sleep", "100", NULL};
    for (int i = 0; i < 2; i++) {
        sim_proc_opts_t o = {.argv = argv, .env = ENV, .tty = i, .registry = &reg};
        assert_int_equal(sim_proc_spawn(&r->loop, &o, &CB, rs[i], &rs[i]->p), 0);
    }
    wait_ms(r, 200);
    sim_proc_registry_kill_all(&reg, SIGKILL);
    assert_true(run_until(r, exited, NULL, 5000));
    assert_int_equal(r->exit_code, 137);
    for (int i = 0; i < 100 && !rs[1]->exit_calls; i++)
        wait_ms(r, 20);
    assert_int_equal(rs[1]->exit_code, 137);
    sim_proc_registry_close_all(&reg);
    assert_true(run_until(r, closed, NULL, 5000));
    for (int i = 0; i < 100 && !rs[1]->closed; i++)
        wait_ms(r, 20);
    assert_int_equal(rs[1]->closed, 1);
    assert_null(reg.head);
    assert_null(reg.kids);
    sim_proc_registry_close(&reg);
    uv_run(&r->loop, UV_RUN_NOWAIT);
    free(rs[1]);
}

/* ---- spawning and reaping
 * ------------------------------------------------------------------------- */
static void test_registry_required(void **state)
{
    run_t *r = *state;
    const char *argv[] = {"true", NULL};
    sim_proc_opts_t o = {.argv = argv, .env = ENV};
    sim_proc_t *p = (sim_proc_t *)&o; /* must stay untouched */
    assert_int_equal(sim_proc_spawn(&r->loop, &o, &CB, r, &p), UV_EINVAL);
    assert_ptr_equal(p, (sim_proc_t *)&o);
    uv_loop_t other;
    assert_int_equal(uv_loop_init(&other), 0);
    o.registry = &r->reg; /* a registry of another loop */
    assert_int_equal(sim_proc_spawn(&other, &o, &CB, r, &p), UV_EINVAL);
    assert_int_equal(uv_loop_close(&other), 0);
    assert_null(r->reg.head);
}

typedef struct kid_res {
    int exits, code, closed;
} kid_res_t;

typedef struct kids {
    kid_res_t *res;
    int n;
} kids_t;

static void k_exit(sim_proc_t *p, int code, const char *start_error)
{
    kid_res_t *k = sim_proc_data(p);
    k->exits++;
    k->code = start_error ? -1000 : code;
    sim_proc_close(p);
}

static void k_close(sim_proc_t *p)
{
    ((kid_res_t *)sim_proc_data(p))->closed++;
}

static int all_closed(run_t *r, const void *arg)
{
    const kids_t *k = arg;
    for (int i = 0; i < k->n; i++)
        if (!k->res[i].closed) return 0;
    return 1;
}

/* Many children at once (SIGCHLDs coalesce): every one reaped with its own status. */
static void test_many_at_once(void **state)
{
    run_t *r = *state;
    static const sim_proc_cb_t kcb = {NULL, k_exit, NULL, k_close};
    enum { N = 200 };
    kid_res_t res[N];
    char scripts[N][32];
    memset(res, 0, sizeof res);
    for (int i = 0; i < N; i++) {
        snprintf(scripts[i], sizeof scripts[i], "exit %d", i % 7);
        const char *argv[] = {"sh", "-c", scripts[i], NULL};
        sim_proc_opts_t o = {.argv = argv, .env = ENV, .tty = i % 5 == 0, .registry = &r->reg};
        sim_proc_t *p;
        assert_int_equal(sim_proc_spawn(&r->loop, &o, &kcb, &res[i], &p), 0);
        assert_int_equal(sim_proc_pid(p), 0); /* started on the thread pool, not in the call */
    }
    kids_t k = {res, N};
    assert_true(run_until(r, all_closed, &k, 30000));
    for (int i = 0; i < N; i++) {
        assert_int_equal(res[i].exits, 1);
        assert_int_equal(res[i].code, i % 7);
        assert_int_equal(res[i].closed, 1);
    }
    assert_int_equal(r->reg.nkids, 0);
    assert_null(r->reg.kids);
    assert_null(r->reg.head);
    assert_false(uv_has_ref((uv_handle_t *)&r->reg.sigchld));
}

/* A child that someone else in the process spawned is not reaped by the registry (its owner
 * gets its status), and ours are still reaped while it is an unreaped zombie. */
static void test_foreign_child_left_alone(void **state)
{
    run_t *r = *state;
    pid_t foreign;
    char *const fargv[] = {"sh", "-c", "exit 42", NULL};
    char *const fenv[] = {"PATH=/usr/bin:/bin", NULL};
    assert_int_equal(posix_spawnp(&foreign, "sh", NULL, NULL, fargv, fenv), 0);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    assert_int_equal(waitid(P_PID, (id_t)foreign, &si, WEXITED | WNOWAIT), 0); /* a zombie */
    for (int i = 0; i < 3; i++) {
        reset(r);
        spawn_sh(r, i == 2, 0, i ? "exit 4" : "exit 3");
        expect_exit(r, i ? 4 : 3);
    }
    int st = 0;
    assert_int_equal(waitpid(foreign, &st, WNOHANG), foreign);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 42);
}

/* The sim ignores SIGPIPE, a shell that started it may ignore SIGINT, the loop thread may block
 * signals: the child starts clean all the same. */
static void test_child_signal_state(void **state)
{
    run_t *r = *state;
    sigset_t usr1, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    assert_int_equal(sigprocmask(SIG_BLOCK, &usr1, &old), 0);
    void (*prev)(int) = signal(SIGINT, SIG_IGN);
    const char *argv[] = {"grep", "^Sig[BI]", "/proc/self/status", NULL};
    for (int tty = 0; tty <= 1; tty++) {
        reset(r);
        spawn(r, tty, 0, argv);
        expect_exit(r, 0);
        const char *nl = tty ? "\r\n" : "\n";
        char blk[64];
        snprintf(blk, sizeof blk, "SigBlk:\t0000000000000000%sSigIgn:\t", nl);
        assert_memory_equal(out(r, 1), blk, strlen(blk));
        /* glibc 2.36's posix_spawn leaves its two internal signals (32, 33: SIGCANCEL and
         * SIGSETXID, below SIGRTMIN) ignored; no program can use those through glibc. */
        char *end;
        unsigned long long ign = strtoull(out(r, 1) + strlen(blk), &end, 16);
        assert_int_equal(ign & ~0x180000000ull, 0);
        assert_string_equal(end, nl);
    }
    signal(SIGINT, prev);
    assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);
}

/* The sim's own stdin/stdout closed: the pipes' fds land on 0 and 1 and must still end up as
 * the child's stdio, and ours. */
static void test_own_stdio_closed(void **state)
{
    run_t *r = *state;
    spawn_sh(r, 0, 1, "exit 0"); /* libuv reserves an fd (EMFILE trick) at its first pipe */
    expect_exit(r, 0);
    reset(r);
    fflush(stdout);
    int saved0 = dup(0), saved1 = dup(1);
    assert_true(saved0 > 2 && saved1 > 2);
    close(0);
    close(1);
    const char *argv[] = {"sh", "-c", "cat; echo err >&2", NULL};
    spawn(r, 0, 1, argv);
    long q = sim_proc_write(r->p, "hi", 2);
    int c = sim_proc_close_stdin(r->p);
    dup2(saved0, 0);
    dup2(saved1, 1);
    close(saved0);
    close(saved1);
    assert_int_equal(q, 0); /* written at once */
    assert_int_equal(c, 0);
    expect_exit(r, 0);
    assert_string_equal(out(r, 1), "hi");
    assert_string_equal(out(r, 2), "err\n");
}

/* An executable file that is neither ELF nor #!: runc's exec fails (no /bin/sh fallback as
 * execvp would do). */
static void test_exec_format_error(void **state)
{
    run_t *r = *state;
    char path[] = "/tmp/test_proc_noexecXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "echo hi\n", 8), 8);
    assert_int_equal(fchmod(fd, 0755), 0);
    close(fd);
    for (int tty = 0; tty <= 1; tty++)
        expect_start_error(r, tty, NULL, path, "exec format error");
    unlink(path);
}

/* ---- the remote-cluster model: no process, the same callbacks ---- */
static void test_model_exit_codes_no_process(void **state)
{
    run_t *r = *state;
    r->reg.model = 1;
    const char *scripts[] = {"exit 0", "exit 3", "exit 42", "true", "false"};
    const int codes[] = {0, 3, 42, 0, 1};
    for (int i = 0; i < 5; i++) {
        reset(r);
        spawn_sh(r, 0, 0, scripts[i]);
        assert_int_equal(r->exit_calls, 0); /* never from inside the spawn */
        expect_exit(r, codes[i]);
        assert_int_equal(sim_proc_pid(r->p), 0); /* served in the sim */
        assert_int_equal(r->reg.nkids, 0);
    }
}

static void test_model_echo_head_sleep(void **state)
{
    run_t *r = *state;
    r->reg.model = 1;
    const char *echo[] = {"echo", "hello", "world", NULL};
    spawn(r, 0, 0, echo);
    expect_exit(r, 0);
    assert_string_equal(out(r, 1), "hello world\n");
    reset(r);
    const char *head[] = {"head", "-c", "100000", "/dev/zero", NULL};
    spawn(r, 0, 0, head);
    expect_exit(r, 0);
    assert_int_equal(r->out[1].len, 100000);
    reset(r);
    const char *sl[] = {"sleep", "0.05", NULL};
    spawn(r, 0, 0, sl);
    expect_exit(r, 0);
    reset(r);
    const char *sl2[] = {"sleep", "3600", NULL};
    spawn(r, 0, 0, sl2);
    wait_ms(r, 50);
    assert_int_equal(r->exit_calls, 0);
    assert_int_equal(sim_proc_kill(r->p, SIGTERM), 0);
    expect_exit(r, 143);
}

static void test_model_cat_stdin(void **state)
{
    run_t *r = *state;
    r->reg.model = 1;
    r->reg.model_start_ms = 20; /* writes before the start wait for it */
    const char *cat[] = {"cat", NULL};
    spawn(r, 0, 1, cat);
    assert_true(sim_proc_write(r->p, "abc", 3) >= 0);
    assert_int_equal(sim_proc_close_stdin(r->p), 0);
    assert_int_equal(sim_proc_write(r->p, "x", 1), UV_EPIPE);
    expect_exit(r, 0);
    assert_string_equal(out(r, 1), "abc");
}

static void test_model_tty_cat(void **state)
{
    run_t *r = *state;
    r->reg.model = 1;
    const char *cat[] = {"cat", NULL};
    spawn(r, 1, 1, cat);
    assert_int_equal(sim_proc_resize(r->p, 100, 30), 0);
    assert_true(sim_proc_write(r->p, "ab\r", 3) >= 0);
    assert_true(run_until(r, out_has, "ab\r\nab\r\n", 5000));
    assert_true(sim_proc_write(r->p, "\003", 1) >= 0); /* ^C */
    expect_exit(r, 130);
    reset(r);
    spawn(r, 0, 0, cat);
    assert_int_equal(sim_proc_resize(r->p, 100, 30), UV_EINVAL);
}

static void test_model_unmodelled_runs_a_process(void **state)
{
    run_t *r = *state;
    r->reg.model = 1;
    spawn_sh(r, 0, 0, "echo $0-real");
    expect_exit(r, 0);
    assert_string_equal(out(r, 1), "sh-real\n");
    assert_true(sim_proc_pid(r->p) > 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as podmux-sim does; children must still get SIGPIPE */
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_stdout_stderr_apart),
        T(test_model_exit_codes_no_process),
        T(test_model_echo_head_sleep),
        T(test_model_cat_stdin),
        T(test_model_tty_cat),
        T(test_model_unmodelled_runs_a_process),
        T(test_exit_codes),
        T(test_kill_sigkill_137),
        T(test_kill_reaches_group),
        T(test_exit_after_all_output),
        T(test_cat_10mib),
        T(test_no_stdin_is_dev_null),
        T(test_write_high_water),
        T(test_write_after_reader_gone),
        T(test_stdin_flood_from_start),
        T(test_env_and_cwd),
        T(test_start_errors),
        T(test_tty_is_pts),
        T(test_tty_initial_size),
        T(test_tty_controlling_terminal),
        T(test_tty_resize_shell),
        T(test_tty_sigwinch),
        T(test_tty_ctrl_c),
        T(test_tty_close_stdin),
        T(test_tty_tail_and_exit_races),
        T(test_resize_needs_tty),
        T(test_hangup_pipes_sigpipe),
        T(test_hangup_pipes_stdin_eof),
        T(test_hangup_tty_sighup),
        T(test_pause_output_bounded),
        T(test_close_kills_group),
        T(test_close_after_exit_kills_leftovers),
        T(test_close_inside_output),
        T(test_registry),
        T(test_registry_required),
        T(test_many_at_once),
        T(test_foreign_child_left_alone),
        T(test_child_signal_state),
        T(test_own_stdio_closed),
        T(test_exec_format_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
