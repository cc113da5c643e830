/* request: one HTTP request on a conn of its own (see request.h). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "client/request.h"
#include "util/buf.h"

#define MAX_EXTRA_HEADERS 32

typedef enum {
    RQ_CREDENTIALS, /* waiting for the credential */
    RQ_CONNECTING,  /* the conn is being made */
    RQ_SENT,        /* written, reading the response */
    RQ_DONE,        /* on_done or on_upgrade called (or closed before) */
} rq_state_t;

struct pmx__request {
    pmx_client_t *c;
    pmx__request_cb_t cb;
    void *data;
    rq_state_t state;
    int closed;  /* the owner called pmx__request_close() */
    int upgrade; /* a WebSocket upgrade */
    char *target, *label;
    char **headers; /* the extra headers, copied */
    uint64_t timeout_ms;
    size_t max_body;

    int auth_waiting, auth_retried;
    auth_cred_t cred;
    char *authz;

    pmx__conn_t *conn; /* ours until handed over */
    unsigned conns_open;
    http_msg_t resp;
    int resp_init;
    uv_timer_t timer; /* the response timeout; also starts the request from the loop */
    int timer_open;
    char message[1024];
    char reason[64];
};

static void start_auth(pmx__request_t *r, int force);
static void maybe_freed(pmx__request_t *r);

/* ---- outcomes -------------------------------------------------------------------------------- */
static void done(pmx__request_t *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void done(pmx__request_t *r, int err, const char *fmt, ...)
{
    if (r->state == RQ_DONE) return;
    r->state = RQ_DONE;
    uv_timer_stop(&r->timer);
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->message, sizeof r->message, fmt, ap);
        va_end(ap);
        for (char *p = r->message; *p; p++) /* one line, whatever the server sent */
            if ((unsigned char)*p < ' ') *p = ' ';
    }
    if (r->closed || !r->cb.on_done) return;
    pmx__response_t out = {0};
    out.err = err;
    out.http_status = r->resp_init ? r->resp.status : 0;
    out.body = r->resp_init && r->resp.body.data ? r->resp.body.data : "";
    out.len = r->resp_init ? r->resp.body.len : 0;
    out.message = r->message;
    out.reason = r->reason;
    const char *ra =
        r->resp_init && r->resp.status ? http_msg_header(&r->resp, "Retry-After") : NULL;
    out.retry_after = ra ? atof(ra) : 0;
    r->cb.on_done(r->data, &out);
}

/* The metav1.Status reason of an error body ("NotFound", "Forbidden"). */
static void reason_from_body(pmx__request_t *r, const char *body, size_t len)
{
    if (!body || !len) return;
    cJSON *j = cJSON_ParseWithLength(body, len);
    const cJSON *v = j ? cJSON_GetObjectItemCaseSensitive(j, "reason") : NULL;
    if (cJSON_IsString(v)) snprintf(r->reason, sizeof r->reason, "%s", v->valuestring);
    cJSON_Delete(j);
}

static void close_conn(pmx__request_t *r)
{
    if (!r->conn) return;
    pmx__conn_t *c = r->conn;
    r->conn = NULL;
    pmx__conn_close(c, 0);
}

static void retry_after_401(pmx__request_t *r)
{
    r->auth_retried = 1;
    pmx__log(r->c, "%s: 401, refreshing credentials once", r->label);
    close_conn(r);
    uv_timer_stop(&r->timer);
    start_auth(r, 1);
}

static void handle_response(pmx__request_t *r, const uint8_t *rest, size_t n)
{
    const http_msg_t *m = &r->resp;
    if (r->upgrade && m->status == 101) {
        r->state = RQ_DONE;
        uv_timer_stop(&r->timer);
        pmx__conn_t *conn = r->conn;
        r->conn = NULL; /* the session's now (its close is the session's) */
        r->conns_open--;
        r->cb.on_upgrade(r->data, conn, m, rest, n);
        return;
    }
    if (m->status == 401 && !r->auth_retried && pmx__client_cred_refreshable(r->c)) {
        retry_after_401(r);
        return;
    }
    if (!r->upgrade && m->status >= 200 && m->status < 300) {
        done(r, 0, NULL);
        return;
    }
    char msg[600];
    pmx__message_from_body(m->body.data, m->body.len, m->status, msg, sizeof msg);
    reason_from_body(r, m->body.data, m->body.len);
    int err = pmx__err_from_http(m->status);
    if (r->upgrade && m->status >= 200 && m->status < 300) err = PMX_EUPGRADE;
    if (m->status == 401)
        done(r, err, "unauthorized: the server rejected the credentials (%s)", msg);
    else
        done(r, err, "%s (%d)", msg, m->status);
}

/* ---- the conn's callbacks -------------------------------------------------------------------- */
static void conn_phase(void *data, pmx_state_t st)
{
    pmx__request_t *r = data;
    if (r->cb.on_phase && !r->closed) r->cb.on_phase(r->data, st);
}

static void conn_fail(void *data, int err, const char *message)
{
    pmx__request_t *r = data;
    done(r, err, "%s", message);
}

static void timeout_cb(uv_timer_t *t);

static void conn_ready(void *data)
{
    pmx__request_t *r = data;
    const pmx__endpoint_t *ep = pmx__client_endpoint(r->c);
    const char *const *imp = NULL;
    size_t nimp = pmx__client_headers(r->c, &imp);
    const char **hdrs = malloc((2 * MAX_EXTRA_HEADERS + 8 + 2 * nimp) * sizeof *hdrs);
    if (!hdrs) {
        done(r, PMX_ENOMEM, "%s: cannot send the request: out of memory", r->label);
        return;
    }
    size_t n = 0;
    hdrs[n++] = "User-Agent";
    hdrs[n++] = "podmux/" PMX_VERSION;
    if (r->authz) {
        hdrs[n++] = "Authorization";
        hdrs[n++] = r->authz;
    }
    /* Impersonation goes on every request, the upgrade included, as kubectl sends it. */
    for (size_t i = 0; i < 2 * nimp; i++)
        hdrs[n++] = imp[i];
    if (!r->upgrade) {
        hdrs[n++] = "Accept";
        hdrs[n++] = "application/json";
    }
    for (char **h = r->headers; h && *h; h++)
        hdrs[n++] = *h;
    hdrs[n] = NULL;
    buf_t req, target;
    buf_init(&req, 0);
    buf_init(&target, 0);
    int rc = buf_printf(&target, "%s%s", ep->prefix, r->target);
    if (rc == 0) rc = http_write_request(&req, "GET", target.data, ep->hostport, hdrs, NULL, 0);
    if (rc == 0) rc = pmx__conn_write(r->conn, req.data, req.len);
    buf_free(&req);
    buf_free(&target);
    free(hdrs);
    if (rc < 0) {
        done(r, PMX_ENOMEM, "%s: cannot send the request", r->label);
        return;
    }
    if (r->resp_init) http_msg_free(&r->resp);
    http_msg_init(&r->resp, 0, PMX_MAX_HEADER_BYTES, r->max_body);
    /* An upgrade's error body is read for its message only: 64 KiB of it are kept. */
    if (r->upgrade) http_msg_set_body_cap(&r->resp, 64u * 1024);
    r->resp_init = 1;
    r->state = RQ_SENT;
    if (r->cb.on_phase) r->cb.on_phase(r->data, PMX_STATE_UPGRADING);
    if (r->cb.on_sent) r->cb.on_sent(r->data);
    if (r->state == RQ_SENT) uv_timer_start(&r->timer, timeout_cb, r->timeout_ms, 0);
}

static int conn_data(void *data, const uint8_t *p, size_t n)
{
    pmx__request_t *r = data;
    if (r->state != RQ_SENT) return 0;
    size_t used = 0;
    int rc = http_msg_feed(&r->resp, (const char *)p, n, &used);
    if (rc < 0)
        done(r, PMX_EHTTP, "%s: malformed HTTP response from %s", r->label,
             pmx__client_endpoint(r->c)->hostport);
    else if (rc == HTTP_DONE)
        handle_response(r, p + used, n - used);
    return 0;
}

static void conn_end(void *data, int status)
{
    pmx__request_t *r = data;
    if (r->state != RQ_SENT) return;
    if (http_msg_eof(&r->resp) == HTTP_DONE) {
        handle_response(r, NULL, 0);
        return;
    }
    done(r, PMX_ELOST, "%s: connection to %s closed before the server answered", r->label,
         pmx__client_endpoint(r->c)->hostport);
}

static void conn_closed(void *data)
{
    pmx__request_t *r = data;
    r->conns_open--;
    maybe_freed(r);
}

static const pmx__conn_cb_t conn_cb = {conn_phase, conn_ready, conn_fail,  conn_data,
                                       conn_end,   NULL,       conn_closed};

static void timeout_cb(uv_timer_t *t)
{
    pmx__request_t *r = t->data;
    done(r, PMX_ETIMEDOUT, "%s: %s did not answer the %s request within %.0f s", r->label,
         pmx__client_endpoint(r->c)->hostport, r->upgrade ? "upgrade" : "GET",
         (double)r->timeout_ms / 1000);
}

/* ---- credentials, then the conn -------------------------------------------------------------- */
static void take_cred(pmx__request_t *r, const auth_cred_t *cred)
{
    free(r->authz);
    r->authz = NULL;
    memset(&r->cred, 0, sizeof r->cred);
    if (cred) r->cred = *cred;
    /* A bearer token never travels in clear text to an http:// server. */
    if (cred && cred->authorization && pmx__client_endpoint(r->c)->https)
        r->authz = strdup(cred->authorization);
}

static void open_conn(pmx__request_t *r)
{
    r->state = RQ_CONNECTING;
    pmx__conn_opts_t o = {r->cred.cert_pem ? &r->cred : NULL, r->label};
    int rc = pmx__conn_open(r->c, &o, &conn_cb, r, &r->conn);
    if (rc < 0) {
        r->conn = NULL;
        done(r, rc, "%s: cannot open a connection: %s", r->label, pmx_strerror(rc));
        return;
    }
    r->conns_open++;
}

static void auth_done_cb(void *arg, int status, const auth_cred_t *cred, const char *err)
{
    pmx__request_t *r = arg;
    r->auth_waiting = 0;
    if (r->state == RQ_DONE) return;
    if (status < 0) {
        done(r, PMX_ECREDENTIAL, "%s", err ? err : "credential plugin failed");
        return;
    }
    take_cred(r, cred);
    open_conn(r);
}

static void start_auth(pmx__request_t *r, int force)
{
    auth_t *a = pmx__client_auth(r->c);
    if (!a) {
        open_conn(r);
        return;
    }
    auth_cred_t cred = {0};
    int rc = auth_get(a, force, auth_done_cb, r, &cred);
    if (rc == 1) {
        take_cred(r, &cred);
        open_conn(r);
    } else if (rc == 0) {
        r->auth_waiting = 1;
        r->state = RQ_CREDENTIALS;
        if (r->cb.on_phase) r->cb.on_phase(r->data, PMX_STATE_WAITING_CREDENTIALS);
    } else {
        done(r, PMX_ECREDENTIAL, "%s: cannot get credentials", r->label);
    }
}

static void start_cb(uv_timer_t *t)
{
    pmx__request_t *r = t->data;
    if (r->closed) return;
    start_auth(r, 0);
}

/* ---- lifetime -------------------------------------------------------------------------------- */
static void timer_closed(uv_handle_t *h)
{
    pmx__request_t *r = h->data;
    r->timer_open = 0;
    maybe_freed(r);
}

static void maybe_freed(pmx__request_t *r)
{
    if (!r->closed || r->conns_open) return;
    if (r->timer_open == 1) {
        r->timer_open = 2;
        uv_close((uv_handle_t *)&r->timer, timer_closed);
        return;
    }
    if (r->timer_open) return;
    if (r->resp_init) http_msg_free(&r->resp);
    for (char **h = r->headers; h && *h; h++)
        free(*h);
    free(r->headers);
    free(r->authz);
    free(r->target);
    free(r->label);
    pmx_client_t *c = r->c;
    void *data = r->data;
    void (*on_close)(void *) = r->cb.on_close;
    free(r);
    pmx__client_release(c);
    if (on_close) on_close(data);
}

void pmx__request_close(pmx__request_t *r)
{
    if (r->closed) return;
    r->closed = 1;
    r->state = RQ_DONE;
    if (r->auth_waiting) auth_cancel(pmx__client_auth(r->c), auth_done_cb, r);
    r->auth_waiting = 0;
    uv_timer_stop(&r->timer);
    close_conn(r);
    maybe_freed(r);
}

int pmx__request_start(pmx_client_t *c, const pmx__request_opts_t *o, const pmx__request_cb_t *cb,
                       void *data, pmx__request_t **out)
{
    pmx__request_t *r = calloc(1, sizeof *r);
    if (!r) return PMX_ENOMEM;
    r->c = c;
    r->cb = *cb;
    r->data = data;
    r->upgrade = o->upgrade;
    r->timeout_ms = o->timeout_ms;
    r->max_body = o->max_body ? o->max_body : PMX_MAX_REST_BODY;
    r->target = strdup(o->target);
    r->label = strdup(o->label ? o->label : o->target);
    size_t nh = 0;
    while (o->headers && o->headers[nh] && nh < 2 * MAX_EXTRA_HEADERS)
        nh++;
    r->headers = calloc(nh + 1, sizeof *r->headers);
    int oom = !r->target || !r->label || !r->headers;
    for (size_t i = 0; !oom && i < nh; i++)
        oom = !(r->headers[i] = strdup(o->headers[i]));
    if (oom) {
        for (size_t i = 0; r->headers && i < nh; i++)
            free(r->headers[i]);
        free(r->headers);
        free(r->target);
        free(r->label);
        free(r);
        return PMX_ENOMEM;
    }
    pmx__client_hold(c);
    uv_timer_init(pmx__client_loop(c), &r->timer);
    r->timer.data = r;
    r->timer_open = 1;
    uv_timer_start(&r->timer, start_cb, 0, 0);
    *out = r;
    return 0;
}

/* ---- a GET for a pmx_get_cb ------------------------------------------------------------------ */
typedef struct get_ctx {
    pmx_client_t *c;
    pmx__request_t *r;
    pmx_get_cb cb;
    void *data;
} get_ctx_t;

static void get_done(void *data, const pmx__response_t *res)
{
    get_ctx_t *g = data;
    g->cb(g->c, res->err, res->http_status, res->body, res->len, res->err ? res->message : "",
          g->data);
    pmx__request_close(g->r);
}

static void get_closed(void *data)
{
    free(data);
}

int pmx__get(pmx_client_t *c, const char *path, pmx_get_cb cb, void *data)
{
    get_ctx_t *g = calloc(1, sizeof *g);
    if (!g) return PMX_ENOMEM;
    g->c = c;
    g->cb = cb;
    g->data = data;
    pmx__request_opts_t o = {0};
    o.target = path;
    o.timeout_ms = pmx__client_opts(c)->request_timeout_ms;
    pmx__request_cb_t rcb = {NULL, NULL, NULL, get_done, get_closed};
    int rc = pmx__request_start(c, &o, &rcb, g, &g->r);
    if (rc < 0) free(g);
    return rc;
}

PMX_API int pmx_client_get(pmx_client_t *c, const char *path, pmx_get_cb cb, void *data)
{
    if (!c || !path || path[0] != '/' || !cb) return PMX_EINVAL;
    return pmx__get(c, path, cb, data);
}
