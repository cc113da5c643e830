/* rest_internal.h: what the REST files of podmux-sim share: the JSON writer (jw_*), the request
 * context, errors and the object writers that several resources (and the watch) reuse. */
#ifndef PMX_SIM_REST_INTERNAL_H
#define PMX_SIM_REST_INTERNAL_H

#include "kube/selector.h"
#include "sim/rest.h"

#define JSON_CT "application/json"
#define TEXT_CT "text/plain; charset=utf-8"
#define LIST_SCAN_BUDGET 10000 /* candidates examined per page, like etcd3's maxLimit */

/* ---- rest_json.c: a JSON writer whose first error sticks (later calls do nothing) ---- */
typedef struct jw {
    buf_t *b;
    int err;
} jw_t;

void jw_raw(jw_t *w, const char *s);
void jw_fmt(jw_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void jw_str(jw_t *w, const char *s);                              /* Go-escaped string */
void jw_kv(jw_t *w, int first, const char *key, const char *val); /* ,"key":"val" */
void jw_time(jw_t *w, long long t);                               /* "RFC 3339" */
/* A Go map[string]string (keys sorted); extra_k/extra_v (may be NULL) added unless present. */
void jw_map(jw_t *w, const sim_labels_t *l, const char *extra_k, const char *extra_v);
void jw_strarr(jw_t *w, const char *const *v, size_t n);

/* One request being answered. */
typedef struct req {
    sim_model_t *m;
    const char *query, *user;
    int table;             /* answer as a Table */
    const char *table_api; /* meta.k8s.io/v1 or meta.k8s.io/v1beta1 */
    int include_object;    /* Table rows carry: 0 PartialObjectMetadata, 1 the object, -1 none */
    long long now;
    sim_response_t *out;
    jw_t w;
} req_t;

/* Each writes the error response into r->out and returns 0 (rest_authorize: -1 if refused). */
int rest_not_found_path(req_t *r);
int rest_bad_request(req_t *r, const char *msg);
int rest_not_found(req_t *r, const char *resource, const char *group, const char *name);
int rest_authorize(req_t *r, const char *verb, const char *resource, const char *group,
                   const char *ns, const char *name);
/* First value of key in a form-encoded query, decoded. 1 found, 0 absent, <0 too long. */
int rest_query_get(const char *q, const char *key, buf_t *out);

/* ---- rest.c ---- */
/* Table or plain JSON, from the Accept header (sets r->table, r->table_api). */
void rest_negotiate(req_t *r, const char *accept);
/* includeObject for Tables; on a bad value the 400 is written and -1 returned. */
int rest_read_include_object(req_t *r, buf_t *q);

/* ---- rest_pods.c ---- */
typedef struct objmeta {
    const char *name, *generate_name, *ns, *uid;
    uint64_t rv;
    int generation;
    long long created;
    const sim_labels_t *labels, *annotations;
    const char *extra_ann_k, *extra_ann_v;
    const sim_owner_t *owner;
} objmeta_t;

void rest_w_meta(jw_t *w, const objmeta_t *o);
void rest_pod_meta(const sim_pod_t *p, objmeta_t *o);
void rest_w_podspec(jw_t *w, const sim_container_t *cs, size_t n, const char *restart,
                    const char *sa, const char *node, int host_network, int is_pod);
void rest_w_pod(req_t *r, const sim_pod_t *p, int with_type);
int rest_pod_match(const sim_pod_t *p, const sel_t *ls, const fsel_t *fs);
/* labelSelector and fieldSelector (field: pods only); on error the 400 is written, -1. */
int rest_read_selectors(req_t *r, buf_t *q, sel_t *ls, fsel_t *fs, int pods);
int rest_get_pod(req_t *r, const char *ns, const char *name);
int rest_list_pods(req_t *r, const char *ns);

/* ---- rest_workloads.c ---- */
void rest_workload_meta(const sim_workload_t *wl, objmeta_t *o);
void rest_w_workload(req_t *r, const sim_workload_t *wl, int with_type);
/* Labels, and fields metadata.name / metadata.namespace (all a workload can be selected on). */
int rest_workload_match(const sim_workload_t *wl, const sel_t *ls, const fsel_t *fs);
int rest_get_workload(req_t *r, sim_wkind_t kind, const char *ns, const char *name);
int rest_list_workloads(req_t *r, sim_wkind_t kind, const char *ns);

/* ---- rest_tables.c ---- */
void rest_human_duration(long long d, char *out, size_t n); /* the AGE column */
const char *rest_pod_status_word(const sim_pod_t *p);       /* the STATUS column */
/* {"kind":"Table",...,"metadata":{"resourceVersion":rv},"columnDefinitions":...,"rows":[ */
void rest_table_open(req_t *r, const char *columns, uint64_t rv, const char *cont);
extern const char REST_POD_COLUMNS[];
void rest_w_pod_row(req_t *r, const sim_pod_t *p);
const char *rest_workload_columns(sim_wkind_t kind); /* "columnDefinitions":[...], */
void rest_w_workload_row(req_t *r, const sim_workload_t *wl);
void rest_w_workload_table(req_t *r, sim_wkind_t kind, const sim_workload_t *const *v, size_t n,
                           uint64_t rv);

#endif
