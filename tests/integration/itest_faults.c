/* Fault matrix for libpodmux against podmux-sim (issue 9, library level).
 *
 * Each fault must end a session with the exact PMX_E* code and a one-line message naming the
 * problem, deliver the output that arrived before the fault, call on_exit exactly once and then
 * on_close, and leak nothing (LeakSanitizer fails the binary at exit). Timeouts and keepalive
 * are set small so the whole matrix runs in well under a minute.
 *
 * Faulty pods come from data/faults-cluster.yaml; TLS and credential faults use kubeconfigs
 * this test writes itself (wrong CA, wrong tls-server-name, an expired server certificate
 * served by `openssl s_server`, a client certificate from another CA, exec plugin scripts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "client/internal.h" /* auth_set_exec_timeout: the public options have no plugin timeout */
#include "proto/tls.h"
#include "podmux.h"
#include "simproc.h"

#define ADMIN_TOKEN "faults-admin-token-0123456789"

static simproc_t SIM;
static char CA[400], CAKEY[400];
static pid_t TLS_SERVER; /* openssl s_server for the expired certificate; killed in teardown */

/* ---- small helpers ---------------------------------------------------------------------- */
static void write_text(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    chmod(path, mode);
}

/* Writes SIM.dir/<name>.kubeconfig for server with extra cluster and user lines; returns it. */
static const char *kcfg(const char *name, const char *server, const char *cluster_extra,
                        const char *user_lines)
{
    static char path[8][400];
    static int slot;
    char *p = path[slot++ % 8];
    snprintf(p, 400, "%s/%s.kubeconfig", SIM.dir, name);
    char text[8192];
    snprintf(text, sizeof text,
             "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: %s\n%s"
             "users:\n- name: u\n  user:\n%s"
             "contexts:\n- name: x\n  context: {cluster: c, user: u, namespace: default}\n"
             "current-context: x\n",
             server, cluster_extra, user_lines);
    write_text(p, text, 0600);
    return p;
}

static const char *ca_line(void)
{
    static char line[500];
    snprintf(line, sizeof line, "    certificate-authority: %s\n", CA);
    return line;
}

static const char *good_kcfg(void)
{
    return kcfg("good", SIM.url, ca_line(), "    token: " ADMIN_TOKEN "\n");
}

/* A loopback port nobody listens on (bound, then closed). */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- running one session ---------------------------------------------------------------- */
typedef struct run {
    /* inputs */
    const char *kubeconfig;
    const char *ns, *pod, *container;
    const char *const *argv;
    int argc;
    uint64_t keepalive_ms, upgrade_timeout_ms, connect_timeout_ms;
    size_t max_message;
    uint64_t exec_timeout_ms;
    uint64_t cancel_after_ms; /* pmx_session_close from a timer */
    size_t stdin_bytes;       /* zeros streamed to stdin (then close_stdin) */
    /* private */
    pmx_session_t *s;
    uv_timer_t cancel;
    size_t stdin_sent;
    /* outputs */
    int client_rc;
    char client_err[512];
    int exits, closes;
    pmx_exit_t x;
    char message[1024], reason[64];
    char out[16384];
    size_t out_len;
    uint64_t out_total;
    double ms;
    char log[32768];
    size_t log_len;
} run_t;

static void r_stdout(pmx_session_t *s, const char *b, size_t n, void *d)
{
    run_t *r = d;
    assert_int_equal(r->exits, 0); /* no output after on_exit */
    size_t room = sizeof r->out - r->out_len;
    memcpy(r->out + r->out_len, b, n < room ? n : room);
    r->out_len += n < room ? n : room;
    r->out_total += n;
}

static void r_exit(pmx_session_t *s, const pmx_exit_t *e, void *d)
{
    run_t *r = d;
    assert_int_equal(r->exits, 0);
    assert_int_equal(r->closes, 0);
    r->exits++;
    r->x = *e;
    snprintf(r->message, sizeof r->message, "%s", e->message ? e->message : "");
    snprintf(r->reason, sizeof r->reason, "%s", e->reason ? e->reason : "");
    r->x.message = r->message;
    r->x.reason = r->reason;
}

static void r_close(pmx_session_t *s, void *d)
{
    run_t *r = d;
    assert_int_equal(r->exits, 1);
    r->closes++;
}

static void r_log(void *d, const char *line)
{
    run_t *r = d;
    size_t n = strlen(line), room = sizeof r->log - r->log_len - 2;
    if (n > room) n = room;
    memcpy(r->log + r->log_len, line, n);
    r->log_len += n;
    r->log[r->log_len++] = '\n';
    r->log[r->log_len] = '\0';
}

static void r_feed(run_t *r)
{
    static const char zeros[65536];
    while (r->stdin_sent < r->stdin_bytes && !r->exits) {
        size_t n = r->stdin_bytes - r->stdin_sent;
        long q = pmx_session_write(r->s, zeros, n < sizeof zeros ? n : sizeof zeros);
        if (q < 0) return; /* the session ended: PMX_EBUSY */
        r->stdin_sent += n < sizeof zeros ? n : sizeof zeros;
        if (q > 1024 * 1024) return;
    }
    if (r->stdin_bytes && r->stdin_sent == r->stdin_bytes && !r->exits) {
        r->stdin_bytes = 0;
        pmx_session_close_stdin(r->s);
    }
}

static void r_drain(pmx_session_t *s, void *d)
{
    r_feed(d);
}

static void r_cancel(uv_timer_t *t)
{
    run_t *r = t->data;
    if (!r->closes) pmx_session_close(r->s);
}

static const pmx_session_cb_t RCB = {NULL, r_stdout, r_stdout, r_exit, r_drain, r_close};

/* Runs r to completion on a fresh loop; returns 0, or the pmx_client_new error. */
static int run(run_t *r)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pmx_client_opts_t o = {0};
    o.kubeconfig = r->kubeconfig;
    o.keepalive_ms = r->keepalive_ms;
    o.upgrade_timeout_ms = r->upgrade_timeout_ms ? r->upgrade_timeout_ms : 5000;
    o.connect_timeout_ms = r->connect_timeout_ms ? r->connect_timeout_ms : 3000;
    o.handshake_timeout_ms = 3000;
    o.max_message = r->max_message;
    o.log = r_log;
    o.log_data = r;
    pmx_client_t *c = NULL;
    r->client_rc = pmx_client_new(&loop, &o, &c, r->client_err, sizeof r->client_err);
    if (r->client_rc) {
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return r->client_rc;
    }
    if (r->exec_timeout_ms) auth_set_exec_timeout(pmx__client_auth(c), r->exec_timeout_ms);
    static const char *const dflt[] = {"sh", "-c", "echo hello"};
    pmx_session_opts_t so = {0};
    so.kind = PMX_EXEC;
    so.namespace_ = r->ns;
    so.pod = r->pod ? r->pod : "ok";
    so.container = r->container;
    so.argv = r->argv ? r->argv : dflt;
    so.argc = r->argv ? r->argc : 3;
    so.stdout_ = so.stderr_ = 1;
    so.stdin_ = r->stdin_bytes > 0;
    uint64_t t0 = uv_hrtime();
    assert_int_equal(pmx_session_start(c, &so, &RCB, r, &r->s), 0);
    uv_timer_init(&loop, &r->cancel);
    r->cancel.data = r;
    if (r->cancel_after_ms) uv_timer_start(&r->cancel, r_cancel, r->cancel_after_ms, 0);
    r_feed(r);
    uv_run(&loop, UV_RUN_ONCE);
    while (!r->closes)
        uv_run(&loop, UV_RUN_ONCE); /* the cancel timer keeps the loop alive */
    r->ms = (double)(uv_hrtime() - t0) / 1e6;
    uv_close((uv_handle_t *)&r->cancel, NULL);
    assert_int_equal(r->exits, 1);
    assert_int_equal(r->closes, 1);
    /* Freed right after on_close: whatever the client still runs (a plugin) must end now. */
    assert_int_equal(pmx_client_free(c), 0);
    uint64_t t1 = uv_hrtime();
    uv_run(&loop, UV_RUN_DEFAULT); /* the client's own handles close asynchronously */
    assert_true(uv_hrtime() - t1 < 5000000000ull);
    assert_int_equal(uv_loop_close(&loop), 0);
    /* -v traces never carry a secret (issue 9, security). */
    assert_null(strstr(r->log, ADMIN_TOKEN));
    assert_null(strstr(r->log, "Bearer"));
    assert_null(strstr(r->log, "PRIVATE KEY"));
    fprintf(stderr, "    [%s] %.0f ms: %s %s\n", so.pod, r->ms, pmx_err_name(r->x.err), r->message);
    return 0;
}

/* The failure contract: exact code, one line naming the problem, no exit code. */
static void expect_fail(const run_t *r, int err, const char *needle)
{
    if (r->x.err != err || !strstr(r->message, needle))
        fprintf(stderr, "want %s with \"%s\", got %s: \"%s\"\n", pmx_err_name(err), needle,
                pmx_err_name(r->x.err), r->message);
    assert_int_equal(r->x.err, err);
    assert_int_equal(r->x.exit_code, -1);
    assert_non_null(strstr(r->message, needle));
    assert_null(strchr(r->message, '\n'));
    assert_true(strlen(r->message) > 10);
}

/* ---- connection and TLS faults ------------------------------------------------------------ */
static void test_connection_refused(void **state)
{
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d", closed_port());
    run_t r = {.kubeconfig = kcfg("refused", url, ca_line(), "    token: x\n")};
    assert_int_equal(run(&r), 0);
    expect_fail(&r, PMX_ECONNECT, "refused");
    assert_non_null(strstr(r.message, url + 8));
    assert_int_equal(r.x.command_started, 0);
    assert_true(r.ms < 2000);
}

static void test_dns_failure(void **state)
{
    run_t r = {.kubeconfig = kcfg("dns", "https://podmux-no-such-host.invalid:6443", ca_line(),
                                  "    token: x\n")};
    assert_int_equal(run(&r), 0);
    expect_fail(&r, PMX_EDNS, "podmux-no-such-host.invalid");
}

static tls_ctx_t *rng_ctx(void)
{
    tls_ctx_t *rng = NULL;
    tls_ctx_opts_t ro = {0};
    ro.insecure = 1;
    char err[256];
    assert_int_equal(tls_ctx_new(&ro, &rng, err, sizeof err), 0);
    return rng;
}

static void test_tls_unknown_ca(void **state)
{
    tls_ctx_t *rng = rng_ctx();
    tls_keypair_t other = {0};
    assert_int_equal(tls_gen_ca(rng, "some-other-ca", &other), 0);
    char path[400], line[500];
    snprintf(path, sizeof path, "%s/other-ca.crt", SIM.dir);
    write_text(path, other.cert_pem, 0644);
    snprintf(line, sizeof line, "    certificate-authority: %s\n", path);
    run_t r = {.kubeconfig = kcfg("badca", SIM.url, line, "    token: " ADMIN_TOKEN "\n")};
    assert_int_equal(run(&r), 0);
    expect_fail(&r, PMX_ETLS, "not trusted by CA");
    tls_keypair_free(&other);
    tls_ctx_free(rng);
}

static void test_tls_hostname_mismatch(void **state)
{
    char extra[600];
    snprintf(extra, sizeof extra, "%s    tls-server-name: api.wrong.example\n", ca_line());
    run_t r = {.kubeconfig = kcfg("badname", SIM.url, extra, "    token: " ADMIN_TOKEN "\n")};
    assert_int_equal(run(&r), 0);
    expect_fail(&r, PMX_ETLS, "hostname mismatch");
    assert_non_null(strstr(r.message, "api.wrong.example"));
}

/* A leaf for localhost/127.0.0.1 signed by the sim's CA that expired in 2021. */
static void make_expired_leaf(const char *crt_out, const char *key_out)
{
    mbedtls_entropy_context ent;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_pk_context key, cakey;
    mbedtls_x509_crt ca;
    mbedtls_x509write_cert w;
    mbedtls_mpi serial;
    mbedtls_entropy_init(&ent);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_pk_init(&key);
    mbedtls_pk_init(&cakey);
    mbedtls_x509_crt_init(&ca);
    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&serial);
    assert_int_equal(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0), 0);
    assert_int_equal(mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    assert_int_equal(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key),
                                         mbedtls_ctr_drbg_random, &drbg),
                     0);
    assert_int_equal(mbedtls_pk_parse_keyfile(&cakey, CAKEY, NULL), 0);
    assert_int_equal(mbedtls_x509_crt_parse_file(&ca, CA), 0);
    char issuer[256];
    assert_true(mbedtls_x509_dn_gets(issuer, sizeof issuer, &ca.subject) > 0);
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, &key);
    mbedtls_x509write_crt_set_issuer_key(&w, &cakey);
    assert_int_equal(mbedtls_x509write_crt_set_subject_name(&w, "CN=expired"), 0);
    assert_int_equal(mbedtls_x509write_crt_set_issuer_name(&w, issuer), 0);
    mbedtls_mpi_lset(&serial, 4242);
    assert_int_equal(mbedtls_x509write_crt_set_serial(&w, &serial), 0);
    assert_int_equal(mbedtls_x509write_crt_set_validity(&w, "20200101000000", "20210101000000"), 0);
    /* subjectAltName: DNS localhost, IP 127.0.0.1 (only the date may be wrong). */
    static const unsigned char san[] = {0x30, 0x11, 0x82, 0x09, 'l',  'o',  'c',  'a',  'l', 'h',
                                        'o',  's',  't',  0x87, 0x04, 0x7f, 0x00, 0x00, 0x01};
    assert_int_equal(mbedtls_x509write_crt_set_extension(
                         &w, MBEDTLS_OID_SUBJECT_ALT_NAME,
                         MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, san, sizeof san),
                     0);
    unsigned char pem[4096];
    assert_int_equal(mbedtls_x509write_crt_pem(&w, pem, sizeof pem, mbedtls_ctr_drbg_random, &drbg),
                     0);
    write_text(crt_out, (char *)pem, 0644);
    assert_int_equal(mbedtls_pk_write_key_pem(&key, pem, sizeof pem), 0);
    write_text(key_out, (char *)pem, 0600);
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&w);
    mbedtls_x509_crt_free(&ca);
    mbedtls_pk_free(&cakey);
    mbedtls_pk_free(&key);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&ent);
}

static int wait_listening(int port)
{
    for (int i = 0; i < 100; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons((uint16_t)port);
        int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok) return 0;
        usleep(50000);
    }
    return -1;
}

static void test_tls_expired_certificate(void **state)
{
    char crt[400], key[400], acc[64], url[64];
    snprintf(crt, sizeof crt, "%s/expired.crt", SIM.dir);
    snprintf(key, sizeof key, "%s/expired.key", SIM.dir);
    make_expired_leaf(crt, key);
    int port = closed_port();
    snprintf(acc, sizeof acc, "127.0.0.1:%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0), dup2(null, 1), dup2(null, 2);
        execlp("openssl", "openssl", "s_server", "-quiet", "-accept", acc, "-cert", crt, "-key",
               key, (char *)NULL);
        _exit(127);
    }
    TLS_SERVER = pid;
    if (wait_listening(port) < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        skip(); /* no openssl: cannot serve an expired certificate */
    }
    snprintf(url, sizeof url, "https://127.0.0.1:%d", port);
    run_t r = {.kubeconfig = kcfg("expired", url, ca_line(), "    token: " ADMIN_TOKEN "\n")};
    int rc = run(&r);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    TLS_SERVER = 0;
    assert_int_equal(rc, 0);
    expect_fail(&r, PMX_ETLS, "expired");
}

/* A client certificate from another CA, with the CN of a real user: the server must not trust
 * it, so the request is anonymous: 401 (kube-apiserver verifies client certs against its CA). */
static void test_tls_client_cert_rejected(void **state)
{
    tls_ctx_t *rng = rng_ctx();
    tls_keypair_t other = {0}, leaf = {0};
    assert_int_equal(tls_gen_ca(rng, "rogue-ca", &other), 0);
    assert_int_equal(
        tls_gen_leaf(rng, &other, "podmux-cert-user", "system:masters", NULL, 0, NULL, 0, 1, &leaf),
        0);
    char crt[400], key[400], user[1000];
    snprintf(crt, sizeof crt, "%s/rogue.crt", SIM.dir);
    snprintf(key, sizeof key, "%s/rogue.key", SIM.dir);
    write_text(crt, leaf.cert_pem, 0644);
    write_text(key, leaf.key_pem, 0600);
    snprintf(user, sizeof user, "    client-certificate: %s\n    client-key: %s\n", crt, key);
    run_t r = {.kubeconfig = kcfg("rogue", SIM.url, ca_line(), user)};
    assert_int_equal(run(&r), 0);
    expect_fail(&r, PMX_EUNAUTHORIZED, "unauthorized");
    assert_int_equal(r.x.http_status, 401);
    assert_int_equal(r.out_total, 0);
    tls_keypair_free(&leaf);
    tls_keypair_free(&other);
    tls_ctx_free(rng);
}

/* ---- HTTP refusals ------------------------------------------------------------------------ */
static void test_401(void **state)
{
    run_t r = {.kubeconfig = kcfg("t401", SIM.url, ca_line(), "    token: wrong-token\n")};
    assert_int_equal(run(&r), 0);
    expect_fail(&r, PMX_EUNAUTHORIZED, "Unauthorized");
    assert_int_equal(r.x.http_status, 401);
    assert_null(strstr(r.message, "wrong-token"));
}

static void test_403(void **state)
{
    run_t r = {.kubeconfig = kcfg("t403", SIM.url, ca_line(), "    token: limited-token\n"),
               .ns = "restricted",
               .pod = "secret"};
    assert_int_equal(run(&r), 0);
    expect_fail(&r, PMX_EFORBIDDEN, "pods \"secret\" is forbidden: User \"limited\"");
    assert_int_equal(r.x.http_status, 403);
    assert_string_equal(r.reason, "Forbidden");
}

static void test_404_pod(void **state)
{
    run_t r = {.kubeconfig = good_kcfg(), .pod = "no-such-pod"};
    assert_int_equal(run(&r), 0);
    expect_fail(&r, PMX_ENOTFOUND, "pods \"no-such-pod\" not found");
    assert_int_equal(r.x.http_status, 404);
    assert_string_equal(r.reason, "NotFound");
}

static void test_400_container(void **state)
{
    run_t r = {.kubeconfig = good_kcfg(), .container = "nope"};
    assert_int_equal(run(&r), 0);
    expect_fail(&r, PMX_EBADREQUEST, "container nope is not valid for pod ok");
    assert_int_equal(r.x.http_status, 400);
}

static void test_429_retry_after(void **state)
{
    run_t r = {.kubeconfig = good_kcfg(), .pod = "f-429"};
    assert_int_equal(run(&r), 0);
    expect_fail(&r, PMX_ETOOMANY, "Too many requests");
    assert_int_equal(r.x.http_status, 429);
    assert_true(r.x.retry_after == 1.0);
    assert_int_equal(r.x.command_started, 0);
}

static void test_503(void **state)
{
    run_t r = {.kubeconfig = good_kcfg(), .pod = "f-503"};
    assert_int_equal(run(&r), 0);
    expect_fail(&r, PMX_ESERVER, "unable to handle the request");
    assert_int_equal(r.x.http_status, 503);
    assert_true(r.x.retry_after == 1.0);
    assert_int_equal(r.x.command_started, 0);
}

/* Frees a fan-out and its client, lets their handles close, and closes the loop. */
static void fanout_end(uv_loop_t *loop, pmx_fanout_t *f, pmx_client_t *c)
{
    assert_int_equal(pmx_fanout_free(f), 0);
    assert_int_equal(pmx_client_free(c), 0);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

/* Fan-out retries 429/503 (the command cannot have started), honouring Retry-After. */
typedef struct fo {
    int done, finished;
} fo_t;

static void fo_output(pmx_fanout_t *f, size_t index, int fd, const char *buf, size_t len,
                      void *data)
{
}

static void fo_done(pmx_fanout_t *f, const pmx_fanout_result_t *r, void *d)
{
    ((fo_t *)d)->done++;
}

static void fo_finish(pmx_fanout_t *f, void *d)
{
    ((fo_t *)d)->finished++;
}

static void test_fanout_retries_429_503(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pmx_client_opts_t o = {0};
    o.kubeconfig = good_kcfg();
    pmx_client_t *c = NULL;
    assert_int_equal(pmx_client_new(&loop, &o, &c, NULL, 0), 0);
    const char *argv[] = {"echo", "hi"};
    pmx_fanout_opts_t fo = {0};
    fo.argv = argv;
    fo.argc = 2;
    fo.retries = 2;
    fo.retry_base_ms = 50; /* shorter than Retry-After: 1, which must win */
    pmx_fanout_cb_t cb = {NULL, fo_output, fo_done, NULL, fo_finish};
    fo_t st = {0};
    pmx_fanout_t *f = NULL;
    assert_int_equal(pmx_fanout_new(c, &fo, &cb, &st, &f), 0);
    assert_int_equal(pmx_fanout_add(f, NULL, "f-429", NULL), 0);
    assert_int_equal(pmx_fanout_add(f, NULL, "f-503", NULL), 1);
    assert_int_equal(pmx_fanout_add(f, NULL, "ok", NULL), 2);
    uint64_t t0 = uv_hrtime();
    assert_int_equal(pmx_fanout_start(f), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    assert_int_equal(st.finished, 1);
    assert_int_equal(st.done, 3);
    size_t n = 0;
    const pmx_fanout_result_t *const *res = pmx_fanout_results(f, &n);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        const pmx_fanout_result_t *x = res[i];
        fprintf(stderr, "    %s: %u attempts, %s %s\n", x->pod, x->attempts,
                pmx_err_name(x->exit.err), x->exit.message);
        if (x->index == 2) {
            assert_int_equal(x->exit.err, 0);
            assert_int_equal(x->attempts, 1);
        } else {
            assert_int_equal(x->exit.err, x->index == 0 ? PMX_ETOOMANY : PMX_ESERVER);
            assert_int_equal(x->attempts, 3);
            assert_true(x->exit.retry_after == 1.0);
        }
    }
    /* Two waits of at least Retry-After (1 s) each. */
    assert_true(ms >= 1900);
    assert_true(ms < 15000);
    fanout_end(&loop, f, c);
}

/* ---- stream faults ----------------------------------------------------------------------- */
/* The stream faults in one pmx_fanout next to a healthy pod: each target ends with its own code
 * and one line naming the fault, the healthy pod's output is whole, the faulty pods' output is
 * delivered up to the fault, nothing is retried once the command started (retries = 2: only the
 * upgrade that was never answered is tried 3 times), and the fan-out finishes once with every
 * target done. */
#define FO_N 6
typedef struct fo_out {
    char out[FO_N][4096];
    size_t len[FO_N];
    int done[FO_N], finished;
} fo_out_t;

static void fo2_output(pmx_fanout_t *f, size_t index, int fd, const char *buf, size_t len,
                       void *data)
{
    fo_out_t *st = data;
    assert_true(index < FO_N);
    assert_int_equal(fd, 1);
    assert_int_equal(st->done[index], 0); /* no output after the target is done */
    size_t room = sizeof st->out[index] - st->len[index];
    assert_true(len <= room);
    memcpy(st->out[index] + st->len[index], buf, len);
    st->len[index] += len;
}

static void fo2_done(pmx_fanout_t *f, const pmx_fanout_result_t *r, void *d)
{
    fo_out_t *st = d;
    assert_int_equal(st->done[r->index], 0);
    st->done[r->index]++;
}

static void fo2_finish(pmx_fanout_t *f, void *d)
{
    ((fo_out_t *)d)->finished++;
}

static void test_fanout_stream_faults(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pmx_client_opts_t o = {0};
    o.kubeconfig = good_kcfg();
    o.keepalive_ms = 100;
    o.upgrade_timeout_ms = 1000;
    pmx_client_t *c = NULL;
    assert_int_equal(pmx_client_new(&loop, &o, &c, NULL, 0), 0);
    static const char script[] = "printf hello; sleep 0.4; head -c 900 /dev/zero | tr '\\0' x; "
                                 "sleep 0.4; head -c 900 /dev/zero | tr '\\0' y; echo";
    const char *argv[] = {"sh", "-c", script};
    pmx_fanout_opts_t fo = {0};
    fo.argv = argv;
    fo.argc = 3;
    fo.retries = 2;
    fo.retry_base_ms = 50;
    pmx_fanout_cb_t cb = {NULL, fo2_output, fo2_done, NULL, fo2_finish};
    static const char *const pods[FO_N] = {"ok",          "f-drop",  "f-nostatus",
                                           "f-malformed", "f-stall", "f-delay"};
    static const int want_err[FO_N] = {0,          PMX_ELOST,     PMX_ENOSTATUS,
                                       PMX_EPROTO, PMX_ETIMEDOUT, PMX_ETIMEDOUT};
    static const char *const want_msg[FO_N] = {NULL,
                                               "lost",
                                               "exit status is unknown",
                                               "WebSocket protocol error from the server",
                                               "no data and no pong",
                                               "did not answer the upgrade request within 1 s"};
    fo_out_t *st = calloc(1, sizeof *st);
    pmx_fanout_t *f = NULL;
    assert_int_equal(pmx_fanout_new(c, &fo, &cb, st, &f), 0);
    for (int i = 0; i < FO_N; i++)
        assert_int_equal(pmx_fanout_add(f, NULL, pods[i], NULL), i);
    assert_int_equal(pmx_fanout_start(f), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(st->finished, 1);
    size_t n = 0;
    const pmx_fanout_result_t *const *res = pmx_fanout_results(f, &n);
    assert_int_equal(n, FO_N);
    char full[1806], upto[905];
    memcpy(full, "hello", 5);
    memset(full + 5, 'x', 900);
    memset(full + 905, 'y', 900);
    full[1805] = '\n';
    memcpy(upto, full, sizeof upto);
    for (size_t k = 0; k < n; k++) {
        const pmx_fanout_result_t *x = res[k];
        size_t i = x->index;
        fprintf(stderr, "    %s: %u attempt(s), %s %s; %zu bytes\n", x->pod, x->attempts,
                pmx_err_name(x->exit.err), x->exit.message ? x->exit.message : "", st->len[i]);
        assert_int_equal(st->done[i], 1);
        assert_string_equal(x->pod, pods[i]);
        assert_int_equal(x->exit.err, want_err[i]);
        assert_int_equal(x->attempts, 1); /* f-delay too: the request was out, never retried */
        assert_int_equal(x->exit.request_sent, 1);
        assert_int_equal(x->exit.command_started, i != 5);
        if (i == 0) {
            assert_int_equal(x->exit.exit_code, 0);
        } else {
            assert_int_equal(x->exit.exit_code, -1);
            assert_non_null(x->exit.message);
            assert_non_null(strstr(x->exit.message, want_msg[i]));
            assert_null(strchr(x->exit.message, '\n'));
        }
    }
    /* ok and f-nostatus ran to the end; f-drop delivered every whole frame before the drop. */
    assert_int_equal(st->len[0], sizeof full);
    assert_memory_equal(st->out[0], full, sizeof full);
    assert_int_equal(st->len[2], sizeof full);
    assert_memory_equal(st->out[2], full, sizeof full);
    assert_int_equal(st->len[1], sizeof upto);
    assert_memory_equal(st->out[1], upto, sizeof upto);
    for (int i = 3; i < FO_N; i++)
        assert_int_equal(st->len[i], 0);
    pmx_fanout_stats_t fs;
    pmx_fanout_stats(f, &fs);
    assert_int_equal(fs.ok, 1);
    assert_int_equal(fs.failed, FO_N - 1);
    fanout_end(&loop, f, c);
    free(st);
}

static void test_upgrade_timeout(void **state)
{
    run_t r = {.kubeconfig = good_kcfg(), .pod = "f-delay", .upgrade_timeout_ms = 1000};
    assert_int_equal(run(&r), 0);
    expect_fail(&r, PMX_ETIMEDOUT, "did not answer the upgrade request within 1 s");
    assert_true(r.ms >= 900 && r.ms < 4000);
    assert_int_equal(r.x.command_started, 0);
}

/* The sim drops TCP after 1000 bytes of frames: "hello" (8-byte frame) and 900 x's (905-byte
 * frame) fit, the next 900 do not. Everything complete before the drop must be delivered. */
static void test_dropped_mid_stream(void **state)
{
    static const char script[] = "printf hello; sleep 0.2; head -c 900 /dev/zero | tr '\\0' x; "
                                 "sleep 0.2; head -c 900 /dev/zero | tr '\\0' y; sleep 5";
    const char *argv[] = {"sh", "-c", script};
    run_t r = {.kubeconfig = good_kcfg(), .pod = "f-drop", .argv = argv, .argc = 3};
    assert_int_equal(run(&r), 0);
    expect_fail(&r, PMX_ELOST, "lost");
    assert_non_null(strstr(r.message, "exit status is unknown"));
    assert_int_equal(r.out_total, 905);
    assert_memory_equal(r.out, "hello", 5);
    for (int i = 5; i < 905; i++)
        assert_int_equal(r.out[i], 'x');
    assert_int_equal(r.x.command_started, 1);
    assert_true(r.ms < 3000);
}

static void test_reset_after_open(void **state)
{
    run_t r = {.kubeconfig = good_kcfg(), .pod = "f-reset"};
    assert_int_equal(run(&r), 0);
    expect_fail(&r, PMX_ELOST, "exit status is unknown");
    assert_int_equal(r.x.command_started, 1);
    /* The sim must survive the reset it injected (it once freed the exec under the conn). */
    usleep(200000);
    run_t ok = {.kubeconfig = good_kcfg()};
    assert_int_equal(run(&ok), 0);
    assert_int_equal(ok.x.err, 0);
    assert_int_equal(ok.out_total, 6);
}

static void test_stall_keepalive(void **state)
{
    run_t r = {.kubeconfig = good_kcfg(), .pod = "f-stall", .keepalive_ms = 100};
    assert_int_equal(run(&r), 0);
    expect_fail(&r, PMX_ETIMEDOUT, "no data and no pong");
    /* Detected after 12 periods + 1 s (checked once per period), as client-go does. */
    assert_true(r.ms >= 2100);
    assert_true(r.ms <= 12 * 100 + 1000 + 100 + 1500);
}

/* A live session is not killed by keepalive: pongs count as traffic. */
static void test_keepalive_quiet_command_survives(void **state)
{
    const char *argv[] = {"sh", "-c", "sleep 3.5; echo done"}; /* past the 2.2 s deadline */
    run_t r = {.kubeconfig = good_kcfg(), .argv = argv, .argc = 3, .keepalive_ms = 100};
    assert_int_equal(run(&r), 0);
    assert_int_equal(r.x.err, 0);
    assert_int_equal(r.x.exit_code, 0);
    assert_int_equal(r.out_total, 5);
    assert_memory_equal(r.out, "done\n", 5);
}

static void test_close_without_status(void **state)
{
    const char *argv[] = {"sh", "-c", "echo partial; exit 0"};
    run_t r = {.kubeconfig = good_kcfg(), .pod = "f-nostatus", .argv = argv, .argc = 3};
    assert_int_equal(run(&r), 0);
    /* "exit status unknown", never a made-up 0. */
    expect_fail(&r, PMX_ENOSTATUS, "exit status is unknown");
    assert_int_equal(r.out_total, 8);
    assert_memory_equal(r.out, "partial\n", 8);
}

static void test_malformed_frame(void **state)
{
    run_t r = {.kubeconfig = good_kcfg(), .pod = "f-malformed"};
    assert_int_equal(run(&r), 0);
    assert_int_equal(r.x.err, PMX_EPROTO);
    expect_fail(&r, PMX_EPROTO, "WebSocket");
    assert_int_equal(r.x.command_started, 1);
}

static void test_oversized_message(void **state)
{
    const char *argv[] = {"sh", "-c", "printf hello; sleep 0.3; head -c 5000 /dev/zero; sleep 5"};
    run_t r = {.kubeconfig = good_kcfg(), .argv = argv, .argc = 3, .max_message = 1024};
    assert_int_equal(run(&r), 0);
    expect_fail(&r, PMX_EPROTO, "too big");
    assert_int_equal(r.out_total, 5);
    assert_memory_equal(r.out, "hello", 5);
    assert_true(r.ms < 3000);
}

/* The limit is on the message, channel byte included, and a message of exactly max_message is
 * fine: 1 + 1023 bytes pass, the next 1 + 1024 do not. */
static void test_oversized_message_boundary(void **state)
{
    static const char script[] = "head -c 1023 /dev/zero | tr '\\0' a; sleep 0.5; "
                                 "head -c 1024 /dev/zero | tr '\\0' b; sleep 5";
    const char *argv[] = {"sh", "-c", script};
    run_t r = {.kubeconfig = good_kcfg(), .argv = argv, .argc = 3, .max_message = 1024};
    assert_int_equal(run(&r), 0);
    expect_fail(&r, PMX_EPROTO,
                "WebSocket protocol error from the server: message too big (the limit is 1024 "
                "bytes)");
    assert_int_equal(r.out_total, 1023);
    for (int i = 0; i < 1023; i++)
        assert_int_equal(r.out[i], 'a');
    assert_int_equal(r.x.command_started, 1);
}

/* Output, status and close in one TCP write with the connection left open: a normal exit. */
static void test_coalesced_status(void **state)
{
    const char *argv[] = {"sh", "-c", "echo hi; exit 7"};
    run_t r = {.kubeconfig = good_kcfg(), .pod = "f-coalesce", .argv = argv, .argc = 3};
    assert_int_equal(run(&r), 0);
    assert_int_equal(r.x.err, 0);
    assert_int_equal(r.x.exit_code, 7);
    assert_int_equal(r.out_total, 3);
    assert_memory_equal(r.out, "hi\n", 3);
    assert_true(r.ms < 2500);
}

/* Canceling while the server sits on the upgrade: PMX_ECANCELED at once, nothing left. */
static void test_cancel_while_upgrading(void **state)
{
    run_t r = {.kubeconfig = good_kcfg(), .pod = "f-delay", .cancel_after_ms = 300};
    assert_int_equal(run(&r), 0);
    expect_fail(&r, PMX_ECANCELED, "canceled");
    assert_true(r.ms < 1500);
}

/* The connection drops (after 600 bytes of output; the next 2000 do not fit) while 8 MiB of
 * stdin are still streaming: ELOST, no crash, no write after close. */
static void test_drop_while_sending_stdin(void **state)
{
    static const char script[] = "head -c 600 /dev/zero | tr '\\0' a; sleep 0.3; "
                                 "head -c 2000 /dev/zero; cat >/dev/null";
    const char *argv[] = {"sh", "-c", script};
    run_t r = {.kubeconfig = good_kcfg(),
               .pod = "f-drop",
               .argv = argv,
               .argc = 3,
               .stdin_bytes = 8u << 20};
    assert_int_equal(run(&r), 0);
    expect_fail(&r, PMX_ELOST, "exit status is unknown");
    /* Whole frames only. The 600 bytes may be lost in TCP itself: the sim closes with our
     * stdin unread in its receive buffer, so its kernel sends RST, and an RST makes ours drop
     * what we had not read yet (Go's servers do the same). */
    assert_true(r.out_total == 0 || r.out_total == 600);
    for (size_t i = 0; i < r.out_len; i++)
        assert_int_equal(r.out[i], 'a');
}

/* ---- credential plugins ---------------------------------------------------------------- */
static const char *plugin_kcfg(const char *name, const char *script)
{
    char path[400], user[1000];
    snprintf(path, sizeof path, "%s/%s.sh", SIM.dir, name);
    write_text(path, script, 0755);
    snprintf(user, sizeof user,
             "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
             "      command: %s\n      interactiveMode: Never\n",
             path);
    return kcfg(name, SIM.url, ca_line(), user);
}

static void test_plugin_works(void **state)
{
    run_t r = {.kubeconfig = plugin_kcfg(
                   "plugin-ok",
                   "#!/bin/sh\necho '{\"apiVersion\":\"client.authentication.k8s.io/"
                   "v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"" ADMIN_TOKEN
                   "\"}}'\n")};
    assert_int_equal(run(&r), 0);
    assert_int_equal(r.x.err, 0);
    assert_int_equal(r.out_total, 6);
}

static void test_plugin_fails(void **state)
{
    run_t r = {.kubeconfig = plugin_kcfg("plugin-fail",
                                         "#!/bin/sh\necho 'no credentials today' >&2\nexit 3\n")};
    assert_int_equal(run(&r), 0);
    expect_fail(&r, PMX_ECREDENTIAL, "failed with exit code 3");
    assert_non_null(strstr(r.message, "plugin-fail.sh"));
    assert_int_equal(r.x.command_started, 0);
}

static void test_plugin_hangs(void **state)
{
    run_t r = {.kubeconfig = plugin_kcfg("plugin-hang", "#!/bin/sh\nsleep 100\n"),
               .exec_timeout_ms = 1000};
    assert_int_equal(run(&r), 0);
    expect_fail(&r, PMX_ECREDENTIAL, "timed out after 1000 ms");
    assert_true(r.ms >= 900 && r.ms < 4000);
}

/* Canceling a session whose plugin hangs; freeing the client must end the plugin. */
static void test_cancel_while_plugin_hangs(void **state)
{
    char pidfile[400], script[600];
    snprintf(pidfile, sizeof pidfile, "%s/plugin-hang2.pid", SIM.dir);
    snprintf(script, sizeof script, "#!/bin/sh\necho $$ > %s\nexec sleep 100\n", pidfile);
    run_t r = {.kubeconfig = plugin_kcfg("plugin-hang2", script), .cancel_after_ms = 500};
    assert_int_equal(run(&r), 0);
    expect_fail(&r, PMX_ECANCELED, "canceled");
    FILE *f = fopen(pidfile, "r");
    assert_non_null(f);
    int pid = 0;
    assert_int_equal(fscanf(f, "%d", &pid), 1);
    fclose(f);
    int alive = 1;
    for (int i = 0; i < 40 && alive; i++, usleep(50000))
        alive = kill(pid, 0) == 0 && waitpid(pid, NULL, WNOHANG) == 0;
    if (alive) kill(pid, SIGKILL);
    assert_false(alive); /* the plugin outlived its client */
}

/* A hanging plugin under a fan-out: every target fails with the plugin's timeout (one line
 * naming the plugin), on_finish comes once, and no plugin process outlives the fan-out. */
static void test_fanout_plugin_hangs(void **state)
{
    char pidfile[400], script[600];
    snprintf(pidfile, sizeof pidfile, "%s/plugin-hang3.pids", SIM.dir);
    snprintf(script, sizeof script, "#!/bin/sh\necho $$ >> %s\nexec sleep 100\n", pidfile);
    uv_loop_t loop;
    uv_loop_init(&loop);
    pmx_client_opts_t o = {0};
    o.kubeconfig = plugin_kcfg("plugin-hang3", script);
    pmx_client_t *c = NULL;
    assert_int_equal(pmx_client_new(&loop, &o, &c, NULL, 0), 0);
    auth_set_exec_timeout(pmx__client_auth(c), 1000);
    const char *argv[] = {"echo", "ran"};
    pmx_fanout_opts_t fo = {0};
    fo.argv = argv;
    fo.argc = 2;
    pmx_fanout_cb_t cb = {NULL, fo_output, fo_done, NULL, fo_finish};
    fo_t st = {0};
    pmx_fanout_t *f = NULL;
    assert_int_equal(pmx_fanout_new(c, &fo, &cb, &st, &f), 0);
    assert_int_equal(pmx_fanout_add(f, NULL, "ok", NULL), 0);
    assert_int_equal(pmx_fanout_add(f, NULL, "f-coalesce", NULL), 1);
    assert_int_equal(pmx_fanout_add(f, NULL, "f-nostatus", NULL), 2);
    assert_int_equal(pmx_fanout_start(f), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(st.finished, 1);
    assert_int_equal(st.done, 3);
    size_t n = 0;
    const pmx_fanout_result_t *const *res = pmx_fanout_results(f, &n);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        const pmx_fanout_result_t *x = res[i];
        fprintf(stderr, "    %s: %u attempt(s), %s %s\n", x->pod, x->attempts,
                pmx_err_name(x->exit.err), x->exit.message);
        assert_int_equal(x->exit.err, PMX_ECREDENTIAL);
        assert_int_equal(x->exit.exit_code, -1);
        assert_int_equal(x->exit.command_started, 0);
        assert_non_null(strstr(x->exit.message, "plugin-hang3.sh"));
        assert_non_null(strstr(x->exit.message, "timed out after 1000 ms"));
        assert_null(strchr(x->exit.message, '\n'));
    }
    fanout_end(&loop, f, c);
    FILE *pf = fopen(pidfile, "r");
    assert_non_null(pf);
    int pid, runs = 0, alive = 0;
    while (fscanf(pf, "%d", &pid) == 1) {
        runs++;
        int up = 1;
        for (int i = 0; i < 40 && up; i++, usleep(50000))
            up = kill(pid, 0) == 0 && waitpid(pid, NULL, WNOHANG) == 0;
        if (up) kill(pid, SIGKILL), alive++;
    }
    fclose(pf);
    fprintf(stderr, "    the plugin ran %d time(s) for 3 targets\n", runs);
    assert_true(runs >= 1);
    assert_int_equal(alive, 0); /* a plugin outlived the fan-out */
}

static void test_plugin_garbage(void **state)
{
    run_t r = {.kubeconfig = plugin_kcfg("plugin-garbage",
                                         "#!/bin/sh\necho 'this is not an ExecCredential'\n")};
    assert_int_equal(run(&r), 0);
    assert_int_equal(r.x.err, PMX_ECREDENTIAL);
    assert_null(strchr(r.message, '\n'));
    fprintf(stderr, "    garbage plugin: %s\n", r.message);
    assert_non_null(strstr(r.message, "plugin-garbage.sh")); /* names the plugin at fault */
    assert_true(strstr(r.message, "decod") || strstr(r.message, "JSON") ||
                strstr(r.message, "json") || strstr(r.message, "invalid"));
}

/* ---- arguments --------------------------------------------------------------------------- */
/* Arguments reach the process byte for byte: the server only ever sees them as percent-encoded
 * query values (a raw & or # would cut the URL, a raw % or + would decode to something else). */
static void test_arguments_exact(void **state)
{
    static const char *const args[] = {
        "a&b=c",     "#frag",          "100%",       "%41%zz",
        "two words", "'single'",       "\"double\"", "line1\nline2",
        "tab\there", "ünïcødé ✓ 日本", "+plus+",     "?q=1&command=rm",
        "",          "a;b|c",          "$(echo no)", "back\\slash",
        "\r\n",      "~!*()"};
    enum { NA = sizeof args / sizeof args[0] };
    const char *argv[NA + 4] = {"sh", "-c", "for a in \"$@\"; do printf '%s\\0' \"$a\"; done",
                                "sh"};
    char want[1024];
    size_t wl = 0;
    for (int i = 0; i < NA; i++) {
        argv[4 + i] = args[i];
        size_t n = strlen(args[i]) + 1;
        memcpy(want + wl, args[i], n);
        wl += n;
    }
    run_t r = {.kubeconfig = good_kcfg(), .argv = argv, .argc = NA + 4};
    assert_int_equal(run(&r), 0);
    assert_int_equal(r.x.err, 0);
    assert_int_equal(r.x.exit_code, 0);
    assert_int_equal(r.out_total, wl);
    assert_memory_equal(r.out, want, wl);
}

/* ---- setup ----------------------------------------------------------------------------- */
static int setup(void **state)
{
    const char *src = getenv("PMX_SRC");
    static char cluster[600];
    snprintf(cluster, sizeof cluster, "%s/tests/integration/data/faults-cluster.yaml",
             src ? src : ".");
    const char *args[] = {"--cluster", cluster, "--token", ADMIN_TOKEN, NULL};
    if (simproc_start(&SIM, args) < 0) return -1;
    snprintf(CA, sizeof CA, "%s/state/ca.crt", SIM.dir);
    snprintf(CAKEY, sizeof CAKEY, "%s/state/ca.key", SIM.dir);
    return 0;
}

static int teardown(void **state)
{
    if (TLS_SERVER > 0) {
        kill(TLS_SERVER, SIGKILL);
        waitpid(TLS_SERVER, NULL, 0);
    }
    simproc_stop(&SIM);
    return 0;
}

int main(void)
{
    /* libuv writes to sockets with write(2): an embedder must ignore SIGPIPE (the CLI does). */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_dns_failure),
        cmocka_unit_test(test_tls_unknown_ca),
        cmocka_unit_test(test_tls_hostname_mismatch),
        cmocka_unit_test(test_tls_expired_certificate),
        cmocka_unit_test(test_tls_client_cert_rejected),
        cmocka_unit_test(test_401),
        cmocka_unit_test(test_403),
        cmocka_unit_test(test_404_pod),
        cmocka_unit_test(test_400_container),
        cmocka_unit_test(test_429_retry_after),
        cmocka_unit_test(test_503),
        cmocka_unit_test(test_fanout_retries_429_503),
        cmocka_unit_test(test_upgrade_timeout),
        cmocka_unit_test(test_dropped_mid_stream),
        cmocka_unit_test(test_stall_keepalive),
        cmocka_unit_test(test_keepalive_quiet_command_survives),
        cmocka_unit_test(test_close_without_status),
        cmocka_unit_test(test_malformed_frame),
        cmocka_unit_test(test_oversized_message),
        cmocka_unit_test(test_oversized_message_boundary),
        cmocka_unit_test(test_fanout_stream_faults),
        cmocka_unit_test(test_coalesced_status),
        cmocka_unit_test(test_plugin_works),
        cmocka_unit_test(test_plugin_fails),
        cmocka_unit_test(test_plugin_hangs),
        cmocka_unit_test(test_plugin_garbage),
        cmocka_unit_test(test_fanout_plugin_hangs),
        cmocka_unit_test(test_cancel_while_plugin_hangs),
        cmocka_unit_test(test_cancel_while_upgrading),
        cmocka_unit_test(test_drop_while_sending_stdin),
        cmocka_unit_test(test_arguments_exact),
        cmocka_unit_test(test_reset_after_open), /* last: it has crashed the sim */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
