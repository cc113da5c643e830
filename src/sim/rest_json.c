/* rest_json: the JSON writer (Go's encoding/json escaping and map-key order), metav1.Status
 * errors byte-compatible with kube-apiserver's, and the request helpers every resource uses:
 * errors, RBAC refusals, query parameters. */
#include "sim/rest_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON writing ---------------------------------------------------------------------------- */

void jw_raw(jw_t *w, const char *s)
{
    if (!w->err && buf_append_str(w->b, s)) w->err = -ENOMEM;
}

void jw_fmt(jw_t *w, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) w->err = -EINVAL;
    jw_raw(w, tmp);
}

void jw_str(jw_t *w, const char *s)
{
    if (!w->err && sim_json_str(w->b, s ? s : "")) w->err = -ENOMEM;
}

/* ,"key":"value" (or without the comma when first). */
void jw_kv(jw_t *w, int first, const char *key, const char *val)
{
    jw_raw(w, first ? "\"" : ",\"");
    jw_raw(w, key);
    jw_raw(w, "\":");
    jw_str(w, val);
}

void jw_time(jw_t *w, long long t)
{
    char ts[21];
    sim_format_time(t, ts);
    jw_fmt(w, "\"%s\"", ts);
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
void jw_map(jw_t *w, const sim_labels_t *l, const char *extra_k, const char *extra_v)
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
    jw_raw(w, "{");
    for (size_t i = 0; i < n; i++)
        jw_kv(w, i == 0, v[i].k, v[i].v);
    jw_raw(w, "}");
    free(v);
}

void jw_strarr(jw_t *w, const char *const *v, size_t n)
{
    jw_raw(w, "[");
    for (size_t i = 0; i < n; i++) {
        if (i) jw_raw(w, ",");
        jw_str(w, v[i]);
    }
    jw_raw(w, "]");
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
    jw_raw(&w, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\"");
    if (message && *message) jw_kv(&w, 0, "message", message);
    if (reason && *reason) jw_kv(&w, 0, "reason", reason);
    if (name || group || kind || retry_after_seconds > 0) {
        int first = 1;
        jw_raw(&w, ",\"details\":{");
        if (name && *name) jw_kv(&w, first, "name", name), first = 0;
        if (group && *group) jw_kv(&w, first, "group", group), first = 0;
        if (kind && *kind) jw_kv(&w, first, "kind", kind), first = 0;
        if (retry_after_seconds > 0)
            jw_fmt(&w, "%s\"retryAfterSeconds\":%d", first ? "" : ",", retry_after_seconds);
        jw_raw(&w, "}");
    }
    if (code) jw_fmt(&w, ",\"code\":%d", code);
    jw_raw(&w, "}\n");
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

int rest_not_found_path(req_t *r)
{
    sim_response_status(r->out, 404, "NotFound", "the server could not find the requested resource",
                        "", NULL, NULL);
    return 0;
}

int rest_bad_request(req_t *r, const char *msg)
{
    sim_response_status(r->out, 400, "BadRequest", msg, NULL, NULL, NULL);
    return 0;
}

int rest_not_found(req_t *r, const char *resource, const char *group, const char *name)
{
    char msg[700];
    snprintf(msg, sizeof msg, "%s%s%s \"%s\" not found", resource, *group ? "." : "", group, name);
    sim_response_status(r->out, 404, "NotFound", msg, name, group, resource);
    return 0;
}

/* RBAC's refusal (docs/PROTOCOL.md §1.7): 0 when allowed, else the 403 is written and -1
 * returned. */
int rest_authorize(req_t *r, const char *verb, const char *resource, const char *group,
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
int rest_query_get(const char *q, const char *key, buf_t *out)
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
