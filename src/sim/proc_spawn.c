/* proc_spawn: starting podmux-sim's real processes (see proc.h): the command's lookup, its
 * environment, the pty or pipes, and the spawn itself on libuv's thread pool, a few at a time.
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
#include <unistd.h>

#include "proc_internal.h"

#define DEFAULT_PATH_VALUE "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define DEFAULT_HIGH_WATER (1024 * 1024)

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
    proc_pty_close(p);
    for (int i = 0; i < 3; i++)
        proc_io_close(&p->io[i]);
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
    proc_io_init(p, idx);
    if (uv_pipe_open(&p->io[idx].h, fd) == 0) return;
    close(fd); /* unreachable for a fresh fd; the output then just ends */
    p->io[idx].eof = 1;
    proc_io_close(&p->io[idx]);
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
    proc_io_init(p, IO_IN);
    if (uv_pipe_open(&p->io[IO_IN].h, master) < 0) {
        close(master);
        proc_io_close(&p->io[IO_IN]);
        return -1;
    }
    int rfd = fcntl(master, F_DUPFD_CLOEXEC, 3);
    if (rfd < 0 || uv_poll_init(p->loop, &p->pty.h, rfd) < 0) {
        if (rfd >= 0) close(rfd);
        proc_io_close(&p->io[IO_IN]);
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
    proc_kid_add(p->reg, p);
    if (p->closing || p->pending_sig) /* closed or signalled while it was being started */
        proc_kill_group(p, p->closing ? SIGKILL : p->pending_sig);
    proc_kid_reap(p->reg, p->reg->nkids - 1); /* its SIGCHLD may have come before it was ours */
    if (p->closing) return;
    proc_start_reading(p);
    if (p->stdin_waits_start) {
        p->stdin_waits_start = 0; /* stdin refused while queued: it can go now */
        if (p->cb.on_stdin_drain) p->cb.on_stdin_drain(p);
    }
    if (p->pending_close_stdin && !p->closing) {
        p->pending_close_stdin = 0;
        uv_stream_t *s = proc_stdin_stream(p);
        if (s) proc_close_stdin_on(p, s);
    }
    if (p->pending_hangup) sim_proc_hangup(p);
}

static void spawn_error(sim_proc_t *p, int err)
{
    spawn_failed(p, "", err);
    proc_kids_trim(p->reg);
    if (!p->closing) uv_timer_start(&p->defer, proc_defer_cb, 0, 0);
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
    if (!err && proc_kid_reserve(r) < 0) {
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
void proc_unqueue(sim_proc_t *p)
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
    int modelled = reg->model ? proc_model_start(p, o) : 0; /* 1: served with no process */
    if (modelled < 0)
        spawn_failed(p, "", ENOMEM);
    else if (!modelled)
        launch(p, o, env);
    free(env);
    if (p->start_failed) uv_timer_start(&p->defer, proc_defer_cb, 0, 0);
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