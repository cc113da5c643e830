/* exec: podmux-sim's exec and attach sessions, with the two personalities of a 1.32 cluster
 * (docs/PROTOCOL.md §1.1, §7): a protocol list containing v5.channel.k8s.io gets the apiserver
 * translator (v5 only, kubelet errors after the 101 as InternalError); any other list gets the
 * kubelet/CRI streaming server ("", channel.k8s.io, base64.channel.k8s.io, v4.channel.k8s.io,
 * v4.base64.channel.k8s.io; errors before the 101).
 *
 * On the wire: one empty message on the lowest requested output channel at open; one frame per
 * write and one TLS record per frame; the status last; then close 1000 and TCP dropped at once. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proto/chan.h"
#include "proto/ws.h"
#include "sim/chan_server.h"
#include "sim/http_server.h"
#include "sim/exec_internal.h"
#include "sim/rest.h"
#include "sim/sim.h"

static long write_stdin(sim_exec_t *e, const uint8_t *data, size_t len);
static void close_stdin_now(sim_exec_t *e);

#define OUT_CHUNK (32 * 1024) /* the real servers' io.Copy buffer */
#define MAX_MSG (32u * 1024 * 1024)

static const char *const KUBELET_PROTOCOLS[] = {
    "",  "channel.k8s.io", "base64.channel.k8s.io", "v4.channel.k8s.io", "v4.base64.channel.k8s.io",
    NULL};
static const char *const V5_PROTOCOLS[] = {"v5.channel.k8s.io", NULL};

static void exec_unlink(sim_exec_t *e)
{
    sim_server_t *srv = e->srv;
    if (e->prev)
        e->prev->next = e->next;
    else if (srv->execs == e)
        srv->execs = e->next;
    if (e->next) e->next->prev = e->prev;
    e->prev = e->next = NULL;
}

static void exec_maybe_free(sim_exec_t *e)
{
    if (e->conn || e->proc || e->timer_open || e->main) return;
    exec_unlink(e);
    if (e->counted) e->srv->stats.sessions_active--;
    if (e->ws) ws_free(e->ws);
    chan_resize_free(&e->rz);
    buf_free(&e->enc);
    buf_free(&e->dec);
    buf_free(&e->coalesced);
    for (int i = 0; i < e->argc; i++)
        free(e->argv[i]);
    free(e->argv);
    buf_free(&e->pending_in);
    buf_free(&e->stdin_pending);
    sim_server_t *srv = e->srv;
    free(e);
    sim_server_maybe_stopped(srv);
}

static void timer_closed(uv_handle_t *h)
{
    sim_exec_t *e = h->data;
    e->timer_open = 0;
    exec_maybe_free(e);
}

/* Lets go of the connection: it no longer routes to us, the idle timer stops. */
static sim_conn_t *take_conn(sim_exec_t *e)
{
    sim_conn_t *c = e->conn;
    e->conn = NULL;
    e->st = NULL;
    if (c) c->ex = NULL;
    if (e->timer_open == 1) {
        e->timer_open = 2;
        uv_close((uv_handle_t *)&e->timer, timer_closed);
    }
    if (e->main) sim_main_detach(e);
    return c;
}

/* The connection is gone (or going): what a process in a real container meets. */
static void exec_detach_conn(sim_exec_t *e)
{
    if (!e->conn) return;
    sim_conn_t *c = take_conn(e);
    if (e->proc && !e->exited) sim_proc_hangup(e->proc);
    sim_conn_close(c);
}

/* The session's last frame is queued: TCP ends once it is written, as x/net does. */
static void exec_close_conn_after_write(sim_exec_t *e, int hangup)
{
    if (!e->conn) return;
    sim_conn_t *c = take_conn(e);
    c->closing = 1;
    stream_close_after_write(c->st);
    if (hangup && e->proc && !e->exited) sim_proc_hangup(e->proc);
}

/* ---- writing frames ------------------------------------------------------------------------ */
static int ws_send_cb(void *arg, const uint8_t *data, size_t len)
{
    sim_exec_t *e = arg;
    if (!e->st) return -EPIPE;
    if (e->faults.drop_after_bytes >= 0 &&
        e->bytes_sent + len > (uint64_t)e->faults.drop_after_bytes) {
        /* Fault: the connection dies mid-stream, no close frame. */
        size_t keep = (size_t)((uint64_t)e->faults.drop_after_bytes - e->bytes_sent);
        if (keep) stream_write(e->st, data, keep);
        e->bytes_sent += keep;
        e->dropping = 1;
        return 0;
    }
    e->bytes_sent += len;
    if (e->faults.coalesce) return buf_append(&e->coalesced, data, len) < 0 ? -ENOMEM : 0;
    return stream_write(e->st, data, len);
}

static void flush_ws(sim_exec_t *e)
{
    if (!e->ws || !e->st) return;
    ws_flush(e->ws);
    if (e->faults.coalesce && e->coalesced.len) {
        stream_write(e->st, e->coalesced.data, e->coalesced.len);
        buf_reset(&e->coalesced);
    }
    if (e->dropping) {
        /* The partial bytes go out, then TCP ends without a close frame. */
        e->dropping = 0;
        stream_close_after_write(e->st);
        e->conn->closing = 1;
        exec_detach_conn(e);
    }
}

/* Queues one message on a channel, split in 32 KiB writes like the real servers. */
static void send_channel(sim_exec_t *e, int ch, const uint8_t *data, size_t len)
{
    if (!e->ws || e->close_sent) return;
    do {
        size_t n = len > OUT_CHUNK ? OUT_CHUNK : len;
        int op = WS_OP_BINARY;
        buf_reset(&e->enc);
        if (chan_encode(e->proto, ch, data, n, &e->enc, &op) < 0) return;
        ws_queue(e->ws, op, (const uint8_t *)e->enc.data, e->enc.len);
        if (n) data += n;
        len -= n;
    } while (len);
    flush_ws(e);
}

/* Status (when the protocol has one and there is one to send), close 1000, drop TCP. */
static void finish_with_status(sim_exec_t *e, const char *json, const char *v1_text)
{
    if (!e->ws || e->close_sent || !e->st) return;
    if (!e->faults.close_without_status) {
        if (chan_proto_status_json(e->proto) && json)
            send_channel(e, CHAN_ERROR, (const uint8_t *)json, strlen(json));
        else if (!chan_proto_status_json(e->proto) && v1_text && *v1_text)
            send_channel(e, CHAN_ERROR, (const uint8_t *)v1_text, strlen(v1_text));
    }
    if (!e->st) return;
    ws_queue_close(e->ws, 1000, NULL);
    e->close_sent = 1;
    flush_ws(e);
    if (!e->st) return;
    if (e->faults.coalesce) return; /* a proxy that keeps TCP open until the client closes */
    exec_close_conn_after_write(e, 0);
}

void sim_exec_send_exit(sim_exec_t *e, int code)
{
    buf_t json, text;
    buf_init(&json, 0);
    buf_init(&text, 0);
    const char *const *argv = (const char *const *)e->argv;
    chan_status_exit_json(&json, e->proto == CHAN_PROTO_V5, code, argv, e->argc);
    chan_status_v1_text(&text, code, argv, e->argc);
    finish_with_status(e, json.data, text.data);
    buf_free(&json);
    buf_free(&text);
}

/* InternalError after the 101 (v5 translator path, or an exec that could not start). */
static void send_internal_error(sim_exec_t *e, const char *msg)
{
    buf_t json;
    buf_init(&json, 0);
    chan_status_internal_json(&json, msg);
    char text[1200];
    snprintf(text, sizeof text, "Internal error occurred: %s", msg);
    finish_with_status(e, json.data, text);
    buf_free(&json);
}

/* ---- process events -------------------------------------------------------------------------- */
void sim_exec_output(sim_exec_t *e, int fd, const char *data, size_t len)
{
    if (!e->st || e->stalled) return;
    int ch = fd == 2 && e->want_stderr && !e->tty ? CHAN_STDERR : CHAN_STDOUT;
    if (ch == CHAN_STDOUT && !e->want_stdout) return;
    send_channel(e, ch, (const uint8_t *)data, len);
    if (e->st && stream_above_high_water(e->st) && e->proc) {
        sim_proc_pause_output(e->proc);
        e->output_paused = 1;
    }
}

static void proc_output_cb(sim_proc_t *p, int fd, const char *data, size_t len)
{
    sim_exec_output(sim_proc_data(p), fd, data, len);
}

static void proc_exit_cb(sim_proc_t *p, int code, const char *start_error)
{
    sim_exec_t *e = sim_proc_data(p);
    e->exited = 1;
    if (start_error) {
        char msg[1024];
        snprintf(msg, sizeof msg,
                 "%serror executing command in container: failed to exec in container: "
                 "failed to start exec: OCI runtime exec failed: exec failed: unable to start "
                 "container process: exec: \"%s\": %s: unknown",
                 e->proto == CHAN_PROTO_V5 ? "Internal error occurred: " : "", e->argv[0],
                 start_error);
        send_internal_error(e, msg);
    } else if (!e->stalled) {
        sim_exec_send_exit(e, code);
    }
    sim_proc_close(p);
}

static void proc_drain_cb(sim_proc_t *p)
{
    sim_exec_t *e = sim_proc_data(p);
    if (e->stdin_pending.len) {
        if (write_stdin(e, (const uint8_t *)e->stdin_pending.data, e->stdin_pending.len) ==
            UV_ENOBUFS)
            return;
        buf_reset(&e->stdin_pending);
        if (e->stdin_close_deferred) close_stdin_now(e);
    }
    if (e->input_paused && e->st) {
        e->input_paused = 0;
        stream_resume(e->st);
    }
}

static void proc_close_cb(sim_proc_t *p)
{
    sim_exec_t *e = sim_proc_data(p);
    e->proc = NULL;
    exec_maybe_free(e);
}

/* ---- reading frames ----------------------------------------------------------------------------
 */
static void resize_cb(void *arg, unsigned w, unsigned h)
{
    sim_exec_t *e = arg;
    if (!e->tty || !w || !h) return; /* a JSON null decodes as 0x0 */
    if (e->proc) sim_proc_resize(e->proc, w, h);
    if (e->main) sim_main_resize(e, w, h);
}

static void pause_input(sim_exec_t *e)
{
    if (e->st && !e->input_paused) {
        stream_pause(e->st);
        e->input_paused = 1;
    }
}

/* The rest of a read can hold more frames after the process's queue filled up: they wait here
 * (at most one read's worth) instead of being dropped. */
static long write_stdin(sim_exec_t *e, const uint8_t *data, size_t len)
{
    if (e->proc) return sim_proc_write(e->proc, data, len);
    if (e->main) return sim_main_write(e, data, len);
    return 0;
}

void sim_exec_stdin(sim_exec_t *e, const uint8_t *data, size_t len)
{
    if (!e->want_stdin || e->stdin_closed) return;
    long q = e->stdin_pending.len ? UV_ENOBUFS : write_stdin(e, data, len);
    if (q == UV_ENOBUFS) {
        if (buf_append(&e->stdin_pending, data, len) < 0) {
            exec_detach_conn(e); /* cannot happen while we pause: a read is at most 64 KiB */
            return;
        }
        pause_input(e);
    } else if (q > (long)(1024 * 1024)) {
        pause_input(e);
    }
}

static void close_stdin_now(sim_exec_t *e)
{
    if (e->stdin_pending.len) {
        e->stdin_close_deferred = 1;
        return;
    }
    e->stdin_close_deferred = 0;
    if (e->proc) sim_proc_close_stdin(e->proc);
}

static void ws_message_cb(void *arg, int opcode, const uint8_t *data, size_t len)
{
    sim_exec_t *e = arg;
    if (!e->st || e->client_closed) return;
    /* The server parses every frame as a message; the opcode is not checked. */
    if (len == 0) return;
    if (e->idle_ms && e->timer_open == 1)
        uv_timer_again(&e->timer); /* data resets the idle timeout; pings do not */
    int ch = data[0];
    if (e->proto == CHAN_PROTO_V5 && ch == CHAN_CLOSE) {
        if (len != 2 || data[1] >= 5) {
            exec_detach_conn(e); /* protocol error: the read loop ends */
            return;
        }
        if (data[1] == CHAN_STDIN && !e->stdin_closed) {
            e->stdin_closed = 1;
            close_stdin_now(e);
        }
        return;
    }
    buf_reset(&e->dec);
    if (chan_decode(e->proto, data, len, &ch, &e->dec) < 0)
        return; /* dropped, as the server does */
    if (ch == CHAN_STDIN)
        sim_exec_stdin(e, (const uint8_t *)e->dec.data, e->dec.len);
    else if (ch == CHAN_RESIZE)
        chan_resize_feed(&e->rz, (const uint8_t *)e->dec.data, e->dec.len, resize_cb, e);
}

static void ws_close_cb(void *arg, uint16_t code, const uint8_t *reason, size_t len)
{
    sim_exec_t *e = arg;
    /* x/net: stop reading, close every pipe (stdin EOF), send our own close 1000, drop TCP.
     * The process itself is not killed. */
    e->client_closed = 1;
    if (!e->stdin_closed) close_stdin_now(e);
    e->stdin_closed = 1;
    if (e->ws && !e->close_sent) {
        ws_queue_close(e->ws, 1000, NULL);
        e->close_sent = 1;
        flush_ws(e);
    }
    exec_close_conn_after_write(e, 1);
}

static void ws_error_cb(void *arg, uint16_t code, const char *what)
{
    sim_exec_t *e = arg;
    flush_ws(e); /* the engine queued a close (1002/1009) */
    exec_detach_conn(e);
}

/* ---- connection events (after the connection was handed to us) --------------------------- */
static int exec_on_data(sim_exec_t *e, const uint8_t *data, size_t len)
{
    if (!e->ws || e->stalled) return 0;
    if (ws_feed(e->ws, data, len) < 0) {
        exec_detach_conn(e);
        return 0;
    }
    if (e->st) flush_ws(e);
    return e->input_paused;
}

void sim_exec_conn_event(sim_exec_t *e, int ev, const uint8_t *data, size_t len)
{
    switch (ev) {
    case SIM_EV_DATA:
        exec_on_data(e, data, len);
        break;
    case SIM_EV_DRAIN:
        if (e->main) sim_main_drained(e);
        if (e->output_paused && e->proc) {
            e->output_paused = 0;
            sim_proc_resume_output(e->proc);
        }
        if (e->ws) flush_ws(e);
        break;
    case SIM_EV_END:
        exec_detach_conn(e);
        break;
    }
}

static void idle_cb(uv_timer_t *t)
{
    sim_exec_t *e = t->data;
    exec_detach_conn(e);
}

/* ---- open
 * ---------------------------------------------------------------------------------------- */
static int parse_bool_param(const http_msg_t *m, const char *key)
{
    char *v = http_msg_query_get(m, key, 0);
    if (!v) return 0;
    int f = !strcmp(v, "0") || !strcasecmp(v, "false");
    free(v);
    return !f;
}

int sim_env_build(sim_env_t *v, const sim_server_t *srv, const char *ns, const char *pod,
                  const char *container, int tty, const sim_container_t *c)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/pods", srv->state_dir);
    mkdir(dir, 0755);
    snprintf(dir, sizeof dir, "%s/pods/%s", srv->state_dir, ns);
    mkdir(dir, 0755);
    snprintf(dir, sizeof dir, "%s/pods/%s/%s", srv->state_dir, ns, pod);
    mkdir(dir, 0755);
    snprintf(v->cwd, sizeof v->cwd, "%s/pods/%s/%s/%s", srv->state_dir, ns, pod, container);
    mkdir(v->cwd, 0755);
    const char *path = getenv("PATH");
    int n = 0;
    /* state/bin first: its `hostname` prints the pod name, as in a real pod's UTS namespace. */
    snprintf(v->vars[n++], sizeof v->vars[0], "PATH=%s/bin:%s", srv->state_dir,
             path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    snprintf(v->vars[n++], sizeof v->vars[0], "HOSTNAME=%s", pod);
    snprintf(v->vars[n++], sizeof v->vars[0], "POD_NAME=%s", pod);
    snprintf(v->vars[n++], sizeof v->vars[0], "POD_NAMESPACE=%s", ns);
    snprintf(v->vars[n++], sizeof v->vars[0], "CONTAINER_NAME=%s", container);
    snprintf(v->vars[n++], sizeof v->vars[0], "HOME=%s", v->cwd);
    if (tty) snprintf(v->vars[n++], sizeof v->vars[0], "TERM=xterm");
    size_t extra = c ? c->nenv : 0, total = (size_t)n;
    v->env = calloc((size_t)n + extra + 1, sizeof *v->env);
    if (!v->env) return -ENOMEM;
    for (int i = 0; i < n; i++)
        v->env[i] = v->vars[i];
    for (size_t i = 0; i < extra; i++) {
        const char *kv = c->env[i], *eq = strchr(kv, '=');
        size_t klen = eq ? (size_t)(eq - kv) + 1 : strlen(kv);
        size_t k = 0;
        while (k < total && strncmp(v->env[k], kv, klen)) /* the same name: the YAML's wins */
            k++;
        v->env[k] = kv;
        if (k == total) total++;
    }
    v->env[total] = NULL;
    return 0;
}

void sim_env_free(sim_env_t *v)
{
    free(v->env);
    v->env = NULL;
}

static void start_process(sim_exec_t *e)
{
    sim_env_t env;
    const sim_pod_t *pod = sim_model_find_pod(e->srv->model, e->ns, e->pod);
    const sim_container_t *c = pod ? sim_pod_container(pod, e->container) : NULL;
    if (sim_env_build(&env, e->srv, e->ns, e->pod, e->container, e->tty, c) < 0) {
        send_internal_error(e, "error executing command in container: out of memory");
        return;
    }
    sim_proc_opts_t o = {0};
    o.argv = (const char *const *)e->argv;
    o.env = env.env;
    o.cwd = env.cwd;
    o.tty = e->tty;
    o.width = e->init_w;
    o.height = e->init_h;
    o.want_stdin = e->want_stdin;
    o.registry = &e->srv->procs;
    sim_proc_cb_t cb = {proc_output_cb, proc_exit_cb, proc_drain_cb, proc_close_cb};
    int r = sim_proc_spawn(e->srv->loop, &o, &cb, e, &e->proc);
    sim_env_free(&env);
    if (r < 0) {
        e->proc = NULL;
        send_internal_error(e, "error executing command in container: cannot start process");
    }
}

static void send_101(sim_exec_t *e, const char *key, const char *proto)
{
    char accept[29];
    ws_accept_for_key(key, accept);
    char resp[512];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n",
                     accept);
    if (*proto)
        n += snprintf(resp + n, sizeof resp - (size_t)n, "Sec-WebSocket-Protocol: %s\r\n", proto);
    n += snprintf(resp + n, sizeof resp - (size_t)n, "\r\n");
    stream_write(e->st, resp, (size_t)n);
}

/* After the 101: initial frame, then the kubelet-level checks (v5 only: errors now come as a
 * Status), then the process. */
static void open_session(sim_exec_t *e, const char *kubelet_error)
{
    ws_io_t io = {ws_send_cb, ws_message_cb, ws_close_cb, NULL, ws_error_cb, NULL, e};
    if (ws_new(1, MAX_MSG, &io, &e->ws) < 0) {
        exec_detach_conn(e);
        return;
    }
    int first = e->want_stdout                ? CHAN_STDOUT
                : (e->want_stderr && !e->tty) ? CHAN_STDERR
                                              : CHAN_ERROR;
    send_channel(e, first, NULL, 0);
    if (!e->st) return;
    if (e->faults.malformed_frame) {
        static const uint8_t bad[] = {0xf3, 0x05, 'b', 'o', 'g', 'u', 's'}; /* RSV bits + op 3 */
        stream_write(e->st, bad, sizeof bad);
    }
    if (kubelet_error) {
        char msg[600];
        snprintf(msg, sizeof msg, "unable to upgrade connection: %s", kubelet_error);
        send_internal_error(e, msg);
        return;
    }
    if (e->faults.stall) {
        e->stalled = 1; /* neither reads nor writes: the client must notice by itself */
        stream_pause(e->st);
        return;
    }
    if (e->faults.reset_after_open) {
        stream_reset(e->st);
        e->conn->closing = 1;
        exec_detach_conn(e);
        return;
    }
    if (e->idle_ms) {
        uv_timer_start(&e->timer, idle_cb, e->idle_ms, e->idle_ms);
    }
    if (e->attach)
        sim_main_attach(e);
    else
        start_process(e);
    if (e->pending_in.len && e->st) {
        exec_on_data(e, (const uint8_t *)e->pending_in.data, e->pending_in.len);
        buf_free(&e->pending_in);
    }
}

static void delayed_open_cb(uv_timer_t *t)
{
    sim_exec_t *e = t->data;
    sim_exec_continue(e);
}

void sim_exec_handle(sim_conn_t *conn, const char *ns, const char *pod, int attach,
                     const uint8_t *leftover, size_t n)
{
    sim_server_t *srv = conn->srv;
    sim_exec_t *e = calloc(1, sizeof *e);
    if (!e) {
        sim_conn_close(conn);
        return;
    }
    e->srv = srv;
    e->conn = conn;
    e->st = conn->st;
    e->attach = attach;
    e->faults.drop_after_bytes = -1;
    e->idle_ms = srv->idle_timeout_ms;
    snprintf(e->ns, sizeof e->ns, "%s", ns);
    snprintf(e->pod, sizeof e->pod, "%s", pod);
    buf_init(&e->enc, 0);
    buf_init(&e->dec, 0);
    buf_init(&e->coalesced, 0);
    chan_resize_init(&e->rz);
    uv_timer_init(srv->loop, &e->timer);
    e->timer.data = e;
    e->timer_open = 1;
    e->next = srv->execs;
    if (srv->execs) srv->execs->prev = e;
    srv->execs = e;
    conn->ex = e;
    buf_init(&e->pending_in, 1024 * 1024);
    buf_init(&e->stdin_pending, 4 * 1024 * 1024);
    if (n && buf_append(&e->pending_in, leftover, n) < 0) {
        exec_detach_conn(e);
        return;
    }
    sim_exec_validate(e);
}

/* ---- validation, in the apiserver's order, then the WebSocket handshake ---------------------- */
static void reply_and_close(sim_exec_t *e, int status, const char *ctype,
                            const char *const *headers, const char *body, size_t len)
{
    sim_conn_t *c = take_conn(e);
    sim_conn_reply(c, status, ctype, headers, body, len, 1);
    exec_maybe_free(e);
}

static void reply_text(sim_exec_t *e, int status, const char *text)
{
    reply_and_close(e, status, "text/plain; charset=utf-8", NULL, text, strlen(text));
}

static int parse_command(sim_exec_t *e, const http_msg_t *m)
{
    int n = 0;
    char *v;
    while (n < 4096 && (v = http_msg_query_get(m, "command", n))) {
        free(v);
        n++;
    }
    e->argv = calloc((size_t)n + 1, sizeof *e->argv);
    if (!e->argv) return -ENOMEM;
    for (int i = 0; i < n; i++)
        e->argv[i] = http_msg_query_get(m, "command", i);
    e->argc = n;
    return 0;
}

/* Faults that refuse the upgrade (429 with Retry-After, 500, 503). */
static int refuse_by_fault(sim_exec_t *e)
{
    int st = e->faults.upgrade_status;
    if (!st) return 0;
    const char *reason = st == 429   ? "TooManyRequests"
                         : st == 503 ? "ServiceUnavailable"
                         : st >= 500 ? "InternalError"
                                     : "BadRequest";
    const char *msg = st == 429   ? "Too many requests, please try again later."
                      : st == 503 ? "the server is currently unable to handle the request"
                                  : "an error on the server (\"injected fault\") has prevented "
                                    "the request from succeeding";
    buf_t body;
    buf_init(&body, 0);
    sim_status_json(&body, st, reason, msg, NULL, NULL);
    char ra[16];
    snprintf(ra, sizeof ra, "%d", e->faults.retry_after);
    const char *h[] = {"Retry-After", ra, NULL};
    reply_and_close(e, st, "application/json", e->faults.retry_after >= 0 ? h : NULL, body.data,
                    body.len);
    buf_free(&body);
    return 1;
}

/* The kubelet's own checks: container running, at least one stream. NULL when fine. */
static const char *kubelet_check(sim_exec_t *e, int *status)
{
    if (!sim_container_running(e->mpod, e->mcont)) {
        snprintf(e->kubelet_error_buf, sizeof e->kubelet_error_buf, "container not found (\"%s\")",
                 e->container);
        *status = 500;
        return e->kubelet_error_buf;
    }
    if (!e->want_stdin && !e->want_stdout && !e->want_stderr) {
        *status = 400;
        return "you must specify at least 1 of stdin, stdout, stderr";
    }
    if (!e->attach && e->argc == 0) {
        *status = 400;
        return "command is required";
    }
    return NULL;
}

void sim_exec_validate(sim_exec_t *e)
{
    sim_conn_t *c = e->conn;
    const http_msg_t *m = &c->req;
    int spdy = !strcmp(m->method, "POST") && http_msg_header_has_token(m, "Upgrade", "SPDY/3.1");
    char *container = http_msg_query_get(m, "container", 0);
    e->want_stdin = parse_bool_param(m, "stdin");
    e->want_stdout = parse_bool_param(m, "stdout");
    e->want_stderr = parse_bool_param(m, "stderr");
    e->tty = parse_bool_param(m, "tty");
    if (!e->attach && parse_command(e, m) < 0) {
        free(container);
        reply_text(e, 500, "out of memory");
        return;
    }
    sim_response_t err;
    int r = sim_rest_check_exec(e->srv->model, c->user, e->ns, e->pod, container, e->attach,
                                spdy || strcmp(m->method, "GET") != 0, &err, &e->mpod, &e->mcont);
    free(container);
    if (r != 0) {
        reply_and_close(e, err.status, err.content_type, NULL, err.body.data, err.body.len);
        sim_response_free(&err);
        return;
    }
    sim_response_free(&err);
    snprintf(e->container, sizeof e->container, "%s", e->mcont->name);
    e->faults = e->mpod->faults;
    if (refuse_by_fault(e)) return;
    int kst = 0;
    const char *kerr = kubelet_check(e, &kst);
    if (spdy) {
        /* kubectl's retry after a refused WebSocket upgrade: the same answer, never a 101. */
        reply_text(e, kerr ? kst : 400,
                   kerr ? kerr : "podmux-sim speaks WebSocket only (SPDY/3.1 is not supported)");
        return;
    }
    /* x/net's handshake checks. */
    if (strcmp(m->method, "GET") != 0) {
        reply_text(e, 405, "bad method");
        return;
    }
    if (!http_msg_header_has_token(m, "Upgrade", "websocket") ||
        !http_msg_header_has_token(m, "Connection", "upgrade")) {
        reply_text(e, 400, "not websocket protocol");
        return;
    }
    const char *key = http_msg_header(m, "Sec-WebSocket-Key");
    if (!key || !*key || strlen(key) >= sizeof e->key) {
        reply_text(e, 400, "mismatch challenge/response");
        return;
    }
    const char *ver = http_msg_header(m, "Sec-WebSocket-Version");
    if (!ver || strcmp(ver, "13") != 0) {
        const char *h[] = {"Sec-WebSocket-Version", "13", NULL};
        static const char body[] = "missing or bad WebSocket Version";
        reply_and_close(e, 400, "text/plain; charset=utf-8", h, body, sizeof body - 1);
        return;
    }
    snprintf(e->key, sizeof e->key, "%s", key);
    const char *offer = http_msg_header(m, "Sec-WebSocket-Protocol");
    /* --no-v5: no translator, so a v5-only offer finds nothing (403) and a mixed one v4. */
    int v5 = !e->srv->no_v5 && offer && ws_choose_protocol(offer, V5_PROTOCOLS) == 0;
    int idx = v5 ? 0 : ws_choose_protocol(offer ? offer : "", KUBELET_PROTOCOLS);
    if (idx < 0) {
        reply_and_close(e, 403, NULL, NULL, "", 0);
        return;
    }
    snprintf(e->proto_name, sizeof e->proto_name, "%s",
             v5 ? V5_PROTOCOLS[0] : KUBELET_PROTOCOLS[idx]);
    e->proto = chan_proto_from_name(e->proto_name);
    if (kerr && !v5) {
        reply_text(e, kst, kerr); /* the kubelet refuses before the 101 */
        return;
    }
    e->kubelet_error = kerr; /* the translator reports it after the 101 */
    if (e->tty) e->want_stderr = 0;
    if (e->faults.upgrade_delay_ms > 0) {
        uv_timer_start(&e->timer, delayed_open_cb, (uint64_t)e->faults.upgrade_delay_ms, 0);
        return;
    }
    sim_exec_continue(e);
}

void sim_exec_continue(sim_exec_t *e)
{
    if (!e->st) return;
    e->counted = 1;
    sim_stats_t *st = &e->srv->stats;
    st->sessions_total++;
    if (++st->sessions_active > st->sessions_peak) st->sessions_peak = st->sessions_active;
    send_101(e, e->key, e->proto_name);
    open_session(e, e->kubelet_error);
}

void sim_exec_send_attach_end(sim_exec_t *e)
{
    finish_with_status(e, "{\"metadata\":{},\"status\":\"Success\"}", NULL);
}

void sim_exec_kill_all(sim_server_t *srv)
{
    sim_exec_t *e = srv->execs;
    while (e) {
        sim_exec_t *next = e->next;
        if (e->proc) sim_proc_close(e->proc); /* kills the process group */
        exec_detach_conn(e);
        e = next;
    }
    sim_main_kill_all(srv);
}
