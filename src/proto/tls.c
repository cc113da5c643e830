/* tls: a pure TLS engine over mbedTLS 2.28. See tls.h.
 *
 * mbedTLS reads through bio_recv(), which serves first the ciphertext stashed in c->in (left over
 * while paused) and then the caller's current tls_conn_feed() slice in place, so the common case
 * copies nothing. mbedTLS keeps partial records itself. Whatever is still unread when a feed
 * returns (only when paused) is stashed in c->in.
 *
 * Output: during the handshake every record goes to c->hs_out and a whole flight leaves in one
 * io.send (one uv_write instead of four). Afterwards each record goes straight to io.send, so a
 * tls_conn_write() of <= 16 KiB is exactly one record in one send.
 *
 * mbedTLS 2.28 cannot match IP SANs, so for an IP-literal server name hostname checking is turned
 * off (mbedtls_ssl_set_hostname(NULL)) and a verify callback checks the leaf's iPAddress SANs; a
 * mismatch is reported as BADCERT_CN_MISMATCH like a hostname mismatch.
 *
 * Server and client certificates: verify_client makes one required. Without it, a CA on the
 * server makes one optional: a certificate that fails verification is treated as absent
 * (tls_conn_peer_cn() returns NULL), like kube-apiserver, which then falls back to other
 * authentication. */
#include "proto/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_internal.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

#include "util/buf.h"

#define TLS_SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"
/* Ciphertext stashed while the owner is paused; the owner stops reading, so one socket read. */
#define TLS_IN_LIMIT (1024 * 1024)
#define TLS_HS_OUT_LIMIT (256 * 1024)
/* Server session cache: the sim serves thousands of clients that resume. */
#define TLS_CACHE_ENTRIES 20000
#define TLS_SESSION_LIFETIME (24 * 3600)
#define TLS_READ_CHUNK MBEDTLS_SSL_IN_CONTENT_LEN

struct tls_ctx {
    mbedtls_ssl_config conf;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt ca;
    mbedtls_x509_crt own;
    mbedtls_pk_context key;
    mbedtls_ssl_cache_context cache;
    mbedtls_ssl_ticket_context ticket;
    int is_server, insecure;
};

struct tls_conn {
    tls_ctx_t *ctx;
    mbedtls_ssl_context ssl;
    tls_io_t io;
    buf_t in;            /* ciphertext not yet read by mbedTLS (paused) */
    size_t in_off;       /* read position in `in` */
    const uint8_t *feed; /* the caller's bytes during tls_conn_feed() */
    size_t feed_len;     /* unread part of feed */
    buf_t hs_out;        /* handshake flight, sent as one */
    int io_err;          /* first failure of io.send (or of buffering) */
    int fatal;           /* sticky error returned by every later call */
    unsigned started : 1, hs_done : 1, paused : 1, closed : 1, close_sent : 1, resumed : 1,
        busy : 1, check_ip : 1, cn_only : 1, err_set : 1;
    uint8_t ip[16];
    size_t ip_len;
    char *peer_cn;
    char *name; /* name verified, for error text */
    char *err;  /* the last error (made when there is one: an open connection keeps no room) */
};

/* A session kept parsed, so that offering it costs a copy of its ticket, not a parse; and
 * without the server's certificate (only a full handshake checks one), so that neither the
 * copy nor every resumed connection holds a parsed certificate chain (~2 KiB each). */
struct tls_session {
    mbedtls_ssl_session s;
};

/* What a client offers: the AEAD suites Go's crypto/tls offers (kube-apiserver is a Go server)
 * with ChaCha20-Poly1305 first, the fastest of mbedTLS's portable C here (a Go server honours
 * that preference), then its CBC fallbacks. mbedTLS's default list has ~150 suites: the
 * ClientHello was 462 bytes, and building it looked each suite up in a table of them all, 4%
 * of a resumed handshake's instructions. */
static const int client_suites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
    MBEDTLS_TLS_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_RSA_WITH_AES_128_CBC_SHA,
    MBEDTLS_TLS_RSA_WITH_AES_256_CBC_SHA,
    0,
};

/* Go's curve preferences (X25519, P-256, P-384, P-521), for both ends: a Go server (the API
 * server) picks the first of its own list that the client offers. mbedTLS's default list starts
 * at secp521r1, so podmux-sim used to answer every client with P-521, the costliest curve. */
static const mbedtls_ecp_group_id go_curves[] = {MBEDTLS_ECP_DP_CURVE25519,
                                                 MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_SECP384R1,
                                                 MBEDTLS_ECP_DP_SECP521R1, MBEDTLS_ECP_DP_NONE};

static void set_err(tls_conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(tls_conn_t *c, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    free(c->err);
    c->err = strdup(line); /* NULL: tls_conn_error() says "out of memory" */
    c->err_set = 1;
}

/* ---- context -------------------------------------------------------------------------------- */
static void mbed_err(char *dst, size_t len, const char *what, int code)
{
    char txt[160];
    mbedtls_strerror(code, txt, sizeof txt);
    snprintf(dst, len, "%s: %s", what, txt);
}

/* mbedTLS wants PEM with its NUL terminator counted; the header promises only NUL-terminated. */
static int is_pem(const uint8_t *d, size_t len)
{
    return len > 10 && memmem(d, len, "-----BEGIN", 10) != NULL;
}

static size_t pem_len(const uint8_t *d, size_t len)
{
    if (!is_pem(d, len) || d[len - 1] == '\0') return len;
    return len + 1; /* the caller's string is NUL-terminated right after len */
}

static int file_error(const char *what, const char *path, int code, char *errbuf, size_t errlen)
{
    char head[320];
    if (access(path, R_OK) != 0) {
        snprintf(errbuf, errlen, "cannot read %s %s: %s", what, path, strerror(errno));
        return -errno;
    }
    snprintf(head, sizeof head, "cannot parse %s %s", what, path);
    mbed_err(errbuf, errlen, head, code);
    return -EINVAL;
}

static int load_ca(tls_ctx_t *t, const tls_ctx_opts_t *o, char *errbuf, size_t errlen)
{
    int r;
    if (o->ca_from) return 0; /* its chain is used as it is: nothing read, nothing parsed */
    if (o->ca_data && o->ca_data_len) {
        r = mbedtls_x509_crt_parse(&t->ca, o->ca_data, pem_len(o->ca_data, o->ca_data_len));
        if (r < 0 || t->ca.version == 0) {
            mbed_err(errbuf, errlen, "cannot parse CA data", r);
            return -EINVAL;
        }
        return 0;
    }
    const char *file = o->ca_file;
    if (!file && o->is_server) return 0;
    if (!file) file = TLS_SYSTEM_CA;
    /* A bundle may hold a few certificates mbedTLS cannot parse (r > 0): keep the rest. */
    r = mbedtls_x509_crt_parse_file(&t->ca, file);
    if (r < 0 || t->ca.version == 0) return file_error("CA file", file, r, errbuf, errlen);
    return 0;
}

static int load_own(tls_ctx_t *t, const tls_ctx_opts_t *o, char *errbuf, size_t errlen)
{
    int r;
    int has_cert = (o->cert_data && o->cert_data_len) || o->cert_file;
    int has_key = (o->key_data && o->key_data_len) || o->key_file;
    if (!has_cert && !has_key) {
        if (!o->is_server) return 0;
        snprintf(errbuf, errlen, "a TLS server needs a certificate and a key");
        return -EINVAL;
    }
    if (!has_cert || !has_key) {
        snprintf(errbuf, errlen, "%s given without %s", has_cert ? "certificate" : "key",
                 has_cert ? "key" : "certificate");
        return -EINVAL;
    }
    if (o->cert_data && o->cert_data_len) {
        r = mbedtls_x509_crt_parse(&t->own, o->cert_data, pem_len(o->cert_data, o->cert_data_len));
        if (r != 0) {
            mbed_err(errbuf, errlen, "cannot parse certificate data", r);
            return -EINVAL;
        }
    } else if ((r = mbedtls_x509_crt_parse_file(&t->own, o->cert_file)) != 0) {
        return file_error("certificate file", o->cert_file, r, errbuf, errlen);
    }
    if (o->key_data && o->key_data_len) {
        r = mbedtls_pk_parse_key(&t->key, o->key_data, pem_len(o->key_data, o->key_data_len), NULL,
                                 0);
        if (r != 0) {
            mbed_err(errbuf, errlen, "cannot parse key data", r);
            return -EINVAL;
        }
    } else if ((r = mbedtls_pk_parse_keyfile(&t->key, o->key_file, NULL)) != 0) {
        return file_error("key file", o->key_file, r, errbuf, errlen);
    }
    if (mbedtls_pk_check_pair(&t->own.pk, &t->key) != 0) {
        snprintf(errbuf, errlen, "certificate and key do not match");
        return -EINVAL;
    }
    if ((r = mbedtls_ssl_conf_own_cert(&t->conf, &t->own, &t->key)) != 0) {
        mbed_err(errbuf, errlen, "cannot use certificate", r);
        return -ENOMEM;
    }
    return 0;
}

static int setup_server(tls_ctx_t *t, const tls_ctx_opts_t *o, char *errbuf, size_t errlen)
{
    int has_ca = t->ca.version != 0;
    if (o->verify_client && !has_ca) {
        snprintf(errbuf, errlen, "verify_client needs a CA");
        return -EINVAL;
    }
    if (has_ca) {
        mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
        mbedtls_ssl_conf_authmode(&t->conf, o->verify_client ? MBEDTLS_SSL_VERIFY_REQUIRED
                                                             : MBEDTLS_SSL_VERIFY_OPTIONAL);
    } else {
        mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_NONE);
    }
    /* Both resumption kinds: tickets cost the server nothing per client; the cache serves
     * clients that do not do tickets. */
    mbedtls_ssl_cache_set_max_entries(&t->cache, TLS_CACHE_ENTRIES);
    mbedtls_ssl_cache_set_timeout(&t->cache, TLS_SESSION_LIFETIME);
    mbedtls_ssl_conf_session_cache(&t->conf, &t->cache, mbedtls_ssl_cache_get,
                                   mbedtls_ssl_cache_set);
    int r = mbedtls_ssl_ticket_setup(&t->ticket, mbedtls_ctr_drbg_random, &t->drbg,
                                     MBEDTLS_CIPHER_AES_256_GCM, TLS_SESSION_LIFETIME);
    if (r != 0) {
        mbed_err(errbuf, errlen, "cannot set up session tickets", r);
        return -ENOMEM;
    }
    mbedtls_ssl_conf_session_tickets_cb(&t->conf, mbedtls_ssl_ticket_write,
                                        mbedtls_ssl_ticket_parse, &t->ticket);
    return 0;
}

static void setup_client(tls_ctx_t *t, const tls_ctx_opts_t *o)
{
    mbedtls_ssl_conf_ciphersuites(&t->conf, client_suites);
    if (o->insecure) {
        mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_NONE);
        return;
    }
    mbedtls_ssl_conf_ca_chain(&t->conf, o->ca_from ? &o->ca_from->ca : &t->ca, NULL);
    mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_session_tickets(&t->conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
}

static int ctx_setup(tls_ctx_t *t, const tls_ctx_opts_t *o, char *errbuf, size_t errlen)
{
    static const char pers[] = "podmux-tls";
    int r = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
                                  (const unsigned char *)pers, sizeof pers - 1);
    if (r != 0) {
        mbed_err(errbuf, errlen, "cannot seed the random generator", r);
        return -EIO;
    }
    r = mbedtls_ssl_config_defaults(&t->conf,
                                    o->is_server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (r != 0) {
        mbed_err(errbuf, errlen, "cannot set up TLS", r);
        return -ENOMEM;
    }
    mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
    mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_renegotiation(&t->conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
    mbedtls_ssl_conf_curves(&t->conf, go_curves);
    if (!(o->insecure && !o->is_server) && (r = load_ca(t, o, errbuf, errlen)) < 0) return r;
    if ((r = load_own(t, o, errbuf, errlen)) < 0) return r;
    if (o->is_server) return setup_server(t, o, errbuf, errlen);
    setup_client(t, o);
    return 0;
}

int tls_ctx_new(const tls_ctx_opts_t *opts, tls_ctx_t **out, char *errbuf, size_t errlen)
{
    char dummy[1];
    if (!errbuf || errlen == 0) errbuf = dummy, errlen = sizeof dummy;
    errbuf[0] = '\0';
    if (!opts || !out) return -EINVAL;
    tls_ctx_t *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(errbuf, errlen, "out of memory");
        return -ENOMEM;
    }
    t->is_server = !!opts->is_server;
    t->insecure = !!opts->insecure && !opts->is_server;
    mbedtls_ssl_config_init(&t->conf);
    mbedtls_entropy_init(&t->entropy);
    mbedtls_ctr_drbg_init(&t->drbg);
    mbedtls_x509_crt_init(&t->ca);
    mbedtls_x509_crt_init(&t->own);
    mbedtls_pk_init(&t->key);
    mbedtls_ssl_cache_init(&t->cache);
    mbedtls_ssl_ticket_init(&t->ticket);
    int r = ctx_setup(t, opts, errbuf, errlen);
    if (r < 0) {
        tls_ctx_free(t);
        return r;
    }
    *out = t;
    return 0;
}

void tls_ctx_free(tls_ctx_t *t)
{
    if (!t) return;
    mbedtls_ssl_config_free(&t->conf);
    mbedtls_ssl_ticket_free(&t->ticket);
    mbedtls_ssl_cache_free(&t->cache);
    mbedtls_pk_free(&t->key);
    mbedtls_x509_crt_free(&t->own);
    mbedtls_x509_crt_free(&t->ca);
    mbedtls_ctr_drbg_free(&t->drbg);
    mbedtls_entropy_free(&t->entropy);
    free(t);
}

int tls_ctx_random(tls_ctx_t *t, uint8_t *buf, size_t len)
{
    while (len > 0) {
        size_t n = len < MBEDTLS_CTR_DRBG_MAX_REQUEST ? len : MBEDTLS_CTR_DRBG_MAX_REQUEST;
        if (mbedtls_ctr_drbg_random(&t->drbg, buf, n) != 0) return -EIO;
        buf += n;
        len -= n;
    }
    return 0;
}

/* ---- memory BIO ----------------------------------------------------------------------------- */
static size_t input_left(const tls_conn_t *c)
{
    return c->in.len - c->in_off + c->feed_len;
}

static int bio_recv(void *arg, unsigned char *dst, size_t len)
{
    tls_conn_t *c = arg;
    size_t n;
    if (c->in_off < c->in.len) {
        n = c->in.len - c->in_off < len ? c->in.len - c->in_off : len;
        memcpy(dst, c->in.data + c->in_off, n);
        c->in_off += n;
        if (c->in_off == c->in.len) { /* drained: give the memory back (idle cost) */
            buf_free(&c->in);
            c->in_off = 0;
        }
        return (int)n;
    }
    if (c->feed_len == 0) return MBEDTLS_ERR_SSL_WANT_READ;
    n = c->feed_len < len ? c->feed_len : len;
    memcpy(dst, c->feed, n);
    c->feed += n;
    c->feed_len -= n;
    return (int)n;
}

static int bio_send(void *arg, const unsigned char *data, size_t len)
{
    tls_conn_t *c = arg;
    if (c->io_err) return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
    if (!c->hs_done) {
        if (buf_append(&c->hs_out, data, len) < 0) {
            c->io_err = -ENOMEM;
            return MBEDTLS_ERR_SSL_ALLOC_FAILED;
        }
        return (int)len;
    }
    int r = c->io.send(c->io.arg, data, len);
    if (r < 0) {
        c->io_err = r;
        return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
    }
    return (int)len;
}

static int flush_hs_out(tls_conn_t *c)
{
    if (c->hs_out.len > 0 && !c->io_err) {
        int r = c->io.send(c->io.arg, (const uint8_t *)c->hs_out.data, c->hs_out.len);
        if (r < 0) c->io_err = r;
    }
    buf_free(&c->hs_out);
    return c->io_err;
}

/* Keeps the unread part of the caller's slice for the next feed/pump. */
static int stash_input(tls_conn_t *c)
{
    if (c->feed_len == 0) return 0;
    if (c->in_off > 0) {
        buf_consume(&c->in, c->in_off);
        c->in_off = 0;
    }
    int r = buf_append(&c->in, c->feed, c->feed_len);
    c->feed_len = 0;
    return r < 0 ? -ENOBUFS : 0;
}

/* ---- IP SANs -------------------------------------------------------------------------------- */
static int cert_has_ip(const mbedtls_x509_crt *crt, const uint8_t *ip, size_t ip_len)
{
    /* 2.28 keeps every SAN in subject_alt_names with its raw tag; it only cannot parse an
     * iPAddress, so compare the OCTET STRING content directly. */
    const mbedtls_x509_sequence *s;
    for (s = &crt->subject_alt_names; s && s->buf.p; s = s->next) {
        if (s->buf.tag != (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_IP_ADDRESS)) continue;
        if (s->buf.len == ip_len && memcmp(s->buf.p, ip, ip_len) == 0) return 1;
    }
    return 0;
}

static int verify_cb(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    tls_conn_t *c = arg;
    if (depth != 0) return 0;
    /* Go (1.17 on) matches names in SANs only; mbedTLS falls back to the CN when there is no
     * SAN extension. A leaf without SANs matches nothing (issue 13). */
    if (!(crt->ext_types & MBEDTLS_X509_EXT_SUBJECT_ALT_NAME)) {
        c->cn_only = 1;
        *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
    }
    if (c->check_ip && !cert_has_ip(crt, c->ip, c->ip_len))
        *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
    return 0;
}

/* ---- errors --------------------------------------------------------------------------------- */
static const struct {
    unsigned char code;
    const char *name;
} alert_names[] = {
    {MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE, "handshake failure"},
    {MBEDTLS_SSL_ALERT_MSG_NO_CERT, "no certificate"},
    {MBEDTLS_SSL_ALERT_MSG_BAD_CERT, "bad certificate"},
    {MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT, "unsupported certificate"},
    {MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED, "certificate revoked"},
    {MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED, "certificate expired"},
    {MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN, "certificate unknown"},
    {MBEDTLS_SSL_ALERT_MSG_ILLEGAL_PARAMETER, "illegal parameter"},
    {MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA, "unknown CA"},
    {MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED, "access denied"},
    {MBEDTLS_SSL_ALERT_MSG_DECODE_ERROR, "decode error"},
    {MBEDTLS_SSL_ALERT_MSG_DECRYPT_ERROR, "decrypt error"},
    {MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION, "protocol version"},
    {MBEDTLS_SSL_ALERT_MSG_INSUFFICIENT_SECURITY, "insufficient security"},
    {MBEDTLS_SSL_ALERT_MSG_INTERNAL_ERROR, "internal error"},
    {MBEDTLS_SSL_ALERT_MSG_UNRECOGNIZED_NAME, "unrecognized name"},
    {MBEDTLS_SSL_ALERT_MSG_NO_APPLICATION_PROTOCOL, "no application protocol"},
    {116, "certificate required"}, /* TLS 1.3 servers (Go) may send it */
};

static void alert_text(tls_conn_t *c)
{
    unsigned char code = c->ssl.in_msg ? c->ssl.in_msg[1] : 0;
    for (size_t i = 0; i < sizeof alert_names / sizeof *alert_names; i++) {
        if (alert_names[i].code != code) continue;
        set_err(c, "peer sent alert: %s", alert_names[i].name);
        return;
    }
    set_err(c, "peer sent alert %u", code);
}

/* Text and code for a failed certificate check. Trust problems come before name problems. */
static int verify_error(tls_conn_t *c, uint32_t flags)
{
    const char *why = NULL;
    if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
        why = "not trusted by CA";
    else if (flags & MBEDTLS_X509_BADCERT_EXPIRED)
        why = "expired";
    else if (flags & MBEDTLS_X509_BADCERT_FUTURE)
        why = "not yet valid";
    else if (flags & MBEDTLS_X509_BADCERT_MISSING)
        why = "no certificate sent";
    if (!why && (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) && c->cn_only) {
        set_err(c,
                "hostname mismatch: the certificate has its name only in the legacy Common "
                "Name field and no SANs (not valid for %s)",
                c->name ? c->name : "(no name)");
        return TLS_EHOSTNAME;
    }
    if (!why && (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH)) {
        set_err(c, "hostname mismatch: certificate is not valid for %s",
                c->name ? c->name : "(no name)");
        return TLS_EHOSTNAME;
    }
    if (why) {
        set_err(c, "certificate verify failed: %s", why);
        return TLS_EVERIFY;
    }
    char info[200];
    mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
    info[strcspn(info, "\n")] = '\0';
    set_err(c, "certificate verify failed: %s", info);
    return TLS_EVERIFY;
}

static int handshake_error(tls_conn_t *c, int r)
{
    char txt[160];
    uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);
    if (c->io_err) {
        set_err(c, "handshake failed: cannot send (%s)", strerror(-c->io_err));
        return c->io_err;
    }
    if (r == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0 && flags != (uint32_t)-1)
        return verify_error(c, flags);
    if (r == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE) {
        /* mbedTLS sends no alert here; without one the client sees only a closed socket. */
        mbedtls_ssl_send_alert_message(&c->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                       MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
        set_err(c, "handshake failed: client certificate required");
        return TLS_EVERIFY;
    }
    if (r == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
        alert_text(c);
        return TLS_EHANDSHAKE;
    }
    mbedtls_strerror(r, txt, sizeof txt);
    set_err(c, "handshake failed: %s", txt);
    return TLS_EHANDSHAKE;
}

static int data_error(tls_conn_t *c, int r)
{
    char txt[160];
    if (c->io_err) {
        set_err(c, "cannot send: %s", strerror(-c->io_err));
        return c->io_err;
    }
    if (r == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
        alert_text(c);
        return -EPROTO;
    }
    mbedtls_strerror(r, txt, sizeof txt);
    set_err(c, "TLS error: %s", txt);
    return -EPROTO;
}

/* ---- connection ----------------------------------------------------------------------------- */
/* Strips the brackets of "[::1]" and says whether name is an IP literal (filling c->ip). */
static int parse_ip(tls_conn_t *c, const char *name)
{
    char tmp[64];
    size_t n = strlen(name);
    if (n >= 2 && name[0] == '[' && name[n - 1] == ']' && n - 2 < sizeof tmp) {
        memcpy(tmp, name + 1, n - 2);
        tmp[n - 2] = '\0';
        name = tmp;
    }
    if (inet_pton(AF_INET, name, c->ip) == 1) {
        c->ip_len = 4;
        return 1;
    }
    if (inet_pton(AF_INET6, name, c->ip) == 1) {
        c->ip_len = 16;
        return 1;
    }
    return 0;
}

static int setup_name(tls_conn_t *c, const char *server_name, const char *verify_name)
{
    const char *name = verify_name && *verify_name ? verify_name : server_name;
    if (!name || !*name || parse_ip(c, name)) {
        /* No SNI for an IP; explicit NULL also says "chain only, no name check" to mbedTLS. */
        if (name && !(c->name = strdup(name))) return -ENOMEM;
        c->check_ip = name && *name && !c->ctx->insecure;
        if (c->check_ip) mbedtls_ssl_set_verify(&c->ssl, verify_cb, c);
        return mbedtls_ssl_set_hostname(&c->ssl, NULL) == 0 ? 0 : -ENOMEM;
    }
    if (strlen(name) >= 256) return -EINVAL;
    if (!(c->name = strdup(name))) return -ENOMEM;
    if (!c->ctx->insecure) mbedtls_ssl_set_verify(&c->ssl, verify_cb, c);
    return mbedtls_ssl_set_hostname(&c->ssl, name) == 0 ? 0 : -EINVAL;
}

int tls_conn_new(tls_ctx_t *ctx, const char *server_name, const char *verify_name,
                 const tls_io_t *io, tls_conn_t **out)
{
    if (!ctx || !io || !io->send || !io->recv || !out) return -EINVAL;
    tls_conn_t *c = calloc(1, sizeof *c);
    if (!c) return -ENOMEM;
    c->ctx = ctx;
    c->io = *io;
    buf_init(&c->in, TLS_IN_LIMIT);
    buf_init(&c->hs_out, TLS_HS_OUT_LIMIT);
    mbedtls_ssl_init(&c->ssl);
    int r = mbedtls_ssl_setup(&c->ssl, &ctx->conf) == 0 ? 0 : -ENOMEM;
    if (r == 0) {
        mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
        if (!ctx->is_server) r = setup_name(c, server_name, verify_name);
    }
    if (r < 0) {
        tls_conn_free(c);
        return r;
    }
    *out = c;
    return 0;
}

void tls_conn_free(tls_conn_t *c)
{
    if (!c) return;
    mbedtls_ssl_free(&c->ssl);
    buf_free(&c->in);
    buf_free(&c->hs_out);
    free(c->peer_cn);
    free(c->name);
    free(c->err);
    free(c);
}

/* Server: the CN of a client certificate that verified (else none: treated as absent). */
static void take_peer_cn(tls_conn_t *c)
{
    const mbedtls_x509_crt *crt = mbedtls_ssl_get_peer_cert(&c->ssl);
    if (!crt || mbedtls_ssl_get_verify_result(&c->ssl) != 0) return;
    const mbedtls_x509_name *n;
    for (n = &crt->subject; n; n = n->next) {
        if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) != 0) continue;
        if (memchr(n->val.p, '\0', n->val.len)) return;
        c->peer_cn = strndup((const char *)n->val.p, n->val.len);
        return;
    }
}

/* The flag is only final once the ServerHello is out (server) or parsed (client): before
 * that, a client's flag says only that it offers a session. */
static void note_resume(tls_conn_t *c)
{
    if (c->ssl.handshake && c->ssl.state > MBEDTLS_SSL_SERVER_HELLO && c->ssl.handshake->resume)
        c->resumed = 1;
}

/* Runs the handshake as far as the input allows. Returns 0 (done or waiting) or the error. */
static int handshake(tls_conn_t *c)
{
    int r = 0;
    /* Step by step: the resume flag lives in the handshake state mbedTLS frees at the end. */
    while (r == 0 && c->ssl.state != MBEDTLS_SSL_HANDSHAKE_OVER) {
        note_resume(c);
        r = mbedtls_ssl_handshake_step(&c->ssl);
        note_resume(c);
    }
    if (r == MBEDTLS_ERR_SSL_WANT_READ) return flush_hs_out(c);
    if (r != 0) {
        int code = handshake_error(c, r);
        flush_hs_out(c); /* the alert, if any */
        c->fatal = code;
        if (c->io.handshake_done) c->io.handshake_done(c->io.arg, code);
        return code;
    }
    if ((r = flush_hs_out(c)) < 0) {
        set_err(c, "handshake failed: cannot send (%s)", strerror(-r));
        c->fatal = r;
        if (c->io.handshake_done) c->io.handshake_done(c->io.arg, r);
        return r;
    }
    c->hs_done = 1;
    if (c->ctx->is_server) take_peer_cn(c);
    if (c->io.handshake_done) c->io.handshake_done(c->io.arg, 0);
    return 0;
}

/* Hands every byte of plaintext mbedTLS can produce from the input to io.recv. */
static int drain(tls_conn_t *c)
{
    unsigned char tmp[TLS_READ_CHUNK];
    while (!c->paused && !c->fatal && !c->closed) {
        size_t before = input_left(c);
        int r = mbedtls_ssl_read(&c->ssl, tmp, sizeof tmp);
        if (r > 0) {
            if (c->io.recv(c->io.arg, tmp, (size_t)r) != 0) c->paused = 1;
            continue;
        }
        if (r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
            c->closed = 1;
            return TLS_ECLOSED;
        }
        if (r == 0 || r == MBEDTLS_ERR_SSL_WANT_READ) {
            /* WANT_READ also follows a record without data (ignored renegotiation request):
             * go on while input is being consumed. */
            if (input_left(c) == 0 || input_left(c) == before) break;
            continue;
        }
        c->fatal = data_error(c, r);
        return c->fatal;
    }
    return c->fatal ? c->fatal : c->io_err;
}

static int progress(tls_conn_t *c)
{
    int r;
    if (!c->hs_done) {
        if ((r = handshake(c)) < 0) return r;
        if (!c->hs_done) return 0;
    }
    return drain(c);
}

static int early_status(const tls_conn_t *c)
{
    if (c->fatal) return c->fatal;
    if (c->closed) return TLS_ECLOSED;
    if (c->busy) return -EBUSY; /* called from inside one of our own callbacks */
    return 0;
}

int tls_conn_start(tls_conn_t *c)
{
    int r = early_status(c);
    if (r < 0 || c->ctx->is_server || c->started) return r;
    c->started = 1;
    c->busy = 1;
    r = handshake(c);
    c->busy = 0;
    return r;
}

int tls_conn_feed(tls_conn_t *c, const uint8_t *data, size_t len)
{
    int r = early_status(c);
    if (r < 0) return r;
    c->feed = data;
    c->feed_len = len;
    if (!c->paused) {
        c->busy = 1;
        r = progress(c);
        c->busy = 0;
    }
    if (r == 0) r = stash_input(c);
    c->feed = NULL;
    c->feed_len = 0;
    if (r == -ENOBUFS) {
        set_err(c, "too much input buffered while paused");
        c->fatal = r;
    }
    return r;
}

int tls_conn_pump(tls_conn_t *c)
{
    int r = early_status(c);
    if (r < 0) return r;
    c->paused = 0;
    c->busy = 1;
    r = progress(c);
    c->busy = 0;
    return r;
}

int tls_conn_write(tls_conn_t *c, const uint8_t *data, size_t len)
{
    if (c->fatal) return c->fatal;
    if (!c->hs_done) return -ENOTCONN;
    if (c->close_sent) return -EPIPE;
    while (len > 0) {
        int max = mbedtls_ssl_get_max_out_record_payload(&c->ssl);
        size_t n = max > 0 && (size_t)max < len ? (size_t)max : len;
        int r = mbedtls_ssl_write(&c->ssl, data, n);
        if (r <= 0) {
            c->fatal = data_error(c, r);
            return c->fatal;
        }
        data += r;
        len -= (size_t)r;
    }
    return c->io_err;
}

int tls_conn_close_notify(tls_conn_t *c)
{
    if (c->fatal) return c->fatal;
    if (!c->hs_done) return -ENOTCONN;
    if (c->close_sent) return 0;
    c->close_sent = 1;
    int r = mbedtls_ssl_close_notify(&c->ssl);
    if (r != 0) return c->io_err ? c->io_err : -EPROTO;
    return 0;
}

int tls_conn_handshake_done(const tls_conn_t *c)
{
    return c->hs_done;
}

const char *tls_conn_error(const tls_conn_t *c)
{
    if (!c->err_set) return "no error";
    return c->err ? c->err : "out of memory";
}

/* ---- sessions ------------------------------------------------------------------------------- */
int tls_conn_get_session(tls_conn_t *c, tls_session_t **out)
{
    if (!c->hs_done || c->ctx->is_server) return -ENOTCONN;
    tls_session_t *ts = malloc(sizeof *ts);
    if (!ts) return -ENOMEM;
    mbedtls_ssl_session_init(&ts->s);
    if (mbedtls_ssl_get_session(&c->ssl, &ts->s) != 0) {
        tls_session_free(ts);
        return -ENOMEM;
    }
#if defined(MBEDTLS_SSL_KEEP_PEER_CERTIFICATE)
    if (ts->s.peer_cert) {
        mbedtls_x509_crt_free(ts->s.peer_cert);
        mbedtls_free(ts->s.peer_cert);
        ts->s.peer_cert = NULL;
    }
#endif
    *out = ts;
    return 0;
}

int tls_conn_set_session(tls_conn_t *c, const tls_session_t *ts)
{
    if (c->ctx->is_server || c->started || !ts) return -EINVAL;
    return mbedtls_ssl_set_session(&c->ssl, &ts->s) == 0 ? 0 : -ENOMEM;
}

void tls_session_free(tls_session_t *ts)
{
    if (!ts) return;
    mbedtls_ssl_session_free(&ts->s);
    free(ts);
}

int tls_conn_resumed(const tls_conn_t *c)
{
    return c->resumed;
}

const char *tls_conn_peer_cn(const tls_conn_t *c)
{
    return c->peer_cn;
}
