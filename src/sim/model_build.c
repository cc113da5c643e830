/* model_build: what the controllers would create. Objects are expanded into pods the way the
 * real controllers name and label them (Deployment -> ReplicaSet -> pods, StatefulSet ->
 * name-0..N-1, Job -> pods with the job labels), then pods are sorted in etcd key order so
 * paging is a walk over one array. Also `--pods N`. */
#include "sim/model_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/errbuf.h"

/* ---- pods from templates --------------------------------------------------------------------- */

static int parse_int_ann(const sim_labels_t *a, const char *key, long long lo, long long hi,
                         long long *out, char *err, size_t errlen)
{
    const char *v = sim_labels_get(a, key);
    if (!v) return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        errbuf_printf(err, errlen, "annotation %s: \"%s\" is not an integer in %lld..%lld", key, v,
                      lo, hi);
        return -EINVAL;
    }
    *out = x;
    return 0;
}

static int bool_ann(const sim_labels_t *a, const char *key)
{
    const char *v = sim_labels_get(a, key);
    return v && (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "1"));
}

/* sim.podmux.io/create-after, running-after, delete-after: durations ("2s", "500ms"). */
static int timeline_knobs(pod_tmpl_t *t, char *err, size_t errlen)
{
    static const char *const keys[] = {"create-after", "running-after", "delete-after"};
    long long *dst[] = {&t->create_after_ms, &t->running_after_ms, &t->delete_after_ms};
    for (int i = 0; i < 3; i++) {
        char key[64];
        snprintf(key, sizeof key, SIM_ANN_PREFIX "%s", keys[i]);
        const char *v = sim_labels_get(&t->annotations, key);
        *dst[i] = v ? sim_parse_duration_ms(v) : -1;
        if (v && (*dst[i] < 0 || *dst[i] > 7 * 86400000ll)) {
            errbuf_printf(err, errlen,
                          "annotation %s: \"%s\" is not a duration like 2s or 500ms (up to 168h)",
                          key, v);
            return -EINVAL;
        }
    }
    return 0;
}

/* Reads the sim.podmux.io/ annotations (faults, phase, restarts, timeline) of a pod template. */
int model_tmpl_knobs(pod_tmpl_t *t, char *err, size_t errlen)
{
    const sim_labels_t *a = &t->annotations;
    sim_faults_t *f = &t->faults;
    long long v;
    int r = 0;
    memset(f, 0, sizeof *f);
    f->retry_after = -1;
    f->drop_after_bytes = -1;
#define INT_ANN(name, lo, hi, dst)                                                                 \
    v = (dst);                                                                                     \
    if ((r = parse_int_ann(a, SIM_ANN_PREFIX name, lo, hi, &v, err, errlen))) return r;            \
    (dst) = v;
    INT_ANN("fault-upgrade-status", 100, 599, f->upgrade_status);
    INT_ANN("fault-retry-after", 0, 86400, f->retry_after);
    INT_ANN("fault-upgrade-delay-ms", 0, 600000, f->upgrade_delay_ms);
    INT_ANN("fault-drop-after-bytes", 0, 1ll << 40, f->drop_after_bytes);
    INT_ANN("restarts", 0, 1000000, t->restarts);
#undef INT_ANN
    f->reset_after_open = bool_ann(a, SIM_ANN_PREFIX "fault-reset");
    f->stall = bool_ann(a, SIM_ANN_PREFIX "fault-stall");
    f->close_without_status = bool_ann(a, SIM_ANN_PREFIX "fault-close-without-status");
    f->malformed_frame = bool_ann(a, SIM_ANN_PREFIX "fault-malformed-frame");
    f->coalesce = bool_ann(a, SIM_ANN_PREFIX "fault-coalesce");
    if ((r = timeline_knobs(t, err, errlen))) return r;
    const char *ph = sim_labels_get(a, SIM_ANN_PREFIX "pod-phase");
    if (ph) t->phase = ph;
    static const char *const phases[] = {"Pending", "Running", "Succeeded", "Failed"};
    for (size_t i = 0; i < 4; i++)
        if (!strcmp(t->phase, phases[i])) return 0;
    errbuf_printf(err, errlen, "pod phase \"%s\" is not Pending, Running, Succeeded or Failed",
                  t->phase);
    return -EINVAL;
}

/* A pod with create-after is unborn until then and created at that time; with running-after it
 * is Pending (scheduled, ContainerCreating) for that long after its creation. */
static int pod_timeline(sim_model_t *m, const pod_tmpl_t *t, sim_pod_t *p)
{
    long long born = t->create_after_ms > 0 ? t->create_after_ms : 0;
    p->final_phase = t->phase;
    p->create_at_ms = t->create_after_ms > 0 ? born : -1;
    p->run_at_ms = t->running_after_ms > 0 ? born + t->running_after_ms : -1;
    p->delete_at_ms = t->delete_after_ms >= 0 ? born + t->delete_after_ms : -1;
    p->life = p->create_at_ms >= 0 ? SIM_POD_UNBORN : SIM_POD_LIVE;
    if (p->create_at_ms >= 0) p->created = m->start + born / 1000;
    if (p->run_at_ms >= 0) p->phase = "Pending";
    return 0;
}

/* Appends one pod; node NULL leaves it unscheduled. */
int model_add_pod(sim_model_t *m, const pod_tmpl_t *t, const char *name, const char *node,
                  const sim_labels_t *labels)
{
    int r = model_grow((void **)&m->pods, m->npods, sizeof *m->pods, SIM_MAX_PODS);
    if (r) return r;
    size_t k = m->npods;
    sim_pod_t *p = &m->pods[k];
    memset(p, 0, sizeof *p);
    p->name = model_strdup(m, name);
    p->ns = t->ns;
    p->uid = model_uid(m, "Pod", t->ns, name);
    p->generate_name = t->generate_name;
    p->labels = *labels;
    p->annotations = t->annotations;
    p->phase = t->phase;
    p->restart_policy = t->restart_policy;
    p->service_account = t->service_account;
    p->scheduler_name = "default-scheduler";
    p->host_network = t->host_network;
    p->restarts = t->restarts;
    p->created = t->created + (long long)(k % 600);
    p->rv = ++m->rv;
    if ((r = pod_timeline(m, t, p))) return r;
    p->containers = t->containers;
    p->ncontainers = t->ncontainers;
    p->faults = t->faults;
    if (node) {
        size_t ni = 0;
        while (ni < m->nnodes && strcmp(m->nodes[ni], node))
            ni++;
        p->node_name = model_strdup(m, node);
        p->host_ip = model_printf(m, "172.18.0.%zu", 2 + ni % 250);
        p->pod_ip =
            model_printf(m, "10.%zu.%zu.%zu", 64 + (k / 64516) % 192, (k / 254) % 254, k % 254 + 1);
        if (!p->node_name || !p->host_ip || !p->pod_ip) return -ENOMEM;
    }
    if (t->owner_w) {
        const sim_workload_t *w = t->owner_w;
        p->owner = (sim_owner_t){w->kind == SIM_JOB ? "batch/v1" : "apps/v1",
                                 sim_wkind_kind(w->kind), w->name, w->uid};
    }
    if (!p->name || !p->uid) return -ENOMEM;
    m->npods++;
    return 0;
}

const char *model_next_node(sim_model_t *m)
{
    return m->nodes[m->npods % m->nnodes];
}

/* Pods named <prefix><5 chars>, with extra labels on top of the template's. */
static int add_random_named_pods(sim_model_t *m, pod_tmpl_t *t, const char *prefix, int n,
                                 const char *const *ek, const char *const *ev, size_t en)
{
    sim_labels_t labels;
    int r = model_labels_merge(m, &t->labels, ek, ev, en, &labels);
    t->generate_name = model_strdup(m, prefix);
    if (r || !t->generate_name) return -ENOMEM;
    for (int i = 0; i < n; i++) {
        char sfx[6], name[320];
        model_suffix5(prefix, (size_t)i, sfx);
        snprintf(name, sizeof name, "%s%s", prefix, sfx);
        const char *node = t->owner_w && t->owner_w->kind == SIM_DAEMONSET
                               ? m->nodes[(size_t)i % m->nnodes]
                               : model_next_node(m);
        if ((r = model_add_pod(m, t, name, node, &labels))) return r;
    }
    return 0;
}

/* ---- workloads ------------------------------------------------------------------------------- */

/* Appends a workload (copied); returns its index or <0. Takes ownership of w->selector. */
int model_add_workload(sim_model_t *m, sim_workload_t *w, char *err, size_t errlen)
{
    if (sim_model_find_workload(m, w->kind, w->ns, w->name)) {
        errbuf_printf(err, errlen, "%s %s/%s defined twice", sim_wkind_kind(w->kind), w->ns,
                      w->name);
        cJSON_Delete(w->selector);
        return -EINVAL;
    }
    int r = model_grow((void **)&m->workloads, m->nworkloads, sizeof *m->workloads, 100000);
    if (r == 0) r = sel_from_label_selector(&w->sel, w->selector, err, errlen);
    if (r) {
        cJSON_Delete(w->selector);
        return r;
    }
    w->uid = model_uid(m, sim_wkind_kind(w->kind), w->ns, w->name);
    w->rv = ++m->rv;
    if (!w->uid) {
        cJSON_Delete(w->selector);
        sel_free(&w->sel);
        return -ENOMEM;
    }
    m->workloads[m->nworkloads] = *w;
    return (int)m->nworkloads++;
}

cJSON *model_selector_plus(const cJSON *sel, const char *k, const char *v)
{
    cJSON *s = sel ? cJSON_Duplicate(sel, 1) : cJSON_CreateObject();
    if (!s) return NULL;
    cJSON *ml = cJSON_GetObjectItemCaseSensitive(s, "matchLabels");
    if (!ml && !(ml = cJSON_AddObjectToObject(s, "matchLabels"))) goto fail;
    cJSON_DeleteItemFromObjectCaseSensitive(ml, k);
    if (!cJSON_AddStringToObject(ml, k, v)) goto fail;
    return s;
fail:
    cJSON_Delete(s);
    return NULL;
}

/* Creates what the controllers would: the Deployment's ReplicaSet, and every pod. */
int model_expand_workload(sim_model_t *m, int wi, pod_tmpl_t *t, char *err, size_t errlen)
{
    sim_workload_t w = m->workloads[wi];
    char h[11], key[600], prefix[300];
    snprintf(key, sizeof key, "%s/%s/%s", sim_wkind_kind(w.kind), w.ns, w.name);
    model_hash10(key, h);
    t->owner_w = &m->workloads[wi];
    t->created = w.created + 5;
    if (w.kind == SIM_DEPLOYMENT) {
        const char *ek[] = {"pod-template-hash"}, *ev[] = {model_strdup(m, h)};
        sim_workload_t rs = w;
        memset(&rs.sel, 0, sizeof rs.sel);
        rs.kind = SIM_REPLICASET;
        rs.name = model_printf(m, "%s-%s", w.name, h);
        rs.selector = model_selector_plus(w.selector, "pod-template-hash", h);
        rs.owner = (sim_owner_t){"apps/v1", "Deployment", w.name, w.uid};
        rs.created = w.created + 1;
        static const char *const ak[] = {"deployment.kubernetes.io/desired-replicas",
                                         "deployment.kubernetes.io/max-replicas",
                                         "deployment.kubernetes.io/revision"};
        const char *av[] = {model_printf(m, "%d", w.replicas),
                            model_printf(m, "%d", w.replicas + 1), "1"};
        sim_labels_t none = {0};
        if (!ev[0] || !rs.name || !rs.selector || !av[0] || !av[1] ||
            model_labels_merge(m, &w.tmpl_labels, ek, ev, 1, &rs.labels) ||
            model_labels_merge(m, &none, ak, av, 3, &rs.annotations)) {
            cJSON_Delete(rs.selector);
            return -ENOMEM;
        }
        rs.tmpl_labels = rs.labels;
        int ri = model_add_workload(m, &rs, err, errlen);
        if (ri < 0) return ri;
        return model_expand_workload(m, ri, t, err, errlen);
    }
    snprintf(prefix, sizeof prefix, "%s-", w.name);
    if (w.kind == SIM_REPLICASET) {
        const char *hash = sim_labels_get(&w.tmpl_labels, "pod-template-hash");
        const char *ek[] = {"pod-template-hash"}, *ev[] = {hash};
        return add_random_named_pods(m, t, prefix, w.replicas, ek, ev, hash ? 1 : 0);
    }
    if (w.kind == SIM_DAEMONSET) {
        const char *ek[] = {"controller-revision-hash", "pod-template-generation"};
        const char *ev[] = {model_strdup(m, h), "1"};
        if (!ev[0]) return -ENOMEM;
        return add_random_named_pods(m, t, prefix, (int)m->nnodes, ek, ev, 2);
    }
    if (w.kind == SIM_JOB) {
        const char *ek[] = {"batch.kubernetes.io/controller-uid", "batch.kubernetes.io/job-name",
                            "controller-uid", "job-name"};
        const char *ev[] = {w.uid, w.name, w.uid, w.name};
        return add_random_named_pods(m, t, prefix, w.replicas, ek, ev, 4);
    }
    /* StatefulSet: ordinal names, one revision hash for all. */
    const char *rev = model_printf(m, "%s-%s", w.name, h);
    if (!rev) return -ENOMEM;
    for (int i = 0; i < w.replicas; i++) {
        char name[320], idx[16];
        snprintf(name, sizeof name, "%s-%d", w.name, i);
        snprintf(idx, sizeof idx, "%d", i);
        const char *ek[] = {"apps.kubernetes.io/pod-index", "controller-revision-hash",
                            "statefulset.kubernetes.io/pod-name"};
        const char *ev[] = {model_strdup(m, idx), rev, model_strdup(m, name)};
        sim_labels_t labels;
        if (!ev[0] || !ev[2] || model_labels_merge(m, &t->labels, ek, ev, 3, &labels))
            return -ENOMEM;
        int r = model_add_pod(m, t, name, model_next_node(m), &labels);
        if (r) return r;
    }
    return 0;
}

static int pod_cmp(const void *a, const void *b)
{
    const sim_pod_t *x = a, *y = b;
    return model_pod_key_cmp(x->ns, x->name, y->ns, y->name);
}

sim_workload_t *model_workload_by_uid(sim_model_t *m, const char *uid)
{
    for (size_t i = 0; i < m->nworkloads; i++)
        if (!strcmp(m->workloads[i].uid, uid)) return &m->workloads[i];
    return NULL;
}

static void count_in(sim_workload_t *w, const sim_pod_t *p, int sign)
{
    w->npods += sign;
    w->nready += sign * sim_pod_ready(p);
    w->nsucceeded += sign * !strcmp(p->phase, "Succeeded");
    w->nfailed += sign * !strcmp(p->phase, "Failed");
}

void model_count_pod(sim_model_t *m, const sim_pod_t *p, int sign)
{
    sim_workload_t *w = p->owner.uid ? model_workload_by_uid(m, p->owner.uid) : NULL;
    if (!w) return;
    count_in(w, p, sign);
    if (w->owner.uid && (w = model_workload_by_uid(m, w->owner.uid))) count_in(w, p, sign);
}

int model_finish(sim_model_t *m, char *err, size_t errlen)
{
    qsort(m->pods, m->npods, sizeof *m->pods, pod_cmp);
    for (size_t i = 1; i < m->npods; i++)
        if (!pod_cmp(&m->pods[i - 1], &m->pods[i])) {
            errbuf_printf(err, errlen, "pod %s/%s defined twice", m->pods[i].ns, m->pods[i].name);
            return -EINVAL;
        }
    for (size_t i = 0; i < m->nworkloads; i++) {
        sim_workload_t *w = &m->workloads[i];
        w->npods = w->nready = w->nsucceeded = w->nfailed = 0;
    }
    for (size_t i = 0; i < m->npods; i++)
        if (m->pods[i].life == SIM_POD_LIVE) model_count_pod(m, &m->pods[i], 1);
    int r = model_timeline_build(m);
    if (r == -ENOMEM) errbuf_printf(err, errlen, "out of memory");
    m->rv_built = m->rv;
    return r;
}

/* ---- --pods N -------------------------------------------------------------------------------- */

int sim_model_generate(sim_model_t *m, int npods, char *err, size_t errlen)
{
    if (npods < 0 || npods > SIM_MAX_REPLICAS) {
        errbuf_printf(err, errlen, "--pods must be 0..%d", SIM_MAX_REPLICAS);
        return -EINVAL;
    }
    static const char *const lk[] = {"app"}, *const lv[] = {"web"};
    static const char *const cmd[] = {"sleep", "infinity"};
    sim_container_t *c = model_alloc(m, sizeof *c);
    if (!c) return -ENOMEM;
    *c = (sim_container_t){"main", "busybox:1.36",       cmd, 2, NULL, 0, NULL, 0, 0, 0,
                           0,      SIM_CONTAINER_REGULAR};
    sim_workload_t w = {0};
    w.kind = SIM_DEPLOYMENT;
    w.name = "web";
    w.ns = "default";
    w.labels = w.tmpl_labels = (sim_labels_t){lk, lv, 1};
    w.replicas = npods;
    w.containers = c;
    w.ncontainers = 1;
    w.restart_policy = "Always";
    w.created = m->start - 3600;
    w.selector = cJSON_Parse("{\"matchLabels\":{\"app\":\"web\"}}");
    if (!w.selector) return -ENOMEM;
    int wi = model_add_workload(m, &w, err, errlen);
    if (wi < 0) return wi;
    pod_tmpl_t t = {0};
    t.ns = "default";
    t.restart_policy = "Always";
    t.service_account = "default";
    t.phase = "Running";
    t.labels = w.tmpl_labels;
    t.containers = c;
    t.ncontainers = 1;
    int r = model_tmpl_knobs(&t, err, errlen);
    if (!r) r = model_expand_workload(m, wi, &t, err, errlen);
    if (r == -E2BIG) errbuf_printf(err, errlen, "too many pods (limit %d)", SIM_MAX_PODS);
    return r ? r : model_finish(m, err, errlen);
}
