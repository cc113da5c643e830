/* rest_tables: meta.k8s.io Tables, what `kubectl get` prints: the columns and cells of the
 * real printers (kubernetes pkg/printers/internalversion/printers.go) for pods and workloads. */
#include "sim/rest_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Tables (kubectl get) -------------------------------------------------------------------- */

/* k8s.io/apimachinery/pkg/util/duration.HumanDuration, the AGE column. */
void rest_human_duration(long long d, char *out, size_t n)
{
    long long s = d, m = d / 60, h = d / 3600;
    if (s < -1)
        snprintf(out, n, "<invalid>");
    else if (s < 0)
        snprintf(out, n, "0s");
    else if (s < 120)
        snprintf(out, n, "%llds", s);
    else if (m < 10)
        snprintf(out, n, s % 60 ? "%lldm%llds" : "%lldm", m, s % 60);
    else if (m < 180)
        snprintf(out, n, "%lldm", m);
    else if (h < 8)
        snprintf(out, n, m % 60 ? "%lldh%lldm" : "%lldh", h, m % 60);
    else if (h < 48)
        snprintf(out, n, "%lldh", h);
    else if (h < 24 * 8)
        snprintf(out, n, h % 24 ? "%lldd%lldh" : "%lldd", h / 24, h % 24);
    else if (h < 24 * 365 * 2)
        snprintf(out, n, "%lldd", h / 24);
    else if (h < 24 * 365 * 8)
        snprintf(out, n, (h / 24) % 365 ? "%lldy%lldd" : "%lldy", h / 24 / 365, (h / 24) % 365);
    else
        snprintf(out, n, "%lldy", h / 24 / 365);
}

const char REST_POD_COLUMNS[] =
    "\"columnDefinitions\":["
    "{\"name\":\"Name\",\"type\":\"string\",\"format\":\"name\",\"description\":\"Name must be "
    "unique within a namespace.\",\"priority\":0},"
    "{\"name\":\"Ready\",\"type\":\"string\",\"format\":\"\",\"description\":\"The aggregate "
    "readiness state of this pod for accepting traffic.\",\"priority\":0},"
    "{\"name\":\"Status\",\"type\":\"string\",\"format\":\"\",\"description\":\"The aggregate "
    "status of the containers in this pod.\",\"priority\":0},"
    "{\"name\":\"Restarts\",\"type\":\"string\",\"format\":\"\",\"description\":\"The number of "
    "times the containers in this pod have been restarted and when the last container in this "
    "pod has restarted.\",\"priority\":0},"
    "{\"name\":\"Age\",\"type\":\"string\",\"format\":\"\",\"description\":\"CreationTimestamp is "
    "a "
    "timestamp representing the server time when this object was created.\",\"priority\":0},"
    "{\"name\":\"IP\",\"type\":\"string\",\"format\":\"\",\"description\":\"podIP address "
    "allocated to the pod.\",\"priority\":1},"
    "{\"name\":\"Node\",\"type\":\"string\",\"format\":\"\",\"description\":\"NodeName indicates "
    "in which node this pod is scheduled.\",\"priority\":1},"
    "{\"name\":\"Nominated Node\",\"type\":\"string\",\"format\":\"\",\"description\":"
    "\"nominatedNodeName is set only when this pod preempts other pods on the node.\","
    "\"priority\":1},"
    "{\"name\":\"Readiness Gates\",\"type\":\"string\",\"format\":\"\",\"description\":"
    "\"If specified, all readiness gates will be evaluated for pod readiness.\",\"priority\":1}],";

void rest_table_open(req_t *r, const char *columns, uint64_t rv, const char *cont)
{
    jw_fmt(&r->w,
           "{\"kind\":\"Table\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%llu\"",
           r->table_api, (unsigned long long)rv);
    if (cont) jw_raw(&r->w, cont);
    jw_raw(&r->w, "},");
    /* A watch sends the headers with its first event only: null afterwards, as Go marshals a
     * nil slice (watchEmbeddedEncoder sets NoHeaders after the first object). */
    jw_raw(&r->w, columns ? columns : "\"columnDefinitions\":null,");
    jw_raw(&r->w, "\"rows\":[");
}

/* ,"object":... of a row, then the row's closing brace. includeObject=Object gives the whole
 * object, None gives null, the default (Metadata) a PartialObjectMetadata. */
static void row_object(req_t *r, const objmeta_t *o, const sim_pod_t *p, const sim_workload_t *wl)
{
    jw_t *w = &r->w;
    jw_raw(w, ",\"object\":");
    if (r->include_object < 0) {
        jw_raw(w, "null}");
        return;
    }
    if (r->include_object > 0) {
        if (p)
            rest_w_pod(r, p, 1);
        else
            rest_w_workload(r, wl, 1);
        jw_raw(w, "}");
        return;
    }
    jw_fmt(w,
           "{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"%s\",\"metadata\":", r->table_api);
    rest_w_meta(w, o);
    jw_raw(w, "}}");
}

/* The STATUS column (printers.go printPod, for the states the sim has). */
const char *rest_pod_status_word(const sim_pod_t *p)
{
    if (!p->node_name) return "Pending";
    if (!strcmp(p->phase, "Pending")) return "ContainerCreating";
    if (!strcmp(p->phase, "Succeeded")) return "Completed";
    if (!strcmp(p->phase, "Failed")) return "Error";
    return p->phase;
}

void rest_w_pod_row(req_t *r, const sim_pod_t *p)
{
    jw_t *w = &r->w;
    int regular = 0;
    for (size_t i = 0; i < p->ncontainers; i++)
        regular += p->containers[i].kind == SIM_CONTAINER_REGULAR;
    char age[32];
    rest_human_duration(r->now - p->created, age, sizeof age);
    jw_raw(w, "{\"cells\":[");
    jw_str(w, p->name);
    jw_fmt(w, ",\"%d/%d\",", sim_pod_ready(p) ? regular : 0, regular);
    jw_str(w, rest_pod_status_word(p));
    jw_fmt(w, ",\"%d\",\"%s\",", p->restarts * regular, age);
    jw_str(w, p->pod_ip ? p->pod_ip : "<none>");
    jw_raw(w, ",");
    jw_str(w, p->node_name ? p->node_name : "<none>");
    jw_raw(w, ",\"<none>\",\"<none>\"]");
    objmeta_t o;
    rest_pod_meta(p, &o);
    row_object(r, &o, p, NULL);
}

/* ---- workloads ------------------------------------------------------------------------------- */

#define COL(name, type, fmt, prio, desc)                                                           \
    "{\"name\":\"" name "\",\"type\":\"" type "\",\"format\":\"" fmt "\",\"description\":\"" desc  \
    "\",\"priority\":" #prio "}"
#define NAME_COL COL("Name", "string", "name", 0, "Name must be unique within a namespace.")
#define AGE_COL                                                                                    \
    COL("Age", "string", "", 0,                                                                    \
        "CreationTimestamp is a timestamp representing the server time when this object was "      \
        "created.")
#define CONTAINERS_COLS                                                                            \
    COL("Containers", "string", "", 1, "Names of each container in the template.")                 \
    "," COL("Images", "string", "", 1, "Images referenced by each container in the template.")
#define SELECTOR_COL(what) COL("Selector", "string", "", 1, "A label query over pods " what ".")

/* The column sets of printers.go (1.32): the descriptions are the first sentence of the real
 * ones, which kubectl does not print. */
// clang-format off
static const char *const WL_COLUMNS[SIM_WKIND_COUNT] = {
    [SIM_DEPLOYMENT] = "\"columnDefinitions\":[" NAME_COL ","
        COL("Ready", "string", "", 0, "Number of the pod with ready state") ","
        COL("Up-to-date", "string", "", 0, "Total number of non-terminated pods targeted by "
            "this deployment that have the desired template spec.") ","
        COL("Available", "string", "", 0, "Total number of available pods (ready for at least "
            "minReadySeconds) targeted by this deployment.") ","
        AGE_COL "," CONTAINERS_COLS "," SELECTOR_COL("that this deployment manages") "],",
    [SIM_STATEFULSET] = "\"columnDefinitions\":[" NAME_COL ","
        COL("Ready", "string", "", 0, "Number of the pod with ready state") ","
        AGE_COL "," CONTAINERS_COLS "],",
    [SIM_DAEMONSET] = "\"columnDefinitions\":[" NAME_COL ","
        COL("Desired", "integer", "", 0, "The total number of nodes that should be running the "
            "daemon pod (including nodes correctly running the daemon pod).") ","
        COL("Current", "integer", "", 0, "The number of nodes that are running at least 1 "
            "daemon pod and are supposed to run the daemon pod.") ","
        COL("Ready", "integer", "", 0, "numberReady is the number of nodes that should be "
            "running the daemon pod and have one or more of the daemon pod running with a "
            "Ready Condition.") ","
        COL("Up-to-date", "integer", "", 0, "The total number of nodes that are running "
            "updated daemon pod") ","
        COL("Available", "integer", "", 0, "The number of nodes that should be running the "
            "daemon pod and have one or more of the daemon pod running and available (ready "
            "for at least spec.minReadySeconds)") ","
        COL("Node Selector", "string", "", 0, "NodeSelector is a selector which must be true "
            "for the pod to fit on a node.") ","
        AGE_COL "," CONTAINERS_COLS "," SELECTOR_COL("that are managed by the daemon set") "],",
    [SIM_REPLICASET] = "\"columnDefinitions\":[" NAME_COL ","
        COL("Desired", "integer", "", 0, "Replicas is the number of desired replicas.") ","
        COL("Current", "integer", "", 0, "Replicas is the most recently observed number of "
            "replicas.") ","
        COL("Ready", "integer", "", 0, "readyReplicas is the number of pods targeted by this "
            "ReplicaSet with a Ready Condition.") ","
        AGE_COL "," CONTAINERS_COLS "," SELECTOR_COL("that should match the replica count") "],",
    [SIM_JOB] = "\"columnDefinitions\":[" NAME_COL ","
        COL("Status", "string", "", 0, "Status of the job.") ","
        COL("Completions", "string", "", 0, "The number of pods which reached phase "
            "Succeeded.") ","
        COL("Duration", "string", "", 0, "Time required to complete the job.") ","
        AGE_COL "," CONTAINERS_COLS "," SELECTOR_COL("that should match the pod count") "],",
};
// clang-format on

/* layoutContainerCells: regular containers' names and images, comma-separated. */
static void container_cells(jw_t *w, const sim_workload_t *wl)
{
    for (int images = 0; images < 2; images++) {
        buf_t b;
        buf_init(&b, 64 * 1024);
        for (size_t i = 0; i < wl->ncontainers; i++) {
            const sim_container_t *c = &wl->containers[i];
            if (c->kind != SIM_CONTAINER_REGULAR) continue;
            if ((b.len && buf_append_str(&b, ",")) ||
                buf_append_str(&b, images ? c->image : c->name))
                w->err = -ENOMEM;
        }
        jw_raw(w, ",");
        jw_str(w, b.data ? b.data : "");
        buf_free(&b);
    }
}

static void selector_cell(jw_t *w, const sim_workload_t *wl)
{
    buf_t b;
    buf_init(&b, SEL_MAX_TEXT + 1);
    if (sel_render(&wl->sel, &b)) w->err = -ENOMEM;
    jw_raw(w, ",");
    jw_str(w, b.len ? b.data : "<none>"); /* metav1.FormatLabelSelector */
    buf_free(&b);
}

/* The cells between NAME and AGE, by kind (printDeployment, printStatefulSet, ...). */
static void middle_cells(req_t *r, const sim_workload_t *wl)
{
    jw_t *w = &r->w;
    int np = wl->npods, nr = wl->nready;
    char d[32];
    switch (wl->kind) {
    case SIM_DEPLOYMENT:
        jw_fmt(w, ",\"%d/%d\",%d,%d", nr, wl->replicas, np, nr);
        break;
    case SIM_STATEFULSET:
        jw_fmt(w, ",\"%d/%d\"", nr, wl->replicas);
        break;
    case SIM_DAEMONSET:
        jw_fmt(w, ",%d,%d,%d,%d,%d,\"<none>\"", np, np, nr, np, nr);
        break;
    case SIM_REPLICASET:
        jw_fmt(w, ",%d,%d,%d", wl->replicas, np, nr);
        break;
    default: { /* Job: startTime created+1, completionTime created+30 (rest_workloads.c) */
        int complete = wl->nsucceeded >= wl->replicas;
        rest_human_duration(complete ? 29 : r->now - (wl->created + 1), d, sizeof d);
        jw_fmt(w, ",\"%s\",\"%d/%d\",\"%s\"", complete ? "Complete" : "Running", wl->nsucceeded,
               wl->replicas, d);
    }
    }
}

void rest_w_workload_row(req_t *r, const sim_workload_t *wl)
{
    jw_t *w = &r->w;
    char age[32];
    rest_human_duration(r->now - wl->created, age, sizeof age);
    jw_raw(w, "{\"cells\":[");
    jw_str(w, wl->name);
    middle_cells(r, wl);
    jw_fmt(w, ",\"%s\"", age);
    container_cells(w, wl);
    if (wl->kind != SIM_STATEFULSET) selector_cell(w, wl);
    jw_raw(w, "]");
    objmeta_t o;
    rest_workload_meta(wl, &o);
    row_object(r, &o, NULL, wl);
}

const char *rest_workload_columns(sim_wkind_t kind)
{
    return WL_COLUMNS[kind];
}

void rest_w_workload_table(req_t *r, sim_wkind_t kind, const sim_workload_t *const *v, size_t n,
                           uint64_t rv)
{
    rest_table_open(r, WL_COLUMNS[kind], rv, NULL);
    for (size_t i = 0; i < n && !r->w.err; i++) {
        if (i) jw_raw(&r->w, ",");
        rest_w_workload_row(r, v[i]);
    }
    jw_raw(&r->w, "]}\n");
}
