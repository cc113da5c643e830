/* model: the simulated cluster. Objects are expanded the way the controllers would create them
 * (Deployment -> ReplicaSet -> pods, StatefulSet -> name-0..N-1, Job -> pods with the job
 * labels), then pods are sorted in etcd key order so paging is a walk over one array. The second
 * half of the file reads the YAML cluster description (libyaml document API). */
#include "util/errbuf.h"
#include "sim/model.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- arena: every string and small array of the model ---------------------------------------- */

#define ARENA_BLOCK (64u * 1024)
#define ARENA_LIMIT (1024u * 1024 * 1024)

typedef struct arena_blk {
    struct arena_blk *next;
    size_t used, cap;
    _Alignas(16) char data[];
} arena_blk_t;

struct sim_arena {
    arena_blk_t *head;
    size_t total;
};

static void *arena_alloc(sim_model_t *m, size_t n)
{
    struct sim_arena *a = m->arena;
    n = (n + 15) & ~(size_t)15;
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        if (a->total + cap > ARENA_LIMIT) return NULL;
        arena_blk_t *b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
        a->total += cap;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

static const char *astrdup(sim_model_t *m, const char *s)
{
    size_t n = strlen(s);
    char *p = arena_alloc(m, n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

static const char *aprintf(sim_model_t *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *aprintf(sim_model_t *m, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) return NULL;
    return astrdup(m, tmp);
}

/* ---- deterministic names ------------------------------------------------------------------- */

static uint64_t fnv64(const char *s, uint64_t seed)
{
    uint64_t h = 1469598103934665603ull ^ seed;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    h ^= h >> 29; /* fnv's low bits are weak; mix once */
    return h * 0xbf58476d1ce4e5b9ull;
}

static const char *make_uid(sim_model_t *m, const char *kind, const char *ns, const char *name)
{
    char key[600];
    snprintf(key, sizeof key, "%s/%s/%s", kind, ns ? ns : "", name);
    uint64_t a = fnv64(key, 1), b = fnv64(key, 2);
    return aprintf(m, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
                   (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
                   0x8000 | ((unsigned)(b >> 48) & 0x3fff),
                   (unsigned long long)(b & 0xffffffffffffull));
}

/* 10 characters that are both hex digits and in Kubernetes' safe alphabet: the shape of a
 * pod-template-hash ("5d8f7c9b4c"). */
static void hash10(const char *key, char out[11])
{
    static const char alpha[] = "245679bcdf";
    uint64_t h = fnv64(key, 3);
    for (int i = 0; i < 10; i++, h /= 10)
        out[i] = alpha[h % 10];
    out[10] = '\0';
}

/* Pod-name suffix: 5 characters of the safe alphabet, a bijection of the index (7919 is prime
 * to 27^5) offset by the owner's hash, so names are unique and stable. */
static void suffix5(const char *owner, size_t index, char out[6])
{
    static const char alpha[] = "bcdfghjklmnpqrstvwxz2456789";
    const uint64_t space = 27ull * 27 * 27 * 27 * 27;
    uint64_t x = (fnv64(owner, 4) + (uint64_t)index * 7919u) % space;
    for (int i = 4; i >= 0; i--, x /= 27)
        out[i] = alpha[x % 27];
    out[5] = '\0';
}

void sim_format_time(long long t, char out[21])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- labels ---------------------------------------------------------------------------------- */

const char *sim_labels_get(const sim_labels_t *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->keys[i], key) == 0) return l->values[i];
    return NULL;
}

/* base plus extra pairs (extra wins on equal keys), one exact allocation. */
static int labels_merge(sim_model_t *m, const sim_labels_t *base, const char *const *ek,
                        const char *const *ev, size_t en, sim_labels_t *out)
{
    size_t cap = base->n + en;
    const char **k = arena_alloc(m, (cap ? cap : 1) * sizeof *k);
    const char **v = arena_alloc(m, (cap ? cap : 1) * sizeof *v);
    if (!k || !v) return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < base->n; i++) {
        size_t j = 0;
        while (j < en && strcmp(ek[j], base->keys[i]))
            j++;
        if (j < en) continue;
        k[n] = base->keys[i];
        v[n++] = base->values[i];
    }
    for (size_t j = 0; j < en; j++) {
        k[n] = ek[j];
        v[n++] = ev[j];
    }
    out->keys = k;
    out->values = v;
    out->n = n;
    return 0;
}

/* ---- kinds ----------------------------------------------------------------------------------- */

static const struct {
    const char *resource, *group, *kind, *shortname;
} WKINDS[SIM_WKIND_COUNT] = {
    [SIM_DEPLOYMENT] = {"deployments", "apps", "Deployment", "deploy"},
    [SIM_STATEFULSET] = {"statefulsets", "apps", "StatefulSet", "sts"},
    [SIM_DAEMONSET] = {"daemonsets", "apps", "DaemonSet", "ds"},
    [SIM_REPLICASET] = {"replicasets", "apps", "ReplicaSet", "rs"},
    [SIM_JOB] = {"jobs", "batch", "Job", ""},
};

const char *sim_wkind_resource(sim_wkind_t k)
{
    return WKINDS[k].resource;
}
const char *sim_wkind_group(sim_wkind_t k)
{
    return WKINDS[k].group;
}
const char *sim_wkind_kind(sim_wkind_t k)
{
    return WKINDS[k].kind;
}
const char *sim_wkind_short(sim_wkind_t k)
{
    return WKINDS[k].shortname;
}

/* ---- model lifetime -------------------------------------------------------------------------- */

/* Arrays (pods, workloads...) grow by doubling from 8: realloc exactly when the count in use
 * is 0 or a power of two >= 8, so no separate capacity field is needed. */
static int grow(void **arr, size_t n, size_t elem, size_t limit)
{
    if (n >= limit) return -E2BIG;
    if (n != 0 && (n < 8 || (n & (n - 1)))) return 0;
    size_t cap = n == 0 ? 8 : n * 2;
    void *p = realloc(*arr, cap * elem);
    if (!p) return -ENOMEM;
    *arr = p;
    return 0;
}

static int add_namespace(sim_model_t *m, const char *name)
{
    if (sim_model_find_namespace(m, name)) return 0;
    int r = grow((void **)&m->namespaces, m->nnamespaces, sizeof *m->namespaces, 10000);
    if (r) return r;
    sim_namespace_t *ns = &m->namespaces[m->nnamespaces];
    ns->name = astrdup(m, name);
    ns->uid = make_uid(m, "Namespace", NULL, name);
    ns->created = m->start - 86400;
    ns->rv = ++m->rv;
    if (!ns->name || !ns->uid) return -ENOMEM;
    m->nnamespaces++;
    return 0;
}

sim_model_t *sim_model_new(void)
{
    sim_model_t *m = calloc(1, sizeof *m);
    if (!m || !(m->arena = calloc(1, sizeof *m->arena))) {
        free(m);
        return NULL;
    }
    m->start = (long long)time(NULL);
    m->rv = 1000;
    static const char *const default_nodes[] = {"sim-node-1"};
    m->nodes = default_nodes;
    m->nnodes = 1;
    m->server_address = "127.0.0.1:6443";
    if (add_namespace(m, "default")) {
        sim_model_free(m);
        return NULL;
    }
    return m;
}

void sim_model_free(sim_model_t *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->nworkloads; i++) {
        cJSON_Delete(m->workloads[i].selector);
        sel_free(&m->workloads[i].sel);
    }
    free(m->workloads);
    free(m->pods);
    free(m->namespaces);
    free(m->users);
    if (m->arena) {
        arena_blk_t *b = m->arena->head;
        while (b) {
            arena_blk_t *n = b->next;
            free(b);
            b = n;
        }
        free(m->arena);
    }
    free(m);
}

int sim_model_set_server_address(sim_model_t *m, const char *hostport)
{
    const char *s = astrdup(m, hostport);
    if (!s) return -ENOMEM;
    m->server_address = s;
    return 0;
}

/* ---- users ----------------------------------------------------------------------------------- */

static sim_user_t *find_user(const sim_model_t *m, const char *name)
{
    for (size_t i = 0; i < m->nusers; i++)
        if (strcmp(m->users[i].name, name) == 0) return &m->users[i];
    return NULL;
}

int sim_model_add_user(sim_model_t *m, const char *name, const char *token, const char *cert_cn)
{
    sim_user_t *u = find_user(m, name);
    if (!u) {
        int r = grow((void **)&m->users, m->nusers, sizeof *m->users, 10000);
        if (r) return r;
        u = &m->users[m->nusers];
        memset(u, 0, sizeof *u);
        if (!(u->name = astrdup(m, name))) return -ENOMEM;
        m->nusers++;
    }
    if (token && !(u->token = astrdup(m, token))) return -ENOMEM;
    if (cert_cn && !(u->cert_cn = astrdup(m, cert_cn))) return -ENOMEM;
    return 0;
}

int sim_model_deny(sim_model_t *m, const char *user, const char *ns)
{
    sim_user_t *u = find_user(m, user);
    if (!u) return -ENOENT;
    const char **d = arena_alloc(m, (u->ndenied + 1) * sizeof *d);
    if (!d) return -ENOMEM;
    if (u->ndenied) memcpy(d, u->denied, u->ndenied * sizeof *d);
    if (!(d[u->ndenied] = astrdup(m, ns))) return -ENOMEM;
    u->denied = d;
    u->ndenied++;
    return 0;
}

const char *sim_model_authenticate(const sim_model_t *m, const char *token, const char *cert_cn)
{
    for (size_t i = 0; i < m->nusers; i++) {
        const sim_user_t *u = &m->users[i];
        if (token && *token && u->token && strcmp(u->token, token) == 0) return u->name;
        if (cert_cn && *cert_cn && u->cert_cn && strcmp(u->cert_cn, cert_cn) == 0) return u->name;
    }
    return NULL;
}

const char *sim_model_authenticate_token(const sim_model_t *m, const char *token)
{
    return sim_model_authenticate(m, token, NULL);
}

const char *sim_model_authenticate_cert(const sim_model_t *m, const char *cn)
{
    return sim_model_authenticate(m, NULL, cn);
}

int sim_model_allowed(const sim_model_t *m, const char *user, const char *ns)
{
    if (!user) return 1;
    const sim_user_t *u = find_user(m, user);
    if (!u) return 0;
    if (!ns) return u->ndenied == 0;
    for (size_t i = 0; i < u->ndenied; i++)
        if (strcmp(u->denied[i], ns) == 0) return 0;
    return 1;
}

/* ---- lookups --------------------------------------------------------------------------------- */

const sim_namespace_t *sim_model_find_namespace(const sim_model_t *m, const char *name)
{
    for (size_t i = 0; i < m->nnamespaces; i++)
        if (strcmp(m->namespaces[i].name, name) == 0) return &m->namespaces[i];
    return NULL;
}

static int pod_key_cmp(const char *ns1, const char *n1, const char *ns2, const char *n2)
{
    int c = strcmp(ns1, ns2);
    return c ? c : strcmp(n1, n2);
}

size_t sim_model_pod_lower_bound(const sim_model_t *m, const char *ns, const char *name)
{
    size_t lo = 0, hi = m->npods;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pod_key_cmp(m->pods[mid].ns, m->pods[mid].name, ns ? ns : "", name ? name : "") < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const sim_pod_t *sim_model_find_pod(const sim_model_t *m, const char *ns, const char *name)
{
    size_t i = sim_model_pod_lower_bound(m, ns, name);
    if (i < m->npods && !strcmp(m->pods[i].ns, ns) && !strcmp(m->pods[i].name, name))
        return &m->pods[i];
    return NULL;
}

const sim_workload_t *sim_model_find_workload(const sim_model_t *m, sim_wkind_t kind,
                                              const char *ns, const char *name)
{
    for (size_t i = 0; i < m->nworkloads; i++) {
        const sim_workload_t *w = &m->workloads[i];
        if (w->kind == kind && !strcmp(w->ns, ns) && !strcmp(w->name, name)) return w;
    }
    return NULL;
}

const sim_container_t *sim_pod_container(const sim_pod_t *p, const char *name)
{
    for (size_t i = 0; i < p->ncontainers; i++)
        if (strcmp(p->containers[i].name, name) == 0) return &p->containers[i];
    return NULL;
}

int sim_container_running(const sim_pod_t *p, const sim_container_t *c)
{
    return c && p->node_name && strcmp(p->phase, "Running") == 0 && c->kind != SIM_CONTAINER_INIT;
}

int sim_pod_ready(const sim_pod_t *p)
{
    return p->node_name && strcmp(p->phase, "Running") == 0;
}

/* ---- pods from templates --------------------------------------------------------------------- */

/* What a controller stamps onto each pod of one workload. */
typedef struct pod_tmpl {
    const sim_workload_t *owner_w; /* NULL for bare pods */
    const char *ns, *restart_policy, *service_account, *phase, *generate_name;
    sim_labels_t labels, annotations;
    const sim_container_t *containers;
    size_t ncontainers;
    sim_faults_t faults;
    int restarts, host_network;
    long long created;
} pod_tmpl_t;

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

/* Reads the sim.podmux.io/ annotations (faults, phase, restarts) of a pod template. */
static int tmpl_knobs(pod_tmpl_t *t, char *err, size_t errlen)
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
    const char *ph = sim_labels_get(a, SIM_ANN_PREFIX "pod-phase");
    if (ph) t->phase = ph;
    static const char *const phases[] = {"Pending", "Running", "Succeeded", "Failed"};
    for (size_t i = 0; i < 4; i++)
        if (!strcmp(t->phase, phases[i])) return 0;
    errbuf_printf(err, errlen, "pod phase \"%s\" is not Pending, Running, Succeeded or Failed",
                  t->phase);
    return -EINVAL;
}

/* Appends one pod; node NULL leaves it unscheduled. */
static int add_pod(sim_model_t *m, const pod_tmpl_t *t, const char *name, const char *node,
                   const sim_labels_t *labels)
{
    int r = grow((void **)&m->pods, m->npods, sizeof *m->pods, SIM_MAX_PODS);
    if (r) return r;
    size_t k = m->npods;
    sim_pod_t *p = &m->pods[k];
    memset(p, 0, sizeof *p);
    p->name = astrdup(m, name);
    p->ns = t->ns;
    p->uid = make_uid(m, "Pod", t->ns, name);
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
    p->containers = t->containers;
    p->ncontainers = t->ncontainers;
    p->faults = t->faults;
    if (node) {
        size_t ni = 0;
        while (ni < m->nnodes && strcmp(m->nodes[ni], node))
            ni++;
        p->node_name = astrdup(m, node);
        p->host_ip = aprintf(m, "172.18.0.%zu", 2 + ni % 250);
        p->pod_ip =
            aprintf(m, "10.%zu.%zu.%zu", 64 + (k / 64516) % 192, (k / 254) % 254, k % 254 + 1);
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

static const char *next_node(sim_model_t *m)
{
    return m->nodes[m->npods % m->nnodes];
}

/* Pods named <prefix><5 chars>, with extra labels on top of the template's. */
static int add_random_named_pods(sim_model_t *m, pod_tmpl_t *t, const char *prefix, int n,
                                 const char *const *ek, const char *const *ev, size_t en)
{
    sim_labels_t labels;
    int r = labels_merge(m, &t->labels, ek, ev, en, &labels);
    t->generate_name = astrdup(m, prefix);
    if (r || !t->generate_name) return -ENOMEM;
    for (int i = 0; i < n; i++) {
        char sfx[6], name[320];
        suffix5(prefix, (size_t)i, sfx);
        snprintf(name, sizeof name, "%s%s", prefix, sfx);
        const char *node = t->owner_w && t->owner_w->kind == SIM_DAEMONSET
                               ? m->nodes[(size_t)i % m->nnodes]
                               : next_node(m);
        if ((r = add_pod(m, t, name, node, &labels))) return r;
    }
    return 0;
}

/* ---- workloads ------------------------------------------------------------------------------- */

/* Appends a workload (copied); returns its index or <0. Takes ownership of w->selector. */
static int add_workload(sim_model_t *m, sim_workload_t *w, char *err, size_t errlen)
{
    if (sim_model_find_workload(m, w->kind, w->ns, w->name)) {
        errbuf_printf(err, errlen, "%s %s/%s defined twice", sim_wkind_kind(w->kind), w->ns,
                      w->name);
        cJSON_Delete(w->selector);
        return -EINVAL;
    }
    int r = grow((void **)&m->workloads, m->nworkloads, sizeof *m->workloads, 100000);
    if (r == 0) r = sel_from_label_selector(&w->sel, w->selector, err, errlen);
    if (r) {
        cJSON_Delete(w->selector);
        return r;
    }
    w->uid = make_uid(m, sim_wkind_kind(w->kind), w->ns, w->name);
    w->rv = ++m->rv;
    if (!w->uid) {
        cJSON_Delete(w->selector);
        sel_free(&w->sel);
        return -ENOMEM;
    }
    m->workloads[m->nworkloads] = *w;
    return (int)m->nworkloads++;
}

static cJSON *selector_plus(const cJSON *sel, const char *k, const char *v)
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
static int expand_workload(sim_model_t *m, int wi, pod_tmpl_t *t, char *err, size_t errlen)
{
    sim_workload_t w = m->workloads[wi];
    char h[11], key[600], prefix[300];
    snprintf(key, sizeof key, "%s/%s/%s", sim_wkind_kind(w.kind), w.ns, w.name);
    hash10(key, h);
    t->owner_w = &m->workloads[wi];
    t->created = w.created + 5;
    if (w.kind == SIM_DEPLOYMENT) {
        const char *ek[] = {"pod-template-hash"}, *ev[] = {astrdup(m, h)};
        sim_workload_t rs = w;
        memset(&rs.sel, 0, sizeof rs.sel);
        rs.kind = SIM_REPLICASET;
        rs.name = aprintf(m, "%s-%s", w.name, h);
        rs.selector = selector_plus(w.selector, "pod-template-hash", h);
        rs.owner = (sim_owner_t){"apps/v1", "Deployment", w.name, w.uid};
        rs.created = w.created + 1;
        static const char *const ak[] = {"deployment.kubernetes.io/desired-replicas",
                                         "deployment.kubernetes.io/max-replicas",
                                         "deployment.kubernetes.io/revision"};
        const char *av[] = {aprintf(m, "%d", w.replicas), aprintf(m, "%d", w.replicas + 1), "1"};
        sim_labels_t none = {0};
        if (!ev[0] || !rs.name || !rs.selector || !av[0] || !av[1] ||
            labels_merge(m, &w.tmpl_labels, ek, ev, 1, &rs.labels) ||
            labels_merge(m, &none, ak, av, 3, &rs.annotations)) {
            cJSON_Delete(rs.selector);
            return -ENOMEM;
        }
        rs.tmpl_labels = rs.labels;
        int ri = add_workload(m, &rs, err, errlen);
        if (ri < 0) return ri;
        return expand_workload(m, ri, t, err, errlen);
    }
    snprintf(prefix, sizeof prefix, "%s-", w.name);
    if (w.kind == SIM_REPLICASET) {
        const char *hash = sim_labels_get(&w.tmpl_labels, "pod-template-hash");
        const char *ek[] = {"pod-template-hash"}, *ev[] = {hash};
        return add_random_named_pods(m, t, prefix, w.replicas, ek, ev, hash ? 1 : 0);
    }
    if (w.kind == SIM_DAEMONSET) {
        const char *ek[] = {"controller-revision-hash", "pod-template-generation"};
        const char *ev[] = {astrdup(m, h), "1"};
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
    const char *rev = aprintf(m, "%s-%s", w.name, h);
    if (!rev) return -ENOMEM;
    for (int i = 0; i < w.replicas; i++) {
        char name[320], idx[16];
        snprintf(name, sizeof name, "%s-%d", w.name, i);
        snprintf(idx, sizeof idx, "%d", i);
        const char *ek[] = {"apps.kubernetes.io/pod-index", "controller-revision-hash",
                            "statefulset.kubernetes.io/pod-name"};
        const char *ev[] = {astrdup(m, idx), rev, astrdup(m, name)};
        sim_labels_t labels;
        if (!ev[0] || !ev[2] || labels_merge(m, &t->labels, ek, ev, 3, &labels)) return -ENOMEM;
        int r = add_pod(m, t, name, next_node(m), &labels);
        if (r) return r;
    }
    return 0;
}

static int pod_cmp(const void *a, const void *b)
{
    const sim_pod_t *x = a, *y = b;
    return pod_key_cmp(x->ns, x->name, y->ns, y->name);
}

static sim_workload_t *workload_by_uid(sim_model_t *m, const char *uid)
{
    for (size_t i = 0; i < m->nworkloads; i++)
        if (!strcmp(m->workloads[i].uid, uid)) return &m->workloads[i];
    return NULL;
}

static void count_pod(sim_workload_t *w, const sim_pod_t *p)
{
    w->npods++;
    w->nready += sim_pod_ready(p);
    w->nsucceeded += !strcmp(p->phase, "Succeeded");
    w->nfailed += !strcmp(p->phase, "Failed");
}

/* Sorts the pods into list order, refuses duplicates, fills the workloads' pod counts. */
static int finish(sim_model_t *m, char *err, size_t errlen)
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
    for (size_t i = 0; i < m->npods; i++) {
        const sim_pod_t *p = &m->pods[i];
        sim_workload_t *w = p->owner.uid ? workload_by_uid(m, p->owner.uid) : NULL;
        if (!w) continue;
        count_pod(w, p);
        if (w->owner.uid && (w = workload_by_uid(m, w->owner.uid))) count_pod(w, p);
    }
    return 0;
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
    sim_container_t *c = arena_alloc(m, sizeof *c);
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
    int wi = add_workload(m, &w, err, errlen);
    if (wi < 0) return wi;
    pod_tmpl_t t = {0};
    t.ns = "default";
    t.restart_policy = "Always";
    t.service_account = "default";
    t.phase = "Running";
    t.labels = w.tmpl_labels;
    t.containers = c;
    t.ncontainers = 1;
    int r = tmpl_knobs(&t, err, errlen);
    if (!r) r = expand_workload(m, wi, &t, err, errlen);
    if (r == -E2BIG) errbuf_printf(err, errlen, "too many pods (limit %d)", SIM_MAX_PODS);
    return r ? r : finish(m, err, errlen);
}

/* ---- YAML cluster file ----------------------------------------------------------------------- */

#include <yaml.h>

#define Y_MAX_LIST 4096
#define Y_MAX_CONTAINERS 64

typedef struct yctx {
    sim_model_t *m;
    yaml_document_t *doc;
    char *err;
    size_t errlen;
} yctx_t;

static int yfail(yctx_t *y, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int yfail(yctx_t *y, const yaml_node_t *n, const char *fmt, ...)
{
    if (!y->err || !y->errlen) return -EINVAL;
    int k = snprintf(y->err, y->errlen, "line %zu: ", n ? n->start_mark.line + 1 : 0);
    if (k < 0 || (size_t)k >= y->errlen) return -EINVAL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(y->err + k, y->errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static yaml_node_t *ynode(yctx_t *y, int id)
{
    return yaml_document_get_node(y->doc, id);
}

static const char *yscalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A missing key, `~`, `null` or an empty plain scalar. */
static int ynull(const yaml_node_t *n)
{
    const char *s = yscalar(n);
    if (!n) return 1;
    if (!s || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null");
}

static yaml_node_t *yget(yctx_t *y, const yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *k = yscalar(ynode(y, p->key));
        if (k && !strcmp(k, key)) {
            yaml_node_t *v = ynode(y, p->value);
            return ynull(v) ? NULL : v;
        }
    }
    return NULL;
}

static int y_str(yctx_t *y, const yaml_node_t *map, const char *key, const char **out)
{
    const yaml_node_t *n = yget(y, map, key);
    if (!n) return 0;
    if (!yscalar(n)) return yfail(y, n, "%s must be a string", key);
    return (*out = astrdup(y->m, yscalar(n))) ? 0 : -ENOMEM;
}

static int y_int(yctx_t *y, const yaml_node_t *map, const char *key, long lo, long hi, int *out)
{
    const yaml_node_t *n = yget(y, map, key);
    if (!n) return 0;
    const char *s = yscalar(n);
    char *end = NULL;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || end == s || *end || v < lo || v > hi)
        return yfail(y, n, "%s must be an integer in %ld..%ld", key, lo, hi);
    *out = (int)v;
    return 0;
}

static int y_bool(yctx_t *y, const yaml_node_t *map, const char *key, int *out)
{
    const yaml_node_t *n = yget(y, map, key);
    if (!n) return 0;
    const char *s = yscalar(n);
    if (s && (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "yes")))
        *out = 1;
    else if (s && (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "no")))
        *out = 0;
    else
        return yfail(y, n, "%s must be true or false", key);
    return 0;
}

static int y_strlist(yctx_t *y, const yaml_node_t *n, const char *what, const char *const **out,
                     size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (!n) return 0;
    if (n->type != YAML_SEQUENCE_NODE) return yfail(y, n, "%s must be a list", what);
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt > Y_MAX_LIST) return yfail(y, n, "%s has more than %d items", what, Y_MAX_LIST);
    const char **v = arena_alloc(y->m, (cnt ? cnt : 1) * sizeof *v);
    if (!v) return -ENOMEM;
    for (size_t i = 0; i < cnt; i++) {
        const yaml_node_t *it = ynode(y, n->data.sequence.items.start[i]);
        if (!yscalar(it)) return yfail(y, it ? it : n, "%s items must be strings", what);
        if (!(v[i] = astrdup(y->m, yscalar(it)))) return -ENOMEM;
    }
    *out = v;
    *nout = cnt;
    return 0;
}

/* A string -> string mapping (labels, annotations). */
static int y_map(yctx_t *y, const yaml_node_t *n, const char *what, sim_labels_t *out)
{
    memset(out, 0, sizeof *out);
    if (!n) return 0;
    if (n->type != YAML_MAPPING_NODE) return yfail(y, n, "%s must be a mapping", what);
    size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (cnt > Y_MAX_LIST) return yfail(y, n, "%s has too many entries", what);
    const char **k = arena_alloc(y->m, (cnt ? cnt : 1) * sizeof *k);
    const char **v = arena_alloc(y->m, (cnt ? cnt : 1) * sizeof *v);
    if (!k || !v) return -ENOMEM;
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
        const yaml_node_t *kn = ynode(y, p->key), *vn = ynode(y, p->value);
        const char *ks = yscalar(kn), *vs = ynull(vn) ? "" : yscalar(vn);
        if (!ks || !*ks || !vs)
            return yfail(y, kn ? kn : n, "%s: keys and values must be strings", what);
        if (!(k[i] = astrdup(y->m, ks)) || !(v[i] = astrdup(y->m, vs))) return -ENOMEM;
    }
    *out = (sim_labels_t){k, v, cnt};
    return 0;
}

static int y_env(yctx_t *y, const yaml_node_t *n, sim_container_t *c)
{
    if (!n) return 0;
    if (n->type != YAML_SEQUENCE_NODE) return yfail(y, n, "env must be a list");
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt > Y_MAX_LIST) return yfail(y, n, "env has too many entries");
    const char **v = arena_alloc(y->m, (cnt ? cnt : 1) * sizeof *v);
    if (!v) return -ENOMEM;
    for (size_t i = 0; i < cnt; i++) {
        const yaml_node_t *e = ynode(y, n->data.sequence.items.start[i]);
        const char *name = yscalar(yget(y, e, "name")), *val = yscalar(yget(y, e, "value"));
        if (!name) return yfail(y, e ? e : n, "env entries need a name");
        if (!(v[i] = aprintf(y->m, "%s=%s", name, val ? val : ""))) return -ENOMEM;
    }
    c->env = v;
    c->nenv = cnt;
    return 0;
}

static int y_container(yctx_t *y, const yaml_node_t *n, sim_ckind_t kind, sim_container_t *c)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->image = "busybox:1.36";
    int r;
    if (!n || n->type != YAML_MAPPING_NODE) return yfail(y, n, "a container must be a mapping");
    if ((r = y_str(y, n, "name", &c->name))) return r;
    if (!c->name || !*c->name) return yfail(y, n, "a container needs a name");
    if ((r = y_str(y, n, "image", &c->image)) ||
        (r = y_strlist(y, yget(y, n, "command"), "command", &c->command, &c->ncommand)) ||
        (r = y_strlist(y, yget(y, n, "args"), "args", &c->args, &c->nargs)) ||
        (r = y_env(y, yget(y, n, "env"), c)) || (r = y_bool(y, n, "stdin", &c->stdin_)) ||
        (r = y_bool(y, n, "stdinOnce", &c->stdin_once)) || (r = y_bool(y, n, "tty", &c->tty)))
        return r;
    return 0;
}

/* initContainers, containers, ephemeralContainers of a pod spec, in that order. */
static int y_containers(yctx_t *y, const yaml_node_t *spec, const sim_container_t **out,
                        size_t *nout)
{
    static const char *const keys[] = {"initContainers", "containers", "ephemeralContainers"};
    static const sim_ckind_t kinds[] = {SIM_CONTAINER_INIT, SIM_CONTAINER_REGULAR,
                                        SIM_CONTAINER_EPHEMERAL};
    sim_container_t *cs = arena_alloc(y->m, Y_MAX_CONTAINERS * sizeof *cs);
    if (!cs) return -ENOMEM;
    size_t n = 0, regular = 0;
    for (int g = 0; g < 3; g++) {
        const yaml_node_t *list = yget(y, spec, keys[g]);
        if (!list) continue;
        if (list->type != YAML_SEQUENCE_NODE) return yfail(y, list, "%s must be a list", keys[g]);
        for (yaml_node_item_t *it = list->data.sequence.items.start;
             it < list->data.sequence.items.top; it++) {
            if (n == Y_MAX_CONTAINERS) return yfail(y, list, "too many containers");
            int r = y_container(y, ynode(y, *it), kinds[g], &cs[n]);
            if (r) return r;
            for (size_t j = 0; j < n; j++)
                if (!strcmp(cs[j].name, cs[n].name))
                    return yfail(y, list, "container name \"%s\" used twice", cs[n].name);
            regular += kinds[g] == SIM_CONTAINER_REGULAR;
            n++;
        }
    }
    if (!regular) return yfail(y, spec, "a pod spec needs at least one container");
    *out = cs;
    *nout = n;
    return 0;
}

/* Any YAML node as JSON with string scalars (for spec.selector). */
static cJSON *y_json(yctx_t *y, const yaml_node_t *n, int depth)
{
    if (!n || depth > 8) return NULL;
    if (n->type == YAML_SCALAR_NODE) return cJSON_CreateString(yscalar(n));
    cJSON *j = n->type == YAML_MAPPING_NODE ? cJSON_CreateObject() : cJSON_CreateArray();
    if (!j) return NULL;
    if (n->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++) {
            cJSON *c = y_json(y, ynode(y, *it), depth + 1);
            if (!c || !cJSON_AddItemToArray(j, c)) goto fail;
        }
        return j;
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = yscalar(ynode(y, p->key));
        cJSON *c = k ? y_json(y, ynode(y, p->value), depth + 1) : NULL;
        if (!c || !cJSON_AddItemToObject(j, k, c)) {
            cJSON_Delete(c);
            goto fail;
        }
    }
    return j;
fail:
    cJSON_Delete(j);
    return NULL;
}

typedef struct y_meta {
    const char *name, *ns;
    sim_labels_t labels, annotations;
} y_meta_t;

static int y_metadata(yctx_t *y, const yaml_node_t *obj, const char *kind, y_meta_t *md)
{
    const yaml_node_t *meta = yget(y, obj, "metadata");
    int r;
    memset(md, 0, sizeof *md);
    md->ns = "default";
    if ((r = y_str(y, meta, "name", &md->name)) || (r = y_str(y, meta, "namespace", &md->ns)) ||
        (r = y_map(y, yget(y, meta, "labels"), "labels", &md->labels)) ||
        (r = y_map(y, yget(y, meta, "annotations"), "annotations", &md->annotations)))
        return r;
    if (!md->name || !*md->name || strlen(md->name) > 253 || strchr(md->name, '/'))
        return yfail(y, obj, "%s needs metadata.name (1..253 characters, no '/')", kind);
    if (!*md->ns || strchr(md->ns, '/')) return yfail(y, obj, "bad metadata.namespace");
    return add_namespace(y->m, md->ns);
}

/* Pod-spec fields shared by bare pods and templates. */
static int y_podspec(yctx_t *y, const yaml_node_t *spec, pod_tmpl_t *t)
{
    int r;
    if (!spec) return yfail(y, spec, "missing pod spec");
    if ((r = y_containers(y, spec, &t->containers, &t->ncontainers)) ||
        (r = y_str(y, spec, "restartPolicy", &t->restart_policy)) ||
        (r = y_str(y, spec, "serviceAccountName", &t->service_account)) ||
        (r = y_bool(y, spec, "hostNetwork", &t->host_network)))
        return r;
    return 0;
}

static int y_pod(yctx_t *y, const yaml_node_t *obj)
{
    y_meta_t md;
    pod_tmpl_t t = {0};
    const char *node = NULL;
    const yaml_node_t *spec = yget(y, obj, "spec");
    int r;
    t.restart_policy = "Always";
    t.service_account = "default";
    t.phase = "Running";
    if ((r = y_metadata(y, obj, "Pod", &md)) || (r = y_podspec(y, spec, &t)) ||
        (r = y_str(y, spec, "nodeName", &node)) ||
        (r = y_str(y, yget(y, obj, "status"), "phase", &t.phase)))
        return r;
    t.ns = md.ns;
    t.labels = md.labels;
    t.annotations = md.annotations;
    t.created = y->m->start - 1800;
    char e[512];
    if ((r = tmpl_knobs(&t, e, sizeof e))) return r == -EINVAL ? yfail(y, obj, "%s", e) : r;
    if (!node && strcmp(t.phase, "Pending")) node = next_node(y->m);
    if (node && !*node) node = NULL;
    return add_pod(y->m, &t, md.name, node, &md.labels);
}

static int y_job_selector(yctx_t *y, sim_workload_t *w)
{
    const char *uid = make_uid(y->m, "Job", w->ns, w->name);
    const char *ek[] = {"batch.kubernetes.io/controller-uid", "batch.kubernetes.io/job-name",
                        "controller-uid", "job-name"};
    const char *ev[] = {uid, w->name, uid, w->name};
    if (!uid || labels_merge(y->m, &w->tmpl_labels, ek, ev, 4, &w->tmpl_labels)) return -ENOMEM;
    w->selector = selector_plus(NULL, "batch.kubernetes.io/controller-uid", uid);
    return w->selector ? 0 : -ENOMEM;
}

/* spec.selector, or the template labels as matchLabels when absent; it must select the
 * template (the apiserver's validation). */
static int y_selector(yctx_t *y, const yaml_node_t *spec, sim_workload_t *w)
{
    const yaml_node_t *sn = yget(y, spec, "selector");
    w->selector = sn ? y_json(y, sn, 0) : cJSON_CreateObject();
    if (!w->selector) return sn ? yfail(y, sn, "selector is too deep or too large") : -ENOMEM;
    if (!sn) {
        cJSON *ml = cJSON_AddObjectToObject(w->selector, "matchLabels");
        for (size_t i = 0; ml && i < w->tmpl_labels.n; i++)
            if (!cJSON_AddStringToObject(ml, w->tmpl_labels.keys[i], w->tmpl_labels.values[i]))
                ml = NULL;
        if (!ml) return -ENOMEM;
    }
    sel_t s;
    char e[512];
    int r = sel_from_label_selector(&s, w->selector, e, sizeof e);
    if (r) return r == -EINVAL ? yfail(y, sn, "spec.selector: %s", e) : r;
    int ok = !sel_is_everything(&s) &&
             sel_match(&s, w->tmpl_labels.keys, w->tmpl_labels.values, w->tmpl_labels.n);
    sel_free(&s);
    if (!ok)
        return yfail(y, sn ? sn : spec,
                     "spec.template.metadata.labels: Invalid value: "
                     "`selector` does not match template `labels`");
    return 0;
}

static int y_workload(yctx_t *y, const yaml_node_t *obj, sim_wkind_t kind)
{
    y_meta_t md;
    sim_workload_t w = {0};
    pod_tmpl_t t = {0};
    const yaml_node_t *spec = yget(y, obj, "spec");
    const yaml_node_t *tmpl = yget(y, spec, "template");
    const yaml_node_t *tmeta = yget(y, tmpl, "metadata");
    int r;
    t.restart_policy = kind == SIM_JOB ? "Never" : "Always";
    t.service_account = "default";
    t.phase = "Running";
    w.replicas = 1;
    if ((r = y_metadata(y, obj, sim_wkind_kind(kind), &md))) return r;
    if (!tmpl) return yfail(y, obj, "%s %s needs spec.template", sim_wkind_kind(kind), md.name);
    if ((r = y_map(y, yget(y, tmeta, "labels"), "labels", &w.tmpl_labels)) ||
        (r = y_map(y, yget(y, tmeta, "annotations"), "annotations", &w.tmpl_annotations)) ||
        (r = y_podspec(y, yget(y, tmpl, "spec"), &t)) ||
        (r = y_int(y, spec, kind == SIM_JOB ? "completions" : "replicas", 0, SIM_MAX_REPLICAS,
                   &w.replicas)))
        return r;
    w.kind = kind;
    w.name = md.name;
    w.ns = md.ns;
    w.annotations = md.annotations;
    w.containers = t.containers;
    w.ncontainers = t.ncontainers;
    w.restart_policy = t.restart_policy;
    w.created = y->m->start - 7200 + (long long)y->m->nworkloads * 60;
    if (kind == SIM_DAEMONSET) w.replicas = (int)y->m->nnodes;
    r = kind == SIM_JOB ? y_job_selector(y, &w) : y_selector(y, spec, &w);
    w.labels = md.labels.n ? md.labels : w.tmpl_labels;
    t.ns = md.ns;
    t.labels = w.tmpl_labels;
    t.annotations = w.tmpl_annotations;
    char e[512];
    if (!r && (r = tmpl_knobs(&t, e, sizeof e)) == -EINVAL) r = yfail(y, tmpl, "%s", e);
    if (r) {
        cJSON_Delete(w.selector);
        return r;
    }
    int wi = add_workload(y->m, &w, e, sizeof e);
    if (wi < 0) return wi == -EINVAL ? yfail(y, obj, "%s", e) : wi;
    r = expand_workload(y->m, wi, &t, e, sizeof e);
    return r == -EINVAL ? yfail(y, obj, "%s", e) : r;
}

static int y_object(yctx_t *y, const yaml_node_t *obj)
{
    static const char *const kinds[SIM_WKIND_COUNT] = {"Deployment", "StatefulSet", "DaemonSet",
                                                       "ReplicaSet", "Job"};
    const char *kind = yscalar(yget(y, obj, "kind"));
    if (!obj || obj->type != YAML_MAPPING_NODE || !kind)
        return yfail(y, obj, "each object needs a kind");
    if (!strcmp(kind, "Pod")) return y_pod(y, obj);
    for (int k = 0; k < SIM_WKIND_COUNT; k++)
        if (!strcmp(kind, kinds[k])) return y_workload(y, obj, (sim_wkind_t)k);
    return yfail(y, obj,
                 "unsupported kind \"%s\" (Deployment, StatefulSet, DaemonSet, "
                 "ReplicaSet, Job, Pod)",
                 kind);
}

static int y_users(yctx_t *y, const yaml_node_t *n)
{
    if (!n) return 0;
    if (n->type != YAML_SEQUENCE_NODE) return yfail(y, n, "users must be a list");
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        const yaml_node_t *u = ynode(y, *it);
        const char *name = yscalar(yget(y, u, "name"));
        const char *token = yscalar(yget(y, u, "token"));
        const char *cn = yscalar(yget(y, u, "certificateCN"));
        const char *const *denied;
        size_t nd;
        if (!name || !*name) return yfail(y, u, "a user needs a name");
        int r = y_strlist(y, yget(y, u, "deniedNamespaces"), "deniedNamespaces", &denied, &nd);
        if (!r) r = sim_model_add_user(y->m, name, token, cn);
        for (size_t i = 0; !r && i < nd; i++)
            r = sim_model_deny(y->m, name, denied[i]);
        if (r) return r;
    }
    return 0;
}

static int y_root(yctx_t *y, const yaml_node_t *root)
{
    static const char *const known[] = {"namespaces", "nodes", "users", "objects"};
    if (!root || root->type != YAML_MAPPING_NODE)
        return yfail(y, root,
                     "the cluster file must be a mapping (namespaces, nodes, users, "
                     "objects)");
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        const char *k = yscalar(ynode(y, p->key));
        size_t i = 0;
        while (k && i < 4 && strcmp(k, known[i]))
            i++;
        if (!k || i == 4) return yfail(y, ynode(y, p->key), "unknown key \"%s\"", k ? k : "?");
    }
    const char *const *list;
    size_t n;
    int r = y_strlist(y, yget(y, root, "nodes"), "nodes", &list, &n);
    if (r) return r;
    if (n) {
        y->m->nodes = list;
        y->m->nnodes = n;
    }
    if ((r = y_strlist(y, yget(y, root, "namespaces"), "namespaces", &list, &n))) return r;
    for (size_t i = 0; i < n; i++)
        if ((r = add_namespace(y->m, list[i]))) return r;
    if ((r = y_users(y, yget(y, root, "users")))) return r;
    const yaml_node_t *objs = yget(y, root, "objects");
    if (objs && objs->type != YAML_SEQUENCE_NODE) return yfail(y, objs, "objects must be a list");
    for (yaml_node_item_t *it = objs ? objs->data.sequence.items.start : NULL;
         objs && it < objs->data.sequence.items.top; it++)
        if ((r = y_object(y, ynode(y, *it)))) return r;
    return 0;
}

int sim_model_load_yaml(sim_model_t *m, const char *text, size_t len, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (len > SIM_MAX_YAML_BYTES) {
        errbuf_printf(err, errlen, "cluster file larger than %u bytes", SIM_MAX_YAML_BYTES);
        return -EINVAL;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) return -ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        errbuf_printf(err, errlen, "line %zu: %s", parser.problem_mark.line + 1,
                      parser.problem ? parser.problem : "YAML syntax error");
        yaml_parser_delete(&parser);
        return -EINVAL;
    }
    yctx_t y = {m, &doc, err, errlen};
    int r = y_root(&y, yaml_document_get_root_node(&doc));
    if (r == -E2BIG) errbuf_printf(err, errlen, "too many objects (at most %d pods)", SIM_MAX_PODS);
    if (r == -ENOMEM) errbuf_printf(err, errlen, "out of memory");
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (r) return r == -E2BIG ? -EINVAL : r;
    return finish(m, err, errlen);
}

int sim_model_load_file(sim_model_t *m, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        errbuf_printf(err, errlen, "%s: %s", path, strerror(errno));
        return -errno;
    }
    char *buf = malloc(SIM_MAX_YAML_BYTES + 1);
    size_t n = buf ? fread(buf, 1, SIM_MAX_YAML_BYTES + 1, f) : 0;
    int rerr = ferror(f);
    fclose(f);
    if (!buf) return -ENOMEM;
    int r = -EINVAL;
    if (rerr)
        errbuf_printf(err, errlen, "%s: read error", path);
    else if (n > SIM_MAX_YAML_BYTES)
        errbuf_printf(err, errlen, "%s: larger than %u bytes", path, SIM_MAX_YAML_BYTES);
    else
        r = sim_model_load_yaml(m, buf, n, err, errlen);
    if (r && err && errlen && strncmp(err, path, strlen(path))) {
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s: %s", path, err);
        snprintf(err, errlen, "%s", tmp);
    }
    free(buf);
    return r;
}
