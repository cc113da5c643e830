/* targets: the pod lookups behind `podmux exec` over several pods and `podmux shell`.
 *
 * Every lookup is one REST request in flight (a pod by name, a workload's pods, or a list by
 * selector); all are started at once and the loop runs until each has answered. */
#include <stdlib.h>
#include <string.h>

#include "targets.h"

typedef struct resolver {
    app_t *a;
    const targets_cb_t *cb;
    void *ctx;
    int failed;
} resolver_t;

typedef struct lookup {
    resolver_t *r;
    int workload; /* pick one unless --all-pods */
    char name[300];
    char ns[256];
} lookup_t;

static void on_pods(pmx_client_t *c, int err, const pmx_pod_list_t *list, const char *message,
                    void *data)
{
    lookup_t *l = data;
    resolver_t *r = l->r;
    if (err < 0 && !l->workload && l->name[0]) {
        r->cb->on_unread(r->ctx, l->ns, l->name);
    } else if (err < 0) {
        char text[1024];
        snprintf(text, sizeof text, "%s", message && *message ? message : pmx_strerror(err));
        cli_strip_status(text);
        app_errorf(r->a, "%s%s%s", l->name, l->name[0] ? ": " : "", text);
        r->failed++;
    } else if (l->workload && !r->a->o->all_pods) {
        int i = pmx_pick_pod(list);
        if (i >= 0)
            r->cb->on_pod(r->ctx, &list->pods[i]);
        else
            app_errorf(r->a, "%s: no pods", l->name), r->failed++;
    } else {
        for (size_t i = 0; i < list->npods; i++)
            r->cb->on_pod(r->ctx, &list->pods[i]);
    }
    free(l);
}

/* target NULL: the selectors. Returns -1 when the lookup could not start (said why). */
static int start_lookup(resolver_t *r, const char *target)
{
    cli_opts_t *o = r->a->o;
    pmx_client_t *c = r->a->c;
    lookup_t *l = calloc(1, sizeof *l);
    if (!l) return -1;
    l->r = r;
    const char *ns = o->ns ? o->ns : pmx_client_namespace(c);
    snprintf(l->ns, sizeof l->ns, "%s", ns ? ns : "default");
    int rc;
    if (!target) {
        rc = pmx_list_pods(c, o->all_ns ? NULL : l->ns, o->selector, o->field_selector, on_pods, l);
    } else {
        cli_target_t t;
        char err[256];
        if (cli_parse_target(target, &t, err, sizeof err) < 0) {
            app_errorf(r->a, "%s", err);
            free(l);
            return -1;
        }
        l->workload = t.kind == TGT_WORKLOAD;
        snprintf(l->name, sizeof l->name, "%s", l->workload ? t.workload : t.name);
        rc = l->workload ? pmx_list_workload_pods(c, l->ns, t.workload, on_pods, l)
                         : pmx_get_pod(c, l->ns, t.name, on_pods, l);
    }
    if (rc < 0) {
        app_errorf(r->a, "%s: %s", target ? target : "list pods", pmx_strerror(rc));
        free(l);
        return -1;
    }
    return 0;
}

int targets_resolve(app_t *a, const targets_cb_t *cb, void *ctx)
{
    resolver_t r = {.a = a, .cb = cb, .ctx = ctx};
    cli_opts_t *o = a->o;
    for (size_t i = 0; i < o->ntargets; i++)
        if (start_lookup(&r, o->targets[i]) < 0) r.failed++;
    if (o->selector || o->field_selector)
        if (start_lookup(&r, NULL) < 0) r.failed++;
    /* Every lookup holds a request on the loop: when it stops, all have answered. */
    uv_run(a->loop, UV_RUN_DEFAULT);
    return r.failed;
}
