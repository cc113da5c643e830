/* rest_watch_io: watches on podmux-sim's connections. server.c offers every request to
 * sim_watch_handle() first; a watch takes the connection over: the response headers go out with
 * Transfer-Encoding: chunked, each engine write becomes one chunk (one TLS record), and the end
 * is the terminating chunk followed by closing the connection. One uv timer per server wakes
 * the engine when the model's next step is due or a watch's timeout or bookmark comes.
 *
 * Connections are found by address in a small hash (server.c's sim_conn has no field for us),
 * so the hooks in server.c stay one line each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/rest_watch.h"
#include "sim/http_server.h"
#include "sim/sim.h"

/* A client this far behind is dropped, as the cacher drops watchers that do not keep up. */
#define WATCH_MAX_QUEUED (8u * 1024 * 1024)
#define CONN_BUCKETS 1024

typedef struct watch_conn watch_conn_t;

typedef struct io_hub {
    sim_watch_hub_t *engine;
    sim_model_t *m;
    uv_timer_t timer;
    watch_conn_t *buckets[CONN_BUCKETS];
} io_hub_t;

struct watch_conn {
    io_hub_t *hub;
    sim_conn_t *conn;
    sim_watch_t *w;
    int ended;
    watch_conn_t *next; /* in its bucket */
};

/* ---- connections by address ------------------------------------------------------------------ */

static size_t bucket_of(const sim_conn_t *c)
{
    uintptr_t x = (uintptr_t)c;
    return (size_t)((x >> 4) ^ (x >> 14)) % CONN_BUCKETS;
}

static watch_conn_t **find_slot(io_hub_t *h, const sim_conn_t *c)
{
    watch_conn_t **p = &h->buckets[bucket_of(c)];
    while (*p && (*p)->conn != c)
        p = &(*p)->next;
    return p;
}

static io_hub_t *hub_of(const sim_conn_t *c)
{
    return c->srv->model->watch_hub;
}

/* ---- the hub and its timer ------------------------------------------------------------------- */

static void hub_free(void *arg)
{
    io_hub_t *h = arg;
    /* Called by sim_model_free after the loop closed every handle, the timer included. */
    sim_watch_hub_free(h->engine);
    for (size_t i = 0; i < CONN_BUCKETS; i++)
        while (h->buckets[i]) {
            watch_conn_t *wc = h->buckets[i];
            h->buckets[i] = wc->next;
            free(wc);
        }
    free(h);
}

static void rearm(io_hub_t *h);

static void on_timer(uv_timer_t *t)
{
    io_hub_t *h = t->data;
    sim_watch_hub_tick(h->engine, sim_model_now_ms(h->m));
    rearm(h);
}

static void rearm(io_hub_t *h)
{
    if (uv_is_closing((uv_handle_t *)&h->timer)) return; /* the server is stopping */
    long long next = sim_watch_hub_next_ms(h->engine), now = sim_model_now_ms(h->m);
    if (next < 0)
        uv_timer_stop(&h->timer);
    else /* +1: never early, the model clock and the loop's may round differently */
        uv_timer_start(&h->timer, on_timer, (uint64_t)(next > now ? next - now : 0) + 1, 0);
}

static io_hub_t *hub_get(sim_server_t *srv)
{
    sim_model_t *m = srv->model;
    if (m->watch_hub) return m->watch_hub;
    io_hub_t *h = calloc(1, sizeof *h);
    if (!h || !(h->engine = sim_watch_hub_new(m))) {
        free(h);
        return NULL;
    }
    h->m = m;
    uv_timer_init(srv->loop, &h->timer);
    h->timer.data = h;
    m->watch_hub = h;
    m->watch_hub_free = hub_free;
    return h;
}

/* ---- the engine's sink: chunked encoding ----------------------------------------------------- */

static void on_write(void *arg, const char *data, size_t len)
{
    watch_conn_t *wc = arg;
    if (wc->ended || !wc->conn) return;
    stream_t *st = wc->conn->st;
    if (stream_queued(st) > WATCH_MAX_QUEUED) {
        wc->ended = 1;
        sim_conn_close(wc->conn);
        return;
    }
    char head[24];
    int n = snprintf(head, sizeof head, "%zx\r\n", len);
    buf_t b;
    buf_init(&b, (size_t)n + len + 2);
    if (buf_append(&b, head, (size_t)n) || buf_append(&b, data, len) || buf_append(&b, "\r\n", 2) ||
        stream_write(st, b.data, b.len) < 0) {
        wc->ended = 1;
        sim_conn_close(wc->conn);
    }
    buf_free(&b);
}

static void on_end(void *arg)
{
    watch_conn_t *wc = arg;
    if (wc->ended || !wc->conn) return;
    wc->ended = 1;
    stream_write(wc->conn->st, "0\r\n\r\n", 5);
    wc->conn->closing = 1; /* like sim_conn_reply(..., close_after) */
    stream_close_after_write(wc->conn->st);
}

/* ---- server.c's hooks ------------------------------------------------------------------------ */

static void write_headers(sim_conn_t *c)
{
    char audit[64];
    snprintf(audit, sizeof audit, "%08llx-sim", (unsigned long long)c->srv->stats.requests);
    const char *h[] = {"Audit-Id",          audit,          "Cache-Control",
                       "no-cache, private", "Content-Type", "application/json",
                       "Transfer-Encoding", "chunked",      NULL};
    buf_t out;
    buf_init(&out, 4096);
    if (http_write_response(&out, 200, h, NULL, 0) == 0) stream_write(c->st, out.data, out.len);
    buf_free(&out);
}

static int reply_error(sim_conn_t *c, sim_response_t *err, int keep_alive)
{
    char ra[16];
    snprintf(ra, sizeof ra, "%d", err->retry_after);
    const char *h[] = {"Retry-After", ra, NULL};
    sim_conn_reply(c, err->status, err->content_type, err->retry_after >= 0 ? h : NULL,
                   err->body.data, err->body.len, !keep_alive);
    sim_response_free(err);
    return !keep_alive;
}

int sim_watch_handle(sim_conn_t *c, const char *method, const char *path, const char *query,
                     const char *accept, int keep_alive)
{
    if (strcmp(method, "GET") || !sim_rest_is_watch(query)) return -1;
    io_hub_t *h = hub_get(c->srv);
    watch_conn_t *wc = h ? calloc(1, sizeof *wc) : NULL;
    sim_response_t err;
    sim_watch_t *w = NULL;
    if (!wc) {
        sim_response_init(&err);
        sim_response_status(&err, 500, "InternalError", "Internal error occurred: out of memory",
                            "", NULL, NULL);
        return reply_error(c, &err, keep_alive);
    }
    long long now = sim_model_now_ms(h->m);
    sim_watch_hub_tick(h->engine, now); /* everyone sees what is due before this one starts */
    sim_watch_sink_t sink = {on_write, on_end, wc};
    if (sim_watch_open(h->engine, method, path, query, accept, c->user, now, &sink, &w, &err)) {
        free(wc);
        return reply_error(c, &err, keep_alive);
    }
    sim_response_free(&err);
    *wc = (watch_conn_t){h, c, w, 0, NULL};
    watch_conn_t **slot = find_slot(h, c);
    wc->next = *slot;
    *slot = wc;
    write_headers(c);
    sim_watch_begin(w);
    rearm(h);
    return 1;
}

int sim_watch_conn_active(const sim_conn_t *c)
{
    io_hub_t *h = hub_of(c);
    return h && *find_slot(h, c) != NULL;
}

void sim_watch_conn_closed(sim_conn_t *c)
{
    io_hub_t *h = hub_of(c);
    watch_conn_t **slot = h ? find_slot(h, c) : NULL;
    if (!slot || !*slot) return;
    watch_conn_t *wc = *slot;
    *slot = wc->next;
    sim_watch_stop(wc->w);
    free(wc);
    rearm(h);
}
