/* targets.h: from the command line's targets and selectors to pods, for the runners over several
 * pods (multi.c, shell.c). Each runner keeps its own list and its own rules (which pods run,
 * which container, how many); this file only looks the pods up. */
#ifndef PMX_CLI_TARGETS_H
#define PMX_CLI_TARGETS_H

#include "app.h"

typedef struct targets_cb {
    /* A pod a lookup found, Running or not: the runner decides what to do with it. */
    void (*on_pod)(void *ctx, const pmx_pod_t *p);
    /* A named pod that could not be read: still a target, so that its session reports the
     * server's own error (404, 403) like every other failure. */
    void (*on_unread)(void *ctx, const char *ns, const char *pod);
} targets_cb_t;

/* Looks up every named target (pods and workloads; a workload gives one pod unless
 * --all-pods) and the -l/--field-selector list, running the loop until all have answered.
 * What failed is said on stderr; returns how many lookups failed. */
int targets_resolve(app_t *a, const targets_cb_t *cb, void *ctx);

#endif
