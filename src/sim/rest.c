/* rest: the read-only REST API of podmux-sim: routing, content negotiation, namespaces,
 * discovery, and the apiserver's checks before exec/attach. The resources live in rest_pods.c,
 * rest_workloads.c and rest_tables.c; JSON and Status writing in rest_json.c. */
#include "sim/rest_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- namespaces ------------------------------------------------------------------------------ */

static void w_namespace(req_t *r, const sim_namespace_t *ns, int with_type)
{
    static const char *const k[] = {"kubernetes.io/metadata.name"};
    const char *v[] = {ns->name};
    sim_labels_t l = {k, v, 1};
    objmeta_t o = {ns->name,    NULL, NULL, ns->uid, ns->rv, 0,
                   ns->created, &l,   NULL, NULL,    NULL,   NULL};
    jw_raw(&r->w, with_type ? "{\"kind\":\"Namespace\",\"apiVersion\":\"v1\",\"metadata\":"
                            : "{\"metadata\":");
    rest_w_meta(&r->w, &o);
    jw_raw(&r->w, ",\"spec\":{\"finalizers\":[\"kubernetes\"]},\"status\":{\"phase\":\"Active\"}}");
}

static int ns_cmp(const void *a, const void *b)
{
    return strcmp((*(const sim_namespace_t *const *)a)->name,
                  (*(const sim_namespace_t *const *)b)->name);
}

static int list_namespaces(req_t *r)
{
    if (rest_authorize(r, "list", "namespaces", "", NULL, NULL)) return 0;
    const sim_namespace_t **v = malloc((r->m->nnamespaces + 1) * sizeof *v);
    if (!v) {
        r->w.err = -ENOMEM;
        return 0;
    }
    for (size_t i = 0; i < r->m->nnamespaces; i++)
        v[i] = &r->m->namespaces[i];
    qsort(v, r->m->nnamespaces, sizeof *v, ns_cmp);
    jw_fmt(&r->w,
           "{\"kind\":\"NamespaceList\",\"apiVersion\":\"v1\",\"metadata\":{"
           "\"resourceVersion\":\"%llu\"},\"items\":[",
           (unsigned long long)r->m->rv);
    for (size_t i = 0; i < r->m->nnamespaces; i++) {
        if (i) jw_raw(&r->w, ",");
        w_namespace(r, v[i], 0);
    }
    jw_raw(&r->w, "]}\n");
    free(v);
    return 0;
}

static int get_namespace(req_t *r, const char *name)
{
    if (rest_authorize(r, "get", "namespaces", "", name, name)) return 0;
    const sim_namespace_t *ns = sim_model_find_namespace(r->m, name);
    if (!ns) {
        rest_not_found(r, "namespaces", "", name);
        return 0;
    }
    w_namespace(r, ns, 1);
    jw_raw(&r->w, "\n");
    return 0;
}

/* ---- version and discovery ------------------------------------------------------------------- */

/* /version is written with json.MarshalIndent and no trailing newline. */
static const char VERSION_JSON[] =
    "{\n"
    "  \"major\": \"1\",\n"
    "  \"minor\": \"32\",\n"
    "  \"gitVersion\": \"v1.32.4\",\n"
    "  \"gitCommit\": \"59526cd4867447956156ae3a602fcbac10a2c335\",\n"
    "  \"gitTreeState\": \"clean\",\n"
    "  \"buildDate\": \"2025-04-22T15:57:00Z\",\n"
    "  \"goVersion\": \"go1.23.8\",\n"
    "  \"compiler\": \"gc\",\n"
    "  \"platform\": \"linux/amd64\"\n"
    "}";

#define RES(name, singular, ns, kind, verbs, extra)                                                \
    "{\"name\":\"" name "\",\"singularName\":\"" singular "\",\"namespaced\":" ns                  \
    ",\"kind\":\"" kind "\",\"verbs\":" verbs extra "}"
/* The resources' verbs as a 1.32 apiserver lists the ones the sim serves. */
#define GETLIST "[\"get\",\"list\"]"
#define GETLISTWATCH "[\"get\",\"list\",\"watch\"]"
#define WORKLOAD(name, singular, kind, shortname)                                                  \
    RES(name, singular, "true", kind, GETLIST,                                                     \
        ",\"shortNames\":[\"" shortname "\"],\"categories\":[\"all\"]")

// clang-format off
static const char CORE_RESOURCES[] =
    "{\"kind\":\"APIResourceList\",\"groupVersion\":\"v1\",\"resources\":["
    RES("namespaces", "namespace", "false", "Namespace", GETLIST, ",\"shortNames\":[\"ns\"]") ","
    RES("pods", "pod", "true", "Pod", GETLISTWATCH,
        ",\"shortNames\":[\"po\"],\"categories\":[\"all\"]") ","
    RES("pods/attach", "", "true", "PodAttachOptions", "[\"create\",\"get\"]", "") ","
    RES("pods/exec", "", "true", "PodExecOptions", "[\"create\",\"get\"]", "") ","
    RES("pods/log", "", "true", "Pod", "[\"get\"]", "")
    "]}\n";

static const char APPS_RESOURCES[] =
    "{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\",\"groupVersion\":\"apps/v1\","
    "\"resources\":["
    WORKLOAD("daemonsets", "daemonset", "DaemonSet", "ds") ","
    WORKLOAD("deployments", "deployment", "Deployment", "deploy") ","
    WORKLOAD("replicasets", "replicaset", "ReplicaSet", "rs") ","
    WORKLOAD("statefulsets", "statefulset", "StatefulSet", "sts")
    "]}\n";

static const char BATCH_RESOURCES[] =
    "{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\",\"groupVersion\":\"batch/v1\","
    "\"resources\":[" RES("jobs", "job", "true", "Job", GETLIST, ",\"categories\":[\"all\"]") "]}\n";
// clang-format on

#define GROUP(g)                                                                                   \
    "\"name\":\"" g "\",\"versions\":[{\"groupVersion\":\"" g "/v1\",\"version\":\"v1\"}],"        \
    "\"preferredVersion\":{\"groupVersion\":\"" g "/v1\",\"version\":\"v1\"}"

static const char GROUP_LIST[] = "{\"kind\":\"APIGroupList\",\"apiVersion\":\"v1\",\"groups\":["
                                 "{" GROUP("apps") "},{" GROUP("batch") "}]}\n";

static int discovery(req_t *r, const char *body)
{
    jw_raw(&r->w, body);
    return 0;
}

/* ---- routing --------------------------------------------------------------------------------- */

#define MAX_SEGS 8

static int wkind_from_resource(const char *group, const char *res, sim_wkind_t *k)
{
    for (int i = 0; i < SIM_WKIND_COUNT; i++)
        if (!strcmp(res, sim_wkind_resource((sim_wkind_t)i)) &&
            !strcmp(group, sim_wkind_group((sim_wkind_t)i))) {
            *k = (sim_wkind_t)i;
            return 0;
        }
    return -1;
}

/* /api/v1/... after "v1". */
static int route_core(req_t *r, char **s, int n)
{
    if (n == 0) return discovery(r, CORE_RESOURCES);
    if (n == 1 && !strcmp(s[0], "pods")) return rest_list_pods(r, NULL);
    if (strcmp(s[0], "namespaces")) return rest_not_found_path(r);
    if (n == 1) return list_namespaces(r);
    if (n == 2) return get_namespace(r, s[1]);
    if (strcmp(s[2], "pods")) return rest_not_found_path(r);
    if (n == 3) return rest_list_pods(r, s[1]);
    if (n == 4) return rest_get_pod(r, s[1], s[3]);
    if (n == 5 && (!strcmp(s[4], "exec") || !strcmp(s[4], "attach"))) {
        if (rest_authorize(r, "get", !strcmp(s[4], "exec") ? "pods/exec" : "pods/attach", "", s[1],
                           s[3]) == 0)
            rest_bad_request(r, "Upgrade request required");
        return 0;
    }
    if (n == 5 && !strcmp(s[4], "log")) {
        if (rest_authorize(r, "get", "pods/log", "", s[1], s[3])) return 0;
        if (!sim_model_find_pod(r->m, s[1], s[3])) return rest_not_found(r, "pods", "", s[3]);
        r->out->content_type = TEXT_CT; /* the sim keeps no logs */
        return 0;
    }
    rest_not_found_path(r);
    return 0;
}

/* /apis/<group>/v1/... after "v1". */
static int route_group(req_t *r, const char *group, char **s, int n)
{
    sim_wkind_t k;
    if (n == 0) return discovery(r, !strcmp(group, "apps") ? APPS_RESOURCES : BATCH_RESOURCES);
    if (n == 1 && !wkind_from_resource(group, s[0], &k)) return rest_list_workloads(r, k, NULL);
    if (n < 3 || strcmp(s[0], "namespaces") || wkind_from_resource(group, s[2], &k))
        return rest_not_found_path(r);
    if (n == 3) return rest_list_workloads(r, k, s[1]);
    if (n == 4) return rest_get_workload(r, k, s[1], s[3]);
    rest_not_found_path(r);
    return 0;
}

static int route(req_t *r, char **s, int n)
{
    if (n == 1 && !strcmp(s[0], "version")) {
        jw_raw(&r->w, VERSION_JSON);
        return 0;
    }
    if (n == 1 && (!strcmp(s[0], "healthz") || !strcmp(s[0], "livez") || !strcmp(s[0], "readyz"))) {
        r->out->content_type = TEXT_CT;
        jw_raw(&r->w, "ok");
        return 0;
    }
    if (n >= 1 && !strcmp(s[0], "api")) {
        if (n == 1) {
            jw_raw(&r->w, "{\"kind\":\"APIVersions\",\"versions\":[\"v1\"],"
                          "\"serverAddressByClientCIDRs\":[{\"clientCIDR\":\"0.0.0.0/0\","
                          "\"serverAddress\":");
            jw_str(&r->w, r->m->server_address);
            jw_raw(&r->w, "}]}\n");
            return 0;
        }
        if (!strcmp(s[1], "v1")) return route_core(r, s + 2, n - 2);
        return rest_not_found_path(r);
    }
    if (n >= 1 && !strcmp(s[0], "apis")) {
        if (n == 1) return discovery(r, GROUP_LIST);
        if (strcmp(s[1], "apps") && strcmp(s[1], "batch")) return rest_not_found_path(r);
        if (n == 2) {
            jw_fmt(&r->w,
                   "{\"kind\":\"APIGroup\",\"apiVersion\":\"v1\",\"name\":\"%s\",\"versions\":"
                   "[{\"groupVersion\":\"%s/v1\",\"version\":\"v1\"}],\"preferredVersion\":{"
                   "\"groupVersion\":\"%s/v1\",\"version\":\"v1\"}}\n",
                   s[1], s[1], s[1]);
            return 0;
        }
        if (!strcmp(s[2], "v1")) return route_group(r, s[1], s + 3, n - 3);
        return rest_not_found_path(r);
    }
    r->out->status = 404; /* outside the API: Go's mux answer */
    r->out->content_type = TEXT_CT;
    jw_raw(&r->w, "404 page not found\n");
    return 0;
}

/* Which representation the Accept header asks for first: Table (v1 / v1beta1) or plain JSON. */
void rest_negotiate(req_t *r, const char *accept)
{
    r->table = 0;
    r->table_api = "meta.k8s.io/v1";
    for (const char *p = accept; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char range[256];
        snprintf(range, sizeof range, "%.*s", (int)(len < 255 ? len : 255), p);
        p = end ? end + 1 : NULL;
        char *save = NULL, *type = strtok_r(range, ";", &save);
        while (type && *type == ' ')
            type++;
        if (!type || (strncmp(type, "application/json", 16) && strncmp(type, "*/*", 3) &&
                      strncmp(type, "application/*", 13)))
            continue;
        const char *as = NULL, *v = NULL, *g = NULL;
        for (char *prm; (prm = strtok_r(NULL, ";", &save));) {
            while (*prm == ' ')
                prm++;
            if (!strncmp(prm, "as=", 3)) as = prm + 3;
            if (!strncmp(prm, "v=", 2)) v = prm + 2;
            if (!strncmp(prm, "g=", 2)) g = prm + 2;
        }
        if (!as) return; /* plain JSON */
        if (!strcmp(as, "Table") && g && !strcmp(g, "meta.k8s.io") && v &&
            (!strcmp(v, "v1") || !strcmp(v, "v1beta1"))) {
            r->table = 1;
            r->table_api = !strcmp(v, "v1") ? "meta.k8s.io/v1" : "meta.k8s.io/v1beta1";
            return;
        }
    }
}

/* includeObject (metav1.TableOptions): Metadata (the default), Object or None. */
int rest_read_include_object(req_t *r, buf_t *q)
{
    if (!r->table || rest_query_get(r->query, "includeObject", q) <= 0 || !q->len) return 0;
    if (!strcmp(q->data, "Object")) {
        r->include_object = 1;
    } else if (!strcmp(q->data, "None")) {
        r->include_object = -1;
    } else if (strcmp(q->data, "Metadata")) {
        char msg[600];
        snprintf(msg, sizeof msg,
                 "Unable to convert to Table as requested: includeObject: Unsupported value: "
                 "\"%.200s\": supported values: \"Metadata\", \"None\", \"Object\"",
                 q->data);
        rest_bad_request(r, msg);
        return -1;
    }
    return 0;
}

/* Splits the path into segments and routes it (404 when too deep or malformed). */
static void route_path(req_t *r, const char *path)
{
    char copy[2048], *segs[MAX_SEGS + 1];
    int n = 0;
    snprintf(copy, sizeof copy, "%s", path ? path : "/");
    char *save = NULL;
    for (char *t = strtok_r(copy, "/", &save); t && n <= MAX_SEGS; t = strtok_r(NULL, "/", &save))
        segs[n++] = t; /* n == MAX_SEGS + 1 means "too deep" */
    if (!path || strlen(path) >= sizeof copy || n > MAX_SEGS || strstr(path, "//"))
        rest_not_found_path(r);
    else
        route(r, segs, n);
}

int sim_rest_handle(sim_model_t *m, const char *method, const char *path, const char *query,
                    const char *accept, const char *user, sim_response_t *out)
{
    sim_response_init(out);
    req_t r = {.m = m, .query = query, .user = user, .now = (long long)time(NULL), .out = out};
    r.w = (jw_t){&out->body, 0};
    sim_model_advance(m, sim_model_now_ms(m)); /* pods due by now exist (model_time.c) */
    rest_negotiate(&r, accept);
    buf_t q;
    buf_init(&q, 256);
    if (strcmp(method, "GET"))
        sim_response_status(out, 405, "MethodNotAllowed",
                            "the server does not allow this method on the requested resource", "",
                            NULL, NULL);
    else if (sim_rest_is_watch(query)) /* the server streams watches (rest_watch.c) */
        sim_response_status(out, 405, "MethodNotAllowed",
                            "watch needs a streaming connection (sim_watch_handle)", "", NULL,
                            NULL);
    else if (rest_read_include_object(&r, &q) == 0)
        route_path(&r, path);
    buf_free(&q);
    if (r.w.err) {
        sim_response_status(out, 500, "InternalError", "Internal error occurred: out of memory", "",
                            NULL, NULL);
        return -ENOMEM;
    }
    return 0;
}

int sim_rest_is_watch(const char *query)
{
    buf_t q;
    buf_init(&q, 64);
    int w = rest_query_get(query, "watch", &q) > 0 && strcmp(q.data, "0") &&
            strcasecmp(q.data, "false");
    buf_free(&q);
    return w;
}

/* ---- exec / attach validation ---------------------------------------------------------------- */

static int exec_fail(sim_response_t *out, int code, const char *reason, const char *msg,
                     const char *name, const char *kind)
{
    return sim_response_status(out, code, reason, msg, name, NULL, kind) ? -ENOMEM : code;
}

int sim_rest_check_exec(sim_model_t *m, const char *user, const char *ns, const char *pod,
                        const char *container, int attach, int verb_create, sim_response_t *err_out,
                        const sim_pod_t **pod_out, const sim_container_t **c_out)
{
    char msg[2048];
    sim_response_init(err_out);
    if (!sim_model_allowed(m, user, ns)) {
        snprintf(msg, sizeof msg,
                 "pods \"%s\" is forbidden: User \"%s\" cannot %s resource \"%s\" in API group "
                 "\"\" in the namespace \"%s\"",
                 pod, user, verb_create ? "create" : "get", attach ? "pods/attach" : "pods/exec",
                 ns);
        return exec_fail(err_out, 403, "Forbidden", msg, pod, "pods");
    }
    sim_model_advance(m, sim_model_now_ms(m));
    const sim_pod_t *p = sim_model_find_pod(m, ns, pod);
    if (!p) {
        snprintf(msg, sizeof msg, "pods \"%s\" not found", pod);
        return exec_fail(err_out, 404, "NotFound", msg, pod, "pods");
    }
    const sim_container_t *c = NULL;
    if (!container || !*container) {
        size_t regular = 0;
        for (size_t i = 0; i < p->ncontainers; i++)
            if (p->containers[i].kind == SIM_CONTAINER_REGULAR) regular++, c = &p->containers[i];
        if (regular != 1) {
            int k =
                snprintf(msg, sizeof msg, "a container name must be specified for pod %s", p->name);
            for (size_t i = 0; regular && i < p->ncontainers && k > 0 && (size_t)k < sizeof msg;
                 i++)
                k += snprintf(msg + k, sizeof msg - (size_t)k, "%s%s",
                              i ? " " : ", choose one of: [", p->containers[i].name);
            if (regular && k > 0 && (size_t)k < sizeof msg)
                snprintf(msg + k, sizeof msg - (size_t)k, "]");
            return exec_fail(err_out, 400, "BadRequest", msg, NULL, NULL);
        }
    } else if (!(c = sim_pod_container(p, container))) {
        snprintf(msg, sizeof msg, "container %s is not valid for pod %s", container, p->name);
        return exec_fail(err_out, 400, "BadRequest", msg, NULL, NULL);
    }
    if (!p->node_name) {
        snprintf(msg, sizeof msg, "pod %s does not have a host assigned", p->name);
        return exec_fail(err_out, 400, "BadRequest", msg, NULL, NULL);
    }
    *pod_out = p;
    *c_out = c;
    return 0;
}
