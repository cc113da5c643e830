/* tls engine tests: a client and a server engine wired to each other in memory. Ciphertext from
 * one side is fed to the other in chunks of 1 byte, 7 bytes or whole, so partial records are the
 * normal case. Certificates are generated at start-up with tls_gen_*. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "proto/tls.h"
#include "util/buf.h"

/* ---- fixtures ------------------------------------------------------------------------------- */
static tls_ctx_t *rng;
static tls_keypair_t ca, server, client_kp, other_ca, other_server, expired;

static const char *const server_dns[] = {"localhost", "sim.test"};
static const char *const server_ips[] = {"127.0.0.1", "::1"};

static int gen_rng(void *arg, unsigned char *buf, size_t len)
{
    return tls_ctx_random(arg, buf, len);
}

/* An expired leaf for "localhost" signed by ca, written with mbedTLS directly: tls_gen_leaf
 * always makes certificates valid now. The issuer string matches how tls_gen_ca wrote it. */
static int make_expired(void)
{
    mbedtls_pk_context key, cakey;
    mbedtls_x509write_cert w;
    mbedtls_mpi serial;
    unsigned char pem[4096];
    mbedtls_pk_init(&key);
    mbedtls_pk_init(&cakey);
    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&serial);
    int r = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    r = r ? r : mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key), gen_rng, rng);
    r = r ? r
          : mbedtls_pk_parse_key(&cakey, (const unsigned char *)ca.key_pem, strlen(ca.key_pem) + 1,
                                 NULL, 0);
    r = r ? r : mbedtls_mpi_lset(&serial, 4242);
    r = r ? r : mbedtls_x509write_crt_set_serial(&w, &serial);
    r = r ? r : mbedtls_x509write_crt_set_subject_name(&w, "CN=localhost");
    r = r ? r : mbedtls_x509write_crt_set_issuer_name(&w, "CN=podmux test CA");
    r = r ? r : mbedtls_x509write_crt_set_validity(&w, "20100101000000", "20110101000000");
    if (r == 0) {
        mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
        mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
        mbedtls_x509write_crt_set_subject_key(&w, &key);
        mbedtls_x509write_crt_set_issuer_key(&w, &cakey);
        r = mbedtls_x509write_crt_pem(&w, pem, sizeof pem, gen_rng, rng);
    }
    if (r == 0) expired.cert_pem = strdup((char *)pem);
    r = r ? r : mbedtls_pk_write_key_pem(&key, pem, sizeof pem);
    if (r == 0) expired.key_pem = strdup((char *)pem);
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&w);
    mbedtls_pk_free(&cakey);
    mbedtls_pk_free(&key);
    return r;
}

static int group_setup(void **state)
{
    char err[256];
    tls_ctx_opts_t o = {.insecure = 1};
    if (tls_ctx_new(&o, &rng, err, sizeof err) != 0) return -1;
    if (tls_gen_ca(rng, "podmux test CA", &ca) != 0) return -1;
    if (tls_gen_leaf(rng, &ca, "podmux-sim", NULL, server_dns, 2, server_ips, 2, 0, &server))
        return -1;
    if (tls_gen_leaf(rng, &ca, "alice", "devs", NULL, 0, NULL, 0, 1, &client_kp)) return -1;
    if (tls_gen_ca(rng, "someone else", &other_ca) != 0) return -1;
    if (tls_gen_leaf(rng, &other_ca, "podmux-sim", NULL, server_dns, 2, server_ips, 2, 0,
                     &other_server))
        return -1;
    return make_expired() == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    tls_keypair_t *all[] = {&ca, &server, &client_kp, &other_ca, &other_server, &expired};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        tls_keypair_free(all[i]);
    tls_ctx_free(rng);
    return 0;
}

/* ---- a pair of engines ---------------------------------------------------------------------- */
typedef struct peer {
    tls_conn_t *conn;
    buf_t out; /* ciphertext waiting for the other side */
    buf_t got; /* plaintext delivered by io.recv */
    int sends, recv_calls, pause, hs_calls, hs_status, feed_rc;
    int greet, echo; /* write from inside the callbacks */
    size_t last_send;
    uint8_t first_send[2048]; /* the first flight (ClientHello for a client) */
    size_t first_len;
} peer_t;

static int on_send(void *arg, const uint8_t *data, size_t len)
{
    peer_t *p = arg;
    if (p->sends++ == 0) {
        p->first_len = len < sizeof p->first_send ? len : sizeof p->first_send;
        memcpy(p->first_send, data, p->first_len);
    }
    p->last_send = len;
    return buf_append(&p->out, data, len);
}

static int on_recv(void *arg, const uint8_t *data, size_t len)
{
    peer_t *p = arg;
    p->recv_calls++;
    assert_int_equal(buf_append(&p->got, data, len), 0);
    if (p->echo) assert_int_equal(tls_conn_write(p->conn, data, len), 0);
    return p->pause ? 1 : 0;
}

static void on_handshake(void *arg, int status)
{
    peer_t *p = arg;
    p->hs_calls++;
    p->hs_status = status;
    if (p->greet && status == 0)
        assert_int_equal(tls_conn_write(p->conn, (const uint8_t *)"hello", 5), 0);
}

typedef struct pair {
    tls_ctx_t *cctx, *sctx;
    peer_t cli, srv;
} pair_t;

static tls_ctx_t *make_ctx(int is_server, const tls_keypair_t *trust, const tls_keypair_t *own,
                           int insecure, int verify_client)
{
    tls_ctx_opts_t o = {
        .is_server = is_server, .insecure = insecure, .verify_client = verify_client};
    if (trust) {
        o.ca_data = (const uint8_t *)trust->cert_pem;
        o.ca_data_len = strlen(trust->cert_pem); /* without the NUL: the engine copes */
    }
    if (own) {
        o.cert_data = (const uint8_t *)own->cert_pem;
        o.cert_data_len = strlen(own->cert_pem);
        o.key_data = (const uint8_t *)own->key_pem;
        o.key_data_len = strlen(own->key_pem);
    }
    tls_ctx_t *t = NULL;
    char err[256];
    int r = tls_ctx_new(&o, &t, err, sizeof err);
    if (r != 0) fail_msg("tls_ctx_new: %s", err);
    return t;
}

static void peer_open(peer_t *p, tls_ctx_t *ctx, const char *name, const char *verify_name)
{
    memset(p, 0, sizeof *p);
    buf_init(&p->out, 0);
    buf_init(&p->got, 0);
    tls_io_t io = {on_send, on_recv, on_handshake, p};
    assert_int_equal(tls_conn_new(ctx, name, verify_name, &io, &p->conn), 0);
}

static void peer_close(peer_t *p)
{
    tls_conn_free(p->conn);
    buf_free(&p->out);
    buf_free(&p->got);
}

/* Moves from's pending ciphertext into to, chunk bytes per feed (0: all at once). */
static int deliver(peer_t *from, peer_t *to, size_t chunk)
{
    if (from->out.len == 0 || to->feed_rc < 0) return 0;
    size_t len = from->out.len;
    uint8_t *data = (uint8_t *)buf_steal(&from->out);
    size_t step = chunk ? chunk : len;
    for (size_t off = 0; off < len && to->feed_rc == 0; off += step) {
        size_t n = len - off < step ? len - off : step;
        to->feed_rc = tls_conn_feed(to->conn, data + off, n);
    }
    free(data);
    return 1;
}

static void run(pair_t *pr, size_t chunk)
{
    while (deliver(&pr->cli, &pr->srv, chunk) | deliver(&pr->srv, &pr->cli, chunk)) {
    }
}

static void pair_open(pair_t *pr, tls_ctx_t *cctx, tls_ctx_t *sctx, const char *name,
                      const char *verify_name, const tls_session_t *resume)
{
    memset(pr, 0, sizeof *pr);
    pr->cctx = cctx;
    pr->sctx = sctx;
    peer_open(&pr->cli, cctx, name, verify_name);
    peer_open(&pr->srv, sctx, NULL, NULL);
    if (resume) assert_int_equal(tls_conn_set_session(pr->cli.conn, resume), 0);
}

static void pair_connect(pair_t *pr, size_t chunk)
{
    assert_int_equal(tls_conn_start(pr->cli.conn), 0);
    run(pr, chunk);
}

static void pair_close(pair_t *pr)
{
    peer_close(&pr->cli);
    peer_close(&pr->srv);
}

static void assert_connected(pair_t *pr)
{
    if (pr->cli.feed_rc != 0) fail_msg("client: %s", tls_conn_error(pr->cli.conn));
    if (pr->srv.feed_rc != 0) fail_msg("server: %s", tls_conn_error(pr->srv.conn));
    assert_int_equal(pr->cli.hs_calls, 1);
    assert_int_equal(pr->cli.hs_status, 0);
    assert_int_equal(pr->srv.hs_calls, 1);
    assert_int_equal(pr->srv.hs_status, 0);
    assert_int_equal(tls_conn_handshake_done(pr->cli.conn), 1);
    assert_int_equal(tls_conn_handshake_done(pr->srv.conn), 1);
}

/* Connects a default client (trusting ca) to a default server, returns the contexts in pr. */
static void connect_default(pair_t *pr, const char *name, size_t chunk)
{
    pair_open(pr, make_ctx(0, &ca, NULL, 0, 0), make_ctx(1, NULL, &server, 0, 0), name, NULL, NULL);
    pair_connect(pr, chunk);
}

static void free_all(pair_t *pr)
{
    pair_close(pr);
    tls_ctx_free(pr->cctx);
    tls_ctx_free(pr->sctx);
}

static const size_t chunks[] = {1, 7, 0};

/* ---- tests ---------------------------------------------------------------------------------- */
static void test_handshake(void **state)
{
    for (size_t i = 0; i < 3; i++) {
        pair_t pr;
        connect_default(&pr, "localhost", chunks[i]);
        assert_connected(&pr);
        /* Each flight leaves in one send: ClientHello; ServerHello..Done; the client's
         * ClientKeyExchange+CCS+Finished; the server's (ticket+)CCS+Finished. */
        assert_int_equal(pr.cli.sends, 2);
        assert_int_equal(pr.srv.sends, 2);
        assert_int_equal(tls_conn_resumed(pr.cli.conn), 0);
        assert_int_equal(tls_conn_resumed(pr.srv.conn), 0);
        assert_null(tls_conn_peer_cn(pr.srv.conn));
        assert_string_equal(tls_conn_error(pr.cli.conn), "no error");
        /* SNI carries a DNS name. */
        assert_non_null(memmem(pr.cli.first_send, pr.cli.first_len, "localhost", 9));
        free_all(&pr);
    }
}

static void fill_random(uint8_t *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (uint8_t)(seed >> 16);
    }
}

static void test_bulk_both_ways(void **state)
{
    const size_t n = 1024 * 1024;
    uint8_t *up = malloc(n), *down = malloc(n);
    assert_non_null(up);
    assert_non_null(down);
    fill_random(up, n, 1);
    fill_random(down, n, 2);
    for (size_t i = 0; i < 3; i++) {
        pair_t pr;
        connect_default(&pr, "localhost", chunks[i]);
        assert_connected(&pr);
        int cs = pr.cli.sends, ss = pr.srv.sends;
        assert_int_equal(tls_conn_write(pr.cli.conn, up, n), 0);
        assert_int_equal(tls_conn_write(pr.srv.conn, down, n), 0);
        assert_int_equal(pr.cli.sends - cs, 64); /* one record per 16 KiB */
        assert_int_equal(pr.srv.sends - ss, 64);
        run(&pr, chunks[i]);
        assert_int_equal(pr.cli.feed_rc, 0);
        assert_int_equal(pr.srv.feed_rc, 0);
        assert_int_equal(pr.srv.got.len, n);
        assert_int_equal(pr.cli.got.len, n);
        assert_memory_equal(pr.srv.got.data, up, n);
        assert_memory_equal(pr.cli.got.data, down, n);
        free_all(&pr);
    }
    free(up);
    free(down);
}

static void test_one_record_per_write(void **state)
{
    static uint8_t data[16385];
    pair_t pr;
    connect_default(&pr, "localhost", 0);
    assert_connected(&pr);
    const size_t sizes[] = {1, 100, 16384};
    for (size_t i = 0; i < 3; i++) {
        buf_reset(&pr.srv.out);
        int before = pr.srv.sends;
        assert_int_equal(tls_conn_write(pr.srv.conn, data, sizes[i]), 0);
        assert_int_equal(pr.srv.sends - before, 1);
        /* One application_data record whose length field covers the rest of the send. */
        const uint8_t *rec = (const uint8_t *)pr.srv.out.data;
        assert_int_equal(rec[0], 23);
        assert_int_equal(((size_t)rec[3] << 8 | rec[4]) + 5, pr.srv.out.len);
        assert_true(pr.srv.out.len > sizes[i]);
    }
    int before = pr.srv.sends;
    assert_int_equal(tls_conn_write(pr.srv.conn, data, sizeof data), 0);
    assert_int_equal(pr.srv.sends - before, 2);
    free_all(&pr);
}

static void test_records_in_one_feed(void **state)
{
    pair_t pr;
    connect_default(&pr, "localhost", 0);
    assert_connected(&pr);
    const char *parts[] = {"one", "two", "three"};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(tls_conn_write(pr.srv.conn, (const uint8_t *)parts[i], strlen(parts[i])),
                         0);
    assert_int_equal(pr.srv.sends, 2 + 3);
    assert_int_equal(tls_conn_feed(pr.cli.conn, (const uint8_t *)pr.srv.out.data, pr.srv.out.len),
                     0);
    assert_int_equal(pr.cli.recv_calls, 3);
    assert_int_equal(pr.cli.got.len, 11);
    assert_memory_equal(pr.cli.got.data, "onetwothree", 11);
    free_all(&pr);
}

static void test_pause_and_pump(void **state)
{
    for (size_t i = 0; i < 3; i++) {
        pair_t pr;
        connect_default(&pr, "localhost", chunks[i]);
        assert_connected(&pr);
        pr.cli.pause = 1;
        const char *parts[] = {"one", "two", "three"};
        for (size_t k = 0; k < 3; k++)
            tls_conn_write(pr.srv.conn, (const uint8_t *)parts[k], strlen(parts[k]));
        run(&pr, chunks[i]);
        assert_int_equal(pr.cli.feed_rc, 0);
        assert_int_equal(pr.cli.recv_calls, 1);
        assert_int_equal(pr.cli.got.len, 3);
        /* More input while paused is kept, not delivered. */
        tls_conn_write(pr.srv.conn, (const uint8_t *)"four", 4);
        tls_conn_close_notify(pr.srv.conn);
        run(&pr, chunks[i]);
        assert_int_equal(pr.cli.feed_rc, 0);
        assert_int_equal(pr.cli.recv_calls, 1);
        /* One record per pump while the receiver keeps pausing. */
        assert_int_equal(tls_conn_pump(pr.cli.conn), 0);
        assert_int_equal(pr.cli.recv_calls, 2);
        assert_memory_equal(pr.cli.got.data, "onetwo", 6);
        pr.cli.pause = 0;
        assert_int_equal(tls_conn_pump(pr.cli.conn), TLS_ECLOSED);
        assert_int_equal(pr.cli.got.len, 15);
        assert_memory_equal(pr.cli.got.data, "onetwothreefour", 15);
        free_all(&pr);
    }
}

/* The owner may write from inside handshake_done and recv (the HTTP request, an echo). */
static void test_write_from_callbacks(void **state)
{
    for (size_t i = 0; i < 3; i++) {
        pair_t pr;
        pair_open(&pr, make_ctx(0, &ca, NULL, 0, 0), make_ctx(1, NULL, &server, 0, 0), "localhost",
                  NULL, NULL);
        pr.cli.greet = 1;
        pr.srv.echo = 1;
        pair_connect(&pr, chunks[i]);
        assert_connected(&pr);
        assert_int_equal(pr.srv.got.len, 5);
        assert_memory_equal(pr.srv.got.data, "hello", 5);
        assert_int_equal(pr.cli.got.len, 5);
        assert_memory_equal(pr.cli.got.data, "hello", 5);
        free_all(&pr);
    }
}

/* Input kept while paused is bounded: the owner must stop reading. */
static void test_paused_input_is_bounded(void **state)
{
    static uint8_t big[256 * 1024];
    pair_t pr;
    connect_default(&pr, "localhost", 0);
    assert_connected(&pr);
    pr.cli.pause = 1;
    for (int k = 0; k < 5; k++)
        assert_int_equal(tls_conn_write(pr.srv.conn, big, sizeof big), 0);
    run(&pr, 0);
    assert_int_equal(pr.cli.feed_rc, -ENOBUFS);
    assert_string_equal(tls_conn_error(pr.cli.conn), "too much input buffered while paused");
    assert_int_equal(tls_conn_pump(pr.cli.conn), -ENOBUFS);
    free_all(&pr);
}

static void expect_client_failure(pair_t *pr, int code, const char *text)
{
    assert_int_equal(pr->cli.feed_rc, code);
    assert_int_equal(pr->cli.hs_calls, 1);
    assert_int_equal(pr->cli.hs_status, code);
    assert_string_equal(tls_conn_error(pr->cli.conn), text);
    assert_int_equal(tls_conn_handshake_done(pr->cli.conn), 0);
    /* Sticky: later calls give the same error. */
    assert_int_equal(tls_conn_feed(pr->cli.conn, (const uint8_t *)"x", 1), code);
    assert_int_equal(tls_conn_write(pr->cli.conn, (const uint8_t *)"x", 1), code);
}

static void test_hostname_mismatch(void **state)
{
    for (size_t i = 0; i < 3; i++) {
        pair_t pr;
        connect_default(&pr, "other.example", chunks[i]);
        expect_client_failure(&pr, TLS_EHOSTNAME,
                              "hostname mismatch: certificate is not valid for other.example");
        /* The server hears about it through an alert. */
        assert_int_equal(pr.srv.feed_rc, TLS_EHANDSHAKE);
        assert_int_equal(pr.srv.hs_status, TLS_EHANDSHAKE);
        assert_string_equal(tls_conn_error(pr.srv.conn), "peer sent alert: bad certificate");
        free_all(&pr);
    }
}

static void test_verify_name_override(void **state)
{
    pair_t pr;
    /* Dial an IP the certificate does not list, verify (and send SNI for) a DNS name it does. */
    pair_open(&pr, make_ctx(0, &ca, NULL, 0, 0), make_ctx(1, NULL, &server, 0, 0), "127.0.0.2",
              "sim.test", NULL);
    pair_connect(&pr, 7);
    assert_connected(&pr);
    assert_non_null(memmem(pr.cli.first_send, pr.cli.first_len, "sim.test", 8));
    free_all(&pr);
    pair_open(&pr, make_ctx(0, &ca, NULL, 0, 0), make_ctx(1, NULL, &server, 0, 0), "localhost",
              "nope.test", NULL);
    pair_connect(&pr, 0);
    expect_client_failure(&pr, TLS_EHOSTNAME,
                          "hostname mismatch: certificate is not valid for nope.test");
    free_all(&pr);
}

static void test_ip_sans(void **state)
{
    const char *good[] = {"127.0.0.1", "::1", "[::1]"};
    for (size_t i = 0; i < 3; i++) {
        pair_t pr;
        connect_default(&pr, good[i], chunks[i]);
        assert_connected(&pr);
        /* No SNI for an IP literal: the address text is nowhere in the ClientHello. */
        assert_null(memmem(pr.cli.first_send, pr.cli.first_len, "127.0.0.1", 9));
        assert_null(memmem(pr.cli.first_send, pr.cli.first_len, "::1", 3));
        free_all(&pr);
    }
    const char *bad[] = {"127.0.0.2", "::2"};
    for (size_t i = 0; i < 2; i++) {
        pair_t pr;
        char want[128];
        connect_default(&pr, bad[i], 7);
        snprintf(want, sizeof want, "hostname mismatch: certificate is not valid for %s", bad[i]);
        expect_client_failure(&pr, TLS_EHOSTNAME, want);
        free_all(&pr);
    }
}

/* issue 13 item 7: a leaf whose name is only in its CN (no SAN extension) matches nothing, as
 * in Go; mbedTLS alone would accept "localhost" from the CN. */
static void test_cn_only_refused(void **state)
{
    tls_keypair_t cn_only;
    assert_int_equal(tls_gen_leaf(rng, &ca, "localhost", NULL, NULL, 0, NULL, 0, 0, &cn_only), 0);
    const char *names[] = {"localhost", "127.0.0.1"};
    for (size_t i = 0; i < 2; i++) {
        pair_t pr;
        char want[200];
        pair_open(&pr, make_ctx(0, &ca, NULL, 0, 0), make_ctx(1, NULL, &cn_only, 0, 0), names[i],
                  NULL, NULL);
        pair_connect(&pr, chunks[i]);
        snprintf(want, sizeof want,
                 "hostname mismatch: the certificate has its name only in the legacy Common Name "
                 "field and no SANs (not valid for %s)",
                 names[i]);
        expect_client_failure(&pr, TLS_EHOSTNAME, want);
        free_all(&pr);
    }
    /* Without verification (insecure-skip-tls-verify) it is not looked at. */
    pair_t pr;
    pair_open(&pr, make_ctx(0, NULL, NULL, 1, 0), make_ctx(1, NULL, &cn_only, 0, 0), "localhost",
              NULL, NULL);
    pair_connect(&pr, 0);
    assert_connected(&pr);
    free_all(&pr);
    tls_keypair_free(&cn_only);
}

static void test_untrusted_ca(void **state)
{
    for (size_t i = 0; i < 3; i++) {
        pair_t pr;
        pair_open(&pr, make_ctx(0, &ca, NULL, 0, 0), make_ctx(1, NULL, &other_server, 0, 0),
                  "localhost", NULL, NULL);
        pair_connect(&pr, chunks[i]);
        expect_client_failure(&pr, TLS_EVERIFY, "certificate verify failed: not trusted by CA");
        free_all(&pr);
    }
    /* Untrusted and for another IP: the trust problem is the one reported. */
    pair_t pr;
    pair_open(&pr, make_ctx(0, &ca, NULL, 0, 0), make_ctx(1, NULL, &other_server, 0, 0),
              "127.0.0.2", NULL, NULL);
    pair_connect(&pr, 0);
    expect_client_failure(&pr, TLS_EVERIFY, "certificate verify failed: not trusted by CA");
    free_all(&pr);
}

static void test_expired(void **state)
{
    pair_t pr;
    pair_open(&pr, make_ctx(0, &ca, NULL, 0, 0), make_ctx(1, NULL, &expired, 0, 0), "localhost",
              NULL, NULL);
    pair_connect(&pr, 7);
    expect_client_failure(&pr, TLS_EVERIFY, "certificate verify failed: expired");
    free_all(&pr);
}

static void test_insecure(void **state)
{
    pair_t pr;
    pair_open(&pr, make_ctx(0, NULL, NULL, 1, 0), make_ctx(1, NULL, &other_server, 0, 0),
              "wrong.name", NULL, NULL);
    pair_connect(&pr, 7);
    assert_connected(&pr);
    assert_int_equal(tls_conn_write(pr.cli.conn, (const uint8_t *)"ping", 4), 0);
    run(&pr, 1);
    assert_int_equal(pr.srv.got.len, 4);
    assert_memory_equal(pr.srv.got.data, "ping", 4);
    free_all(&pr);
}

static void test_client_certificate(void **state)
{
    for (size_t i = 0; i < 3; i++) {
        pair_t pr;
        pair_open(&pr, make_ctx(0, &ca, &client_kp, 0, 0), make_ctx(1, &ca, &server, 0, 1),
                  "localhost", NULL, NULL);
        pair_connect(&pr, chunks[i]);
        assert_connected(&pr);
        assert_non_null(tls_conn_peer_cn(pr.srv.conn));
        assert_string_equal(tls_conn_peer_cn(pr.srv.conn), "alice");
        assert_null(tls_conn_peer_cn(pr.cli.conn));
        free_all(&pr);
    }
}

static void test_client_certificate_required(void **state)
{
    pair_t pr;
    pair_open(&pr, make_ctx(0, &ca, NULL, 0, 0), make_ctx(1, &ca, &server, 0, 1), "localhost", NULL,
              NULL);
    pair_connect(&pr, 7);
    assert_int_equal(pr.srv.feed_rc, TLS_EVERIFY);
    assert_int_equal(pr.srv.hs_status, TLS_EVERIFY);
    assert_string_equal(tls_conn_error(pr.srv.conn),
                        "handshake failed: client certificate required");
    assert_null(tls_conn_peer_cn(pr.srv.conn));
    assert_int_equal(pr.cli.feed_rc, TLS_EHANDSHAKE);
    assert_int_equal(pr.cli.hs_status, TLS_EHANDSHAKE);
    assert_string_equal(tls_conn_error(pr.cli.conn), "peer sent alert: handshake failure");
    free_all(&pr);
    /* A certificate from another CA is rejected as well. */
    tls_keypair_t stranger;
    assert_int_equal(tls_gen_leaf(rng, &other_ca, "mallory", NULL, NULL, 0, NULL, 0, 1, &stranger),
                     0);
    pair_open(&pr, make_ctx(0, &ca, &stranger, 0, 0), make_ctx(1, &ca, &server, 0, 1), "localhost",
              NULL, NULL);
    pair_connect(&pr, 0);
    assert_int_equal(pr.srv.feed_rc, TLS_EVERIFY);
    assert_string_equal(tls_conn_error(pr.srv.conn),
                        "certificate verify failed: not trusted by CA");
    free_all(&pr);
    /* Optional mode (CA, no verify_client): a bad certificate counts as none, a good one is
     * named, none is fine. */
    const tls_keypair_t *who[] = {&stranger, &client_kp, NULL};
    for (size_t i = 0; i < 3; i++) {
        pair_open(&pr, make_ctx(0, &ca, who[i], 0, 0), make_ctx(1, &ca, &server, 0, 0), "localhost",
                  NULL, NULL);
        pair_connect(&pr, 7);
        assert_connected(&pr);
        if (who[i] == &client_kp)
            assert_string_equal(tls_conn_peer_cn(pr.srv.conn), "alice");
        else
            assert_null(tls_conn_peer_cn(pr.srv.conn));
        free_all(&pr);
    }
    tls_keypair_free(&stranger);
}

static void test_resumption(void **state)
{
    tls_ctx_t *cctx = make_ctx(0, &ca, &client_kp, 0, 0);
    tls_ctx_t *sctx = make_ctx(1, &ca, &server, 0, 1);
    tls_session_t *sess = NULL;
    pair_t pr;
    pair_open(&pr, cctx, sctx, "127.0.0.1", NULL, NULL);
    assert_int_equal(tls_conn_get_session(pr.cli.conn, &sess), -ENOTCONN);
    pair_connect(&pr, 7);
    assert_connected(&pr);
    assert_int_equal(tls_conn_resumed(pr.cli.conn), 0);
    assert_int_equal(tls_conn_get_session(pr.cli.conn, &sess), 0);
    pair_close(&pr);
    for (size_t i = 0; i < 3; i++) {
        pair_open(&pr, cctx, sctx, "127.0.0.1", NULL, sess);
        pair_connect(&pr, chunks[i]);
        assert_connected(&pr);
        assert_int_equal(tls_conn_resumed(pr.cli.conn), 1);
        assert_int_equal(tls_conn_resumed(pr.srv.conn), 1);
        /* Abbreviated handshake: no certificates, fewer bytes; identity survives. */
        assert_int_equal(pr.srv.sends, 1);
        assert_string_equal(tls_conn_peer_cn(pr.srv.conn), "alice");
        assert_int_equal(tls_conn_write(pr.cli.conn, (const uint8_t *)"again", 5), 0);
        run(&pr, chunks[i]);
        assert_int_equal(pr.srv.got.len, 5);
        pair_close(&pr);
    }
    /* Without a session: a full handshake again. */
    pair_open(&pr, cctx, sctx, "127.0.0.1", NULL, NULL);
    pair_connect(&pr, 0);
    assert_connected(&pr);
    assert_int_equal(tls_conn_resumed(pr.cli.conn), 0);
    assert_int_equal(tls_conn_resumed(pr.srv.conn), 0);
    pair_close(&pr);
    /* A session from another server context (other ticket key) falls back to a full one. */
    tls_ctx_t *sctx2 = make_ctx(1, &ca, &server, 0, 1);
    pair_open(&pr, cctx, sctx2, "127.0.0.1", NULL, sess);
    pair_connect(&pr, 0);
    assert_connected(&pr);
    assert_int_equal(tls_conn_resumed(pr.cli.conn), 0);
    pair_close(&pr);
    tls_session_free(sess);
    tls_ctx_free(sctx2);
    tls_ctx_free(cctx);
    tls_ctx_free(sctx);
}

static void test_close_notify(void **state)
{
    for (size_t i = 0; i < 3; i++) {
        pair_t pr;
        connect_default(&pr, "localhost", chunks[i]);
        assert_connected(&pr);
        assert_int_equal(tls_conn_write(pr.srv.conn, (const uint8_t *)"bye", 3), 0);
        assert_int_equal(tls_conn_close_notify(pr.srv.conn), 0);
        assert_int_equal(tls_conn_write(pr.srv.conn, (const uint8_t *)"late", 4), -EPIPE);
        run(&pr, chunks[i]);
        assert_int_equal(pr.cli.feed_rc, TLS_ECLOSED);
        assert_int_equal(pr.cli.got.len, 3);
        assert_memory_equal(pr.cli.got.data, "bye", 3);
        assert_int_equal(tls_conn_feed(pr.cli.conn, (const uint8_t *)"x", 1), TLS_ECLOSED);
        free_all(&pr);
    }
}

static void test_garbage_input(void **state)
{
    pair_t pr;
    pair_open(&pr, make_ctx(0, &ca, NULL, 0, 0), make_ctx(1, NULL, &server, 0, 0), "localhost",
              NULL, NULL);
    const char *http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    int r = tls_conn_feed(pr.srv.conn, (const uint8_t *)http, strlen(http));
    assert_int_equal(r, TLS_EHANDSHAKE);
    assert_int_equal(pr.srv.hs_status, TLS_EHANDSHAKE);
    assert_int_equal(strncmp(tls_conn_error(pr.srv.conn), "handshake failed: ", 18), 0);
    assert_int_equal(tls_conn_write(pr.cli.conn, (const uint8_t *)"x", 1), -ENOTCONN);
    free_all(&pr);
}

/* ---- contexts ------------------------------------------------------------------------------- */
static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void test_ctx_files_and_der(void **state)
{
    char dir[] = "/tmp/pmx-tls-XXXXXX", cap[64], certp[64], keyp[64], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(cap, sizeof cap, "%s/ca.der", dir);
    snprintf(certp, sizeof certp, "%s/cert.pem", dir);
    snprintf(keyp, sizeof keyp, "%s/key.pem", dir);
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    assert_int_equal(
        mbedtls_x509_crt_parse(&crt, (const unsigned char *)ca.cert_pem, strlen(ca.cert_pem) + 1),
        0);
    write_file(cap, crt.raw.p, crt.raw.len);
    write_file(certp, server.cert_pem, strlen(server.cert_pem));
    write_file(keyp, server.key_pem, strlen(server.key_pem));
    tls_ctx_t *cctx, *cctx2, *sctx;
    tls_ctx_opts_t co = {.ca_file = cap};
    assert_int_equal(tls_ctx_new(&co, &cctx, err, sizeof err), 0);
    tls_ctx_opts_t co2 = {.ca_data = crt.raw.p, .ca_data_len = crt.raw.len}; /* DER in memory */
    assert_int_equal(tls_ctx_new(&co2, &cctx2, err, sizeof err), 0);
    tls_ctx_opts_t so = {.is_server = 1, .cert_file = certp, .key_file = keyp};
    assert_int_equal(tls_ctx_new(&so, &sctx, err, sizeof err), 0);
    tls_ctx_t *cs[] = {cctx, cctx2};
    for (size_t i = 0; i < 2; i++) {
        pair_t pr;
        pair_open(&pr, cs[i], sctx, "::1", NULL, NULL);
        pair_connect(&pr, 0);
        assert_connected(&pr);
        pair_close(&pr);
    }
    tls_ctx_free(cctx);
    tls_ctx_free(cctx2);
    tls_ctx_free(sctx);
    mbedtls_x509_crt_free(&crt);
    unlink(cap);
    unlink(certp);
    unlink(keyp);
    rmdir(dir);
}

static void test_ctx_errors(void **state)
{
    char err[256];
    tls_ctx_t *t = NULL;
    tls_ctx_opts_t o = {.ca_file = "/nonexistent/ca.crt"};
    assert_int_equal(tls_ctx_new(&o, &t, err, sizeof err), -ENOENT);
    assert_string_equal(err, "cannot read CA file /nonexistent/ca.crt: No such file or directory");
    assert_null(t);
    tls_ctx_opts_t s = {.is_server = 1};
    assert_int_equal(tls_ctx_new(&s, &t, err, sizeof err), -EINVAL);
    assert_string_equal(err, "a TLS server needs a certificate and a key");
    tls_ctx_opts_t mismatch = {.is_server = 1,
                               .cert_data = (const uint8_t *)server.cert_pem,
                               .cert_data_len = strlen(server.cert_pem) + 1,
                               .key_data = (const uint8_t *)client_kp.key_pem,
                               .key_data_len = strlen(client_kp.key_pem) + 1};
    assert_int_equal(tls_ctx_new(&mismatch, &t, err, sizeof err), -EINVAL);
    assert_string_equal(err, "certificate and key do not match");
    tls_ctx_opts_t junk = {.ca_data = (const uint8_t *)"not a certificate", .ca_data_len = 17};
    assert_int_equal(tls_ctx_new(&junk, &t, err, sizeof err), -EINVAL);
    assert_int_equal(strncmp(err, "cannot parse CA data: ", 22), 0);
    tls_ctx_opts_t vc = {.is_server = 1,
                         .verify_client = 1,
                         .cert_data = (const uint8_t *)server.cert_pem,
                         .cert_data_len = strlen(server.cert_pem),
                         .key_data = (const uint8_t *)server.key_pem,
                         .key_data_len = strlen(server.key_pem)};
    assert_int_equal(tls_ctx_new(&vc, &t, err, sizeof err), -EINVAL);
    assert_string_equal(err, "verify_client needs a CA");
    /* No CA at all: the system bundle. */
    tls_ctx_opts_t sys = {0};
    if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0) {
        assert_int_equal(tls_ctx_new(&sys, &t, err, sizeof err), 0);
        tls_ctx_free(t);
    }
}

static void test_random(void **state)
{
    uint8_t a[3000], b[3000], zero[3000] = {0};
    assert_int_equal(tls_ctx_random(rng, a, sizeof a), 0);
    assert_int_equal(tls_ctx_random(rng, b, sizeof b), 0);
    assert_memory_not_equal(a, b, sizeof a);
    assert_memory_not_equal(a + 2000, zero, 1000);
}

/* ---- generated certificates ----------------------------------------------------------------- */
static void parse(mbedtls_x509_crt *crt, const char *pem)
{
    mbedtls_x509_crt_init(crt);
    assert_int_equal(mbedtls_x509_crt_parse(crt, (const unsigned char *)pem, strlen(pem) + 1), 0);
}

static void test_generated_certs(void **state)
{
    mbedtls_x509_crt c, s, k;
    char dn[256];
    parse(&c, ca.cert_pem);
    parse(&s, server.cert_pem);
    parse(&k, client_kp.cert_pem);
    /* CA: CA:TRUE, keyCertSign, self-signed, v3. */
    assert_int_equal(c.version, 3);
    assert_int_equal(c.ca_istrue, 1);
    assert_true(c.key_usage & MBEDTLS_X509_KU_KEY_CERT_SIGN);
    assert_int_equal(mbedtls_x509_dn_gets(dn, sizeof dn, &c.subject) > 0, 1);
    assert_string_equal(dn, "CN=podmux test CA");
    assert_int_equal(c.subject_raw.len, c.issuer_raw.len);
    assert_memory_equal(c.subject_raw.p, c.issuer_raw.p, c.subject_raw.len);
    assert_int_equal(c.sig_md, MBEDTLS_MD_SHA256);
    assert_int_equal(mbedtls_pk_get_type(&c.pk), MBEDTLS_PK_ECKEY);
    assert_int_equal(mbedtls_pk_get_bitlen(&c.pk), 256);
    /* Leaf: issuer bytes identical to the CA subject (Go matches raw bytes). */
    assert_int_equal(s.issuer_raw.len, c.subject_raw.len);
    assert_memory_equal(s.issuer_raw.p, c.subject_raw.p, c.subject_raw.len);
    assert_int_equal(s.ca_istrue, 0);
    assert_int_equal(mbedtls_x509_crt_check_extended_key_usage(
                         &s, MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)),
                     0);
    assert_int_not_equal(
        mbedtls_x509_crt_check_extended_key_usage(&s, MBEDTLS_OID_CLIENT_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)),
        0);
    /* SANs in order: two DNS names then 127.0.0.1 and ::1. */
    static const uint8_t v4[4] = {127, 0, 0, 1}, v6[16] = {[15] = 1};
    const mbedtls_x509_sequence *san = &s.subject_alt_names;
    assert_int_equal(san->buf.tag, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2);
    assert_memory_equal(san->buf.p, "localhost", 9);
    san = san->next;
    assert_memory_equal(san->buf.p, "sim.test", 8);
    san = san->next;
    assert_int_equal(san->buf.tag, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7);
    assert_int_equal(san->buf.len, 4);
    assert_memory_equal(san->buf.p, v4, 4);
    san = san->next;
    assert_int_equal(san->buf.len, 16);
    assert_memory_equal(san->buf.p, v6, 16);
    assert_null(san->next);
    uint32_t flags = 0;
    assert_int_equal(mbedtls_x509_crt_verify(&s, &c, NULL, "sim.test", &flags, NULL, NULL), 0);
    /* Client: O then CN, clientAuth. */
    assert_int_equal(mbedtls_x509_dn_gets(dn, sizeof dn, &k.subject) > 0, 1);
    assert_string_equal(dn, "O=devs, CN=alice");
    assert_int_equal(mbedtls_x509_crt_check_extended_key_usage(
                         &k, MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)),
                     0);
    assert_int_equal(mbedtls_x509_crt_verify(&k, &c, NULL, NULL, &flags, NULL, NULL), 0);
    /* Random serials. */
    assert_int_not_equal(
        s.serial.len == k.serial.len && memcmp(s.serial.p, k.serial.p, s.serial.len) == 0, 1);
    mbedtls_x509_crt_free(&c);
    mbedtls_x509_crt_free(&s);
    mbedtls_x509_crt_free(&k);
}

static void test_gen_rejects_bad_input(void **state)
{
    tls_keypair_t kp;
    const char *bad_ip[] = {"300.1.1.1"};
    const char *bad_dns[] = {"has space"};
    assert_int_equal(tls_gen_leaf(rng, &ca, "x", NULL, NULL, 0, bad_ip, 1, 0, &kp), -EINVAL);
    assert_null(kp.cert_pem);
    assert_int_equal(tls_gen_leaf(rng, &ca, "x", NULL, bad_dns, 1, NULL, 0, 0, &kp), -EINVAL);
    tls_keypair_t broken = {.cert_pem = "junk", .key_pem = "junk"};
    assert_int_equal(tls_gen_leaf(rng, &broken, "x", NULL, NULL, 0, NULL, 0, 0, &kp), -EINVAL);
    assert_int_equal(tls_gen_ca(rng, "", &kp), -EINVAL);
    /* A comma in a name survives (escaped for mbedTLS). */
    assert_int_equal(tls_gen_leaf(rng, &ca, "smith, john", "a,b", NULL, 0, NULL, 0, 1, &kp), 0);
    mbedtls_x509_crt k;
    char dn[256];
    parse(&k, kp.cert_pem);
    mbedtls_x509_dn_gets(dn, sizeof dn, &k.subject);
    assert_string_equal(dn, "O=a\\,b, CN=smith\\, john"); /* dn_gets escapes the commas */
    mbedtls_x509_crt_free(&k);
    tls_keypair_free(&kp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generated_certs),
        cmocka_unit_test(test_gen_rejects_bad_input),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_bulk_both_ways),
        cmocka_unit_test(test_one_record_per_write),
        cmocka_unit_test(test_records_in_one_feed),
        cmocka_unit_test(test_pause_and_pump),
        cmocka_unit_test(test_write_from_callbacks),
        cmocka_unit_test(test_paused_input_is_bounded),
        cmocka_unit_test(test_hostname_mismatch),
        cmocka_unit_test(test_verify_name_override),
        cmocka_unit_test(test_ip_sans),
        cmocka_unit_test(test_cn_only_refused),
        cmocka_unit_test(test_untrusted_ca),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_insecure),
        cmocka_unit_test(test_client_certificate),
        cmocka_unit_test(test_client_certificate_required),
        cmocka_unit_test(test_resumption),
        cmocka_unit_test(test_close_notify),
        cmocka_unit_test(test_garbage_input),
        cmocka_unit_test(test_ctx_files_and_der),
        cmocka_unit_test(test_ctx_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
