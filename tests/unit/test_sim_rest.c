/* podmux-sim's model and REST layer: generated and YAML clusters, every JSON shape clients
 * decode, paging, Tables, selectors, and the exact bytes of every error. The sim sources are
 * compiled into this test (they are not part of the library). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sim/model.h"
#include "sim/rest.h"
#include "sim/rest_internal.h"
#include "sim/model_internal.h"
#include "sim/rest_watch.h"

#define KUBECTL_ACCEPT                                                                             \
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g="          \
    "meta.k8s.io,application/json"

/* examples/demo-cluster.yaml, found from this file's own path. */
static sim_model_t *demo(void)
{
    sim_model_t *m = sim_model_new();
    char err[512], path[1024];
    const char *slash = strrchr(__FILE__, '/');
    snprintf(path, sizeof path, "%.*s../../examples/demo-cluster.yaml",
             slash ? (int)(slash - __FILE__ + 1) : 0, __FILE__);
    assert_non_null(m);
    if (sim_model_load_file(m, path, err, sizeof err)) fail_msg("demo: %s", err);
    return m;
}

static sim_model_t *generated(int n)
{
    sim_model_t *m = sim_model_new();
    char err[256];
    assert_non_null(m);
    if (sim_model_generate(m, n, err, sizeof err)) fail_msg("generate: %s", err);
    assert_int_equal(sim_model_add_user(m, "admin", "tok", NULL), 0);
    return m;
}

/* Runs one GET and checks the status; returns the parsed body (caller deletes). */
static cJSON *call(sim_model_t *m, const char *path, const char *query, const char *accept,
                   const char *user, int want_status, sim_response_t *keep)
{
    sim_response_t r;
    assert_int_equal(sim_rest_handle(m, "GET", path, query, accept, user, &r), 0);
    if (r.status != want_status)
        fail_msg("%s?%s: status %d want %d: %s", path, query ? query : "", r.status, want_status,
                 r.body.data ? r.body.data : "");
    cJSON *j = cJSON_ParseWithLength(r.body.data ? r.body.data : "", r.body.len);
    if (keep)
        *keep = r;
    else
        sim_response_free(&r);
    return j;
}

static const char *jget(const cJSON *j, const char *dotted)
{
    char key[256];
    snprintf(key, sizeof key, "%s", dotted);
    const cJSON *cur = j;
    /* '.' separates path steps; \x01 stands for a '.' inside a key */
    for (char *save, *t = strtok_r(key, ".", &save); t && cur; t = strtok_r(NULL, ".", &save)) {
        for (char *c = t; *c; c++)
            if (*c == '\x01') *c = '.';
        cur = cJSON_IsArray(cur) ? cJSON_GetArrayItem(cur, atoi(t))
                                 : cJSON_GetObjectItemCaseSensitive(cur, t);
    }
    if (cJSON_IsString(cur)) return cur->valuestring;
    if (cJSON_IsBool(cur)) return cJSON_IsTrue(cur) ? "true" : "false";
    if (cJSON_IsNumber(cur)) {
        static char num[32];
        snprintf(num, sizeof num, "%d", cur->valueint);
        return num;
    }
    return cur ? "<obj>" : NULL;
}

#define assert_jstr(j, path, want)                                                                 \
    do {                                                                                           \
        const char *got_ = jget((j), (path));                                                      \
        if (!got_ || strcmp(got_, (want)))                                                         \
            fail_msg("%s: got \"%s\" want \"%s\"", (path), got_ ? got_ : "(null)", (want));        \
    } while (0)

static void assert_body(sim_model_t *m, const char *method, const char *path, const char *query,
                        const char *user, int status, const char *want)
{
    sim_response_t r;
    sim_rest_handle(m, method, path, query, NULL, user, &r);
    if (r.status != status || strcmp(r.body.data ? r.body.data : "", want))
        fail_msg("%s %s?%s\n  got  %d %s\n  want %d %s", method, path, query ? query : "", r.status,
                 r.body.data, status, want);
    sim_response_free(&r);
}

/* ---- model ------------------------------------------------------------------------------- */

static int is_in(char c, const char *set)
{
    return c && strchr(set, c) != NULL;
}

static void test_generate(void **state)
{
    sim_model_t *m = generated(200), *m2 = generated(200);
    assert_int_equal(m->npods, 200);
    assert_int_equal(m->nworkloads, 2); /* deployment + its replicaset */
    const sim_workload_t *rs = &m->workloads[1];
    assert_int_equal(rs->kind, SIM_REPLICASET);
    assert_int_equal(strlen(rs->name), strlen("web-") + 10);
    for (size_t i = 0; i < m->npods; i++) {
        const sim_pod_t *p = &m->pods[i];
        assert_string_equal(p->name, m2->pods[i].name); /* deterministic */
        assert_int_equal(strlen(p->name), strlen(rs->name) + 6);
        assert_memory_equal(p->name, rs->name, strlen(rs->name));
        for (const char *c = p->name + strlen(rs->name) + 1; *c; c++)
            assert_true(is_in(*c, "bcdfghjklmnpqrstvwxz2456789"));
        for (const char *c = rs->name + 4; *c; c++)
            assert_true(is_in(*c, "0123456789abcdef"));
        if (i) assert_true(strcmp(m->pods[i - 1].name, p->name) < 0); /* sorted, unique */
        assert_string_equal(sim_labels_get(&p->labels, "app"), "web");
        assert_string_equal(sim_labels_get(&p->labels, "pod-template-hash"), rs->name + 4);
        assert_string_equal(p->phase, "Running");
        assert_string_equal(p->node_name, "sim-node-1");
        assert_true(!strncmp(p->pod_ip, "10.", 3));
        assert_string_equal(p->owner.kind, "ReplicaSet");
        assert_string_equal(p->owner.name, rs->name);
        assert_int_equal(p->ncontainers, 1);
        assert_string_equal(p->containers[0].name, "main");
        assert_int_equal(p->faults.upgrade_status, 0);
        assert_int_equal(p->faults.drop_after_bytes, -1);
    }
    assert_int_equal(m->workloads[0].npods, 200);
    assert_int_equal(m->workloads[0].nready, 200);
    assert_non_null(sim_model_find_pod(m, "default", m->pods[137].name));
    assert_null(sim_model_find_pod(m, "default", "web-nope"));
    sim_model_free(m);
    sim_model_free(m2);
}

static const sim_pod_t *first_pod_of(const sim_model_t *m, const char *ns, const char *prefix)
{
    for (size_t i = 0; i < m->npods; i++)
        if (!strcmp(m->pods[i].ns, ns) && !strncmp(m->pods[i].name, prefix, strlen(prefix)))
            return &m->pods[i];
    return NULL;
}

static void test_demo_cluster(void **state)
{
    sim_model_t *m = demo();
    assert_non_null(sim_model_find_namespace(m, "shop"));
    const sim_workload_t *web = sim_model_find_workload(m, SIM_DEPLOYMENT, "default", "web");
    const sim_workload_t *api = sim_model_find_workload(m, SIM_DEPLOYMENT, "shop", "api");
    const sim_workload_t *job = sim_model_find_workload(m, SIM_JOB, "shop", "migrate");
    assert_non_null(web);
    assert_non_null(api);
    assert_non_null(job);
    assert_int_equal(web->npods, 24);
    assert_int_equal(api->npods, 12);
    assert_int_equal(job->npods, 2);
    assert_int_equal(job->nsucceeded, 2);
    const sim_pod_t *p = first_pod_of(m, "shop", "api-");
    assert_non_null(p);
    assert_int_equal(p->ncontainers, 3);
    assert_string_equal(p->containers[0].name, "init-db");
    assert_int_equal(p->containers[0].kind, SIM_CONTAINER_INIT);
    assert_string_equal(p->containers[2].name, "sidecar");
    assert_string_equal(p->containers[1].env[0], "ROLE=api");
    assert_string_equal(sim_labels_get(&p->annotations, "kubectl.kubernetes.io/default-container"),
                        "main");
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "worker-%d", i);
        const sim_pod_t *w = sim_model_find_pod(m, "default", name);
        assert_non_null(w);
        assert_string_equal(w->owner.kind, "StatefulSet");
        assert_int_equal(w->containers[0].tty, 1);
    }
    const sim_pod_t *jp = first_pod_of(m, "shop", "migrate-");
    assert_string_equal(jp->phase, "Succeeded");
    assert_string_equal(sim_labels_get(&jp->labels, "batch.kubernetes.io/controller-uid"),
                        job->uid);
    assert_string_equal(sim_labels_get(&jp->labels, "controller-uid"), job->uid);
    assert_string_equal(sim_labels_get(&jp->labels, "job-name"), "migrate");
    assert_string_equal(sim_labels_get(&jp->labels, "batch.kubernetes.io/job-name"), "migrate");
    const sim_pod_t *broken = sim_model_find_pod(m, "default", "broken");
    assert_int_equal(broken->faults.upgrade_status, 500);
    const sim_pod_t *pending = sim_model_find_pod(m, "default", "pending");
    assert_null(pending->node_name);
    assert_string_equal(pending->phase, "Pending");
    /* users */
    assert_string_equal(sim_model_authenticate_token(m, "s3cr3t-token"), "admin");
    assert_string_equal(sim_model_authenticate_cert(m, "alice"), "alice");
    assert_null(sim_model_authenticate_token(m, "wrong"));
    assert_null(sim_model_authenticate_token(m, ""));
    assert_int_equal(sim_model_allowed(m, "alice", "default"), 1);
    assert_int_equal(sim_model_allowed(m, "alice", "shop"), 0);
    assert_int_equal(sim_model_allowed(m, "alice", NULL), 0);
    assert_int_equal(sim_model_allowed(m, "admin", NULL), 1);
    assert_int_equal(sim_model_allowed(m, "nobody", "default"), 0);
    sim_model_free(m);
}

static void check_yaml_error(const char *yaml, const char *want)
{
    sim_model_t *m = sim_model_new();
    char err[512];
    int r = sim_model_load_yaml(m, yaml, strlen(yaml), err, sizeof err);
    if (r != -EINVAL || strcmp(err, want))
        fail_msg("r=%d\n  got  \"%s\"\n  want \"%s\"", r, err, want);
    sim_model_free(m);
}

static void test_yaml_errors(void **state)
{
    check_yaml_error("foo: 1\n", "line 1: unknown key \"foo\"");
    check_yaml_error("objects:\n  - kind: Service\n    metadata: {name: x}\n",
                     "line 2: unsupported kind \"Service\" (Deployment, StatefulSet, DaemonSet, "
                     "ReplicaSet, Job, Pod)");
    check_yaml_error("objects:\n  - kind: Pod\n    metadata: {name: x}\n    spec: {}\n",
                     "line 4: a pod spec needs at least one container");
    check_yaml_error(
        "objects:\n  - kind: Deployment\n    metadata: {name: d}\n    spec:\n"
        "      selector: {matchLabels: {app: x}}\n      template:\n"
        "        metadata: {labels: {app: y}}\n        spec: {containers: [{name: c}]}\n",
        "line 5: spec.template.metadata.labels: Invalid value: `selector` does not match "
        "template `labels`");
    check_yaml_error("objects:\n  - kind: Pod\n    metadata: {name: x}\n"
                     "    spec: {containers: [{name: c}]}\n    status: {phase: Lost}\n",
                     "line 2: pod phase \"Lost\" is not Pending, Running, Succeeded or Failed");
    check_yaml_error("objects:\n  - kind: Pod\n    metadata:\n      name: x\n      annotations:\n"
                     "        sim.podmux.io/fault-upgrade-status: \"abc\"\n"
                     "    spec: {containers: [{name: c}]}\n",
                     "line 2: annotation sim.podmux.io/fault-upgrade-status: \"abc\" is not an "
                     "integer in 100..599");
    check_yaml_error("objects:\n  - kind: Pod\n    metadata: {name: x}\n"
                     "    spec: {containers: [{name: c}, {name: c}]}\n",
                     "line 4: container name \"c\" used twice");
    check_yaml_error("objects:\n  - kind: Pod\n    metadata: {name: x}\n"
                     "    spec: {containers: [{name: c}]}\n"
                     "  - kind: Pod\n    metadata: {name: x}\n"
                     "    spec: {containers: [{name: c}]}\n",
                     "pod default/x defined twice");
    check_yaml_error("objects: [\n", "line 2: did not find expected node content");
}

/* ---- timelines: pods that appear, start and go away -------------------------------------- */

/* late: 2 pods created 5 s after the start; slow: Pending until 3 s; brief: deleted at 4 s;
 * never: a deployment without pods. */
static const char TIMELINE_YAML[] =
    "objects:\n"
    "  - kind: Deployment\n"
    "    metadata: {name: late}\n"
    "    spec:\n"
    "      replicas: 2\n"
    "      template:\n"
    "        metadata:\n"
    "          labels: {app: late}\n"
    "          annotations: {sim.podmux.io/create-after: 5s}\n"
    "        spec: {containers: [{name: main, command: [sleep, infinity]}]}\n"
    "  - kind: Deployment\n"
    "    metadata: {name: never}\n"
    "    spec:\n"
    "      replicas: 0\n"
    "      template:\n"
    "        metadata: {labels: {app: never}}\n"
    "        spec: {containers: [{name: main}]}\n"
    "  - kind: Pod\n"
    "    metadata:\n"
    "      name: slow\n"
    "      labels: {app: slow}\n"
    "      annotations: {sim.podmux.io/running-after: 3s}\n"
    "    spec: {containers: [{name: main, command: [sleep, infinity]}]}\n"
    "  - kind: Pod\n"
    "    metadata:\n"
    "      name: brief\n"
    "      labels: {app: brief}\n"
    "      annotations: {sim.podmux.io/delete-after: 4000ms}\n"
    "    spec: {containers: [{name: main, command: [sleep, infinity]}]}\n";

static sim_model_t *timeline_model(void)
{
    sim_model_t *m = sim_model_new();
    char err[512];
    assert_non_null(m);
    if (sim_model_load_yaml(m, TIMELINE_YAML, strlen(TIMELINE_YAML), err, sizeof err))
        fail_msg("timeline yaml: %s", err);
    assert_int_equal(sim_model_add_user(m, "admin", "tok", NULL), 0);
    return m;
}

typedef struct changes_seen {
    sim_change_t c[8];
    int n;
} changes_seen_t;

static void record_change(void *arg, const sim_change_t *c)
{
    changes_seen_t *seen = arg;
    if (seen->n < 8) seen->c[seen->n] = *c;
    seen->n++;
}

static int pod_count(sim_model_t *m, const char *query)
{
    cJSON *j = call(m, "/api/v1/namespaces/default/pods", query, NULL, "admin", 200, NULL);
    int n = cJSON_GetArraySize(cJSON_GetObjectItem(j, "items"));
    cJSON_Delete(j);
    return n;
}

static void test_timeline(void **state)
{
    sim_model_t *m = timeline_model();
    changes_seen_t seen = {0};
    m->on_change = record_change;
    m->on_change_arg = &seen;
    uint64_t rv0 = m->rv;
    assert_int_equal(m->rv_built, rv0);
    /* at the start: slow (Pending, scheduled) and brief; late's pods do not exist yet */
    assert_int_equal(pod_count(m, NULL), 2);
    assert_int_equal(pod_count(m, "labelSelector=app%3Dlate"), 0);
    const sim_pod_t *slow = sim_model_find_pod(m, "default", "slow");
    assert_non_null(slow);
    assert_string_equal(slow->phase, "Pending");
    assert_non_null(slow->node_name);
    assert_int_equal(sim_model_next_step_ms(m), 3000);
    const sim_workload_t *late = sim_model_find_workload(m, SIM_DEPLOYMENT, "default", "late");
    assert_int_equal(late->npods, 0);

    assert_int_equal(sim_model_advance(m, 2999), 0);
    assert_int_equal(sim_model_advance(m, 3000), 1);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.c[0].type, SIM_CHANGE_MODIFIED);
    assert_int_equal(seen.c[0].rv, rv0 + 1);
    assert_string_equal(seen.c[0].before.phase, "Pending");
    assert_string_equal(seen.c[0].after.phase, "Running");
    assert_string_equal(m->pods[seen.c[0].pod].name, "slow");
    assert_int_equal(slow->rv, rv0 + 1);

    assert_int_equal(sim_model_advance(m, 10000), 3); /* brief goes at 4 s, late's 2 at 5 s */
    assert_int_equal(seen.n, 4);
    assert_int_equal(seen.c[1].type, SIM_CHANGE_DELETED);
    assert_string_equal(m->pods[seen.c[1].pod].name, "brief");
    assert_int_equal(seen.c[1].after.exists, 0);
    assert_int_equal(seen.c[2].type, SIM_CHANGE_ADDED);
    assert_int_equal(seen.c[3].type, SIM_CHANGE_ADDED);
    assert_int_equal(seen.c[3].rv, rv0 + 4);
    assert_int_equal(m->rv, rv0 + 4);
    assert_int_equal(sim_model_next_step_ms(m), -1);
    assert_null(sim_model_find_pod(m, "default", "brief"));
    assert_int_equal(pod_count(m, "labelSelector=app%3Dlate"), 2);
    assert_int_equal(late->npods, 2);
    assert_int_equal(late->nready, 2);

    /* a late pod is created at its time, and the list's rv is the newest */
    const sim_pod_t *lp = &m->pods[seen.c[2].pod];
    assert_int_equal(lp->created, m->start + 5);
    cJSON *j = call(m, "/api/v1/namespaces/default/pods", "labelSelector=app%3Dlate", NULL, "admin",
                    200, NULL);
    char rv[32];
    snprintf(rv, sizeof rv, "%llu", (unsigned long long)(rv0 + 4));
    assert_jstr(j, "metadata.resourceVersion", rv);
    assert_jstr(j, "items.0.status.phase", "Running");
    cJSON_Delete(j);

    /* the log answers "what changed after rv" */
    uint64_t first = 99;
    assert_int_equal(sim_model_changes_since(m, rv0, &first), 0);
    assert_int_equal(first, 0);
    assert_int_equal(sim_model_change(m, first)->rv, rv0 + 1);
    assert_int_equal(sim_model_changes_since(m, rv0 + 2, &first), 0);
    assert_int_equal(sim_model_change(m, first)->rv, rv0 + 3);
    assert_int_equal(sim_model_changes_since(m, rv0 + 4, &first), 0);
    assert_null(sim_model_change(m, first));
    assert_int_equal(sim_model_changes_since(m, rv0 - 1, &first), -1);
    sim_model_free(m);

    assert_int_equal(sim_parse_duration_ms("2s"), 2000);
    assert_int_equal(sim_parse_duration_ms("500ms"), 500);
    assert_int_equal(sim_parse_duration_ms("1m30s"), 90000);
    assert_int_equal(sim_parse_duration_ms("1.5s"), 1500);
    assert_int_equal(sim_parse_duration_ms("1h"), 3600000);
    assert_int_equal(sim_parse_duration_ms("0"), 0);
    assert_int_equal(sim_parse_duration_ms("5"), -1);
    assert_int_equal(sim_parse_duration_ms("-1s"), -1);
    assert_int_equal(sim_parse_duration_ms("soon"), -1);
    assert_int_equal(sim_parse_duration_ms(""), -1);
    check_yaml_error("objects:\n  - kind: Pod\n    metadata:\n      name: x\n"
                     "      annotations: {sim.podmux.io/create-after: soon}\n"
                     "    spec: {containers: [{name: c}]}\n",
                     "line 2: annotation sim.podmux.io/create-after: \"soon\" is not a duration "
                     "like 2s or 500ms (up to 168h)");
}

/* ---- watch engine ------------------------------------------------------------------------ */

typedef struct sink_rec {
    buf_t out;
    int ends;
} sink_rec_t;

static void rec_write(void *arg, const char *data, size_t len)
{
    sink_rec_t *s = arg;
    assert_int_equal(s->ends, 0); /* nothing after the end */
    assert_int_equal(buf_append(&s->out, data, len), 0);
}

static void rec_end(void *arg)
{
    ((sink_rec_t *)arg)->ends++;
}

/* The events written since the last call, parsed line by line (each must end in "\n"). */
static int take_events(sink_rec_t *s, cJSON **ev, int max)
{
    int n = 0;
    size_t at = 0;
    while (at < s->out.len) {
        const char *nl = memchr(s->out.data + at, '\n', s->out.len - at);
        assert_non_null(nl);
        assert_true(n < max);
        ev[n] = cJSON_ParseWithLength(s->out.data + at, (size_t)(nl - (s->out.data + at)));
        assert_non_null(ev[n]);
        n++;
        at = (size_t)(nl - s->out.data) + 1;
    }
    buf_reset(&s->out);
    return n;
}

static void free_events(cJSON **ev, int n)
{
    for (int i = 0; i < n; i++)
        cJSON_Delete(ev[i]);
}

static sim_watch_t *open_watch(sim_watch_hub_t *h, const char *path, const char *query,
                               const char *accept, long long now, sink_rec_t *rec)
{
    sim_watch_sink_t sink = {rec_write, rec_end, rec};
    sim_watch_t *w = NULL;
    sim_response_t err;
    int st = sim_watch_open(h, "GET", path, query, accept, "admin", now, &sink, &w, &err);
    if (st) fail_msg("watch %s?%s: %d %s", path, query, st, err.body.data);
    sim_response_free(&err);
    sim_watch_begin(w);
    return w;
}

static void watch_error(sim_watch_hub_t *h, const char *method, const char *path, const char *query,
                        const char *user, int want, const char *want_msg)
{
    sim_watch_sink_t sink = {rec_write, rec_end, NULL};
    sim_watch_t *w = (sim_watch_t *)1;
    sim_response_t err;
    assert_int_equal(sim_watch_open(h, method, path, query, NULL, user, 0, &sink, &w, &err), want);
    assert_null(w);
    cJSON *j = cJSON_ParseWithLength(err.body.data, err.body.len);
    assert_jstr(j, "message", want_msg);
    cJSON_Delete(j);
    sim_response_free(&err);
}

static void test_watch_errors(void **state)
{
    sim_model_t *m = demo();
    sim_watch_hub_t *h = sim_watch_hub_new(m);
    const char *pods = "/api/v1/namespaces/default/pods";
    watch_error(h, "POST", pods, "watch=1", "admin", 405,
                "podmux-sim can watch pods and workloads only");
    watch_error(h, "GET", "/api/v1/namespaces", "watch=1", "admin", 405,
                "podmux-sim can watch pods and workloads only");
    watch_error(h, "GET", "/apis/apps/v1/namespaces/default/deployments/web", "watch=1", "admin",
                405, "podmux-sim can watch pods and workloads only");
    watch_error(h, "GET", "/apis/apps/v1/namespaces/shop/deployments", "watch=1", "alice", 403,
                "deployments.apps is forbidden: User \"alice\" cannot watch resource "
                "\"deployments\" in API group \"apps\" in the namespace \"shop\"");
    watch_error(h, "GET", "/apis/batch/v1/jobs", "watch=1&fieldSelector=status.phase%3DRunning",
                "admin", 400, "field label not supported: status.phase");
    watch_error(h, "GET", "/api/v1/namespaces/shop/pods", "watch=1", "alice", 403,
                "pods is forbidden: User \"alice\" cannot watch resource \"pods\" in API group "
                "\"\" in the namespace \"shop\"");
    watch_error(h, "GET", "/api/v1/pods", "watch=1", "alice", 403,
                "pods is forbidden: User \"alice\" cannot watch resource \"pods\" in API group "
                "\"\" at the cluster scope");
    watch_error(h, "GET", pods, "watch=1&labelSelector=a%3D%3D%3Db", "admin", 400,
                "unable to parse requirement: found '=', expected: identifier");
    watch_error(h, "GET", pods, "watch=1&resourceVersion=x1", "admin", 400,
                "resourceVersion: Invalid value: \"x1\": strconv.ParseUint: parsing \"x1\": "
                "invalid syntax");
    watch_error(h, "GET", pods, "watch=1&timeoutSeconds=soon", "admin", 400,
                "timeoutSeconds: Invalid value: \"soon\": strconv.ParseInt: parsing \"soon\": "
                "invalid syntax");
    assert_int_equal(sim_watch_hub_count(h), 0);
    /* without the server's watch hook the REST layer refuses it (and says why) */
    assert_true(sim_rest_is_watch("watch=1"));
    assert_true(sim_rest_is_watch("labelSelector=x&watch=true"));
    assert_true(!sim_rest_is_watch("watch=false") && !sim_rest_is_watch("watch=0"));
    assert_true(!sim_rest_is_watch(NULL) && !sim_rest_is_watch("watchful=1"));
    sim_watch_hub_free(h);
    assert_null(m->on_change);
    sim_model_free(m);
}

static void test_watch_events(void **state)
{
    sim_model_t *m = timeline_model();
    sim_watch_hub_t *h = sim_watch_hub_new(m);
    const char *pods = "/api/v1/namespaces/default/pods";
    cJSON *ev[8];
    sink_rec_t all = {0}, late = {0}, running = {0}, pending = {0}, other_ns = {0};
    sink_rec_t *recs[] = {&all, &late, &running, &pending, &other_ns};
    for (int i = 0; i < 5; i++)
        buf_init(&recs[i]->out, 1 << 22);
    char q[128];
    uint64_t rv0 = m->rv;

    /* no resourceVersion: the pods that exist now, as ADDED, in list order */
    open_watch(h, pods, "watch=1", NULL, 0, &all);
    assert_int_equal(take_events(&all, ev, 8), 2);
    assert_jstr(ev[0], "type", "ADDED");
    assert_jstr(ev[0], "object.kind", "Pod");
    assert_jstr(ev[0], "object.apiVersion", "v1");
    assert_jstr(ev[0], "object.metadata.name", "brief");
    assert_jstr(ev[1], "object.metadata.name", "slow");
    assert_jstr(ev[1], "object.status.phase", "Pending");
    free_events(ev, 2);
    /* from the list's resourceVersion: only what comes after */
    snprintf(q, sizeof q, "watch=true&labelSelector=app%%3Dlate&resourceVersion=%llu",
             (unsigned long long)rv0);
    open_watch(h, pods, q, NULL, 0, &late);
    open_watch(h, pods, "watch=1&fieldSelector=status.phase%3DRunning&resourceVersion=0", NULL, 0,
               &running);
    open_watch(h, pods, "watch=1&fieldSelector=status.phase%3DPending", NULL, 0, &pending);
    open_watch(h, "/api/v1/namespaces/other/pods", "watch=1", NULL, 0, &other_ns);
    assert_int_equal(take_events(&late, ev, 8), 0);
    assert_int_equal(take_events(&running, ev, 8), 1); /* brief */
    free_events(ev, 1);
    assert_int_equal(take_events(&pending, ev, 8), 1); /* slow */
    free_events(ev, 1);
    assert_int_equal(sim_watch_hub_count(h), 5);
    assert_int_equal(sim_watch_hub_next_ms(h), 3000);

    /* 3 s: slow starts running. It enters the Running watch and leaves the Pending one. */
    sim_watch_hub_tick(h, 3000);
    assert_int_equal(take_events(&all, ev, 8), 1);
    assert_jstr(ev[0], "type", "MODIFIED");
    assert_jstr(ev[0], "object.status.phase", "Running");
    snprintf(q, sizeof q, "%llu", (unsigned long long)(rv0 + 1));
    assert_jstr(ev[0], "object.metadata.resourceVersion", q);
    free_events(ev, 1);
    assert_int_equal(take_events(&running, ev, 8), 1);
    assert_jstr(ev[0], "type", "ADDED");
    free_events(ev, 1);
    assert_int_equal(take_events(&pending, ev, 8), 1);
    assert_jstr(ev[0], "type", "DELETED");
    assert_jstr(ev[0], "object.status.phase", "Pending"); /* its last state it matched */
    assert_jstr(ev[0], "object.metadata.resourceVersion", q);
    free_events(ev, 1);

    /* 4 s brief is deleted, 5 s late's two pods are created */
    sim_watch_hub_tick(h, 5000);
    assert_int_equal(take_events(&all, ev, 8), 3);
    assert_jstr(ev[0], "type", "DELETED");
    assert_jstr(ev[0], "object.metadata.name", "brief");
    assert_jstr(ev[1], "type", "ADDED");
    assert_jstr(ev[2], "type", "ADDED");
    free_events(ev, 3);
    assert_int_equal(take_events(&late, ev, 8), 2);
    assert_jstr(ev[0], "type", "ADDED");
    assert_jstr(ev[0], "object.metadata.labels.app", "late");
    assert_jstr(ev[0], "object.status.phase", "Running");
    free_events(ev, 2);
    assert_int_equal(take_events(&other_ns, ev, 8), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(recs[i]->ends, 0);

    /* a watch from the first rv replays the four changes */
    sink_rec_t replay = {0};
    buf_init(&replay.out, 1 << 22);
    snprintf(q, sizeof q, "watch=1&resourceVersion=%llu", (unsigned long long)rv0);
    sim_watch_t *w = open_watch(h, pods, q, NULL, 5000, &replay);
    assert_int_equal(take_events(&replay, ev, 8), 4);
    assert_jstr(ev[0], "type", "MODIFIED");
    assert_jstr(ev[1], "type", "DELETED");
    assert_jstr(ev[3], "type", "ADDED");
    free_events(ev, 4);
    sim_watch_stop(w);
    buf_free(&replay.out);

    /* too old and too new: an ERROR event, then the end */
    sink_rec_t bad = {0};
    buf_init(&bad.out, 1 << 20);
    w = open_watch(h, pods, "watch=1&resourceVersion=5", NULL, 5000, &bad);
    assert_int_equal(take_events(&bad, ev, 8), 1);
    assert_int_equal(bad.ends, 1);
    assert_jstr(ev[0], "type", "ERROR");
    assert_jstr(ev[0], "object.kind", "Status");
    assert_jstr(ev[0], "object.code", "410");
    assert_jstr(ev[0], "object.reason", "Expired");
    snprintf(q, sizeof q, "too old resource version: 5 (%llu)", (unsigned long long)rv0);
    assert_jstr(ev[0], "object.message", q);
    free_events(ev, 1);
    sim_watch_stop(w);
    bad.ends = 0;
    w = open_watch(h, pods, "watch=1&resourceVersion=999999", NULL, 5000, &bad);
    assert_int_equal(take_events(&bad, ev, 8), 1);
    assert_int_equal(bad.ends, 1);
    assert_jstr(ev[0], "object.code", "504");
    assert_jstr(ev[0], "object.details.causes.0.reason", "ResourceVersionTooLarge");
    free_events(ev, 1);
    sim_watch_stop(w);
    buf_free(&bad.out);

    for (int i = 0; i < 5; i++)
        buf_free(&recs[i]->out);
    sim_watch_hub_free(h); /* frees the five still open */
    sim_model_free(m);
}

static void test_watch_workloads(void **state)
{
    sim_model_t *m = timeline_model();
    sim_watch_hub_t *h = sim_watch_hub_new(m);
    cJSON *ev[8];
    sink_rec_t deps = {0}, late = {0}, rs = {0};
    buf_init(&deps.out, 1 << 22);
    buf_init(&late.out, 1 << 22);
    buf_init(&rs.out, 1 << 22);
    open_watch(h, "/apis/apps/v1/namespaces/default/deployments", "watch=1", NULL, 0, &deps);
    assert_int_equal(take_events(&deps, ev, 8), 2);
    assert_jstr(ev[0], "type", "ADDED");
    assert_jstr(ev[0], "object.kind", "Deployment");
    assert_jstr(ev[0], "object.apiVersion", "apps/v1");
    assert_jstr(ev[0], "object.metadata.name", "late");
    assert_null(jget(ev[0], "object.status.readyReplicas"));
    assert_jstr(ev[1], "object.metadata.name", "never");
    free_events(ev, 2);
    /* kubectl get deploy late -w: a Table, the name as a field selector */
    open_watch(h, "/apis/apps/v1/namespaces/default/deployments",
               "watch=true&fieldSelector=metadata.name%3Dlate",
               "application/json;as=Table;v=v1;g=meta.k8s.io", 0, &late);
    assert_int_equal(take_events(&late, ev, 8), 1);
    assert_jstr(ev[0], "object.kind", "Table");
    assert_jstr(ev[0], "object.columnDefinitions.1.name", "Ready");
    assert_jstr(ev[0], "object.rows.0.cells.1", "0/2");
    free_events(ev, 1);
    char q[96];
    snprintf(q, sizeof q, "watch=1&resourceVersion=%llu", (unsigned long long)m->rv);
    open_watch(h, "/apis/apps/v1/replicasets", q, NULL, 0, &rs);
    assert_int_equal(take_events(&rs, ev, 8), 0);

    /* 3 s: slow has no owner, nothing; 5 s: late's two pods, a MODIFIED each */
    sim_watch_hub_tick(h, 3000);
    assert_int_equal(take_events(&deps, ev, 8), 0);
    sim_watch_hub_tick(h, 5000);
    assert_int_equal(take_events(&deps, ev, 8), 2);
    assert_jstr(ev[0], "type", "MODIFIED");
    assert_jstr(ev[0], "object.metadata.name", "late");
    assert_jstr(ev[1], "object.status.readyReplicas", "2");
    snprintf(q, sizeof q, "%llu", (unsigned long long)m->rv);
    assert_jstr(ev[1], "object.metadata.resourceVersion", q);
    free_events(ev, 2);
    assert_int_equal(take_events(&late, ev, 8), 2);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(ev[1]->child->next, "columnDefinitions")));
    assert_jstr(ev[1], "object.rows.0.cells.1", "2/2");
    free_events(ev, 2);
    assert_int_equal(take_events(&rs, ev, 8), 2);
    assert_jstr(ev[0], "object.kind", "ReplicaSet");
    free_events(ev, 2);
    buf_free(&deps.out);
    buf_free(&late.out);
    buf_free(&rs.out);
    sim_watch_hub_free(h);
    sim_model_free(m);
}

static void test_watch_table_timeout_bookmarks(void **state)
{
    sim_model_t *m = timeline_model();
    sim_watch_hub_t *h = sim_watch_hub_new(m);
    const char *pods = "/api/v1/namespaces/default/pods";
    cJSON *ev[8];
    sink_rec_t tab = {0}, bm = {0};
    buf_init(&tab.out, 1 << 22);
    buf_init(&bm.out, 1 << 22);

    /* kubectl get -w: a one-row Table per event, the columns only in the first */
    char q[128];
    snprintf(q, sizeof q, "watch=true&resourceVersion=%llu&timeoutSeconds=10",
             (unsigned long long)m->rv);
    sim_watch_t *w =
        open_watch(h, pods, q, "application/json;as=Table;v=v1;g=meta.k8s.io", 0, &tab);
    assert_int_equal(sim_watch_hub_next_ms(h), 3000);
    sim_watch_hub_tick(h, 5000);
    assert_int_equal(take_events(&tab, ev, 8), 4);
    assert_jstr(ev[0], "type", "MODIFIED");
    assert_jstr(ev[0], "object.kind", "Table");
    assert_int_equal(
        cJSON_GetArraySize(cJSON_GetObjectItem(ev[0]->child->next, "columnDefinitions")), 9);
    assert_jstr(ev[0], "object.rows.0.cells.0", "slow");
    assert_jstr(ev[0], "object.rows.0.cells.2", "Running");
    assert_jstr(ev[0], "object.rows.0.object.kind", "PartialObjectMetadata");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(ev[1]->child->next, "columnDefinitions")));
    assert_jstr(ev[1], "type", "DELETED");
    assert_jstr(ev[1], "object.rows.0.cells.0", "brief");
    free_events(ev, 4);
    /* the timeout (10 s) ends it: nothing is written, the stream just ends */
    assert_int_equal(sim_watch_hub_next_ms(h), 10000);
    sim_watch_hub_tick(h, 9999);
    assert_int_equal(tab.ends, 0);
    sim_watch_hub_tick(h, 10000);
    assert_int_equal(tab.ends, 1);
    assert_int_equal(tab.out.len, 0);
    assert_int_equal(sim_watch_hub_next_ms(h), -1);
    sim_watch_stop(w);

    /* bookmarks: the initial-events-end one, then one a minute; no timeout: 30-60 min */
    w = open_watch(h, pods, "watch=1&allowWatchBookmarks=true&sendInitialEvents=true", NULL, 10000,
                   &bm);
    assert_int_equal(take_events(&bm, ev, 8), 4); /* slow, two late pods, bookmark */
    assert_jstr(ev[3], "type", "BOOKMARK");
    assert_jstr(ev[3], "object.kind", "Pod");
    assert_jstr(ev[3], "object.metadata.annotations.k8s\x01io/initial-events-end", "true");
    snprintf(q, sizeof q, "%llu", (unsigned long long)m->rv);
    assert_jstr(ev[3], "object.metadata.resourceVersion", q);
    free_events(ev, 4);
    assert_int_equal(sim_watch_hub_next_ms(h), 70000);
    sim_watch_hub_tick(h, 70000);
    assert_int_equal(take_events(&bm, ev, 8), 1);
    assert_jstr(ev[0], "type", "BOOKMARK");
    assert_null(jget(ev[0], "object.metadata.annotations"));
    free_events(ev, 1);
    assert_int_equal(bm.ends, 0);
    assert_true(sim_watch_deadline_ms(w) >= 10000 + 1800000 &&
                sim_watch_deadline_ms(w) <= 10000 + 3600000);
    sim_watch_hub_tick(h, 10000 + 3600000);
    assert_int_equal(bm.ends, 1);
    sim_watch_stop(w);
    assert_int_equal(sim_watch_hub_count(h), 0);
    buf_free(&tab.out);
    buf_free(&bm.out);
    sim_watch_hub_free(h);
    sim_model_free(m);
}

/* ---- REST: discovery and objects --------------------------------------------------------- */

static void test_version_and_discovery(void **state)
{
    sim_model_t *m = generated(3);
    sim_response_t r;
    cJSON *j = call(m, "/version", "timeout=5s", NULL, NULL, 200, &r);
    assert_jstr(j, "major", "1");
    assert_jstr(j, "minor", "32");
    assert_jstr(j, "gitVersion", "v1.32.4");
    assert_jstr(j, "platform", "linux/amd64");
    assert_int_equal(r.body.data[r.body.len - 1], '}'); /* MarshalIndent: no newline */
    sim_response_free(&r);
    cJSON_Delete(j);

    j = call(m, "/api", NULL, NULL, NULL, 200, NULL);
    assert_jstr(j, "kind", "APIVersions");
    assert_jstr(j, "versions.0", "v1");
    assert_jstr(j, "serverAddressByClientCIDRs.0.serverAddress", "127.0.0.1:6443");
    cJSON_Delete(j);
    j = call(m, "/apis", NULL, NULL, NULL, 200, NULL);
    assert_jstr(j, "kind", "APIGroupList");
    assert_jstr(j, "groups.0.name", "apps");
    assert_jstr(j, "groups.1.preferredVersion.groupVersion", "batch/v1");
    cJSON_Delete(j);
    j = call(m, "/api/v1", NULL, NULL, NULL, 200, NULL);
    assert_jstr(j, "kind", "APIResourceList");
    assert_jstr(j, "groupVersion", "v1");
    assert_jstr(j, "resources.1.name", "pods");
    assert_jstr(j, "resources.1.shortNames.0", "po");
    assert_jstr(j, "resources.1.namespaced", "true");
    assert_jstr(j, "resources.3.name", "pods/exec");
    assert_jstr(j, "resources.3.verbs.0", "create");
    cJSON_Delete(j);
    j = call(m, "/apis/apps/v1", NULL, NULL, NULL, 200, NULL);
    assert_jstr(j, "groupVersion", "apps/v1");
    assert_jstr(j, "resources.1.kind", "Deployment");
    assert_jstr(j, "resources.1.shortNames.0", "deploy");
    assert_jstr(j, "resources.3.shortNames.0", "sts");
    cJSON_Delete(j);
    j = call(m, "/apis/batch/v1", NULL, NULL, NULL, 200, NULL);
    assert_jstr(j, "resources.0.name", "jobs");
    cJSON_Delete(j);
    j = call(m, "/apis/apps", NULL, NULL, NULL, 200, NULL);
    assert_jstr(j, "kind", "APIGroup");
    cJSON_Delete(j);
    sim_model_free(m);
}

static void test_get_pod_shape(void **state)
{
    sim_model_t *m = demo();
    const sim_pod_t *p = first_pod_of(m, "shop", "api-");
    char path[256];
    snprintf(path, sizeof path, "/api/v1/namespaces/shop/pods/%s", p->name);
    sim_response_t r;
    cJSON *j = call(m, path, NULL, "application/json, */*", "admin", 200, &r);
    assert_non_null(j);
    assert_int_equal(r.body.data[r.body.len - 1], '\n');
    static const char head[] = "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":";
    assert_memory_equal(r.body.data, head, sizeof head - 1);
    sim_response_free(&r);
    assert_jstr(j, "metadata.name", p->name);
    assert_jstr(j, "metadata.namespace", "shop");
    assert_jstr(j, "metadata.uid", p->uid);
    assert_jstr(j, "metadata.labels.app", "api");
    assert_jstr(j, "metadata.annotations.kubectl\x01kubernetes\x01io/default-container", "main");
    assert_jstr(j, "metadata.ownerReferences.0.kind", "ReplicaSet");
    assert_jstr(j, "metadata.ownerReferences.0.controller", "true");
    assert_jstr(j, "spec.initContainers.0.name", "init-db");
    assert_jstr(j, "spec.containers.0.name", "main");
    assert_jstr(j, "spec.containers.0.command.0", "sleep");
    assert_jstr(j, "spec.containers.0.env.0.value", "api");
    assert_jstr(j, "spec.containers.1.name", "sidecar");
    assert_jstr(j, "spec.nodeName", p->node_name);
    assert_jstr(j, "spec.restartPolicy", "Always");
    assert_jstr(j, "status.phase", "Running");
    assert_jstr(j, "status.podIP", p->pod_ip);
    assert_jstr(j, "status.podIPs.0.ip", p->pod_ip);
    assert_jstr(j, "status.conditions.2.type", "Ready");
    assert_jstr(j, "status.conditions.2.status", "True");
    assert_jstr(j, "status.initContainerStatuses.0.state.terminated.reason", "Completed");
    assert_jstr(j, "status.containerStatuses.0.name", "main");
    assert_jstr(j, "status.containerStatuses.0.ready", "true");
    assert_jstr(j, "status.containerStatuses.0.restartCount", "0");
    assert_non_null(jget(j, "status.containerStatuses.0.state.running.startedAt"));
    assert_non_null(jget(j, "status.containerStatuses.1.image"));
    assert_non_null(jget(j, "status.containerStatuses.1.imageID"));
    assert_non_null(jget(j, "status.startTime"));
    cJSON_Delete(j);

    /* unscheduled pod: no node, no statuses, PodScheduled False */
    j = call(m, "/api/v1/namespaces/default/pods/pending", NULL, NULL, "admin", 200, NULL);
    assert_null(jget(j, "spec.nodeName"));
    assert_null(jget(j, "status.containerStatuses"));
    assert_jstr(j, "status.conditions.0.type", "PodScheduled");
    assert_jstr(j, "status.conditions.0.status", "False");
    assert_jstr(j, "status.conditions.0.reason", "Unschedulable");
    cJSON_Delete(j);
    const sim_pod_t *jp = first_pod_of(m, "shop", "migrate-");
    snprintf(path, sizeof path, "/api/v1/namespaces/shop/pods/%s", jp->name);
    j = call(m, path, NULL, NULL, NULL, 200, NULL);
    assert_jstr(j, "status.phase", "Succeeded");
    assert_jstr(j, "status.containerStatuses.0.state.terminated.exitCode", "0");
    assert_jstr(j, "spec.restartPolicy", "Never");
    assert_jstr(j, "metadata.ownerReferences.0.apiVersion", "batch/v1");
    cJSON_Delete(j);
    sim_model_free(m);
}

/* ---- REST: errors, byte for byte --------------------------------------------------------- */

static void test_errors_exact(void **state)
{
    sim_model_t *m = demo();
    assert_body(
        m, "GET", "/api/v1/namespaces/default/pods/nosuch", NULL, "admin", 404,
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
        "\"message\":\"pods \\\"nosuch\\\" not found\",\"reason\":\"NotFound\",\"details\":{"
        "\"name\":\"nosuch\",\"kind\":\"pods\"},\"code\":404}\n");
    assert_body(m, "GET", "/apis/apps/v1/namespaces/default/deployments/nope", NULL, "admin", 404,
                "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
                "\"message\":\"deployments.apps \\\"nope\\\" not found\",\"reason\":\"NotFound\","
                "\"details\":{\"name\":\"nope\",\"group\":\"apps\",\"kind\":\"deployments\"},"
                "\"code\":404}\n");
    assert_body(m, "GET", "/api/v1/namespaces/shop/pods", NULL, "alice", 403,
                "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
                "\"message\":\"pods is forbidden: User \\\"alice\\\" cannot list resource "
                "\\\"pods\\\" in API group \\\"\\\" in the namespace \\\"shop\\\"\",\"reason\":"
                "\"Forbidden\",\"details\":{\"kind\":\"pods\"},\"code\":403}\n");
    assert_body(m, "GET", "/api/v1/namespaces/shop/pods/x", NULL, "alice", 403,
                "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
                "\"message\":\"pods \\\"x\\\" is forbidden: User \\\"alice\\\" cannot get resource "
                "\\\"pods\\\" in API group \\\"\\\" in the namespace \\\"shop\\\"\",\"reason\":"
                "\"Forbidden\",\"details\":{\"name\":\"x\",\"kind\":\"pods\"},\"code\":403}\n");
    assert_body(m, "GET", "/api/v1/pods", NULL, "alice", 403,
                "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
                "\"message\":\"pods is forbidden: User \\\"alice\\\" cannot list resource "
                "\\\"pods\\\" in API group \\\"\\\" at the cluster scope\",\"reason\":"
                "\"Forbidden\",\"details\":{\"kind\":\"pods\"},\"code\":403}\n");
    assert_body(
        m, "GET", "/apis/apps/v1/namespaces/shop/deployments/api", NULL, "alice", 403,
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
        "\"message\":\"deployments.apps \\\"api\\\" is forbidden: User \\\"alice\\\" cannot "
        "get resource \\\"deployments\\\" in API group \\\"apps\\\" in the namespace "
        "\\\"shop\\\"\",\"reason\":\"Forbidden\",\"details\":{\"name\":\"api\",\"group\":"
        "\"apps\",\"kind\":\"deployments\"},\"code\":403}\n");
    assert_body(m, "POST", "/api/v1/namespaces/default/pods", NULL, "admin", 405,
                "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
                "\"message\":\"the server does not allow this method on the requested resource\","
                "\"reason\":\"MethodNotAllowed\",\"details\":{},\"code\":405}\n");
    assert_body(m, "GET", "/api/v1/namespaces/default/pods", "labelSelector=app%3D%3D%3Dweb",
                "admin", 400,
                "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
                "\"message\":\"unable to parse requirement: found '=', expected: identifier\","
                "\"reason\":\"BadRequest\",\"code\":400}\n");
    assert_body(m, "GET", "/api/v1/pods", "fieldSelector=spec.foo%3Dbar", "admin", 400,
                "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
                "\"message\":\"field label not supported: spec.foo\",\"reason\":\"BadRequest\","
                "\"code\":400}\n");
    assert_body(m, "GET", "/api/v1/namespaces/default/services", NULL, "admin", 404,
                "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
                "\"message\":\"the server could not find the requested resource\",\"reason\":"
                "\"NotFound\",\"details\":{},\"code\":404}\n");
    assert_body(m, "GET", "/metrics", NULL, "admin", 404, "404 page not found\n");
    assert_body(m, "GET", "/api/v1/pods", "continue=garbage", "admin", 400,
                "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
                "\"message\":\"continue key is not valid: the continue token is not a podmux-sim "
                "token for this list\",\"reason\":\"BadRequest\",\"code\":400}\n");
    sim_model_free(m);
}

static void test_status_json_escaping(void **state)
{
    buf_t b;
    buf_init(&b, 0);
    assert_int_equal(sim_status_json(&b, 500, "InternalError",
                                     "a<b>&c \"q\" \\ \n\t\x01 \xe2\x80\xa8 \xff end", NULL, NULL),
                     0);
    assert_string_equal(b.data, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                                "\"status\":\"Failure\",\"message\":\"a\\u003cb\\u003e\\u0026c "
                                "\\\"q\\\" \\\\ \\n\\t\\u0001 \\u2028 \\ufffd end\",\"reason\":"
                                "\"InternalError\",\"code\":500}\n");
    buf_reset(&b);
    assert_int_equal(
        sim_status_json_group(&b, 429, "TooManyRequests", "slow down", NULL, NULL, NULL, 3), 0);
    assert_string_equal(b.data, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                                "\"status\":\"Failure\",\"message\":\"slow down\",\"reason\":"
                                "\"TooManyRequests\",\"details\":{\"retryAfterSeconds\":3},"
                                "\"code\":429}\n");
    buf_reset(&b);
    assert_int_equal(sim_json_str(&b, "\xc3\xa9\xf0\x9f\x98\x80\xc0\xaf\xed\xa0\x80"), 0);
    /* é and 😀 kept; overlong and surrogate encodings replaced byte by byte */
    assert_string_equal(b.data, "\"\xc3\xa9\xf0\x9f\x98\x80\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
    buf_free(&b);
}

/* ---- REST: lists, paging, selectors, Tables ---------------------------------------------- */

static int page_through(sim_model_t *m, const char *path, const char *base_query, int limit,
                        int *pages, unsigned char *seen, size_t nseen)
{
    char query[2048], token[1024] = "";
    int total = 0;
    *pages = 0;
    for (;;) {
        snprintf(query, sizeof query, "%s%slimit=%d%s%s", base_query, *base_query ? "&" : "", limit,
                 *token ? "&continue=" : "", token);
        cJSON *j = call(m, path, query, NULL, "admin", 200, NULL);
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "items");
        assert_true(cJSON_GetArraySize(items) <= limit);
        const cJSON *it;
        cJSON_ArrayForEach(it, items)
        {
            const char *name = jget(it, "metadata.name"), *ns = jget(it, "metadata.namespace");
            const sim_pod_t *p = sim_model_find_pod(m, ns, name);
            assert_non_null(p);
            size_t k = (size_t)(p - m->pods);
            assert_true(k < nseen);
            if (seen[k]++) fail_msg("%s/%s returned twice", ns, name);
            total++;
        }
        (*pages)++;
        const char *cont = jget(j, "metadata.continue");
        const char *rem = jget(j, "metadata.remainingItemCount");
        if (cont && !*base_query) {
            assert_non_null(rem); /* no selector: the count is there */
            assert_int_equal(atoi(rem), (int)m->npods - total);
        }
        if (*base_query) assert_null(rem);
        snprintf(token, sizeof token, "%s", cont ? cont : "");
        for (char *c = token; *c; c++)
            assert_true(isalnum((unsigned char)*c) || *c == '-' || *c == '_');
        cJSON_Delete(j);
        if (!*token) break;
        assert_true(*pages < 1000);
    }
    return total;
}

static void test_paging(void **state)
{
    sim_model_t *m = generated(200);
    unsigned char seen[200] = {0};
    int pages;
    assert_int_equal(page_through(m, "/api/v1/namespaces/default/pods", "", 7, &pages, seen, 200),
                     200);
    assert_int_equal(pages, 29); /* 28 full pages and one of 4 */
    for (int i = 0; i < 200; i++)
        assert_int_equal(seen[i], 1);
    memset(seen, 0, sizeof seen);
    assert_int_equal(
        page_through(m, "/api/v1/pods", "labelSelector=app%3Dweb", 7, &pages, seen, 200), 200);
    memset(seen, 0, sizeof seen);
    assert_int_equal(
        page_through(m, "/api/v1/pods", "labelSelector=app%3Ddb", 7, &pages, seen, 200), 0);
    /* unpaged */
    cJSON *j = call(m, "/api/v1/namespaces/default/pods", NULL, NULL, "admin", 200, NULL);
    assert_jstr(j, "kind", "PodList");
    assert_jstr(j, "apiVersion", "v1");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "items")), 200);
    assert_null(jget(j, "metadata.continue"));
    assert_null(jget(j, "items.0.kind")); /* list items carry no kind */
    cJSON_Delete(j);
    j = call(m, "/api/v1/namespaces/other/pods", NULL, NULL, "admin", 200, NULL);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "items")), 0);
    cJSON_Delete(j);
    sim_model_free(m);
}

static int count_items(sim_model_t *m, const char *path, const char *query)
{
    cJSON *j = call(m, path, query, NULL, "admin", 200, NULL);
    int n = cJSON_GetArraySize(cJSON_GetObjectItem(j, "items"));
    cJSON_Delete(j);
    return n;
}

static void test_selectors_over_rest(void **state)
{
    sim_model_t *m = demo();
    assert_int_equal(count_items(m, "/api/v1/pods", NULL), 24 + 12 + 4 + 2 + 2);
    assert_int_equal(count_items(m, "/api/v1/namespaces/default/pods",
                                 "labelSelector=app%3Dweb%2Ctier+notin+%28cache%2Cdb%29"),
                     24);
    assert_int_equal(count_items(m, "/api/v1/pods", "labelSelector=app+in+%28web%2Capi%29"), 36);
    assert_int_equal(count_items(m, "/api/v1/pods", "labelSelector=%21pod-template-hash"), 8);
    assert_int_equal(count_items(m, "/api/v1/pods", "fieldSelector=status.phase%3DSucceeded"), 2);
    assert_int_equal(count_items(m, "/api/v1/pods", "fieldSelector=status.phase!%3DRunning"), 3);
    assert_int_equal(count_items(m, "/api/v1/pods", "fieldSelector=spec.nodeName%3D"), 1);
    assert_int_equal(
        count_items(m, "/api/v1/namespaces/default/pods", "fieldSelector=metadata.name%3Dworker-2"),
        1);
    assert_int_equal(count_items(m, "/apis/apps/v1/deployments", NULL), 2);
    assert_int_equal(count_items(m, "/apis/apps/v1/namespaces/shop/deployments", NULL), 1);
    assert_int_equal(count_items(m, "/apis/apps/v1/replicasets", NULL), 2);
    assert_int_equal(count_items(m, "/apis/apps/v1/statefulsets", "labelSelector=app%3Dworker"), 1);
    assert_int_equal(count_items(m, "/apis/batch/v1/namespaces/shop/jobs", NULL), 1);
    assert_int_equal(count_items(m, "/api/v1/namespaces", NULL), 2);
    sim_model_free(m);
}

static void test_table(void **state)
{
    sim_model_t *m = demo();
    cJSON *j = call(m, "/api/v1/namespaces/default/pods", "labelSelector=app%3Dweb&limit=500",
                    KUBECTL_ACCEPT, "admin", 200, NULL);
    assert_jstr(j, "kind", "Table");
    assert_jstr(j, "apiVersion", "meta.k8s.io/v1");
    static const char *const cols[] = {"Name", "Ready", "Status", "Restarts", "Age", "IP", "Node"};
    for (int i = 0; i < 7; i++) {
        char path[64];
        snprintf(path, sizeof path, "columnDefinitions.%d.name", i);
        assert_jstr(j, path, cols[i]);
        snprintf(path, sizeof path, "columnDefinitions.%d.priority", i);
        assert_jstr(j, path, i < 5 ? "0" : "1");
    }
    assert_jstr(j, "columnDefinitions.0.format", "name");
    const cJSON *rows = cJSON_GetObjectItem(j, "rows");
    assert_int_equal(cJSON_GetArraySize(rows), 24);
    const cJSON *row = cJSON_GetArrayItem(rows, 0);
    const sim_pod_t *p = first_pod_of(m, "default", "web-");
    assert_jstr(row, "cells.0", p->name);
    assert_jstr(row, "cells.1", "1/1");
    assert_jstr(row, "cells.2", "Running");
    assert_jstr(row, "cells.3", "0");
    assert_jstr(row, "cells.4", "119m"); /* created start-7194+k (k < 24) */
    assert_jstr(row, "cells.5", p->pod_ip);
    assert_jstr(row, "cells.6", p->node_name);
    assert_jstr(row, "object.kind", "PartialObjectMetadata");
    assert_jstr(row, "object.apiVersion", "meta.k8s.io/v1");
    assert_jstr(row, "object.metadata.name", p->name);
    assert_jstr(row, "object.metadata.namespace", "default");
    assert_null(jget(row, "object.spec"));
    cJSON_Delete(j);

    j = call(m, "/api/v1/namespaces/default/pods/pending", NULL, KUBECTL_ACCEPT, "admin", 200,
             NULL);
    assert_jstr(j, "kind", "Table");
    assert_jstr(j, "rows.0.cells.1", "0/1");
    assert_jstr(j, "rows.0.cells.2", "Pending");
    assert_jstr(j, "rows.0.cells.5", "<none>");
    cJSON_Delete(j);
    j = call(m, "/api/v1/namespaces/shop/pods", "labelSelector=app%3Dmigrate",
             "application/json;as=Table;v=v1beta1;g=meta.k8s.io", "admin", 200, NULL);
    assert_jstr(j, "apiVersion", "meta.k8s.io/v1beta1");
    assert_jstr(j, "rows.0.cells.2", "Completed");
    assert_jstr(j, "rows.0.cells.1", "0/1");
    cJSON_Delete(j);
    /* protobuf first, JSON second: plain JSON */
    j = call(m, "/api/v1/namespaces/default/pods", "labelSelector=app%3Dweb",
             "application/vnd.kubernetes.protobuf,application/json", "admin", 200, NULL);
    assert_jstr(j, "kind", "PodList");
    cJSON_Delete(j);
    sim_model_free(m);
}

static void assert_columns(const cJSON *j, const char *const *names, int n, int first_wide)
{
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "columnDefinitions")), n);
    for (int i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof path, "columnDefinitions.%d.name", i);
        assert_jstr(j, path, names[i]);
        snprintf(path, sizeof path, "columnDefinitions.%d.priority", i);
        assert_jstr(j, path, i < first_wide ? "0" : "1");
    }
}

static const cJSON *row_cell(const cJSON *table, int row, int cell)
{
    const cJSON *r = cJSON_GetArrayItem(cJSON_GetObjectItem(table, "rows"), row);
    return cJSON_GetArrayItem(cJSON_GetObjectItem(r, "cells"), cell);
}

static void test_workload_tables(void **state)
{
    sim_model_t *m = demo();
    cJSON *j = call(m, "/apis/apps/v1/deployments", NULL, KUBECTL_ACCEPT, "admin", 200, NULL);
    static const char *const dcols[] = {"Name", "Ready",      "Up-to-date", "Available",
                                        "Age",  "Containers", "Images",     "Selector"};
    assert_jstr(j, "kind", "Table");
    char rv[32];
    snprintf(rv, sizeof rv, "%llu", (unsigned long long)m->rv);
    assert_jstr(j, "metadata.resourceVersion", rv);
    assert_columns(j, dcols, 8, 5);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "rows")), 2);
    /* default/web before shop/api; int64 cells are JSON numbers */
    assert_jstr(j, "rows.0.cells.0", "web");
    assert_jstr(j, "rows.0.cells.1", "24/24");
    assert_true(cJSON_IsNumber(row_cell(j, 0, 2)));
    assert_jstr(j, "rows.0.cells.2", "24");
    assert_jstr(j, "rows.0.cells.3", "24");
    assert_jstr(j, "rows.0.cells.4", "120m");
    assert_jstr(j, "rows.0.cells.5", "main");
    assert_jstr(j, "rows.0.cells.6", "nginx:1.27");
    assert_jstr(j, "rows.0.cells.7", "app=web");
    assert_jstr(j, "rows.1.cells.5", "main,sidecar");
    assert_jstr(j, "rows.1.cells.6", "python:3.12-slim,envoyproxy/envoy:v1.31");
    assert_jstr(j, "rows.1.cells.7", "app=api,tier notin (cache,db)");
    assert_jstr(j, "rows.0.object.kind", "PartialObjectMetadata");
    assert_jstr(j, "rows.0.object.metadata.name", "web");
    cJSON_Delete(j);

    j = call(m, "/apis/apps/v1/namespaces/default/statefulsets/worker", NULL, KUBECTL_ACCEPT,
             "admin", 200, NULL);
    static const char *const scols[] = {"Name", "Ready", "Age", "Containers", "Images"};
    assert_columns(j, scols, 5, 3);
    assert_jstr(j, "rows.0.cells.1", "4/4");
    assert_non_null(row_cell(j, 0, 4));
    assert_null(row_cell(j, 0, 5));
    cJSON_Delete(j);

    j = call(m, "/apis/apps/v1/namespaces/shop/replicasets", NULL, KUBECTL_ACCEPT, "admin", 200,
             NULL);
    static const char *const rcols[] = {"Name", "Desired",    "Current", "Ready",
                                        "Age",  "Containers", "Images",  "Selector"};
    assert_columns(j, rcols, 8, 5);
    assert_jstr(j, "rows.0.cells.1", "12");
    assert_jstr(j, "rows.0.cells.2", "12");
    assert_jstr(j, "rows.0.cells.3", "12");
    cJSON_Delete(j);

    j = call(m, "/apis/batch/v1/namespaces/shop/jobs", NULL, KUBECTL_ACCEPT, "admin", 200, NULL);
    static const char *const jcols[] = {"Name", "Status",     "Completions", "Duration",
                                        "Age",  "Containers", "Images",      "Selector"};
    assert_columns(j, jcols, 8, 5);
    assert_jstr(j, "rows.0.cells.0", "migrate");
    assert_jstr(j, "rows.0.cells.1", "Complete");
    assert_jstr(j, "rows.0.cells.2", "2/2");
    assert_jstr(j, "rows.0.cells.3", "29s");
    assert_true(!strncmp(jget(j, "rows.0.cells.7"), "batch.kubernetes.io/controller-uid=", 35));
    cJSON_Delete(j);

    /* an empty list still has its kind's columns */
    j = call(m, "/apis/apps/v1/daemonsets", NULL, KUBECTL_ACCEPT, "admin", 200, NULL);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "columnDefinitions")), 11);
    assert_jstr(j, "columnDefinitions.6.name", "Node Selector");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "rows")), 0);
    cJSON_Delete(j);

    /* includeObject: Object (kubectl --sort-by), None, and a bad value */
    j = call(m, "/apis/apps/v1/namespaces/default/deployments", "includeObject=Object",
             KUBECTL_ACCEPT, "admin", 200, NULL);
    assert_jstr(j, "rows.0.object.kind", "Deployment");
    assert_jstr(j, "rows.0.object.spec.replicas", "24");
    cJSON_Delete(j);
    j = call(m, "/api/v1/namespaces/default/pods/pending", "includeObject=None", KUBECTL_ACCEPT,
             "admin", 200, NULL);
    assert_true(cJSON_IsNull(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "rows"), 0), "object")));
    cJSON_Delete(j);
    j = call(m, "/apis/apps/v1/deployments", "includeObject=All", KUBECTL_ACCEPT, "admin", 400,
             NULL);
    assert_jstr(j, "message",
                "Unable to convert to Table as requested: includeObject: Unsupported value: "
                "\"All\": supported values: \"Metadata\", \"None\", \"Object\"");
    cJSON_Delete(j);
    sim_model_free(m);
}

static void test_human_duration(void **state)
{
    static const struct {
        long long s;
        const char *want;
    } cases[] = {{-5, "<invalid>"}, {-1, "0s"},      {0, "0s"},        {119, "119s"},
                 {120, "2m"},       {150, "2m30s"},  {600, "10m"},     {10799, "179m"},
                 {10800, "3h"},     {11000, "3h3m"}, {28800, "8h"},    {172800, "2d"},
                 {180000, "2d2h"},  {691200, "8d"},  {63072000, "2y"}, {63158400, "2y1d"},
                 {252288000, "8y"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[32];
        rest_human_duration(cases[i].s, out, sizeof out);
        if (strcmp(out, cases[i].want))
            fail_msg("%lld: %s want %s", cases[i].s, out, cases[i].want);
    }
}

static void test_workloads(void **state)
{
    sim_model_t *m = demo();
    char err[256];
    cJSON *j =
        call(m, "/apis/apps/v1/namespaces/shop/deployments/api", NULL, NULL, "admin", 200, NULL);
    assert_jstr(j, "kind", "Deployment");
    assert_jstr(j, "apiVersion", "apps/v1");
    assert_jstr(j, "spec.replicas", "12");
    assert_jstr(j, "status.readyReplicas", "12");
    assert_jstr(j, "spec.template.spec.containers.1.name", "sidecar");
    /* the client renders the selector exactly as kubectl would send it */
    sel_t s;
    buf_t b;
    buf_init(&b, 0);
    assert_int_equal(
        sel_from_label_selector(&s, cJSON_GetObjectItem(cJSON_GetObjectItem(j, "spec"), "selector"),
                                err, sizeof err),
        0);
    assert_int_equal(sel_render(&s, &b), 0);
    assert_string_equal(b.data, "app=api,tier notin (cache,db)");
    sel_free(&s);
    cJSON_Delete(j);

    j = call(m, "/apis/batch/v1/namespaces/shop/jobs/migrate", NULL, NULL, "admin", 200, NULL);
    const sim_workload_t *job = sim_model_find_workload(m, SIM_JOB, "shop", "migrate");
    assert_jstr(j, "kind", "Job");
    assert_jstr(j, "apiVersion", "batch/v1");
    assert_jstr(j, "spec.selector.matchLabels.batch\x01kubernetes\x01io/controller-uid", job->uid);
    assert_jstr(j, "spec.completions", "2");
    assert_jstr(j, "status.succeeded", "2");
    assert_jstr(j, "status.conditions.1.type", "Complete");
    assert_jstr(j, "spec.template.metadata.labels.job-name", "migrate");
    cJSON_Delete(j);

    j = call(m, "/apis/apps/v1/namespaces/default/statefulsets/worker", NULL, NULL, "admin", 200,
             NULL);
    assert_jstr(j, "spec.serviceName", "worker");
    assert_jstr(j, "status.replicas", "4");
    assert_non_null(jget(j, "status.currentRevision"));
    cJSON_Delete(j);
    j = call(m, "/apis/apps/v1/namespaces/default/replicasets", NULL, NULL, "admin", 200, NULL);
    assert_jstr(j, "kind", "ReplicaSetList");
    assert_jstr(j, "items.0.metadata.ownerReferences.0.kind", "Deployment");
    assert_jstr(j, "items.0.metadata.ownerReferences.0.name", "web");
    assert_non_null(jget(j, "items.0.spec.selector.matchLabels.pod-template-hash"));
    assert_jstr(j, "items.0.status.replicas", "24");
    cJSON_Delete(j);
    j = call(m, "/api/v1/namespaces/shop", NULL, NULL, "admin", 200, NULL);
    assert_jstr(j, "kind", "Namespace");
    assert_jstr(j, "metadata.labels.kubernetes\x01io/metadata\x01name", "shop");
    assert_jstr(j, "status.phase", "Active");
    cJSON_Delete(j);
    buf_free(&b);
    sim_model_free(m);
}

static void test_daemonset_and_replicaset(void **state)
{
    static const char yaml[] =
        "nodes: [n1, n2]\n"
        "users: [{name: admin, token: t}]\n"
        "objects:\n"
        "  - kind: DaemonSet\n"
        "    metadata: {name: agent, namespace: kube-system}\n"
        "    spec:\n"
        "      template:\n"
        "        metadata: {labels: {app: agent}}\n"
        "        spec: {containers: [{name: agent, command: [sleep, infinity]}]}\n"
        "  - kind: ReplicaSet\n"
        "    metadata: {name: cache}\n"
        "    spec:\n"
        "      replicas: 3\n"
        "      selector: {matchExpressions: [{key: app, operator: In, values: [cache]}]}\n"
        "      template:\n"
        "        metadata: {labels: {app: cache}}\n"
        "        spec: {containers: [{name: c, stdin: true, tty: true}], hostNetwork: true}\n";
    sim_model_t *m = sim_model_new();
    char err[256];
    if (sim_model_load_yaml(m, yaml, sizeof yaml - 1, err, sizeof err)) fail_msg("%s", err);
    assert_non_null(sim_model_find_namespace(m, "kube-system"));
    const sim_pod_t *a0 = first_pod_of(m, "kube-system", "agent-");
    assert_non_null(a0);
    const sim_pod_t *a1 = a0 + 1;
    assert_int_equal(strlen(a0->name), strlen("agent-") + 5);
    assert_true(strcmp(a0->node_name, a1->node_name) != 0); /* one per node */
    assert_string_equal(a0->owner.kind, "DaemonSet");
    assert_string_equal(a0->generate_name, "agent-");
    int cache = 0;
    for (size_t i = 0; i < m->npods; i++)
        if (!strncmp(m->pods[i].name, "cache-", 6)) {
            cache++;
            assert_string_equal(m->pods[i].owner.name, "cache");
            assert_null(sim_labels_get(&m->pods[i].labels, "pod-template-hash"));
            assert_int_equal(m->pods[i].host_network, 1);
        }
    assert_int_equal(cache, 3);
    cJSON *j = call(m, "/apis/apps/v1/namespaces/kube-system/daemonsets/agent", NULL, NULL, NULL,
                    200, NULL);
    assert_jstr(j, "status.desiredNumberScheduled", "2");
    assert_jstr(j, "status.numberReady", "2");
    assert_null(jget(j, "spec.replicas"));
    cJSON_Delete(j);
    j = call(m, "/apis/apps/v1/namespaces/default/replicasets/cache", NULL, NULL, NULL, 200, NULL);
    assert_jstr(j, "spec.selector.matchExpressions.0.operator", "In");
    assert_jstr(j, "spec.selector.matchExpressions.0.values.0", "cache");
    assert_jstr(j, "spec.template.spec.containers.0.tty", "true");
    assert_jstr(j, "spec.template.spec.containers.0.stdin", "true");
    cJSON_Delete(j);
    assert_int_equal(count_items(m, "/api/v1/pods",
                                 "fieldSelector=spec.nodeName%3Dn2%2C"
                                 "spec.hostNetwork%3Dfalse"),
                     1);
    assert_int_equal(count_items(m, "/api/v1/pods", "fieldSelector=spec.hostNetwork%3Dtrue"), 3);
    sim_model_free(m);
}

/* ---- exec/attach validation -------------------------------------------------------------- */

static void check_exec(sim_model_t *m, const char *user, const char *ns, const char *pod,
                       const char *c, int attach, int create, int want, const char *want_body)
{
    sim_response_t r;
    const sim_pod_t *p = NULL;
    const sim_container_t *ct = NULL;
    int got = sim_rest_check_exec(m, user, ns, pod, c, attach, create, &r, &p, &ct);
    if (got != want) fail_msg("%s/%s: %d want %d (%s)", ns, pod, got, want, r.body.data);
    if (want_body && strcmp(r.body.data, want_body))
        fail_msg("%s/%s\n  got  %s\n  want %s", ns, pod, r.body.data, want_body);
    if (!want) {
        assert_non_null(p);
        assert_string_equal(ct->name, c && *c ? c : "main");
    } else {
        assert_int_equal(r.status, want);
    }
    sim_response_free(&r);
}

static void test_check_exec(void **state)
{
    sim_model_t *m = demo();
    const char *api = first_pod_of(m, "shop", "api-")->name;
    char want[1024];
    check_exec(m, "alice", "shop", "x", NULL, 0, 0, 403,
               "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
               "\"message\":\"pods \\\"x\\\" is forbidden: User \\\"alice\\\" cannot get resource "
               "\\\"pods/exec\\\" in API group \\\"\\\" in the namespace \\\"shop\\\"\",\"reason\":"
               "\"Forbidden\",\"details\":{\"name\":\"x\",\"kind\":\"pods\"},\"code\":403}\n");
    check_exec(m, "alice", "shop", "x", NULL, 1, 1, 403,
               "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
               "\"message\":\"pods \\\"x\\\" is forbidden: User \\\"alice\\\" cannot create "
               "resource \\\"pods/attach\\\" in API group \\\"\\\" in the namespace \\\"shop\\\"\","
               "\"reason\":\"Forbidden\",\"details\":{\"name\":\"x\",\"kind\":\"pods\"},\"code\":"
               "403}\n");
    check_exec(m, "admin", "default", "web-2", NULL, 0, 0, 404,
               "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
               "\"message\":\"pods \\\"web-2\\\" not found\",\"reason\":\"NotFound\",\"details\":{"
               "\"name\":\"web-2\",\"kind\":\"pods\"},\"code\":404}\n");
    snprintf(want, sizeof want,
             "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
             "\"message\":\"a container name must be specified for pod %s, choose one of: "
             "[init-db main sidecar]\",\"reason\":\"BadRequest\",\"code\":400}\n",
             api);
    check_exec(m, "admin", "shop", api, NULL, 0, 0, 400, want);
    check_exec(m, "admin", "shop", api, "", 0, 0, 400, want);
    snprintf(want, sizeof want,
             "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
             "\"message\":\"container nosuch is not valid for pod %s\",\"reason\":\"BadRequest\","
             "\"code\":400}\n",
             api);
    check_exec(m, "admin", "shop", api, "nosuch", 0, 0, 400, want);
    check_exec(m, "admin", "shop", api, "init-db", 0, 0, 0, NULL); /* init names are valid */
    check_exec(m, "admin", "shop", api, "sidecar", 1, 0, 0, NULL);
    check_exec(m, "admin", "default", "pending", NULL, 0, 0, 400,
               "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
               "\"message\":\"pod pending does not have a host assigned\",\"reason\":"
               "\"BadRequest\",\"code\":400}\n");
    check_exec(m, "admin", "default", "worker-0", NULL, 0, 0, 0, NULL); /* one container */
    check_exec(m, NULL, "shop", api, "main", 0, 0, 0, NULL);            /* no authz in force */
    const sim_pod_t *p = sim_model_find_pod(m, "default", "worker-0");
    assert_int_equal(sim_container_running(p, &p->containers[0]), 1);
    p = sim_model_find_pod(m, "shop", api);
    assert_int_equal(sim_container_running(p, sim_pod_container(p, "init-db")), 0);
    p = first_pod_of(m, "shop", "migrate-");
    assert_int_equal(sim_container_running(p, &p->containers[0]), 0);
    sim_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_demo_cluster),
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_version_and_discovery),
        cmocka_unit_test(test_get_pod_shape),
        cmocka_unit_test(test_errors_exact),
        cmocka_unit_test(test_status_json_escaping),
        cmocka_unit_test(test_paging),
        cmocka_unit_test(test_selectors_over_rest),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_workload_tables),
        cmocka_unit_test(test_timeline),
        cmocka_unit_test(test_watch_errors),
        cmocka_unit_test(test_watch_events),
        cmocka_unit_test(test_watch_workloads),
        cmocka_unit_test(test_watch_table_timeout_bookmarks),
        cmocka_unit_test(test_human_duration),
        cmocka_unit_test(test_workloads),
        cmocka_unit_test(test_daemonset_and_replicaset),
        cmocka_unit_test(test_check_exec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
