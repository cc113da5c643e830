/* exec_internal.h: the exec/attach session of podmux-sim, shared by exec.c and attach.c. */
#ifndef PMX_SIM_EXEC_INTERNAL_H
#define PMX_SIM_EXEC_INTERNAL_H

#include "proto/chan.h"
#include "proto/ws.h"
#include "sim/chan_server.h"
#include "sim/http_server.h"
#include "sim/sim.h"

typedef struct sim_main sim_main_t;

enum { SIM_EV_DATA, SIM_EV_DRAIN, SIM_EV_END };

struct sim_exec {
    sim_server_t *srv;
    sim_conn_t *conn; /* NULL once the client is gone */
    stream_t *st;     /* conn's stream while it is ours to write */
    int attach;
    char ns[256], pod[256], container[256];
    const sim_pod_t *mpod;
    const sim_container_t *mcont;
    int want_stdin, want_stdout, want_stderr, tty;
    unsigned init_w, init_h;
    char **argv;
    int argc;
    char key[64];
    char proto_name[40];
    chan_proto_t proto;
    const char *kubelet_error; /* v5: reported after the 101 */
    char kubelet_error_buf[300];
    ws_t *ws;
    sim_proc_t *proc; /* exec: our process (lives on after the client left, until it exits) */
    sim_main_t *main; /* attach: the container's main process */
    sim_exec_t *main_next;
    chan_resize_decoder_t rz;
    buf_t enc, dec, coalesced, pending_in;
    buf_t stdin_pending; /* stdin the process refused while above its high-water mark */
    sim_faults_t faults;
    uv_timer_t timer; /* upgrade delay, then the data-idle timeout */
    int timer_open;   /* 1 open, 2 closing, 0 closed */
    uint64_t idle_ms;
    uint64_t bytes_sent;
    unsigned counted : 1, exited : 1, stalled : 1, dropping : 1, close_sent : 1, client_closed : 1,
        stdin_closed : 1, stdin_close_deferred : 1, output_paused : 1, input_paused : 1;
    sim_exec_t *prev, *next;
};

/* exec.c */
void sim_exec_validate(sim_exec_t *e);
void sim_exec_continue(sim_exec_t *e);
void sim_exec_conn_event(sim_exec_t *e, int ev, const uint8_t *data, size_t len);
void sim_exec_output(sim_exec_t *e, int fd, const char *data, size_t len);
void sim_exec_stdin(sim_exec_t *e, const uint8_t *data, size_t len);
void sim_exec_send_exit(sim_exec_t *e, int code);
/* attach: the stream ended with the main process (Success, never an exit code). */
void sim_exec_send_attach_end(sim_exec_t *e);

/* The environment and working directory every process of a simulated container gets: PATH,
 * HOSTNAME, POD_NAME, POD_NAMESPACE, CONTAINER_NAME, HOME, TERM with a tty, then the container's
 * `env` from the cluster YAML (c may be NULL), a name given there replacing the one above, as a
 * container's env overrides its image's. env points into vars and into the model (valid while
 * the pod is), and is freed by sim_env_free. Returns 0 or -ENOMEM. */
typedef struct sim_env {
    char cwd[1024];
    char vars[8][1100];
    const char **env;
} sim_env_t;
int sim_env_build(sim_env_t *env, const sim_server_t *srv, const char *ns, const char *pod,
                  const char *container, int tty, const sim_container_t *c);
void sim_env_free(sim_env_t *env);

/* attach.c */
void sim_main_attach(sim_exec_t *e);
void sim_main_detach(sim_exec_t *e);
long sim_main_write(sim_exec_t *e, const uint8_t *data, size_t len);
void sim_main_resize(sim_exec_t *e, unsigned w, unsigned h);
void sim_main_drained(sim_exec_t *e);
void sim_main_kill_all(sim_server_t *srv);

#endif
