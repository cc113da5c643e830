/* model_yaml: reads the YAML cluster description (schema at the top of
 * examples/demo-cluster.yaml) with libyaml's document API, and builds the objects through
 * model_build.c. Errors name the line. */
#include "sim/model_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/errbuf.h"

#define Y_MAX_LIST 4096
#define Y_MAX_CONTAINERS 64

typedef struct yctx {
    sim_model_t *m;
    yaml_document_t *doc;
    char *err;
    size_t errlen;
} yctx_t;

static int yfail(yctx_t *y, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int yfail(yctx_t *y, const yaml_node_t *n, const char *fmt, ...)
{
    if (!y->err || !y->errlen) return -EINVAL;
    int k = snprintf(y->err, y->errlen, "line %zu: ", n ? n->start_mark.line + 1 : 0);
    if (k < 0 || (size_t)k >= y->errlen) return -EINVAL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(y->err + k, y->errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static yaml_node_t *ynode(yctx_t *y, int id)
{
    return yaml_document_get_node(y->doc, id);
}

static const char *yscalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A missing key, `~`, `null` or an empty plain scalar. */
static int ynull(const yaml_node_t *n)
{
    const char *s = yscalar(n);
    if (!n) return 1;
    if (!s || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null");
}

static yaml_node_t *yget(yctx_t *y, const yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *k = yscalar(ynode(y, p->key));
        if (k && !strcmp(k, key)) {
            yaml_node_t *v = ynode(y, p->value);
            return ynull(v) ? NULL : v;
        }
    }
    return NULL;
}

static int y_str(yctx_t *y, const yaml_node_t *map, const char *key, const char **out)
{
    const yaml_node_t *n = yget(y, map, key);
    if (!n) return 0;
    if (!yscalar(n)) return yfail(y, n, "%s must be a string", key);
    return (*out = model_strdup(y->m, yscalar(n))) ? 0 : -ENOMEM;
}

static int y_int(yctx_t *y, const yaml_node_t *map, const char *key, long lo, long hi, int *out)
{
    const yaml_node_t *n = yget(y, map, key);
    if (!n) return 0;
    const char *s = yscalar(n);
    char *end = NULL;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || end == s || *end || v < lo || v > hi)
        return yfail(y, n, "%s must be an integer in %ld..%ld", key, lo, hi);
    *out = (int)v;
    return 0;
}

static int y_bool(yctx_t *y, const yaml_node_t *map, const char *key, int *out)
{
    const yaml_node_t *n = yget(y, map, key);
    if (!n) return 0;
    const char *s = yscalar(n);
    if (s && (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "yes")))
        *out = 1;
    else if (s && (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "no")))
        *out = 0;
    else
        return yfail(y, n, "%s must be true or false", key);
    return 0;
}

static int y_strlist(yctx_t *y, const yaml_node_t *n, const char *what, const char *const **out,
                     size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (!n) return 0;
    if (n->type != YAML_SEQUENCE_NODE) return yfail(y, n, "%s must be a list", what);
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt > Y_MAX_LIST) return yfail(y, n, "%s has more than %d items", what, Y_MAX_LIST);
    const char **v = model_alloc(y->m, (cnt ? cnt : 1) * sizeof *v);
    if (!v) return -ENOMEM;
    for (size_t i = 0; i < cnt; i++) {
        const yaml_node_t *it = ynode(y, n->data.sequence.items.start[i]);
        if (!yscalar(it)) return yfail(y, it ? it : n, "%s items must be strings", what);
        if (!(v[i] = model_strdup(y->m, yscalar(it)))) return -ENOMEM;
    }
    *out = v;
    *nout = cnt;
    return 0;
}

/* A string -> string mapping (labels, annotations). */
static int y_map(yctx_t *y, const yaml_node_t *n, const char *what, sim_labels_t *out)
{
    memset(out, 0, sizeof *out);
    if (!n) return 0;
    if (n->type != YAML_MAPPING_NODE) return yfail(y, n, "%s must be a mapping", what);
    size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (cnt > Y_MAX_LIST) return yfail(y, n, "%s has too many entries", what);
    const char **k = model_alloc(y->m, (cnt ? cnt : 1) * sizeof *k);
    const char **v = model_alloc(y->m, (cnt ? cnt : 1) * sizeof *v);
    if (!k || !v) return -ENOMEM;
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
        const yaml_node_t *kn = ynode(y, p->key), *vn = ynode(y, p->value);
        const char *ks = yscalar(kn), *vs = ynull(vn) ? "" : yscalar(vn);
        if (!ks || !*ks || !vs)
            return yfail(y, kn ? kn : n, "%s: keys and values must be strings", what);
        if (!(k[i] = model_strdup(y->m, ks)) || !(v[i] = model_strdup(y->m, vs))) return -ENOMEM;
    }
    *out = (sim_labels_t){k, v, cnt};
    return 0;
}

static int y_env(yctx_t *y, const yaml_node_t *n, sim_container_t *c)
{
    if (!n) return 0;
    if (n->type != YAML_SEQUENCE_NODE) return yfail(y, n, "env must be a list");
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt > Y_MAX_LIST) return yfail(y, n, "env has too many entries");
    const char **v = model_alloc(y->m, (cnt ? cnt : 1) * sizeof *v);
    if (!v) return -ENOMEM;
    for (size_t i = 0; i < cnt; i++) {
        const yaml_node_t *e = ynode(y, n->data.sequence.items.start[i]);
        const char *name = yscalar(yget(y, e, "name")), *val = yscalar(yget(y, e, "value"));
        if (!name) return yfail(y, e ? e : n, "env entries need a name");
        if (!(v[i] = model_printf(y->m, "%s=%s", name, val ? val : ""))) return -ENOMEM;
    }
    c->env = v;
    c->nenv = cnt;
    return 0;
}

static int y_container(yctx_t *y, const yaml_node_t *n, sim_ckind_t kind, sim_container_t *c)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->image = "busybox:1.36";
    int r;
    if (!n || n->type != YAML_MAPPING_NODE) return yfail(y, n, "a container must be a mapping");
    if ((r = y_str(y, n, "name", &c->name))) return r;
    if (!c->name || !*c->name) return yfail(y, n, "a container needs a name");
    if ((r = y_str(y, n, "image", &c->image)) ||
        (r = y_strlist(y, yget(y, n, "command"), "command", &c->command, &c->ncommand)) ||
        (r = y_strlist(y, yget(y, n, "args"), "args", &c->args, &c->nargs)) ||
        (r = y_env(y, yget(y, n, "env"), c)) || (r = y_bool(y, n, "stdin", &c->stdin_)) ||
        (r = y_bool(y, n, "stdinOnce", &c->stdin_once)) || (r = y_bool(y, n, "tty", &c->tty)))
        return r;
    return 0;
}

/* initContainers, containers, ephemeralContainers of a pod spec, in that order. */
static int y_containers(yctx_t *y, const yaml_node_t *spec, const sim_container_t **out,
                        size_t *nout)
{
    static const char *const keys[] = {"initContainers", "containers", "ephemeralContainers"};
    static const sim_ckind_t kinds[] = {SIM_CONTAINER_INIT, SIM_CONTAINER_REGULAR,
                                        SIM_CONTAINER_EPHEMERAL};
    sim_container_t *cs = model_alloc(y->m, Y_MAX_CONTAINERS * sizeof *cs);
    if (!cs) return -ENOMEM;
    size_t n = 0, regular = 0;
    for (int g = 0; g < 3; g++) {
        const yaml_node_t *list = yget(y, spec, keys[g]);
        if (!list) continue;
        if (list->type != YAML_SEQUENCE_NODE) return yfail(y, list, "%s must be a list", keys[g]);
        for (yaml_node_item_t *it = list->data.sequence.items.start;
             it < list->data.sequence.items.top; it++) {
            if (n == Y_MAX_CONTAINERS) return yfail(y, list, "too many containers");
            int r = y_container(y, ynode(y, *it), kinds[g], &cs[n]);
            if (r) return r;
            for (size_t j = 0; j < n; j++)
                if (!strcmp(cs[j].name, cs[n].name))
                    return yfail(y, list, "container name \"%s\" used twice", cs[n].name);
            regular += kinds[g] == SIM_CONTAINER_REGULAR;
            n++;
        }
    }
    if (!regular) return yfail(y, spec, "a pod spec needs at least one container");
    *out = cs;
    *nout = n;
    return 0;
}

/* Any YAML node as JSON with string scalars (for spec.selector). */
static cJSON *y_json(yctx_t *y, const yaml_node_t *n, int depth)
{
    if (!n || depth > 8) return NULL;
    if (n->type == YAML_SCALAR_NODE) return cJSON_CreateString(yscalar(n));
    cJSON *j = n->type == YAML_MAPPING_NODE ? cJSON_CreateObject() : cJSON_CreateArray();
    if (!j) return NULL;
    if (n->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++) {
            cJSON *c = y_json(y, ynode(y, *it), depth + 1);
            if (!c || !cJSON_AddItemToArray(j, c)) goto fail;
        }
        return j;
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = yscalar(ynode(y, p->key));
        cJSON *c = k ? y_json(y, ynode(y, p->value), depth + 1) : NULL;
        if (!c || !cJSON_AddItemToObject(j, k, c)) {
            cJSON_Delete(c);
            goto fail;
        }
    }
    return j;
fail:
    cJSON_Delete(j);
    return NULL;
}

typedef struct y_meta {
    const char *name, *ns;
    sim_labels_t labels, annotations;
} y_meta_t;

static int y_metadata(yctx_t *y, const yaml_node_t *obj, const char *kind, y_meta_t *md)
{
    const yaml_node_t *meta = yget(y, obj, "metadata");
    int r;
    memset(md, 0, sizeof *md);
    md->ns = "default";
    if ((r = y_str(y, meta, "name", &md->name)) || (r = y_str(y, meta, "namespace", &md->ns)) ||
        (r = y_map(y, yget(y, meta, "labels"), "labels", &md->labels)) ||
        (r = y_map(y, yget(y, meta, "annotations"), "annotations", &md->annotations)))
        return r;
    if (!md->name || !*md->name || strlen(md->name) > 253 || strchr(md->name, '/'))
        return yfail(y, obj, "%s needs metadata.name (1..253 characters, no '/')", kind);
    if (!*md->ns || strchr(md->ns, '/')) return yfail(y, obj, "bad metadata.namespace");
    return model_add_namespace(y->m, md->ns);
}

/* Pod-spec fields shared by bare pods and templates. */
static int y_podspec(yctx_t *y, const yaml_node_t *spec, pod_tmpl_t *t)
{
    int r;
    if (!spec) return yfail(y, spec, "missing pod spec");
    if ((r = y_containers(y, spec, &t->containers, &t->ncontainers)) ||
        (r = y_str(y, spec, "restartPolicy", &t->restart_policy)) ||
        (r = y_str(y, spec, "serviceAccountName", &t->service_account)) ||
        (r = y_bool(y, spec, "hostNetwork", &t->host_network)))
        return r;
    return 0;
}

static int y_pod(yctx_t *y, const yaml_node_t *obj)
{
    y_meta_t md;
    pod_tmpl_t t = {0};
    const char *node = NULL;
    const yaml_node_t *spec = yget(y, obj, "spec");
    int r;
    t.restart_policy = "Always";
    t.service_account = "default";
    t.phase = "Running";
    if ((r = y_metadata(y, obj, "Pod", &md)) || (r = y_podspec(y, spec, &t)) ||
        (r = y_str(y, spec, "nodeName", &node)) ||
        (r = y_str(y, yget(y, obj, "status"), "phase", &t.phase)))
        return r;
    t.ns = md.ns;
    t.labels = md.labels;
    t.annotations = md.annotations;
    t.created = y->m->start - 1800;
    char e[512];
    if ((r = model_tmpl_knobs(&t, e, sizeof e))) return r == -EINVAL ? yfail(y, obj, "%s", e) : r;
    if (!node && strcmp(t.phase, "Pending")) node = model_next_node(y->m);
    if (node && !*node) node = NULL;
    return model_add_pod(y->m, &t, md.name, node, &md.labels);
}

static int y_job_selector(yctx_t *y, sim_workload_t *w)
{
    const char *uid = model_uid(y->m, "Job", w->ns, w->name);
    const char *ek[] = {"batch.kubernetes.io/controller-uid", "batch.kubernetes.io/job-name",
                        "controller-uid", "job-name"};
    const char *ev[] = {uid, w->name, uid, w->name};
    if (!uid || model_labels_merge(y->m, &w->tmpl_labels, ek, ev, 4, &w->tmpl_labels))
        return -ENOMEM;
    w->selector = model_selector_plus(NULL, "batch.kubernetes.io/controller-uid", uid);
    return w->selector ? 0 : -ENOMEM;
}

/* spec.selector, or the template labels as matchLabels when absent; it must select the
 * template (the apiserver's validation). */
static int y_selector(yctx_t *y, const yaml_node_t *spec, sim_workload_t *w)
{
    const yaml_node_t *sn = yget(y, spec, "selector");
    w->selector = sn ? y_json(y, sn, 0) : cJSON_CreateObject();
    if (!w->selector) return sn ? yfail(y, sn, "selector is too deep or too large") : -ENOMEM;
    if (!sn) {
        cJSON *ml = cJSON_AddObjectToObject(w->selector, "matchLabels");
        for (size_t i = 0; ml && i < w->tmpl_labels.n; i++)
            if (!cJSON_AddStringToObject(ml, w->tmpl_labels.keys[i], w->tmpl_labels.values[i]))
                ml = NULL;
        if (!ml) return -ENOMEM;
    }
    sel_t s;
    char e[512];
    int r = sel_from_label_selector(&s, w->selector, e, sizeof e);
    if (r) return r == -EINVAL ? yfail(y, sn, "spec.selector: %s", e) : r;
    int ok = !sel_is_everything(&s) &&
             sel_match(&s, w->tmpl_labels.keys, w->tmpl_labels.values, w->tmpl_labels.n);
    sel_free(&s);
    if (!ok)
        return yfail(y, sn ? sn : spec,
                     "spec.template.metadata.labels: Invalid value: "
                     "`selector` does not match template `labels`");
    return 0;
}

static int y_workload(yctx_t *y, const yaml_node_t *obj, sim_wkind_t kind)
{
    y_meta_t md;
    sim_workload_t w = {0};
    pod_tmpl_t t = {0};
    const yaml_node_t *spec = yget(y, obj, "spec");
    const yaml_node_t *tmpl = yget(y, spec, "template");
    const yaml_node_t *tmeta = yget(y, tmpl, "metadata");
    int r;
    t.restart_policy = kind == SIM_JOB ? "Never" : "Always";
    t.service_account = "default";
    t.phase = "Running";
    w.replicas = 1;
    if ((r = y_metadata(y, obj, sim_wkind_kind(kind), &md))) return r;
    if (!tmpl) return yfail(y, obj, "%s %s needs spec.template", sim_wkind_kind(kind), md.name);
    if ((r = y_map(y, yget(y, tmeta, "labels"), "labels", &w.tmpl_labels)) ||
        (r = y_map(y, yget(y, tmeta, "annotations"), "annotations", &w.tmpl_annotations)) ||
        (r = y_podspec(y, yget(y, tmpl, "spec"), &t)) ||
        (r = y_int(y, spec, kind == SIM_JOB ? "completions" : "replicas", 0, SIM_MAX_REPLICAS,
                   &w.replicas)))
        return r;
    w.kind = kind;
    w.name = md.name;
    w.ns = md.ns;
    w.annotations = md.annotations;
    w.containers = t.containers;
    w.ncontainers = t.ncontainers;
    w.restart_policy = t.restart_policy;
    w.created = y->m->start - 7200 + (long long)y->m->nworkloads * 60;
    if (kind == SIM_DAEMONSET) w.replicas = (int)y->m->nnodes;
    r = kind == SIM_JOB ? y_job_selector(y, &w) : y_selector(y, spec, &w);
    w.labels = md.labels.n ? md.labels : w.tmpl_labels;
    t.ns = md.ns;
    t.labels = w.tmpl_labels;
    t.annotations = w.tmpl_annotations;
    char e[512];
    if (!r && (r = model_tmpl_knobs(&t, e, sizeof e)) == -EINVAL) r = yfail(y, tmpl, "%s", e);
    if (r) {
        cJSON_Delete(w.selector);
        return r;
    }
    int wi = model_add_workload(y->m, &w, e, sizeof e);
    if (wi < 0) return wi == -EINVAL ? yfail(y, obj, "%s", e) : wi;
    r = model_expand_workload(y->m, wi, &t, e, sizeof e);
    return r == -EINVAL ? yfail(y, obj, "%s", e) : r;
}

static int y_object(yctx_t *y, const yaml_node_t *obj)
{
    static const char *const kinds[SIM_WKIND_COUNT] = {"Deployment", "StatefulSet", "DaemonSet",
                                                       "ReplicaSet", "Job"};
    const char *kind = yscalar(yget(y, obj, "kind"));
    if (!obj || obj->type != YAML_MAPPING_NODE || !kind)
        return yfail(y, obj, "each object needs a kind");
    if (!strcmp(kind, "Pod")) return y_pod(y, obj);
    for (int k = 0; k < SIM_WKIND_COUNT; k++)
        if (!strcmp(kind, kinds[k])) return y_workload(y, obj, (sim_wkind_t)k);
    return yfail(y, obj,
                 "unsupported kind \"%s\" (Deployment, StatefulSet, DaemonSet, "
                 "ReplicaSet, Job, Pod)",
                 kind);
}

/* impersonate: {users: [...], groups: [...], uids: [...], userextras: ["key=value", "key=*"]}:
 * whom the user may impersonate ("*": anyone), as RBAC's "impersonate" verb would allow. */
static int y_impersonate(yctx_t *y, const yaml_node_t *u, const char *name)
{
    static const char *const keys[] = {"users", "groups", "uids", "userextras"};
    const yaml_node_t *n = yget(y, u, "impersonate");
    if (!n) return 0;
    if (n->type != YAML_MAPPING_NODE)
        return yfail(y, n, "impersonate must be a mapping (users, groups, uids, userextras)");
    for (int k = 0; k < 4; k++) {
        const char *const *list;
        size_t cnt;
        int r = y_strlist(y, yget(y, n, keys[k]), keys[k], &list, &cnt);
        if (!r) r = sim_model_set_impersonate(y->m, name, k, list, cnt);
        if (r) return r;
    }
    return 0;
}

static int y_users(yctx_t *y, const yaml_node_t *n)
{
    if (!n) return 0;
    if (n->type != YAML_SEQUENCE_NODE) return yfail(y, n, "users must be a list");
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        const yaml_node_t *u = ynode(y, *it);
        const char *name = yscalar(yget(y, u, "name"));
        const char *token = yscalar(yget(y, u, "token"));
        const char *cn = yscalar(yget(y, u, "certificateCN"));
        const char *const *denied;
        size_t nd;
        if (!name || !*name) return yfail(y, u, "a user needs a name");
        int r = y_strlist(y, yget(y, u, "deniedNamespaces"), "deniedNamespaces", &denied, &nd);
        if (!r) r = sim_model_add_user(y->m, name, token, cn);
        for (size_t i = 0; !r && i < nd; i++)
            r = sim_model_deny(y->m, name, denied[i]);
        if (!r) r = y_impersonate(y, u, name);
        if (r) return r;
    }
    return 0;
}

static int y_root(yctx_t *y, const yaml_node_t *root)
{
    static const char *const known[] = {"namespaces", "nodes", "users", "objects"};
    if (!root || root->type != YAML_MAPPING_NODE)
        return yfail(y, root,
                     "the cluster file must be a mapping (namespaces, nodes, users, "
                     "objects)");
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        const char *k = yscalar(ynode(y, p->key));
        size_t i = 0;
        while (k && i < 4 && strcmp(k, known[i]))
            i++;
        if (!k || i == 4) return yfail(y, ynode(y, p->key), "unknown key \"%s\"", k ? k : "?");
    }
    const char *const *list;
    size_t n;
    int r = y_strlist(y, yget(y, root, "nodes"), "nodes", &list, &n);
    if (r) return r;
    if (n) {
        y->m->nodes = list;
        y->m->nnodes = n;
    }
    if ((r = y_strlist(y, yget(y, root, "namespaces"), "namespaces", &list, &n))) return r;
    for (size_t i = 0; i < n; i++)
        if ((r = model_add_namespace(y->m, list[i]))) return r;
    if ((r = y_users(y, yget(y, root, "users")))) return r;
    const yaml_node_t *objs = yget(y, root, "objects");
    if (objs && objs->type != YAML_SEQUENCE_NODE) return yfail(y, objs, "objects must be a list");
    for (yaml_node_item_t *it = objs ? objs->data.sequence.items.start : NULL;
         objs && it < objs->data.sequence.items.top; it++)
        if ((r = y_object(y, ynode(y, *it)))) return r;
    return 0;
}

int sim_model_load_yaml(sim_model_t *m, const char *text, size_t len, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (len > SIM_MAX_YAML_BYTES) {
        errbuf_printf(err, errlen, "cluster file larger than %u bytes", SIM_MAX_YAML_BYTES);
        return -EINVAL;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) return -ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        errbuf_printf(err, errlen, "line %zu: %s", parser.problem_mark.line + 1,
                      parser.problem ? parser.problem : "YAML syntax error");
        yaml_parser_delete(&parser);
        return -EINVAL;
    }
    yctx_t y = {m, &doc, err, errlen};
    int r = y_root(&y, yaml_document_get_root_node(&doc));
    if (r == -E2BIG) errbuf_printf(err, errlen, "too many objects (at most %d pods)", SIM_MAX_PODS);
    if (r == -ENOMEM) errbuf_printf(err, errlen, "out of memory");
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (r) return r == -E2BIG ? -EINVAL : r;
    return model_finish(m, err, errlen);
}

int sim_model_load_file(sim_model_t *m, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno; /* the caller names the file */
        errbuf_printf(err, errlen, "%s", strerror(e));
        return -e;
    }
    char *buf = malloc(SIM_MAX_YAML_BYTES + 1);
    size_t n = buf ? fread(buf, 1, SIM_MAX_YAML_BYTES + 1, f) : 0;
    int rerr = ferror(f);
    fclose(f);
    if (!buf) return -ENOMEM;
    int r = -EINVAL;
    if (rerr)
        errbuf_printf(err, errlen, "%s: read error", path);
    else if (n > SIM_MAX_YAML_BYTES)
        errbuf_printf(err, errlen, "%s: larger than %u bytes", path, SIM_MAX_YAML_BYTES);
    else
        r = sim_model_load_yaml(m, buf, n, err, errlen);
    if (r && err && errlen && strncmp(err, path, strlen(path))) {
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s: %s", path, err);
        snprintf(err, errlen, "%s", tmp);
    }
    free(buf);
    return r;
}
