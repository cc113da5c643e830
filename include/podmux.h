/* podmux.h - Kubernetes pod exec/attach sessions on the caller's libuv loop.
 *
 * Conventions (libuv / curl multi):
 *  - The caller owns the uv_loop_t; podmux never runs it.
 *  - Every call returns 0 (or a size) or a negative PMX_E* code; pmx_strerror() names it.
 *  - Callbacks get the void *data given at creation. Bytes handed to a callback live only for
 *    that call. Strings passed in are copied.
 *  - Callbacks never run from inside the call that caused them (always a later loop turn).
 *  - Closing is asynchronous: pmx_session_close() then exactly one on_close, after which the
 *    handle is gone. on_exit is delivered exactly once, before on_close. Closing a session from
 *    inside any of its callbacks is safe.
 *  - No global mutable state and no threads: two clients on one loop, or two loops in two
 *    threads, do not interfere.
 *  - As with libuv itself, the program must ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)): a peer
 *    that vanishes would otherwise kill it on the next write. podmux never changes signal
 *    dispositions itself.
 *  - Handles are closed asynchronously: after pmx_client_free(), run the loop once more before
 *    uv_loop_close().
 *  - Open files: every live session holds one socket (a REST request too while it runs), and a
 *    credential plugin one pipe while it runs. podmux never changes process limits, so an
 *    embedder that runs hundreds of sessions at once must raise the soft RLIMIT_NOFILE itself,
 *    e.g. to the hard limit at start as Go programs do (podmux's CLI does). A session that finds
 *    no descriptor fails with PMX_ECONNECT and "Too many open files" in its message.
 *
 * Building: this header includes <uv.h>, which needs POSIX declarations (pthread_rwlock_t...).
 * GCC's and clang's default (-std=gnu11) has them; a strict -std=c11 build must ask for them,
 * e.g. -D_POSIX_C_SOURCE=200809L (or _DEFAULT_SOURCE / _GNU_SOURCE) before any #include.
 * `pkg-config --cflags --libs podmux` or find_package(podmux) give the rest.
 */
#ifndef PODMUX_H
#define PODMUX_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define PMX_EXTERN __attribute__((visibility("default")))
#else
#define PMX_EXTERN
#endif

#define PMX_VERSION "0.1.0"

/* ---- errors --------------------------------------------------------------------------- */
/* Every PMX_E* code is -40001 or below, a range that no other error family reaches: -errno
 * (-1..-4095), libuv's UV_* (-errno, UV_EAI_* at -3000.., UV_EOF at -4095) and mbedTLS's
 * (-0x0001..-0x7FFF). A PMX_E* value is therefore never mistaken for one of theirs. Only the
 * names are the API: compare with PMX_E*, never with a number. */
/* XX(name, value, message) */
#define PMX_ERRNO_MAP(XX)                                                                          \
    XX(EINVAL, -40001, "invalid argument")                                                         \
    XX(ENOMEM, -40002, "out of memory")                                                            \
    XX(ECONFIG, -40003, "bad configuration")                                                       \
    XX(EDNS, -40004, "name resolution failed")                                                     \
    XX(ECONNECT, -40005, "connection failed")                                                      \
    XX(ETLS, -40006, "TLS failure")                                                                \
    XX(ETIMEDOUT, -40007, "timed out")                                                             \
    XX(EUNAUTHORIZED, -40008, "unauthorized (401)")                                                \
    XX(EFORBIDDEN, -40009, "forbidden (403)")                                                      \
    XX(ENOTFOUND, -40010, "not found (404)")                                                       \
    XX(EBADREQUEST, -40011, "bad request (400)")                                                   \
    XX(ETOOMANY, -40012, "too many requests (429)")                                                \
    XX(ESERVER, -40013, "server error (5xx)")                                                      \
    XX(EHTTP, -40014, "unexpected HTTP response")                                                  \
    XX(EUPGRADE, -40015, "WebSocket upgrade failed")                                               \
    XX(EPROTO, -40016, "protocol error")                                                           \
    XX(ELOST, -40017, "connection lost")                                                           \
    XX(ENOSTATUS, -40018, "connection ended before any status")                                    \
    XX(EREMOTE, -40019, "the remote command failed to run")                                        \
    XX(ECANCELED, -40020, "canceled")                                                              \
    XX(ECREDENTIAL, -40021, "credential plugin failed")                                            \
    XX(ENOTSUP, -40022, "not supported by the negotiated protocol")                                \
    XX(EBUSY, -40023, "operation not allowed in this state")                                       \
    XX(ESKIPPED, -40024, "skipped")                                                                \
    XX(EIO, -40025, "I/O error")                                                                   \
    XX(ENOFILES, -40026, "too many open files")                                                    \
    XX(ETOOBIG, -40027, "message larger than the limit")                                           \
    XX(EAGAIN, -40028, "resource temporarily unavailable, try again")

typedef enum pmx_errno {
    PMX_OK = 0,
#define PMX_ERR_ENUM(name, val, msg) PMX_##name = (val),
    PMX_ERRNO_MAP(PMX_ERR_ENUM)
#undef PMX_ERR_ENUM
} pmx_errno_t;

PMX_EXTERN const char *pmx_strerror(int err); /* "connection lost" */
PMX_EXTERN const char *pmx_err_name(int err); /* "PMX_ELOST" */
PMX_EXTERN const char *pmx_version(void);

/* ---- client: one cluster ---------------------------------------------------------------- */
typedef struct pmx_client pmx_client_t;

/* Where the configuration comes from, as kubectl's flags. Every field may be NULL/0. */
typedef struct pmx_client_opts {
    const char *kubeconfig; /* --kubeconfig */
    const char *context;    /* --context */
    const char *cluster;    /* --cluster */
    const char *user;       /* --user */
    const char *namespace_; /* -n */
    const char *server;     /* --server */
    const char *token;      /* --token */
    const char *ca_file;    /* --certificate-authority */
    int insecure;           /* --insecure-skip-tls-verify */
    /* Per-phase timeouts in milliseconds (0 = default): connect 10 s, TLS handshake 10 s,
     * upgrade (request sent -> 101) 30 s, REST request 30 s. A request timeout given here also
     * bounds a credential plugin (kubeconfig users[].user.exec), which otherwise has 60 s. */
    uint64_t connect_timeout_ms;
    uint64_t handshake_timeout_ms;
    uint64_t upgrade_timeout_ms;
    uint64_t request_timeout_ms;
    /* WebSocket ping period in ms (0 = default 5 s, like kubectl; UINT64_MAX = off). A session
     * whose peer sends nothing, not even a pong, for 12 periods + 1 s (client-go's deadline:
     * 61 s by default) fails with PMX_ETIMEDOUT. */
    uint64_t keepalive_ms;
    /* Largest message accepted from the server (0 = default 32 MiB, the server's own limit). */
    size_t max_message;
    /* A server without v5.channel.k8s.io (Kubernetes before 1.30, or its stream translator
     * off) cannot be told that stdin ended: pmx_session_close_stdin() returns PMX_ENOTSUP and
     * the session then ends, once all stdin was sent and no output came for this many ms, with
     * PMX_ENOSTATUS (the command's exit status is unknown). 0 = default 2 s; UINT64_MAX = never
     * (the session waits for the command, which may wait for more input). */
    uint64_t eof_grace_ms;
    /* Optional log sink for -v traces (state transitions, protocol, timings; never a secret). */
    void (*log)(void *log_data, const char *line);
    void *log_data;
    /* Impersonation, as kubectl's --as, --as-uid and --as-group: each given one replaces the
     * kubeconfig user's as, as-uid or as-groups. Every request then carries Impersonate-User
     * (and -Uid, -Group, -Extra-*), request upgrades included. */
    const char *as;
    const char *as_uid;
    const char *const *as_groups;
    size_t nas_groups;
} pmx_client_opts_t;

/* Reads the configuration (blocking file reads happen here, once) and prepares TLS.
 * On failure returns <0 and, if err is non-NULL, one line saying what is wrong. */
PMX_EXTERN int pmx_client_new(uv_loop_t *loop, const pmx_client_opts_t *opts, pmx_client_t **out,
                              char *err, size_t errlen);
/* Frees the client. Every session must have reached on_close first (PMX_EBUSY otherwise). */
PMX_EXTERN int pmx_client_free(pmx_client_t *c);
/* For a program about to exit on a signal: ends at once (SIGKILL to its process group) the
 * credential plugin the client may be running, which lives in its own process group so that a
 * terminal's Ctrl-C does not reach it. What waited for it fails with PMX_ECREDENTIAL. */
PMX_EXTERN void pmx_client_abort(pmx_client_t *c);
PMX_EXTERN const char *pmx_client_namespace(const pmx_client_t *c);
PMX_EXTERN const char *pmx_client_server(const pmx_client_t *c);
/* TLS statistics: full handshakes and resumed ones since creation. */
PMX_EXTERN void pmx_client_tls_stats(const pmx_client_t *c, uint64_t *full, uint64_t *resumed);

/* ---- REST --------------------------------------------------------------------------------- */
/* Result of a GET: HTTP status (0 when no response) and body. err < 0 when no response came
 * (connect, TLS, timeout) or the status was not 2xx (mapped: 404 -> PMX_ENOTFOUND ...); message
 * is then one line (the Status message when the server sent one). */
typedef void (*pmx_get_cb)(pmx_client_t *c, int err, int http_status, const char *body, size_t len,
                           const char *message, void *data);
/* GETs path (with query, already encoded) relative to the server URL (its prefix is kept). */
PMX_EXTERN int pmx_client_get(pmx_client_t *c, const char *path, pmx_get_cb cb, void *data);

typedef struct pmx_container {
    const char *name;
    int kind; /* 0 regular, 1 init, 2 ephemeral */
    int tty, stdin_;
} pmx_container_t;

typedef struct pmx_pod {
    const char *name;
    const char *namespace_;
    const char *phase;             /* Running, Pending, Succeeded, Failed, Unknown */
    const char *node_name;         /* NULL when unscheduled */
    const char *default_container; /* annotation kubectl.kubernetes.io/default-container */
    int deleting;
    int ready;
    int restarts;
    const char *created; /* creationTimestamp */
    const pmx_container_t *containers;
    size_t ncontainers;
} pmx_pod_t;

typedef struct pmx_pod_list {
    pmx_pod_t *pods;
    size_t npods;
} pmx_pod_list_t;

/* err as for pmx_get_cb. The list is valid for the call. */
typedef void (*pmx_pods_cb)(pmx_client_t *c, int err, const pmx_pod_list_t *list,
                            const char *message, void *data);
/* One pod (list of one). */
PMX_EXTERN int pmx_get_pod(pmx_client_t *c, const char *ns, const char *name, pmx_pods_cb cb,
                           void *data);
/* Lists pods; ns NULL = all namespaces; selectors may be NULL. Follows `continue` pages
 * (page size 500) until done. */
PMX_EXTERN int pmx_list_pods(pmx_client_t *c, const char *ns, const char *label_selector,
                             const char *field_selector, pmx_pods_cb cb, void *data);
/* Resolves a workload ("deploy/web", "deployment/web", "sts/x", "ds/x", "rs/x", "job/x") to its
 * pods through its spec.selector (matchLabels + matchExpressions). */
PMX_EXTERN int pmx_list_workload_pods(pmx_client_t *c, const char *ns, const char *workload,
                                      pmx_pods_cb cb, void *data);
/* kubectl's choice of one pod among many ("most active" first). Returns index or -1. */
PMX_EXTERN int pmx_pick_pod(const pmx_pod_list_t *list);
/* kubectl's container defaulting: -c given ? it : annotation ? it : first regular container.
 * Returns the name (owned by pod) or NULL. */
PMX_EXTERN const char *pmx_default_container(const pmx_pod_t *pod);

/* ---- sessions ------------------------------------------------------------------------------ */
typedef struct pmx_session pmx_session_t;

typedef enum pmx_session_kind { PMX_EXEC = 0, PMX_ATTACH = 1 } pmx_session_kind_t;

typedef enum pmx_state {
    PMX_STATE_WAITING_CREDENTIALS, /* an exec credential plugin is running */
    PMX_STATE_RESOLVING,           /* uv_getaddrinfo */
    PMX_STATE_CONNECTING,          /* TCP */
    PMX_STATE_TLS_HANDSHAKE,
    PMX_STATE_UPGRADING,    /* request sent, waiting for 101 */
    PMX_STATE_OPEN,         /* streams flowing */
    PMX_STATE_STDIN_CLOSED, /* v5 close signal sent */
    PMX_STATE_EXITED,       /* status received (or failure decided) */
    PMX_STATE_CLOSING,
    PMX_STATE_CLOSED,
} pmx_state_t;
PMX_EXTERN const char *pmx_state_name(pmx_state_t s);

/* How a session ended. Exactly one of: exit code (err == 0), or a failure (err < 0). */
typedef struct pmx_exit {
    int err;             /* 0: the command ran and exit_code is its status; <0: PMX_E* */
    int exit_code;       /* 0..255 when err == 0; -1 otherwise */
    int http_status;     /* when the failure came with an HTTP status (404, 500...), else 0 */
    const char *reason;  /* Status reason ("NotFound", "InternalError") or "" */
    const char *message; /* one line: "pods \"web-9\" not found" */
    uint64_t bytes_out;  /* stdout + stderr bytes delivered */
    uint64_t bytes_in;   /* stdin bytes sent */
    double retry_after;  /* seconds, from Retry-After on 429/503; 0 if none */
    int command_started; /* 1 once the upgrade succeeded (the command may have run) */
    int request_sent;    /* 1 once the exec/attach request went out: a server that answers
                          * nothing after it may still have started the command */
} pmx_exit_t;

typedef struct pmx_session_cb {
    void (*on_open)(pmx_session_t *s, const char *protocol, void *data); /* may be NULL */
    void (*on_stdout)(pmx_session_t *s, const char *buf, size_t len, void *data);
    void (*on_stderr)(pmx_session_t *s, const char *buf, size_t len, void *data);
    void (*on_exit)(pmx_session_t *s, const pmx_exit_t *exit, void *data);
    void (*on_drain)(pmx_session_t *s, void *data); /* queued stdin fell below low-water */
    void (*on_close)(pmx_session_t *s, void *data);
} pmx_session_cb_t;

typedef struct pmx_session_opts {
    pmx_session_kind_t kind;
    const char *namespace_; /* NULL: the client's namespace */
    const char *pod;
    const char *container;   /* NULL: none sent (the server picks if the pod has one) */
    const char *const *argv; /* exec: the command, argc entries */
    int argc;
    int stdin_, stdout_, stderr_, tty; /* stdout defaults on if all four are 0 */
    unsigned width, height;            /* tty: initial size sent right after open (0 = none) */
    /* Sec-WebSocket-Protocol offer; NULL = "v5.channel.k8s.io, v4.channel.k8s.io,
     * channel.k8s.io" (tests use it to force a protocol). */
    const char *protocols;
    uint64_t timeout_ms;     /* whole-session deadline (0 = none): the session is closed, the
                              * server then ends the process; exit err PMX_ETIMEDOUT */
    size_t stdin_high_water; /* default 1 MiB */
    size_t stdin_low_water;  /* default 256 KiB */
} pmx_session_opts_t;

/* Starts a session; progress and results through cb. The session is valid until on_close. */
PMX_EXTERN int pmx_session_start(pmx_client_t *c, const pmx_session_opts_t *opts,
                                 const pmx_session_cb_t *cb, void *data, pmx_session_t **out);
PMX_EXTERN void *pmx_session_data(const pmx_session_t *s);
PMX_EXTERN pmx_state_t pmx_session_state(const pmx_session_t *s);
/* Negotiated protocol ("v5.channel.k8s.io", "" for none) once open, else NULL. */
PMX_EXTERN const char *pmx_session_protocol(const pmx_session_t *s);
/* Queues stdin bytes (copied; allowed before open, sent once open). Returns the total queued
 * size (>= 0), or <0. When the size passes the high-water mark, stop writing until on_drain. */
PMX_EXTERN long pmx_session_write(pmx_session_t *s, const void *buf, size_t len);
PMX_EXTERN size_t pmx_session_queued(const pmx_session_t *s);
/* Closes the remote stdin after what is queued: the v5 close signal. On older protocols there
 * is no way to close stdin alone: returns PMX_ENOTSUP, and the session ends once its output
 * has been quiet for pmx_client_opts_t.eof_grace_ms (or the caller may close it). */
PMX_EXTERN int pmx_session_close_stdin(pmx_session_t *s);
/* Resizes the remote tty (tty sessions only: PMX_EINVAL otherwise). Coalesced. */
PMX_EXTERN int pmx_session_resize(pmx_session_t *s, unsigned width, unsigned height);
/* Stops / restarts reading from the socket: a slow consumer keeps memory bounded. */
PMX_EXTERN void pmx_session_pause(pmx_session_t *s);
PMX_EXTERN void pmx_session_resume(pmx_session_t *s);
/* Cancels (if still running: on_exit with PMX_ECANCELED) and closes. on_close follows. */
PMX_EXTERN void pmx_session_close(pmx_session_t *s);
/* One-line description of the failure, "" if none. */
PMX_EXTERN const char *pmx_session_error(const pmx_session_t *s);
/* 1 when an attempt that ended this way may be made again without running the command twice:
 * it failed before the command could have started (DNS, connect, TLS, 429, 5xx, or a timeout
 * or loss before the request went out). What the fan-out's retries follow. */
PMX_EXTERN int pmx_exit_retryable(const pmx_exit_t *ex);

/* ---- fan-out ---------------------------------------------------------------------------- */
/* One command over many pods, shaped like curl's multi: targets wait in a PENDING queue gated
 * by the concurrency limit and a start-rate limit; each runs as a session; results are
 * reported through callbacks and stay readable afterwards (pmx_fanout_results). */
typedef struct pmx_fanout pmx_fanout_t;

typedef struct pmx_fanout_opts {
    pmx_session_kind_t kind;
    const char *const *argv; /* exec: the command, argc entries (copied) */
    int argc;
    int stdin_;              /* broadcast pmx_fanout_write() bytes to every session */
    unsigned parallel;       /* sessions at once; 0 = unlimited */
    double qps;              /* session starts per second; 0 = unlimited */
    unsigned burst;          /* starts allowed at once with qps (0 = 1) */
    uint64_t timeout_ms;     /* per session (0 = none) */
    int fail_fast;           /* first failure or non-zero exit cancels the rest */
    unsigned retries;        /* extra attempts, only while the command cannot have started */
    uint64_t retry_base_ms;  /* first backoff (0 = 500 ms), doubled per attempt, max 30 s;
                              * a server's Retry-After wins when longer */
    size_t stdin_replay_max; /* stdin kept for sessions not yet started (0 = 64 MiB) */
    const char *protocols;   /* as pmx_session_opts_t.protocols */
} pmx_fanout_opts_t;

typedef struct pmx_fanout_result {
    size_t index;                             /* order of pmx_fanout_add */
    const char *namespace_, *pod, *container; /* container NULL when none was named */
    pmx_exit_t exit; /* err PMX_ESKIPPED for skipped targets (message says why) */
    unsigned attempts;
    double seconds; /* first start to end */
} pmx_fanout_result_t;

typedef struct pmx_fanout_cb {
    /* An attempt is starting (may be NULL). */
    void (*on_start)(pmx_fanout_t *f, size_t index, unsigned attempt, void *data);
    /* fd 1 = stdout, 2 = stderr. */
    void (*on_output)(pmx_fanout_t *f, size_t index, int fd, const char *buf, size_t len,
                      void *data);
    /* A target is finished (ran, failed, skipped or canceled); r lives as long as f. */
    void (*on_done)(pmx_fanout_t *f, const pmx_fanout_result_t *r, void *data);
    /* Broadcast stdin fell below every session's low-water mark (may be NULL). */
    void (*on_stdin_drain)(pmx_fanout_t *f, void *data);
    /* Every target is finished and every session closed; f may be freed from here. */
    void (*on_finish)(pmx_fanout_t *f, void *data);
} pmx_fanout_cb_t;

typedef struct pmx_fanout_stats {
    size_t total, pending, running, done;
    size_t ok, nonzero, failed, skipped;
    size_t canceled; /* PMX_ECANCELED (pmx_fanout_cancel, fail_fast): not in failed */
} pmx_fanout_stats_t;

PMX_EXTERN int pmx_fanout_new(pmx_client_t *c, const pmx_fanout_opts_t *opts,
                              const pmx_fanout_cb_t *cb, void *data, pmx_fanout_t **out);
/* Adds a target before pmx_fanout_start; returns its index (>= 0) or <0. */
PMX_EXTERN long pmx_fanout_add(pmx_fanout_t *f, const char *ns, const char *pod,
                               const char *container);
/* Adds a target that will not run, reported with PMX_ESKIPPED and why ("phase Pending"). */
PMX_EXTERN long pmx_fanout_add_skipped(pmx_fanout_t *f, const char *ns, const char *pod,
                                       const char *container, const char *why);
/* Starts the queue; on_finish follows (on a later turn even with no targets). */
PMX_EXTERN int pmx_fanout_start(pmx_fanout_t *f);
/* Broadcasts stdin (copied once per session). Returns 1 when some session is above its
 * high-water mark (stop writing until on_stdin_drain), 0 otherwise, or <0. */
PMX_EXTERN long pmx_fanout_write(pmx_fanout_t *f, const void *buf, size_t len);
/* Stdin EOF: every session, running or future, gets close_stdin after its bytes. */
PMX_EXTERN int pmx_fanout_close_stdin(pmx_fanout_t *f);
/* Output backpressure: pauses / resumes reading on every running session. */
PMX_EXTERN void pmx_fanout_pause(pmx_fanout_t *f);
PMX_EXTERN void pmx_fanout_resume(pmx_fanout_t *f);
/* Cancels everything not finished (PMX_ECANCELED); on_finish follows. */
PMX_EXTERN void pmx_fanout_cancel(pmx_fanout_t *f);
PMX_EXTERN void pmx_fanout_stats(const pmx_fanout_t *f, pmx_fanout_stats_t *st);
/* Finished targets in completion order (valid until pmx_fanout_free). */
PMX_EXTERN const pmx_fanout_result_t *const *pmx_fanout_results(const pmx_fanout_t *f, size_t *n);
/* Frees f: allowed before start or once on_finish ran (PMX_EBUSY otherwise). */
PMX_EXTERN int pmx_fanout_free(pmx_fanout_t *f);
/* ---- end of fan-out --------------------------------------------------------------------- */


/* ---- transfer: one file streamed to the stdin of many sessions ------------------------------ */
/* Sends the same bytes (a file, or a tar built into one) to every session added, with
 * backpressure both ways, built only on the session API above:
 *  - per session: a chunk is read (uv_fs_read on libuv's threadpool, never on the loop thread),
 *    queued with pmx_session_write, and the next one waits while the session's queue is above its
 *    high-water mark, until the caller forwards that session's on_drain;
 *  - across sessions: a session may run at most max_lag bytes ahead of the slowest unfinished
 *    one. Past that, the slowest one sets the pace (nothing is dropped here: a session that
 *    stops moving holds the others back until the caller ends it, e.g. with its timeout_ms, and
 *    calls pmx_transfer_remove). Memory is bounded by sessions x (high-water + chunk).
 * The file must be seekable (read at offsets, so sessions added later start from byte 0 and
 * the source is read once by whoever built the file). */
typedef struct pmx_transfer pmx_transfer_t;

typedef struct pmx_transfer_opts {
    uv_file fd;          /* open for reading; owned by the caller, kept open until freed */
    uint64_t size;       /* bytes to send, from offset 0 */
    size_t chunk;        /* read size (0 = 64 KiB) */
    size_t high_water;   /* the sessions' stdin_high_water (0 = 1 MiB, the session default) */
    uint64_t max_lag;    /* bytes the fastest session may be ahead of the slowest (0 = 8 MiB) */
    int close_stdin;     /* pmx_session_close_stdin after the last byte (the usual case) */
} pmx_transfer_opts_t;

typedef struct pmx_transfer_cb {
    /* Every byte was queued to s (err 0; with close_stdin, stdin close was asked), or sending
     * stopped (err < 0: a read failed, or pmx_session_write refused). Once per session added. */
    void (*on_sent)(pmx_transfer_t *t, pmx_session_t *s, int err, void *data);
} pmx_transfer_cb_t;

PMX_EXTERN int pmx_transfer_new(uv_loop_t *loop, const pmx_transfer_opts_t *opts,
                                const pmx_transfer_cb_t *cb, void *data, pmx_transfer_t **out);
/* Starts sending to s from byte 0 (s must have been started with stdin_ set). */
PMX_EXTERN int pmx_transfer_add(pmx_transfer_t *t, pmx_session_t *s);
/* To be called from s's on_drain: resumes a session that waited on its high-water mark. */
PMX_EXTERN void pmx_transfer_drain(pmx_transfer_t *t, pmx_session_t *s);
/* Stops sending to s (call it from s's on_exit at the latest); no on_sent follows. The others
 * no longer wait for it. Unknown sessions are ignored. */
PMX_EXTERN void pmx_transfer_remove(pmx_transfer_t *t, pmx_session_t *s);
/* Bytes queued so far to s (0 if unknown). */
PMX_EXTERN uint64_t pmx_transfer_sent(const pmx_transfer_t *t, const pmx_session_t *s);
/* Frees t once every session was removed (PMX_EBUSY otherwise). A read still in flight is
 * finished on the threadpool and its memory released on a later loop turn. */
PMX_EXTERN int pmx_transfer_free(pmx_transfer_t *t);
/* ---- end of transfer -------------------------------------------------------------------- */

#ifdef __cplusplus
}
#endif
#endif
