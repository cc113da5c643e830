/* api: the REST calls exec clients need (docs/PROTOCOL.md §6): get a pod, list pods with selectors
 * following `continue` pages, resolve a workload to its pods, and kubectl's pod and container
 * choices. Results point into the pages copied out of the JSON, valid for the callback. */
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

/* One page of the list, copied out of its JSON: the pods, their containers, and one block
 * holding every string they point to. The JSON tree (a node per field, every field of every
 * pod) is freed as soon as its page is copied, so a list of thousands of pods never holds more
 * than one page's tree: at 5,000 pods the trees were 60 MB of the process's RSS before any
 * session was opened, and real pods (managedFields) are larger than the sim's. */
typedef struct page {
    pmx_pod_t *pods;
    size_t npods;
    pmx_container_t *cs;
    char *strings;
} page_t;

typedef struct list_req {
    pmx_client_t *c;
    pmx_pods_cb cb;
    void *data;
    char *base; /* path + selectors, without limit/continue */
    int single; /* a GET of one pod */
    page_t *pages;
    size_t npages, cappages;
} list_req_t;

static void page_free(page_t *p)
{
    free(p->pods);
    free(p->cs);
    free(p->strings);
}

static void list_req_free(list_req_t *r)
{
    for (size_t i = 0; i < r->npages; i++)
        page_free(&r->pages[i]);
    free(r->pages);
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

/* Repoints *f at its copy in the string block (at *at). */
static void take_str(const char **f, char **at)
{
    if (!*f) return;
    size_t n = strlen(*f) + 1;
    memcpy(*at, *f, n);
    *f = *at;
    *at += n;
}

static size_t str_size(const char *v)
{
    return v ? strlen(v) + 1 : 0;
}

/* Copies the pods of one JSON page (one pod for a GET) into *pg. 0 or PMX_ENOMEM. */
static int page_from_json(const cJSON *doc, int single, page_t *pg)
{
    memset(pg, 0, sizeof *pg);
    size_t npods = 0, ncont = 0;
    const cJSON *items = single ? NULL : jobj(doc, "items"), *it;
    if (single) {
        npods = 1;
        ncont = count_containers(jobj(doc, "spec"));
    } else {
        cJSON_ArrayForEach(it, items)
        {
            npods++;
            ncont += count_containers(jobj(it, "spec"));
        }
    }
    pg->pods = calloc(npods ? npods : 1, sizeof *pg->pods);
    pg->cs = calloc(ncont ? ncont : 1, sizeof *pg->cs);
    if (!pg->pods || !pg->cs) return PMX_ENOMEM;
    pmx_container_t *cur = pg->cs;
    if (single) {
        fill_pod(&pg->pods[0], doc, &cur);
    } else {
        size_t i = 0;
        cJSON_ArrayForEach(it, items) fill_pod(&pg->pods[i++], it, &cur);
    }
    pg->npods = npods;
    size_t bytes = 1;
    for (size_t i = 0; i < npods; i++) {
        const pmx_pod_t *p = &pg->pods[i];
        bytes += str_size(p->name) + str_size(p->namespace_) + str_size(p->phase) +
                 str_size(p->node_name) + str_size(p->default_container) + str_size(p->created);
    }
    for (size_t i = 0; i < ncont; i++)
        bytes += str_size(pg->cs[i].name);
    char *at = pg->strings = malloc(bytes);
    if (!at) return PMX_ENOMEM;
    for (size_t i = 0; i < npods; i++) {
        pmx_pod_t *p = &pg->pods[i];
        take_str(&p->name, &at);
        take_str(&p->namespace_, &at);
        take_str(&p->phase, &at);
        take_str(&p->node_name, &at);
        take_str(&p->default_container, &at);
        take_str(&p->created, &at);
    }
    for (size_t i = 0; i < ncont; i++)
        take_str(&pg->cs[i].name, &at);
    return 0;
}

static void deliver(list_req_t *r)
{
    size_t npods = 0;
    for (size_t d = 0; d < r->npages; d++)
        npods += r->pages[d].npods;
    pmx_pod_t *pods = calloc(npods ? npods : 1, sizeof *pods);
    if (!pods) {
        r->cb(r->c, PMX_ENOMEM, NULL, "out of memory", r->data);
        list_req_free(r);
        return;
    }
    size_t i = 0;
    for (size_t d = 0; d < r->npages; d++) {
        memcpy(pods + i, r->pages[d].pods, r->pages[d].npods * sizeof *pods);
        i += r->pages[d].npods;
    }
    pmx_pod_list_t list = {pods, npods};
    r->cb(r->c, 0, &list, "", r->data);
    free(pods);
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
    if (!doc || r->npages >= MAX_PAGES) {
        cJSON_Delete(doc);
        r->cb(c, PMX_EPROTO, NULL, "the server sent a malformed pod list", r->data);
        list_req_free(r);
        return;
    }
    if (r->npages == r->cappages) {
        size_t cap = r->cappages ? r->cappages * 2 : 4;
        page_t *pg = realloc(r->pages, cap * sizeof *pg);
        if (!pg) {
            cJSON_Delete(doc);
            r->cb(c, PMX_ENOMEM, NULL, "out of memory", r->data);
            list_req_free(r);
            return;
        }
        r->pages = pg;
        r->cappages = cap;
    }
    page_t *pg = &r->pages[r->npages++];
    int rc = page_from_json(doc, r->single, pg);
    const char *cont = r->single ? NULL : jstr(jobj(doc, "metadata"), "continue");
    int more = rc == 0 && cont && *cont;
    if (more && fetch_page(r, cont) < 0) rc = PMX_ENOMEM; /* cont is copied into the path */
    cJSON_Delete(doc);
    if (rc < 0) {
        r->cb(c, PMX_ENOMEM, NULL, "out of memory", r->data);
        list_req_free(r);
        return;
    }
    if (more) return;
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
