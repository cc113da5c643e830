/* api: the REST calls exec clients need (docs/PROTOCOL.md §6): get a pod, list pods with selectors
 * following `continue` pages, resolve a workload to its pods, and kubectl's pod and container
 * choices. Results point into the parsed JSON, valid for the callback. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "client/errors.h"
#include "client/request.h"
#include "kube/selector.h"
#include "proto/http.h"

#define PAGE_LIMIT "500"
#define MAX_PAGES 10000

typedef struct list_req {
    pmx_client_t *c;
    pmx_pods_cb cb;
    void *data;
    char *base; /* path + selectors, without limit/continue */
    int single; /* a GET of one pod */
    cJSON **docs;
    size_t ndocs, capdocs;
} list_req_t;

static void list_req_free(list_req_t *r)
{
    for (size_t i = 0; i < r->ndocs; i++)
        cJSON_Delete(r->docs[i]);
    free(r->docs);
    free(r->base);
    free(r);
}

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *jobj(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static size_t count_containers(const cJSON *spec)
{
    static const char *const lists[] = {"containers", "initContainers", "ephemeralContainers"};
    size_t n = 0;
    for (int i = 0; i < 3; i++)
        n += (size_t)cJSON_GetArraySize(jobj(spec, lists[i]));
    return n;
}

/* Fills pod from its JSON; containers are written at *cs (advanced). */
static void fill_pod(pmx_pod_t *pod, const cJSON *j, pmx_container_t **cs)
{
    const cJSON *md = jobj(j, "metadata"), *spec = jobj(j, "spec"), *st = jobj(j, "status");
    memset(pod, 0, sizeof *pod);
    pod->name = jstr(md, "name");
    pod->namespace_ = jstr(md, "namespace");
    pod->created = jstr(md, "creationTimestamp");
    pod->deleting = jstr(md, "deletionTimestamp") != NULL;
    pod->default_container =
        jstr(jobj(md, "annotations"), "kubectl.kubernetes.io/default-container");
    pod->phase = jstr(st, "phase");
    if (!pod->phase) pod->phase = "Unknown";
    pod->node_name = jstr(spec, "nodeName");
    const cJSON *cond;
    cJSON_ArrayForEach(cond, jobj(st, "conditions"))
    {
        const char *t = jstr(cond, "type"), *v = jstr(cond, "status");
        if (t && v && !strcmp(t, "Ready")) pod->ready = !strcmp(v, "True");
    }
    const cJSON *cst;
    cJSON_ArrayForEach(cst, jobj(st, "containerStatuses"))
    {
        const cJSON *rc = jobj(cst, "restartCount");
        if (cJSON_IsNumber(rc) && rc->valueint > pod->restarts) pod->restarts = rc->valueint;
    }
    static const char *const lists[] = {"containers", "initContainers", "ephemeralContainers"};
    pod->containers = *cs;
    for (int k = 0; k < 3; k++) {
        const cJSON *ct;
        cJSON_ArrayForEach(ct, jobj(spec, lists[k]))
        {
            pmx_container_t *c = (*cs)++;
            c->name = jstr(ct, "name");
            c->kind = k;
            c->tty = cJSON_IsTrue(jobj(ct, "tty"));
            c->stdin_ = cJSON_IsTrue(jobj(ct, "stdin"));
            if (!c->name) c->name = "";
            pod->ncontainers++;
        }
    }
    if (!pod->name) pod->name = "";
    if (!pod->namespace_) pod->namespace_ = "";
}

static void deliver(list_req_t *r)
{
    size_t npods = 0, ncont = 0;
    for (size_t d = 0; d < r->ndocs; d++) {
        if (r->single) {
            npods++;
            ncont += count_containers(jobj(r->docs[d], "spec"));
            continue;
        }
        const cJSON *it;
        cJSON_ArrayForEach(it, jobj(r->docs[d], "items"))
        {
            npods++;
            ncont += count_containers(jobj(it, "spec"));
        }
    }
    pmx_pod_t *pods = calloc(npods ? npods : 1, sizeof *pods);
    pmx_container_t *cs = calloc(ncont ? ncont : 1, sizeof *cs);
    if (!pods || !cs) {
        free(pods);
        free(cs);
        r->cb(r->c, PMX_ENOMEM, NULL, "out of memory", r->data);
        list_req_free(r);
        return;
    }
    pmx_container_t *cur = cs;
    size_t i = 0;
    for (size_t d = 0; d < r->ndocs; d++) {
        if (r->single) {
            fill_pod(&pods[i++], r->docs[d], &cur);
            continue;
        }
        const cJSON *it;
        cJSON_ArrayForEach(it, jobj(r->docs[d], "items")) fill_pod(&pods[i++], it, &cur);
    }
    pmx_pod_list_t list = {pods, npods};
    r->cb(r->c, 0, &list, "", r->data);
    free(pods);
    free(cs);
    list_req_free(r);
}

static int fetch_page(list_req_t *r, const char *cont);

static void page_cb(pmx_client_t *c, int err, int status, const char *body, size_t len,
                    const char *message, void *data)
{
    list_req_t *r = data;
    if (err < 0) {
        r->cb(c, err, NULL, message, r->data);
        list_req_free(r);
        return;
    }
    cJSON *doc = cJSON_ParseWithLength(body, len);
    if (!doc || r->ndocs >= MAX_PAGES) {
        cJSON_Delete(doc);
        r->cb(c, PMX_EPROTO, NULL, "the server sent a malformed pod list", r->data);
        list_req_free(r);
        return;
    }
    if (r->ndocs == r->capdocs) {
        size_t cap = r->capdocs ? r->capdocs * 2 : 4;
        cJSON **d = realloc(r->docs, cap * sizeof *d);
        if (!d) {
            cJSON_Delete(doc);
            r->cb(c, PMX_ENOMEM, NULL, "out of memory", r->data);
            list_req_free(r);
            return;
        }
        r->docs = d;
        r->capdocs = cap;
    }
    r->docs[r->ndocs++] = doc;
    const char *cont = r->single ? NULL : jstr(jobj(doc, "metadata"), "continue");
    if (cont && *cont) {
        if (fetch_page(r, cont) < 0) {
            r->cb(c, PMX_ENOMEM, NULL, "out of memory", r->data);
            list_req_free(r);
        }
        return;
    }
    deliver(r);
}

static int fetch_page(list_req_t *r, const char *cont)
{
    buf_t p;
    buf_init(&p, 0);
    int first = strchr(r->base, '?') == NULL;
    int rc = buf_append_str(&p, r->base);
    if (!r->single) {
        if (!rc) rc = http_query_add(&p, &first, "limit", PAGE_LIMIT);
        if (!rc && cont) rc = http_query_add(&p, &first, "continue", cont);
    }
    if (!rc) rc = pmx__get(r->c, p.data, page_cb, r);
    buf_free(&p);
    return rc;
}

static list_req_t *list_req_new(pmx_client_t *c, pmx_pods_cb cb, void *data)
{
    list_req_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->c = c;
    r->cb = cb;
    r->data = data;
    return r;
}

static int valid_name(const char *v)
{
    return v && *v && strlen(v) < 254 && !strpbrk(v, "/?#% \t\r\n");
}

PMX_API int pmx_get_pod(pmx_client_t *c, const char *ns, const char *name, pmx_pods_cb cb,
                        void *data)
{
    if (!c || !cb || !valid_name(name)) return PMX_EINVAL;
    if (!ns) ns = pmx_client_namespace(c);
    if (!valid_name(ns)) return PMX_EINVAL;
    list_req_t *r = list_req_new(c, cb, data);
    if (!r) return PMX_ENOMEM;
    buf_t p;
    buf_init(&p, 0);
    r->single = 1;
    /* A failed append is an error, never a shorter path. */
    int rc = buf_printf(&p, "/api/v1/namespaces/%s/pods/%s", ns, name);
    r->base = rc == 0 ? buf_steal(&p) : NULL;
    buf_free(&p);
    rc = r->base ? fetch_page(r, NULL) : PMX_ENOMEM;
    if (rc < 0) list_req_free(r);
    return rc < 0 ? pmx__err_from_internal(rc) : 0;
}

PMX_API int pmx_list_pods(pmx_client_t *c, const char *ns, const char *label_selector,
                          const char *field_selector, pmx_pods_cb cb, void *data)
{
    if (!c || !cb || (ns && !valid_name(ns))) return PMX_EINVAL;
    list_req_t *r = list_req_new(c, cb, data);
    if (!r) return PMX_ENOMEM;
    buf_t p;
    buf_init(&p, 0);
    int first = 1;
    int rc =
        ns ? buf_printf(&p, "/api/v1/namespaces/%s/pods", ns) : buf_append_str(&p, "/api/v1/pods");
    if (!rc && label_selector && *label_selector)
        rc = http_query_add(&p, &first, "labelSelector", label_selector);
    if (!rc && field_selector && *field_selector)
        rc = http_query_add(&p, &first, "fieldSelector", field_selector);
    r->base = rc == 0 ? buf_steal(&p) : NULL;
    buf_free(&p);
    rc = r->base ? fetch_page(r, NULL) : PMX_ENOMEM;
    if (rc < 0) list_req_free(r);
    return rc < 0 ? pmx__err_from_internal(rc) : 0;
}

/* ---- workloads ------------------------------------------------------------------------------ */
typedef struct wl_req {
    pmx_client_t *c;
    pmx_pods_cb cb;
    void *data;
    char *ns;
} wl_req_t;

static const struct {
    const char *names[4];
    const char *api;
    const char *resource;
} WORKLOADS[] = {
    {{"deploy", "deployment", "deployments", NULL}, "/apis/apps/v1", "deployments"},
    {{"sts", "statefulset", "statefulsets", NULL}, "/apis/apps/v1", "statefulsets"},
    {{"ds", "daemonset", "daemonsets", NULL}, "/apis/apps/v1", "daemonsets"},
    {{"rs", "replicaset", "replicasets", NULL}, "/apis/apps/v1", "replicasets"},
    {{"job", "jobs", NULL, NULL}, "/apis/batch/v1", "jobs"},
};

static void empty_list(wl_req_t *w)
{
    pmx_pod_list_t list = {NULL, 0};
    w->cb(w->c, 0, &list, "", w->data);
}

static void workload_cb(pmx_client_t *c, int err, int status, const char *body, size_t len,
                        const char *message, void *data)
{
    wl_req_t *w = data;
    if (err < 0) {
        w->cb(c, err, NULL, message, w->data);
        goto done;
    }
    cJSON *doc = cJSON_ParseWithLength(body, len);
    sel_t sel;
    char serr[256] = "";
    int rc = sel_from_label_selector(&sel, doc ? jobj(jobj(doc, "spec"), "selector") : NULL, serr,
                                     sizeof serr);
    cJSON_Delete(doc);
    if (rc < 0) {
        sel_free(&sel);
        w->cb(c, PMX_EPROTO, NULL, serr, w->data);
        goto done;
    }
    if (sel.nothing) {
        sel_free(&sel);
        empty_list(w);
        goto done;
    }
    buf_t text;
    buf_init(&text, 0);
    sel_render(&sel, &text);
    sel_free(&sel);
    rc = pmx_list_pods(c, w->ns, text.data ? text.data : "", NULL, w->cb, w->data);
    buf_free(&text);
    if (rc < 0) w->cb(c, rc, NULL, "cannot list pods", w->data);
done:
    free(w->ns);
    free(w);
}

PMX_API int pmx_list_workload_pods(pmx_client_t *c, const char *ns, const char *workload,
                                   pmx_pods_cb cb, void *data)
{
    if (!c || !cb || !workload) return PMX_EINVAL;
    const char *slash = strchr(workload, '/');
    if (!slash || !valid_name(slash + 1)) return PMX_EINVAL;
    size_t kl = (size_t)(slash - workload);
    int found = -1;
    for (size_t i = 0; i < sizeof WORKLOADS / sizeof WORKLOADS[0] && found < 0; i++)
        for (int k = 0; k < 4 && WORKLOADS[i].names[k]; k++)
            if (strlen(WORKLOADS[i].names[k]) == kl &&
                !strncasecmp(workload, WORKLOADS[i].names[k], kl))
                found = (int)i;
    if (found < 0) return PMX_EINVAL;
    if (!ns) ns = pmx_client_namespace(c);
    if (!valid_name(ns)) return PMX_EINVAL;
    wl_req_t *w = calloc(1, sizeof *w);
    if (!w || !(w->ns = strdup(ns))) {
        free(w);
        return PMX_ENOMEM;
    }
    w->c = c;
    w->cb = cb;
    w->data = data;
    char path[600];
    snprintf(path, sizeof path, "%s/namespaces/%s/%s/%s", WORKLOADS[found].api, ns,
             WORKLOADS[found].resource, slash + 1);
    int rc = pmx__get(c, path, workload_cb, w);
    if (rc < 0) {
        free(w->ns);
        free(w);
    }
    return pmx__err_from_internal(rc);
}

/* ---- kubectl's choices ------------------------------------------------------------------------
 */
static int phase_rank(const char *p)
{
    if (!strcmp(p, "Running")) return 0;
    if (!strcmp(p, "Unknown")) return 1;
    if (!strcmp(p, "Pending")) return 2;
    return 3;
}

/* <0 when a is "more active" than b (kubectl's ActivePods, reversed). */
static int more_active(const pmx_pod_t *a, const pmx_pod_t *b)
{
    int an = a->node_name && *a->node_name, bn = b->node_name && *b->node_name;
    if (an != bn) return bn - an;
    int pa = phase_rank(a->phase), pb = phase_rank(b->phase);
    if (pa != pb) return pa - pb;
    if (a->ready != b->ready) return b->ready - a->ready;
    if (a->deleting != b->deleting) return a->deleting - b->deleting;
    if (a->restarts != b->restarts) return a->restarts - b->restarts;
    if (a->created && b->created) return strcmp(a->created, b->created); /* older first */
    return 0;
}

PMX_API int pmx_pick_pod(const pmx_pod_list_t *list)
{
    if (!list || !list->npods) return -1;
    size_t best = 0;
    for (size_t i = 1; i < list->npods; i++)
        if (more_active(&list->pods[i], &list->pods[best]) < 0) best = i;
    return (int)best;
}

PMX_API const char *pmx_default_container(const pmx_pod_t *pod)
{
    if (!pod) return NULL;
    if (pod->default_container)
        for (size_t i = 0; i < pod->ncontainers; i++)
            if (!strcmp(pod->containers[i].name, pod->default_container))
                return pod->containers[i].name;
    for (size_t i = 0; i < pod->ncontainers; i++)
        if (pod->containers[i].kind == 0) return pod->containers[i].name;
    return NULL;
}
