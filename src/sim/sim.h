/* sim.h: podmux-sim's server state, shared by main.c, server.c and exec.c. */
#ifndef PMX_SIM_SIM_H
#define PMX_SIM_SIM_H

#include <stdint.h>
#include <uv.h>

#include "proto/http.h"
#include "client/stream.h"
#include "proto/tls.h"
#include "sim/model.h"
#include "sim/proc.h"

typedef struct sim_conn sim_conn_t;
typedef struct sim_exec sim_exec_t;

typedef struct sim_stats {
    uint64_t connections, requests, sessions_total;
    unsigned sessions_active, sessions_peak;
} sim_stats_t;

typedef struct sim_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    tls_ctx_t *tls;
    stream_rbuf_t rbuf; /* every connection's reads go through it */
    sim_model_t *model;
    char *state_dir;
    sim_stats_t stats;
    sim_conn_t *conns;         /* every open connection (doubly linked) */
    sim_exec_t *execs;         /* every live exec/attach session */
    struct sim_main *mains;    /* containers' main processes (attach) */
    sim_proc_registry_t procs; /* every process: spawned through it, reaped on its SIGCHLD */
    uint64_t idle_timeout_ms;  /* data-idle timeout of a session (4 h like the kubelet) */
    int no_v5;                 /* no v5 translator (before 1.30): the kubelet's protocols only */
    int stopping;
    void (*on_stopped)(struct sim_server *srv);
} sim_server_t;

struct sim_conn {
    sim_server_t *srv;
    stream_t *st;
    http_msg_t req;
    int req_init;
    char user[128];
    sim_exec_t *ex; /* set once the connection was handed to an exec session */
    int closing;
    sim_conn_t *prev, *next;
};

int sim_server_listen(sim_server_t *srv, const char *host, int port, int *bound_port);
/* Kills every process, closes every connection and the listener; on_stopped when done. */
void sim_server_stop(sim_server_t *srv);

/* server.c -> exec.c: an upgrade request for /api/v1/namespaces/NS/pods/POD/(exec|attach).
 * leftover: bytes after the request headers. The exec session owns the connection from here
 * (also when it answers with an error). */
void sim_exec_handle(sim_conn_t *conn, const char *ns, const char *pod, int attach,
                     const uint8_t *leftover, size_t n);
/* Connection-level helpers used by exec.c. */
void sim_conn_reply(sim_conn_t *conn, int status, const char *content_type,
                    const char *const *headers, const char *body, size_t len, int close_after);
void sim_conn_close(sim_conn_t *conn);
/* Ends every exec session (server stopping). */
void sim_exec_kill_all(sim_server_t *srv);
/* Calls on_stopped once everything is gone while stopping. */
void sim_server_maybe_stopped(sim_server_t *srv);

#endif
