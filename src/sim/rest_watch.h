/* rest_watch: the API server's pod watch, `GET .../pods?watch=1` (docs/PROTOCOL.md §3.2:
 * kubectl exec on a workload without pods lists, then watches until one is added).
 *
 * What the real apiserver does and the sim does too [src AS endpoints/handlers/watch.go,
 * response.go; cacher]: 200 with Content-Type application/json and Transfer-Encoding: chunked,
 * then one JSON object per event, newline-terminated: {"type":"ADDED","object":{Pod}}.
 *  - no resourceVersion or "0": an ADDED for every existing pod that matches, then changes;
 *    resourceVersion N (from a list): only the changes after N. Too old: an ERROR event with a
 *    410 Expired Status, then the end; newer than the cluster: an ERROR event (504, Timeout).
 *  - labelSelector and fieldSelector filter as for lists; a change that makes a pod match is
 *    ADDED, one that makes it stop matching is DELETED (the cacher's rule).
 *  - timeoutSeconds ends the stream; without it a random 30-60 min, as the apiserver's
 *    minRequestTimeout (1800 s) * (1 + rand).
 *  - allowWatchBookmarks: a BOOKMARK every minute; sendInitialEvents=true: a BOOKMARK with
 *    annotation k8s.io/initial-events-end after the initial ADDED events.
 *  - Accept as=Table: each event's object is a Table with one row; columnDefinitions only in
 *    the first event, null afterwards (watchEmbeddedEncoder's NoHeaders).
 * Only pods change in the sim (model_time.c). Workloads (deployments, statefulsets,
 * daemonsets, replicasets, jobs) can be watched too: a pod step is a MODIFIED of its owners
 * (their status counts it), replayed with today's status. Namespaces cannot: 405.
 *
 * Two layers: the engine here (rest_watch.c) takes a request and a clock and produces event
 * bytes through a sink, no I/O, so it is unit-tested; rest_watch_io.c binds it to a server
 * connection (chunked encoding) and a uv timer. */
#ifndef PMX_SIM_REST_WATCH_H
#define PMX_SIM_REST_WATCH_H

#include "sim/rest.h"

#define SIM_WATCH_MAX 10000         /* watches at once; more get 429 */
#define SIM_WATCH_BOOKMARK_MS 60000 /* the cacher's bookmark period */

typedef struct sim_watch sim_watch_t;
typedef struct sim_watch_hub sim_watch_hub_t;

/* Where a watch's output goes. write: one or more whole events; end: the stream is over
 * (timeout, or after an ERROR event); no call follows end. Neither may free the watch. */
typedef struct sim_watch_sink {
    void (*write)(void *arg, const char *data, size_t len);
    void (*end)(void *arg);
    void *arg;
} sim_watch_sink_t;

/* One hub per model: it receives the model's changes (m->on_change). NULL on ENOMEM. */
sim_watch_hub_t *sim_watch_hub_new(sim_model_t *m);
/* Frees the hub and every watch still open (no sink calls). */
void sim_watch_hub_free(sim_watch_hub_t *h);

/* Validates a watch the way the apiserver does: 405 (not GET, not pods), 403 (verb "watch"),
 * 400 (selectors, resourceVersion, timeoutSeconds, includeObject), 429 (too many). On
 * success returns 0 and *out, which has written nothing yet; else returns the HTTP status with
 * the Status in err (initialised by the call either way; free it). now_ms: the model's clock. */
int sim_watch_open(sim_watch_hub_t *h, const char *method, const char *path, const char *query,
                   const char *accept, const char *user, long long now_ms,
                   const sim_watch_sink_t *sink, sim_watch_t **out, sim_response_t *err);
/* Starts the stream (call after the response headers went out): the initial events, or the
 * ERROR event and end. */
void sim_watch_begin(sim_watch_t *w);
/* The client is gone or the stream was ended: forget the watch (it is freed). */
void sim_watch_stop(sim_watch_t *w);

/* Applies the model's due steps (their events go to every watch) and ends or bookmarks the
 * watches whose time came. */
void sim_watch_hub_tick(sim_watch_hub_t *h, long long now_ms);
/* When the hub next needs a tick (model clock ms); -1: nothing pending. */
long long sim_watch_hub_next_ms(const sim_watch_hub_t *h);
size_t sim_watch_hub_count(const sim_watch_hub_t *h);
/* When the watch ends on its own (the server's minRequestTimeout, randomized), in hub time. */
long long sim_watch_deadline_ms(const sim_watch_t *w);

/* ---- server.c -> rest_watch_io.c (the connection layer) ----
 * Three one-line hooks in server.c: handle_request offers each request to sim_watch_handle
 * before the REST answer; on_conn_data ignores what a watching client sends (a watch reads
 * nothing; the finished request must not be parsed again); on_conn_closed tells us. */
struct sim_conn;
/* Returns -1 when the request is not a watch (answer it as REST), else what handle_request
 * returns: 1 when the connection now streams the watch (or is closing), 0 when an error was
 * answered and the keep-alive connection goes on. */
int sim_watch_handle(struct sim_conn *c, const char *method, const char *path, const char *query,
                     const char *accept, int keep_alive);
/* 1 while the connection streams a watch. */
int sim_watch_conn_active(const struct sim_conn *c);
/* The connection is gone (any connection: a no-op for those that never watched). */
void sim_watch_conn_closed(struct sim_conn *c);

#endif
