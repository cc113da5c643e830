/* model: podmux-sim's simulated cluster: namespaces, workloads, pods, users, faults.
 *
 * Built once at start-up (from `--pods N` or a YAML cluster file, schema documented at the top
 * of examples/demo-cluster.yaml). Its arrays never move afterwards, so the REST layer and the
 * exec path can hold pointers into it for as long as the model lives. What changes is a pod's
 * life: a pod with a timeline (sim.podmux.io/create-after, running-after, delete-after) is
 * created, starts running or is deleted at its time, each step bumping the resourceVersion and
 * being logged for watches (model_time.c). Every string and array belongs to the model's arena
 * and is freed with it. Names, uids, IPs and pod-name suffixes are deterministic so tests are
 * stable across runs. */
#ifndef PMX_SIM_MODEL_H
#define PMX_SIM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "kube/selector.h"

typedef struct cJSON cJSON;

/* Annotation prefix of the simulator's own knobs (faults, pod phase, timeline). The timeline
 * knobs take Go durations ("8s", "500ms", "1m30s"), on a pod or a template:
 *   sim.podmux.io/create-after: 8s    the pod does not exist until 8 s after the sim started
 *                                     (kubectl exec deploy/X watches until then)
 *   sim.podmux.io/running-after: 2s   Pending (scheduled, ContainerCreating) for 2 s after its
 *                                     creation, then its phase (default Running)
 *   sim.podmux.io/delete-after: 4s    deleted 4 s after its creation */
#define SIM_ANN_PREFIX "sim.podmux.io/"

#define SIM_MAX_PODS 200000
#define SIM_MAX_REPLICAS 100000
#define SIM_MAX_YAML_BYTES (8u * 1024 * 1024)

/* A label or annotation set: keys[i] = values[i]. Matches sel_match()'s interface. */
typedef struct sim_labels {
    const char *const *keys;
    const char *const *values;
    size_t n;
} sim_labels_t;

typedef enum sim_ckind {
    SIM_CONTAINER_INIT = 0,
    SIM_CONTAINER_REGULAR = 1,
    SIM_CONTAINER_EPHEMERAL = 2,
} sim_ckind_t;

typedef struct sim_container {
    const char *name;
    const char *image;
    const char *const *command; /* argv of the entrypoint (may be empty) */
    size_t ncommand;
    const char *const *args;
    size_t nargs;
    const char *const *env; /* "NAME=value" */
    size_t nenv;
    int stdin_, stdin_once, tty;
    sim_ckind_t kind;
} sim_container_t;

/* Per-pod faults, from annotations sim.podmux.io/fault-* (see demo-cluster.yaml):
 *   fault-upgrade-status: "500"     answer exec/attach with this HTTP status instead of 101
 *   fault-retry-after: "3"          with it, a Retry-After header (seconds)
 *   fault-upgrade-delay-ms: "2000"  wait before answering the upgrade
 *   fault-drop-after-bytes: "1000"  close TCP (no close frame) after N bytes of output
 *   fault-reset: "true"             TCP reset right after the 101 and the initial frame
 *   fault-stall: "true"             after the initial frame, send and read nothing more
 *   fault-close-without-status: "true"  close 1000 without a status message
 *   fault-malformed-frame: "true"   send an invalid WebSocket frame after the initial frame
 *   fault-coalesce: "true"          write the whole session's output+status+close at once and
 *                                   keep TCP open until the client closes (a proxy's habit) */
typedef struct sim_faults {
    int upgrade_status;         /* 0: none */
    int retry_after;            /* seconds; -1: none */
    int upgrade_delay_ms;       /* 0: none */
    long long drop_after_bytes; /* -1: none */
    int reset_after_open;
    int stall;
    int close_without_status;
    int malformed_frame;
    int coalesce;
} sim_faults_t;

typedef struct sim_owner {
    const char *api_version, *kind, *name, *uid; /* kind NULL: no owner */
} sim_owner_t;

/* Where a pod is in its life. Pods without a timeline are SIM_POD_LIVE from the start. */
typedef enum sim_pod_life {
    SIM_POD_LIVE = 0,
    SIM_POD_UNBORN, /* created later (create-after): invisible until then */
    SIM_POD_GONE,   /* deleted (delete-after): invisible again */
} sim_pod_life_t;

typedef struct sim_pod {
    const char *name, *ns, *uid;
    const char *generate_name; /* "web-5d8f7c9b4c-" for controller pods, else NULL */
    sim_labels_t labels, annotations;
    const char *phase;            /* Pending, Running, Succeeded, Failed */
    const char *node_name;        /* NULL: not scheduled */
    const char *host_ip, *pod_ip; /* NULL when not scheduled */
    const char *restart_policy, *service_account, *scheduler_name;
    int host_network;
    int restarts;
    long long created; /* unix seconds */
    uint64_t rv;       /* resourceVersion */
    sim_owner_t owner;
    const sim_container_t *containers; /* init, then regular, then ephemeral (in file order) */
    size_t ncontainers;
    sim_faults_t faults;
    /* Timeline, in ms after the model was built (sim_model_now_ms); -1: no such step. */
    long long create_at_ms, run_at_ms, delete_at_ms;
    const char *final_phase; /* phase from run_at_ms on (until then "Pending") */
    sim_pod_life_t life;
} sim_pod_t;

/* What the timeline changes in a pod, at one resourceVersion. */
typedef struct sim_pod_snap {
    const char *phase;
    uint64_t rv;
    int exists;
} sim_pod_snap_t;

typedef enum sim_change_type {
    SIM_CHANGE_ADDED = 0,
    SIM_CHANGE_MODIFIED,
    SIM_CHANGE_DELETED,
} sim_change_type_t;

/* One step of a pod's timeline, as a watch reports it. */
typedef struct sim_change {
    sim_change_type_t type;
    uint64_t rv;
    size_t pod; /* index in sim_model_t.pods */
    sim_pod_snap_t before, after;
} sim_change_t;

typedef enum sim_wkind {
    SIM_DEPLOYMENT = 0,
    SIM_STATEFULSET,
    SIM_DAEMONSET,
    SIM_REPLICASET,
    SIM_JOB,
    SIM_WKIND_COUNT,
} sim_wkind_t;

typedef struct sim_workload {
    sim_wkind_t kind;
    const char *name, *ns, *uid;
    sim_labels_t labels, annotations;
    int replicas;    /* desired (jobs: completions; daemonsets: number of nodes) */
    cJSON *selector; /* metav1.LabelSelector, owned; NULL when the object has none */
    sel_t sel;       /* the same, parsed */
    sim_labels_t tmpl_labels, tmpl_annotations;
    const sim_container_t *containers; /* the pod template's */
    size_t ncontainers;
    const char *restart_policy;
    long long created;
    uint64_t rv;
    sim_owner_t owner;                      /* a Deployment's ReplicaSet points at it */
    int npods, nready, nsucceeded, nfailed; /* counted over the model's pods it owns */
} sim_workload_t;

typedef struct sim_namespace {
    const char *name, *uid;
    long long created;
    uint64_t rv;
} sim_namespace_t;

typedef struct sim_user {
    const char *name;
    const char *token;         /* Bearer token, or NULL */
    const char *cert_cn;       /* client certificate CN, or NULL */
    const char *const *denied; /* namespaces this user may not use */
    size_t ndenied;
    /* Whom this user may impersonate (RBAC's "impersonate" verb), "*" for anyone: user names
     * (service accounts as system:serviceaccount:NS:NAME), groups, uids, and user extras as
     * "key=value" or "key=*". */
    const char *const *imp[4];
    size_t nimp[4];
} sim_user_t;

enum { SIM_IMP_USERS, SIM_IMP_GROUPS, SIM_IMP_UIDS, SIM_IMP_EXTRAS };

struct sim_arena;
struct sim_timeline;

typedef struct sim_model {
    struct sim_arena *arena;
    sim_namespace_t *namespaces;
    size_t nnamespaces;
    sim_pod_t *pods; /* sorted by namespace, then name (etcd key order) */
    size_t npods;
    sim_workload_t *workloads;
    size_t nworkloads;
    sim_user_t *users;
    size_t nusers;
    const char *const *nodes; /* node names; pods are spread over them */
    size_t nnodes;
    uint64_t rv;                /* the newest resourceVersion: lists report it */
    long long start;            /* "now" when the cluster was built; creation times lie before it */
    const char *server_address; /* host:port advertised by /api (default 127.0.0.1:6443) */
    long long mono_start_ms;    /* monotonic clock when built: the timeline's zero */
    uint64_t rv_built;          /* rv once built: the oldest rv a watch may start from */
    struct sim_timeline *timeline; /* steps still to come and the change log; NULL: none */
    /* Called for every change the timeline makes, as it makes it (the watch hub). */
    void (*on_change)(void *arg, const sim_change_t *c);
    void *on_change_arg;
    /* The server's watches (rest_watch_io.c): created by the first watch, released by
     * sim_model_free with watch_hub_free (after the loop closed every handle). */
    void *watch_hub;
    void (*watch_hub_free)(void *hub);
} sim_model_t;

/* An empty cluster (namespace "default", node "sim-node-1", no users). NULL on ENOMEM. */
sim_model_t *sim_model_new(void);
void sim_model_free(sim_model_t *m);

/* --pods N: deployment "web" in "default" with N replicas (app=web), its ReplicaSet
 * web-<hash> and pods web-<hash>-<5 chars>, container "main" running `sleep infinity`. */
int sim_model_generate(sim_model_t *m, int npods, char *err, size_t errlen);
/* Adds the cluster described by a YAML file / text. One line in err on failure ("line 12:
 * ..."); the model is then half-built: free it. Use one of generate / load per model. */
int sim_model_load_file(sim_model_t *m, const char *path, char *err, size_t errlen);
int sim_model_load_yaml(sim_model_t *m, const char *text, size_t len, char *err, size_t errlen);

int sim_model_add_user(sim_model_t *m, const char *name, const char *token, const char *cert_cn);
int sim_model_deny(sim_model_t *m, const char *user, const char *ns);
/* Sets what user may impersonate of one kind (SIM_IMP_*); list lives in the model's arena. */
int sim_model_set_impersonate(sim_model_t *m, const char *user, int kind, const char *const *list,
                              size_t n);
/* 1 if user may impersonate name of kind (for SIM_IMP_EXTRAS name is "key=value"). */
int sim_model_may_impersonate(const sim_model_t *m, const char *user, int kind, const char *name);
int sim_model_set_server_address(sim_model_t *m, const char *hostport);

/* User name for a Bearer token or a client-certificate CN (either may be NULL); NULL when
 * nobody matches (the caller answers 401). */
const char *sim_model_authenticate(const sim_model_t *m, const char *token, const char *cert_cn);
const char *sim_model_authenticate_token(const sim_model_t *m, const char *token);
const char *sim_model_authenticate_cert(const sim_model_t *m, const char *cn);
/* 1 if user may use namespace ns (ns NULL: cluster scope, i.e. all namespaces, allowed only
 * to users denied nothing). user NULL means "no authentication in force": allowed. */
int sim_model_allowed(const sim_model_t *m, const char *user, const char *ns);

const sim_namespace_t *sim_model_find_namespace(const sim_model_t *m, const char *name);
const sim_pod_t *sim_model_find_pod(const sim_model_t *m, const char *ns, const char *name);
/* Index of the first pod at or after (ns, name) in list order; ns NULL = "". */
size_t sim_model_pod_lower_bound(const sim_model_t *m, const char *ns, const char *name);
const sim_workload_t *sim_model_find_workload(const sim_model_t *m, sim_wkind_t kind,
                                              const char *ns, const char *name);

/* The workload an owner reference names (a pod's ReplicaSet, that one's Deployment), or NULL. */
const sim_workload_t *sim_model_owner(const sim_model_t *m, const sim_owner_t *o);

const sim_container_t *sim_pod_container(const sim_pod_t *p, const char *name);
/* The kubelet's view: is there a running container of that name (regular or ephemeral, pod
 * Running)? The exec path answers `container not found ("c")` otherwise. */
int sim_container_running(const sim_pod_t *p, const sim_container_t *c);
int sim_pod_ready(const sim_pod_t *p); /* Running and every regular container ready */
const char *sim_labels_get(const sim_labels_t *l, const char *key); /* NULL if absent */

/* "deployments", "apps", "v1", "Deployment", "deploy" (short name). */
const char *sim_wkind_resource(sim_wkind_t k);
const char *sim_wkind_group(sim_wkind_t k);
const char *sim_wkind_kind(sim_wkind_t k);
const char *sim_wkind_short(sim_wkind_t k);

/* ---- timeline (model_time.c) ---- */

/* Monotonic ms since the model was built. */
long long sim_model_now_ms(const sim_model_t *m);
/* Applies every step due at now_ms (ms since the build), in time order: each bumps m->rv, is
 * logged and reported to on_change. Returns the number applied. Never goes back in time. */
size_t sim_model_advance(sim_model_t *m, long long now_ms);
/* When the next step is due (ms since the build); -1: nothing left. */
long long sim_model_next_step_ms(const sim_model_t *m);
/* The logged changes after rv: *first is the sequence number of the first one (read them with
 * sim_model_change until it returns NULL). 0, or -1 when the log no longer reaches back to rv
 * (the watch is "too old"). */
int sim_model_changes_since(const sim_model_t *m, uint64_t rv, uint64_t *first);
const sim_change_t *sim_model_change(const sim_model_t *m, uint64_t seq);
/* *copy = *p as it was in snap (for writing an event's object). */
void sim_pod_at(const sim_pod_t *p, const sim_pod_snap_t *snap, sim_pod_t *copy);
/* "2s", "500ms", "1m30s", "1.5s" -> ms; -1 if not a duration. */
long long sim_parse_duration_ms(const char *s);

/* RFC 3339 UTC ("2026-11-23T09:40:13Z") into out[21]. */
void sim_format_time(long long t, char out[21]);

#endif
