/* rest: podmux-sim's read-only Kubernetes REST API over the model (docs/PROTOCOL.md §6, §7):
 * /version, discovery, pods (get/list, label/field selectors, limit/continue, Table output),
 * namespaces, apps/v1 workloads, batch/v1 jobs, and metav1.Status errors byte-compatible with
 * kube-apiserver's (docs/PROTOCOL.md §1.7). Pure: request pieces in, status + body out; no I/O. */
#ifndef PMX_SIM_REST_H
#define PMX_SIM_REST_H

#include "sim/model.h"
#include "util/buf.h"

#define SIM_MAX_RESPONSE (256u * 1024 * 1024)

typedef struct sim_response {
    int status;               /* HTTP status code */
    const char *content_type; /* static string: "application/json" or "text/plain; ..." */
    buf_t body;               /* the body; owned, freed by sim_response_free */
    int retry_after;          /* seconds for a Retry-After header; -1: none */
} sim_response_t;

void sim_response_init(sim_response_t *r);
void sim_response_free(sim_response_t *r);

/* Answers one non-upgrade request. method "GET" only (405 otherwise); path without query; query
 * raw (form-encoded, may be NULL); accept the Accept header (may be NULL); user the authenticated
 * user (NULL: no authorization checks). out is initialised by the call. Returns 0, or -ENOMEM
 * (out then holds a 500). */
int sim_rest_handle(sim_model_t *m, const char *method, const char *path, const char *query,
                    const char *accept, const char *user, sim_response_t *out);

/* 1 if the query asks for a watch (watch=1/true/anything but 0 and false, as Go's bool
 * conversion reads it). sim_rest_handle refuses those: the server hands them to a watch. */
int sim_rest_is_watch(const char *query);

/* metav1.Status JSON as the apiserver writes it (field order, Go escaping, trailing "\n"):
 * {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":...,
 *  "reason":...,"details":{"name":...,"group":...,"kind":...},"code":N}. details is left out
 * when name, group and kind are all NULL; "" members are left out of it. */
int sim_status_json(buf_t *out, int code, const char *reason, const char *message, const char *name,
                    const char *kind);
int sim_status_json_group(buf_t *out, int code, const char *reason, const char *message,
                          const char *name, const char *group, const char *kind,
                          int retry_after_seconds /* <= 0: none */);
/* Fills out with a Status error response. */
int sim_response_status(sim_response_t *out, int code, const char *reason, const char *message,
                        const char *name, const char *group, const char *kind);

/* The apiserver's checks for an exec/attach request, in its order (docs/PROTOCOL.md §1.7, §7):
 * 403 (user may not use ns; verb "get" for WebSocket GET, "create" for SPDY POST), 404 pod,
 * 400 container (none given and several containers: names listed init, regular, ephemeral;
 * unknown name), 400 no host assigned. err_out is initialised by the call (free it either
 * way). On success returns 0 with *pod_out and *c_out set (the container defaulted when the pod
 * has exactly one regular container); otherwise returns the HTTP status (or -ENOMEM) with the
 * Status response in err_out. The kubelet checks (container running, streams requested) are
 * the caller's. */
int sim_rest_check_exec(sim_model_t *m, const char *user, const char *ns, const char *pod,
                        const char *container, int attach, int verb_create, sim_response_t *err_out,
                        const sim_pod_t **pod_out, const sim_container_t **c_out);

/* Go's json.Encoder string escaping: quotes added; <, >, & as \u003c \u003e \u0026; U+2028/9
 * escaped; invalid UTF-8 as \ufffd. */
int sim_json_str(buf_t *out, const char *s);

#endif
