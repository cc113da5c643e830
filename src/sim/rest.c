/* rest: the read-only REST API of podmux-sim. JSON is written by hand so field order, map-key
 * order (Go sorts map keys) and string escaping match what kube-apiserver's encoding/json
 * produces; every object carries the fields kubectl 1.32 and python-kubernetes' models need. */
#include "sim/rest.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JSON_CT "application/json"
#define TEXT_CT "text/plain; charset=utf-8"
#define LIST_SCAN_BUDGET 10000 /* candidates examined per page, like etcd3's maxLimit */

/* ---- JSON writing ---------------------------------------------------------------------------- */

typedef struct jw {
    buf_t *b;
    int err;
} jw_t;

static void jraw(jw_t *w, const char *s)
{
    if (!w->err && buf_append_str(w->b, s)) w->err = -ENOMEM;
}

static void jfmt(jw_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jfmt(jw_t *w, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) w->err = -EINVAL;
    jraw(w, tmp);
}

static void jstr(jw_t *w, const char *s)
{
    if (!w->err && sim_json_str(w->b, s ? s : "")) w->err = -ENOMEM;
}

/* ,"key":"value" (or without the comma when first). */
static void jkv(jw_t *w, int first, const char *key, const char *val)
{
    jraw(w, first ? "\"" : ",\"");
    jraw(w, key);
    jraw(w, "\":");
    jstr(w, val);
}

static void jtime(jw_t *w, long long t)
{
    char ts[21];
    sim_format_time(t, ts);
    jfmt(w, "\"%s\"", ts);
}

/* Length of the valid UTF-8 sequence at s (1..4), 0 if invalid; *cp gets the code point. */
static int utf8_len(const unsigned char *s, unsigned *cp)
{
    unsigned c = s[0];
    int n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    if (!n || c >= 0xf5) return 0;
    unsigned v = c & (0x3f >> (n - 1));
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return n;
}

int sim_json_str(buf_t *out, const char *s)
{
    int e = buf_append_byte(out, '"');
    const unsigned char *p = (const unsigned char *)s;
    while (*p && !e) {
        unsigned c = *p, cp;
        if (c == '"' || c == '\\') {
            e = buf_append_byte(out, '\\') || buf_append_byte(out, (uint8_t)c);
        } else if (c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f') {
            const char *esc = c == '\n'   ? "\\n"
                              : c == '\r' ? "\\r"
                              : c == '\t' ? "\\t"
                              : c == '\b' ? "\\b"
                                          : "\\f";
            e = buf_append_str(out, esc);
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            e = buf_printf(out, "\\u%04x", c);
        } else if (c < 0x80) {
            e = buf_append_byte(out, (uint8_t)c);
        } else {
            int n = utf8_len(p, &cp);
            if (!n)
                e = buf_append_str(out, "\\ufffd");
            else if (cp == 0x2028 || cp == 0x2029)
                e = buf_printf(out, "\\u%04x", cp);
            else
                e = buf_append(out, p, (size_t)n);
            p += n ? n : 1;
            continue;
        }
        p++;
    }
    if (!e) e = buf_append_byte(out, '"');
    return e ? -ENOMEM : 0;
}

typedef struct kvp {
    const char *k, *v;
} kvp_t;

static int kvp_cmp(const void *a, const void *b)
{
    return strcmp(((const kvp_t *)a)->k, ((const kvp_t *)b)->k);
}

/* A Go map[string]string: keys sorted. extra_k/extra_v (may be NULL) is added unless present. */
static void jmap(jw_t *w, const sim_labels_t *l, const char *extra_k, const char *extra_v)
{
    size_t n = l->n + (extra_k && !sim_labels_get(l, extra_k));
    kvp_t *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) {
        w->err = -ENOMEM;
        return;
    }
    for (size_t i = 0; i < l->n; i++)
        v[i] = (kvp_t){l->keys[i], l->values[i]};
    if (n > l->n) v[l->n] = (kvp_t){extra_k, extra_v};
    qsort(v, n, sizeof *v, kvp_cmp);
    jraw(w, "{");
    for (size_t i = 0; i < n; i++)
        jkv(w, i == 0, v[i].k, v[i].v);
    jraw(w, "}");
    free(v);
}

static void jstrarr(jw_t *w, const char *const *v, size_t n)
{
    jraw(w, "[");
    for (size_t i = 0; i < n; i++) {
        if (i) jraw(w, ",");
        jstr(w, v[i]);
    }
    jraw(w, "]");
}

/* ---- responses and Status -------------------------------------------------------------------- */

void sim_response_init(sim_response_t *r)
{
    r->status = 200;
    r->content_type = JSON_CT;
    buf_init(&r->body, SIM_MAX_RESPONSE);
    r->retry_after = -1;
}

void sim_response_free(sim_response_t *r)
{
    buf_free(&r->body);
}

int sim_status_json_group(buf_t *out, int code, const char *reason, const char *message,
                          const char *name, const char *group, const char *kind,
                          int retry_after_seconds)
{
    jw_t w = {out, 0};
    jraw(&w, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\"");
    if (message && *message) jkv(&w, 0, "message", message);
    if (reason && *reason) jkv(&w, 0, "reason", reason);
    if (name || group || kind || retry_after_seconds > 0) {
        int first = 1;
        jraw(&w, ",\"details\":{");
        if (name && *name) jkv(&w, first, "name", name), first = 0;
        if (group && *group) jkv(&w, first, "group", group), first = 0;
        if (kind && *kind) jkv(&w, first, "kind", kind), first = 0;
        if (retry_after_seconds > 0)
            jfmt(&w, "%s\"retryAfterSeconds\":%d", first ? "" : ",", retry_after_seconds);
        jraw(&w, "}");
    }
    if (code) jfmt(&w, ",\"code\":%d", code);
    jraw(&w, "}\n");
    return w.err;
}

int sim_status_json(buf_t *out, int code, const char *reason, const char *message, const char *name,
                    const char *kind)
{
    return sim_status_json_group(out, code, reason, message, name, NULL, kind, 0);
}

int sim_response_status(sim_response_t *out, int code, const char *reason, const char *message,
                        const char *name, const char *group, const char *kind)
{
    buf_reset(&out->body);
    out->status = code;
    out->content_type = JSON_CT;
    return sim_status_json_group(&out->body, code, reason, message, name, group, kind, 0);
}

/* ---- request context ------------------------------------------------------------------------- */

typedef struct req {
    sim_model_t *m;
    const char *query, *user;
    int table;             /* answer lists/gets of pods as a Table */
    const char *table_api; /* meta.k8s.io/v1 or meta.k8s.io/v1beta1 */
    long long now;
    sim_response_t *out;
    jw_t w;
} req_t;

static int not_found_path(req_t *r)
{
    sim_response_status(r->out, 404, "NotFound", "the server could not find the requested resource",
                        "", NULL, NULL);
    return 0;
}

static int bad_request(req_t *r, const char *msg)
{
    sim_response_status(r->out, 400, "BadRequest", msg, NULL, NULL, NULL);
    return 0;
}

static int not_found(req_t *r, const char *resource, const char *group, const char *name)
{
    char msg[700];
    snprintf(msg, sizeof msg, "%s%s%s \"%s\" not found", resource, *group ? "." : "", group, name);
    sim_response_status(r->out, 404, "NotFound", msg, name, group, resource);
    return 0;
}

/* RBAC's refusal (§1.7): 0 when allowed, else the 403 is written and -1 returned. */
static int authorize(req_t *r, const char *verb, const char *resource, const char *group,
                     const char *ns, const char *name)
{
    if (sim_model_allowed(r->m, r->user, ns)) return 0;
    char what[400], scope[300], msg[1200];
    const char *res = resource, *slash = strchr(resource, '/');
    char base[64];
    if (slash) { /* pods/exec: the qualified resource is "pods" */
        snprintf(base, sizeof base, "%.*s", (int)(slash - resource), resource);
        res = base;
    }
    if (name)
        snprintf(what, sizeof what, "%s%s%s \"%s\"", res, *group ? "." : "", group, name);
    else
        snprintf(what, sizeof what, "%s%s%s", res, *group ? "." : "", group);
    if (ns)
        snprintf(scope, sizeof scope, "in the namespace \"%s\"", ns);
    else
        snprintf(scope, sizeof scope, "at the cluster scope");
    snprintf(msg, sizeof msg,
             "%s is forbidden: User \"%s\" cannot %s resource \"%s\" in API group \"%s\" %s", what,
             r->user, verb, resource, group, scope);
    sim_response_status(r->out, 403, "Forbidden", msg, name ? name : "", group, res);
    return -1;
}

/* First value of key in a form-encoded query, decoded ('+' is a space, bad % kept literally).
 * 1 found, 0 absent, <0 too long. */
static int query_get(const char *q, const char *key, buf_t *out)
{
    size_t kl = strlen(key);
    buf_reset(out);
    for (const char *p = q; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        if (klen == kl && !memcmp(p, key, kl)) {
            for (size_t i = klen + 1; eq && i < len; i++) {
                unsigned v;
                int c = p[i];
                if (c == '+')
                    c = ' ';
                else if (c == '%' && i + 2 < len + 1 && sscanf(p + i + 1, "%2x", &v) == 1 &&
                         strspn(p + i + 1, "0123456789abcdefABCDEF") >= 2) {
                    c = (int)v;
                    i += 2;
                }
                if (buf_append_byte(out, (uint8_t)c)) return -E2BIG;
            }
            if (!out->data && buf_append(out, "", 0)) return -E2BIG;
            return 1;
        }
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

/* ---- continue tokens: base64url(JSON), opaque to clients ---------------------------------------
 */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64url(jw_t *w, const unsigned char *s, size_t n)
{
    char q[5];
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? s[i + 2] : 0);
        size_t k = n - i >= 3 ? 4 : n - i + 1;
        for (size_t j = 0; j < 4; j++)
            q[j] = B64[(v >> (18 - 6 * j)) & 63];
        q[k] = '\0';
        jraw(w, q);
    }
}

static int unb64(const char *s, buf_t *out)
{
    unsigned acc = 0;
    int bits = 0;
    for (; *s && *s != '='; s++) {
        const char *p = strchr(B64, *s == '+' ? '-' : *s == '/' ? '_' : *s);
        if (!p || !*s) return -1;
        acc = (acc << 6) | (unsigned)(p - B64);
        if ((bits += 6) >= 8) {
            bits -= 8;
            if (buf_append_byte(out, (uint8_t)(acc >> bits))) return -1;
        }
    }
    return 0;
}

static void write_continue(req_t *r, const sim_pod_t *next)
{
    buf_t raw;
    buf_init(&raw, 4096);
    jw_t w = {&raw, 0};
    jfmt(&w, "{\"v\":\"meta.k8s.io/v1\",\"rv\":%llu,\"start\":", (unsigned long long)r->m->rv);
    char key[600];
    snprintf(key, sizeof key, "%s/%s", next->ns, next->name);
    jstr(&w, key);
    jraw(&w, "}");
    if (w.err)
        r->w.err = w.err;
    else
        b64url(&r->w, (const unsigned char *)raw.data, raw.len);
    buf_free(&raw);
}

/* Decodes a continue token into the (ns, name) to resume at. */
static int read_continue(const char *tok, char *ns, char *name, size_t cap)
{
    buf_t raw;
    buf_init(&raw, 8192);
    int r = unb64(tok, &raw);
    cJSON *j = r ? NULL : cJSON_ParseWithLength(raw.data ? raw.data : "", raw.len);
    buf_free(&raw);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "v");
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(j, "start");
    const char *slash = cJSON_IsString(start) ? strchr(start->valuestring, '/') : NULL;
    r = -1;
    if (cJSON_IsString(v) && !strcmp(v->valuestring, "meta.k8s.io/v1") && slash &&
        (size_t)(slash - start->valuestring) < cap && strlen(slash + 1) < cap) {
        snprintf(ns, cap, "%.*s", (int)(slash - start->valuestring), start->valuestring);
        snprintf(name, cap, "%s", slash + 1);
        r = 0;
    }
    cJSON_Delete(j);
    return r;
}

/* ---- object writers -------------------------------------------------------------------------- */

typedef struct objmeta {
    const char *name, *generate_name, *ns, *uid;
    uint64_t rv;
    int generation;
    long long created;
    const sim_labels_t *labels, *annotations;
    const char *extra_ann_k, *extra_ann_v;
    const sim_owner_t *owner;
} objmeta_t;

/* ObjectMeta in Go field order: name, generateName, namespace, uid, resourceVersion, generation,
 * creationTimestamp, labels, annotations, ownerReferences. */
static void w_meta(jw_t *w, const objmeta_t *o)
{
    jraw(w, "{");
    jkv(w, 1, "name", o->name);
    if (o->generate_name) jkv(w, 0, "generateName", o->generate_name);
    if (o->ns) jkv(w, 0, "namespace", o->ns);
    jkv(w, 0, "uid", o->uid);
    jfmt(w, ",\"resourceVersion\":\"%llu\"", (unsigned long long)o->rv);
    if (o->generation) jfmt(w, ",\"generation\":%d", o->generation);
    jraw(w, ",\"creationTimestamp\":");
    jtime(w, o->created);
    if (o->labels && o->labels->n) {
        jraw(w, ",\"labels\":");
        jmap(w, o->labels, NULL, NULL);
    }
    if ((o->annotations && o->annotations->n) || o->extra_ann_k) {
        sim_labels_t none = {0};
        jraw(w, ",\"annotations\":");
        jmap(w, o->annotations ? o->annotations : &none, o->extra_ann_k, o->extra_ann_v);
    }
    if (o->owner && o->owner->kind) {
        jraw(w, ",\"ownerReferences\":[{");
        jkv(w, 1, "apiVersion", o->owner->api_version);
        jkv(w, 0, "kind", o->owner->kind);
        jkv(w, 0, "name", o->owner->name);
        jkv(w, 0, "uid", o->owner->uid);
        jraw(w, ",\"controller\":true,\"blockOwnerDeletion\":true}]");
    }
    jraw(w, "}");
}

static void pod_meta(const sim_pod_t *p, objmeta_t *o)
{
    *o = (objmeta_t){p->name,    p->generate_name, p->ns,           p->uid, p->rv, 0,
                     p->created, &p->labels,       &p->annotations, NULL,   NULL,  &p->owner};
}

static void w_container(jw_t *w, const sim_container_t *c)
{
    jraw(w, "{");
    jkv(w, 1, "name", c->name);
    jkv(w, 0, "image", c->image);
    if (c->ncommand) jraw(w, ",\"command\":"), jstrarr(w, c->command, c->ncommand);
    if (c->nargs) jraw(w, ",\"args\":"), jstrarr(w, c->args, c->nargs);
    if (c->nenv) {
        jraw(w, ",\"env\":[");
        for (size_t i = 0; i < c->nenv; i++) {
            const char *eq = strchr(c->env[i], '=');
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(eq ? eq - c->env[i] : 0), c->env[i]);
            jraw(w, i ? ",{" : "{");
            jkv(w, 1, "name", name);
            if (eq && eq[1]) jkv(w, 0, "value", eq + 1);
            jraw(w, "}");
        }
        jraw(w, "]");
    }
    if (c->kind != SIM_CONTAINER_EPHEMERAL) jraw(w, ",\"resources\":{}");
    jraw(w, ",\"terminationMessagePath\":\"/dev/termination-log\",\"terminationMessagePolicy\":"
            "\"File\",\"imagePullPolicy\":\"IfNotPresent\"");
    if (c->stdin_) jraw(w, ",\"stdin\":true");
    if (c->stdin_once) jraw(w, ",\"stdinOnce\":true");
    if (c->tty) jraw(w, ",\"tty\":true");
    jraw(w, "}");
}

static void w_container_group(jw_t *w, const char *key, const sim_container_t *cs, size_t n,
                              sim_ckind_t kind, int *first_field)
{
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        if (cs[i].kind != kind) continue;
        if (!any)
            jfmt(w, "%s\"%s\":[", *first_field ? "" : ",", key);
        else
            jraw(w, ",");
        w_container(w, &cs[i]);
        any = 1;
        *first_field = 0;
    }
    if (any) jraw(w, "]");
}

/* PodSpec (node NULL for templates, which also lack the admission-set fields). */
static void w_podspec(jw_t *w, const sim_container_t *cs, size_t n, const char *restart,
                      const char *sa, const char *node, int host_network, int is_pod)
{
    int first = 1;
    jraw(w, "{");
    w_container_group(w, "initContainers", cs, n, SIM_CONTAINER_INIT, &first);
    w_container_group(w, "containers", cs, n, SIM_CONTAINER_REGULAR, &first);
    if (is_pod) w_container_group(w, "ephemeralContainers", cs, n, SIM_CONTAINER_EPHEMERAL, &first);
    jkv(w, first, "restartPolicy", restart);
    jraw(w, ",\"terminationGracePeriodSeconds\":30,\"dnsPolicy\":\"ClusterFirst\"");
    jkv(w, 0, "serviceAccountName", sa);
    jkv(w, 0, "serviceAccount", sa);
    if (node) jkv(w, 0, "nodeName", node);
    if (host_network) jraw(w, ",\"hostNetwork\":true");
    jraw(w, ",\"securityContext\":{},\"schedulerName\":\"default-scheduler\"");
    if (is_pod)
        jraw(w, ",\"tolerations\":[{\"key\":\"node.kubernetes.io/not-ready\",\"operator\":"
                "\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300},{\"key\":"
                "\"node.kubernetes.io/unreachable\",\"operator\":\"Exists\",\"effect\":"
                "\"NoExecute\",\"tolerationSeconds\":300}],\"priority\":0,"
                "\"enableServiceLinks\":true,\"preemptionPolicy\":\"PreemptLowerPriority\"");
    jraw(w, "}");
}

static uint64_t hash64(const char *a, const char *b, uint64_t seed)
{
    uint64_t h = 1469598103934665603ull ^ seed;
    for (const char *s = a; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    for (const char *s = b; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return (h ^ (h >> 31)) * 0x94d049bb133111ebull;
}

/* 64 hex digits derived from a and b: stable container IDs and image digests. */
static void hex64(const char *a, const char *b, char out[65])
{
    for (uint64_t s = 0; s < 4; s++)
        snprintf(out + 16 * s, 17, "%016llx", (unsigned long long)hash64(a, b, s));
}

typedef enum cstate { CS_NONE, CS_WAITING, CS_RUNNING, CS_DONE, CS_ERROR } cstate_t;

static cstate_t container_state(const sim_pod_t *p, const sim_container_t *c)
{
    if (!p->node_name) return CS_NONE;
    if (!strcmp(p->phase, "Pending")) return CS_WAITING;
    if (!strcmp(p->phase, "Running")) return c->kind == SIM_CONTAINER_INIT ? CS_DONE : CS_RUNNING;
    if (!strcmp(p->phase, "Failed") && c->kind != SIM_CONTAINER_INIT) return CS_ERROR;
    return CS_DONE;
}

static void w_cstatus(jw_t *w, const sim_pod_t *p, const sim_container_t *c, cstate_t st)
{
    char cid[65];
    hex64(p->uid, c->name, cid);
    jraw(w, "{");
    jkv(w, 1, "name", c->name);
    jraw(w, ",\"state\":{");
    if (st == CS_WAITING) {
        jraw(w, "\"waiting\":{\"reason\":\"ContainerCreating\"}");
    } else if (st == CS_RUNNING) {
        jraw(w, "\"running\":{\"startedAt\":"), jtime(w, p->created + 2), jraw(w, "}");
    } else {
        jfmt(w, "\"terminated\":{\"exitCode\":%d,\"reason\":\"%s\",\"startedAt\":", st == CS_ERROR,
             st == CS_ERROR ? "Error" : "Completed");
        jtime(w, p->created + 2);
        jraw(w, ",\"finishedAt\":"), jtime(w, p->created + 10);
        jfmt(w, ",\"containerID\":\"containerd://%s\"}", cid);
    }
    jfmt(w, "},\"lastState\":{},\"ready\":%s,\"restartCount\":%d",
         st == CS_RUNNING && c->kind == SIM_CONTAINER_REGULAR ? "true" : "false", p->restarts);
    jkv(w, 0, "image", c->image);
    jraw(w, ",\"imageID\":");
    if (st == CS_WAITING) {
        jraw(w, "\"\",\"started\":false}");
        return;
    }
    const char *colon = strrchr(c->image, ':'), *slash = strrchr(c->image, '/');
    size_t nl = colon && (!slash || colon > slash) ? (size_t)(colon - c->image) : strlen(c->image);
    char img[400], digest[65];
    hex64(c->image, "", digest);
    snprintf(img, sizeof img, "%.*s@sha256:%s", (int)(nl < 250 ? nl : 250), c->image, digest);
    jstr(w, img);
    jfmt(w, ",\"containerID\":\"containerd://%s", cid);
    jfmt(w, "\",\"started\":%s}", st == CS_RUNNING ? "true" : "false");
}

static void w_cstatuses(jw_t *w, const sim_pod_t *p, const char *key, sim_ckind_t kind)
{
    int first = 1;
    for (size_t i = 0; i < p->ncontainers; i++) {
        const sim_container_t *c = &p->containers[i];
        if (c->kind != kind) continue;
        jfmt(w, first ? ",\"%s\":[" : ",", key);
        w_cstatus(w, p, c, container_state(p, c));
        first = 0;
    }
    if (!first) jraw(w, "]");
}

static void w_cond(jw_t *w, int first, const char *type, int ok, long long t, const char *reason,
                   const char *message)
{
    jfmt(w, "%s{\"type\":\"%s\",\"status\":\"%s\",\"lastProbeTime\":null,\"lastTransitionTime\":",
         first ? "" : ",", type, ok ? "True" : "False");
    jtime(w, t);
    if (reason) jkv(w, 0, "reason", reason);
    if (message) jkv(w, 0, "message", message);
    jraw(w, "}");
}

static void w_podstatus(req_t *r, const sim_pod_t *p)
{
    jw_t *w = &r->w;
    int running = !strcmp(p->phase, "Running");
    const char *done = !strcmp(p->phase, "Succeeded") ? "PodCompleted"
                       : !strcmp(p->phase, "Failed")  ? "PodFailed"
                                                      : NULL;
    long long t = p->created + 3;
    jraw(w, "{");
    jkv(w, 1, "phase", p->phase);
    jraw(w, ",\"conditions\":[");
    if (!p->node_name) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "0/%zu nodes are available: %zu node(s) didn't match Pod's "
                 "node affinity/selector.",
                 r->m->nnodes, r->m->nnodes);
        w_cond(w, 1, "PodScheduled", 0, p->created, "Unschedulable", msg);
    } else {
        const char *why = done ? done : running ? NULL : "ContainersNotReady";
        w_cond(w, 1, "PodReadyToStartContainers", running, t, NULL, NULL);
        w_cond(w, 0, "Initialized", 1, t, done, NULL);
        w_cond(w, 0, "Ready", running, t, why, NULL);
        w_cond(w, 0, "ContainersReady", running, t, why, NULL);
        w_cond(w, 0, "PodScheduled", 1, p->created, NULL, NULL);
    }
    jraw(w, "]");
    if (p->node_name) {
        jkv(w, 0, "hostIP", p->host_ip);
        jraw(w, ",\"hostIPs\":[{\"ip\":"), jstr(w, p->host_ip), jraw(w, "}]");
        jkv(w, 0, "podIP", p->pod_ip);
        jraw(w, ",\"podIPs\":[{\"ip\":"), jstr(w, p->pod_ip), jraw(w, "}]");
        jraw(w, ",\"startTime\":"), jtime(w, p->created + 1);
        w_cstatuses(w, p, "initContainerStatuses", SIM_CONTAINER_INIT);
        w_cstatuses(w, p, "containerStatuses", SIM_CONTAINER_REGULAR);
    }
    jraw(w, ",\"qosClass\":\"BestEffort\"");
    if (p->node_name) w_cstatuses(w, p, "ephemeralContainerStatuses", SIM_CONTAINER_EPHEMERAL);
    jraw(w, "}");
}

static void w_pod(req_t *r, const sim_pod_t *p, int with_type)
{
    jw_t *w = &r->w;
    objmeta_t o;
    pod_meta(p, &o);
    jraw(w, with_type ? "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":" : "{\"metadata\":");
    w_meta(w, &o);
    jraw(w, ",\"spec\":");
    w_podspec(w, p->containers, p->ncontainers, p->restart_policy, p->service_account, p->node_name,
              p->host_network, 1);
    jraw(w, ",\"status\":");
    w_podstatus(r, p);
    jraw(w, "}");
}

/* ---- Tables (kubectl get) -------------------------------------------------------------------- */

/* k8s.io/apimachinery/pkg/util/duration.HumanDuration, the AGE column. */
static void human_duration(long long d, char *out, size_t n)
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

static const char POD_COLUMNS[] =
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

/* The STATUS column (printers.go printPod, for the states the sim has). */
static const char *pod_status_word(const sim_pod_t *p)
{
    if (!p->node_name) return "Pending";
    if (!strcmp(p->phase, "Pending")) return "ContainerCreating";
    if (!strcmp(p->phase, "Succeeded")) return "Completed";
    if (!strcmp(p->phase, "Failed")) return "Error";
    return p->phase;
}

static void w_pod_row(req_t *r, const sim_pod_t *p)
{
    jw_t *w = &r->w;
    int regular = 0;
    for (size_t i = 0; i < p->ncontainers; i++)
        regular += p->containers[i].kind == SIM_CONTAINER_REGULAR;
    char age[32];
    human_duration(r->now - p->created, age, sizeof age);
    jraw(w, "{\"cells\":[");
    jstr(w, p->name);
    jfmt(w, ",\"%d/%d\",", sim_pod_ready(p) ? regular : 0, regular);
    jstr(w, pod_status_word(p));
    jfmt(w, ",\"%d\",\"%s\",", p->restarts * regular, age);
    jstr(w, p->pod_ip ? p->pod_ip : "<none>");
    jraw(w, ",");
    jstr(w, p->node_name ? p->node_name : "<none>");
    jraw(w, ",\"<none>\",\"<none>\"],\"object\":{\"kind\":\"PartialObjectMetadata\","
            "\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":");
    objmeta_t o;
    pod_meta(p, &o);
    w_meta(w, &o);
    jraw(w, "}}");
}

/* ---- pods ------------------------------------------------------------------------------------ */

static int pod_match(const sim_pod_t *p, const sel_t *ls, const fsel_t *fs)
{
    if (!sel_match(ls, p->labels.keys, p->labels.values, p->labels.n)) return 0;
    if (!fs->n) return 1;
    static const char *const k[] = {
        "metadata.name",      "metadata.namespace",      "spec.nodeName",    "spec.restartPolicy",
        "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
        "status.podIP",       "status.nominatedNodeName"};
    const char *v[] = {p->name,
                       p->ns,
                       p->node_name ? p->node_name : "",
                       p->restart_policy,
                       p->scheduler_name,
                       p->service_account,
                       p->host_network ? "true" : "false",
                       p->phase,
                       p->pod_ip ? p->pod_ip : "",
                       ""};
    return fsel_match(fs, k, v, 10);
}

static int get_pod(req_t *r, const char *ns, const char *name)
{
    if (authorize(r, "get", "pods", "", ns, name)) return 0;
    const sim_pod_t *p = sim_model_find_pod(r->m, ns, name);
    if (!p) return not_found(r, "pods", "", name);
    if (!r->table) {
        w_pod(r, p, 1);
        jraw(&r->w, "\n");
        return 0;
    }
    jfmt(&r->w,
         "{\"kind\":\"Table\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":"
         "\"%llu\"},",
         r->table_api, (unsigned long long)p->rv);
    jraw(&r->w, POD_COLUMNS);
    jraw(&r->w, "\"rows\":[");
    w_pod_row(r, p);
    jraw(&r->w, "]}\n");
    return 0;
}

typedef struct page {
    size_t *idx, n;      /* matching pods */
    size_t next;         /* first pod of the next page, or SIZE_MAX */
    long long remaining; /* -1: unknown (selectors in use) */
} page_t;

/* Walks [lo, hi) collecting matches; with a limit, stops when the page is full or the scan
 * budget is spent, like the etcd3 store (so a page may be short, even empty, with more to come). */
static int fill_page(req_t *r, size_t lo, size_t hi, long long limit, const sel_t *ls,
                     const fsel_t *fs, page_t *pg)
{
    pg->idx = malloc(((hi > lo ? hi - lo : 0) + 1) * sizeof *pg->idx);
    if (!pg->idx) return -ENOMEM;
    pg->n = 0;
    size_t i = lo, scanned = 0;
    for (; i < hi; i++) {
        if (limit > 0 && ((long long)pg->n == limit || scanned == LIST_SCAN_BUDGET)) break;
        scanned++;
        if (pod_match(&r->m->pods[i], ls, fs)) pg->idx[pg->n++] = i;
    }
    pg->next = i < hi ? i : SIZE_MAX;
    pg->remaining = (i < hi && sel_is_everything(ls) && !fs->n) ? (long long)(hi - i) : -1;
    return 0;
}

static size_t ns_end(const sim_model_t *m, const char *ns)
{
    size_t lo = sim_model_pod_lower_bound(m, ns, ""), hi = m->npods;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(m->pods[mid].ns, ns) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void w_pod_page(req_t *r, const page_t *pg)
{
    jw_t *w = &r->w;
    if (r->table)
        jfmt(w, "{\"kind\":\"Table\",\"apiVersion\":\"%s\",", r->table_api);
    else
        jraw(w, "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",");
    jfmt(w, "\"metadata\":{\"resourceVersion\":\"%llu\"", (unsigned long long)r->m->rv);
    if (pg->next != SIZE_MAX) {
        jraw(w, ",\"continue\":\"");
        write_continue(r, &r->m->pods[pg->next]);
        jraw(w, "\"");
        if (pg->remaining >= 0) jfmt(w, ",\"remainingItemCount\":%lld", pg->remaining);
    }
    jraw(w, "},");
    if (r->table) jraw(w, POD_COLUMNS);
    jraw(w, r->table ? "\"rows\":[" : "\"items\":[");
    for (size_t i = 0; i < pg->n && !w->err; i++) {
        if (i) jraw(w, ",");
        if (r->table)
            w_pod_row(r, &r->m->pods[pg->idx[i]]);
        else
            w_pod(r, &r->m->pods[pg->idx[i]], 0);
    }
    jraw(w, "]}\n");
}

/* Parses labelSelector and fieldSelector; on error the 400 is written and -1 returned. */
static int read_selectors(req_t *r, buf_t *q, sel_t *ls, fsel_t *fs, int pods)
{
    char err[1024];
    sel_init(ls);
    fsel_init(fs);
    int got = query_get(r->query, "labelSelector", q);
    if (got < 0) return bad_request(r, "labelSelector too long"), -1;
    if (got && sel_parse(ls, q->data, q->len, err, sizeof err)) return bad_request(r, err), -1;
    got = query_get(r->query, "fieldSelector", q);
    if (got < 0) return bad_request(r, "fieldSelector too long"), -1;
    if (got && pods && fsel_parse_pod(fs, q->data, err, sizeof err)) return bad_request(r, err), -1;
    return 0;
}

static int list_pods(req_t *r, const char *ns)
{
    if (authorize(r, "list", "pods", "", ns, NULL)) return 0;
    buf_t q;
    buf_init(&q, SEL_MAX_TEXT + 1);
    sel_t ls;
    fsel_t fs;
    page_t pg = {0};
    size_t lo = ns ? sim_model_pod_lower_bound(r->m, ns, "") : 0;
    size_t hi = ns ? ns_end(r->m, ns) : r->m->npods;
    long long limit = 0;
    if (read_selectors(r, &q, &ls, &fs, 1)) goto out;
    if (query_get(r->query, "limit", &q) > 0) limit = strtoll(q.data, NULL, 10);
    if (query_get(r->query, "continue", &q) > 0 && q.len) {
        char cns[300], cname[300];
        if (read_continue(q.data, cns, cname, sizeof cns) || (ns && strcmp(cns, ns))) {
            bad_request(r, "continue key is not valid: the continue token is not a podmux-sim "
                           "token for this list");
            goto out;
        }
        size_t at = sim_model_pod_lower_bound(r->m, cns, cname);
        if (at > lo) lo = at;
    }
    if (fill_page(r, lo, hi, limit, &ls, &fs, &pg))
        r->w.err = -ENOMEM;
    else
        w_pod_page(r, &pg);
out:
    free(pg.idx);
    sel_free(&ls);
    fsel_free(&fs);
    buf_free(&q);
    return 0;
}

/* ---- workloads ------------------------------------------------------------------------------- */

/* metav1.LabelSelector with matchLabels keys sorted, as Go marshals the map. */
static void w_selector(jw_t *w, const cJSON *sel)
{
    const cJSON *ml = cJSON_GetObjectItemCaseSensitive(sel, "matchLabels");
    const cJSON *me = cJSON_GetObjectItemCaseSensitive(sel, "matchExpressions");
    int first = 1, n = cJSON_GetArraySize(ml);
    jraw(w, "{");
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
        jraw(w, "\"matchLabels\":");
        if (k && v)
            jmap(w, &l, NULL, NULL);
        else
            w->err = -ENOMEM;
        free(k);
        free(v);
        first = 0;
    }
    if (cJSON_IsArray(me) && cJSON_GetArraySize(me) > 0) {
        jraw(w, first ? "\"matchExpressions\":[" : ",\"matchExpressions\":[");
        const cJSON *e;
        int i = 0;
        cJSON_ArrayForEach(e, me)
        {
            const cJSON *vals = cJSON_GetObjectItemCaseSensitive(e, "values");
            jraw(w, i++ ? ",{" : "{");
            jkv(w, 1, "key", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "key")));
            jkv(w, 0, "operator",
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "operator")));
            if (cJSON_GetArraySize(vals) > 0) {
                const cJSON *v;
                int j = 0;
                jraw(w, ",\"values\":[");
                cJSON_ArrayForEach(v, vals)
                {
                    if (j++) jraw(w, ",");
                    jstr(w, cJSON_GetStringValue(v));
                }
                jraw(w, "]");
            }
            jraw(w, "}");
        }
        jraw(w, "]");
    }
    jraw(w, "}");
}

static void w_template(jw_t *w, const sim_workload_t *wl)
{
    jraw(w, "{\"metadata\":{\"creationTimestamp\":null");
    if (wl->tmpl_labels.n) jraw(w, ",\"labels\":"), jmap(w, &wl->tmpl_labels, NULL, NULL);
    if (wl->tmpl_annotations.n)
        jraw(w, ",\"annotations\":"), jmap(w, &wl->tmpl_annotations, NULL, NULL);
    jraw(w, "},\"spec\":");
    w_podspec(w, wl->containers, wl->ncontainers, wl->restart_policy, "default", NULL, 0, 0);
    jraw(w, "}");
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
    jfmt(w, "%s{\"type\":\"%s\",\"status\":\"True\",", first ? "" : ",", type);
    if (ts_key) jfmt(w, "\"%s\":", ts_key), jtime(w, t), jraw(w, ",");
    jraw(w, "\"lastTransitionTime\":"), jtime(w, t);
    jkv(w, 0, "reason", reason);
    jkv(w, 0, "message", msg);
    jraw(w, "}");
}

static void w_wstatus(req_t *r, const sim_workload_t *wl)
{
    jw_t *w = &r->w;
    int np = wl->npods, nr = wl->nready;
    long long t = wl->created + 30;
    char msg[400];
    switch (wl->kind) {
    case SIM_DEPLOYMENT:
        jfmt(w, "{\"observedGeneration\":1,\"replicas\":%d,\"updatedReplicas\":%d", np, np);
        if (nr) jfmt(w, ",\"readyReplicas\":%d,\"availableReplicas\":%d", nr, nr);
        jraw(w, ",\"conditions\":[");
        w_wl_cond(w, 1, "Available", "lastUpdateTime", t, "MinimumReplicasAvailable",
                  "Deployment has minimum availability.");
        snprintf(msg, sizeof msg, "ReplicaSet \"%s\" has successfully progressed.",
                 child_name(r->m, wl));
        w_wl_cond(w, 0, "Progressing", "lastUpdateTime", t, "NewReplicaSetAvailable", msg);
        jraw(w, "]}");
        break;
    case SIM_STATEFULSET: {
        const char *rev = sts_revision(r->m, wl);
        jfmt(w, "{\"observedGeneration\":1,\"replicas\":%d", np);
        if (nr) jfmt(w, ",\"readyReplicas\":%d", nr);
        jfmt(w, ",\"currentReplicas\":%d,\"updatedReplicas\":%d", np, np);
        if (rev) jkv(w, 0, "currentRevision", rev), jkv(w, 0, "updateRevision", rev);
        jfmt(w, ",\"collisionCount\":0,\"availableReplicas\":%d}", nr);
        break;
    }
    case SIM_DAEMONSET:
        jfmt(w,
             "{\"currentNumberScheduled\":%d,\"numberMisscheduled\":0,"
             "\"desiredNumberScheduled\":%d,\"numberReady\":%d,\"observedGeneration\":1,"
             "\"updatedNumberScheduled\":%d",
             np, np, nr, np);
        if (nr) jfmt(w, ",\"numberAvailable\":%d", nr);
        jraw(w, "}");
        break;
    case SIM_REPLICASET:
        jfmt(w, "{\"replicas\":%d,\"fullyLabeledReplicas\":%d", np, np);
        if (nr) jfmt(w, ",\"readyReplicas\":%d,\"availableReplicas\":%d", nr, nr);
        jraw(w, ",\"observedGeneration\":1}");
        break;
    default: { /* Job */
        int complete = wl->nsucceeded >= wl->replicas, active = np - wl->nsucceeded - wl->nfailed;
        jraw(w, "{");
        if (complete) {
            jraw(w, "\"conditions\":[");
            w_wl_cond(w, 1, "SuccessCriteriaMet", "lastProbeTime", t, "CompletionsReached",
                      "Reached expected number of succeeded pods");
            w_wl_cond(w, 0, "Complete", "lastProbeTime", t, "CompletionsReached",
                      "Reached expected number of succeeded pods");
            jraw(w, "],");
        }
        jraw(w, "\"startTime\":"), jtime(w, wl->created + 1);
        if (complete) jraw(w, ",\"completionTime\":"), jtime(w, t);
        if (active) jfmt(w, ",\"active\":%d", active);
        if (wl->nsucceeded) jfmt(w, ",\"succeeded\":%d", wl->nsucceeded);
        if (wl->nfailed) jfmt(w, ",\"failed\":%d", wl->nfailed);
        jfmt(w, ",\"terminating\":0,\"uncountedTerminatedPods\":{},\"ready\":%d}", nr);
    }
    }
}

static void w_workload(req_t *r, const sim_workload_t *wl, int with_type)
{
    jw_t *w = &r->w;
    if (with_type)
        jfmt(w, "{\"kind\":\"%s\",\"apiVersion\":\"%s/v1\",\"metadata\":", sim_wkind_kind(wl->kind),
             sim_wkind_group(wl->kind));
    else
        jraw(w, "{\"metadata\":");
    objmeta_t o = {wl->name,    NULL,        wl->ns,           wl->uid, wl->rv, 1,
                   wl->created, &wl->labels, &wl->annotations, NULL,    NULL,   &wl->owner};
    if (wl->kind == SIM_DEPLOYMENT) o.extra_ann_k = "deployment.kubernetes.io/revision";
    o.extra_ann_v = "1";
    w_meta(w, &o);
    jraw(w, ",\"spec\":{");
    if (wl->kind == SIM_JOB)
        jfmt(w, "\"parallelism\":1,\"completions\":%d,\"backoffLimit\":6,", wl->replicas);
    else if (wl->kind != SIM_DAEMONSET)
        jfmt(w, "\"replicas\":%d,", wl->replicas);
    jraw(w, "\"selector\":");
    w_selector(w, wl->selector);
    jraw(w, ",\"template\":");
    w_template(w, wl);
    if (wl->kind == SIM_DEPLOYMENT)
        jraw(w, ",\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxUnavailable\":"
                "\"25%\",\"maxSurge\":\"25%\"}},\"revisionHistoryLimit\":10,"
                "\"progressDeadlineSeconds\":600");
    if (wl->kind == SIM_STATEFULSET)
        jkv(w, 0, "serviceName", wl->name),
            jraw(w, ",\"podManagementPolicy\":\"OrderedReady\",\"updateStrategy\":{\"type\":"
                    "\"RollingUpdate\",\"rollingUpdate\":{\"partition\":0}},"
                    "\"revisionHistoryLimit\":10,\"persistentVolumeClaimRetentionPolicy\":{"
                    "\"whenDeleted\":\"Retain\",\"whenScaled\":\"Retain\"}");
    if (wl->kind == SIM_DAEMONSET)
        jraw(w, ",\"updateStrategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{"
                "\"maxUnavailable\":1,\"maxSurge\":0}},\"revisionHistoryLimit\":10");
    if (wl->kind == SIM_JOB)
        jraw(w, ",\"completionMode\":\"NonIndexed\",\"suspend\":false,"
                "\"podReplacementPolicy\":\"TerminatingOrFailed\"");
    jraw(w, "},\"status\":");
    w_wstatus(r, wl);
    jraw(w, "}");
}

static int wl_cmp(const void *a, const void *b)
{
    const sim_workload_t *x = *(const sim_workload_t *const *)a;
    const sim_workload_t *y = *(const sim_workload_t *const *)b;
    int c = strcmp(x->ns, y->ns);
    return c ? c : strcmp(x->name, y->name);
}

static int list_workloads(req_t *r, sim_wkind_t kind, const char *ns)
{
    const char *res = sim_wkind_resource(kind), *grp = sim_wkind_group(kind);
    if (authorize(r, "list", res, grp, ns, NULL)) return 0;
    buf_t q;
    buf_init(&q, SEL_MAX_TEXT + 1);
    sel_t ls;
    fsel_t fs;
    const sim_workload_t **v = malloc((r->m->nworkloads + 1) * sizeof *v);
    size_t n = 0;
    if (!v) r->w.err = -ENOMEM;
    if (!v || read_selectors(r, &q, &ls, &fs, 0)) goto out;
    for (size_t i = 0; i < r->m->nworkloads; i++) {
        const sim_workload_t *wl = &r->m->workloads[i];
        if (wl->kind == kind && (!ns || !strcmp(wl->ns, ns)) &&
            sel_match(&ls, wl->labels.keys, wl->labels.values, wl->labels.n))
            v[n++] = wl;
    }
    qsort(v, n, sizeof *v, wl_cmp);
    jfmt(&r->w,
         "{\"kind\":\"%sList\",\"apiVersion\":\"%s/v1\",\"metadata\":{\"resourceVersion\":"
         "\"%llu\"},\"items\":[",
         sim_wkind_kind(kind), grp, (unsigned long long)r->m->rv);
    for (size_t i = 0; i < n && !r->w.err; i++) {
        if (i) jraw(&r->w, ",");
        w_workload(r, v[i], 0);
    }
    jraw(&r->w, "]}\n");
out:
    free(v);
    sel_free(&ls);
    fsel_free(&fs);
    buf_free(&q);
    return 0;
}

static int get_workload(req_t *r, sim_wkind_t kind, const char *ns, const char *name)
{
    const char *res = sim_wkind_resource(kind), *grp = sim_wkind_group(kind);
    if (authorize(r, "get", res, grp, ns, name)) return 0;
    const sim_workload_t *wl = sim_model_find_workload(r->m, kind, ns, name);
    if (!wl) {
        not_found(r, res, grp, name);
        return 0;
    }
    w_workload(r, wl, 1);
    jraw(&r->w, "\n");
    return 0;
}

/* ---- namespaces ------------------------------------------------------------------------------ */

static void w_namespace(req_t *r, const sim_namespace_t *ns, int with_type)
{
    static const char *const k[] = {"kubernetes.io/metadata.name"};
    const char *v[] = {ns->name};
    sim_labels_t l = {k, v, 1};
    objmeta_t o = {ns->name,    NULL, NULL, ns->uid, ns->rv, 0,
                   ns->created, &l,   NULL, NULL,    NULL,   NULL};
    jraw(&r->w, with_type ? "{\"kind\":\"Namespace\",\"apiVersion\":\"v1\",\"metadata\":"
                          : "{\"metadata\":");
    w_meta(&r->w, &o);
    jraw(&r->w, ",\"spec\":{\"finalizers\":[\"kubernetes\"]},\"status\":{\"phase\":\"Active\"}}");
}

static int ns_cmp(const void *a, const void *b)
{
    return strcmp((*(const sim_namespace_t *const *)a)->name,
                  (*(const sim_namespace_t *const *)b)->name);
}

static int list_namespaces(req_t *r)
{
    if (authorize(r, "list", "namespaces", "", NULL, NULL)) return 0;
    const sim_namespace_t **v = malloc((r->m->nnamespaces + 1) * sizeof *v);
    if (!v) {
        r->w.err = -ENOMEM;
        return 0;
    }
    for (size_t i = 0; i < r->m->nnamespaces; i++)
        v[i] = &r->m->namespaces[i];
    qsort(v, r->m->nnamespaces, sizeof *v, ns_cmp);
    jfmt(&r->w,
         "{\"kind\":\"NamespaceList\",\"apiVersion\":\"v1\",\"metadata\":{"
         "\"resourceVersion\":\"%llu\"},\"items\":[",
         (unsigned long long)r->m->rv);
    for (size_t i = 0; i < r->m->nnamespaces; i++) {
        if (i) jraw(&r->w, ",");
        w_namespace(r, v[i], 0);
    }
    jraw(&r->w, "]}\n");
    free(v);
    return 0;
}

static int get_namespace(req_t *r, const char *name)
{
    if (authorize(r, "get", "namespaces", "", name, name)) return 0;
    const sim_namespace_t *ns = sim_model_find_namespace(r->m, name);
    if (!ns) {
        not_found(r, "namespaces", "", name);
        return 0;
    }
    w_namespace(r, ns, 1);
    jraw(&r->w, "\n");
    return 0;
}

/* ---- version and discovery ------------------------------------------------------------------- */

/* /version is written with json.MarshalIndent and no trailing newline. */
static const char VERSION_JSON[] =
    "{\n"
    "  \"major\": \"1\",\n"
    "  \"minor\": \"32\",\n"
    "  \"gitVersion\": \"v1.32.4\",\n"
    "  \"gitCommit\": \"59526cd4867447956156ae3a602fcbac10a2c335\",\n"
    "  \"gitTreeState\": \"clean\",\n"
    "  \"buildDate\": \"2025-04-22T15:57:00Z\",\n"
    "  \"goVersion\": \"go1.23.8\",\n"
    "  \"compiler\": \"gc\",\n"
    "  \"platform\": \"linux/amd64\"\n"
    "}";

#define RES(name, singular, ns, kind, verbs, extra)                                                \
    "{\"name\":\"" name "\",\"singularName\":\"" singular "\",\"namespaced\":" ns                  \
    ",\"kind\":\"" kind "\",\"verbs\":" verbs extra "}"
#define GETLIST "[\"get\",\"list\"]"

static const char CORE_RESOURCES[] =
    "{\"kind\":\"APIResourceList\",\"groupVersion\":\"v1\",\"resources\":[" RES(
        "namespaces", "namespace", "false", "Namespace", GETLIST,
        ",\"shortNames\":[\"ns\"]") "," RES("pods", "pod", "true", "Pod", GETLIST,
                                            ",\"shortNames\":[\"po\"],\"categories\":["
                                            "\"all\"]") "," RES("pods/attach", "", "true",
                                                                "PodAttachOptions",
                                                                "[\"create\",\"get\"]",
                                                                "") "," RES("pods/exec", "", "true",
                                                                            "PodExecOption"
                                                                            "s",
                                                                            "[\"create\","
                                                                            "\"get\"]",
                                                                            "") "," RES("po"
                                                                                        "ds"
                                                                                        "/l"
                                                                                        "o"
                                                                                        "g",
                                                                                        "",
                                                                                        "tr"
                                                                                        "u"
                                                                                        "e",
                                                                                        "Po"
                                                                                        "d",
                                                                                        "["
                                                                                        "\""
                                                                                        "ge"
                                                                                        "t"
                                                                                        "\""
                                                                                        "]",
                                                                                        "") "]}\n";

static const char APPS_RESOURCES[] =
    "{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\",\"groupVersion\":\"apps/v1\","
    "\"resources\":[" RES("daemonsets", "daemonset", "true", "DaemonSet", GETLIST, ",\"shortNames\":[\"ds\"],\"categories\":[\"all\"]") "," RES(
        "deployments", "deployment", "true", "Deployment", GETLIST,
        ",\"shortNames\":[\"deploy\"],\"categories\":[\"all\"]") "," RES("replicasets",
                                                                         "replicaset", "true",
                                                                         "ReplicaSet", GETLIST,
                                                                         ",\"shortNames\":["
                                                                         "\"rs\"],"
                                                                         "\"categories\":["
                                                                         "\"all\"]") "," RES("s"
                                                                                             "t"
                                                                                             "a"
                                                                                             "t"
                                                                                             "e"
                                                                                             "f"
                                                                                             "u"
                                                                                             "l"
                                                                                             "s"
                                                                                             "e"
                                                                                             "t"
                                                                                             "s",
                                                                                             "s"
                                                                                             "t"
                                                                                             "a"
                                                                                             "t"
                                                                                             "e"
                                                                                             "f"
                                                                                             "u"
                                                                                             "l"
                                                                                             "s"
                                                                                             "e"
                                                                                             "t",
                                                                                             "t"
                                                                                             "r"
                                                                                             "u"
                                                                                             "e",
                                                                                             "S"
                                                                                             "t"
                                                                                             "a"
                                                                                             "t"
                                                                                             "e"
                                                                                             "f"
                                                                                             "u"
                                                                                             "l"
                                                                                             "S"
                                                                                             "e"
                                                                                             "t",
                                                                                             GETLIST,
                                                                                             ","
                                                                                             "\"sho"
                                                                                             "rtNam"
                                                                                             "es\":"
                                                                                             "[\"st"
                                                                                             "s\"],"
                                                                                             "\"cat"
                                                                                             "egori"
                                                                                             "es\":"
                                                                                             "[\"al"
                                                                                             "l\"]") "]}\n";

static const char BATCH_RESOURCES[] =
    "{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\",\"groupVersion\":\"batch/v1\","
    "\"resources\":[" RES("jobs", "job", "true", "Job", GETLIST,
                          ",\"categories\":[\"all\"]") "]}\n";

#define GROUP(g)                                                                                   \
    "\"name\":\"" g "\",\"versions\":[{\"groupVersion\":\"" g "/v1\",\"version\":\"v1\"}],"        \
    "\"preferredVersion\":{\"groupVersion\":\"" g "/v1\",\"version\":\"v1\"}"

static const char GROUP_LIST[] = "{\"kind\":\"APIGroupList\",\"apiVersion\":\"v1\",\"groups\":["
                                 "{" GROUP("apps") "},{" GROUP("batch") "}]}\n";

static int discovery(req_t *r, const char *body)
{
    jraw(&r->w, body);
    return 0;
}

/* ---- routing --------------------------------------------------------------------------------- */

#define MAX_SEGS 8

static int wkind_from_resource(const char *group, const char *res, sim_wkind_t *k)
{
    for (int i = 0; i < SIM_WKIND_COUNT; i++)
        if (!strcmp(res, sim_wkind_resource((sim_wkind_t)i)) &&
            !strcmp(group, sim_wkind_group((sim_wkind_t)i))) {
            *k = (sim_wkind_t)i;
            return 0;
        }
    return -1;
}

/* /api/v1/... after "v1". */
static int route_core(req_t *r, char **s, int n)
{
    if (n == 0) return discovery(r, CORE_RESOURCES);
    if (n == 1 && !strcmp(s[0], "pods")) return list_pods(r, NULL);
    if (strcmp(s[0], "namespaces")) return not_found_path(r);
    if (n == 1) return list_namespaces(r);
    if (n == 2) return get_namespace(r, s[1]);
    if (strcmp(s[2], "pods")) return not_found_path(r);
    if (n == 3) return list_pods(r, s[1]);
    if (n == 4) return get_pod(r, s[1], s[3]);
    if (n == 5 && (!strcmp(s[4], "exec") || !strcmp(s[4], "attach"))) {
        if (authorize(r, "get", !strcmp(s[4], "exec") ? "pods/exec" : "pods/attach", "", s[1],
                      s[3]) == 0)
            bad_request(r, "Upgrade request required");
        return 0;
    }
    if (n == 5 && !strcmp(s[4], "log")) {
        if (authorize(r, "get", "pods/log", "", s[1], s[3])) return 0;
        if (!sim_model_find_pod(r->m, s[1], s[3])) return not_found(r, "pods", "", s[3]);
        r->out->content_type = TEXT_CT; /* the sim keeps no logs */
        return 0;
    }
    not_found_path(r);
    return 0;
}

/* /apis/<group>/v1/... after "v1". */
static int route_group(req_t *r, const char *group, char **s, int n)
{
    sim_wkind_t k;
    if (n == 0) return discovery(r, !strcmp(group, "apps") ? APPS_RESOURCES : BATCH_RESOURCES);
    if (n == 1 && !wkind_from_resource(group, s[0], &k)) return list_workloads(r, k, NULL);
    if (n < 3 || strcmp(s[0], "namespaces") || wkind_from_resource(group, s[2], &k))
        return not_found_path(r);
    if (n == 3) return list_workloads(r, k, s[1]);
    if (n == 4) return get_workload(r, k, s[1], s[3]);
    not_found_path(r);
    return 0;
}

static int route(req_t *r, char **s, int n)
{
    if (n == 1 && !strcmp(s[0], "version")) {
        jraw(&r->w, VERSION_JSON);
        return 0;
    }
    if (n == 1 && (!strcmp(s[0], "healthz") || !strcmp(s[0], "livez") || !strcmp(s[0], "readyz"))) {
        r->out->content_type = TEXT_CT;
        jraw(&r->w, "ok");
        return 0;
    }
    if (n >= 1 && !strcmp(s[0], "api")) {
        if (n == 1) {
            jraw(&r->w, "{\"kind\":\"APIVersions\",\"versions\":[\"v1\"],"
                        "\"serverAddressByClientCIDRs\":[{\"clientCIDR\":\"0.0.0.0/0\","
                        "\"serverAddress\":");
            jstr(&r->w, r->m->server_address);
            jraw(&r->w, "}]}\n");
            return 0;
        }
        if (!strcmp(s[1], "v1")) return route_core(r, s + 2, n - 2);
        return not_found_path(r);
    }
    if (n >= 1 && !strcmp(s[0], "apis")) {
        if (n == 1) return discovery(r, GROUP_LIST);
        if (strcmp(s[1], "apps") && strcmp(s[1], "batch")) return not_found_path(r);
        if (n == 2) {
            jfmt(&r->w,
                 "{\"kind\":\"APIGroup\",\"apiVersion\":\"v1\",\"name\":\"%s\",\"versions\":"
                 "[{\"groupVersion\":\"%s/v1\",\"version\":\"v1\"}],\"preferredVersion\":{"
                 "\"groupVersion\":\"%s/v1\",\"version\":\"v1\"}}\n",
                 s[1], s[1], s[1]);
            return 0;
        }
        if (!strcmp(s[2], "v1")) return route_group(r, s[1], s + 3, n - 3);
        return not_found_path(r);
    }
    r->out->status = 404; /* outside the API: Go's mux answer */
    r->out->content_type = TEXT_CT;
    jraw(&r->w, "404 page not found\n");
    return 0;
}

/* Which representation the Accept header asks for first: Table (v1 / v1beta1) or plain JSON. */
static void negotiate(req_t *r, const char *accept)
{
    r->table = 0;
    r->table_api = "meta.k8s.io/v1";
    for (const char *p = accept; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char range[256];
        snprintf(range, sizeof range, "%.*s", (int)(len < 255 ? len : 255), p);
        p = end ? end + 1 : NULL;
        char *save = NULL, *type = strtok_r(range, ";", &save);
        while (type && *type == ' ')
            type++;
        if (!type || (strncmp(type, "application/json", 16) && strncmp(type, "*/*", 3) &&
                      strncmp(type, "application/*", 13)))
            continue;
        const char *as = NULL, *v = NULL, *g = NULL;
        for (char *prm; (prm = strtok_r(NULL, ";", &save));) {
            while (*prm == ' ')
                prm++;
            if (!strncmp(prm, "as=", 3)) as = prm + 3;
            if (!strncmp(prm, "v=", 2)) v = prm + 2;
            if (!strncmp(prm, "g=", 2)) g = prm + 2;
        }
        if (!as) return; /* plain JSON */
        if (!strcmp(as, "Table") && g && !strcmp(g, "meta.k8s.io") && v &&
            (!strcmp(v, "v1") || !strcmp(v, "v1beta1"))) {
            r->table = 1;
            r->table_api = !strcmp(v, "v1") ? "meta.k8s.io/v1" : "meta.k8s.io/v1beta1";
            return;
        }
    }
}

int sim_rest_handle(sim_model_t *m, const char *method, const char *path, const char *query,
                    const char *accept, const char *user, sim_response_t *out)
{
    sim_response_init(out);
    req_t r = {m, query, user, 0, NULL, (long long)time(NULL), out, {&out->body, 0}};
    negotiate(&r, accept);
    buf_t q;
    buf_init(&q, 64);
    if (strcmp(method, "GET")) {
        sim_response_status(out, 405, "MethodNotAllowed",
                            "the server does not allow this method on the requested resource", "",
                            NULL, NULL);
    } else if (query_get(query, "watch", &q) > 0 && strcmp(q.data, "0") &&
               strcasecmp(q.data, "false")) {
        sim_response_status(out, 405, "MethodNotAllowed", "watch is not supported by podmux-sim",
                            "", NULL, NULL);
    } else {
        char copy[2048], *segs[MAX_SEGS + 1];
        int n = 0;
        snprintf(copy, sizeof copy, "%s", path ? path : "/");
        char *save = NULL;
        for (char *t = strtok_r(copy, "/", &save); t && n <= MAX_SEGS;
             t = strtok_r(NULL, "/", &save))
            segs[n++] = t; /* n == MAX_SEGS + 1 means "too deep" */
        if (!path || strlen(path) >= sizeof copy || n > MAX_SEGS || strstr(path, "//"))
            n = MAX_SEGS + 1;
        if (n > MAX_SEGS)
            not_found_path(&r);
        else
            route(&r, segs, n);
    }
    buf_free(&q);
    if (r.w.err) {
        sim_response_status(out, 500, "InternalError", "Internal error occurred: out of memory", "",
                            NULL, NULL);
        return -ENOMEM;
    }
    return 0;
}

/* ---- exec / attach validation ---------------------------------------------------------------- */

static int exec_fail(sim_response_t *out, int code, const char *reason, const char *msg,
                     const char *name, const char *kind)
{
    return sim_response_status(out, code, reason, msg, name, NULL, kind) ? -ENOMEM : code;
}

int sim_rest_check_exec(sim_model_t *m, const char *user, const char *ns, const char *pod,
                        const char *container, int attach, int verb_create, sim_response_t *err_out,
                        const sim_pod_t **pod_out, const sim_container_t **c_out)
{
    char msg[2048];
    sim_response_init(err_out);
    if (!sim_model_allowed(m, user, ns)) {
        snprintf(msg, sizeof msg,
                 "pods \"%s\" is forbidden: User \"%s\" cannot %s resource \"%s\" in API group "
                 "\"\" in the namespace \"%s\"",
                 pod, user, verb_create ? "create" : "get", attach ? "pods/attach" : "pods/exec",
                 ns);
        return exec_fail(err_out, 403, "Forbidden", msg, pod, "pods");
    }
    const sim_pod_t *p = sim_model_find_pod(m, ns, pod);
    if (!p) {
        snprintf(msg, sizeof msg, "pods \"%s\" not found", pod);
        return exec_fail(err_out, 404, "NotFound", msg, pod, "pods");
    }
    const sim_container_t *c = NULL;
    if (!container || !*container) {
        size_t regular = 0;
        for (size_t i = 0; i < p->ncontainers; i++)
            if (p->containers[i].kind == SIM_CONTAINER_REGULAR) regular++, c = &p->containers[i];
        if (regular != 1) {
            int k =
                snprintf(msg, sizeof msg, "a container name must be specified for pod %s", p->name);
            for (size_t i = 0; regular && i < p->ncontainers && k > 0 && (size_t)k < sizeof msg;
                 i++)
                k += snprintf(msg + k, sizeof msg - (size_t)k, "%s%s",
                              i ? " " : ", choose one of: [", p->containers[i].name);
            if (regular && k > 0 && (size_t)k < sizeof msg)
                snprintf(msg + k, sizeof msg - (size_t)k, "]");
            return exec_fail(err_out, 400, "BadRequest", msg, NULL, NULL);
        }
    } else if (!(c = sim_pod_container(p, container))) {
        snprintf(msg, sizeof msg, "container %s is not valid for pod %s", container, p->name);
        return exec_fail(err_out, 400, "BadRequest", msg, NULL, NULL);
    }
    if (!p->node_name) {
        snprintf(msg, sizeof msg, "pod %s does not have a host assigned", p->name);
        return exec_fail(err_out, 400, "BadRequest", msg, NULL, NULL);
    }
    *pod_out = p;
    *c_out = c;
    return 0;
}
