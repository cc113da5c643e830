/* rest_watch: the watch engine (see rest_watch.h for the protocol). Watches hang off one hub
 * per model; the model reports each timeline step to the hub (m->on_change), which encodes it
 * for every watch that sees it, the way the apiserver's cacher filters and converts events. */
#include "sim/rest_watch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim/rest_internal.h"

#define WATCH_EVENT_MAX (4u * 1024 * 1024) /* one encoded event; a pod is a few KiB */

struct sim_watch {
    sim_watch_hub_t *hub;
    sim_watch_t *prev, *next;
    sim_watch_sink_t sink;
    char ns[256];
    int all_ns;
    int wkind; /* -1: pods; else the workload kind watched */
    sel_t ls;
    fsel_t fs;
    int table, include_object, headers_sent;
    const char *table_api;
    int bookmarks, initial_events_end;
    int rv_given;
    uint64_t rv;
    long long deadline_ms, next_bookmark_ms;
    int begun, ended;
    buf_t out;
};

struct sim_watch_hub {
    sim_model_t *m;
    sim_watch_t *head;
    size_t n;
    unsigned seed;
};

/* ---- events ---------------------------------------------------------------------------------- */

static void end_watch(sim_watch_t *w)
{
    if (w->ended) return;
    w->ended = 1;
    w->sink.end(w->sink.arg);
}

static void send_out(sim_watch_t *w, int err)
{
    if (err) { /* out of memory or an event over the bound: the stream cannot go on */
        end_watch(w);
        return;
    }
    w->sink.write(w->sink.arg, w->out.data, w->out.len);
}

/* Starts an event in w->out: {"type":TYPE,"object": ... (event_end closes and sends it). */
static void event_begin(sim_watch_t *w, req_t *r, const char *type)
{
    *r = (req_t){.m = w->hub->m,
                 .table = w->table,
                 .table_api = w->table_api,
                 .include_object = w->include_object,
                 .now = (long long)time(NULL)};
    buf_reset(&w->out);
    r->w = (jw_t){&w->out, 0};
    jw_fmt(&r->w, "{\"type\":\"%s\",\"object\":", type);
}

static void event_end(sim_watch_t *w, req_t *r)
{
    if (w->table) {
        jw_raw(&r->w, "]}");
        w->headers_sent = 1;
    }
    jw_raw(&r->w, "}\n");
    send_out(w, r->w.err);
}

/* {"type":TYPE,"object":POD}\n, or a one-row Table for kubectl get -w. */
static void emit(sim_watch_t *w, const char *type, const sim_pod_t *p)
{
    req_t r;
    event_begin(w, &r, type);
    if (w->table) {
        rest_table_open(&r, w->headers_sent ? NULL : REST_POD_COLUMNS, p->rv, NULL);
        rest_w_pod_row(&r, p);
    } else {
        rest_w_pod(&r, p, 1);
    }
    event_end(w, &r);
}

/* A workload's event: its object, or a one-row Table. */
static void emit_workload(sim_watch_t *w, const char *type, const sim_workload_t *wl)
{
    req_t r;
    event_begin(w, &r, type);
    if (w->table) {
        rest_table_open(&r, w->headers_sent ? NULL : rest_workload_columns(wl->kind), wl->rv, NULL);
        rest_w_workload_row(&r, wl);
    } else {
        rest_w_workload(&r, wl, 1);
    }
    event_end(w, &r);
}

/* An empty object's spec as Go marshals it (required fields present, zero-valued). */
static const char *bookmark_spec(int wkind)
{
    if (wkind == SIM_JOB)
        return "{\"template\":{\"metadata\":{\"creationTimestamp\":null},"
               "\"spec\":{\"containers\":null}}}";
    return "{\"selector\":null,\"template\":{\"metadata\":{\"creationTimestamp\":null},"
           "\"spec\":{\"containers\":null}}}";
}

/* The cacher's bookmark: an empty object of the watched kind carrying only the rv. */
static void bookmark(sim_watch_t *w, int initial_events_end)
{
    buf_reset(&w->out);
    int e = buf_printf(&w->out,
                       "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"%s\",\"apiVersion\":\"%s\","
                       "\"metadata\":{\"resourceVersion\":\"%llu\",\"creationTimestamp\":null%s},"
                       "\"spec\":%s,\"status\":{}}}\n",
                       w->wkind < 0 ? "Pod" : sim_wkind_kind((sim_wkind_t)w->wkind),
                       w->wkind < 0                                              ? "v1"
                       : !strcmp(sim_wkind_group((sim_wkind_t)w->wkind), "apps") ? "apps/v1"
                                                                                 : "batch/v1",
                       (unsigned long long)w->hub->m->rv,
                       initial_events_end ? ",\"annotations\":{\"k8s.io/initial-events-end\":"
                                            "\"true\"}"
                                          : "",
                       w->wkind < 0 ? "{\"containers\":null}" : bookmark_spec(w->wkind));
    send_out(w, e);
}

/* An ERROR event carrying a Status (Go writes it without the trailing newline inside), then
 * the end of the stream. */
static void error_event(sim_watch_t *w, int code, const char *reason, const char *msg,
                        const char *details)
{
    jw_t j = {&w->out, 0};
    buf_reset(&w->out);
    jw_raw(&j, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
               "\"metadata\":{},\"status\":\"Failure\"");
    jw_kv(&j, 0, "message", msg);
    jw_kv(&j, 0, "reason", reason);
    if (details) jw_raw(&j, details);
    jw_fmt(&j, ",\"code\":%d}}\n", code);
    send_out(w, j.err);
    end_watch(w);
}

static int watch_match(const sim_watch_t *w, const sim_pod_t *p)
{
    if (!w->all_ns && strcmp(p->ns, w->ns)) return 0;
    return rest_pod_match(p, &w->ls, &w->fs);
}

/* One timeline step as this watch sees it: a pod that starts matching is ADDED, one that stops
 * is DELETED (its previous state at the new rv), one that matches before and after MODIFIED. */
static int workload_watch_match(const sim_watch_t *w, const sim_workload_t *wl)
{
    return wl && (int)wl->kind == w->wkind && (w->all_ns || !strcmp(wl->ns, w->ns)) &&
           rest_workload_match(wl, &w->ls, &w->fs);
}

/* A pod step changes its owners' status: MODIFIED for the one this watch looks at. (Replayed
 * from the log they show today's status: the sim keeps no workload history.) */
static void deliver_owner(sim_watch_t *w, const sim_pod_t *p)
{
    const sim_model_t *m = w->hub->m;
    const sim_workload_t *o1 = sim_model_owner(m, &p->owner);
    const sim_workload_t *o2 = o1 ? sim_model_owner(m, &o1->owner) : NULL;
    if (workload_watch_match(w, o1)) emit_workload(w, "MODIFIED", o1);
    if (workload_watch_match(w, o2)) emit_workload(w, "MODIFIED", o2);
}

static void deliver(sim_watch_t *w, const sim_change_t *c)
{
    if (!w->begun || w->ended) return;
    const sim_pod_t *p = &w->hub->m->pods[c->pod];
    if (w->wkind >= 0) {
        deliver_owner(w, p);
        return;
    }
    sim_pod_t before, after;
    sim_pod_at(p, &c->before, &before);
    sim_pod_at(p, &c->after, &after);
    int was = c->before.exists && watch_match(w, &before);
    int is = c->after.exists && watch_match(w, &after);
    before.rv = c->rv;
    if (was && is)
        emit(w, "MODIFIED", &after);
    else if (is)
        emit(w, "ADDED", &after);
    else if (was)
        emit(w, "DELETED", c->type == SIM_CHANGE_DELETED ? &after : &before);
}

static void on_model_change(void *arg, const sim_change_t *c)
{
    sim_watch_hub_t *h = arg;
    for (sim_watch_t *w = h->head; w; w = w->next)
        deliver(w, c);
}

/* ---- hub ------------------------------------------------------------------------------------- */

sim_watch_hub_t *sim_watch_hub_new(sim_model_t *m)
{
    sim_watch_hub_t *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->m = m;
    h->seed = (unsigned)time(NULL);
    m->on_change = on_model_change;
    m->on_change_arg = h;
    return h;
}

static void watch_free(sim_watch_t *w)
{
    sel_free(&w->ls);
    fsel_free(&w->fs);
    buf_free(&w->out);
    free(w);
}

void sim_watch_hub_free(sim_watch_hub_t *h)
{
    if (!h) return;
    while (h->head) {
        sim_watch_t *w = h->head;
        h->head = w->next;
        watch_free(w);
    }
    if (h->m->on_change_arg == h) h->m->on_change = NULL, h->m->on_change_arg = NULL;
    free(h);
}

size_t sim_watch_hub_count(const sim_watch_hub_t *h)
{
    return h->n;
}

void sim_watch_hub_tick(sim_watch_hub_t *h, long long now_ms)
{
    sim_model_advance(h->m, now_ms);
    for (sim_watch_t *w = h->head; w; w = w->next) {
        if (!w->begun || w->ended) continue;
        if (now_ms >= w->deadline_ms) {
            end_watch(w); /* the apiserver just ends the response */
        } else if (w->bookmarks && now_ms >= w->next_bookmark_ms) {
            bookmark(w, 0);
            w->next_bookmark_ms = now_ms + SIM_WATCH_BOOKMARK_MS;
        }
    }
}

static long long earliest(long long a, long long b)
{
    return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

long long sim_watch_hub_next_ms(const sim_watch_hub_t *h)
{
    long long next = -1;
    int any = 0;
    for (const sim_watch_t *w = h->head; w; w = w->next) {
        if (!w->begun || w->ended) continue;
        any = 1;
        next = earliest(next, w->deadline_ms);
        if (w->bookmarks) next = earliest(next, w->next_bookmark_ms);
    }
    /* Steps nobody watches wait for the next request to advance the model. */
    return any ? earliest(next, sim_model_next_step_ms(h->m)) : -1;
}

/* ---- opening a watch ------------------------------------------------------------------------- */

/* /api/v1/[namespaces/NS/]pods or /apis/GROUP/v1/[namespaces/NS/]RESOURCE for the workloads:
 * 1 with ns ("" for all) and *wkind (-1 for pods), else 0. */
static int watch_path(const char *path, char *ns, size_t cap, int *wkind)
{
    char group[16] = "", res[32] = "";
    int n = 0;
    ns[0] = '\0';
    if (sscanf(path, "/api/v1/%31[^/]%n", res, &n) == 1 && !path[n]) {
    } else if (sscanf(path, "/api/v1/namespaces/%255[^/]/%31[^/]%n", ns, res, &n) == 2 &&
               !path[n] && cap > 255) {
    } else if (sscanf(path, "/apis/%15[^/]/v1/%31[^/]%n", group, res, &n) == 2 && !path[n]) {
    } else if (sscanf(path, "/apis/%15[^/]/v1/namespaces/%255[^/]/%31[^/]%n", group, ns, res, &n) ==
                   3 &&
               !path[n] && cap > 255) {
    } else {
        return 0;
    }
    *wkind = -1;
    if (!group[0]) return !strcmp(res, "pods");
    for (int k = 0; k < SIM_WKIND_COUNT; k++)
        if (!strcmp(group, sim_wkind_group((sim_wkind_t)k)) &&
            !strcmp(res, sim_wkind_resource((sim_wkind_t)k)))
            return (*wkind = k), 1;
    return 0;
}

static int query_bool(const char *query, const char *key, buf_t *q)
{
    return rest_query_get(query, key, q) > 0 && strcmp(q->data, "0") &&
           strcasecmp(q->data, "false");
}

/* resourceVersion and timeoutSeconds; 400 on values Go's strconv refuses. */
static int read_versions(req_t *r, sim_watch_t *w, buf_t *q, long long now_ms)
{
    char *end, msg[400];
    long long timeout = 0;
    if (rest_query_get(r->query, "resourceVersion", q) > 0 && q->len && strcmp(q->data, "0")) {
        errno = 0;
        unsigned long long v = strtoull(q->data, &end, 10);
        if (errno || *end || q->data[0] == '-' || q->data[0] == '+') {
            snprintf(msg, sizeof msg,
                     "resourceVersion: Invalid value: \"%.100s\": strconv.ParseUint: "
                     "parsing \"%.100s\": invalid syntax",
                     q->data, q->data);
            return rest_bad_request(r, msg), -1;
        }
        w->rv_given = 1;
        w->rv = v;
    }
    if (rest_query_get(r->query, "timeoutSeconds", q) > 0 && q->len) {
        errno = 0;
        timeout = strtoll(q->data, &end, 10);
        if (errno || *end) {
            snprintf(msg, sizeof msg,
                     "timeoutSeconds: Invalid value: \"%.100s\": strconv.ParseInt: "
                     "parsing \"%.100s\": invalid syntax",
                     q->data, q->data);
            return rest_bad_request(r, msg), -1;
        }
    }
    if (timeout == 0) /* minRequestTimeout (1800 s) * (1 + rand) */
        timeout = 1800 + (long long)(rand_r(&w->hub->seed) % 1801);
    w->deadline_ms = now_ms + (timeout > 0 ? timeout * 1000 : 0);
    return 0;
}

/* Everything the query says, checked in the apiserver's order; -1 with the error in r->out. */
static int read_request(req_t *r, sim_watch_t *w, const char *accept, long long now_ms)
{
    buf_t q;
    buf_init(&q, SEL_MAX_TEXT + 1);
    const char *res = w->wkind < 0 ? "pods" : sim_wkind_resource((sim_wkind_t)w->wkind);
    const char *grp = w->wkind < 0 ? "" : sim_wkind_group((sim_wkind_t)w->wkind);
    int bad = rest_authorize(r, "watch", res, grp, w->all_ns ? NULL : w->ns, NULL) ||
              rest_read_selectors(r, &q, &w->ls, &w->fs, w->wkind < 0) ||
              read_versions(r, w, &q, now_ms);
    if (!bad) {
        rest_negotiate(r, accept);
        bad = rest_read_include_object(r, &q);
    }
    if (!bad) {
        w->table = r->table;
        w->table_api = r->table_api;
        w->include_object = r->include_object;
        w->bookmarks = query_bool(r->query, "allowWatchBookmarks", &q);
        w->initial_events_end = w->bookmarks && query_bool(r->query, "sendInitialEvents", &q);
        w->next_bookmark_ms = now_ms + SIM_WATCH_BOOKMARK_MS;
    }
    buf_free(&q);
    return bad ? -1 : 0;
}

static sim_watch_t *watch_new(sim_watch_hub_t *h, const sim_watch_sink_t *sink)
{
    sim_watch_t *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->hub = h;
    w->sink = *sink;
    sel_init(&w->ls);
    fsel_init(&w->fs);
    buf_init(&w->out, WATCH_EVENT_MAX);
    return w;
}

int sim_watch_open(sim_watch_hub_t *h, const char *method, const char *path, const char *query,
                   const char *accept, const char *user, long long now_ms,
                   const sim_watch_sink_t *sink, sim_watch_t **out, sim_response_t *err)
{
    sim_response_init(err);
    req_t r = {.m = h->m, .query = query, .user = user, .now = (long long)time(NULL), .out = err};
    r.w = (jw_t){&err->body, 0};
    *out = NULL;
    sim_watch_t *w = watch_new(h, sink);
    if (!w) return sim_response_status(err, 500, "InternalError", "out of memory", "", 0, 0), 500;
    if (strcmp(method, "GET") || !watch_path(path ? path : "", w->ns, sizeof w->ns, &w->wkind)) {
        sim_response_status(err, 405, "MethodNotAllowed",
                            "podmux-sim can watch pods and workloads only", "", NULL, NULL);
    } else if (h->n >= SIM_WATCH_MAX) {
        sim_response_status(err, 429, "TooManyRequests",
                            "Too many requests, please try again later.", "", NULL, NULL);
        err->retry_after = 1;
    } else {
        w->all_ns = !w->ns[0];
        sim_model_advance(h->m, now_ms);
        if (read_request(&r, w, accept, now_ms) == 0) {
            w->next = h->head;
            if (h->head) h->head->prev = w;
            h->head = w;
            h->n++;
            *out = w;
            return 0;
        }
    }
    watch_free(w);
    return err->status;
}

/* ---- the stream ------------------------------------------------------------------------------ */

static int wl_order(const void *a, const void *b)
{
    const sim_workload_t *x = *(const sim_workload_t *const *)a;
    const sim_workload_t *y = *(const sim_workload_t *const *)b;
    int c = strcmp(x->ns, y->ns);
    return c ? c : strcmp(x->name, y->name);
}

/* The workloads of the watched kind, in list order. */
static void initial_workloads(sim_watch_t *w)
{
    const sim_model_t *m = w->hub->m;
    const sim_workload_t **v = malloc((m->nworkloads + 1) * sizeof *v);
    size_t n = 0;
    if (!v) {
        end_watch(w);
        return;
    }
    for (size_t i = 0; i < m->nworkloads; i++)
        if (workload_watch_match(w, &m->workloads[i])) v[n++] = &m->workloads[i];
    qsort(v, n, sizeof *v, wl_order);
    for (size_t i = 0; i < n && !w->ended; i++)
        emit_workload(w, "ADDED", v[i]);
    free(v);
}

static void initial_events(sim_watch_t *w)
{
    const sim_model_t *m = w->hub->m;
    if (w->wkind >= 0) {
        initial_workloads(w);
        if (w->initial_events_end && !w->ended) bookmark(w, 1);
        return;
    }
    size_t i = w->all_ns ? 0 : sim_model_pod_lower_bound(m, w->ns, "");
    for (; i < m->npods && !w->ended; i++) {
        const sim_pod_t *p = &m->pods[i];
        if (!w->all_ns && strcmp(p->ns, w->ns)) break;
        if (p->life == SIM_POD_LIVE && watch_match(w, p)) emit(w, "ADDED", p);
    }
    if (w->initial_events_end && !w->ended) bookmark(w, 1);
}

void sim_watch_begin(sim_watch_t *w)
{
    const sim_model_t *m = w->hub->m;
    char msg[200];
    uint64_t seq = 0;
    w->begun = 1;
    if (!w->rv_given) {
        initial_events(w);
    } else if (w->rv > m->rv) { /* the cacher waits 3 s for it, then gives up like this */
        snprintf(msg, sizeof msg, "Timeout: Too large resource version: %llu, current: %llu",
                 (unsigned long long)w->rv, (unsigned long long)m->rv);
        error_event(w, 504, "Timeout", msg,
                    ",\"details\":{\"causes\":[{\"reason\":\"ResourceVersionTooLarge\","
                    "\"message\":\"Too large resource version\"}],\"retryAfterSeconds\":1}");
    } else if (sim_model_changes_since(m, w->rv, &seq)) {
        snprintf(msg, sizeof msg, "too old resource version: %llu (%llu)",
                 (unsigned long long)w->rv, (unsigned long long)m->rv_built);
        error_event(w, 410, "Expired", msg, NULL);
    } else {
        for (const sim_change_t *c; !w->ended && (c = sim_model_change(m, seq)); seq++)
            deliver(w, c);
    }
}

void sim_watch_stop(sim_watch_t *w)
{
    sim_watch_hub_t *h = w->hub;
    if (w->prev)
        w->prev->next = w->next;
    else
        h->head = w->next;
    if (w->next) w->next->prev = w->prev;
    h->n--;
    watch_free(w);
}

long long sim_watch_deadline_ms(const sim_watch_t *w)
{
    return w->deadline_ms;
}
