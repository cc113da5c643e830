/* proc: real processes for podmux-sim (see proc.h): their lifetime, reaping, output, stdin,
 * control (resize, pause/resume, hangup, kill, close) and the registry. Starting them is in
 * proc_spawn.c; proc_internal.h holds what the two share.
 * Reaping: the registry's SIGCHLD handler, waitpid by pid: other spawners' children are theirs. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "proc_internal.h"

#define READ_CHUNK SIM_PROC_READ_CHUNK

/* A child to reap: the pid is kept apart so SIGCHLD scans touch one small array. */
struct sim_proc_kid {
    pid_t pid;
    sim_proc_t *p;
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

void proc_unref(sim_proc_t *p)
{
    if (--p->handles > 0 || !p->closing) return;
    registry_unlink(p);
    if (p->cb.on_close) p->cb.on_close(p);
    proc_model_free(p);
    free(p);
}

static void handle_closed(uv_handle_t *h)
{
    proc_unref(h->data);
}

void proc_io_close(proc_io_t *io)
{
    if (!io->open) return;
    io->open = 0;
    uv_close((uv_handle_t *)&io->h, handle_closed);
}

void proc_io_init(sim_proc_t *p, int idx)
{
    proc_io_t *io = &p->io[idx];
    uv_pipe_init(p->loop, &io->h, 0); /* cannot fail for ipc = 0 */
    io->h.data = p;
    io->fd = idx == IO_ERR ? 2 : 1;
    io->open = 1;
    p->handles++;
}

/* Closing the last master fd hangs the terminal up: SIGHUP to the session leader. */
void proc_pty_close(sim_proc_t *p)
{
    if (p->pty.open) {
        p->pty.open = 0;
        uv_close((uv_handle_t *)&p->pty.h, handle_closed); /* unregisters the fd at once */
        close(p->pty.fd);
    }
    proc_io_close(&p->io[IO_IN]);
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

void proc_defer_cb(uv_timer_t *t)
{
    sim_proc_t *p = t->data;
    if (p->start_failed && !p->reported && !p->closing) {
        p->reported = 1;
        if (p->cb.on_exit) p->cb.on_exit(p, -1, p->start_error);
        return;
    }
    maybe_report(p);
}

static void proc_exited(sim_proc_t *p, int status)
{
    p->exited = 1;
    p->exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    if (p->tty && p->pty.eof) proc_pty_close(p);
    maybe_report(p);
    proc_unref(p); /* reaped: nothing left to wait for */
}

/* ---- reaping ---- */
int proc_kid_reserve(sim_proc_registry_t *r)
{
    if (r->nkids < r->kids_cap) return 0;
    size_t cap = r->kids_cap ? r->kids_cap * 2 : 64;
    struct sim_proc_kid *k = realloc(r->kids, cap * sizeof *k);
    if (!k) return UV_ENOMEM;
    r->kids = k;
    r->kids_cap = cap;
    return 0;
}

/* No children left: no memory held, and the loop may end. */
void proc_kids_trim(sim_proc_registry_t *r)
{
    if (r->nkids) return;
    free(r->kids);
    r->kids = NULL;
    r->kids_cap = 0;
    uv_unref((uv_handle_t *)&r->sigchld);
}

void proc_kid_add(sim_proc_registry_t *r, sim_proc_t *p) /* room was reserved */
{
    r->kids[r->nkids].pid = p->pid;
    r->kids[r->nkids++].p = p;
    uv_ref((uv_handle_t *)&r->sigchld);
}

static size_t kid_find(const sim_proc_registry_t *r, pid_t pid)
{
    size_t i = 0;
    while (i < r->nkids && r->kids[i].pid != pid)
        i++;
    return i;
}

/* 1 when kids[i] was reaped (and removed: the last entry moves to i). */
int proc_kid_reap(sim_proc_registry_t *r, size_t i)
{
    int st = 0;
    pid_t w = waitpid(r->kids[i].pid, &st, WNOHANG);
    if (w == 0 || (w < 0 && errno != ECHILD)) return 0; /* still running */
    if (w < 0) st = 255 << 8; /* reaped by someone else: status lost, but it must not hang */
    sim_proc_t *p = r->kids[i].p;
    r->kids[i] = r->kids[--r->nkids];
    proc_kids_trim(r);
    proc_exited(p, st);
    return 1;
}

/* Usually every exited child is ours: the kernel names one (WNOWAIT leaves it waitable) and it
 * is reaped by pid, O(1) per exit; asking each of thousands of live children at every SIGCHLD
 * would be quadratic. A child that is not ours (another spawner's) is left alone, and ours are
 * then asked one by one. Callbacks may spawn (appended: not visited) or close (no removal). */
static void sigchld_cb(uv_signal_t *h, int signum)
{
    sim_proc_registry_t *r = h->data;
    (void)signum;
    for (size_t budget = r->nkids + 64; budget > 0; budget--) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0) return;
        size_t i = kid_find(r, si.si_pid);
        if (i == r->nkids || !proc_kid_reap(r, i)) break;
    }
    for (size_t i = r->nkids; i-- > 0;) /* downwards: a removal moves a visited entry to i */
        if (i < r->nkids) proc_kid_reap(r, i);
}

/* ---- output ---- */
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    sim_proc_t *p = h->data;
    (void)suggested;
    *b = uv_buf_init(p->reg->rbuf, sizeof p->reg->rbuf);
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
    proc_io_close(io);
    maybe_report(p);
}

/* 1 when the end was reached (EIO: every slave fd is closed and everything was read). */
static int pty_read_some(sim_proc_t *p)
{
    for (int i = 0; i < 16; i++) { /* bounded per wake-up; the poll is level-triggered */
        if (!p->pty.open || p->paused || p->closing) return 0; /* on_output paused or closed */
        char *buf = p->reg->rbuf;
        ssize_t n = read(p->pty.fd, buf, sizeof p->reg->rbuf);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
        if (n <= 0) return 1;
        if (p->cb.on_output) p->cb.on_output(p, 1, buf, (size_t)n);
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
    if (p->exited) proc_pty_close(p);
    maybe_report(p);
}

void proc_start_reading(sim_proc_t *p)
{
    if (p->tty) {
        if (p->pty.open && !p->pty.eof) uv_poll_start(&p->pty.h, UV_READABLE, pty_poll_cb);
        return;
    }
    for (int i = IO_OUT; i <= IO_ERR; i++)
        if (p->io[i].open && !p->io[i].eof)
            uv_read_start((uv_stream_t *)&p->io[i].h, alloc_cb, read_cb);
}

/* ---- stdin ---- */
uv_stream_t *proc_stdin_stream(sim_proc_t *p)
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

/* Written at once when nothing is queued ahead (no copy, as the kubelet's io.Copy); the rest is
 * copied and queued. */
static long queue_write(sim_proc_t *p, uv_stream_t *s, const void *data, size_t len)
{
    if (len > (size_t)LONG_MAX - p->queued || len > UINT_MAX) return UV_E2BIG;
    if (p->queued == 0) {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
        int n = uv_try_write(s, &b, 1);
        if (n > 0) {
            data = (const char *)data + n; /* errors: uv_write below reports them as before */
            len -= (size_t)n;
        }
        if (len == 0) return 0;
    }
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
    if (p->model) return proc_model_write(p, data, len);
    uv_stream_t *s = proc_stdin_stream(p);
    if (!s && p->spawning && !p->closing && !p->stdin_eof && p->want_stdin) {
        p->stdin_waits_start = 1; /* on_stdin_drain once the process runs */
        return UV_ENOBUFS;
    }
    if (p->closing || p->stdin_eof || !s) return UV_EPIPE;
    if (p->stdin_err) return p->stdin_err;
    if (p->queued > p->high_water) {
        p->full = 1; /* on_stdin_drain when the queue is down to a quarter */
        return UV_ENOBUFS;
    }
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
    proc_io_close(&((sim_proc_t *)req->data)->io[IO_IN]);
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

void proc_close_stdin_on(sim_proc_t *p, uv_stream_t *s)
{
    if (p->tty) {
        pty_send_veof(p, s);
        return;
    }
    p->shut.data = p;
    if (uv_shutdown(&p->shut, s, shutdown_cb) < 0) proc_io_close(&p->io[IO_IN]);
}

int sim_proc_close_stdin(sim_proc_t *p)
{
    if (p->model) return proc_model_close_stdin(p);
    uv_stream_t *s = proc_stdin_stream(p);
    if (p->closing || p->stdin_eof || (!s && !p->spawning)) return UV_EPIPE;
    p->stdin_eof = 1;
    if (!s || p->stdin_waits_start) /* not started yet, or earlier input still waits */
        p->pending_close_stdin = 1;
    else
        proc_close_stdin_on(p, s);
    return 0;
}

/* ---- control ---- */
int sim_proc_resize(sim_proc_t *p, unsigned width, unsigned height)
{
    if (p->model) return proc_model_resize(p, width, height);
    if (!p->tty) return UV_EINVAL;
    uv_os_fd_t fd;
    if (p->spawning && !p->io[IO_IN].open) { /* still queued: the pty gets it at its start */
        p->width = width;
        p->height = height;
        return 0;
    }
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
    if (p->model) {
        proc_model_resume(p);
        return;
    }
    if (!p->paused || p->closing) return;
    p->paused = 0;
    proc_start_reading(p);
}

void sim_proc_hangup(sim_proc_t *p)
{
    if (p->model) {
        proc_model_hangup(p);
        return;
    }
    if (p->closing) return;
    if (p->spawning) {
        p->stdin_eof = 1;
        p->pending_hangup = 1; /* a pty master stays until the child has its terminal */
        return;
    }
    p->pending_hangup = 0;
    p->stdin_eof = 1;
    proc_pty_close(p); /* pty: closing the master hangs the terminal up */
    for (int i = 0; i < 3; i++)
        proc_io_close(&p->io[i]);
    if (p->exited || p->start_failed)
        uv_timer_start(&p->defer, proc_defer_cb, 0, 0); /* on_exit may be due: not from in here */
}

int proc_kill_group(sim_proc_t *p, int sig)
{
    /* The group exists from before the exec (POSIX_SPAWN_SETSID). */
    return kill(-p->pid, sig) == 0 ? 0 : uv_translate_sys_error(errno);
}

int sim_proc_kill(sim_proc_t *p, int sig)
{
    if (p->model) return proc_model_kill(p, sig);
    if (p->spawning && !p->closing) {
        p->pending_sig = sig; /* delivered as soon as the child exists */
        return 0;
    }
    if (!p->spawned || p->closing) return UV_ESRCH;
    return proc_kill_group(p, sig);
}

void sim_proc_close(sim_proc_t *p)
{
    if (p->closing) return;
    p->closing = 1;
    if (p->job) proc_unqueue(p);
    /* Always the whole group: background children of an exited shell must not survive us.
     * The child's reference is dropped when it is reaped (proc_exited). */
    if (p->spawned) proc_kill_group(p, SIGKILL);
    proc_pty_close(p);
    for (int i = 0; i < 3; i++)
        proc_io_close(&p->io[i]);
    uv_close((uv_handle_t *)&p->defer, handle_closed);
}

/* ---- registry ---- */
int sim_proc_registry_init(sim_proc_registry_t *r, uv_loop_t *loop)
{
    r->head = NULL;
    r->kids = NULL;
    r->nkids = r->kids_cap = 0;
    r->spawn_head = r->spawn_tail = NULL;
    r->spawn_inflight = 0;
    r->model = 0;
    r->model_start_ms = 0;
    int e = uv_signal_init(loop, &r->sigchld);
    if (e < 0) return e;
    r->sigchld.data = r;
    e = uv_signal_start(&r->sigchld, sigchld_cb, SIGCHLD);
    if (e < 0) {
        uv_close((uv_handle_t *)&r->sigchld, NULL);
        return e;
    }
    uv_unref((uv_handle_t *)&r->sigchld); /* no child to wait for yet */
    return 0;
}

void sim_proc_registry_close(sim_proc_registry_t *r)
{
    if (!uv_is_closing((uv_handle_t *)&r->sigchld)) uv_close((uv_handle_t *)&r->sigchld, NULL);
    free(r->kids);
    r->kids = NULL;
    r->nkids = r->kids_cap = 0;
}

void sim_proc_registry_kill_all(sim_proc_registry_t *r, int sig)
{
    for (sim_proc_t *p = r->head; p; p = p->next)
        if (p->spawned) proc_kill_group(p, sig);
}

void sim_proc_registry_close_all(sim_proc_registry_t *r)
{
    /* sim_proc_close never frees synchronously, so the list stays valid while we walk it. */
    for (sim_proc_t *p = r->head; p; p = p->next)
        sim_proc_close(p);
}