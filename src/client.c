/* client: one cluster. Reads the configuration once, owns the TLS context(s), the TLS session
 * used for resumption, the credential cache and the resolved address. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>

#include "internal.h"

void pmx_log(pmx_client_t *c, const char *fmt, ...)
{
    if (!c->opts.log) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    c->opts.log(c->opts.log_data, line);
}

int pmx_err_from_http(int status)
{
    switch (status) {
    case 400:
        return PMX_EBADREQUEST;
    case 401:
        return PMX_EUNAUTHORIZED;
    case 403:
        return PMX_EFORBIDDEN;
    case 404:
        return PMX_ENOTFOUND;
    case 429:
        return PMX_ETOOMANY;
    default:
        return status >= 500 ? PMX_ESERVER : PMX_EHTTP;
    }
}

void pmx_message_from_body(const char *body, size_t len, int status, char *out, size_t outlen)
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
static int parse_server(pmx_client_t *c, const char *url, char *err, size_t errlen)
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

static int setup_proxy(pmx_client_t *c, char *err, size_t errlen)
{
    const char *url = c->cfg->proxy_url;
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

/* The address to connect to is the proxy's when there is one; literal IPs need no DNS. */
static void preset_address(pmx_client_t *c)
{
    const char *h = c->proxy_host ? c->proxy_host : c->host;
    int port = c->proxy_host ? c->proxy_port : c->port;
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    if (uv_ip4_addr(h, port, &a4) == 0) {
        memcpy(&c->addr, &a4, sizeof a4);
        c->addr_ok = 1;
    } else if (uv_ip6_addr(h, port, &a6) == 0) {
        memcpy(&c->addr, &a6, sizeof a6);
        c->addr_ok = 1;
    }
}

/* ---- TLS ------------------------------------------------------------------------------------ */
static tls_ctx_t *make_tls(pmx_client_t *c, const auth_cred_t *cred, char *err, size_t errlen)
{
    const kcfg_t *k = c->cfg;
    tls_ctx_opts_t o = {0};
    o.ca_file = k->ca_file;
    o.ca_data = k->ca_data;
    o.ca_data_len = k->ca_data_len;
    o.insecure = k->insecure;
    if (cred && cred->cert_pem) {
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

tls_ctx_t *pmx_client_tls(pmx_client_t *c, const auth_cred_t *cred, char *err, size_t errlen)
{
    if (c->tls && (!cred || !cred->cert_pem || c->tls->cred_generation == cred->generation))
        return c->tls->ctx;
    pmx_tls_gen_t *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->ctx = make_tls(c, cred, err, errlen);
    if (!g->ctx) {
        free(g);
        return NULL;
    }
    g->cred_generation = cred ? cred->generation : 0;
    g->older = c->tls; /* kept until the client is freed: live streams may use it */
    c->tls = g;
    if (c->resume) {
        tls_session_free(c->resume); /* a session of another identity must not be resumed */
        c->resume = NULL;
    }
    return g->ctx;
}

void pmx_client_tls_done(pmx_client_t *c, tls_conn_t *conn)
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
    if (!c->opts.connect_timeout_ms) c->opts.connect_timeout_ms = 10000;
    if (!c->opts.handshake_timeout_ms) c->opts.handshake_timeout_ms = 10000;
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
    int r = kcfg_load(&ko, &c->cfg, err, errlen);
    if (r < 0) {
        pmx_client_free(c);
        return PMX_ECONFIG;
    }
    r = parse_server(c, c->cfg->server, err, errlen);
    if (r == 0) r = setup_proxy(c, err, errlen);
    if (r == 0) preset_address(c);
    if (r == 0 && auth_new(loop, c->cfg, &c->auth) < 0) {
        snprintf(err, errlen, "cannot set up credentials");
        r = PMX_ECONFIG;
    }
    if (r == 0 && opts && opts->request_timeout_ms)
        auth_set_exec_timeout(c->auth, opts->request_timeout_ms);
    if (r == 0 && c->https) {
        /* Built now so that a bad CA or key is reported at once, not per session. */
        if (!pmx_client_tls(c, NULL, err, errlen)) r = PMX_ECONFIG;
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
    for (pmx_tls_gen_t *g = c->tls, *next; g; g = next) {
        next = g->older;
        tls_ctx_free(g->ctx);
        free(g);
    }
    if (c->resume) tls_session_free(c->resume);
    if (c->auth) auth_free(c->auth);
    kcfg_free(c->cfg);
    free(c->host);
    free(c->hostport);
    free(c->proxy_host);
    free(c->proxy_authz);
    free(c->prefix);
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
