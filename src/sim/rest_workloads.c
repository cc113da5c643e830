/* rest_workloads: apps/v1 Deployments, StatefulSets, DaemonSets, ReplicaSets and batch/v1 Jobs,
 * with the status fields their controllers would report for the model's pods. */
#include "sim/rest_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- workloads ------------------------------------------------------------------------------- */

/* metav1.LabelSelector with matchLabels keys sorted, as Go marshals the map. */
static void w_selector(jw_t *w, const cJSON *sel)
{
    const cJSON *ml = cJSON_GetObjectItemCaseSensitive(sel, "matchLabels");
    const cJSON *me = cJSON_GetObjectItemCaseSensitive(sel, "matchExpressions");
    int first = 1, n = cJSON_GetArraySize(ml);
    jw_raw(w, "{");
    if (cJSON_IsObject(ml) && n > 0) {
        const char **k = malloc((size_t)n * sizeof *k), **v = malloc((size_t)n * sizeof *v);
        size_t i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, ml) if (k && v && cJSON_IsString(it))
        {
            k[i] = it->string;
            v[i++] = it->valuestring;
        }
        sim_labels_t l = {k, v, i};
        jw_raw(w, "\"matchLabels\":");
        if (k && v)
            jw_map(w, &l, NULL, NULL);
        else
            w->err = -ENOMEM;
        free(k);
        free(v);
        first = 0;
    }
    if (cJSON_IsArray(me) && cJSON_GetArraySize(me) > 0) {
        jw_raw(w, first ? "\"matchExpressions\":[" : ",\"matchExpressions\":[");
        const cJSON *e;
        int i = 0;
        cJSON_ArrayForEach(e, me)
        {
            const cJSON *vals = cJSON_GetObjectItemCaseSensitive(e, "values");
            jw_raw(w, i++ ? ",{" : "{");
            jw_kv(w, 1, "key", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "key")));
            jw_kv(w, 0, "operator",
                  cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "operator")));
            if (cJSON_GetArraySize(vals) > 0) {
                const cJSON *v;
                int j = 0;
                jw_raw(w, ",\"values\":[");
                cJSON_ArrayForEach(v, vals)
                {
                    if (j++) jw_raw(w, ",");
                    jw_str(w, cJSON_GetStringValue(v));
                }
                jw_raw(w, "]");
            }
            jw_raw(w, "}");
        }
        jw_raw(w, "]");
    }
    jw_raw(w, "}");
}

static void w_template(jw_t *w, const sim_workload_t *wl)
{
    jw_raw(w, "{\"metadata\":{\"creationTimestamp\":null");
    if (wl->tmpl_labels.n) jw_raw(w, ",\"labels\":"), jw_map(w, &wl->tmpl_labels, NULL, NULL);
    if (wl->tmpl_annotations.n)
        jw_raw(w, ",\"annotations\":"), jw_map(w, &wl->tmpl_annotations, NULL, NULL);
    jw_raw(w, "},\"spec\":");
    rest_w_podspec(w, wl->containers, wl->ncontainers, wl->restart_policy, "default", NULL, 0, 0);
    jw_raw(w, "}");
}

/* Something the status needs from the objects a workload created. */
static const char *child_name(const sim_model_t *m, const sim_workload_t *wl)
{
    for (size_t i = 0; i < m->nworkloads; i++)
        if (m->workloads[i].owner.uid && !strcmp(m->workloads[i].owner.uid, wl->uid))
            return m->workloads[i].name;
    return "";
}

static const char *sts_revision(const sim_model_t *m, const sim_workload_t *wl)
{
    for (size_t i = 0; i < m->npods; i++)
        if (m->pods[i].owner.uid && !strcmp(m->pods[i].owner.uid, wl->uid))
            return sim_labels_get(&m->pods[i].labels, "controller-revision-hash");
    return NULL;
}

static void w_wl_cond(jw_t *w, int first, const char *type, const char *ts_key, long long t,
                      const char *reason, const char *msg)
{
    jw_fmt(w, "%s{\"type\":\"%s\",\"status\":\"True\",", first ? "" : ",", type);
    if (ts_key) jw_fmt(w, "\"%s\":", ts_key), jw_time(w, t), jw_raw(w, ",");
    jw_raw(w, "\"lastTransitionTime\":"), jw_time(w, t);
    jw_kv(w, 0, "reason", reason);
    jw_kv(w, 0, "message", msg);
    jw_raw(w, "}");
}

static void w_wstatus(req_t *r, const sim_workload_t *wl)
{
    jw_t *w = &r->w;
    int np = wl->npods, nr = wl->nready;
    long long t = wl->created + 30;
    char msg[400];
    switch (wl->kind) {
    case SIM_DEPLOYMENT:
        jw_fmt(w, "{\"observedGeneration\":1,\"replicas\":%d,\"updatedReplicas\":%d", np, np);
        if (nr) jw_fmt(w, ",\"readyReplicas\":%d,\"availableReplicas\":%d", nr, nr);
        jw_raw(w, ",\"conditions\":[");
        w_wl_cond(w, 1, "Available", "lastUpdateTime", t, "MinimumReplicasAvailable",
                  "Deployment has minimum availability.");
        snprintf(msg, sizeof msg, "ReplicaSet \"%s\" has successfully progressed.",
                 child_name(r->m, wl));
        w_wl_cond(w, 0, "Progressing", "lastUpdateTime", t, "NewReplicaSetAvailable", msg);
        jw_raw(w, "]}");
        break;
    case SIM_STATEFULSET: {
        const char *rev = sts_revision(r->m, wl);
        jw_fmt(w, "{\"observedGeneration\":1,\"replicas\":%d", np);
        if (nr) jw_fmt(w, ",\"readyReplicas\":%d", nr);
        jw_fmt(w, ",\"currentReplicas\":%d,\"updatedReplicas\":%d", np, np);
        if (rev) jw_kv(w, 0, "currentRevision", rev), jw_kv(w, 0, "updateRevision", rev);
        jw_fmt(w, ",\"collisionCount\":0,\"availableReplicas\":%d}", nr);
        break;
    }
    case SIM_DAEMONSET:
        jw_fmt(w,
               "{\"currentNumberScheduled\":%d,\"numberMisscheduled\":0,"
               "\"desiredNumberScheduled\":%d,\"numberReady\":%d,\"observedGeneration\":1,"
               "\"updatedNumberScheduled\":%d",
               np, np, nr, np);
        if (nr) jw_fmt(w, ",\"numberAvailable\":%d", nr);
        jw_raw(w, "}");
        break;
    case SIM_REPLICASET:
        jw_fmt(w, "{\"replicas\":%d,\"fullyLabeledReplicas\":%d", np, np);
        if (nr) jw_fmt(w, ",\"readyReplicas\":%d,\"availableReplicas\":%d", nr, nr);
        jw_raw(w, ",\"observedGeneration\":1}");
        break;
    default: { /* Job */
        int complete = wl->nsucceeded >= wl->replicas, active = np - wl->nsucceeded - wl->nfailed;
        jw_raw(w, "{");
        if (complete) {
            jw_raw(w, "\"conditions\":[");
            w_wl_cond(w, 1, "SuccessCriteriaMet", "lastProbeTime", t, "CompletionsReached",
                      "Reached expected number of succeeded pods");
            w_wl_cond(w, 0, "Complete", "lastProbeTime", t, "CompletionsReached",
                      "Reached expected number of succeeded pods");
            jw_raw(w, "],");
        }
        jw_raw(w, "\"startTime\":"), jw_time(w, wl->created + 1);
        if (complete) jw_raw(w, ",\"completionTime\":"), jw_time(w, t);
        if (active) jw_fmt(w, ",\"active\":%d", active);
        if (wl->nsucceeded) jw_fmt(w, ",\"succeeded\":%d", wl->nsucceeded);
        if (wl->nfailed) jw_fmt(w, ",\"failed\":%d", wl->nfailed);
        jw_fmt(w, ",\"terminating\":0,\"uncountedTerminatedPods\":{},\"ready\":%d}", nr);
    }
    }
}

void rest_workload_meta(const sim_workload_t *wl, objmeta_t *o)
{
    *o = (objmeta_t){wl->name,    NULL,        wl->ns,           wl->uid, wl->rv, 1,
                     wl->created, &wl->labels, &wl->annotations, NULL,    NULL,   &wl->owner};
    if (wl->kind == SIM_DEPLOYMENT) o->extra_ann_k = "deployment.kubernetes.io/revision";
    o->extra_ann_v = "1";
}

void rest_w_workload(req_t *r, const sim_workload_t *wl, int with_type)
{
    jw_t *w = &r->w;
    if (with_type)
        jw_fmt(w,
               "{\"kind\":\"%s\",\"apiVersion\":\"%s/v1\",\"metadata\":", sim_wkind_kind(wl->kind),
               sim_wkind_group(wl->kind));
    else
        jw_raw(w, "{\"metadata\":");
    objmeta_t o;
    rest_workload_meta(wl, &o);
    rest_w_meta(w, &o);
    jw_raw(w, ",\"spec\":{");
    if (wl->kind == SIM_JOB)
        jw_fmt(w, "\"parallelism\":1,\"completions\":%d,\"backoffLimit\":6,", wl->replicas);
    else if (wl->kind != SIM_DAEMONSET)
        jw_fmt(w, "\"replicas\":%d,", wl->replicas);
    jw_raw(w, "\"selector\":");
    w_selector(w, wl->selector);
    jw_raw(w, ",\"template\":");
    w_template(w, wl);
    if (wl->kind == SIM_DEPLOYMENT)
        jw_raw(w, ",\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxUnavailable\":"
                  "\"25%\",\"maxSurge\":\"25%\"}},\"revisionHistoryLimit\":10,"
                  "\"progressDeadlineSeconds\":600");
    if (wl->kind == SIM_STATEFULSET)
        jw_kv(w, 0, "serviceName", wl->name),
            jw_raw(w, ",\"podManagementPolicy\":\"OrderedReady\",\"updateStrategy\":{\"type\":"
                      "\"RollingUpdate\",\"rollingUpdate\":{\"partition\":0}},"
                      "\"revisionHistoryLimit\":10,\"persistentVolumeClaimRetentionPolicy\":{"
                      "\"whenDeleted\":\"Retain\",\"whenScaled\":\"Retain\"}");
    if (wl->kind == SIM_DAEMONSET)
        jw_raw(w, ",\"updateStrategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{"
                  "\"maxUnavailable\":1,\"maxSurge\":0}},\"revisionHistoryLimit\":10");
    if (wl->kind == SIM_JOB)
        jw_raw(w, ",\"completionMode\":\"NonIndexed\",\"suspend\":false,"
                  "\"podReplacementPolicy\":\"TerminatingOrFailed\"");
    jw_raw(w, "},\"status\":");
    w_wstatus(r, wl);
    jw_raw(w, "}");
}

int rest_workload_match(const sim_workload_t *wl, const sel_t *ls, const fsel_t *fs)
{
    static const char *const k[] = {"metadata.name", "metadata.namespace"};
    const char *v[] = {wl->name, wl->ns};
    return sel_match(ls, wl->labels.keys, wl->labels.values, wl->labels.n) &&
           fsel_match(fs, k, v, 2);
}

static int wl_cmp(const void *a, const void *b)
{
    const sim_workload_t *x = *(const sim_workload_t *const *)a;
    const sim_workload_t *y = *(const sim_workload_t *const *)b;
    int c = strcmp(x->ns, y->ns);
    return c ? c : strcmp(x->name, y->name);
}

int rest_list_workloads(req_t *r, sim_wkind_t kind, const char *ns)
{
    const char *res = sim_wkind_resource(kind), *grp = sim_wkind_group(kind);
    if (rest_authorize(r, "list", res, grp, ns, NULL)) return 0;
    buf_t q;
    buf_init(&q, SEL_MAX_TEXT + 1);
    sel_t ls;
    fsel_t fs;
    const sim_workload_t **v = malloc((r->m->nworkloads + 1) * sizeof *v);
    size_t n = 0;
    sel_init(&ls);
    fsel_init(&fs);
    if (!v) r->w.err = -ENOMEM;
    if (!v || rest_read_selectors(r, &q, &ls, &fs, 0)) goto out;
    for (size_t i = 0; i < r->m->nworkloads; i++) {
        const sim_workload_t *wl = &r->m->workloads[i];
        if (wl->kind == kind && (!ns || !strcmp(wl->ns, ns)) && rest_workload_match(wl, &ls, &fs))
            v[n++] = wl;
    }
    qsort(v, n, sizeof *v, wl_cmp);
    if (r->table) {
        rest_w_workload_table(r, kind, v, n, r->m->rv);
        goto out;
    }
    jw_fmt(&r->w,
           "{\"kind\":\"%sList\",\"apiVersion\":\"%s/v1\",\"metadata\":{\"resourceVersion\":"
           "\"%llu\"},\"items\":[",
           sim_wkind_kind(kind), grp, (unsigned long long)r->m->rv);
    for (size_t i = 0; i < n && !r->w.err; i++) {
        if (i) jw_raw(&r->w, ",");
        rest_w_workload(r, v[i], 0);
    }
    jw_raw(&r->w, "]}\n");
out:
    free(v);
    sel_free(&ls);
    fsel_free(&fs);
    buf_free(&q);
    return 0;
}

int rest_get_workload(req_t *r, sim_wkind_t kind, const char *ns, const char *name)
{
    const char *res = sim_wkind_resource(kind), *grp = sim_wkind_group(kind);
    if (rest_authorize(r, "get", res, grp, ns, name)) return 0;
    const sim_workload_t *wl = sim_model_find_workload(r->m, kind, ns, name);
    if (!wl) {
        rest_not_found(r, res, grp, name);
        return 0;
    }
    if (r->table)
        rest_w_workload_table(r, kind, &wl, 1, wl->rv);
    else
        rest_w_workload(r, wl, 1), jw_raw(&r->w, "\n");
    return 0;
}
