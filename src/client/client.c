/* client: one cluster. Reads the configuration once, owns the TLS context(s), the TLS session
 * used for resumption, the first-handshake gate, the credential cache and the addresses of the
 * server. Its fields are its own: conn, request and session go through the functions of
 * internal.h. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/base64.h>

#include "client/conn.h"
#include "client/internal.h"
#include "kube/kubeconfig.h"
#include "util/buf.h"

typedef struct tls_gen {
    tls_ctx_t *ctx;
    uint64_t cred_generation; /* auth generation whose client certificate it carries */
    struct tls_gen *older;    /* contexts still possibly used by live streams */
} tls_gen_t;

struct pmx_client {
    uv_loop_t *loop;
    kcfg_t *cfg;
    auth_t *auth;
    pmx_client_opts_t opts;
    pmx__endpoint_t ep;
    tls_gen_t *tls; /* NULL for http:// servers; the oldest holds the CA chain */
    tls_session_t *resume;
    uint64_t tls_full, tls_resumed;
    pmx__tls_waiter_t *tls_first;              /* the connection doing the first full handshake */
    pmx__tls_waiter_t *waiters, *waiters_tail; /* connections waiting at the gate, in order */
    unsigned connecting;                       /* admitted, not yet through (ready or failed) */
    struct sockaddr_storage addrs[PMX_MAX_ADDRS];
    size_t naddrs;
    int addrs_literal;   /* an IP literal: never resolved, never forgotten */
    unsigned live;       /* sessions + requests not yet closed */
    stream_rbuf_t *rbuf; /* shared by every connection */
    pmx__conn_factory_t conn_factory;
    uint8_t rnd[256]; /* CSPRNG output not yet handed out (the tail rnd_left bytes) */
    size_t rnd_left;
};

void pmx__log(pmx_client_t *c, const char *fmt, ...)
{
    if (!c->opts.log) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    c->opts.log(c->opts.log_data, line);
}

void pmx__message_from_body(const char *body, size_t len, int status, char *out, size_t outlen)
{
    out[0] = '\0';
    if (body && len) {
        cJSON *j = cJSON_ParseWithLength(body, len);
        if (j && !cJSON_IsObject(j)) { /* "431 Request Header Fields Too Large" parses as 431 */
            cJSON_Delete(j);
            j = NULL;
        }
        const cJSON *m = j ? cJSON_GetObjectItemCaseSensitive(j, "message") : NULL;
        cJSON *cut = NULL;
        const char *k = !j && body[0] == '{' ? memmem(body, len, "\"message\"", 9) : NULL;
        if (k) {
            /* issue 13: a Status cut at the session's error-body cap is no JSON; its message
             * string (which comes early in a Status) still is. */
            const char *v = k + 9, *end = body + len;
            while (v < end && (*v == ' ' || *v == ':'))
                v++;
            const char *e = v + 1;
            while (v < end && *v == '"' && e < end && *e != '"')
                e += *e == '\\' ? 2 : 1;
            if (e < end) m = cut = cJSON_ParseWithLength(v, (size_t)(e - v) + 1);
        }
        if (cJSON_IsString(m) && m->valuestring[0]) {
            /* A Status message may hold newlines (webhooks, proxies): ours is one line. */
            snprintf(out, outlen, "%s", m->valuestring);
            for (char *p = out; *p; p++)
                if ((unsigned char)*p < ' ') *p = ' ';
        } else if (!j && !k) {
            /* Plain text (the kubelet's errors): its first line, printable bytes only. */
            size_t n = 0;
            for (size_t i = 0; i < len && n + 1 < outlen && body[i] != '\n'; i++)
                out[n++] = (unsigned char)body[i] >= ' ' ? body[i] : ' ';
            out[n] = '\0';
        }
        cJSON_Delete(cut);
        cJSON_Delete(j);
    }
    if (!out[0]) snprintf(out, outlen, "the server answered HTTP %d", status);
}

/* ---- server URL ----------------------------------------------------------------------------- */
static int parse_server(pmx__endpoint_t *c, const char *url, char *err, size_t errlen)
{
    const char *p;
    if (!strncmp(url, "https://", 8)) {
        c->https = 1;
        p = url + 8;
    } else if (!strncmp(url, "http://", 7)) {
        p = url + 7;
    } else {
        snprintf(err, errlen, "server \"%s\": not an http:// or https:// URL", url);
        return PMX_ECONFIG;
    }
    const char *host_end, *host = p;
    if (*p == '[') {
        host = p + 1;
        host_end = strchr(p, ']');
        if (!host_end) goto bad;
        p = host_end + 1;
    } else {
        host_end = p + strcspn(p, ":/?#");
        p = host_end;
    }
    if (host_end == host) goto bad;
    c->host = strndup(host, (size_t)(host_end - host));
    c->port = c->https ? 443 : 80;
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port <= 0 || port > 65535) goto bad;
        c->port = (int)port;
        p = end;
    }
    size_t plen = strcspn(p, "?#");
    while (plen && p[plen - 1] == '/')
        plen--;
    c->prefix = strndup(p, plen);
    int v6 = strchr(c->host, ':') != NULL;
    size_t hl = strlen(c->host) + 16;
    c->hostport = malloc(hl);
    if (!c->host || !c->prefix || !c->hostport) return PMX_ENOMEM;
    snprintf(c->hostport, hl, v6 ? "[%s]:%d" : "%s:%d", c->host, c->port);
    return 0;
bad:
    snprintf(err, errlen, "server \"%s\": malformed URL", url);
    return PMX_ECONFIG;
}

/* ---- proxy ---------------------------------------------------------------------------------- */
/* NO_PROXY: comma-separated hosts, ".suffix" or "suffix" domain matches, "*" for all. */
static int no_proxy_matches(const char *host)
{
    const char *np = getenv("NO_PROXY");
    if (!np) np = getenv("no_proxy");
    if (!np) return 0;
    size_t hl = strlen(host);
    while (*np) {
        size_t n = strcspn(np, ",");
        const char *e = np;
        size_t el = n;
        while (el && *e == ' ')
            e++, el--;
        while (el && e[el - 1] == ' ')
            el--;
        if (el && e[el - 1] == '/') el = 0; /* CIDR ranges are not matched */
        if (el == 1 && *e == '*') return 1;
        if (el && *e == '.') e++, el--;
        if (el && el <= hl && !strncasecmp(host + hl - el, e, el) &&
            (el == hl || host[hl - el - 1] == '.'))
            return 1;
        np += n + (np[n] == ',');
    }
    return 0;
}

/* Percent-decodes n bytes of a URL's userinfo part onto b, as Go's url.Parse does ('+' stays
 * '+'). Returns 0, or -1 for a bad escape. */
static int proxy_unescape(buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c == '%') {
            if (i + 2 >= n || !s[i + 1] || !s[i + 2]) return -1;
            const char *x = strchr(hex, s[i + 1] | 0x20), *y = strchr(hex, s[i + 2] | 0x20);
            if (!x || !y) return -1;
            c = (uint8_t)((x - hex) << 4 | (y - hex));
            i += 2;
        }
        if (buf_append_byte(b, c)) return -1;
    }
    return 0;
}

static int setup_proxy(pmx__endpoint_t *c, const char *cfg_url, char *err, size_t errlen)
{
    const char *url = cfg_url;
    if (!url || !*url) {
        if (no_proxy_matches(c->host)) return 0;
        url = getenv(c->https ? "HTTPS_PROXY" : "HTTP_PROXY");
        if (!url) url = getenv(c->https ? "https_proxy" : "http_proxy");
        if (!url || !*url) return 0;
    }
    const char *p = url, *scheme_end = strstr(url, "://");
    if (!strncmp(p, "http://", 7)) {
        p += 7;
    } else if (scheme_end) {
        /* issue 13: name the scheme (socks5, https) rather than echo a URL with a password. */
        snprintf(err, errlen,
                 "proxy-url: the %.*s:// scheme is not supported; podmux speaks only to http:// "
                 "proxies (HTTP CONNECT)",
                 (int)(scheme_end - url < 16 ? scheme_end - url : 16), url);
        return PMX_ECONFIG;
    }
    /* The userinfo ends at the last '@' of the authority, as in Go's url.Parse. */
    const char *auth_end = p + strcspn(p, "/?#"), *at = NULL;
    for (const char *q = p; q < auth_end; q++)
        if (*q == '@') at = q;
    if (at) {
        /* user[:password], each percent-decoded (p%40ss is p@ss), sent as Go's Transport does:
         * Basic base64(user ":" password). */
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *ue = colon ? colon : at;
        buf_t cred, b;
        buf_init(&cred, 0);
        buf_init(&b, 0);
        int r = proxy_unescape(&cred, p, (size_t)(ue - p));
        if (!r) r = buf_append_byte(&cred, ':');
        if (!r && colon) r = proxy_unescape(&cred, colon + 1, (size_t)(at - colon - 1));
        size_t n = 0;
        if (!r) {
            mbedtls_base64_encode(NULL, 0, &n, (const unsigned char *)cred.data, cred.len);
            r = buf_reserve(&b, n + 8);
        }
        if (!r) {
            memcpy(b.data, "Basic ", 6);
            mbedtls_base64_encode((unsigned char *)b.data + 6, n, &n,
                                  (const unsigned char *)cred.data, cred.len);
            b.len = 6 + n;
            b.data[b.len] = '\0';
            c->proxy_authz = buf_steal(&b);
        }
        if (cred.data) memset(cred.data, 0, cred.len);
        buf_free(&cred);
        buf_free(&b);
        if (r) {
            snprintf(err, errlen, "proxy-url: malformed percent-escape in the user or password");
            return PMX_ECONFIG;
        }
        p = at + 1;
    }
    const char *hs = p, *he;
    if (*p == '[') {
        hs = p + 1;
        he = strchr(p, ']');
        if (!he) goto bad;
        p = he + 1;
    } else {
        he = p + strcspn(p, ":/");
        p = he;
    }
    if (he == hs) goto bad;
    c->proxy_host = strndup(hs, (size_t)(he - hs));
    c->proxy_port = 80;
    if (*p == ':') c->proxy_port = atoi(p + 1);
    if (!c->proxy_host || c->proxy_port <= 0 || c->proxy_port > 65535) goto bad;
    return 0;
bad:
    snprintf(err, errlen, "proxy \"%s\": malformed URL", url);
    return PMX_ECONFIG;
}

/* ---- addresses ------------------------------------------------------------------------------ */
static int connect_port(const pmx_client_t *c)
{
    return c->ep.proxy_host ? c->ep.proxy_port : c->ep.port;
}

const char *pmx__client_connect_host(const pmx_client_t *c)
{
    return c->ep.proxy_host ? c->ep.proxy_host : c->ep.host;
}

/* The address to connect to is the proxy's when there is one; literal IPs need no DNS. */
static void preset_address(pmx_client_t *c)
{
    const char *h = pmx__client_connect_host(c);
    int port = connect_port(c);
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    if (uv_ip4_addr(h, port, &a4) == 0)
        memcpy(&c->addrs[0], &a4, sizeof a4);
    else if (uv_ip6_addr(h, port, &a6) == 0)
        memcpy(&c->addrs[0], &a6, sizeof a6);
    else
        return;
    c->naddrs = 1;
    c->addrs_literal = 1;
}

size_t pmx__client_addrs(const pmx_client_t *c)
{
    return c->naddrs;
}

int pmx__client_addr(const pmx_client_t *c, size_t i, struct sockaddr_storage *out)
{
    if (i >= c->naddrs) return 0;
    *out = c->addrs[i];
    return 1;
}

void pmx__client_set_addrs(pmx_client_t *c, const struct addrinfo *res)
{
    if (c->addrs_literal) return;
    size_t n = 0;
    for (; res && n < PMX_MAX_ADDRS; res = res->ai_next) {
        if (res->ai_family != AF_INET && res->ai_family != AF_INET6) continue;
        if (res->ai_addrlen > sizeof c->addrs[n]) continue;
        memset(&c->addrs[n], 0, sizeof c->addrs[n]);
        memcpy(&c->addrs[n], res->ai_addr, res->ai_addrlen);
        /* sin_port and sin6_port sit at the same offset */
        ((struct sockaddr_in *)&c->addrs[n])->sin_port = htons((uint16_t)connect_port(c));
        n++;
    }
    c->naddrs = n;
}

void pmx__client_forget_addrs(pmx_client_t *c)
{
    if (!c->addrs_literal) c->naddrs = 0;
}

/* ---- TLS ------------------------------------------------------------------------------------ */
static tls_ctx_t *make_tls(pmx_client_t *c, const auth_cred_t *cred, char *err, size_t errlen)
{
    const kcfg_t *k = c->cfg;
    tls_ctx_opts_t o = {0};
    o.insecure = k->insecure;
    tls_gen_t *oldest = c->tls;
    while (oldest && oldest->older)
        oldest = oldest->older;
    if (oldest) {
        o.ca_from = oldest->ctx; /* kept until the client is freed */
    } else {
        o.ca_file = k->ca_file;
        o.ca_data = k->ca_data;
        o.ca_data_len = k->ca_data_len;
    }
    if (cred && cred->cert_pem) {
        /* An exec plugin's certificate: in memory, and so is its key. */
        o.cert_data = cred->cert_pem;
        o.cert_data_len = cred->cert_pem_len;
        o.key_data = cred->key_pem;
        o.key_data_len = cred->key_pem_len;
    } else {
        o.cert_file = k->client_cert_file;
        o.cert_data = k->client_cert_data;
        o.cert_data_len = k->client_cert_data_len;
        o.key_file = k->client_key_file;
        o.key_data = k->client_key_data;
        o.key_data_len = k->client_key_data_len;
    }
    tls_ctx_t *ctx = NULL;
    if (tls_ctx_new(&o, &ctx, err, errlen) < 0) return NULL;
    return ctx;
}

tls_ctx_t *pmx__client_tls(pmx_client_t *c, const auth_cred_t *cred, char *err, size_t errlen)
{
    if (c->tls && (!cred || !cred->cert_pem || c->tls->cred_generation == cred->generation))
        return c->tls->ctx;
    tls_gen_t *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->ctx = make_tls(c, cred, err, errlen);
    if (!g->ctx) {
        free(g);
        return NULL;
    }
    g->cred_generation = cred && cred->cert_pem ? cred->generation : 0;
    g->older = c->tls; /* kept until the client is freed: live streams may use it */
    c->tls = g;
    if (c->resume) {
        tls_session_free(c->resume); /* a session of another identity must not be resumed */
        c->resume = NULL;
    }
    return g->ctx;
}

/* WebSocket keys and masks: from the TLS context's CTR_DRBG, a block at a time. Through
 * uv_random each was a getrandom(2): two of a short session's twelve system calls. */
int pmx__client_random(pmx_client_t *c, uint8_t *buf, size_t len)
{
    if (!c->tls) return uv_random(NULL, NULL, buf, len, 0, NULL) < 0 ? -1 : 0;
    while (len > 0) {
        if (c->rnd_left == 0) {
            if (tls_ctx_random(c->tls->ctx, c->rnd, sizeof c->rnd) < 0) return -1;
            c->rnd_left = sizeof c->rnd;
        }
        size_t n = len < c->rnd_left ? len : c->rnd_left;
        uint8_t *src = c->rnd + sizeof c->rnd - c->rnd_left;
        memcpy(buf, src, n);
        memset(src, 0, n); /* handed out once */
        c->rnd_left -= n;
        buf += n;
        len -= n;
    }
    return 0;
}

const tls_session_t *pmx__client_resume(const pmx_client_t *c)
{
    return c->resume;
}

void pmx__client_tls_done(pmx_client_t *c, tls_conn_t *conn)
{
    if (tls_conn_resumed(conn)) {
        c->tls_resumed++;
        return;
    }
    c->tls_full++;
    tls_session_t *sess = NULL;
    if (tls_conn_get_session(conn, &sess) == 0) {
        if (c->resume) tls_session_free(c->resume);
        c->resume = sess;
    }
}

/* Admits a connection when no first full handshake is running (or it is the first one) and
 * fewer than PMX_MAX_CONNECTING are being made: a fan-out of thousands then resumes one TLS
 * session in batches the server can answer, instead of starting thousands of handshakes at
 * once, each against its own timeout. */
static int admit(pmx_client_t *c, pmx__tls_waiter_t *w)
{
    if (c->tls_first || c->connecting >= PMX_MAX_CONNECTING) return 0;
    c->connecting++;
    if (c->ep.https && !c->resume) {
        c->tls_first = w;
        w->state = 1;
    } else {
        w->state = 3;
    }
    return 1;
}

int pmx__client_tls_gate(pmx_client_t *c, pmx__tls_waiter_t *w)
{
    if (w->state == 1 || w->state == 3) return 1;
    if (!c->waiters && admit(c, w)) return 1;
    if (w->state != 2) {
        w->state = 2;
        w->next = NULL;
        if (c->waiters_tail)
            c->waiters_tail->next = w;
        else
            c->waiters = w;
        c->waiters_tail = w;
    }
    return 0;
}

void pmx__client_tls_gate_leave(pmx_client_t *c, pmx__tls_waiter_t *w)
{
    if (w->state == 2) {
        pmx__tls_waiter_t **pp = &c->waiters, *prev = NULL;
        while (*pp && *pp != w) {
            prev = *pp;
            pp = &(*pp)->next;
        }
        if (*pp) *pp = w->next;
        if (c->waiters_tail == w) c->waiters_tail = prev;
        w->state = 0;
        return;
    }
    if (w->state != 1 && w->state != 3) return;
    if (c->tls_first == w) c->tls_first = NULL;
    w->state = 0;
    c->connecting--;
    /* The next ones go, in order, while the gate admits them: they resume the session if there
     * is one, or (the first failed) the next becomes the first. */
    while (c->waiters && admit(c, c->waiters)) {
        pmx__tls_waiter_t *go = c->waiters;
        c->waiters = go->next;
        if (!c->waiters) c->waiters_tail = NULL;
        go->next = NULL;
        go->go(go);
    }
}

/* ---- accessors for the client's objects ---------------------------------------------------- */
uv_loop_t *pmx__client_loop(const pmx_client_t *c)
{
    return c->loop;
}

const pmx_client_opts_t *pmx__client_opts(const pmx_client_t *c)
{
    return &c->opts;
}

const pmx__endpoint_t *pmx__client_endpoint(const pmx_client_t *c)
{
    return &c->ep;
}

auth_t *pmx__client_auth(const pmx_client_t *c)
{
    return c->auth;
}

size_t pmx__client_headers(const pmx_client_t *c, const char *const **pairs)
{
    *pairs = c->cfg ? (const char *const *)c->cfg->imp_headers : NULL;
    return c->cfg && c->cfg->imp_headers ? c->cfg->nimp_headers : 0;
}

int pmx__client_cred_refreshable(const pmx_client_t *c)
{
    return c->cfg && (c->cfg->exec || c->cfg->token_file);
}

void pmx__client_hold(pmx_client_t *c)
{
    c->live++;
}

void pmx__client_release(pmx_client_t *c)
{
    c->live--;
}

stream_rbuf_t *pmx__client_rbuf(pmx_client_t *c)
{
    return c->rbuf;
}

void pmx__client_set_conn_factory(pmx_client_t *c, pmx__conn_factory_t f)
{
    c->conn_factory = f;
}

pmx__conn_factory_t pmx__client_conn_factory(const pmx_client_t *c)
{
    return c->conn_factory;
}

/* ---- public ----------------------------------------------------------------------------- */
PMX_API int pmx_client_new(uv_loop_t *loop, const pmx_client_opts_t *opts, pmx_client_t **out,
                           char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (!loop || !out) return PMX_EINVAL;
    pmx_client_t *c = calloc(1, sizeof *c);
    if (!c || !(c->rbuf = calloc(1, sizeof *c->rbuf))) {
        free(c);
        return PMX_ENOMEM;
    }
    c->loop = loop;
    if (opts) c->opts = *opts;
    /* A request timeout bounds the connection too (kubectl's --request-timeout does): connect
     * and handshake share one bound, their sum. */
    uint64_t conn_default = 10000;
    if (c->opts.request_timeout_ms && c->opts.request_timeout_ms < 2 * conn_default)
        conn_default = (c->opts.request_timeout_ms + 1) / 2;
    if (!c->opts.connect_timeout_ms) c->opts.connect_timeout_ms = conn_default;
    if (!c->opts.handshake_timeout_ms) c->opts.handshake_timeout_ms = conn_default;
    if (!c->opts.upgrade_timeout_ms) c->opts.upgrade_timeout_ms = 30000;
    if (!c->opts.request_timeout_ms) c->opts.request_timeout_ms = 30000;
    if (!c->opts.keepalive_ms) c->opts.keepalive_ms = 5000;

    kcfg_opts_t ko = {0};
    ko.kubeconfig = c->opts.kubeconfig;
    ko.context = c->opts.context;
    ko.cluster = c->opts.cluster;
    ko.user = c->opts.user;
    ko.namespace_ = c->opts.namespace_;
    ko.server = c->opts.server;
    ko.token = c->opts.token;
    ko.ca_file = c->opts.ca_file;
    ko.insecure = c->opts.insecure;
    ko.as = c->opts.as;
    ko.as_uid = c->opts.as_uid;
    ko.as_groups = c->opts.as_groups;
    ko.nas_groups = c->opts.nas_groups;
    int r = kcfg_load(&ko, &c->cfg, err, errlen);
    if (r < 0) {
        pmx_client_free(c);
        return PMX_ECONFIG;
    }
    c->ep.verify_name = c->cfg->tls_server_name;
    r = parse_server(&c->ep, c->cfg->server, err, errlen);
    if (r == 0) r = setup_proxy(&c->ep, c->cfg->proxy_url, err, errlen);
    if (r == 0) preset_address(c);
    if (r == 0 && auth_new(loop, c->cfg, &c->auth) < 0) {
        snprintf(err, errlen, "cannot set up credentials");
        r = PMX_ECONFIG;
    }
    if (r == 0 && opts && opts->request_timeout_ms)
        auth_set_exec_timeout(c->auth, opts->request_timeout_ms);
    if (r == 0 && c->ep.https) {
        /* Built now so that a bad CA or key is reported at once, not per session. */
        if (!pmx__client_tls(c, NULL, err, errlen)) r = PMX_ECONFIG;
    }
    if (r < 0) {
        c->live = 0;
        pmx_client_free(c);
        return r;
    }
    *out = c;
    return 0;
}

PMX_API int pmx_client_free(pmx_client_t *c)
{
    if (!c) return 0;
    if (c->live) return PMX_EBUSY;
    for (tls_gen_t *g = c->tls, *next; g; g = next) {
        next = g->older;
        tls_ctx_free(g->ctx);
        free(g);
    }
    if (c->resume) tls_session_free(c->resume);
    if (c->auth) auth_free(c->auth);
    kcfg_free(c->cfg);
    free(c->ep.host);
    free(c->ep.hostport);
    free(c->ep.proxy_host);
    free(c->ep.proxy_authz);
    free(c->ep.prefix);
    free(c->rbuf);
    free(c);
    return 0;
}

PMX_API void pmx_client_abort(pmx_client_t *c)
{
    if (c) auth_kill_plugin(c->auth);
}

PMX_API const char *pmx_client_namespace(const pmx_client_t *c)
{
    return c->cfg && c->cfg->namespace_ ? c->cfg->namespace_ : "default";
}

PMX_API const char *pmx_client_server(const pmx_client_t *c)
{
    return c->cfg ? c->cfg->server : "";
}

PMX_API void pmx_client_tls_stats(const pmx_client_t *c, uint64_t *full, uint64_t *resumed)
{
    if (full) *full = c->tls_full;
    if (resumed) *resumed = c->tls_resumed;
}
