/* proc: real local processes for podmux-sim (exec'd commands, pods' main processes).
 *
 * One sim_proc_t is one process started on a libuv loop, either with pipes (stdin/stdout/stderr
 * kept apart) or on a fresh pty (one output stream, the pty is the controlling terminal of a new
 * session, so Ctrl-C, SIGWINCH and SIGHUP behave as in a container). Everything is non-blocking
 * and single-threaded; all callbacks run on the loop, never from inside the call that caused them.
 *
 * Ownership: sim_proc_spawn() allocates; sim_proc_close() releases asynchronously and on_close is
 * the last callback, after which the pointer is invalid. Closing from inside any callback is safe.
 *
 * Spawning is glibc's posix_spawn (clone(CLONE_VM|CLONE_VFORK)), whose cost does not grow with
 * the sim's size, unlike libuv's fork-based uv_spawn. It runs on libuv's thread pool, a few at a
 * time, so a burst of spawns never stalls the loop: sim_proc_pid() is 0 until the child exists;
 * writes, stdin close, resize, kill and hangup made before then take effect when it does. Children
 * are reaped by their registry on SIGCHLD (waitpid per pid: children that others in the process
 * spawned are left to them).
 *
 * Process groups: every process leads its own session and process group from before its exec,
 * so sim_proc_kill() and sim_proc_close() reach its children too. sim_proc_close() always
 * SIGKILLs the group: the sim never leaves children behind. (Jobs that a job-control shell moved
 * to other process groups of the pty session are not reached by the group kill; they get SIGHUP
 * from the pty hangup only if they are in the foreground.)
 *
 * The pty output is read with uv_poll + read() until EIO because libuv streams take POLLHUP for
 * EOF too early.
 *
 * The caller must ignore SIGPIPE in its process (the sim does in main): writing to the stdin
 * pipe of a process that has exited would otherwise kill the sim. Children get an empty signal
 * mask and default signal dispositions regardless. */
#ifndef PMX_SIM_PROC_H
#define PMX_SIM_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

typedef struct sim_proc sim_proc_t;

#define SIM_PROC_READ_CHUNK (32 * 1024) /* the kubelet's io.Copy buffer: one chunk, one frame */
#define SIM_PROC_SPAWN_PARALLEL 8       /* spawns on libuv's thread pool at once */

/* Required per-loop registry, owned by the caller (no global state): the list of live processes
 * (shutdown reaches every child), the SIGCHLD handler that reaps them, and the output buffer
 * they share (reads never nest, so one is enough: 32 KiB per loop instead of per process).
 * sim_proc_registry_init() before the first spawn; it must outlive its processes (each leaves
 * the list just before its on_close). Its SIGCHLD handle keeps the loop alive only while it has
 * children to reap. Fields are private. */
typedef struct sim_proc_registry {
    sim_proc_t *head;          /* every process not yet released */
    uv_signal_t sigchld;       /* SIGCHLD: reap the children below */
    struct sim_proc_kid *kids; /* spawned and not reaped yet; freed whenever empty */
    size_t nkids, kids_cap;
    struct spawn_job *spawn_head, *spawn_tail; /* spawns waiting for a slot */
    unsigned spawn_inflight;                   /* on the thread pool now */
    /* The remote-cluster model (podmux-sim --exec-model remote; proc_model.c): when set, the
     * commands the benchmarks use run inside the sim with no process, each starting
     * model_start_ms after its spawn (a kubelet/runc exec start). Set after init. */
    int model;
    uint64_t model_start_ms;
    char rbuf[SIM_PROC_READ_CHUNK];
} sim_proc_registry_t;

typedef struct sim_proc_opts {
    /* argv[0] is looked up in the PATH of env (like runc): a name with a '/' is used as is.
     * Not found -> on_exit with start_error, never an exit code. */
    const char *const *argv;
    /* NULL-terminated "K=V" list, the whole environment. PATH is added (the OCI default
     * /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin) when missing, as container
     * runtimes do; with tty, TERM=xterm replaces any TERM, as containerd does for exec. */
    const char *const *env;
    const char *cwd;               /* NULL: the sim's own */
    int tty;                       /* 1: a real pty (controlling terminal, own session); 0: pipes */
    unsigned width, height;        /* initial pty size (0 -> 80x24) */
    int want_stdin;                /* 0: stdin is /dev/null (pipes) / writes are refused (tty) */
    size_t stdin_high_water;       /* 0 -> 1 MiB */
    sim_proc_registry_t *registry; /* required, initialised on the same loop */
} sim_proc_opts_t;

typedef void (*sim_proc_output_cb)(sim_proc_t *p, int fd, const char *data, size_t len);
typedef void (*sim_proc_exit_cb)(sim_proc_t *p, int exit_code, const char *start_error);
typedef void (*sim_proc_event_cb)(sim_proc_t *p);

typedef struct sim_proc_cb {
    /* fd is 1 or 2 (a pty has only 1). data is lent for the call; chunks are at most 32 KiB,
     * like the kubelet's io.Copy buffers. */
    sim_proc_output_cb on_output;
    /* Called once, after the process exited AND all its output was delivered (EOF on every
     * output pipe / EIO on the pty master, or the outputs were hung up). exit_code: 0..255, or
     * 128+N when killed by signal N (what the kubelet/runtime reports). start_error: non-NULL
     * when the process could not be started, exit_code then -1. It is runc's reason, the part
     * after `exec: "<argv0>": ` in containerd's `OCI runtime exec failed: exec failed: unable
     * to start container process: exec: "nope": executable file not found in $PATH: unknown`:
     * "executable file not found in $PATH", "permission denied", "stat ./x: no such file or
     * directory"; or a whole sentence for other failures ("chdir to cwd ("/x") set in
     * config.json failed: no such file or directory", "open pty: ..."). */
    sim_proc_exit_cb on_exit;
    /* A write returned a size > high water; the queue has now fallen to high water / 4. */
    sim_proc_event_cb on_stdin_drain;
    /* After sim_proc_close(): all handles are closed; the last callback, p is then freed. */
    sim_proc_event_cb on_close;
} sim_proc_cb_t;

/* 0 or a negative uv error (SIGCHLD handler). */
int sim_proc_registry_init(sim_proc_registry_t *r, uv_loop_t *loop);
/* Closes the SIGCHLD handle (the loop must run once more before r's memory goes), after every
 * process's on_close. Not needed when the loop's handles are closed by uv_walk instead: the
 * registry holds no memory while it has no children. */
void sim_proc_registry_close(sim_proc_registry_t *r);
/* Sends sig to the process group of every process still registered (shutdown: SIGKILL). */
void sim_proc_registry_kill_all(sim_proc_registry_t *r, int sig);
/* sim_proc_close() on every registered process; each one's on_close follows on the loop. */
void sim_proc_registry_close_all(sim_proc_registry_t *r);

/* 0 and *out set, also when the process could not be started (then on_exit(-1, start_error)
 * follows on a later loop turn). Negative uv error only for bad arguments (UV_EINVAL: no
 * registry, or one of another loop) or no memory, with nothing allocated and no callback to
 * come. */
int sim_proc_spawn(uv_loop_t *loop, const sim_proc_opts_t *opts, const sim_proc_cb_t *cb,
                   void *data, sim_proc_t **out);
void *sim_proc_data(sim_proc_t *p);
pid_t sim_proc_pid(const sim_proc_t *p); /* 0 when it never started */

/* Writes data to the process's stdin: at once when nothing is queued, what the kernel does not
 * take is copied and queued. Returns the bytes still queued (0 when all was written); above
 * high water the caller should stop and wait for on_stdin_drain. Refused with UV_ENOBUFS while
 * the queue is already above high water (so a caller that obeys loses nothing), UV_EPIPE after
 * close_stdin/hangup or without want_stdin, the write error (UV_EPIPE) once the process closed
 * its stdin. */
long sim_proc_write(sim_proc_t *p, const void *data, size_t len);
/* EOF after what is queued. Pipes: shutdown of the write end. Pty: the VEOF character (^D),
 * twice when a partial line is pending in canonical mode, as a user at a real tty would. */
int sim_proc_close_stdin(sim_proc_t *p);
/* TIOCSWINSZ on the pty: the foreground process group gets SIGWINCH. UV_EINVAL without tty. */
int sim_proc_resize(sim_proc_t *p, unsigned width, unsigned height);
/* Backpressure: stop/restart reading the process's output; a paused process blocks in write
 * once the kernel buffers (pipe 64 KiB-ish / pty 4 KiB-ish) are full. Nothing is buffered here. */
void sim_proc_pause_output(sim_proc_t *p);
void sim_proc_resume_output(sim_proc_t *p);
/* The client went away: what a process in a real container meets. tty: the pty master is
 * closed, so the session leader gets SIGHUP (the pty is its controlling terminal from before its
 * exec, so even a hangup right after the spawn reaches it). pipes: our
 * stdin write end and output read ends are closed, so its next read sees EOF and its next write
 * EPIPE/SIGPIPE. Not killed otherwise; on_exit still follows when it exits. */
void sim_proc_hangup(sim_proc_t *p);
/* sig to the process group. */
int sim_proc_kill(sim_proc_t *p, int sig);
/* Releases: SIGKILLs the process group, closes handles, waits for the exit (no zombie), then
 * on_close. No on_exit/on_output after this call. */
void sim_proc_close(sim_proc_t *p);

#endif
