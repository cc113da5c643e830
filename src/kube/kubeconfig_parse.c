/* kubeconfig_parse.c: one kubeconfig document read with libyaml into a small node tree (with
 * line numbers, so every error names the file, line and key), then client-go's schema read from
 * that tree (docs/PROTOCOL.md §5.3-5.5). Merging and context resolution live in kubeconfig.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <yaml.h>

#include "util/errbuf.h"
#include "kube/kubeconfig_priv.h"
#include "podmux.h"
#include "util/buf.h"

#define KCFG_MAX_DEPTH 64 /* nesting (aliases included): bounds every recursion */
#define KCFG_MAX_NODES (1u << 20)
#define KCFG_MAX_EXT_JSON (1u << 20) /* also bounds alias bombs in the extension */
#define EXEC_EXT_NAME "client.authentication.k8s.io/exec"

/* ---- errors ---------------------------------------------------------------------------- */

int kcfg_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    errbuf_vprintf(err, errlen, fmt, ap);
    va_end(ap);
    return PMX_ECONFIG;
}

int kcfg_grow(void *pp, size_t *cap, size_t need, size_t elem)
{
    void **p = pp;
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 8;
    while (nc < need)
        nc *= 2;
    if (nc > SIZE_MAX / elem) return PMX_ENOMEM;
    void *q = realloc(*p, nc * elem);
    if (!q) return PMX_ENOMEM;
    *p = q;
    *cap = nc;
    return 0;
}

/* ---- paths (Go's filepath.Clean/Join/Abs, which client-go uses) ------------------------- */

static char *path_clean(const char *p)
{
    size_t n = strlen(p);
    char *out = malloc(n + 2);
    if (!out) return NULL;
    int rooted = p[0] == '/';
    size_t o = rooted, dotdot = rooted; /* dotdot: where ".." can no longer back up */
    if (rooted) out[0] = '/';
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        size_t sl = j - i;
        if (sl == 0 || (sl == 1 && p[i] == '.')) {
        } else if (sl == 2 && p[i] == '.' && p[i + 1] == '.') {
            if (o > dotdot) {
                while (o > dotdot && out[o - 1] != '/')
                    o--;
                if (o > dotdot) o--;
                if (o == 0 && rooted) o = 1;
            } else if (!rooted) {
                if (o > 0) out[o++] = '/';
                memcpy(out + o, "..", 2);
                o += 2;
                dotdot = o;
            }
        } else {
            if (o > (size_t)rooted) out[o++] = '/';
            memcpy(out + o, p + i, sl);
            o += sl;
        }
        i = j + 1;
    }
    if (o == 0) out[o++] = '.';
    out[o] = 0;
    return out;
}

static char *path_join(const char *dir, const char *rel)
{
    size_t n = strlen(dir) + strlen(rel) + 2;
    char *tmp = malloc(n);
    if (!tmp) return NULL;
    snprintf(tmp, n, "%s/%s", dir, rel);
    char *r = path_clean(tmp);
    free(tmp);
    return r;
}

char *kcfg_path_abs(const char *p)
{
    if (p[0] == '/') return path_clean(p);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return path_clean(p);
    return path_join(cwd, p);
}

/* ---- YAML node tree ------------------------------------------------------------------------ */

enum { YN_SCALAR, YN_MAP, YN_SEQ };

typedef struct ynode {
    int kind;
    int line;   /* 1-based */
    int plain;  /* unquoted scalar: may mean null, a boolean or a number */
    int height; /* nesting below this node, aliases included */
    char *str;
    struct ynode **kids; /* map: key, value, key, value, ... */
    size_t n, cap;
} ynode_t;

typedef struct ytree {
    ynode_t **all; /* every node: aliases share nodes, so ownership lives here */
    size_t nall, capall;
    struct yanchor {
        char *name;
        ynode_t *node;
    } * anchors;
    size_t nanch, capanch;
    size_t *htab; /* open addressing over anchors by name: index + 1, 0 empty */
    size_t hcap;  /* a power of two, at least twice nanch */
    size_t naliases;
    ynode_t *root;
    ynode_t *stack[KCFG_MAX_DEPTH];
    char *stack_anchor[KCFG_MAX_DEPTH];
    size_t depth;
} ytree_t;

static void ytree_free(ytree_t *t)
{
    for (size_t i = 0; i < t->nall; i++) {
        free(t->all[i]->str);
        free(t->all[i]->kids);
        free(t->all[i]);
    }
    for (size_t i = 0; i < t->nanch; i++)
        free(t->anchors[i].name);
    for (size_t i = 0; i < t->depth; i++)
        free(t->stack_anchor[i]);
    free(t->all);
    free(t->anchors);
    free(t->htab);
}

static ynode_t *ynew(ytree_t *t, int kind, int line, const char *s, size_t len)
{
    if (t->nall >= KCFG_MAX_NODES || kcfg_grow(&t->all, &t->capall, t->nall + 1, sizeof *t->all))
        return NULL;
    ynode_t *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->kind = kind;
    n->line = line;
    if (s && !(n->str = malloc(len + 1))) {
        free(n);
        return NULL;
    }
    if (s) {
        memcpy(n->str, s, len);
        n->str[len] = 0;
    }
    t->all[t->nall++] = n;
    return n;
}

static size_t yhash(const char *s)
{
    size_t h = 14695981039346656037ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The slot for name: where it is, or the empty one where it would go. */
static size_t yslot(const ytree_t *t, const char *name)
{
    size_t i = yhash(name) & (t->hcap - 1);
    while (t->htab[i] && strcmp(t->anchors[t->htab[i] - 1].name, name))
        i = (i + 1) & (t->hcap - 1);
    return i;
}

static int yrehash(ytree_t *t)
{
    size_t ncap = t->hcap ? t->hcap * 2 : 64;
    size_t *old = t->htab, ocap = t->hcap;
    if (!(t->htab = calloc(ncap, sizeof *t->htab))) {
        t->htab = old;
        return PMX_ENOMEM;
    }
    t->hcap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i]) t->htab[yslot(t, t->anchors[old[i] - 1].name)] = old[i];
    free(old);
    return 0;
}

/* A redefined anchor replaces the earlier one for the aliases that follow (YAML 1.2 §3.2.2.2).
 * Lookups are hashed: a file of many anchors and aliases reads in linear time. */
static int yanchor_add(ytree_t *t, const char *name, ynode_t *n)
{
    if (!name) return 0;
    if ((t->nanch + 1) * 2 > t->hcap && yrehash(t)) return PMX_ENOMEM;
    size_t slot = yslot(t, name);
    if (t->htab[slot]) {
        t->anchors[t->htab[slot] - 1].node = n;
        return 0;
    }
    if (kcfg_grow(&t->anchors, &t->capanch, t->nanch + 1, sizeof *t->anchors)) return PMX_ENOMEM;
    if (!(t->anchors[t->nanch].name = strdup(name))) return PMX_ENOMEM;
    t->anchors[t->nanch++].node = n;
    t->htab[slot] = t->nanch;
    return 0;
}

static ynode_t *yanchor_find(const ytree_t *t, const char *name)
{
    if (!t->hcap) return NULL;
    size_t slot = yslot(t, name);
    return t->htab[slot] ? t->anchors[t->htab[slot] - 1].node : NULL;
}

/* Hangs n under the open container (or makes it the root). */
static int yattach(ytree_t *t, ynode_t *n)
{
    if (t->depth == 0) {
        if (!t->root) t->root = n;
        return 0;
    }
    ynode_t *p = t->stack[t->depth - 1];
    if (kcfg_grow(&p->kids, &p->cap, p->n + 1, sizeof *p->kids)) return PMX_ENOMEM;
    p->kids[p->n++] = n;
    if (n->height + 1 > p->height) p->height = n->height + 1;
    return p->height > KCFG_MAX_DEPTH ? 1 : 0;
}

static int yevent(ytree_t *t, const yaml_event_t *ev, const char *file, char *err, size_t errlen)
{
    int line = (int)ev->start_mark.line + 1, rc = 0;
    int is_map = ev->type == YAML_MAPPING_START_EVENT;
    const char *anchor;
    ynode_t *n;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        n = ynew(t, YN_SCALAR, line, (const char *)ev->data.scalar.value, ev->data.scalar.length);
        if (!n) return PMX_ENOMEM;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        if (!(rc = yanchor_add(t, (const char *)ev->data.scalar.anchor, n))) rc = yattach(t, n);
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        anchor = is_map ? (const char *)ev->data.mapping_start.anchor
                        : (const char *)ev->data.sequence_start.anchor;
        if (t->depth >= KCFG_MAX_DEPTH) {
            rc = 1;
            break;
        }
        if (!(n = ynew(t, is_map ? YN_MAP : YN_SEQ, line, NULL, 0))) return PMX_ENOMEM;
        if ((rc = yattach(t, n))) break;
        if (anchor && !(t->stack_anchor[t->depth] = strdup(anchor))) return PMX_ENOMEM;
        t->stack[t->depth++] = n;
        break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        n = t->stack[--t->depth];
        /* Anchors become visible only when complete, so an alias can never form a cycle. */
        rc = yanchor_add(t, t->stack_anchor[t->depth], n);
        free(t->stack_anchor[t->depth]);
        t->stack_anchor[t->depth] = NULL;
        if (!rc && t->depth) {
            ynode_t *p = t->stack[t->depth - 1];
            if (n->height + 1 > p->height) p->height = n->height + 1;
            if (p->height > KCFG_MAX_DEPTH) rc = 1;
        }
        break;
    case YAML_ALIAS_EVENT:
        if (++t->naliases > KCFG_MAX_ALIASES)
            return kcfg_fail(err, errlen, "kubeconfig %s line %d: yaml: more than %u aliases", file,
                             line, KCFG_MAX_ALIASES);
        if (!(n = yanchor_find(t, (const char *)ev->data.alias.anchor)))
            return kcfg_fail(err, errlen,
                             "kubeconfig %s line %d: yaml: unknown anchor '%s' referenced", file,
                             line, (const char *)ev->data.alias.anchor);
        rc = yattach(t, n);
        break;
    default:
        break;
    }
    if (rc == 1)
        return kcfg_fail(err, errlen,
                         "kubeconfig %s line %d: yaml: nested more than %d levels deep", file, line,
                         KCFG_MAX_DEPTH);
    return rc;
}

/* Parses the first YAML document of data into t->root (NULL for an empty document). */
static int ytree_parse(ytree_t *t, const char *file, const char *data, size_t len, char *err,
                       size_t errlen)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return PMX_ENOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
    int rc = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            if (p.error == YAML_MEMORY_ERROR) {
                rc = PMX_ENOMEM;
                break;
            }
            rc = kcfg_fail(err, errlen, "kubeconfig %s line %d: yaml: %s%s%s", file,
                           (int)p.problem_mark.line + 1, p.problem ? p.problem : "syntax error",
                           p.context ? " " : "", p.context ? p.context : "");
            break;
        }
        int done = ev.type == YAML_DOCUMENT_END_EVENT || ev.type == YAML_STREAM_END_EVENT;
        rc = yevent(t, &ev, file, err, errlen);
        yaml_event_delete(&ev);
        if (rc || done) break;
    }
    yaml_parser_delete(&p);
    if (rc == PMX_ENOMEM) kcfg_fail(err, errlen, "kubeconfig %s: out of memory", file);
    return rc;
}

/* ---- reading the schema ----------------------------------------------------------------- */

typedef struct rd {
    const char *file, *dir;
    char *err;
    size_t errlen;
} rd_t;

static int bad(rd_t *r, const ynode_t *n, const char *path, const char *key, const char *msg)
{
    return kcfg_fail(r->err, r->errlen, "kubeconfig %s line %d: %s%s%s%s%s", r->file, n->line, path,
                     *path && *key ? "." : "", key, *path || *key ? ": " : "", msg);
}

static const ynode_t *map_get(const ynode_t *m, const char *key)
{
    if (!m || m->kind != YN_MAP) return NULL;
    for (size_t i = 0; i + 1 < m->n; i += 2)
        if (m->kids[i]->kind == YN_SCALAR && !strcmp(m->kids[i]->str, key)) return m->kids[i + 1];
    return NULL;
}

static int is_null(const ynode_t *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    if (!n) return 1;
    if (n->kind != YN_SCALAR || !n->plain) return 0;
    for (size_t i = 0; i < sizeof nulls / sizeof *nulls; i++)
        if (!strcmp(n->str, nulls[i])) return 1;
    return 0;
}

/* YAML 1.1 booleans, as go-yaml v2 (under sigs.k8s.io/yaml) reads them: 1 true, 0 false. */
static int yaml_bool(const ynode_t *n)
{
    static const char *const t[] = {"true", "True", "TRUE", "yes", "Yes", "YES",
                                    "on",   "On",   "ON",   "y",   "Y"};
    static const char *const f[] = {"false", "False", "FALSE", "no", "No", "NO",
                                    "off",   "Off",   "OFF",   "n",  "N"};
    if (n->kind != YN_SCALAR || !n->plain) return -1;
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        if (!strcmp(n->str, t[i])) return 1;
        if (!strcmp(n->str, f[i])) return 0;
    }
    return -1;
}

static int rd_str(rd_t *r, const ynode_t *m, const char *key, const char *path, char **out)
{
    const ynode_t *v = map_get(m, key);
    if (is_null(v)) return 0;
    if (v->kind != YN_SCALAR) return bad(r, v, path, key, "expected a string");
    free(*out);
    *out = strdup(v->str);
    return *out ? 0 : PMX_ENOMEM;
}

/* A file reference: relative paths are relative to the kubeconfig that names them. */
static int rd_path(rd_t *r, const ynode_t *m, const char *key, const char *path, char **out,
                   int only_with_slash)
{
    int rc = rd_str(r, m, key, path, out);
    if (rc || !*out || !**out || (*out)[0] == '/' || !r->dir) return rc;
    if (only_with_slash && !strchr(*out, '/')) return 0;
    char *abs = path_join(r->dir, *out);
    if (!abs) return PMX_ENOMEM;
    free(*out);
    *out = abs;
    return 0;
}

static int rd_bool(rd_t *r, const ynode_t *m, const char *key, const char *path, int *out)
{
    const ynode_t *v = map_get(m, key);
    if (is_null(v)) return 0;
    int b = yaml_bool(v);
    if (b < 0) return bad(r, v, path, key, "expected a boolean");
    *out = b;
    return 0;
}

static int rd_b64(rd_t *r, const ynode_t *m, const char *key, const char *path, uint8_t **out,
                  size_t *outlen)
{
    const ynode_t *v = map_get(m, key);
    if (is_null(v)) return 0;
    if (v->kind != YN_SCALAR) return bad(r, v, path, key, "expected a string");
    const unsigned char *s = (const unsigned char *)v->str;
    size_t slen = strlen(v->str), olen = 0;
    int e = mbedtls_base64_decode(NULL, 0, &olen, s, slen);
    if (e == MBEDTLS_ERR_BASE64_INVALID_CHARACTER)
        return bad(r, v, path, key, "illegal base64 data");
    uint8_t *d = malloc(olen + 1);
    if (!d) return PMX_ENOMEM;
    if (mbedtls_base64_decode(d, olen + 1, &olen, s, slen)) {
        free(d);
        return bad(r, v, path, key, "illegal base64 data");
    }
    d[olen] = 0;
    if (olen == 0) { /* empty data counts as unset, as len() == 0 does in client-go */
        free(d);
        return 0;
    }
    free(*out);
    *out = d;
    *outlen = olen;
    return 0;
}

/* Go's encoding/json string escaping (what client-go sends plugins). */
static int json_quote(buf_t *b, const char *s)
{
    int rc = buf_append_byte(b, '"');
    for (; !rc && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            rc = buf_printf(b, "\\%c", c);
        else if (c == '\n')
            rc = buf_append_str(b, "\\n");
        else if (c == '\t')
            rc = buf_append_str(b, "\\t");
        else if (c == '\r')
            rc = buf_append_str(b, "\\r");
        else if (c < 0x20 || c == '<' || c == '>' || c == '&')
            rc = buf_printf(b, "\\u%04x", c);
        else
            rc = buf_append_byte(b, c);
    }
    return rc ? rc : buf_append_byte(b, '"');
}

static int is_json_number(const char *s)
{
    const char *p = s;
    if (*p == '-') p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return 0;
    if (*p == '.') {
        if (!(*++p >= '0' && *p <= '9')) return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!(*p >= '0' && *p <= '9')) return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == 0;
}

/* YAML -> JSON as sigs.k8s.io/yaml does for a RawExtension. Depth is bounded by the tree's
 * height limit and output by the buffer's limit (alias bombs stop there). */
static int node_json(const ynode_t *n, buf_t *b)
{
    if (n->kind == YN_SCALAR) {
        int v = yaml_bool(n);
        if (is_null(n)) return buf_append_str(b, "null");
        if (v >= 0) return buf_append_str(b, v ? "true" : "false");
        if (n->plain && is_json_number(n->str)) return buf_append_str(b, n->str);
        return json_quote(b, n->str);
    }
    int map = n->kind == YN_MAP, rc = buf_append_byte(b, map ? '{' : '[');
    for (size_t i = 0; !rc && i < n->n; i += map ? 2 : 1) {
        if (i && (rc = buf_append_byte(b, ','))) break;
        if (map) {
            if (n->kids[i]->kind != YN_SCALAR) return PMX_EINVAL;
            if ((rc = json_quote(b, n->kids[i]->str)) || (rc = buf_append_byte(b, ':'))) break;
        }
        rc = node_json(n->kids[map ? i + 1 : i], b);
    }
    return rc ? rc : buf_append_byte(b, map ? '}' : ']');
}

static int rd_exec_ext(rd_t *r, const ynode_t *c, const char *path, char **out)
{
    const ynode_t *l = map_get(c, "extensions");
    if (is_null(l)) return 0;
    if (l->kind != YN_SEQ) return bad(r, l, path, "extensions", "expected a list");
    for (size_t i = 0; i < l->n; i++) {
        const ynode_t *name = map_get(l->kids[i], "name"), *ext = map_get(l->kids[i], "extension");
        if (!name || name->kind != YN_SCALAR || strcmp(name->str, EXEC_EXT_NAME) || is_null(ext))
            continue;
        buf_t b;
        buf_init(&b, KCFG_MAX_EXT_JSON);
        int rc = node_json(ext, &b);
        if (rc) {
            buf_free(&b);
            return rc == PMX_EINVAL ? bad(r, ext, path, "extensions", "non-string key")
                                    : bad(r, ext, path, "extensions", "extension too large");
        }
        free(*out);
        *out = buf_steal(&b);
        return 0;
    }
    return 0;
}

static int rd_cluster(rd_t *r, const ynode_t *c, const char *p, void *item)
{
    kf_cluster_t *o = item;
    int rc;
    if ((rc = rd_str(r, c, "server", p, &o->server)) ||
        (rc = rd_path(r, c, "certificate-authority", p, &o->ca_file, 0)) ||
        (rc = rd_b64(r, c, "certificate-authority-data", p, &o->ca_data, &o->ca_data_len)) ||
        (rc = rd_bool(r, c, "insecure-skip-tls-verify", p, &o->insecure)) ||
        (rc = rd_str(r, c, "tls-server-name", p, &o->tls_server_name)) ||
        (rc = rd_str(r, c, "proxy-url", p, &o->proxy_url)))
        return rc;
    return rd_exec_ext(r, c, p, &o->exec_ext_json);
}

static int rd_context(rd_t *r, const ynode_t *c, const char *p, void *item)
{
    kf_context_t *o = item;
    int rc;
    if ((rc = rd_str(r, c, "cluster", p, &o->cluster)) || (rc = rd_str(r, c, "user", p, &o->user)))
        return rc;
    return rd_str(r, c, "namespace", p, &o->namespace_);
}

void kcfg_exec_free(kcfg_exec_t *e)
{
    if (!e) return;
    for (size_t i = 0; i < e->nargs; i++)
        free(e->args[i]);
    for (size_t i = 0; i < e->nenv; i++)
        free(e->env[i]);
    free(e->args);
    free(e->env);
    free(e->api_version);
    free(e->command);
    free(e->install_hint);
    free(e->interactive_mode);
    free(e->cluster_config_json);
    free(e);
}

static int rd_exec_lists(rd_t *r, const ynode_t *x, const char *p, kcfg_exec_t *e)
{
    const ynode_t *args = map_get(x, "args"), *env = map_get(x, "env");
    char sub[352]; /* a path of up to 300 bytes plus ".env[N]" */
    if (!is_null(args) && args->kind != YN_SEQ) return bad(r, args, p, "args", "expected a list");
    if (!is_null(env) && env->kind != YN_SEQ) return bad(r, env, p, "env", "expected a list");
    size_t na = is_null(args) ? 0 : args->n, ne = is_null(env) ? 0 : env->n;
    if (!(e->args = calloc(na + 1, sizeof *e->args)) || !(e->env = calloc(ne + 1, sizeof *e->env)))
        return PMX_ENOMEM;
    for (; e->nargs < na; e->nargs++) {
        const ynode_t *a = args->kids[e->nargs];
        snprintf(sub, sizeof sub, "args[%zu]", e->nargs);
        if (a->kind != YN_SCALAR) return bad(r, a, p, sub, "expected a string");
        if (!(e->args[e->nargs] = strdup(a->str))) return PMX_ENOMEM;
    }
    for (; e->nenv < ne; e->nenv++) {
        const ynode_t *v = env->kids[e->nenv];
        char *name = NULL, *value = NULL;
        int rc;
        snprintf(sub, sizeof sub, "%s.env[%zu]", p, e->nenv);
        if (v->kind != YN_MAP) return bad(r, v, sub, "", "expected a mapping");
        if (!(rc = rd_str(r, v, "name", sub, &name)) &&
            !(rc = rd_str(r, v, "value", sub, &value)) &&
            asprintf(&e->env[e->nenv], "%s=%s", name ? name : "", value ? value : "") < 0) {
            e->env[e->nenv] = NULL;
            rc = PMX_ENOMEM;
        }
        free(name);
        free(value);
        if (rc) return rc;
    }
    return 0;
}

static int rd_exec(rd_t *r, const ynode_t *u, const char *path, kcfg_exec_t **out)
{
    const ynode_t *x = map_get(u, "exec");
    char p[300];
    int rc;
    if (is_null(x)) return 0;
    if (x->kind != YN_MAP) return bad(r, x, path, "exec", "expected a mapping");
    kcfg_exec_t *e = calloc(1, sizeof *e);
    if (!e) return PMX_ENOMEM;
    snprintf(p, sizeof p, "%s.exec", path);
    if ((rc = rd_str(r, x, "apiVersion", p, &e->api_version)) ||
        (rc = rd_path(r, x, "command", p, &e->command, 1)) ||
        (rc = rd_str(r, x, "installHint", p, &e->install_hint)) ||
        (rc = rd_bool(r, x, "provideClusterInfo", p, &e->provide_cluster_info)) ||
        (rc = rd_str(r, x, "interactiveMode", p, &e->interactive_mode)) ||
        (rc = rd_exec_lists(r, x, p, e))) {
        kcfg_exec_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

typedef struct named {
    const char *name;
    size_t i;
} named_t;

static int named_cmp(const void *x, const void *y)
{
    const named_t *a = x, *b = y;
    int c = strcmp(a->name, b->name);
    return c ? c : (a->i > b->i) - (a->i < b->i);
}

/* A list of strings (as-groups). */
static int rd_strlist(rd_t *r, const ynode_t *m, const char *key, const char *path, char ***out,
                      size_t *n)
{
    const ynode_t *l = map_get(m, key);
    char sub[64];
    if (is_null(l)) return 0;
    if (l->kind != YN_SEQ) return bad(r, l, path, key, "expected a list");
    if (!(*out = calloc(l->n + 1, sizeof **out))) return PMX_ENOMEM;
    for (; *n < l->n; (*n)++) {
        if (l->kids[*n]->kind != YN_SCALAR) {
            snprintf(sub, sizeof sub, "%.40s[%zu]", key, *n);
            return bad(r, l->kids[*n], path, sub, "expected a string");
        }
        if (!((*out)[*n] = strdup(l->kids[*n]->str))) return PMX_ENOMEM;
    }
    return 0;
}

/* as-user-extra: {key: [values]}, kept as key/value pairs with the keys sorted (Go's map order
 * is random; sorted is one of its orders, and a stable one) and each key's values in order. */
static int rd_extra(rd_t *r, const ynode_t *u, const char *path, kf_user_t *o)
{
    const ynode_t *m = map_get(u, "as-user-extra");
    size_t total = 0, nk = 0;
    named_t *keys;
    if (is_null(m)) return 0;
    if (m->kind != YN_MAP) return bad(r, m, path, "as-user-extra", "expected a mapping");
    for (size_t i = 0; i + 1 < m->n; i += 2) {
        const ynode_t *v = m->kids[i + 1];
        if (m->kids[i]->kind != YN_SCALAR)
            return bad(r, m->kids[i], path, "as-user-extra", "non-string key");
        if (!is_null(v) && v->kind != YN_SEQ)
            return bad(r, v, path, "as-user-extra", "expected a list of strings");
        for (size_t j = 0; !is_null(v) && j < v->n; j++)
            if (v->kids[j]->kind != YN_SCALAR)
                return bad(r, v->kids[j], path, "as-user-extra", "expected a list of strings");
        total += is_null(v) ? 0 : v->n;
    }
    if (!(keys = calloc(m->n / 2 + 1, sizeof *keys))) return PMX_ENOMEM;
    for (size_t i = 0; i + 1 < m->n; i += 2)
        keys[nk++] = (named_t){m->kids[i]->str, i};
    qsort(keys, nk, sizeof *keys, named_cmp);
    if (!(o->as_extra = calloc(2 * total + 1, sizeof *o->as_extra))) {
        free(keys);
        return PMX_ENOMEM;
    }
    for (size_t k = 0; k < nk; k++) {
        const ynode_t *v = m->kids[keys[k].i + 1];
        for (size_t j = 0; !is_null(v) && j < v->n; j++) {
            char **pair = o->as_extra + 2 * o->nas_extra++;
            if (!(pair[0] = strdup(keys[k].name)) || !(pair[1] = strdup(v->kids[j]->str))) {
                free(keys);
                return PMX_ENOMEM;
            }
        }
    }
    free(keys);
    return 0;
}

static int rd_auth_provider(rd_t *r, const ynode_t *u, const char *path, kf_user_t *o)
{
    const ynode_t *ap = map_get(u, "auth-provider"), *cfg;
    char p[320];
    int rc;
    if (is_null(ap)) return 0;
    o->auth_provider = 1;
    if (ap->kind != YN_MAP) return bad(r, ap, path, "auth-provider", "expected a mapping");
    snprintf(p, sizeof p, "%.300s.auth-provider", path);
    if ((rc = rd_str(r, ap, "name", p, &o->ap_name))) return rc;
    cfg = map_get(ap, "config");
    if (is_null(cfg)) return 0;
    if (cfg->kind != YN_MAP) return bad(r, cfg, p, "config", "expected a mapping");
    snprintf(p, sizeof p, "%.300s.auth-provider.config", path);
    if ((rc = rd_str(r, cfg, "id-token", p, &o->oidc_id_token))) return rc;
    return rd_str(r, cfg, "refresh-token", p, &o->oidc_refresh);
}

static int rd_user(rd_t *r, const ynode_t *u, const char *p, void *item)
{
    kf_user_t *o = item;
    int rc;
    if ((rc = rd_str(r, u, "token", p, &o->token)) ||
        (rc = rd_path(r, u, "tokenFile", p, &o->token_file, 0)) ||
        (rc = rd_path(r, u, "client-certificate", p, &o->cert_file, 0)) ||
        (rc = rd_b64(r, u, "client-certificate-data", p, &o->cert_data, &o->cert_data_len)) ||
        (rc = rd_path(r, u, "client-key", p, &o->key_file, 0)) ||
        (rc = rd_b64(r, u, "client-key-data", p, &o->key_data, &o->key_data_len)) ||
        (rc = rd_str(r, u, "username", p, &o->username)) ||
        (rc = rd_str(r, u, "password", p, &o->password)))
        return rc;
    if ((rc = rd_str(r, u, "as", p, &o->as)) || (rc = rd_str(r, u, "as-uid", p, &o->as_uid)) ||
        (rc = rd_strlist(r, u, "as-groups", p, &o->as_groups, &o->nas_groups)) ||
        (rc = rd_extra(r, u, p, o)) || (rc = rd_auth_provider(r, u, p, o)))
        return rc;
    return rd_exec(r, u, p, &o->exec);
}

/* client-go refuses a file whose list names an entry twice (conversion.go). Sorting keeps a
 * big generated kubeconfig from costing n^2 comparisons. */
static int rd_dups(rd_t *r, const ynode_t *l, const char *key, const char *items, size_t isize)
{
    named_t *v = malloc(l->n * sizeof *v);
    char path[320], msg[300];
    int rc = 0;
    if (!v) return PMX_ENOMEM;
    for (size_t i = 0; i < l->n; i++)
        v[i] = (named_t){*(char *const *)(items + i * isize), i};
    qsort(v, l->n, sizeof *v, named_cmp);
    for (size_t i = 1; i < l->n && !rc; i++) {
        if (strcmp(v[i - 1].name, v[i].name)) continue;
        snprintf(path, sizeof path, "%s[%zu]", key, v[i].i);
        snprintf(msg, sizeof msg, "duplicate name \"%s\" in list", v[i].name);
        rc = bad(r, l->kids[v[i].i], path, "name", msg);
    }
    free(v);
    return rc;
}

typedef int (*rd_body_fn)(rd_t *r, const ynode_t *body, const char *path, void *item);

/* Reads clusters/users/contexts: a list of {name, <body_key>: {...}}. Every item struct starts
 * with its char *name. */
static int rd_list(rd_t *r, const ynode_t *root, const char *key, const char *body_key,
                   size_t isize, void **items, size_t *n, rd_body_fn fn)
{
    const ynode_t *l = map_get(root, key);
    if (is_null(l)) return 0;
    if (l->kind != YN_SEQ) return bad(r, l, "", key, "expected a list");
    if (!(*items = calloc(l->n ? l->n : 1, isize))) return PMX_ENOMEM;
    for (size_t i = 0; i < l->n; i++) {
        const ynode_t *e = l->kids[i], *body;
        char *item = (char *)*items + i * isize, path[320];
        int rc;
        *n = i + 1; /* counted before filling, so a failure frees what it holds */
        snprintf(path, sizeof path, "%s[%zu]", key, i);
        if (e->kind != YN_MAP) return bad(r, e, path, "", "expected a mapping");
        if ((rc = rd_str(r, e, "name", path, (char **)item))) return rc;
        if (!*(char **)item && !(*(char **)item = strdup(""))) return PMX_ENOMEM;
        body = map_get(e, body_key);
        snprintf(path + strlen(path), sizeof path - strlen(path), ".%s", body_key);
        if (is_null(body)) continue;
        if (body->kind != YN_MAP) return bad(r, body, path, "", "expected a mapping");
        if ((rc = fn(r, body, path, item))) return rc;
    }
    return l->n > 1 ? rd_dups(r, l, key, *items, isize) : 0;
}

void kcfg_file_free(kcfg_file_t *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->nclusters; i++) {
        kf_cluster_t *c = &f->clusters[i];
        free(c->name), free(c->server), free(c->ca_file), free(c->tls_server_name);
        free(c->proxy_url), free(c->exec_ext_json), free(c->ca_data);
    }
    for (size_t i = 0; i < f->nusers; i++) {
        kf_user_t *u = &f->users[i];
        free(u->name), free(u->token), free(u->token_file), free(u->cert_file);
        free(u->key_file), free(u->username), free(u->password), free(u->cert_data);
        free(u->key_data), kcfg_exec_free(u->exec);
        free(u->ap_name), free(u->oidc_id_token), free(u->oidc_refresh);
        free(u->as), free(u->as_uid);
        for (size_t k = 0; u->as_groups && k < u->nas_groups; k++)
            free(u->as_groups[k]);
        for (size_t k = 0; u->as_extra && k < 2 * u->nas_extra; k++)
            free(u->as_extra[k]);
        free(u->as_groups), free(u->as_extra);
    }
    for (size_t i = 0; i < f->ncontexts; i++) {
        kf_context_t *c = &f->contexts[i];
        free(c->name), free(c->cluster), free(c->user), free(c->namespace_);
    }
    free(f->clusters), free(f->users), free(f->contexts);
    free(f->current_context), free(f->path), free(f->dir);
    free(f);
}

static int rd_file(rd_t *r, const ynode_t *root, kcfg_file_t *f)
{
    int rc;
    if (is_null(root)) return 0;
    if (root->kind != YN_MAP) return bad(r, root, "", "", "expected a mapping at the top level");
    if ((rc = rd_list(r, root, "clusters", "cluster", sizeof(kf_cluster_t), (void **)&f->clusters,
                      &f->nclusters, rd_cluster)) ||
        (rc = rd_list(r, root, "users", "user", sizeof(kf_user_t), (void **)&f->users, &f->nusers,
                      rd_user)) ||
        (rc = rd_list(r, root, "contexts", "context", sizeof(kf_context_t), (void **)&f->contexts,
                      &f->ncontexts, rd_context)))
        return rc;
    return rd_str(r, root, "current-context", "", &f->current_context);
}

int kcfg_parse(const char *path, const char *data, size_t len, kcfg_file_t **out, char *err,
               size_t errlen)
{
    *out = NULL;
    if (!path) path = "<memory>";
    if (len > KCFG_MAX_FILE)
        return kcfg_fail(err, errlen, "kubeconfig %s: file is larger than %u bytes", path,
                         KCFG_MAX_FILE);
    kcfg_file_t *f = calloc(1, sizeof *f);
    ytree_t t = {0};
    int rc = PMX_ENOMEM;
    if (!f || !(f->path = strdup(path)) || !(f->dir = kcfg_path_abs(path))) goto done;
    char *slash = strrchr(f->dir, '/');
    if (slash) slash[slash == f->dir] = 0; /* filepath.Dir; keeps "/" for the root */
    rd_t r = {f->path, f->dir, err, errlen};
    if (!(rc = ytree_parse(&t, path, data, len, err, errlen))) rc = rd_file(&r, t.root, f);
done:
    ytree_free(&t);
    if (rc == PMX_ENOMEM) kcfg_fail(err, errlen, "kubeconfig %s: out of memory", path);
    if (rc) {
        kcfg_file_free(f);
        return rc;
    }
    *out = f;
    return 0;
}
