/* proc: real processes for podmux-sim (see proc.h).
 *
 * Spawning: glibc's posix_spawn, not libuv's uv_spawn, which forks: fork copies the page tables
 * of the whole sim (~25 ms per spawn on the loop thread at a thousand sessions with the
 * sanitizers); posix_spawn does not depend on the sim's size. The child leads a new session
 * (POSIX_SPAWN_SETSID: group kill) with an empty signal mask and default dispositions.
 * pty: after setsid the child opens the slave by name without O_NOCTTY, which makes the pty its
 * controlling terminal and its group the foreground one (as TIOCSCTTY would) before the exec:
 * no `setsid -c` trampoline, no window in which a hangup misses it.
 * The spawn itself runs on libuv's thread pool: with CLONE_VFORK the caller waits until the child
 * has exec'd, which on a loaded machine is a wait for the scheduler, and thousands of them in a
 * row would stall every other session of the loop. Everything else (pipes, the pty, lookups,
 * reading, the registry) stays on the loop thread; the job owns copies of what the child needs.
 * A tty child's slave is held open by us until the spawn is done, so the master neither reports
 * a hangup nor loses input written before the child opened it.
 * Reaping: the registry's SIGCHLD handler, waitpid by pid: other spawners' children are theirs.
 * Exec errors are found before the spawn by looking the command up as runc does. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "proc.h"

#define DEFAULT_PATH_VALUE "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define DEFAULT_HIGH_WATER (1024 * 1024)
#define READ_CHUNK SIM_PROC_READ_CHUNK

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
    uv_timer_t defer; /* reports that must not run inside the caller's call */
    uv_shutdown_t shut;
    proc_io_t io[3];
    pty_reader_t pty;
    pid_t pid;
    int exit_code;
    int pending_sig; /* asked for while the spawn was under way */
    unsigned pending_hangup : 1, pending_close_stdin : 1, stdin_waits_start : 1; /* likewise */
    unsigned width, height; /* pty size for a spawn still queued */
    struct spawn_job *job;  /* while queued */
    int handles; /* handles whose close callback has not run yet, +1 for an unreaped child */
    int stdin_err;
    size_t queued, high_water;
    unsigned char last_byte; /* last byte queued to a pty, for close_stdin */
    unsigned tty : 1, want_stdin : 1, spawned : 1, start_failed : 1, exited : 1, reported : 1,
        closing : 1, paused : 1, full : 1, stdin_eof : 1, wrote : 1, spawning : 1;
    char start_error[512];
};

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

static void proc_unref(sim_proc_t *p)
{
    if (--p->handles > 0 || !p->closing) return;
    registry_unlink(p);
    if (p->cb.on_close) p->cb.on_close(p);
    free(p);
}

static void handle_closed(uv_handle_t *h)
{
    proc_unref(h->data);
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

static void proc_exited(sim_proc_t *p, int status)
{
    p->exited = 1;
    p->exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    if (p->tty && p->pty.eof) pty_close(p);
    maybe_report(p);
    proc_unref(p); /* reaped: nothing left to wait for */
}

/* ---- reaping ---- */
static int kid_reserve(sim_proc_registry_t *r)
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
static void kids_trim(sim_proc_registry_t *r)
{
    if (r->nkids) return;
    free(r->kids);
    r->kids = NULL;
    r->kids_cap = 0;
    uv_unref((uv_handle_t *)&r->sigchld);
}

static void kid_add(sim_proc_registry_t *r, sim_proc_t *p) /* room was reserved */
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
static int kid_reap(sim_proc_registry_t *r, size_t i)
{
    int st = 0;
    pid_t w = waitpid(r->kids[i].pid, &st, WNOHANG);
    if (w == 0 || (w < 0 && errno != ECHILD)) return 0; /* still running */
    if (w < 0) st = 255 << 8; /* reaped by someone else: status lost, but it must not hang */
    sim_proc_t *p = r->kids[i].p;
    r->kids[i] = r->kids[--r->nkids];
    kids_trim(r);
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
        if (i == r->nkids || !kid_reap(r, i)) break;
    }
    for (size_t i = r->nkids; i-- > 0;) /* downwards: a removal moves a visited entry to i */
        if (i < r->nkids) kid_reap(r, i);
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
    io_close(io);
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

/* Go's exec.LookPath as runc uses it: the reason goes after `exec: "<argv0>": `. Returns what to
 * exec (relative names as the child, already in cwd, resolves them) or NULL. */
static const char *lookup(sim_proc_t *p, const char *name, const char *path, const char *cwd,
                          char *exe, size_t exe_len)
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
            return NULL;
        }
        if (is_executable(full)) return name;
        snprintf(p->start_error, sizeof p->start_error, "permission denied");
        p->start_failed = 1;
        return NULL;
    }
    while (name[0]) {
        size_t n = strcspn(path, ":");
        if (join(full, sizeof full, cwd, path, n, name) && is_executable(full) &&
            join(exe, exe_len, NULL, path, n, name))
            return exe;
        if (!path[n]) break;
        path += n + 1;
    }
    snprintf(p->start_error, sizeof p->start_error, "executable file not found in $PATH");
    p->start_failed = 1;
    return NULL;
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

/* The master only: the child opens the slave by name (see add_stdio). */
static int open_pty(unsigned w, unsigned h, int *master, char *name, size_t name_len)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) return -errno;
    if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, name_len) != 0) goto fail;
    struct winsize ws = {.ws_row = (unsigned short)(h ? h : 24),
                         .ws_col = (unsigned short)(w ? w : 80)};
    if (ioctl(m, TIOCSWINSZ, &ws) < 0) goto fail;
    *master = m;
    return 0;
fail:;
    int e = errno;
    close(m);
    return -e;
}

/* err: errno (libuv 1.44 has no text for some, ENOEXEC among them). */
static void spawn_failed(sim_proc_t *p, const char *what, int err)
{
    set_reason(p, "%s%s", what, err);
    pty_close(p);
    for (int i = 0; i < 3; i++)
        io_close(&p->io[i]);
}

/* What the child gets as 0-2: the pty slave, or fds[] (stdin -1: /dev/null, as libuv did). */
static int add_stdio(posix_spawn_file_actions_t *fa, const int *fds, const char *tty)
{
    int e;
    if (tty) {
        /* In the new session, without O_NOCTTY: the pty becomes the controlling terminal and
         * the child's group the foreground group (the kernel's __proc_set_tty). */
        e = posix_spawn_file_actions_addopen(fa, 0, tty, O_RDWR, 0);
        if (!e) e = posix_spawn_file_actions_adddup2(fa, 0, 1);
        if (!e) e = posix_spawn_file_actions_adddup2(fa, 0, 2);
        return e;
    }
    if (fds[0] >= 0)
        e = posix_spawn_file_actions_adddup2(fa, fds[0], 0);
    else
        e = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDWR, 0);
    if (!e) e = posix_spawn_file_actions_adddup2(fa, fds[1], 1);
    if (!e) e = posix_spawn_file_actions_adddup2(fa, fds[2], 2);
    return e;
}

static int spawn_attrs(posix_spawnattr_t *at)
{
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all); /* glibc leaves out its internal signals */
    int e = posix_spawnattr_setflags(at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                             POSIX_SPAWN_SETSIGDEF);
    if (!e) e = posix_spawnattr_setsigmask(at, &none);
    if (!e) e = posix_spawnattr_setsigdefault(at, &all);
    return e;
}

static int kill_group(sim_proc_t *p, int sig);
static void close_stdin_on(sim_proc_t *p, uv_stream_t *s);
static uv_stream_t *stdin_stream(sim_proc_t *p);

/* What the thread-pool spawn needs, copied: the caller's argv and env may be gone by then. */
typedef struct spawn_job {
    uv_work_t req;
    struct spawn_job *next; /* registry queue */
    sim_proc_t *p;
    char *exe, *cwd, **argv, **env;
    int fds[3];   /* the child's 0-2 (pipes; -1 stdin: /dev/null), closed by us afterwards */
    int slave;    /* tty: our hold on the slave until the child has it */
    char tty[64]; /* tty: the slave's name, opened by the child */
    pid_t pid;
    int err;        /* errno of the spawn */
    char strings[]; /* exe, cwd, argv and env strings */
} spawn_job_t;

static size_t strv_bytes(char *const *v, size_t *n)
{
    size_t b = 0;
    for (*n = 0; v && v[*n]; (*n)++)
        b += strlen(v[*n]) + 1;
    return b;
}

static char *put_str(char **at, const char *src)
{
    size_t n = strlen(src) + 1;
    char *s = memcpy(*at, src, n);
    *at += n;
    return s;
}

static spawn_job_t *job_new(const sim_proc_opts_t *o, const char *exe, char **env)
{
    size_t na, ne;
    size_t bytes = strv_bytes((char *const *)o->argv, &na) + strv_bytes(env, &ne) + strlen(exe) +
                   1 + (o->cwd ? strlen(o->cwd) + 1 : 0);
    spawn_job_t *j = calloc(1, sizeof *j + bytes);
    char **vec = calloc(na + ne + 2, sizeof *vec);
    if (!j || !vec) {
        free(j);
        free(vec);
        return NULL;
    }
    char *at = j->strings;
    j->exe = put_str(&at, exe);
    j->cwd = o->cwd ? put_str(&at, o->cwd) : NULL;
    j->argv = vec;
    j->env = vec + na + 1;
    for (size_t i = 0; i < na; i++)
        j->argv[i] = put_str(&at, o->argv[i]);
    for (size_t i = 0; i < ne; i++)
        j->env[i] = put_str(&at, env[i]);
    j->fds[0] = j->fds[1] = j->fds[2] = j->slave = -1;
    j->req.data = j;
    return j;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

static void job_free(spawn_job_t *j)
{
    for (int i = 0; i < 3; i++)
        close_fd(&j->fds[i]);
    close_fd(&j->slave);
    free(j->argv);
    free(j);
}

/* A close-on-exec pipe with both ends above 2, should the sim's own stdio be closed: libuv
 * aborts on closing an fd below 3 (uv__close), and no dup2 onto 0-2 can then hit a pipe end. */
static int open_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) < 0) return -errno;
    for (int i = 0; i < 2; i++) {
        if (fds[i] > 2) continue;
        int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
        int e = errno;
        close(fds[i]);
        fds[i] = fd;
        if (fd < 0) {
            close_fd(&fds[1 - i]);
            return -e;
        }
    }
    return 0;
}

/* Our end of a pipe as a libuv stream (non-blocking from here). */
static void adopt(sim_proc_t *p, int idx, int fd)
{
    io_init(p, idx);
    if (uv_pipe_open(&p->io[idx].h, fd) == 0) return;
    close(fd); /* unreachable for a fresh fd; the output then just ends */
    p->io[idx].eof = 1;
    io_close(&p->io[idx]);
}

/* Pipes: ours become libuv streams, the child's ends go to the job. 0 or -errno. */
static int prepare_pipes(sim_proc_t *p, spawn_job_t *j)
{
    int fds[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}}; /* [i][0] read end, [i][1] write end */
    int r = 0;
    for (int i = p->want_stdin ? IO_IN : IO_OUT; i <= IO_ERR && r == 0; i++)
        r = open_pipe(fds[i]);
    int ours[3] = {fds[IO_IN][1], fds[IO_OUT][0], fds[IO_ERR][0]};
    int child[3] = {fds[IO_IN][0], fds[IO_OUT][1], fds[IO_ERR][1]};
    for (int i = IO_IN; i <= IO_ERR; i++) {
        if (r < 0) {
            close_fd(&ours[i]);
            close_fd(&child[i]);
            continue;
        }
        j->fds[i] = child[i];
        if (ours[i] >= 0) adopt(p, i, ours[i]);
    }
    return r;
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

/* A pty: the master is ours, the slave's name goes to the job, and we hold the slave open until
 * the child has it (no hangup seen on the master, no input lost). 0 or -errno. */
static int prepare_pty(sim_proc_t *p, spawn_job_t *j)
{
    int master = -1;
    int r = open_pty(p->width, p->height, &master, j->tty, sizeof j->tty);
    if (r < 0) return r;
    j->slave = open(j->tty, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (j->slave < 0) {
        r = -errno;
        close(master);
        return r;
    }
    return pty_attach(p, master) < 0 ? -EBADF : 0; /* unreachable for fresh fds */
}

/* Thread pool: nothing here touches the loop or the proc. */
static void spawn_work(uv_work_t *req)
{
    spawn_job_t *j = req->data;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int e = posix_spawn_file_actions_init(&fa);
    if (e) {
        j->err = e;
        return;
    }
    if (!(e = posix_spawnattr_init(&at))) {
        e = spawn_attrs(&at);
        if (!e) e = add_stdio(&fa, j->fds, j->tty[0] ? j->tty : NULL);
        if (!e && j->cwd) e = posix_spawn_file_actions_addchdir_np(&fa, j->cwd);
        if (!e) e = posix_spawn(&j->pid, j->exe, &fa, &at, j->argv, j->env);
        posix_spawnattr_destroy(&at);
    }
    posix_spawn_file_actions_destroy(&fa);
    j->err = e;
}

static void spawn_started(sim_proc_t *p, pid_t pid)
{
    p->pid = pid;
    p->spawned = 1;
    p->handles++; /* the child, until it is reaped */
    kid_add(p->reg, p);
    if (p->closing || p->pending_sig) /* closed or signalled while it was being started */
        kill_group(p, p->closing ? SIGKILL : p->pending_sig);
    kid_reap(p->reg, p->reg->nkids - 1); /* its SIGCHLD may have come before it was ours */
    if (p->closing) return;
    start_reading(p);
    if (p->stdin_waits_start) {
        p->stdin_waits_start = 0; /* stdin refused while queued: it can go now */
        if (p->cb.on_stdin_drain) p->cb.on_stdin_drain(p);
    }
    if (p->pending_close_stdin && !p->closing) {
        p->pending_close_stdin = 0;
        uv_stream_t *s = stdin_stream(p);
        if (s) close_stdin_on(p, s);
    }
    if (p->pending_hangup) sim_proc_hangup(p);
}

static void spawn_error(sim_proc_t *p, int err)
{
    spawn_failed(p, "", err);
    kids_trim(p->reg);
    if (!p->closing) uv_timer_start(&p->defer, defer_cb, 0, 0);
}

static void dispatch(sim_proc_registry_t *r);

/* The child runs (registered for reaping) or its start failed: either is reported as before. */
static void spawn_done(uv_work_t *req, int status)
{
    spawn_job_t *j = req->data;
    sim_proc_t *p = j->p;
    sim_proc_registry_t *r = p->reg;
    int err = status < 0 ? ECANCELED : j->err;
    pid_t pid = j->pid;
    job_free(j); /* the child has its own copies of the fds now */
    r->spawn_inflight--;
    p->spawning = 0;
    if (!err && kid_reserve(r) < 0) {
        kill(-pid, SIGKILL); /* cannot track it: end it rather than leak it */
        err = ENOMEM;
    }
    if (err)
        spawn_error(p, err);
    else
        spawn_started(p, pid);
    proc_unref(p); /* the job's reference */
    dispatch(r);
}

/* A few spawns at a time: each in flight holds the child's fds, and a wave of thousands of
 * sessions must not run the sim out of descriptors. */
static void dispatch(sim_proc_registry_t *r)
{
    while (r->spawn_inflight < SIM_PROC_SPAWN_PARALLEL && r->spawn_head) {
        spawn_job_t *j = r->spawn_head;
        r->spawn_head = j->next;
        if (!r->spawn_head) r->spawn_tail = NULL;
        sim_proc_t *p = j->p;
        p->job = NULL;
        int e = p->tty ? prepare_pty(p, j) : prepare_pipes(p, j);
        if (e == 0 && uv_queue_work(p->loop, &j->req, spawn_work, spawn_done) == 0) {
            r->spawn_inflight++;
            continue;
        }
        job_free(j);
        p->spawning = 0;
        spawn_error(p, e < 0 ? -e : ENOMEM);
        proc_unref(p);
    }
}

/* Queues the spawn; the job holds a reference on p until it is done. */
static int spawn_child(sim_proc_t *p, const sim_proc_opts_t *o, const char *exe, char **env)
{
    spawn_job_t *j = job_new(o, exe, env);
    if (!j) return -ENOMEM;
    j->p = p;
    p->job = j;
    p->spawning = 1;
    p->handles++;
    sim_proc_registry_t *r = p->reg;
    if (r->spawn_tail)
        r->spawn_tail->next = j;
    else
        r->spawn_head = j;
    r->spawn_tail = j;
    dispatch(r);
    return 0;
}

/* sim_proc_close() of a process whose spawn has not left the queue: it never starts. */
static void unqueue(sim_proc_t *p)
{
    sim_proc_registry_t *r = p->reg;
    spawn_job_t *prev = NULL, *j = r->spawn_head;
    while (j && j != p->job) {
        prev = j;
        j = j->next;
    }
    if (!j) return;
    if (prev)
        prev->next = j->next;
    else
        r->spawn_head = j->next;
    if (r->spawn_tail == j) r->spawn_tail = prev;
    p->job = NULL;
    p->spawning = 0;
    job_free(j);
    proc_unref(p);
}

static void launch(sim_proc_t *p, const sim_proc_opts_t *o, char **env)
{
    char buf[PATH_MAX];
    const char *path = build_env(o, env);
    if (o->cwd) {
        struct stat st;
        int err = stat(o->cwd, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
        if (err) {
            set_reason(p, "chdir to cwd (\"%s\") set in config.json failed: %s", o->cwd, err);
            return;
        }
    }
    const char *exe = lookup(p, o->argv[0], path, o->cwd, buf, sizeof buf);
    if (!exe) return;
    p->width = o->width;
    p->height = o->height;
    int r = spawn_child(p, o, exe, env);
    if (r < 0) spawn_failed(p, "", -r);
    /* Reading starts in spawn_started: output is never seen before the spawn is settled. */
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
    if (!loop || !o || !cb || !out || !o->argv || !o->argv[0] || !o->registry ||
        o->registry->sigchld.loop != loop)
        return UV_EINVAL;
    sim_proc_registry_t *reg = o->registry;
    sim_proc_t *p = calloc(1, sizeof *p); /* room among the kids is taken once it runs */
    char **env = calloc(count(o->env) + 3, sizeof *env);
    if (!p || !env) {
        free(p);
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
    p->reg = reg;
    p->next = reg->head;
    if (p->next) p->next->prev = p;
    reg->head = p;
    uv_timer_init(loop, &p->defer);
    p->defer.data = p;
    p->handles = 1;
    launch(p, o, env);
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
    uv_stream_t *s = stdin_stream(p);
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

static void close_stdin_on(sim_proc_t *p, uv_stream_t *s)
{
    if (p->tty) {
        pty_send_veof(p, s);
        return;
    }
    p->shut.data = p;
    if (uv_shutdown(&p->shut, s, shutdown_cb) < 0) io_close(&p->io[IO_IN]);
}

int sim_proc_close_stdin(sim_proc_t *p)
{
    uv_stream_t *s = stdin_stream(p);
    if (p->closing || p->stdin_eof || (!s && !p->spawning)) return UV_EPIPE;
    p->stdin_eof = 1;
    if (!s || p->stdin_waits_start) /* not started yet, or earlier input still waits */
        p->pending_close_stdin = 1;
    else
        close_stdin_on(p, s);
    return 0;
}

/* ---- control ---- */
int sim_proc_resize(sim_proc_t *p, unsigned width, unsigned height)
{
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
    if (!p->paused || p->closing) return;
    p->paused = 0;
    start_reading(p);
}

void sim_proc_hangup(sim_proc_t *p)
{
    if (p->closing) return;
    if (p->spawning) {
        p->stdin_eof = 1;
        p->pending_hangup = 1; /* a pty master stays until the child has its terminal */
        return;
    }
    p->pending_hangup = 0;
    p->stdin_eof = 1;
    pty_close(p); /* pty: closing the master hangs the terminal up */
    for (int i = 0; i < 3; i++)
        io_close(&p->io[i]);
    if (p->exited || p->start_failed)
        uv_timer_start(&p->defer, defer_cb, 0, 0); /* on_exit may be due: not from in here */
}

static int kill_group(sim_proc_t *p, int sig)
{
    /* The group exists from before the exec (POSIX_SPAWN_SETSID). */
    return kill(-p->pid, sig) == 0 ? 0 : uv_translate_sys_error(errno);
}

int sim_proc_kill(sim_proc_t *p, int sig)
{
    if (p->spawning && !p->closing) {
        p->pending_sig = sig; /* delivered as soon as the child exists */
        return 0;
    }
    if (!p->spawned || p->closing) return UV_ESRCH;
    return kill_group(p, sig);
}

void sim_proc_close(sim_proc_t *p)
{
    if (p->closing) return;
    p->closing = 1;
    if (p->job) unqueue(p);
    /* Always the whole group: background children of an exited shell must not survive us.
     * The child's reference is dropped when it is reaped (proc_exited). */
    if (p->spawned) kill_group(p, SIGKILL);
    pty_close(p);
    for (int i = 0; i < 3; i++)
        io_close(&p->io[i]);
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
        if (p->spawned) kill_group(p, sig);
}

void sim_proc_registry_close_all(sim_proc_registry_t *r)
{
    /* sim_proc_close never frees synchronously, so the list stays valid while we walk it. */
    for (sim_proc_t *p = r->head; p; p = p->next)
        sim_proc_close(p);
}
