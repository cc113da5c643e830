/* resolve: from TARGET to one pod and container, as kubectl exec/attach do: a pod by name, or a
 * workload's pods through its selector (waiting up to --pod-running-timeout for one to appear)
 * and the "most active" of them; the phase check; container defaulting with kubectl's note. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"

typedef struct resolve {
    app_t *a;
    cli_target_t tgt;
    const char *ns;
    int done, err;
    uint64_t deadline;
    uv_timer_t retry;
    char ns_buf[256], pod[256], container[256];
    int tty, stdin_;
    char message[1024];
} resolve_t;

static void lookup(resolve_t *r);

static int is_completed(const char *phase)
{
    return !strcmp(phase, "Succeeded") || !strcmp(phase, "Failed");
}

/* "main, sidecar, dbg (ephem), init-db (init)": regular, then ephemeral, then init. */
static void all_container_names(const pmx_pod_t *p, char *out, size_t len)
{
    static const int order[] = {0, 2, 1};
    static const char *suffix[] = {"", " (init)", " (ephem)"};
    size_t w = 0;
    out[0] = 0;
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < p->ncontainers && w < len; i++) {
            const pmx_container_t *c = &p->containers[i];
            if (c->kind != order[k]) continue;
            int n = snprintf(out + w, len - w, "%s%s%s", w ? ", " : "", c->name, suffix[c->kind]);
            if (n < 0) break;
            w += (size_t)n;
        }
}

static const pmx_container_t *find_container(const pmx_pod_t *p, const char *name)
{
    for (size_t i = 0; i < p->ncontainers; i++)
        if (!strcmp(p->containers[i].name, name)) return &p->containers[i];
    return NULL;
}

/* The container to use, or -1 with r->message set. */
static int choose_container(resolve_t *r, const pmx_pod_t *p)
{
    cli_opts_t *o = r->a->o;
    const char *name = o->container;
    if (name && o->cmd == CMD_ATTACH && !find_container(p, name)) {
        snprintf(r->message, sizeof r->message,
                 "cannot attach to the container: container %s not found in pod %s", name, p->name);
        return -1;
    }
    if (!name) {
        name = pmx_default_container(p);
        if (!name) {
            snprintf(r->message, sizeof r->message, "pod %s/%s does not have any containers",
                     p->namespace_, p->name);
            return -1;
        }
        int from_annotation = p->default_container && !strcmp(p->default_container, name);
        if (!from_annotation && !o->quiet && p->ncontainers > 1) {
            char names[2048];
            all_container_names(p, names, sizeof names);
            app_notef(r->a, "Defaulted container \"%s\" out of: %s", name, names);
        }
    }
    snprintf(r->container, sizeof r->container, "%s", name);
    return 0;
}

/* kubectl's TTY rules for exec and attach. */
static void choose_tty(resolve_t *r, const pmx_pod_t *p)
{
    cli_opts_t *o = r->a->o;
    r->stdin_ = o->stdin_;
    r->tty = o->tty && o->stdin_;
    if (r->tty && !isatty(0)) {
        if (!o->quiet)
            app_notef(r->a, "Unable to use a TTY - input is not a terminal or the right kind "
                            "of file");
        r->tty = 0;
    }
    if (o->cmd != CMD_ATTACH) return;
    const pmx_container_t *c = find_container(p, r->container);
    if (!c) return;
    if (r->tty && !c->tty) {
        if (!o->quiet)
            app_notef(r->a, "error: Unable to use a TTY - container %s did not allocate one",
                      c->name);
        r->tty = 0;
    } else if (!r->tty && c->tty) {
        r->tty = 1; /* the container has a tty: its output only comes that way */
    }
}

static void accept_pod(resolve_t *r, const pmx_pod_t *p)
{
    const char *verb =
        r->a->o->cmd == CMD_ATTACH ? "cannot attach a container" : "cannot exec into a container";
    if (is_completed(p->phase)) {
        snprintf(r->message, sizeof r->message, "%s in a completed pod; current phase is %s", verb,
                 p->phase);
        r->err = 1;
        return;
    }
    snprintf(r->ns_buf, sizeof r->ns_buf, "%s", p->namespace_);
    snprintf(r->pod, sizeof r->pod, "%s", p->name);
    if (choose_container(r, p) < 0) {
        r->err = 1;
        return;
    }
    choose_tty(r, p);
}

static void on_retry(uv_timer_t *h)
{
    lookup(h->data);
}

/* After a pod's 404 kubectl looks the namespace up, and names it when it is what is missing. */
static void on_namespace(pmx_client_t *c, int err, int status, const char *body, size_t len,
                         const char *message, void *data)
{
    resolve_t *r = data;
    if (status == 404 && message && *message) {
        snprintf(r->message, sizeof r->message, "%s", message);
        cli_strip_status(r->message);
    }
    r->done = 1;
    uv_close((uv_handle_t *)&r->retry, NULL);
}

static void on_pods(pmx_client_t *c, int err, const pmx_pod_list_t *list, const char *message,
                    void *data)
{
    resolve_t *r = data;
    if (err < 0) {
        snprintf(r->message, sizeof r->message, "%s",
                 message && *message ? message : pmx_strerror(err));
        cli_strip_status(r->message);
        r->err = 1;
        char path[320];
        const char *ns = r->ns ? r->ns : pmx_client_namespace(c);
        if (err == PMX_ENOTFOUND && r->tgt.kind == TGT_POD &&
            snprintf(path, sizeof path, "/api/v1/namespaces/%s", ns) < (int)sizeof path &&
            pmx_client_get(c, path, on_namespace, r) == 0)
            return;
    } else if (list->npods == 0 && r->tgt.kind == TGT_WORKLOAD) {
        if (uv_now(r->a->loop) < r->deadline) { /* kubectl watches; we poll once a second */
            uv_timer_start(&r->retry, on_retry, 1000, 0);
            return;
        }
        snprintf(r->message, sizeof r->message, "timed out waiting for a pod of %s",
                 r->tgt.workload);
        r->err = 1;
    } else if (list->npods == 0) {
        snprintf(r->message, sizeof r->message, "pods \"%s\" not found", r->tgt.name);
        r->err = 1;
    } else {
        int i = pmx_pick_pod(list);
        accept_pod(r, &list->pods[i < 0 ? 0 : i]);
    }
    r->done = 1;
    uv_close((uv_handle_t *)&r->retry, NULL);
}

static void lookup(resolve_t *r)
{
    int rc = r->tgt.kind == TGT_POD
                 ? pmx_get_pod(r->a->c, r->ns, r->tgt.name, on_pods, r)
                 : pmx_list_workload_pods(r->a->c, r->ns, r->tgt.workload, on_pods, r);
    if (rc < 0) {
        snprintf(r->message, sizeof r->message, "%s", pmx_strerror(rc));
        r->err = r->done = 1;
        uv_close((uv_handle_t *)&r->retry, NULL);
    }
}

static int single_mode(const cli_opts_t *o)
{
    return o->ntargets == 1 && !o->selector && !o->field_selector && !o->all_ns && !o->all_pods &&
           !o->all_containers && (o->output == OUT_AUTO || o->output == OUT_RAW);
}

int run_exec_attach(app_t *a)
{
    cli_opts_t *o = a->o;
    if (!single_mode(o)) return run_multi(a);
    resolve_t *r = calloc(1, sizeof *r);
    if (!r) return app_errorf(a, "out of memory"), CLI_EXIT_FAIL;
    r->a = a;
    r->ns = o->ns;
    char perr[256];
    if (cli_parse_target(o->targets[0], &r->tgt, perr, sizeof perr) < 0) {
        app_errorf(a, "%s", perr);
        free(r);
        return CLI_EXIT_FAIL;
    }
    r->deadline = uv_now(a->loop) + o->pod_running_timeout_ms;
    uv_timer_init(a->loop, &r->retry);
    r->retry.data = r;
    lookup(r);
    uv_run(a->loop, UV_RUN_DEFAULT);
    int code;
    if (!r->done || r->err) {
        app_errorf(a, "%s", r->message[0] ? r->message : "could not find the pod");
        code = CLI_EXIT_FAIL;
    } else {
        if (o->cmd == CMD_ATTACH && !o->quiet)
            app_notef(a, "If you don't see a command prompt, try pressing enter.");
        single_target_t t = {.ns = r->ns_buf,
                             .pod = r->pod,
                             .container = r->container,
                             .tty = r->tty,
                             .stdin_ = r->stdin_};
        code = run_single(a, &t);
    }
    free(r);
    return code;
}
