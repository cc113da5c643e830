/* proc_model: podmux-sim's remote-cluster model (`--exec-model remote`): the commands the
 * benchmarks run are served inside the sim with no process, so a fan-out costs this machine
 * almost nothing but the client (in a real cluster the pods run on other machines).
 *
 * A modelled command is a sim_proc_t like a real one: exec.c drives it through the same proc.h
 * calls and the same callbacks, so the wire protocol (first frame, channels, status JSON, exit
 * codes, stdin close, resize) is the real-process path's, byte for byte. Only what happens
 * between the calls is modelled:
 *
 *   true / false / exit N / sh -c 'exit N'   exit code, no output
 *   echo [-n] ARGS                           ARGS and a newline on stdout
 *   cat                                      stdin to stdout, exits 0 at stdin's end
 *   sh -c 'cat >/dev/null'                   reads stdin, exits 0 at its end (the stdin bench)
 *   sleep N                                  exits 0 after N seconds
 *   head -c N /dev/zero                      N zero bytes, in 32 KiB chunks as the kubelet reads
 *   (sh|bash) -c 'one of the above'          the same (no shell syntax beyond words)
 *
 * With a tty the model is the pty's line discipline in its default (canonical, echo) mode:
 * typed bytes are echoed (control characters as ^X), CR/LF echo as CRLF and end the line that
 * cat then writes (with CRLF), DEL erases, ^D at a line start is EOF, ^C ends the command with
 * 130, a hangup with 129; output newlines become CRLF. Resize is accepted.
 * Any other command runs as a real process (proc_spawn.c), so the mode never refuses work.
 *
 * The model starts each command after the registry's model_start_ms (a kubelet/runc exec start),
 * on a timer: callbacks never run from inside the call that caused them (proc.h's rule). One
 * timer per command (the process's `defer` timer) drives everything: the start, output in
 * bounded batches per loop turn (pausing stops it), the end of a sleep. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "proc_internal.h"
#include "util/buf.h"

enum { M_EXIT, M_ECHO, M_CAT, M_SINK, M_SLEEP, M_ZERO };

#define MODEL_BATCH 16      /* output chunks per loop turn, so other sessions get their turn */
#define MODEL_LINE_MAX 4095 /* canonical-mode line limit (N_TTY_BUF_SIZE - 1) */

struct proc_model {
    int kind, code;
    uint64_t sleep_ms, due, zero_left;
    buf_t out;  /* bytes the "process" (or the tty's echo) wrote, not yet read */
    buf_t line; /* tty: the line being edited */
    unsigned started : 1, stdin_done : 1, done : 1, hungup : 1;
};

static const char zeros[SIM_PROC_READ_CHUNK];

/* ---- recognising a command ---- */
static const char *cmd_base(const char *s)
{
    const char *b = strrchr(s, '/');
    return b ? b + 1 : s;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!*s) return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > max) return -1;
    }
    *out = v;
    return 0;
}

/* sleep's argument: seconds with an optional fraction and s/m/h/d suffix, or infinity. */
static int parse_sleep(const char *s, uint64_t *ms)
{
    if (!strcmp(s, "infinity")) {
        *ms = UINT64_MAX / 2;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0) return -1;
    double mult = 1000;
    if (*end == 'm')
        mult = 60e3;
    else if (*end == 'h')
        mult = 3600e3;
    else if (*end == 'd')
        mult = 86400e3;
    else if (*end && *end != 's')
        return -1;
    if (*end && end[1]) return -1;
    double t = v * mult;
    if (t > 1e15) return -1;
    *ms = (uint64_t)t;
    return 0;
}

static int classify(struct proc_model *m, const char *const *argv, int argc, int tty);

/* sh -c 'SCRIPT': a script of plain words only (no quoting, expansion, redirection or lists). */
static int classify_script(struct proc_model *m, const char *script, int tty)
{
    if (!strcmp(script, "cat >/dev/null") || !strcmp(script, "cat > /dev/null")) {
        m->kind = M_SINK;
        return 0;
    }
    if (strpbrk(script, "\"'\\$`;&|<>(){}[]*?~#=\n")) return -1;
    char copy[512];
    if (strlen(script) >= sizeof copy) return -1;
    strcpy(copy, script);
    const char *words[16];
    int n = 0;
    for (char *save = NULL, *w = strtok_r(copy, " \t", &save); w;
         w = strtok_r(NULL, " \t", &save)) {
        if (n == 15) return -1;
        words[n++] = w;
    }
    words[n] = NULL;
    if (n == 0) return -1;
    if (!strcmp(words[0], "exit") && n <= 2) { /* a builtin: only in a script */
        uint64_t code = 0;
        if (n == 2 && parse_u64(words[1], 255, &code) < 0) return -1;
        m->kind = M_EXIT;
        m->code = (int)code;
        return 0;
    }
    return classify(m, words, n, tty);
}

static int classify(struct proc_model *m, const char *const *argv, int argc, int tty)
{
    const char *cmd = cmd_base(argv[0]);
    if ((!strcmp(cmd, "true") || !strcmp(cmd, "false")) && argc == 1) {
        m->kind = M_EXIT;
        m->code = cmd[0] == 'f';
        return 0;
    }
    if ((!strcmp(cmd, "sh") || !strcmp(cmd, "bash")) && argc == 3 && !strcmp(argv[1], "-c"))
        return classify_script(m, argv[2], tty);
    if (!strcmp(cmd, "exit") && argc <= 2) { /* `exit N` given as the command itself */
        uint64_t code = 0;
        if (argc == 2 && parse_u64(argv[1], 255, &code) < 0) return -1;
        m->kind = M_EXIT;
        m->code = (int)code;
        return 0;
    }
    if (!strcmp(cmd, "echo")) {
        int i = 1, nl = 1;
        if (argc > 1 && !strcmp(argv[1], "-n")) {
            nl = 0;
            i++;
        }
        for (int first = 1; i < argc; i++, first = 0)
            if ((!first && buf_append_byte(&m->out, ' ') < 0) ||
                buf_append_str(&m->out, argv[i]) < 0)
                return -1;
        if (nl && buf_append_str(&m->out, tty ? "\r\n" : "\n") < 0) return -1;
        m->kind = M_ECHO;
        return 0;
    }
    if (!strcmp(cmd, "cat") && (argc == 1 || (argc == 2 && !strcmp(argv[1], "-")))) {
        m->kind = M_CAT;
        return 0;
    }
    if (!strcmp(cmd, "sleep") && argc == 2 && parse_sleep(argv[1], &m->sleep_ms) == 0) {
        m->kind = M_SLEEP;
        return 0;
    }
    if (!strcmp(cmd, "head") && argc == 4 && !strcmp(argv[1], "-c") &&
        !strcmp(argv[3], "/dev/zero") && parse_u64(argv[2], UINT64_MAX / 2, &m->zero_left) == 0) {
        m->kind = M_ZERO;
        return 0;
    }
    return -1;
}

/* ---- running ---- */
static void model_tick(uv_timer_t *t);

static void schedule(sim_proc_t *p, uint64_t ms)
{
    if (!p->closing) uv_timer_start(&p->defer, model_tick, ms, 0);
}

/* The command ends with code (killed: 128+N); what it already wrote is still delivered. */
static void finish(sim_proc_t *p, int code)
{
    struct proc_model *m = p->model;
    if (m->done) return;
    m->done = 1;
    m->code = code;
    m->zero_left = 0;
    m->sleep_ms = 0;
    if (m->started) schedule(p, 0);
}

static void stdin_drained(sim_proc_t *p)
{
    struct proc_model *m = p->model;
    if (!p->full || m->out.len > p->high_water / 4) return;
    p->full = 0;
    if (p->cb.on_stdin_drain) p->cb.on_stdin_drain(p);
}

static void begin(sim_proc_t *p)
{
    struct proc_model *m = p->model;
    m->started = 1;
    if (m->done) return; /* killed before it started */
    if (m->kind == M_EXIT || m->kind == M_ECHO) m->done = 1;
    if (m->kind == M_SLEEP) m->due = uv_now(p->loop) + m->sleep_ms;
    if (m->kind == M_ZERO && m->zero_left == 0) m->done = 1;
}

static void model_tick(uv_timer_t *t)
{
    sim_proc_t *p = t->data;
    struct proc_model *m = p->model;
    if (p->closing || p->reported) return;
    if (!m->started) begin(p);
    if (m->hungup) { /* nobody reads any more: output is dropped */
        buf_reset(&m->out);
        m->zero_left = 0;
    }
    for (int i = 0; i < MODEL_BATCH && !p->paused && !p->closing; i++) {
        if (m->out.len) {
            size_t n = m->out.len < SIM_PROC_READ_CHUNK ? m->out.len : SIM_PROC_READ_CHUNK;
            if (p->cb.on_output) p->cb.on_output(p, 1, m->out.data, n);
            buf_consume(&m->out, n);
            if (!p->closing) stdin_drained(p);
        } else if (m->kind == M_ZERO && m->zero_left) {
            size_t n = m->zero_left < sizeof zeros ? (size_t)m->zero_left : sizeof zeros;
            m->zero_left -= n;
            if (p->cb.on_output) p->cb.on_output(p, 1, zeros, n);
            if (!m->zero_left) m->done = 1;
        } else {
            break;
        }
    }
    if (p->closing) return;
    if (m->out.len || m->zero_left) {
        if (!p->paused) schedule(p, 0); /* resume_output schedules otherwise */
        return;
    }
    if ((m->kind == M_CAT || m->kind == M_SINK) && m->stdin_done) m->done = 1;
    if (m->kind == M_SLEEP && !m->done) {
        uint64_t now = uv_now(p->loop);
        if (now < m->due) {
            schedule(p, m->due - now);
            return;
        }
        m->done = 1;
    }
    if (!m->done) return;
    p->exited = 1;
    p->reported = 1;
    p->exit_code = m->code;
    if (p->cb.on_exit) p->cb.on_exit(p, m->code, NULL);
}

/* ---- the tty's line discipline (canonical mode, echo on) ---- */
static int tty_input(sim_proc_t *p, const unsigned char *d, size_t len)
{
    struct proc_model *m = p->model;
    int feed = m->kind == M_CAT; /* only cat writes back what is typed */
    for (size_t i = 0; i < len && !m->done && !m->stdin_done; i++) {
        unsigned char c = d[i];
        int r = 0;
        if (c == '\r' || c == '\n') {
            r = buf_append_str(&m->out, "\r\n");
            if (r == 0 && feed) r = buf_append(&m->out, m->line.data, m->line.len);
            if (r == 0 && feed) r = buf_append_str(&m->out, "\r\n");
            buf_reset(&m->line);
        } else if (c == 0x04) { /* VEOF: ends a partial line without a newline, else EOF */
            if (m->line.len == 0) m->stdin_done = 1;
            if (feed) r = buf_append(&m->out, m->line.data, m->line.len);
            buf_reset(&m->line);
        } else if (c == 0x03) { /* VINTR: SIGINT to the foreground group */
            r = buf_append_str(&m->out, "^C");
            finish(p, 128 + SIGINT);
        } else if (c == 0x7f) { /* VERASE */
            if (m->line.len) {
                m->line.len--;
                r = buf_append_str(&m->out, "\b \b");
            }
        } else if (m->line.len < MODEL_LINE_MAX) {
            r = buf_append_byte(&m->line, c);
            if (r == 0 && c < 0x20 && c != '\t') {
                char ctl[2] = {'^', (char)(c + 64)};
                r = buf_append(&m->out, ctl, 2);
            } else if (r == 0) {
                r = buf_append_byte(&m->out, c);
            }
        }
        if (r < 0) return UV_ENOMEM;
    }
    return 0;
}

/* ---- proc.h's calls for a modelled command (proc.c forwards them) ---- */
long proc_model_write(sim_proc_t *p, const void *data, size_t len)
{
    struct proc_model *m = p->model;
    if (p->closing || p->stdin_eof || !p->want_stdin) return UV_EPIPE;
    if (m->done && m->started) return UV_EPIPE; /* it exited: its stdin is gone */
    if (!p->tty && m->kind != M_CAT) return 0;  /* a pipe nobody reads: taken and dropped */
    if (m->out.len > p->high_water) {
        p->full = 1; /* on_stdin_drain once the reader took it down to a quarter */
        return UV_ENOBUFS;
    }
    int r = p->tty ? tty_input(p, data, len) : buf_append(&m->out, data, len);
    if (r < 0) return UV_ENOMEM;
    if (m->started) schedule(p, 0);
    if (m->out.len > p->high_water) p->full = 1;
    return (long)m->out.len;
}

int proc_model_close_stdin(sim_proc_t *p)
{
    struct proc_model *m = p->model;
    if (p->closing || p->stdin_eof) return UV_EPIPE;
    p->stdin_eof = 1;
    if (p->tty) { /* ^D, twice after a partial line, as proc.c types it for a real pty */
        const unsigned char eof[2] = {0x04, 0x04};
        if (tty_input(p, eof, m->line.len ? 2 : 1) < 0) return UV_ENOMEM;
    }
    m->stdin_done = 1;
    if (m->started) schedule(p, 0);
    return 0;
}

int proc_model_resize(sim_proc_t *p, unsigned width, unsigned height)
{
    if (!p->tty) return UV_EINVAL;
    if (p->closing) return UV_EBADF;
    p->width = width;
    p->height = height;
    return 0;
}

void proc_model_resume(sim_proc_t *p)
{
    if (!p->paused || p->closing) return;
    p->paused = 0;
    if (p->model->started) schedule(p, 0);
}

void proc_model_hangup(sim_proc_t *p)
{
    struct proc_model *m = p->model;
    if (p->closing) return;
    p->stdin_eof = 1;
    m->hungup = 1;
    m->stdin_done = 1;
    if (p->tty)
        finish(p, 128 + SIGHUP); /* the session leader gets SIGHUP */
    else if (m->kind == M_ZERO)
        finish(p, 128 + SIGPIPE); /* its next write */
    if (m->started) schedule(p, 0);
}

int proc_model_kill(sim_proc_t *p, int sig)
{
    struct proc_model *m = p->model;
    if (p->closing || m->done) return UV_ESRCH;
    if (sig == 0 || sig == SIGCHLD || sig == SIGWINCH || sig == SIGURG || sig == SIGCONT ||
        sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
        return 0; /* ignored by default (stopping is not modelled) */
    finish(p, 128 + sig);
    return 0;
}

void proc_model_free(sim_proc_t *p)
{
    if (!p->model) return;
    buf_free(&p->model->out);
    buf_free(&p->model->line);
    free(p->model);
    p->model = NULL;
}

/* 1: modelled, started on its timer; 0: not a modelled command (spawn it for real); <0 no
 * memory. */
int proc_model_start(sim_proc_t *p, const sim_proc_opts_t *o)
{
    int argc = 0;
    while (o->argv[argc])
        argc++;
    struct proc_model *m = calloc(1, sizeof *m);
    if (!m) return UV_ENOMEM;
    /* stdin beyond high water is refused (UV_ENOBUFS), so the queue never passes that plus
     * one write; 64 MiB bounds what one write may add. */
    buf_init(&m->out, p->high_water + (64u << 20));
    buf_init(&m->line, MODEL_LINE_MAX + 1);
    if (classify(m, o->argv, argc, p->tty) < 0) {
        buf_free(&m->out);
        buf_free(&m->line);
        free(m);
        return 0;
    }
    p->model = m;
    p->width = o->width;
    p->height = o->height;
    schedule(p, p->reg->model_start_ms);
    return 1;
}
