/* fanout_daemon: a small daemon embedding libpodmux on its own loop. Every PERIOD seconds it
 * lists the pods of a label selector and runs a command in all of them (pmx_fanout_t), while the
 * same loop serves its own TCP status port and runs its own heartbeat timer. Each round's
 * results are printed as one line per pod and kept for the status port:
 *
 *   fanout_daemon SELECTOR PERIOD ROUNDS STATUS_PORT -- CMD [ARG...]
 *   (ROUNDS 0 = forever; `nc 127.0.0.1 STATUS_PORT` prints the last round's summary) */
#include <podmux.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct daemon {
    uv_loop_t *loop;
    pmx_client_t *client;
    uv_timer_t round_timer, heartbeat;
    uv_tcp_t server;
    const char *selector;
    const char *const *argv;
    int argc;
    int rounds_left, round, busy;
    unsigned heartbeats;
    char summary[256];
} daemon_t;

static void start_round(uv_timer_t *t);

static void on_done(pmx_fanout_t *f, const pmx_fanout_result_t *r, void *data)
{
    daemon_t *d = data;
    if (r->exit.err == 0)
        printf("round %d %s exit %d\n", d->round, r->pod, r->exit.exit_code);
    else
        printf("round %d %s error %s\n", d->round, r->pod, r->exit.message);
}

static void on_output(pmx_fanout_t *f, size_t index, int fd, const char *buf, size_t len,
                      void *data)
{
    (void)f, (void)index, (void)fd, (void)buf, (void)len, (void)data; /* only codes are kept */
}

static void close_all(daemon_t *d)
{
    uv_close((uv_handle_t *)&d->round_timer, NULL);
    uv_close((uv_handle_t *)&d->heartbeat, NULL);
    uv_close((uv_handle_t *)&d->server, NULL);
}

static void on_finish(pmx_fanout_t *f, void *data)
{
    daemon_t *d = data;
    pmx_fanout_stats_t st;
    pmx_fanout_stats(f, &st);
    snprintf(d->summary, sizeof d->summary, "round %d: %zu ok, %zu non-zero, %zu failed\n",
             d->round, st.ok, st.nonzero, st.failed);
    fputs(d->summary, stdout);
    fflush(stdout);
    pmx_fanout_free(f);
    d->busy = 0;
    if (d->rounds_left == 0) close_all(d);
}

static void on_pods(pmx_client_t *c, int err, const pmx_pod_list_t *list, const char *msg,
                    void *data)
{
    daemon_t *d = data;
    if (err < 0) {
        printf("round %d: cannot list pods: %s\n", d->round, msg);
        d->busy = 0;
        if (d->rounds_left == 0) close_all(d);
        return;
    }
    pmx_fanout_opts_t o = {0};
    o.argv = d->argv;
    o.argc = d->argc;
    o.parallel = 16;
    o.timeout_ms = 30000;
    pmx_fanout_cb_t cb = {NULL, on_output, on_done, NULL, on_finish};
    pmx_fanout_t *f;
    if (pmx_fanout_new(c, &o, &cb, d, &f) < 0) exit(255);
    for (size_t i = 0; i < list->npods; i++) {
        if (!strcmp(list->pods[i].phase, "Running"))
            pmx_fanout_add(f, list->pods[i].namespace_, list->pods[i].name, NULL);
        else
            pmx_fanout_add_skipped(f, list->pods[i].namespace_, list->pods[i].name, NULL,
                                   list->pods[i].phase);
    }
    pmx_fanout_start(f);
}

static void start_round(uv_timer_t *t)
{
    daemon_t *d = t->data;
    if (d->busy) return; /* the previous round is still running: skip this tick */
    if (d->rounds_left > 0 && --d->rounds_left == 0) uv_timer_stop(&d->round_timer);
    d->busy = 1;
    d->round++;
    if (pmx_list_pods(d->client, NULL, d->selector, NULL, on_pods, d) < 0) exit(255);
}

static void on_heartbeat(uv_timer_t *t)
{
    daemon_t *d = t->data;
    d->heartbeats++;
}

static void on_written(uv_write_t *w, int status)
{
    uv_close((uv_handle_t *)w->handle, (uv_close_cb)free);
    free(w);
}

static void on_status_client(uv_stream_t *server, int status)
{
    daemon_t *d = server->data;
    uv_tcp_t *conn = malloc(sizeof *conn);
    uv_tcp_init(d->loop, conn);
    if (status < 0 || uv_accept(server, (uv_stream_t *)conn) < 0) {
        uv_close((uv_handle_t *)conn, (uv_close_cb)free);
        return;
    }
    uv_write_t *w = malloc(sizeof *w);
    uv_buf_t b = uv_buf_init(d->summary, (unsigned)strlen(d->summary));
    uv_write(w, (uv_stream_t *)conn, &b, 1, on_written);
}

int main(int argc, char **argv)
{
    if (argc < 7 || strcmp(argv[5], "--")) {
        fprintf(stderr, "usage: fanout_daemon SELECTOR PERIOD ROUNDS STATUS_PORT -- CMD...\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    daemon_t d = {0};
    uv_loop_t loop;
    uv_loop_init(&loop);
    d.loop = &loop;
    d.selector = argv[1];
    d.rounds_left = atoi(argv[3]);
    d.argv = (const char *const *)argv + 6;
    d.argc = argc - 6;
    snprintf(d.summary, sizeof d.summary, "no round yet\n");
    char err[512];
    if (pmx_client_new(&loop, NULL, &d.client, err, sizeof err) < 0) {
        fprintf(stderr, "fanout_daemon: %s\n", err);
        return 255;
    }
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", atoi(argv[4]), &addr);
    uv_tcp_init(&loop, &d.server);
    d.server.data = &d;
    if (uv_tcp_bind(&d.server, (const struct sockaddr *)&addr, 0) ||
        uv_listen((uv_stream_t *)&d.server, 16, on_status_client)) {
        fprintf(stderr, "fanout_daemon: cannot listen on port %s\n", argv[4]);
        return 255;
    }
    uv_timer_init(&loop, &d.round_timer);
    uv_timer_init(&loop, &d.heartbeat);
    d.round_timer.data = d.heartbeat.data = &d;
    uint64_t period = (uint64_t)(atof(argv[2]) * 1000);
    uv_timer_start(&d.round_timer, start_round, 0, period);
    uv_timer_start(&d.heartbeat, on_heartbeat, 100, 100);
    uv_run(&loop, UV_RUN_DEFAULT);
    printf("heartbeats while running: %u\n", d.heartbeats);
    pmx_client_free(d.client);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 0;
}
