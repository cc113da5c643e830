/* server: podmux-sim's HTTPS listener and request router. REST requests are answered by rest.c
 * on keep-alive connections; exec/attach requests hand the connection to exec.c. */
#include <ctype.h>
#include <errno.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/exec_internal.h"
#include "sim/http_server.h"
#include "sim/rest.h"
#include "sim/rest_watch.h"
#include "sim/sim.h"

/* Go's http.Server DefaultMaxHeaderBytes, which kube-apiserver keeps: request line and headers
 * up to 1 MiB (Go allows 4 KiB of slack on top). */
#define SIM_MAX_HEADER_BYTES ((1 << 20) + 4096)
#define SIM_MAX_BODY (1024 * 1024)

static void conn_unlink(sim_conn_t *c)
{
    sim_server_t *srv = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else if (srv->conns == c)
        srv->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void on_conn_closed(stream_t *st)
{
    sim_conn_t *c = stream_data(st);
    if (c->ex && c->ex->conn == c) {
        c->ex->conn = NULL;
        c->ex->st = NULL;
    }
    sim_watch_conn_closed(c);
    conn_unlink(c);
    if (c->req_init) http_msg_free(&c->req);
    sim_server_t *srv = c->srv;
    free(c);
    sim_server_maybe_stopped(srv);
}

void sim_server_maybe_stopped(sim_server_t *srv)
{
    if (srv->stopping && !srv->conns && !srv->execs && !srv->mains && srv->on_stopped) {
        void (*cb)(sim_server_t *) = srv->on_stopped;
        srv->on_stopped = NULL;
        cb(srv);
    }
}

void sim_conn_close(sim_conn_t *c)
{
    if (c->closing) return;
    c->closing = 1;
    stream_close(c->st);
}

void sim_conn_reply(sim_conn_t *c, int status, const char *content_type, const char *const *headers,
                    const char *body, size_t len, int close_after)
{
    const char *h[32];
    int n = 0;
    char audit[64];
    snprintf(audit, sizeof audit, "%08llx-sim", (unsigned long long)c->srv->stats.requests);
    h[n++] = "Audit-Id";
    h[n++] = audit;
    h[n++] = "Cache-Control";
    h[n++] = "no-cache, private";
    if (content_type) {
        h[n++] = "Content-Type";
        h[n++] = content_type;
    }
    for (int i = 0; headers && headers[i] && n < 28; i += 2) {
        h[n++] = headers[i];
        h[n++] = headers[i + 1];
    }
    if (close_after) {
        h[n++] = "Connection";
        h[n++] = "close";
    }
    h[n] = NULL;
    buf_t out;
    buf_init(&out, 0);
    if (http_write_response(&out, status, h, body ? body : "", len) == 0)
        stream_write(c->st, out.data, out.len);
    buf_free(&out);
    if (close_after) {
        c->closing = 1;
        stream_close_after_write(c->st);
    }
}

/* /api/v1/namespaces/NS/pods/POD/(exec|attach) -> 1 and the pieces. */
static int match_stream_path(const char *path, char *ns, char *pod, int *attach)
{
    const char *pre = "/api/v1/namespaces/";
    size_t pl = strlen(pre);
    if (strncmp(path, pre, pl)) return 0;
    const char *p = path + pl, *s1 = strchr(p, '/');
    if (!s1 || s1 == p || (size_t)(s1 - p) >= 254 || strncmp(s1, "/pods/", 6)) return 0;
    const char *q = s1 + 6, *s2 = strchr(q, '/');
    if (!s2 || s2 == q || (size_t)(s2 - q) >= 254) return 0;
    if (!strcmp(s2, "/exec"))
        *attach = 0;
    else if (!strcmp(s2, "/attach"))
        *attach = 1;
    else
        return 0;
    memcpy(ns, p, (size_t)(s1 - p));
    ns[s1 - p] = '\0';
    memcpy(pod, q, (size_t)(s2 - q));
    pod[s2 - q] = '\0';
    return 1;
}

static int authenticate(sim_conn_t *c)
{
    const char *authz = http_msg_header(&c->req, "Authorization");
    const char *user = NULL;
    if (authz && !strncasecmp(authz, "Bearer ", 7)) {
        user = sim_model_authenticate_token(c->srv->model, authz + 7);
    } else if (!authz) {
        const char *cn = tls_conn_peer_cn(stream_tls(c->st));
        if (cn) user = sim_model_authenticate_cert(c->srv->model, cn);
    }
    if (!user) return -1;
    snprintf(c->user, sizeof c->user, "%s", user);
    return 0;
}

/* One refused impersonation, with the apiserver's text (responsewriters.Forbidden with
 * NewForbidden: "<resource>[.<group>] \"<name>\" is forbidden: User ... cannot impersonate
 * resource \"<resource>[/<subresource>]\" in API group \"<group>\" <scope>"). */
static void reply_imp_forbidden(sim_conn_t *c, const char *resource, const char *sub,
                                const char *group, const char *ns, const char *name)
{
    char msg[2048];
    sim_response_t r;
    snprintf(msg, sizeof msg,
             "%s%s%s \"%s\" is forbidden: User \"%s\" cannot impersonate resource \"%s%s%s\" in "
             "API group \"%s\" %s%s%s",
             resource, *group ? "." : "", group, name, c->user, resource, sub ? "/" : "",
             sub ? sub : "", group, ns ? "in the namespace \"" : "at the cluster scope",
             ns ? ns : "", ns ? "\"" : "");
    sim_response_init(&r);
    sim_response_status(&r, 403, "Forbidden", msg, name, group, resource);
    sim_conn_reply(c, r.status, r.content_type, NULL, r.body.data, r.body.len, 0);
    sim_response_free(&r);
}

/* An Impersonate-Extra-<key> header name's key: lower-cased, then %XX decoded (the apiserver's
 * unescapeExtraKey). 0, or -1 when it does not fit. */
static int extra_key(const char *hname, char *out, size_t outlen)
{
    const char *k = hname + strlen("Impersonate-Extra-");
    size_t o = 0;
    for (; *k && o + 1 < outlen; k++) {
        unsigned v;
        if (k[0] == '%' && isxdigit((unsigned char)k[1]) && isxdigit((unsigned char)k[2]) &&
            sscanf(k + 1, "%2x", &v) == 1) {
            out[o++] = (char)v;
            k += 2;
        } else {
            out[o++] = (char)tolower((unsigned char)*k);
        }
    }
    out[o] = 0;
    return *k ? -1 : 0;
}

/* The apiserver's WithImpersonation filter, in its order: the user (or service account), each
 * group, each extra value, the uid; every one needs the "impersonate" verb (the cluster YAML's
 * users[].impersonate). Refused: 403 with its text, and 1 returned. Allowed: the request runs
 * as the impersonated user. */
/* One line on stderr (the sim's log) per request that asks for impersonation: the method, the
 * path and every Impersonate-* header as received, so tests can compare clients byte for byte. */
static void log_impersonation(const http_msg_t *m)
{
    buf_t b;
    int any = 0;
    buf_init(&b, 16384);
    buf_printf(&b, "podmux-sim: impersonation: %s %s", m->method ? m->method : "?",
               m->path ? m->path : "/");
    for (int i = 0; i < m->nheaders; i++)
        if (!strncasecmp(m->headers[i].name, "Impersonate-", 12)) {
            buf_printf(&b, " | %s: %s", m->headers[i].name, m->headers[i].value);
            any = 1;
        }
    if (any && b.data) fprintf(stderr, "%s\n", b.data);
    buf_free(&b);
}

static int impersonate(sim_conn_t *c)
{
    const http_msg_t *m = &c->req;
    const sim_model_t *mod = c->srv->model;
    log_impersonation(m);
    const char *user = http_msg_header(m, "Impersonate-User");
    const char *uid = http_msg_header(m, "Impersonate-Uid");
    int others = uid && *uid;
    for (int i = 0; i < m->nheaders; i++)
        if (!strcasecmp(m->headers[i].name, "Impersonate-Group") ||
            !strncasecmp(m->headers[i].name, "Impersonate-Extra-", 18))
            others = 1;
    if (!user || !*user) {
        if (!others) return 0;
        static const char body[] = "Internal Server Error: requested impersonation of groups, "
                                   "extras or a uid without impersonating a user\n";
        sim_conn_reply(c, 500, "text/plain; charset=utf-8", NULL, body, sizeof body - 1, 0);
        return 1;
    }
    const char *sa = "system:serviceaccount:";
    if (!strncmp(user, sa, strlen(sa)) && strchr(user + strlen(sa), ':')) {
        char ns[256];
        const char *colon = strchr(user + strlen(sa), ':');
        snprintf(ns, sizeof ns, "%.*s", (int)(colon - user - strlen(sa)), user + strlen(sa));
        if (!sim_model_may_impersonate(mod, c->user, SIM_IMP_USERS, user)) {
            reply_imp_forbidden(c, "serviceaccounts", NULL, "", ns, colon + 1);
            return 1;
        }
    } else if (!sim_model_may_impersonate(mod, c->user, SIM_IMP_USERS, user)) {
        reply_imp_forbidden(c, "users", NULL, "", NULL, user);
        return 1;
    }
    for (int i = 0; i < m->nheaders; i++)
        if (!strcasecmp(m->headers[i].name, "Impersonate-Group") &&
            !sim_model_may_impersonate(mod, c->user, SIM_IMP_GROUPS, m->headers[i].value)) {
            reply_imp_forbidden(c, "groups", NULL, "", NULL, m->headers[i].value);
            return 1;
        }
    for (int i = 0; i < m->nheaders; i++) {
        char key[512], kv[1024];
        if (strncasecmp(m->headers[i].name, "Impersonate-Extra-", 18)) continue;
        if (extra_key(m->headers[i].name, key, sizeof key) < 0) key[0] = 0;
        snprintf(kv, sizeof kv, "%s=%s", key, m->headers[i].value);
        if (!sim_model_may_impersonate(mod, c->user, SIM_IMP_EXTRAS, kv)) {
            reply_imp_forbidden(c, "userextras", key, "authentication.k8s.io", NULL,
                                m->headers[i].value);
            return 1;
        }
    }
    if (uid && *uid && !sim_model_may_impersonate(mod, c->user, SIM_IMP_UIDS, uid)) {
        reply_imp_forbidden(c, "uids", NULL, "authentication.k8s.io", NULL, uid);
        return 1;
    }
    if (strlen(user) >= sizeof c->user) {
        static const char body[] = "impersonated user name too long\n";
        sim_conn_reply(c, 400, "text/plain; charset=utf-8", NULL, body, sizeof body - 1, 0);
        return 1;
    }
    snprintf(c->user, sizeof c->user, "%s", user);
    return 0;
}

static void reply_unauthorized(sim_conn_t *c)
{
    static const char body[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                               "\"status\":\"Failure\",\"message\":\"Unauthorized\","
                               "\"reason\":\"Unauthorized\",\"code\":401}\n";
    sim_conn_reply(c, 401, "application/json", NULL, body, sizeof body - 1, 0);
}

static void reply_stats(sim_conn_t *c)
{
    char body[256];
    const sim_stats_t *s = &c->srv->stats;
    int n = snprintf(body, sizeof body,
                     "{\"connections\":%llu,\"requests\":%llu,\"sessionsTotal\":%llu,"
                     "\"sessionsActive\":%u,\"sessionsPeak\":%u}\n",
                     (unsigned long long)s->connections, (unsigned long long)s->requests,
                     (unsigned long long)s->sessions_total, s->sessions_active, s->sessions_peak);
    sim_conn_reply(c, 200, "application/json", NULL, body, (size_t)n, 0);
}

/* Handles one complete request. Returns 1 when the connection was handed over or is closing. */
static int handle_request(sim_conn_t *c, const uint8_t *leftover, size_t n)
{
    http_msg_t *m = &c->req;
    c->srv->stats.requests++;
    char ns[256], pod[256];
    int attach = 0;
    const char *path = m->path ? m->path : "/";
    if (authenticate(c) < 0) {
        reply_unauthorized(c);
        return 0;
    }
    if (impersonate(c)) return 0;
    if (match_stream_path(path, ns, pod, &attach)) {
        sim_exec_handle(c, ns, pod, attach, leftover, n);
        return 1;
    }
    if (!strcmp(path, "/podmux-sim/stats")) {
        reply_stats(c);
        return 0;
    }
    int wr =
        sim_watch_handle(c, m->method, path, m->query, http_msg_header(m, "Accept"), m->keep_alive);
    if (wr >= 0) return wr;
    sim_response_t resp;
    sim_rest_handle(c->srv->model, m->method, path, m->query, http_msg_header(m, "Accept"), c->user,
                    &resp);
    sim_conn_reply(c, resp.status, resp.content_type, NULL, resp.body.data, resp.body.len,
                   !m->keep_alive);
    sim_response_free(&resp);
    return !m->keep_alive;
}

static int on_conn_data(stream_t *st, const uint8_t *data, size_t len)
{
    sim_conn_t *c = stream_data(st);
    if (c->ex) {
        sim_exec_conn_event(c->ex, SIM_EV_DATA, data, len);
        return c->ex && c->ex->input_paused;
    }
    if (sim_watch_conn_active(c)) return 0; /* a watching client has nothing more to say */
    while (len && !c->closing && !c->ex) {
        size_t used = 0;
        int r = http_msg_feed(&c->req, (const char *)data, len, &used);
        if (r == -E2BIG && !c->req.method) { /* over the limit before the headers ended */
            /* What Go's server answers past MaxHeaderBytes. */
            static const char body[] = "431 Request Header Fields Too Large";
            sim_conn_reply(c, 431, "text/plain; charset=utf-8", NULL, body, sizeof body - 1, 1);
            return 0;
        }
        if (r < 0) {
            static const char body[] = "400 Bad Request";
            sim_conn_reply(c, 400, "text/plain; charset=utf-8", NULL, body, sizeof body - 1, 1);
            return 0;
        }
        data += used;
        len -= used;
        if (r != HTTP_DONE) break;
        if (handle_request(c, data, len)) return 0;
        http_msg_free(&c->req);
        http_msg_init(&c->req, 1, SIM_MAX_HEADER_BYTES, SIM_MAX_BODY);
    }
    return 0;
}

static void on_conn_end(stream_t *st, int status)
{
    sim_conn_t *c = stream_data(st);
    if (c->ex)
        sim_exec_conn_event(c->ex, SIM_EV_END, NULL, 0);
    else
        sim_conn_close(c);
}

static void on_conn_drain(stream_t *st)
{
    sim_conn_t *c = stream_data(st);
    if (c->ex) sim_exec_conn_event(c->ex, SIM_EV_DRAIN, NULL, 0);
}

static void on_conn_ready(stream_t *st, int status)
{
    sim_conn_t *c = stream_data(st);
    if (status < 0) sim_conn_close(c); /* handshake failed: nothing to say over HTTP */
}

static void on_connection(uv_stream_t *listener, int status)
{
    sim_server_t *srv = listener->data;
    if (status < 0 || srv->stopping) return;
    sim_conn_t *c = calloc(1, sizeof *c);
    if (!c) return;
    c->srv = srv;
    http_msg_init(&c->req, 1, SIM_MAX_HEADER_BYTES, SIM_MAX_BODY);
    c->req_init = 1;
    stream_opts_t so = {0};
    so.tls = srv->tls;
    so.rbuf = &srv->rbuf;
    stream_cb_t cb = {on_conn_ready, on_conn_data, on_conn_end, on_conn_drain, on_conn_closed};
    if (stream_accept(listener, &so, &cb, c, &c->st) < 0) {
        http_msg_free(&c->req);
        free(c);
        return;
    }
    srv->stats.connections++;
    c->next = srv->conns;
    if (srv->conns) srv->conns->prev = c;
    srv->conns = c;
}

int sim_server_listen(sim_server_t *srv, const char *host, int port, int *bound_port)
{
    struct sockaddr_storage ss;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss))
        return -EINVAL;
    /* http-parser's own cap (80 KiB unless set; process-wide, and the sim is its own process)
     * must not cut below ours. */
    http_parser_set_max_header_size(SIM_MAX_HEADER_BYTES + 64 * 1024);
    uv_tcp_init(srv->loop, &srv->listener);
    srv->listener.data = srv;
    int r = uv_tcp_bind(&srv->listener, (struct sockaddr *)&ss, 0);
    if (r == 0) r = uv_listen((uv_stream_t *)&srv->listener, 4096, on_connection);
    if (r < 0) return r;
    struct sockaddr_storage got;
    int len = sizeof got;
    uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&got, &len);
    *bound_port = ntohs(((struct sockaddr_in *)&got)->sin_port);
    return 0;
}

void sim_server_stop(sim_server_t *srv)
{
    if (srv->stopping) return;
    srv->stopping = 1;
    uv_close((uv_handle_t *)&srv->listener, NULL);
    sim_exec_kill_all(srv);
    for (sim_conn_t *c = srv->conns; c; c = c->next)
        if (!c->ex) {
            c->closing = 1;
            stream_close(c->st); /* also one lingering after its last response */
        }
    sim_server_maybe_stopped(srv);
}
