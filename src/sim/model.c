/* model: the simulated cluster's storage: the arena, deterministic names, users and lookups.
 * model_build.c expands objects the way the controllers would, model_yaml.c reads the cluster
 * file, model_time.c moves pods along their timelines. */
#include "sim/model_internal.h"

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

void *model_alloc(sim_model_t *m, size_t n)
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

const char *model_strdup(sim_model_t *m, const char *s)
{
    size_t n = strlen(s);
    char *p = model_alloc(m, n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

const char *model_printf(sim_model_t *m, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) return NULL;
    return model_strdup(m, tmp);
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

const char *model_uid(sim_model_t *m, const char *kind, const char *ns, const char *name)
{
    char key[600];
    snprintf(key, sizeof key, "%s/%s/%s", kind, ns ? ns : "", name);
    uint64_t a = fnv64(key, 1), b = fnv64(key, 2);
    return model_printf(m, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
                        (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
                        0x8000 | ((unsigned)(b >> 48) & 0x3fff),
                        (unsigned long long)(b & 0xffffffffffffull));
}

/* 10 characters that are both hex digits and in Kubernetes' safe alphabet: the shape of a
 * pod-template-hash ("5d8f7c9b4c"). */
void model_hash10(const char *key, char out[11])
{
    static const char alpha[] = "245679bcdf";
    uint64_t h = fnv64(key, 3);
    for (int i = 0; i < 10; i++, h /= 10)
        out[i] = alpha[h % 10];
    out[10] = '\0';
}

/* Pod-name suffix: 5 characters of the safe alphabet, a bijection of the index (7919 is prime
 * to 27^5) offset by the owner's hash, so names are unique and stable. */
void model_suffix5(const char *owner, size_t index, char out[6])
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
int model_labels_merge(sim_model_t *m, const sim_labels_t *base, const char *const *ek,
                       const char *const *ev, size_t en, sim_labels_t *out)
{
    size_t cap = base->n + en;
    const char **k = model_alloc(m, (cap ? cap : 1) * sizeof *k);
    const char **v = model_alloc(m, (cap ? cap : 1) * sizeof *v);
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

/* Arrays (pods, workloads...) model_grow by doubling from 8: realloc exactly when the count in use
 * is 0 or a power of two >= 8, so no separate capacity field is needed. */
int model_grow(void **arr, size_t n, size_t elem, size_t limit)
{
    if (n >= limit) return -E2BIG;
    if (n != 0 && (n < 8 || (n & (n - 1)))) return 0;
    size_t cap = n == 0 ? 8 : n * 2;
    void *p = realloc(*arr, cap * elem);
    if (!p) return -ENOMEM;
    *arr = p;
    return 0;
}

int model_add_namespace(sim_model_t *m, const char *name)
{
    if (sim_model_find_namespace(m, name)) return 0;
    int r = model_grow((void **)&m->namespaces, m->nnamespaces, sizeof *m->namespaces, 10000);
    if (r) return r;
    sim_namespace_t *ns = &m->namespaces[m->nnamespaces];
    ns->name = model_strdup(m, name);
    ns->uid = model_uid(m, "Namespace", NULL, name);
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
    m->mono_start_ms = model_mono_ms();
    m->rv = 1000;
    static const char *const default_nodes[] = {"sim-node-1"};
    m->nodes = default_nodes;
    m->nnodes = 1;
    m->server_address = "127.0.0.1:6443";
    if (model_add_namespace(m, "default")) {
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
    if (m->watch_hub && m->watch_hub_free) m->watch_hub_free(m->watch_hub);
    model_timeline_free(m);
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
    const char *s = model_strdup(m, hostport);
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
        int r = model_grow((void **)&m->users, m->nusers, sizeof *m->users, 10000);
        if (r) return r;
        u = &m->users[m->nusers];
        memset(u, 0, sizeof *u);
        if (!(u->name = model_strdup(m, name))) return -ENOMEM;
        m->nusers++;
    }
    if (token && !(u->token = model_strdup(m, token))) return -ENOMEM;
    if (cert_cn && !(u->cert_cn = model_strdup(m, cert_cn))) return -ENOMEM;
    return 0;
}

int sim_model_deny(sim_model_t *m, const char *user, const char *ns)
{
    sim_user_t *u = find_user(m, user);
    if (!u) return -ENOENT;
    const char **d = model_alloc(m, (u->ndenied + 1) * sizeof *d);
    if (!d) return -ENOMEM;
    if (u->ndenied) memcpy(d, u->denied, u->ndenied * sizeof *d);
    if (!(d[u->ndenied] = model_strdup(m, ns))) return -ENOMEM;
    u->denied = d;
    u->ndenied++;
    return 0;
}

int sim_model_set_impersonate(sim_model_t *m, const char *user, int kind, const char *const *list,
                              size_t n)
{
    sim_user_t *u = find_user(m, user);
    if (!u || kind < 0 || kind > SIM_IMP_EXTRAS) return -ENOENT;
    u->imp[kind] = list;
    u->nimp[kind] = n;
    return 0;
}

int sim_model_may_impersonate(const sim_model_t *m, const char *user, int kind, const char *name)
{
    const sim_user_t *u = user ? find_user(m, user) : NULL;
    if (!user) return 1; /* no authentication in force */
    if (!u || kind < 0 || kind > SIM_IMP_EXTRAS) return 0;
    const char *eq = kind == SIM_IMP_EXTRAS ? strchr(name, '=') : NULL;
    for (size_t i = 0; i < u->nimp[kind]; i++) {
        const char *g = u->imp[kind][i];
        if (!strcmp(g, "*") || !strcmp(g, name)) return 1;
        if (eq && !strncmp(g, name, (size_t)(eq - name) + 1) && !strcmp(g + (eq - name) + 1, "*"))
            return 1;
    }
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

int model_pod_key_cmp(const char *ns1, const char *n1, const char *ns2, const char *n2)
{
    int c = strcmp(ns1, ns2);
    return c ? c : strcmp(n1, n2);
}

size_t sim_model_pod_lower_bound(const sim_model_t *m, const char *ns, const char *name)
{
    size_t lo = 0, hi = m->npods;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (model_pod_key_cmp(m->pods[mid].ns, m->pods[mid].name, ns ? ns : "", name ? name : "") <
            0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const sim_pod_t *sim_model_find_pod(const sim_model_t *m, const char *ns, const char *name)
{
    size_t i = sim_model_pod_lower_bound(m, ns, name);
    /* A pod before its create-after or after its delete-after is not there. */
    if (i < m->npods && !strcmp(m->pods[i].ns, ns) && !strcmp(m->pods[i].name, name) &&
        m->pods[i].life == SIM_POD_LIVE)
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

const sim_workload_t *sim_model_owner(const sim_model_t *m, const sim_owner_t *o)
{
    for (size_t i = 0; o->uid && i < m->nworkloads; i++)
        if (!strcmp(m->workloads[i].uid, o->uid)) return &m->workloads[i];
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
