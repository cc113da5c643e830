/* model_internal.h: what model.c (arena, names, lookups), model_build.c (controllers' expansion),
 * model_yaml.c (the cluster file) and model_time.c (pod timelines) share. Not for the REST or
 * exec layers: they use model.h. */
#ifndef PMX_SIM_MODEL_INTERNAL_H
#define PMX_SIM_MODEL_INTERNAL_H

#include "sim/model.h"

/* ---- model.c ---- */
void *model_alloc(sim_model_t *m, size_t n); /* arena, 16-byte aligned; NULL on ENOMEM */
const char *model_strdup(sim_model_t *m, const char *s);
const char *model_printf(sim_model_t *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *model_uid(sim_model_t *m, const char *kind, const char *ns, const char *name);
void model_hash10(const char *key, char out[11]);
void model_suffix5(const char *owner, size_t index, char out[6]);
int model_labels_merge(sim_model_t *m, const sim_labels_t *base, const char *const *ek,
                       const char *const *ev, size_t en, sim_labels_t *out);
int model_grow(void **arr, size_t n, size_t elem, size_t limit);
int model_add_namespace(sim_model_t *m, const char *name);
int model_pod_key_cmp(const char *ns1, const char *n1, const char *ns2, const char *n2);

/* ---- model_build.c ---- */

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
    long long create_after_ms, running_after_ms, delete_after_ms; /* -1: none */
} pod_tmpl_t;

int model_tmpl_knobs(pod_tmpl_t *t, char *err, size_t errlen);
int model_add_pod(sim_model_t *m, const pod_tmpl_t *t, const char *name, const char *node,
                  const sim_labels_t *labels);
const char *model_next_node(sim_model_t *m);
int model_add_workload(sim_model_t *m, sim_workload_t *w, char *err, size_t errlen);
cJSON *model_selector_plus(const cJSON *sel, const char *k, const char *v);
int model_expand_workload(sim_model_t *m, int wi, pod_tmpl_t *t, char *err, size_t errlen);
/* Sorts pods, refuses duplicates, counts the workloads' pods, builds the timeline. */
int model_finish(sim_model_t *m, char *err, size_t errlen);
sim_workload_t *model_workload_by_uid(sim_model_t *m, const char *uid); /* NULL: none */
/* Adds (sign 1) or removes (-1) a live pod from its owners' counts. */
void model_count_pod(sim_model_t *m, const sim_pod_t *p, int sign);

/* ---- model_time.c ---- */
long long model_mono_ms(void); /* CLOCK_MONOTONIC in ms */
/* Builds the schedule of every pod's steps (after the pods are sorted). */
int model_timeline_build(sim_model_t *m);
void model_timeline_free(sim_model_t *m);

#endif
