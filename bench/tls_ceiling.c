/* tls_ceiling: the throughput ceiling for podmux's stdout path without WebSocket, channel framing
 * or a remote process: one mbedTLS server process writes N bytes of zeros over loopback TLS to
 * one mbedTLS client process, both on libuv through podmux's own stream/tls modules (the same
 * record sizes and ciphersuite podmux and podmux-sim negotiate).
 *
 *   tls_ceiling [--bytes N] [--chunk N]
 *
 * Prints one JSON object: bytes, wall seconds (client: connect to last byte), MB/s, and the CPU
 * seconds of each side. */
#include <arpa/inet.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "client/stream.h"
#include "proto/tls.h"

#define MAX_CHUNK (1024 * 1024)

typedef struct side {
    uv_loop_t loop;
    uv_tcp_t listener;
    stream_t *st;
    tls_ctx_t *tls;
    uint64_t total, moved, chunk;
    uint64_t t0, t1;
    int failed;
} side_t;

static const uint8_t ZEROS[MAX_CHUNK];

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void fail(const char *what, const char *why)
{
    fprintf(stderr, "tls_ceiling: %s: %s\n", what, why);
    exit(2);
}

/* ---- server (child process) ----------------------------------------------------------------- */

static void srv_pump(stream_t *st)
{
    side_t *sd = stream_data(st);
    while (sd->moved < sd->total && !stream_above_high_water(st)) {
        uint64_t left = sd->total - sd->moved;
        size_t n = (size_t)(left < sd->chunk ? left : sd->chunk);
        if (stream_write(st, ZEROS, n) < 0) fail("server write", stream_error(st));
        sd->moved += n;
    }
    if (sd->moved == sd->total && stream_shutdown(st) < 0) fail("shutdown", stream_error(st));
}

static void srv_ready(stream_t *st, int status)
{
    if (status < 0) fail("server handshake", stream_error(st));
    srv_pump(st);
}

static int srv_data(stream_t *st, const uint8_t *d, size_t n)
{
    return 0;
}

static void srv_end(stream_t *st, int status)
{
    stream_close(st);
}

static void srv_closed(stream_t *st)
{
    side_t *sd = stream_data(st);
    uv_close((uv_handle_t *)&sd->listener, NULL);
}

static const stream_cb_t SRV_CB = {srv_ready, srv_data, srv_end, srv_pump, srv_closed};

static void srv_accept(uv_stream_t *l, int status)
{
    side_t *sd = l->data;
    stream_opts_t o = {.tls = sd->tls};
    if (status < 0 || stream_accept(l, &o, &SRV_CB, sd, &sd->st) < 0)
        fail("accept", uv_strerror(status));
}

/* Generates a throwaway CA and leaf like podmux-sim does, so the handshake is the same shape. */
static tls_ctx_t *server_tls(void)
{
    char err[256];
    tls_ctx_t *rng = NULL, *ctx = NULL;
    tls_ctx_opts_t ro = {.insecure = 1};
    if (tls_ctx_new(&ro, &rng, err, sizeof err) < 0) fail("rng", err);
    tls_keypair_t ca = {0}, leaf = {0};
    const char *ips[] = {"127.0.0.1"};
    const char *dns[] = {"localhost"};
    if (tls_gen_ca(rng, "ceiling-ca", &ca) < 0 ||
        tls_gen_leaf(rng, &ca, "ceiling", NULL, dns, 1, ips, 1, 0, &leaf) < 0)
        fail("certificates", "generation failed");
    tls_ctx_free(rng);
    tls_ctx_opts_t so = {.is_server = 1};
    so.cert_data = (const uint8_t *)leaf.cert_pem;
    so.cert_data_len = strlen(leaf.cert_pem) + 1;
    so.key_data = (const uint8_t *)leaf.key_pem;
    so.key_data_len = strlen(leaf.key_pem) + 1;
    if (tls_ctx_new(&so, &ctx, err, sizeof err) < 0) fail("server ctx", err);
    tls_keypair_free(&ca);
    tls_keypair_free(&leaf);
    return ctx;
}

/* Listens on an ephemeral port, tells the parent which through fd, serves one connection. */
static int run_server(side_t *sd, int fd)
{
    uv_loop_init(&sd->loop);
    sd->tls = server_tls();
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(&sd->loop, &sd->listener);
    sd->listener.data = sd;
    if (uv_tcp_bind(&sd->listener, (const struct sockaddr *)&a, 0) < 0 ||
        uv_listen((uv_stream_t *)&sd->listener, 4, srv_accept) < 0)
        fail("listen", "bind/listen failed");
    int len = sizeof a;
    uv_tcp_getsockname(&sd->listener, (struct sockaddr *)&a, &len);
    unsigned short port = ntohs(a.sin_port);
    if (write(fd, &port, sizeof port) != sizeof port) fail("pipe", "write");
    close(fd);
    uv_run(&sd->loop, UV_RUN_DEFAULT);
    tls_ctx_free(sd->tls);
    return 0;
}

/* ---- client (parent process) ---------------------------------------------------------------- */

static void cli_ready(stream_t *st, int status)
{
    if (status < 0) fail("client handshake", stream_error(st));
}

static int cli_data(stream_t *st, const uint8_t *d, size_t n)
{
    side_t *sd = stream_data(st);
    sd->moved += n;
    return 0;
}

static void cli_end(stream_t *st, int status)
{
    side_t *sd = stream_data(st);
    sd->t1 = uv_hrtime();
    if (status < 0) sd->failed = 1;
    stream_close(st);
}

static void cli_closed(stream_t *st) {}

static const stream_cb_t CLI_CB = {cli_ready, cli_data, cli_end, NULL, cli_closed};

static void run_client(side_t *sd, unsigned short port)
{
    char err[256];
    uv_loop_init(&sd->loop);
    tls_ctx_opts_t co = {.insecure = 1};
    if (tls_ctx_new(&co, &sd->tls, err, sizeof err) < 0) fail("client ctx", err);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", port, &a);
    stream_opts_t o = {.tls = sd->tls, .server_name = "127.0.0.1"};
    sd->t0 = uv_hrtime();
    if (stream_connect(&sd->loop, (const struct sockaddr *)&a, &o, &CLI_CB, sd, &sd->st) < 0)
        fail("connect", "stream_connect failed");
    uv_run(&sd->loop, UV_RUN_DEFAULT);
    tls_ctx_free(sd->tls);
}

int main(int argc, char **argv)
{
    static side_t srv, cli;
    uint64_t total = 1ULL << 30, chunk = 64 * 1024;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--bytes"))
            total = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--chunk"))
            chunk = strtoull(argv[i + 1], NULL, 10);
        else
            fail("usage", "tls_ceiling [--bytes N] [--chunk N]");
    }
    if (chunk == 0 || chunk > MAX_CHUNK) fail("usage", "--chunk must be 1..1048576");
    int fds[2];
    if (pipe(fds) < 0) fail("pipe", "failed");
    pid_t pid = fork();
    if (pid < 0) fail("fork", "failed");
    if (pid == 0) {
        close(fds[0]);
        /* The harness pins the reader (this process) to one core and asks for the writer on
         * the other, as it places clients and podmux-sim. */
        const char *cpu = getenv("PMX_BENCH_WRITER_CPU");
        if (cpu && *cpu) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(atoi(cpu), &set);
            if (sched_setaffinity(0, sizeof set, &set) < 0)
                perror("tls_ceiling: sched_setaffinity");
        }
        srv.total = total;
        srv.chunk = chunk;
        _exit(run_server(&srv, fds[1]));
    }
    close(fds[1]);
    unsigned short port = 0;
    if (read(fds[0], &port, sizeof port) != sizeof port) fail("server", "did not start");
    close(fds[0]);
    run_client(&cli, port);
    int st = 0;
    struct rusage sru, cru;
    wait4(pid, &st, 0, &sru);
    getrusage(RUSAGE_SELF, &cru);
    double wall = (double)(cli.t1 - cli.t0) / 1e9;
    double ccpu = tv_s(cru.ru_utime) + tv_s(cru.ru_stime);
    double scpu = tv_s(sru.ru_utime) + tv_s(sru.ru_stime);
    printf("{\"mode\":\"tls_ceiling\",\"bytes\":%llu,\"wall_s\":%.6f,\"mb_s\":%.3f,"
           "\"client_cpu_s\":%.6f,\"server_cpu_s\":%.6f,\"client_hwm_kib\":%ld,\"ok\":%d}\n",
           (unsigned long long)cli.moved, wall, wall > 0 ? (double)cli.moved / 1e6 / wall : 0, ccpu,
           scpu, cru.ru_maxrss, cli.moved == total && !cli.failed && st == 0);
    return cli.moved == total ? 0 : 1;
}
