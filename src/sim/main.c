/* podmux-sim: a local Kubernetes API server for pods, workloads, exec and attach.
 *
 *   podmux-sim [--listen HOST:PORT] [--cluster FILE.yaml | --pods N] --kubeconfig-out PATH
 *              [--state-dir DIR] [--faults FILE.yaml] [--idle-timeout SECONDS] [--token T]
 *              [--no-v5]
 *              [--exec-model process|remote] [--exec-start-ms MS] [--rtt-ms MS]
 *
 * --exec-model remote is the remote-cluster model of the benchmarks (proc_model.c): the commands
 * they use run inside the sim with no process, each starting --exec-start-ms after its request
 * (a kubelet/runc exec start); --rtt-ms puts a delaying TCP relay in front (netdelay.c), the
 * network round trip. The default is real processes and no delay.
 *
 * At start it creates a CA, a server certificate (SAN 127.0.0.1, ::1, localhost) and a client
 * certificate in the state dir, writes a kubeconfig with a token user and a client-certificate
 * user, and prints `ready https://HOST:PORT kubeconfig=PATH` once it accepts connections. */
#include <errno.h>
#include <fcntl.h>
#include <mbedtls/base64.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/netdelay.h"
#include "sim/sim.h"
#include "util/buf.h"

typedef struct sim_args {
    const char *listen, *cluster, *kubeconfig_out, *state_dir, *faults, *token;
    int pods, no_v5;
    double idle_timeout;
    int remote;                     /* --exec-model remote */
    uint64_t exec_start_ms, rtt_ms; /* remote-cluster model: exec start, network round trip */
} sim_args_t;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: podmux-sim [--listen HOST:PORT] [--cluster FILE.yaml | --pods N]\n"
            "                  --kubeconfig-out PATH [--state-dir DIR] [--faults FILE.yaml]\n"
            "                  [--idle-timeout SECONDS] [--token TOKEN] [--no-v5]\n"
            "                  [--exec-model process|remote] [--exec-start-ms MS] [--rtt-ms MS]\n\n"
            "A local Kubernetes API server (v1.32) for exec and attach over WebSocket, running\n"
            "real local processes. Prints 'ready https://HOST:PORT kubeconfig=PATH' when it\n"
            "accepts connections; stops cleanly on SIGINT/SIGTERM, ending every process.\n"
            "GET /podmux-sim/stats reports session counts (active, peak, total).\n\n"
            "--no-v5: behave like a server without v5.channel.k8s.io (Kubernetes before 1.30,\n"
            "or the stream translator turned off): a v5-only offer gets 403, a mixed one v4.\n"
            "--exec-model remote: a remote-cluster model for benchmarks: true, false, exit N,\n"
            "echo, cat, sleep N and head -c N /dev/zero (also under sh -c, and cat on a tty)\n"
            "run inside the sim with no process, the same protocol byte for byte; other\n"
            "commands still run as processes. --exec-start-ms: each such exec starts that\n"
            "much later (kubelet/runc; default 0). --rtt-ms: every connection goes through a\n"
            "relay that delays each direction by half of it (default 0: none).\n");
}

static int parse_args(int argc, char **argv, sim_args_t *a)
{
    memset(a, 0, sizeof *a);
    a->listen = "127.0.0.1:0";
    a->idle_timeout = 4 * 3600;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (!strcmp(k, "-h") || !strcmp(k, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (!strcmp(k, "--no-v5")) {
            a->no_v5 = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "podmux-sim: %s needs a value (see --help)\n", k);
            return -1;
        }
        const char *v = argv[++i];
        if (!strcmp(k, "--listen"))
            a->listen = v;
        else if (!strcmp(k, "--cluster"))
            a->cluster = v;
        else if (!strcmp(k, "--pods"))
            a->pods = atoi(v);
        else if (!strcmp(k, "--kubeconfig-out"))
            a->kubeconfig_out = v;
        else if (!strcmp(k, "--state-dir"))
            a->state_dir = v;
        else if (!strcmp(k, "--faults"))
            a->faults = v;
        else if (!strcmp(k, "--token"))
            a->token = v;
        else if (!strcmp(k, "--idle-timeout"))
            a->idle_timeout = atof(v);
        else if (!strcmp(k, "--exec-model")) {
            if (strcmp(v, "process") && strcmp(v, "remote")) {
                fprintf(stderr, "podmux-sim: --exec-model %s: expected process or remote\n", v);
                return -1;
            }
            a->remote = !strcmp(v, "remote");
        } else if (!strcmp(k, "--exec-start-ms") || !strcmp(k, "--rtt-ms")) {
            char *end = NULL;
            errno = 0;
            unsigned long long ms = strtoull(v, &end, 10);
            if (errno || end == v || *end || v[0] == '-' || ms > 3600000) {
                fprintf(stderr, "podmux-sim: %s %s: expected milliseconds (0 to 3600000)\n", k, v);
                return -1;
            }
            if (k[2] == 'e')
                a->exec_start_ms = ms;
            else
                a->rtt_ms = ms;
        } else {
            fprintf(stderr, "podmux-sim: unknown option %s (see --help)\n", k);
            return -1;
        }
    }
    if (!a->kubeconfig_out) {
        fprintf(stderr, "podmux-sim: --kubeconfig-out PATH is required\n");
        return -1;
    }
    if (a->exec_start_ms && !a->remote) {
        fprintf(stderr, "podmux-sim: --exec-start-ms needs --exec-model remote\n");
        return -1;
    }
    if (a->cluster && a->pods) {
        fprintf(stderr, "podmux-sim: --cluster and --pods exclude each other\n");
        return -1;
    }
    return 0;
}

static int write_file(const char *path, const char *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0) return -errno;
    fchmod(fd, mode);
    ssize_t n = write(fd, data, len);
    close(fd);
    return n == (ssize_t)len ? 0 : -EIO;
}

static int write_pair(const char *dir, const char *name, const tls_keypair_t *kp)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s.crt", dir, name);
    int r = write_file(p, kp->cert_pem, strlen(kp->cert_pem), 0644);
    snprintf(p, sizeof p, "%s/%s.key", dir, name);
    if (r == 0) r = write_file(p, kp->key_pem, strlen(kp->key_pem), 0600);
    return r;
}

static char *b64(const char *s)
{
    size_t n = 0, len = strlen(s);
    mbedtls_base64_encode(NULL, 0, &n, (const unsigned char *)s, len);
    char *out = malloc(n + 1);
    if (out && mbedtls_base64_encode((unsigned char *)out, n + 1, &n, (const unsigned char *)s,
                                     len) != 0) {
        free(out);
        return NULL;
    }
    if (out) out[n] = '\0';
    return out;
}

static int write_kubeconfig(const char *path, const char *server, const tls_keypair_t *ca,
                            const tls_keypair_t *client, const char *token)
{
    char *ca64 = b64(ca->cert_pem), *c64 = b64(client->cert_pem), *k64 = b64(client->key_pem);
    buf_t y;
    buf_init(&y, 0);
    buf_printf(&y,
               "apiVersion: v1\nkind: Config\npreferences: {}\n"
               "clusters:\n- name: podmux-sim\n  cluster:\n    server: %s\n"
               "    certificate-authority-data: %s\n"
               "users:\n- name: podmux-admin\n  user:\n    token: %s\n"
               "- name: podmux-cert-user\n  user:\n    client-certificate-data: %s\n"
               "    client-key-data: %s\n"
               "contexts:\n- name: podmux-sim\n  context:\n    cluster: podmux-sim\n"
               "    user: podmux-admin\n    namespace: default\n"
               "- name: podmux-sim-cert\n  context:\n    cluster: podmux-sim\n"
               "    user: podmux-cert-user\n    namespace: default\n"
               "current-context: podmux-sim\n",
               server, ca64 ? ca64 : "", token, c64 ? c64 : "", k64 ? k64 : "");
    int r = y.data ? write_file(path, y.data, y.len, 0600) : -ENOMEM;
    buf_free(&y);
    free(ca64);
    free(c64);
    free(k64);
    return r;
}

/* --faults FILE: a flat YAML mapping of the pod fault annotations without their prefix
 * (upgrade-status: 503, retry-after: 1, upgrade-delay-ms: 2000, drop-after-bytes: 1000,
 * reset: true, stall: true, close-without-status: true, malformed-frame: true, coalesce: true),
 * applied to every pod; an optional `pod-prefix: web-` limits it to pods whose name starts so. */
static int apply_faults_file(sim_model_t *m, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "podmux-sim: cannot read faults file %s: %s\n", path, strerror(errno));
        return -1;
    }
    sim_faults_t fl = {0, -1, 0, -1, 0, 0, 0, 0, 0};
    char line[512], prefix[256] = "";
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *h = strchr(line, '#');
        if (h) *h = '\0';
        char *colon = strchr(line, ':');
        if (!colon) continue;
        *colon = '\0';
        char key[128], val[256] = "";
        if (sscanf(line, " %127s", key) != 1) continue;
        sscanf(colon + 1, " %255[^\r\n \"]", val);
        if (val[0] == '"') memmove(val, val + 1, strlen(val));
        int on = !strcmp(val, "true") || !strcmp(val, "1");
        if (!strcmp(key, "upgrade-status"))
            fl.upgrade_status = atoi(val);
        else if (!strcmp(key, "retry-after"))
            fl.retry_after = atoi(val);
        else if (!strcmp(key, "upgrade-delay-ms"))
            fl.upgrade_delay_ms = atoi(val);
        else if (!strcmp(key, "drop-after-bytes"))
            fl.drop_after_bytes = atoll(val);
        else if (!strcmp(key, "reset"))
            fl.reset_after_open = on;
        else if (!strcmp(key, "stall"))
            fl.stall = on;
        else if (!strcmp(key, "close-without-status"))
            fl.close_without_status = on;
        else if (!strcmp(key, "malformed-frame"))
            fl.malformed_frame = on;
        else if (!strcmp(key, "coalesce"))
            fl.coalesce = on;
        else if (!strcmp(key, "pod-prefix"))
            snprintf(prefix, sizeof prefix, "%s", val);
        else {
            fprintf(stderr, "podmux-sim: faults file %s line %d: unknown key \"%s\"\n", path,
                    lineno, key);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    for (size_t i = 0; i < m->npods; i++)
        if (!strncmp(m->pods[i].name, prefix, strlen(prefix))) m->pods[i].faults = fl;
    return 0;
}

/* ---- lifetime ----------------------------------------------------------------------------- */
typedef struct sim_main_state {
    sim_server_t srv; /* first: on_stopped gets &srv */
    uv_signal_t sigint, sigterm, sighup;
    netdelay_t delay; /* --rtt-ms */
} sim_main_state_t;

static void close_walk_cb(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void on_stopped(sim_server_t *srv)
{
    netdelay_stop(&((sim_main_state_t *)srv)->delay);
    uv_walk(srv->loop, close_walk_cb, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
    sim_main_state_t *st = s->data;
    sim_server_stop(&st->srv);
}

static int make_state_dir(const sim_args_t *a, char *out, size_t len)
{
    if (a->state_dir) {
        snprintf(out, len, "%s", a->state_dir);
        if (mkdir(out, 0700) < 0 && errno != EEXIST) return -errno;
        return 0;
    }
    snprintf(out, len, "/tmp/podmux-sim-XXXXXX");
    return mkdtemp(out) ? 0 : -errno;
}

static int setup(sim_main_state_t *st, const sim_args_t *a, char *dir, int *port, char *server_url,
                 size_t url_len)
{
    sim_server_t *srv = &st->srv;
    char err[512] = "";
    srv->model = sim_model_new();
    if (!srv->model) return -1;
    int r = 0;
    if (a->cluster)
        r = sim_model_load_file(srv->model, a->cluster, err, sizeof err);
    else
        r = sim_model_generate(srv->model, a->pods > 0 ? a->pods : 3, err, sizeof err);
    if (r < 0) {
        fprintf(stderr, "podmux-sim: %s: %s\n", a->cluster ? a->cluster : "--pods", err);
        return -1;
    }
    if (a->faults && apply_faults_file(srv->model, a->faults) < 0) return -1;

    /* Credentials: a random admin token (or --token) and a client-certificate user. */
    char token[65];
    if (a->token) {
        snprintf(token, sizeof token, "%s", a->token);
    } else {
        uint8_t rnd[16];
        uv_random(NULL, NULL, rnd, sizeof rnd, 0, NULL);
        for (int i = 0; i < 16; i++)
            snprintf(token + 2 * i, 3, "%02x", rnd[i]);
    }
    sim_model_add_user(srv->model, "podmux-admin", token, NULL);
    sim_model_add_user(srv->model, "podmux-cert-user", NULL, "podmux-cert-user");

    tls_ctx_t *rng = NULL;
    tls_ctx_opts_t ro = {0};
    ro.insecure = 1;
    if (tls_ctx_new(&ro, &rng, err, sizeof err) < 0) {
        fprintf(stderr, "podmux-sim: %s\n", err);
        return -1;
    }
    tls_keypair_t ca = {0}, server = {0}, client = {0};
    const char *dns[] = {"localhost"};
    const char *ips[] = {"127.0.0.1", "::1"};
    r = tls_gen_ca(rng, "podmux-sim-ca", &ca);
    if (r == 0) r = tls_gen_leaf(rng, &ca, "podmux-sim", NULL, dns, 1, ips, 2, 0, &server);
    if (r == 0)
        r = tls_gen_leaf(rng, &ca, "podmux-cert-user", "system:masters", NULL, 0, NULL, 0, 1,
                         &client);
    tls_ctx_free(rng);
    if (r < 0) {
        fprintf(stderr, "podmux-sim: cannot generate certificates (%d)\n", r);
        return -1;
    }
    char bin[1100];
    snprintf(bin, sizeof bin, "%s/bin", dir);
    mkdir(bin, 0755);
    snprintf(bin, sizeof bin, "%s/bin/hostname", dir);
    static const char shim[] = "#!/bin/sh\n# podmux-sim: a pod's hostname is its name\n"
                               "[ $# -eq 0 ] && [ -n \"$HOSTNAME\" ] && exec echo \"$HOSTNAME\"\n"
                               "exec /bin/hostname \"$@\"\n";
    write_file(bin, shim, sizeof shim - 1, 0755);
    if (write_pair(dir, "ca", &ca) < 0 || write_pair(dir, "server", &server) < 0 ||
        write_pair(dir, "client", &client) < 0) {
        fprintf(stderr, "podmux-sim: cannot write certificates in %s\n", dir);
        return -1;
    }
    tls_ctx_opts_t so = {0};
    so.is_server = 1;
    so.cert_data = (const uint8_t *)server.cert_pem;
    so.cert_data_len = strlen(server.cert_pem) + 1;
    so.key_data = (const uint8_t *)server.key_pem;
    so.key_data_len = strlen(server.key_pem) + 1;
    so.ca_data = (const uint8_t *)ca.cert_pem;
    so.ca_data_len = strlen(ca.cert_pem) + 1;
    r = tls_ctx_new(&so, &srv->tls, err, sizeof err);
    if (r < 0) {
        fprintf(stderr, "podmux-sim: TLS setup: %s\n", err);
        return -1;
    }

    char host[256];
    const char *colon = strrchr(a->listen, ':');
    if (!colon) {
        fprintf(stderr, "podmux-sim: --listen %s: expected HOST:PORT\n", a->listen);
        return -1;
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - a->listen), a->listen);
    if (host[0] == '[') {
        memmove(host, host + 1, strlen(host));
        host[strcspn(host, "]")] = '\0';
    }
    int inner = 0;
    r = sim_server_listen(srv, host, a->rtt_ms ? 0 : atoi(colon + 1), a->rtt_ms ? &inner : port);
    if (r == 0 && a->rtt_ms)
        r = netdelay_start(&st->delay, srv->loop, host, atoi(colon + 1), inner, a->rtt_ms, port);
    if (r < 0) {
        fprintf(stderr, "podmux-sim: cannot listen on %s: %s\n", a->listen, uv_strerror(r));
        return -1;
    }
    int v6 = strchr(host, ':') != NULL;
    snprintf(server_url, url_len, v6 ? "https://[%s]:%d" : "https://%s:%d", host, *port);
    char hp[300];
    snprintf(hp, sizeof hp, v6 ? "[%s]:%d" : "%s:%d", host, *port);
    sim_model_set_server_address(srv->model, hp);
    r = write_kubeconfig(a->kubeconfig_out, server_url, &ca, &client, token);
    tls_keypair_free(&ca);
    tls_keypair_free(&server);
    tls_keypair_free(&client);
    if (r < 0) {
        fprintf(stderr, "podmux-sim: cannot write kubeconfig %s: %s\n", a->kubeconfig_out,
                strerror(-r));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    sim_args_t a;
    if (parse_args(argc, argv, &a) < 0) return 2;
    signal(SIGPIPE, SIG_IGN);
    /* A socket and a few pipes per session: the soft open-file limit goes up to the hard one,
     * as the kube-apiserver (a Go program) does. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    char dir[1024];
    if (make_state_dir(&a, dir, sizeof dir) < 0) {
        fprintf(stderr, "podmux-sim: cannot create state dir: %s\n", strerror(errno));
        return 1;
    }
    sim_main_state_t st;
    memset(&st, 0, sizeof st);
    uv_loop_t *loop = uv_default_loop();
    st.srv.loop = loop;
    st.srv.state_dir = dir;
    st.srv.idle_timeout_ms = (uint64_t)(a.idle_timeout * 1000);
    st.srv.no_v5 = a.no_v5;
    st.srv.on_stopped = on_stopped;
    /* Before anything can spawn; on_stopped's uv_walk closes its handle. */
    int r = sim_proc_registry_init(&st.srv.procs, loop);
    if (r < 0) {
        fprintf(stderr, "podmux-sim: SIGCHLD handler: %s\n", uv_strerror(r));
        return 1;
    }
    st.srv.procs.model = a.remote;
    st.srv.procs.model_start_ms = a.exec_start_ms;
    int port = 0;
    char url[320];
    if (setup(&st, &a, dir, &port, url, sizeof url) < 0) {
        sim_model_free(st.srv.model); /* NULL-safe; LeakSanitizer checks this exit too */
        return 1;
    }
    uv_signal_t *sigs[] = {&st.sigint, &st.sigterm, &st.sighup};
    int nums[] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; i++) {
        uv_signal_init(loop, sigs[i]);
        sigs[i]->data = &st;
        uv_signal_start(sigs[i], on_signal, nums[i]);
    }
    printf("ready %s kubeconfig=%s\n", url, a.kubeconfig_out);
    fflush(stdout);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    if (st.srv.tls) tls_ctx_free(st.srv.tls);
    sim_model_free(st.srv.model);
    return 0;
}
