/* tls_gen: certificates for podmux-sim (EC P-256, ECDSA-SHA256). See tls.h.
 *
 * The result must satisfy Go (kubectl), Python's ssl and mbedTLS: SANs for every name a client
 * may dial (Go ignores the CN), serverAuth/clientAuth EKU, CA:TRUE + keyCertSign on the CA,
 * subject/authority key identifiers, and a leaf issuer name byte-identical to the CA's subject
 * (Go finds the parent by raw name bytes). mbedTLS 2.28 has no writer for SANs or EKU, so those
 * two extensions are encoded here. */
#include "proto/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ecp.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "util/buf.h"

#define GEN_PEM_MAX 8192
#define GEN_EXT_MAX 4096
#define GEN_VALID_BEFORE (3600)             /* clock skew between sim and clients */
#define GEN_VALID_AFTER (3652L * 24 * 3600) /* ~10 years */

typedef struct gen {
    tls_ctx_t *rng;
    mbedtls_pk_context key, ca_key;
    mbedtls_x509_crt ca;
    mbedtls_x509write_cert crt;
    mbedtls_asn1_named_data *issuer; /* nodes owned here, pointing into ca */
    unsigned char ext[GEN_EXT_MAX];
} gen_t;

void tls_keypair_free(tls_keypair_t *kp)
{
    if (!kp) return;
    free(kp->cert_pem);
    free(kp->key_pem);
    kp->cert_pem = kp->key_pem = NULL;
}

static int gen_rng(void *arg, unsigned char *buf, size_t len)
{
    return tls_ctx_random(arg, buf, len) == 0 ? 0 : -1;
}

static void gen_init(gen_t *g, tls_ctx_t *rng)
{
    memset(g, 0, sizeof *g);
    g->rng = rng;
    mbedtls_pk_init(&g->key);
    mbedtls_pk_init(&g->ca_key);
    mbedtls_x509_crt_init(&g->ca);
    mbedtls_x509write_crt_init(&g->crt);
}

static void gen_free(gen_t *g)
{
    /* The issuer list points into g->ca: detach it before mbedTLS frees names it owns. */
    if (g->issuer) {
        g->crt.issuer = NULL;
        while (g->issuer) {
            mbedtls_asn1_named_data *n = g->issuer->next;
            free(g->issuer);
            g->issuer = n;
        }
    }
    mbedtls_x509write_crt_free(&g->crt);
    mbedtls_x509_crt_free(&g->ca);
    mbedtls_pk_free(&g->ca_key);
    mbedtls_pk_free(&g->key);
}

static int gen_key(gen_t *g)
{
    if (mbedtls_pk_setup(&g->key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0) return -ENOMEM;
    if (mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(g->key), gen_rng, g->rng))
        return -EIO;
    return 0;
}

/* "O=org,CN=cn" for mbedtls_x509_string_to_names, which can escape only ','. */
static int append_rdn(buf_t *b, const char *type, const char *value)
{
    if (!value || !*value) return 0;
    if (strchr(value, '\\') || strlen(value) > 200) return -EINVAL;
    if (b->len && buf_append_byte(b, ',') < 0) return -ENOMEM;
    if (buf_printf(b, "%s=", type) < 0) return -ENOMEM;
    for (const char *p = value; *p; p++) {
        if (*p == ',' && buf_append_byte(b, '\\') < 0) return -ENOMEM;
        if (buf_append_byte(b, (uint8_t)*p) < 0) return -ENOMEM;
    }
    return 0;
}

/* Subject (and, for a self-signed CA, issuer: same string, same writer, same bytes). */
static int set_subject(gen_t *g, const char *cn, const char *org, int self_signed)
{
    buf_t b;
    buf_init(&b, 1024);
    int r = append_rdn(&b, "O", org);
    if (r == 0) r = append_rdn(&b, "CN", cn);
    if (r == 0 && b.len == 0) r = -EINVAL;
    if (r == 0 && mbedtls_x509write_crt_set_subject_name(&g->crt, b.data) != 0) r = -EINVAL;
    if (r == 0 && self_signed && mbedtls_x509write_crt_set_issuer_name(&g->crt, b.data) != 0)
        r = -EINVAL;
    buf_free(&b);
    return r;
}

/* The writer emits its name list last-to-first, the parser stores it first-to-last: a reversed
 * shallow copy reproduces the CA's subject bytes exactly (tags included). */
static int set_issuer_from_ca(gen_t *g)
{
    const mbedtls_x509_name *n;
    for (n = &g->ca.subject; n && n->oid.p; n = n->next) {
        mbedtls_asn1_named_data *copy = calloc(1, sizeof *copy);
        if (!copy) return -ENOMEM;
        copy->oid = n->oid;
        copy->val = n->val;
        copy->next = g->issuer;
        g->issuer = copy;
    }
    g->crt.issuer = g->issuer;
    return g->issuer ? 0 : -EINVAL;
}

static int set_serial_and_validity(gen_t *g)
{
    unsigned char raw[16];
    char from[16], to[16];
    if (tls_ctx_random(g->rng, raw, sizeof raw) < 0) return -EIO;
    raw[0] = (unsigned char)((raw[0] & 0x7f) | 0x40); /* positive, full length */
    mbedtls_mpi serial;
    mbedtls_mpi_init(&serial);
    int r = mbedtls_mpi_read_binary(&serial, raw, sizeof raw) == 0 ? 0 : -ENOMEM;
    if (r == 0 && mbedtls_x509write_crt_set_serial(&g->crt, &serial) != 0) r = -ENOMEM;
    mbedtls_mpi_free(&serial);
    if (r < 0) return r;
    time_t now = time(NULL), t0 = now - GEN_VALID_BEFORE, t1 = now + GEN_VALID_AFTER;
    struct tm a, b;
    if (!gmtime_r(&t0, &a) || !gmtime_r(&t1, &b)) return -EINVAL;
    strftime(from, sizeof from, "%Y%m%d%H%M%S", &a);
    strftime(to, sizeof to, "%Y%m%d%H%M%S", &b);
    return mbedtls_x509write_crt_set_validity(&g->crt, from, to) == 0 ? 0 : -EINVAL;
}

/* extendedKeyUsage ::= SEQUENCE { KeyPurposeId } */
static int set_eku(gen_t *g, int client)
{
    const char *oid = client ? MBEDTLS_OID_CLIENT_AUTH : MBEDTLS_OID_SERVER_AUTH;
    size_t oid_len = client ? MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)
                            : MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH);
    unsigned char *start = g->ext, *p = g->ext + sizeof g->ext;
    int len = mbedtls_asn1_write_oid(&p, start, oid, oid_len);
    if (len < 0) return -EINVAL;
    int l2 = mbedtls_asn1_write_len(&p, start, (size_t)len);
    int l3 = mbedtls_asn1_write_tag(&p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
    if (l2 < 0 || l3 < 0) return -EINVAL;
    return mbedtls_x509write_crt_set_extension(&g->crt, MBEDTLS_OID_EXTENDED_KEY_USAGE,
                                               MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0,
                                               p, (size_t)(len + l2 + l3)) == 0
               ? 0
               : -ENOMEM;
}

/* Prepends one GeneralName ([tag] IMPLICIT content). Returns bytes written or <0. */
static int write_general_name(unsigned char **p, unsigned char *start, int tag,
                              const unsigned char *data, size_t len)
{
    int a = mbedtls_asn1_write_raw_buffer(p, start, data, len);
    if (a < 0) return a;
    int b = mbedtls_asn1_write_len(p, start, len);
    if (b < 0) return b;
    int c = mbedtls_asn1_write_tag(p, start, (unsigned char)(MBEDTLS_ASN1_CONTEXT_SPECIFIC | tag));
    return c < 0 ? c : a + b + c;
}

static int valid_dns(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253) return 0;
    for (; *s; s++)
        if (*s <= ' ' || *s > '~') return 0;
    return 1;
}

/* subjectAltName ::= SEQUENCE OF GeneralName: dNSName [2] IA5String, iPAddress [7] OCTET
 * STRING. Written back to front, so the names keep the caller's order (DNS first). */
static int set_san(gen_t *g, const char *const *dns, size_t ndns, const char *const *ips,
                   size_t nips)
{
    unsigned char *start = g->ext, *p = g->ext + sizeof g->ext;
    size_t total = 0;
    for (size_t i = nips; i-- > 0;) {
        unsigned char ip[16];
        size_t iplen = inet_pton(AF_INET, ips[i], ip) == 1    ? 4
                       : inet_pton(AF_INET6, ips[i], ip) == 1 ? 16
                                                              : 0;
        if (!iplen) return -EINVAL;
        int n = write_general_name(&p, start, MBEDTLS_X509_SAN_IP_ADDRESS, ip, iplen);
        if (n < 0) return -E2BIG;
        total += (size_t)n;
    }
    for (size_t i = ndns; i-- > 0;) {
        if (!valid_dns(dns[i])) return -EINVAL;
        int n = write_general_name(&p, start, MBEDTLS_X509_SAN_DNS_NAME,
                                   (const unsigned char *)dns[i], strlen(dns[i]));
        if (n < 0) return -E2BIG;
        total += (size_t)n;
    }
    int l2 = mbedtls_asn1_write_len(&p, start, total);
    int l3 = mbedtls_asn1_write_tag(&p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
    if (l2 < 0 || l3 < 0) return -E2BIG;
    return mbedtls_x509write_crt_set_extension(&g->crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                               MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, p,
                                               total + (size_t)l2 + (size_t)l3) == 0
               ? 0
               : -ENOMEM;
}

/* Fields common to the CA and leaves; issuer name and key are set by the caller. */
static int set_common(gen_t *g, int is_ca)
{
    mbedtls_x509write_crt_set_version(&g->crt, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&g->crt, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&g->crt, &g->key);
    int r = set_serial_and_validity(g);
    if (r < 0) return r;
    unsigned int usage = is_ca ? MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN |
                                     MBEDTLS_X509_KU_DIGITAL_SIGNATURE
                               : MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
    if (mbedtls_x509write_crt_set_basic_constraints(&g->crt, is_ca, -1) != 0 ||
        mbedtls_x509write_crt_set_key_usage(&g->crt, usage) != 0 ||
        mbedtls_x509write_crt_set_subject_key_identifier(&g->crt) != 0 ||
        mbedtls_x509write_crt_set_authority_key_identifier(&g->crt) != 0)
        return -ENOMEM;
    return 0;
}

/* Signs and exports certificate and key as heap PEM strings. */
static int gen_finish(gen_t *g, tls_keypair_t *out)
{
    unsigned char *pem = malloc(GEN_PEM_MAX);
    if (!pem) return -ENOMEM;
    int r = 0;
    if (mbedtls_x509write_crt_pem(&g->crt, pem, GEN_PEM_MAX, gen_rng, g->rng) != 0) r = -EIO;
    if (r == 0 && !(out->cert_pem = strdup((char *)pem))) r = -ENOMEM;
    if (r == 0 && mbedtls_pk_write_key_pem(&g->key, pem, GEN_PEM_MAX) != 0) r = -EIO;
    if (r == 0 && !(out->key_pem = strdup((char *)pem))) r = -ENOMEM;
    memset(pem, 0, GEN_PEM_MAX); /* held the private key */
    free(pem);
    if (r < 0) tls_keypair_free(out);
    return r;
}

int tls_gen_ca(tls_ctx_t *rng_ctx, const char *cn, tls_keypair_t *out)
{
    if (!rng_ctx || !cn || !*cn || !out) return -EINVAL;
    memset(out, 0, sizeof *out);
    gen_t *g = malloc(sizeof *g);
    if (!g) return -ENOMEM;
    gen_init(g, rng_ctx);
    int r = gen_key(g);
    if (r == 0) r = set_subject(g, cn, NULL, 1);
    if (r == 0) mbedtls_x509write_crt_set_issuer_key(&g->crt, &g->key);
    if (r == 0) r = set_common(g, 1);
    if (r == 0) r = gen_finish(g, out);
    gen_free(g);
    free(g);
    return r;
}

static int load_ca(gen_t *g, const tls_keypair_t *ca)
{
    if (!ca || !ca->cert_pem || !ca->key_pem) return -EINVAL;
    if (mbedtls_x509_crt_parse(&g->ca, (const unsigned char *)ca->cert_pem,
                               strlen(ca->cert_pem) + 1) != 0)
        return -EINVAL;
    if (mbedtls_pk_parse_key(&g->ca_key, (const unsigned char *)ca->key_pem,
                             strlen(ca->key_pem) + 1, NULL, 0) != 0)
        return -EINVAL;
    if (mbedtls_pk_check_pair(&g->ca.pk, &g->ca_key) != 0) return -EINVAL;
    return 0;
}

int tls_gen_leaf(tls_ctx_t *rng_ctx, const tls_keypair_t *ca, const char *cn, const char *org,
                 const char *const *dns, size_t ndns, const char *const *ips, size_t nips,
                 int client, tls_keypair_t *out)
{
    if (!rng_ctx || !cn || !*cn || !out || (ndns && !dns) || (nips && !ips)) return -EINVAL;
    memset(out, 0, sizeof *out);
    gen_t *g = malloc(sizeof *g);
    if (!g) return -ENOMEM;
    gen_init(g, rng_ctx);
    int r = load_ca(g, ca);
    if (r == 0) r = gen_key(g);
    if (r == 0) r = set_subject(g, cn, org, 0);
    if (r == 0) r = set_issuer_from_ca(g);
    if (r == 0) {
        mbedtls_x509write_crt_set_issuer_key(&g->crt, &g->ca_key);
        r = set_common(g, 0);
    }
    if (r == 0) r = set_eku(g, client);
    if (r == 0 && ndns + nips > 0) r = set_san(g, dns, ndns, ips, nips);
    if (r == 0) r = gen_finish(g, out);
    gen_free(g);
    free(g);
    return r;
}
