/* proc: real processes for podmux-sim (see proc.h).
 *
 * Pipes: uv_spawn with UV_PROCESS_DETACHED, so the child leads its own session and process group
 * before it execs, and the whole group can be killed.
 * pty: a fresh pty pair, the slave as fds 0-2, and util-linux `setsid -c --` in front of the
 * command: it starts a new session (it is not a group leader, so it does not fork) and makes the
 * pty its controlling terminal (TIOCSCTTY), which sets the foreground group too. libuv cannot run
 * code in the child between fork and exec, and a session leader that did not open the tty itself
 * has no controlling terminal, so the trampoline is needed. Exec errors are found before the
 * spawn by looking the command up as runc does, so the trampoline never fails visibly. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "proc.h"

#define SETSID_PATH "/usr/bin/setsid"
#define DEFAULT_PATH_VALUE "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define DEFAULT_HIGH_WATER (1024 * 1024)
#define READ_CHUNK (32 * 1024) /* the kubelet's io.Copy buffer: one chunk, one frame */

enum { IO_IN, IO_OUT, IO_ERR }; /* tty: IO_IN is the pty master (written), IO_OUT/ERR unused */

typedef struct proc_io {
    uv_pipe_t h;
    int fd;            /* what on_output reports */
    unsigned open : 1; /* initialised and not being closed */
    unsigned eof : 1;  /* output: the end was read */
} proc_io_t;

/* The pty master is read through its own dup'd fd with uv_poll (see pty_poll_cb). */
typedef struct pty_reader {
    uv_poll_t h;
    int fd;
    unsigned open : 1, eof : 1;
} pty_reader_t;

struct sim_proc {
    uv_loop_t *loop;
    sim_proc_cb_t cb;
    void *data;
    sim_proc_registry_t *reg;
    sim_proc_t *prev, *next;
    uv_process_t proc;
    uv_timer_t defer; /* reports that must not run inside the caller's call */
    uv_shutdown_t shut;
    proc_io_t io[3];
    pty_reader_t pty;
    pid_t pid;
    int exit_code;
    int handles; /* initialised handles whose close callback has not run yet */
    int stdin_err;
    size_t queued, high_water;
    unsigned char last_byte; /* last byte queued to a pty, for close_stdin */
    unsigned tty : 1, want_stdin : 1, spawned : 1, start_failed : 1, exited : 1, reported : 1,
        closing : 1, paused : 1, full : 1, stdin_eof : 1, wrote : 1;
    char start_error[512];
    char rbuf[READ_CHUNK]; /* shared by all outputs: libuv never interleaves alloc/read_cb */
};

typedef struct proc_write {
    uv_write_t req;
    sim_proc_t *p;
    size_t len;
    char bytes[];
} proc_write_t;

/* ---- lifetime ---- */
static void registry_unlink(sim_proc_t *p)
{
    if (!p->reg) return;
    if (p->prev)
        p->prev->next = p->next;
    else
        p->reg->head = p->next;
    if (p->next) p->next->prev = p->prev;
    p->reg = NULL;
}

static void handle_closed(uv_handle_t *h)
{
    sim_proc_t *p = h->data;
    if (--p->handles > 0 || !p->closing) return;
    registry_unlink(p);
    if (p->cb.on_close) p->cb.on_close(p);
    free(p);
}

static void io_close(proc_io_t *io)
{
    if (!io->open) return;
    io->open = 0;
    uv_close((uv_handle_t *)&io->h, handle_closed);
}

static void io_init(sim_proc_t *p, int idx)
{
    proc_io_t *io = &p->io[idx];
    uv_pipe_init(p->loop, &io->h, 0); /* cannot fail for ipc = 0 */
    io->h.data = p;
    io->fd = idx == IO_ERR ? 2 : 1;
    io->open = 1;
    p->handles++;
}

/* Closing the last master fd hangs the terminal up: SIGHUP to the session leader. */
static void pty_close(sim_proc_t *p)
{
    if (p->pty.open) {
        p->pty.open = 0;
        uv_close((uv_handle_t *)&p->pty.h, handle_closed); /* unregisters the fd at once */
        close(p->pty.fd);
    }
    io_close(&p->io[IO_IN]);
}

static int outputs_done(const sim_proc_t *p)
{
    if (p->tty) return !p->pty.open || p->pty.eof;
    for (int i = IO_OUT; i <= IO_ERR; i++)
        if (p->io[i].open && !p->io[i].eof) return 0;
    return 1;
}

/* Exit is reported once the process is gone and every output reached EOF (status last). */
static void maybe_report(sim_proc_t *p)
{
    if (p->closing || p->reported || !p->exited || !outputs_done(p)) return;
    p->reported = 1;
    if (p->cb.on_exit) p->cb.on_exit(p, p->exit_code, NULL);
}

static void defer_cb(uv_timer_t *t)
{
    sim_proc_t *p = t->data;
    if (p->start_failed && !p->reported && !p->closing) {
        p->reported = 1;
        if (p->cb.on_exit) p->cb.on_exit(p, -1, p->start_error);
        return;
    }
    maybe_report(p);
}

static void exit_cb(uv_process_t *h, int64_t status, int term_signal)
{
    sim_proc_t *p = h->data;
    p->exited = 1;
    p->exit_code = term_signal ? 128 + term_signal : (int)(status & 0xff);
    uv_close((uv_handle_t *)&p->proc, handle_closed); /* reaped: nothing left to wait for */
    if (p->tty && p->pty.eof) pty_close(p);
    maybe_report(p);
}

/* ---- output ---- */
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    sim_proc_t *p = h->data;
    *b = uv_buf_init(p->rbuf, sizeof p->rbuf);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    sim_proc_t *p = s->data;
    proc_io_t *io = (proc_io_t *)s; /* h is the first member */
    if (n > 0) {
        if (!p->closing && p->cb.on_output) p->cb.on_output(p, io->fd, b->base, (size_t)n);
        return;
    }
    if (n == 0) return;
    io->eof = 1; /* UV_EOF (or an error, which ends the output all the same) */
    io_close(io);
    maybe_report(p);
}

/* 1 when the end was reached (EIO: every slave fd is closed and everything was read). */
static int pty_read_some(sim_proc_t *p)
{
    for (int i = 0; i < 16; i++) { /* bounded per wake-up; the poll is level-triggered */
        if (!p->pty.open || p->paused || p->closing) return 0; /* on_output paused or closed */
        ssize_t n = read(p->pty.fd, p->rbuf, sizeof p->rbuf);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
        if (n <= 0) return 1;
        if (p->cb.on_output) p->cb.on_output(p, 1, p->rbuf, (size_t)n);
    }
    return 0;
}

/* libuv's stream code takes POLLHUP after a short read for EOF, but a pty master reports POLLHUP
 * as soon as the slave is closed while output is still queued in the kernel, and the tail would
 * be lost. Hence a uv_poll and read() until EIO. */
static void pty_poll_cb(uv_poll_t *h, int status, int events)
{
    sim_proc_t *p = h->data;
    if (status == 0 && !pty_read_some(p)) return;
    /* The master stays open until the process is gone: programs close their stdio just before
     * they exit, and a hangup then would SIGHUP them on their way out. */
    p->pty.eof = 1;
    uv_poll_stop(&p->pty.h);
    if (p->exited) pty_close(p);
    maybe_report(p);
}

static void start_reading(sim_proc_t *p)
{
    if (p->tty) {
        if (p->pty.open && !p->pty.eof) uv_poll_start(&p->pty.h, UV_READABLE, pty_poll_cb);
        return;
    }
    for (int i = IO_OUT; i <= IO_ERR; i++)
        if (p->io[i].open && !p->io[i].eof)
            uv_read_start((uv_stream_t *)&p->io[i].h, alloc_cb, read_cb);
}

/* ---- starting ---- */
static void set_reason(sim_proc_t *p, const char *fmt, const char *a, int err)
{
    char tmp[128], e[128];
    snprintf(e, sizeof e, "%s", strerror_r(err, tmp, sizeof tmp)); /* GNU strerror_r */
    e[0] = (char)tolower((unsigned char)e[0]); /* Go's error texts are lower case */
    snprintf(p->start_error, sizeof p->start_error, fmt, a, e);
    p->start_failed = 1;
}

static int is_executable(const char *file)
{
    struct stat st;
    return stat(file, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

/* A relative name resolves against the child's cwd, where execvp will look. */
static int join(char *out, size_t n, const char *cwd, const char *dir, size_t dlen, const char *f)
{
    int r;
    if (!dlen) dir = ".", dlen = 1; /* an empty PATH element is the current directory */
    if (dir[0] == '/')
        r = snprintf(out, n, "%.*s/%s", (int)dlen, dir, f);
    else
        r = snprintf(out, n, "%s/%.*s/%s", cwd ? cwd : ".", (int)dlen, dir, f);
    return r > 0 && (size_t)r < n;
}

/* Go's exec.LookPath as runc uses it: the reason goes after `exec: "<argv0>": `. */
static int lookup(sim_proc_t *p, const char *name, const char *path, const char *cwd)
{
    char full[PATH_MAX];
    if (strchr(name, '/')) {
        struct stat st;
        if (name[0] == '/' || !cwd)
            snprintf(full, sizeof full, "%s", name);
        else if (!join(full, sizeof full, cwd, "", 0, name))
            snprintf(full, sizeof full, "%s", name);
        if (stat(full, &st) < 0) {
            set_reason(p, "stat %s: %s", name, errno);
            return -1;
        }
        if (is_executable(full)) return 0;
        snprintf(p->start_error, sizeof p->start_error, "permission denied");
        p->start_failed = 1;
        return -1;
    }
    while (name[0]) {
        size_t n = strcspn(path, ":");
        if (join(full, sizeof full, cwd, path, n, name) && is_executable(full)) return 0;
        if (!path[n]) break;
        path += n + 1;
    }
    snprintf(p->start_error, sizeof p->start_error, "executable file not found in $PATH");
    p->start_failed = 1;
    return -1;
}

/* The container's environment: as given, plus PATH when missing and TERM=xterm with a tty. */
static const char *build_env(const sim_proc_opts_t *o, char **env)
{
    const char *path = NULL;
    size_t n = 0;
    for (size_t i = 0; o->env && o->env[i]; i++) {
        if (o->tty && !strncmp(o->env[i], "TERM=", 5)) continue;
        if (!strncmp(o->env[i], "PATH=", 5)) path = o->env[i] + 5;
        env[n++] = (char *)o->env[i];
    }
    if (o->tty) env[n++] = "TERM=xterm";
    if (!path) env[n++] = "PATH=" DEFAULT_PATH_VALUE;
    env[n] = NULL;
    return path ? path : DEFAULT_PATH_VALUE;
}

static int open_pty(unsigned w, unsigned h, int *master, int *slave)
{
    char name[64];
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) return -errno;
    if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof name) != 0) goto fail;
    struct winsize ws = {.ws_row = (unsigned short)(h ? h : 24),
                         .ws_col = (unsigned short)(w ? w : 80)};
    if (ioctl(m, TIOCSWINSZ, &ws) < 0) goto fail;
    int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) goto fail;
    *master = m;
    *slave = s;
    return 0;
fail:;
    int e = errno;
    close(m);
    return -e;
}

static void spawn_failed(sim_proc_t *p, const char *what, int uverr)
{
    snprintf(p->start_error, sizeof p->start_error, "%s%s", what, uv_strerror(uverr));
    p->start_failed = 1;
    for (int i = 0; i < 3; i++)
        io_close(&p->io[i]);
}

static void launch_pipes(sim_proc_t *p, const sim_proc_opts_t *o, uv_process_options_t *po)
{
    uv_stdio_container_t st[3] = {{.flags = UV_IGNORE}}; /* libuv: /dev/null */
    for (int i = o->want_stdin ? IO_IN : IO_OUT; i <= IO_ERR; i++) {
        io_init(p, i);
        st[i].flags = UV_CREATE_PIPE | (i == IO_IN ? UV_READABLE_PIPE : UV_WRITABLE_PIPE);
        st[i].data.stream = (uv_stream_t *)&p->io[i].h;
    }
    po->file = o->argv[0];
    po->args = (char **)o->argv;
    po->flags = UV_PROCESS_DETACHED;
    po->stdio = st;
    po->stdio_count = 3;
    p->handles++; /* libuv initialises the process handle even when the spawn fails */
    int r = uv_spawn(p->loop, &p->proc, po);
    if (r < 0) {
        uv_close((uv_handle_t *)&p->proc, handle_closed);
        spawn_failed(p, "", r);
    }
}

/* The master: a uv_pipe for writing (libuv's write queue), a dup of it polled for reading. */
static int pty_attach(sim_proc_t *p, int master)
{
    io_init(p, IO_IN);
    if (uv_pipe_open(&p->io[IO_IN].h, master) < 0) {
        close(master);
        io_close(&p->io[IO_IN]);
        return -1;
    }
    int rfd = fcntl(master, F_DUPFD_CLOEXEC, 3);
    if (rfd < 0 || uv_poll_init(p->loop, &p->pty.h, rfd) < 0) {
        if (rfd >= 0) close(rfd);
        io_close(&p->io[IO_IN]);
        return -1;
    }
    p->pty.h.data = p;
    p->pty.fd = rfd;
    p->pty.open = 1;
    p->handles++;
    return 0;
}

static void launch_pty(sim_proc_t *p, const sim_proc_opts_t *o, uv_process_options_t *po,
                       char **args)
{
    int master, slave;
    int r = open_pty(o->width, o->height, &master, &slave);
    if (r < 0) {
        spawn_failed(p, "open pty: ", uv_translate_sys_error(-r));
        return;
    }
    size_t n = 0;
    args[n++] = "setsid";
    args[n++] = "-c";
    args[n++] = "--";
    for (size_t i = 0; o->argv[i]; i++)
        args[n++] = (char *)o->argv[i];
    args[n] = NULL;
    uv_stdio_container_t st[3];
    for (int i = 0; i < 3; i++) {
        st[i].flags = UV_INHERIT_FD;
        st[i].data.fd = slave;
    }
    po->file = SETSID_PATH;
    po->args = args;
    po->stdio = st;
    po->stdio_count = 3;
    p->handles++;
    r = uv_spawn(p->loop, &p->proc, po);
    close(slave); /* only the child holds it now: its last close gives us EIO */
    if (r < 0) {
        close(master);
        uv_close((uv_handle_t *)&p->proc, handle_closed);
        spawn_failed(p, SETSID_PATH ": ", r);
        return;
    }
    if (pty_attach(p, master) < 0) kill(p->proc.pid, SIGKILL); /* unreachable: end it, 137 */
}

static void launch(sim_proc_t *p, const sim_proc_opts_t *o, char **args, char **env)
{
    const char *path = build_env(o, env);
    if (o->cwd) {
        struct stat st;
        int err = stat(o->cwd, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
        if (err) {
            set_reason(p, "chdir to cwd (\"%s\") set in config.json failed: %s", o->cwd, err);
            return;
        }
    }
    if (lookup(p, o->argv[0], path, o->cwd) < 0) return;
    uv_process_options_t po = {.exit_cb = exit_cb, .env = env, .cwd = o->cwd};
    p->proc.data = p;
    if (o->tty)
        launch_pty(p, o, &po, args);
    else
        launch_pipes(p, o, &po);
    if (p->start_failed) return;
    p->spawned = 1;
    p->pid = p->proc.pid;
    start_reading(p);
}

static size_t count(const char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

int sim_proc_spawn(uv_loop_t *loop, const sim_proc_opts_t *o, const sim_proc_cb_t *cb, void *data,
                   sim_proc_t **out)
{
    if (!loop || !o || !cb || !out || !o->argv || !o->argv[0]) return UV_EINVAL;
    sim_proc_t *p = calloc(1, sizeof *p);
    char **args = calloc(count(o->argv) + 4, sizeof *args);
    char **env = calloc(count(o->env) + 3, sizeof *env);
    if (!p || !args || !env) {
        free(p);
        free(args);
        free(env);
        return UV_ENOMEM;
    }
    p->loop = loop;
    p->cb = *cb;
    p->data = data;
    p->tty = !!o->tty;
    p->want_stdin = !!o->want_stdin;
    p->high_water = o->stdin_high_water ? o->stdin_high_water : DEFAULT_HIGH_WATER;
    p->stdin_eof = !o->want_stdin;
    if (o->registry) {
        p->reg = o->registry;
        p->next = o->registry->head;
        if (p->next) p->next->prev = p;
        o->registry->head = p;
    }
    uv_timer_init(loop, &p->defer);
    p->defer.data = p;
    p->handles = 1;
    launch(p, o, args, env);
    free(args);
    free(env);
    if (p->start_failed) uv_timer_start(&p->defer, defer_cb, 0, 0);
    *out = p;
    return 0;
}

void *sim_proc_data(sim_proc_t *p)
{
    return p->data;
}

pid_t sim_proc_pid(const sim_proc_t *p)
{
    return p->spawned ? p->pid : 0;
}

/* ---- stdin ---- */
static uv_stream_t *stdin_stream(sim_proc_t *p)
{
    proc_io_t *io = &p->io[IO_IN];
    if (p->tty && p->pty.eof) return NULL; /* the slave is gone */
    return io->open ? (uv_stream_t *)&io->h : NULL;
}

static void write_cb(uv_write_t *req, int status)
{
    proc_write_t *w = (proc_write_t *)req;
    sim_proc_t *p = w->p;
    p->queued -= w->len;
    free(w);
    if (status < 0 && status != UV_ECANCELED && !p->stdin_err)
        p->stdin_err = status; /* the process closed its stdin (EPIPE): later writes fail */
    if (p->closing || !p->full || p->queued > p->high_water / 4) return;
    p->full = 0;
    if (p->cb.on_stdin_drain) p->cb.on_stdin_drain(p);
}

static long queue_write(sim_proc_t *p, uv_stream_t *s, const void *data, size_t len)
{
    if (len > (size_t)LONG_MAX - p->queued || len > UINT_MAX) return UV_E2BIG;
    proc_write_t *w = malloc(sizeof *w + len);
    if (!w) return UV_ENOMEM;
    w->p = p;
    w->len = len;
    memcpy(w->bytes, data, len);
    uv_buf_t b = uv_buf_init(w->bytes, (unsigned)len);
    int r = uv_write(&w->req, s, &b, 1, write_cb);
    if (r < 0) {
        free(w);
        return r;
    }
    p->queued += len;
    if (p->queued > p->high_water) p->full = 1;
    return (long)p->queued;
}

long sim_proc_write(sim_proc_t *p, const void *data, size_t len)
{
    uv_stream_t *s = stdin_stream(p);
    if (p->closing || p->stdin_eof || !s) return UV_EPIPE;
    if (p->stdin_err) return p->stdin_err;
    if (p->queued > p->high_water) return UV_ENOBUFS;
    if (len == 0) return (long)p->queued;
    long r = queue_write(p, s, data, len);
    if (r >= 0 && p->tty) {
        p->last_byte = ((const unsigned char *)data)[len - 1];
        p->wrote = 1;
    }
    return r;
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    /* Closing the fd is what gives a plain pipe its EOF (shutdown() only works on sockets). */
    io_close(&((sim_proc_t *)req->data)->io[IO_IN]);
}

/* What a user at a terminal types for EOF: VEOF, twice after a partial line (the first only
 * ends the line) when the line discipline is canonical. */
static int pty_send_veof(sim_proc_t *p, uv_stream_t *s)
{
    uv_os_fd_t fd;
    struct termios t;
    if (uv_fileno((uv_handle_t *)s, &fd) < 0 || tcgetattr(fd, &t) < 0) return UV_EBADF;
    char eof[2] = {(char)t.c_cc[VEOF], (char)t.c_cc[VEOF]};
    int partial =
        p->wrote && p->last_byte != '\n' && p->last_byte != '\r' && p->last_byte != t.c_cc[VEOF];
    size_t n = (t.c_lflag & ICANON) && partial ? 2 : 1;
    long r = queue_write(p, s, eof, n);
    return r < 0 ? (int)r : 0;
}

int sim_proc_close_stdin(sim_proc_t *p)
{
    uv_stream_t *s = stdin_stream(p);
    if (p->closing || p->stdin_eof || !s) return UV_EPIPE;
    p->stdin_eof = 1;
    if (p->tty) return pty_send_veof(p, s);
    p->shut.data = p;
    int r = uv_shutdown(&p->shut, s, shutdown_cb);
    if (r < 0) io_close(&p->io[IO_IN]);
    return 0;
}

/* ---- control ---- */
int sim_proc_resize(sim_proc_t *p, unsigned width, unsigned height)
{
    if (!p->tty) return UV_EINVAL;
    uv_os_fd_t fd;
    if (p->closing || !p->io[IO_IN].open || uv_fileno((uv_handle_t *)&p->io[IO_IN].h, &fd) < 0)
        return UV_EBADF;
    struct winsize ws = {.ws_row = (unsigned short)(height > USHRT_MAX ? USHRT_MAX : height),
                         .ws_col = (unsigned short)(width > USHRT_MAX ? USHRT_MAX : width)};
    return ioctl(fd, TIOCSWINSZ, &ws) < 0 ? uv_translate_sys_error(errno) : 0;
}

void sim_proc_pause_output(sim_proc_t *p)
{
    p->paused = 1;
    if (p->pty.open) uv_poll_stop(&p->pty.h);
    for (int i = IO_OUT; i <= IO_ERR; i++)
        if (p->io[i].open) uv_read_stop((uv_stream_t *)&p->io[i].h);
}

void sim_proc_resume_output(sim_proc_t *p)
{
    if (!p->paused || p->closing) return;
    p->paused = 0;
    start_reading(p);
}

/* The kernel's hangup SIGHUPs the session leader only once `setsid -c` made the pty its
 * controlling terminal; TIOCGSID on the master tells whether that happened. */
static void pty_hangup_early(sim_proc_t *p)
{
    if (!p->tty || !p->spawned || p->exited || !p->pty.open) return;
    if (tcgetsid(p->pty.fd) < 0)
        kill(p->pid, SIGHUP); /* still the trampoline: it dies of SIGHUP like the command would */
}

void sim_proc_hangup(sim_proc_t *p)
{
    if (p->closing) return;
    pty_hangup_early(p);
    p->stdin_eof = 1;
    pty_close(p); /* pty: closing the master hangs the terminal up */
    for (int i = 0; i < 3; i++)
        io_close(&p->io[i]);
    if (p->exited || p->start_failed)
        uv_timer_start(&p->defer, defer_cb, 0, 0); /* on_exit may be due: not from in here */
}

static int kill_group(sim_proc_t *p, int sig)
{
    if (kill(-p->pid, sig) == 0) return 0;
    /* Before `setsid` has run the child is not a group leader yet: signal it alone. */
    if (errno == ESRCH && !p->exited && kill(p->pid, sig) == 0) return 0;
    return uv_translate_sys_error(errno);
}

int sim_proc_kill(sim_proc_t *p, int sig)
{
    if (!p->spawned || p->closing) return UV_ESRCH;
    return kill_group(p, sig);
}

void sim_proc_close(sim_proc_t *p)
{
    if (p->closing) return;
    p->closing = 1;
    /* Always the whole group: background children of an exited shell must not survive us.
     * The process handle closes in exit_cb, after the reap. */
    if (p->spawned) kill_group(p, SIGKILL);
    pty_close(p);
    for (int i = 0; i < 3; i++)
        io_close(&p->io[i]);
    uv_close((uv_handle_t *)&p->defer, handle_closed);
}

/* ---- registry ---- */
void sim_proc_registry_init(sim_proc_registry_t *r)
{
    r->head = NULL;
}

void sim_proc_registry_kill_all(sim_proc_registry_t *r, int sig)
{
    for (sim_proc_t *p = r->head; p; p = p->next)
        if (p->spawned) kill_group(p, sig);
}

void sim_proc_registry_close_all(sim_proc_registry_t *r)
{
    /* sim_proc_close never frees synchronously, so the list stays valid while we walk it. */
    for (sim_proc_t *p = r->head; p; p = p->next)
        sim_proc_close(p);
}
