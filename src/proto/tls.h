/* tls: a pure TLS engine over mbedTLS 2.28, fed with ciphertext from memory.
 *
 * No I/O of its own. The owner (src/client/stream.c) feeds bytes read from the socket with
 * tls_conn_feed(); the engine hands ciphertext to send through io.send and decrypted plaintext to
 * io.recv. Used by the client (libpodmux) and the server (podmux-sim).
 *
 * Errors are negative errno-style ints (-EPROTO, -ENOMEM, -EINVAL, ...) or TLS_E* below, with a
 * one-line human text available from tls_conn_error() / the errbuf of tls_ctx_new(). */
#ifndef PMX_NET_TLS_H
#define PMX_NET_TLS_H

#include <stddef.h>
#include <stdint.h>

#define TLS_EVERIFY (-10001)    /* certificate verification failed (text says why) */
#define TLS_EHOSTNAME (-10002)  /* certificate does not match the server name / IP */
#define TLS_EHANDSHAKE (-10003) /* any other handshake failure, alert received, ... */
#define TLS_ECLOSED (-10004)    /* peer sent close_notify (not an error for the reader) */

typedef struct tls_ctx tls_ctx_t;   /* shared config: one per client or per server */
typedef struct tls_conn tls_conn_t; /* one connection */

typedef struct tls_ctx_opts {
    int is_server;
    /* Trust anchors (client; server when verify_client). PEM (NUL-terminated) or DER. Data wins
     * over the file. With none given, a client uses the system bundle
     * (/etc/ssl/certs/ca-certificates.crt). */
    const char *ca_file;
    const uint8_t *ca_data;
    size_t ca_data_len;
    /* Own certificate and key (server: required; client: optional client certificate).
     * RSA or EC, PEM or DER; data wins over file. */
    const char *cert_file;
    const uint8_t *cert_data;
    size_t cert_data_len;
    const char *key_file;
    const uint8_t *key_data;
    size_t key_data_len;
    /* Client: trust the CA chain of this context (which must outlive the new one) instead of
     * loading one: a context rebuilt for a new client certificate reads and parses nothing. */
    struct tls_ctx *ca_from;
    int insecure;      /* client: do TLS but skip verification */
    int verify_client; /* server: require a client certificate signed by the CA (else optional) */
} tls_ctx_opts_t;

/* Returns 0 or <0 with a one-line reason in errbuf ("cannot read CA file /x: ..."). */
int tls_ctx_new(const tls_ctx_opts_t *opts, tls_ctx_t **out, char *errbuf, size_t errlen);
void tls_ctx_free(tls_ctx_t *ctx);
/* Fills buf with len random bytes from the context's CSPRNG (ctr_drbg). */
int tls_ctx_random(tls_ctx_t *ctx, uint8_t *buf, size_t len);

typedef struct tls_io {
    /* Ciphertext ready for the peer. Must take all of it (copy or queue). Returns 0 or <0. */
    int (*send)(void *arg, const uint8_t *data, size_t len);
    /* Decrypted application data. Return 0 to keep delivering, 1 to pause: the rest stays inside
     * the engine until tls_conn_pump() is called. */
    int (*recv)(void *arg, const uint8_t *data, size_t len);
    /* Handshake finished (status 0) or failed (<0, see tls_conn_error()). Called once. */
    void (*handshake_done)(void *arg, int status);
    void *arg;
} tls_io_t;

/* server_name: client only; used for SNI and verification. An IP literal (v4 or v6) is checked
 * against the certificate's IP SANs (podmux does this itself: mbedTLS 2.28 cannot), and no SNI
 * is sent for it. verify_name, if non-NULL, overrides the name verified and sent as SNI
 * (kubeconfig tls-server-name). */
int tls_conn_new(tls_ctx_t *ctx, const char *server_name, const char *verify_name,
                 const tls_io_t *io, tls_conn_t **out);
void tls_conn_free(tls_conn_t *c);

/* Client: starts the handshake (emits ClientHello through io.send). Server: no-op. */
int tls_conn_start(tls_conn_t *c);
/* Ciphertext from the socket. Runs the handshake, then decrypts and delivers through io.recv
 * every byte of plaintext available (drains mbedTLS's buffer, several records per call).
 * Returns 0, TLS_ECLOSED when the peer sent close_notify (after delivering all data before it),
 * or another <0 error (fatal). */
int tls_conn_feed(tls_conn_t *c, const uint8_t *data, size_t len);
/* Delivers plaintext already inside the engine (after a pause). Same returns as feed. */
int tls_conn_pump(tls_conn_t *c);
/* Plaintext to encrypt; all of it is emitted through io.send (one record per 16 KiB). A write
 * of <= 16 KiB is exactly one record. Only after the handshake finished. */
int tls_conn_write(tls_conn_t *c, const uint8_t *data, size_t len);
/* Sends close_notify. */
int tls_conn_close_notify(tls_conn_t *c);
int tls_conn_handshake_done(const tls_conn_t *c);
/* Last error as one line ("certificate verify failed: not trusted by CA"). Never NULL. */
const char *tls_conn_error(const tls_conn_t *c);
/* Client session resumption. get: after a handshake, an opaque heap copy of the session without
 * the server's certificate (free with tls_session_free). set: before tls_conn_start. A resumed
 * connection has no peer certificate: only the full handshake that made the session checked it. */
typedef struct tls_session tls_session_t;
int tls_conn_get_session(tls_conn_t *c, tls_session_t **out);
int tls_conn_set_session(tls_conn_t *c, const tls_session_t *s);
void tls_session_free(tls_session_t *s);
int tls_conn_resumed(const tls_conn_t *c); /* 1 if the handshake resumed a session */
/* Server: subject CN of the verified client certificate, or NULL. */
const char *tls_conn_peer_cn(const tls_conn_t *c);

/* ---- certificate generation for podmux-sim (EC P-256, SHA-256) -------------------------- */
typedef struct tls_keypair {
    char *cert_pem; /* heap, NUL-terminated */
    char *key_pem;
} tls_keypair_t;
void tls_keypair_free(tls_keypair_t *kp);
/* A self-signed CA valid for 10 years. */
int tls_gen_ca(tls_ctx_t *rng_ctx, const char *cn, tls_keypair_t *out);
/* A leaf signed by ca. dns/ips: SANs (ips as text, v4 or v6). client: extendedKeyUsage
 * clientAuth instead of serverAuth. cn is the subject CN (for a client: the user name), org the
 * subject O (for a client: its group), may be NULL. */
int tls_gen_leaf(tls_ctx_t *rng_ctx, const tls_keypair_t *ca, const char *cn, const char *org,
                 const char *const *dns, size_t ndns, const char *const *ips, size_t nips,
                 int client, tls_keypair_t *out);

#endif
