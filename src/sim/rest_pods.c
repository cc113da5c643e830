/* rest_pods: pods as the apiserver writes them (Pod, PodList, field order of the Go types) and
 * their get/list with selectors, limit/continue paging the way the etcd3 store pages. */
#include "sim/rest_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- continue tokens: base64url(JSON), opaque to clients ---------------------------------------
 */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64url(jw_t *w, const unsigned char *s, size_t n)
{
    char q[5];
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? s[i + 2] : 0);
        size_t k = n - i >= 3 ? 4 : n - i + 1;
        for (size_t j = 0; j < 4; j++)
            q[j] = B64[(v >> (18 - 6 * j)) & 63];
        q[k] = '\0';
        jw_raw(w, q);
    }
}

static int unb64(const char *s, buf_t *out)
{
    unsigned acc = 0;
    int bits = 0;
    for (; *s && *s != '='; s++) {
        const char *p = strchr(B64, *s == '+' ? '-' : *s == '/' ? '_' : *s);
        if (!p || !*s) return -1;
        acc = (acc << 6) | (unsigned)(p - B64);
        if ((bits += 6) >= 8) {
            bits -= 8;
            if (buf_append_byte(out, (uint8_t)(acc >> bits))) return -1;
        }
    }
    return 0;
}

static void write_continue(req_t *r, const sim_pod_t *next)
{
    buf_t raw;
    buf_init(&raw, 4096);
    jw_t w = {&raw, 0};
    jw_fmt(&w, "{\"v\":\"meta.k8s.io/v1\",\"rv\":%llu,\"start\":", (unsigned long long)r->m->rv);
    char key[600];
    snprintf(key, sizeof key, "%s/%s", next->ns, next->name);
    jw_str(&w, key);
    jw_raw(&w, "}");
    if (w.err)
        r->w.err = w.err;
    else
        b64url(&r->w, (const unsigned char *)raw.data, raw.len);
    buf_free(&raw);
}

/* Decodes a continue token into the (ns, name) to resume at. */
static int read_continue(const char *tok, char *ns, char *name, size_t cap)
{
    buf_t raw;
    buf_init(&raw, 8192);
    int r = unb64(tok, &raw);
    cJSON *j = r ? NULL : cJSON_ParseWithLength(raw.data ? raw.data : "", raw.len);
    buf_free(&raw);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "v");
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(j, "start");
    const char *slash = cJSON_IsString(start) ? strchr(start->valuestring, '/') : NULL;
    r = -1;
    if (cJSON_IsString(v) && !strcmp(v->valuestring, "meta.k8s.io/v1") && slash &&
        (size_t)(slash - start->valuestring) < cap && strlen(slash + 1) < cap) {
        snprintf(ns, cap, "%.*s", (int)(slash - start->valuestring), start->valuestring);
        snprintf(name, cap, "%s", slash + 1);
        r = 0;
    }
    cJSON_Delete(j);
    return r;
}

/* ---- object writers -------------------------------------------------------------------------- */

/* ObjectMeta in Go field order: name, generateName, namespace, uid, resourceVersion, generation,
 * creationTimestamp, labels, annotations, ownerReferences. */
void rest_w_meta(jw_t *w, const objmeta_t *o)
{
    jw_raw(w, "{");
    jw_kv(w, 1, "name", o->name);
    if (o->generate_name) jw_kv(w, 0, "generateName", o->generate_name);
    if (o->ns) jw_kv(w, 0, "namespace", o->ns);
    jw_kv(w, 0, "uid", o->uid);
    jw_fmt(w, ",\"resourceVersion\":\"%llu\"", (unsigned long long)o->rv);
    if (o->generation) jw_fmt(w, ",\"generation\":%d", o->generation);
    jw_raw(w, ",\"creationTimestamp\":");
    jw_time(w, o->created);
    if (o->labels && o->labels->n) {
        jw_raw(w, ",\"labels\":");
        jw_map(w, o->labels, NULL, NULL);
    }
    if ((o->annotations && o->annotations->n) || o->extra_ann_k) {
        sim_labels_t none = {0};
        jw_raw(w, ",\"annotations\":");
        jw_map(w, o->annotations ? o->annotations : &none, o->extra_ann_k, o->extra_ann_v);
    }
    if (o->owner && o->owner->kind) {
        jw_raw(w, ",\"ownerReferences\":[{");
        jw_kv(w, 1, "apiVersion", o->owner->api_version);
        jw_kv(w, 0, "kind", o->owner->kind);
        jw_kv(w, 0, "name", o->owner->name);
        jw_kv(w, 0, "uid", o->owner->uid);
        jw_raw(w, ",\"controller\":true,\"blockOwnerDeletion\":true}]");
    }
    jw_raw(w, "}");
}

void rest_pod_meta(const sim_pod_t *p, objmeta_t *o)
{
    *o = (objmeta_t){p->name,    p->generate_name, p->ns,           p->uid, p->rv, 0,
                     p->created, &p->labels,       &p->annotations, NULL,   NULL,  &p->owner};
}

static void w_container(jw_t *w, const sim_container_t *c)
{
    jw_raw(w, "{");
    jw_kv(w, 1, "name", c->name);
    jw_kv(w, 0, "image", c->image);
    if (c->ncommand) jw_raw(w, ",\"command\":"), jw_strarr(w, c->command, c->ncommand);
    if (c->nargs) jw_raw(w, ",\"args\":"), jw_strarr(w, c->args, c->nargs);
    if (c->nenv) {
        jw_raw(w, ",\"env\":[");
        for (size_t i = 0; i < c->nenv; i++) {
            const char *eq = strchr(c->env[i], '=');
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(eq ? eq - c->env[i] : 0), c->env[i]);
            jw_raw(w, i ? ",{" : "{");
            jw_kv(w, 1, "name", name);
            if (eq && eq[1]) jw_kv(w, 0, "value", eq + 1);
            jw_raw(w, "}");
        }
        jw_raw(w, "]");
    }
    if (c->kind != SIM_CONTAINER_EPHEMERAL) jw_raw(w, ",\"resources\":{}");
    jw_raw(w, ",\"terminationMessagePath\":\"/dev/termination-log\",\"terminationMessagePolicy\":"
              "\"File\",\"imagePullPolicy\":\"IfNotPresent\"");
    if (c->stdin_) jw_raw(w, ",\"stdin\":true");
    if (c->stdin_once) jw_raw(w, ",\"stdinOnce\":true");
    if (c->tty) jw_raw(w, ",\"tty\":true");
    jw_raw(w, "}");
}

static void w_container_group(jw_t *w, const char *key, const sim_container_t *cs, size_t n,
                              sim_ckind_t kind, int *first_field)
{
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        if (cs[i].kind != kind) continue;
        if (!any)
            jw_fmt(w, "%s\"%s\":[", *first_field ? "" : ",", key);
        else
            jw_raw(w, ",");
        w_container(w, &cs[i]);
        any = 1;
        *first_field = 0;
    }
    if (any) jw_raw(w, "]");
}

/* PodSpec (node NULL for templates, which also lack the admission-set fields). */
void rest_w_podspec(jw_t *w, const sim_container_t *cs, size_t n, const char *restart,
                    const char *sa, const char *node, int host_network, int is_pod)
{
    int first = 1;
    jw_raw(w, "{");
    w_container_group(w, "initContainers", cs, n, SIM_CONTAINER_INIT, &first);
    w_container_group(w, "containers", cs, n, SIM_CONTAINER_REGULAR, &first);
    if (is_pod) w_container_group(w, "ephemeralContainers", cs, n, SIM_CONTAINER_EPHEMERAL, &first);
    jw_kv(w, first, "restartPolicy", restart);
    jw_raw(w, ",\"terminationGracePeriodSeconds\":30,\"dnsPolicy\":\"ClusterFirst\"");
    jw_kv(w, 0, "serviceAccountName", sa);
    jw_kv(w, 0, "serviceAccount", sa);
    if (node) jw_kv(w, 0, "nodeName", node);
    if (host_network) jw_raw(w, ",\"hostNetwork\":true");
    jw_raw(w, ",\"securityContext\":{},\"schedulerName\":\"default-scheduler\"");
    if (is_pod)
        jw_raw(w, ",\"tolerations\":[{\"key\":\"node.kubernetes.io/not-ready\",\"operator\":"
                  "\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300},{\"key\":"
                  "\"node.kubernetes.io/unreachable\",\"operator\":\"Exists\",\"effect\":"
                  "\"NoExecute\",\"tolerationSeconds\":300}],\"priority\":0,"
                  "\"enableServiceLinks\":true,\"preemptionPolicy\":\"PreemptLowerPriority\"");
    jw_raw(w, "}");
}

static uint64_t hash64(const char *a, const char *b, uint64_t seed)
{
    uint64_t h = 1469598103934665603ull ^ seed;
    for (const char *s = a; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    for (const char *s = b; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return (h ^ (h >> 31)) * 0x94d049bb133111ebull;
}

/* 64 hex digits derived from a and b: stable container IDs and image digests. */
static void hex64(const char *a, const char *b, char out[65])
{
    for (uint64_t s = 0; s < 4; s++)
        snprintf(out + 16 * s, 17, "%016llx", (unsigned long long)hash64(a, b, s));
}

typedef enum cstate { CS_NONE, CS_WAITING, CS_RUNNING, CS_DONE, CS_ERROR } cstate_t;

static cstate_t container_state(const sim_pod_t *p, const sim_container_t *c)
{
    if (!p->node_name) return CS_NONE;
    if (!strcmp(p->phase, "Pending")) return CS_WAITING;
    if (!strcmp(p->phase, "Running")) return c->kind == SIM_CONTAINER_INIT ? CS_DONE : CS_RUNNING;
    if (!strcmp(p->phase, "Failed") && c->kind != SIM_CONTAINER_INIT) return CS_ERROR;
    return CS_DONE;
}

static void w_cstatus(jw_t *w, const sim_pod_t *p, const sim_container_t *c, cstate_t st)
{
    char cid[65];
    hex64(p->uid, c->name, cid);
    jw_raw(w, "{");
    jw_kv(w, 1, "name", c->name);
    jw_raw(w, ",\"state\":{");
    if (st == CS_WAITING) {
        jw_raw(w, "\"waiting\":{\"reason\":\"ContainerCreating\"}");
    } else if (st == CS_RUNNING) {
        jw_raw(w, "\"running\":{\"startedAt\":"), jw_time(w, p->created + 2), jw_raw(w, "}");
    } else {
        jw_fmt(w,
               "\"terminated\":{\"exitCode\":%d,\"reason\":\"%s\",\"startedAt\":", st == CS_ERROR,
               st == CS_ERROR ? "Error" : "Completed");
        jw_time(w, p->created + 2);
        jw_raw(w, ",\"finishedAt\":"), jw_time(w, p->created + 10);
        jw_fmt(w, ",\"containerID\":\"containerd://%s\"}", cid);
    }
    jw_fmt(w, "},\"lastState\":{},\"ready\":%s,\"restartCount\":%d",
           st == CS_RUNNING && c->kind == SIM_CONTAINER_REGULAR ? "true" : "false", p->restarts);
    jw_kv(w, 0, "image", c->image);
    jw_raw(w, ",\"imageID\":");
    if (st == CS_WAITING) {
        jw_raw(w, "\"\",\"started\":false}");
        return;
    }
    const char *colon = strrchr(c->image, ':'), *slash = strrchr(c->image, '/');
    size_t nl = colon && (!slash || colon > slash) ? (size_t)(colon - c->image) : strlen(c->image);
    char img[400], digest[65];
    hex64(c->image, "", digest);
    snprintf(img, sizeof img, "%.*s@sha256:%s", (int)(nl < 250 ? nl : 250), c->image, digest);
    jw_str(w, img);
    jw_fmt(w, ",\"containerID\":\"containerd://%s", cid);
    jw_fmt(w, "\",\"started\":%s}", st == CS_RUNNING ? "true" : "false");
}

static void w_cstatuses(jw_t *w, const sim_pod_t *p, const char *key, sim_ckind_t kind)
{
    int first = 1;
    for (size_t i = 0; i < p->ncontainers; i++) {
        const sim_container_t *c = &p->containers[i];
        if (c->kind != kind) continue;
        jw_fmt(w, first ? ",\"%s\":[" : ",", key);
        w_cstatus(w, p, c, container_state(p, c));
        first = 0;
    }
    if (!first) jw_raw(w, "]");
}

static void w_cond(jw_t *w, int first, const char *type, int ok, long long t, const char *reason,
                   const char *message)
{
    jw_fmt(w, "%s{\"type\":\"%s\",\"status\":\"%s\",\"lastProbeTime\":null,\"lastTransitionTime\":",
           first ? "" : ",", type, ok ? "True" : "False");
    jw_time(w, t);
    if (reason) jw_kv(w, 0, "reason", reason);
    if (message) jw_kv(w, 0, "message", message);
    jw_raw(w, "}");
}

static void w_podstatus(req_t *r, const sim_pod_t *p)
{
    jw_t *w = &r->w;
    int running = !strcmp(p->phase, "Running");
    const char *done = !strcmp(p->phase, "Succeeded") ? "PodCompleted"
                       : !strcmp(p->phase, "Failed")  ? "PodFailed"
                                                      : NULL;
    long long t = p->created + 3;
    jw_raw(w, "{");
    jw_kv(w, 1, "phase", p->phase);
    jw_raw(w, ",\"conditions\":[");
    if (!p->node_name) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "0/%zu nodes are available: %zu node(s) didn't match Pod's "
                 "node affinity/selector.",
                 r->m->nnodes, r->m->nnodes);
        w_cond(w, 1, "PodScheduled", 0, p->created, "Unschedulable", msg);
    } else {
        const char *why = done ? done : running ? NULL : "ContainersNotReady";
        w_cond(w, 1, "PodReadyToStartContainers", running, t, NULL, NULL);
        w_cond(w, 0, "Initialized", 1, t, done, NULL);
        w_cond(w, 0, "Ready", running, t, why, NULL);
        w_cond(w, 0, "ContainersReady", running, t, why, NULL);
        w_cond(w, 0, "PodScheduled", 1, p->created, NULL, NULL);
    }
    jw_raw(w, "]");
    if (p->node_name) {
        jw_kv(w, 0, "hostIP", p->host_ip);
        jw_raw(w, ",\"hostIPs\":[{\"ip\":"), jw_str(w, p->host_ip), jw_raw(w, "}]");
        jw_kv(w, 0, "podIP", p->pod_ip);
        jw_raw(w, ",\"podIPs\":[{\"ip\":"), jw_str(w, p->pod_ip), jw_raw(w, "}]");
        jw_raw(w, ",\"startTime\":"), jw_time(w, p->created + 1);
        w_cstatuses(w, p, "initContainerStatuses", SIM_CONTAINER_INIT);
        w_cstatuses(w, p, "containerStatuses", SIM_CONTAINER_REGULAR);
    }
    jw_raw(w, ",\"qosClass\":\"BestEffort\"");
    if (p->node_name) w_cstatuses(w, p, "ephemeralContainerStatuses", SIM_CONTAINER_EPHEMERAL);
    jw_raw(w, "}");
}

void rest_w_pod(req_t *r, const sim_pod_t *p, int with_type)
{
    jw_t *w = &r->w;
    objmeta_t o;
    rest_pod_meta(p, &o);
    jw_raw(w,
           with_type ? "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":" : "{\"metadata\":");
    rest_w_meta(w, &o);
    jw_raw(w, ",\"spec\":");
    rest_w_podspec(w, p->containers, p->ncontainers, p->restart_policy, p->service_account,
                   p->node_name, p->host_network, 1);
    jw_raw(w, ",\"status\":");
    w_podstatus(r, p);
    jw_raw(w, "}");
}

/* ---- pods ------------------------------------------------------------------------------------ */

int rest_pod_match(const sim_pod_t *p, const sel_t *ls, const fsel_t *fs)
{
    if (!sel_match(ls, p->labels.keys, p->labels.values, p->labels.n)) return 0;
    if (!fs->n) return 1;
    static const char *const k[] = {
        "metadata.name",      "metadata.namespace",      "spec.nodeName",    "spec.restartPolicy",
        "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
        "status.podIP",       "status.nominatedNodeName"};
    const char *v[] = {p->name,
                       p->ns,
                       p->node_name ? p->node_name : "",
                       p->restart_policy,
                       p->scheduler_name,
                       p->service_account,
                       p->host_network ? "true" : "false",
                       p->phase,
                       p->pod_ip ? p->pod_ip : "",
                       ""};
    return fsel_match(fs, k, v, 10);
}

int rest_get_pod(req_t *r, const char *ns, const char *name)
{
    if (rest_authorize(r, "get", "pods", "", ns, name)) return 0;
    const sim_pod_t *p = sim_model_find_pod(r->m, ns, name);
    if (!p) return rest_not_found(r, "pods", "", name);
    if (!r->table) {
        rest_w_pod(r, p, 1);
        jw_raw(&r->w, "\n");
        return 0;
    }
    jw_fmt(&r->w,
           "{\"kind\":\"Table\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":"
           "\"%llu\"},",
           r->table_api, (unsigned long long)p->rv);
    jw_raw(&r->w, REST_POD_COLUMNS);
    jw_raw(&r->w, "\"rows\":[");
    rest_w_pod_row(r, p);
    jw_raw(&r->w, "]}\n");
    return 0;
}

typedef struct page {
    size_t *idx, n;      /* matching pods */
    size_t next;         /* first pod of the next page, or SIZE_MAX */
    long long remaining; /* -1: unknown (selectors in use) */
} page_t;

/* Walks [lo, hi) collecting matches; with a limit, stops when the page is full or the scan
 * budget is spent, like the etcd3 store (so a page may be short, even empty, with more to come). */
/* Pods in [lo, hi) that exist now (all of them unless some have a timeline). */
static long long live_in(const sim_model_t *m, size_t lo, size_t hi)
{
    long long n = (long long)(hi - lo);
    for (size_t i = lo; m->timeline && i < hi; i++)
        n -= m->pods[i].life != SIM_POD_LIVE;
    return n;
}

static int fill_page(req_t *r, size_t lo, size_t hi, long long limit, const sel_t *ls,
                     const fsel_t *fs, page_t *pg)
{
    pg->idx = malloc(((hi > lo ? hi - lo : 0) + 1) * sizeof *pg->idx);
    if (!pg->idx) return -ENOMEM;
    pg->n = 0;
    size_t i = lo, scanned = 0;
    for (; i < hi; i++) {
        if (limit > 0 && ((long long)pg->n == limit || scanned == LIST_SCAN_BUDGET)) break;
        scanned++;
        const sim_pod_t *p = &r->m->pods[i];
        if (p->life == SIM_POD_LIVE && rest_pod_match(p, ls, fs)) pg->idx[pg->n++] = i;
    }
    pg->next = i < hi ? i : SIZE_MAX;
    pg->remaining = (i < hi && sel_is_everything(ls) && !fs->n) ? live_in(r->m, i, hi) : -1;
    return 0;
}

static size_t ns_end(const sim_model_t *m, const char *ns)
{
    size_t lo = sim_model_pod_lower_bound(m, ns, ""), hi = m->npods;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(m->pods[mid].ns, ns) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void w_pod_page(req_t *r, const page_t *pg)
{
    jw_t *w = &r->w;
    if (r->table)
        jw_fmt(w, "{\"kind\":\"Table\",\"apiVersion\":\"%s\",", r->table_api);
    else
        jw_raw(w, "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",");
    jw_fmt(w, "\"metadata\":{\"resourceVersion\":\"%llu\"", (unsigned long long)r->m->rv);
    if (pg->next != SIZE_MAX) {
        jw_raw(w, ",\"continue\":\"");
        write_continue(r, &r->m->pods[pg->next]);
        jw_raw(w, "\"");
        if (pg->remaining >= 0) jw_fmt(w, ",\"remainingItemCount\":%lld", pg->remaining);
    }
    jw_raw(w, "},");
    if (r->table) jw_raw(w, REST_POD_COLUMNS);
    jw_raw(w, r->table ? "\"rows\":[" : "\"items\":[");
    for (size_t i = 0; i < pg->n && !w->err; i++) {
        if (i) jw_raw(w, ",");
        if (r->table)
            rest_w_pod_row(r, &r->m->pods[pg->idx[i]]);
        else
            rest_w_pod(r, &r->m->pods[pg->idx[i]], 0);
    }
    jw_raw(w, "]}\n");
}

/* Parses labelSelector and fieldSelector; on error the 400 is written and -1 returned. */
int rest_read_selectors(req_t *r, buf_t *q, sel_t *ls, fsel_t *fs, int pods)
{
    char err[1024];
    sel_init(ls);
    fsel_init(fs);
    int got = rest_query_get(r->query, "labelSelector", q);
    if (got < 0) return rest_bad_request(r, "labelSelector too long"), -1;
    if (got && sel_parse(ls, q->data, q->len, err, sizeof err)) return rest_bad_request(r, err), -1;
    got = rest_query_get(r->query, "fieldSelector", q);
    if (got < 0) return rest_bad_request(r, "fieldSelector too long"), -1;
    if (got && fsel_parse_pod(fs, q->data, err, sizeof err)) return rest_bad_request(r, err), -1;
    for (size_t i = 0; !pods && i < fs->n; i++) /* other objects select on metadata only */
        if (strcmp(fs->terms[i].field, "metadata.name") &&
            strcmp(fs->terms[i].field, "metadata.namespace")) {
            snprintf(err, sizeof err, "field label not supported: %s", fs->terms[i].field);
            return rest_bad_request(r, err), -1;
        }
    return 0;
}

int rest_list_pods(req_t *r, const char *ns)
{
    if (rest_authorize(r, "list", "pods", "", ns, NULL)) return 0;
    buf_t q;
    buf_init(&q, SEL_MAX_TEXT + 1);
    sel_t ls;
    fsel_t fs;
    page_t pg = {0};
    size_t lo = ns ? sim_model_pod_lower_bound(r->m, ns, "") : 0;
    size_t hi = ns ? ns_end(r->m, ns) : r->m->npods;
    long long limit = 0;
    if (rest_read_selectors(r, &q, &ls, &fs, 1)) goto out;
    if (rest_query_get(r->query, "limit", &q) > 0) limit = strtoll(q.data, NULL, 10);
    if (rest_query_get(r->query, "continue", &q) > 0 && q.len) {
        char cns[300], cname[300];
        if (read_continue(q.data, cns, cname, sizeof cns) || (ns && strcmp(cns, ns))) {
            rest_bad_request(r, "continue key is not valid: the continue token is not a podmux-sim "
                                "token for this list");
            goto out;
        }
        size_t at = sim_model_pod_lower_bound(r->m, cns, cname);
        if (at > lo) lo = at;
    }
    if (fill_page(r, lo, hi, limit, &ls, &fs, &pg))
        r->w.err = -ENOMEM;
    else
        w_pod_page(r, &pg);
out:
    free(pg.idx);
    sel_free(&ls);
    fsel_free(&fs);
    buf_free(&q);
    return 0;
}
