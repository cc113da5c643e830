/* selector: label and field selectors with apimachinery 1.32's grammar and wording.
 *
 * This file holds what every way of building a selector shares: the name and value checks, a
 * requirement's validation, sorting, and then matching and rendering. The label selector text
 * is parsed in selector_parse.c, a metav1.LabelSelector converted in selector_json.c, and pod
 * field selectors live in selector_field.c. */
#include "util/errbuf.h"
#include "kube/selector_priv.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers -------------------------------------------------------------------------- */

char *sel_dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] : the qualified-name and label-value regex. */
static int match_name_re(const char *s, size_t n)
{
    if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1])) return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') return 0;
    return 1;
}

/* RFC 1123 subdomain: labels of [a-z0-9]([-a-z0-9]*[a-z0-9])? joined by '.'. */
static int match_dns1123_subdomain(const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            if (!is_lower_alnum(s[i]) && s[i] != '-') return 0;
            continue;
        }
        if (i == start || !is_lower_alnum(s[start]) || !is_lower_alnum(s[i - 1])) return 0;
        start = i + 1;
    }
    return 1;
}

#define NAME_RE_MSG                                                                                \
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "    \
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "         \
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define VALUE_RE_MSG                                                                               \
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "    \
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "             \
    "'my_value',  or '12345', regex used for validation is "                                       \
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
#define DNS_MSG                                                                                    \
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "   \
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "  \
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"

/* IsQualifiedName: returns NULL when valid, else the (first) reason. */
const char *sel_qualified_name_error(const char *k)
{
    const char *slash = strchr(k, '/');
    const char *name = k;
    if (slash) {
        if (strchr(slash + 1, '/'))
            return "a qualified name " NAME_RE_MSG " with an optional DNS subdomain prefix and "
                   "'/' (e.g. 'example.com/MyName')";
        size_t plen = (size_t)(slash - k);
        if (plen == 0) return "prefix part must be non-empty";
        if (plen > 253) return "prefix part must be no more than 253 characters";
        if (!match_dns1123_subdomain(k, plen)) return "prefix part " DNS_MSG;
        name = slash + 1;
    }
    size_t n = strlen(name);
    if (n == 0) return "name part must be non-empty";
    if (n > 63) return "name part must be no more than 63 characters";
    if (!match_name_re(name, n)) return "name part " NAME_RE_MSG;
    return NULL;
}

static const char *label_value_error(const char *v)
{
    size_t n = strlen(v);
    if (n > 63) return "must be no more than 63 characters";
    if (n && !match_name_re(v, n)) return VALUE_RE_MSG;
    return NULL;
}

/* strconv.ParseInt(s, 10, 64): optional sign, decimal digits, no overflow. */
static int parse_int64(const char *s, long long *out)
{
    const char *p = s;
    int neg = 0;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    if (!*p) return -1;
    unsigned long long v = 0, lim = neg ? (unsigned long long)INT64_MAX + 1 : INT64_MAX;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        unsigned d = (unsigned)(*p - '0');
        if (v > (lim - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = neg ? (long long)(0 - v) : (long long)v;
    return 0;
}

/* ---- sel_t lifetime ------------------------------------------------------------------------- */

void sel_init(sel_t *s)
{
    s->reqs = NULL;
    s->nreqs = 0;
    s->nothing = 0;
}

void sel_req_free(sel_req_t *r)
{
    free(r->key);
    for (size_t i = 0; i < r->nvalues; i++)
        free(r->values[i]);
    free(r->values);
}

void sel_free(sel_t *s)
{
    for (size_t i = 0; i < s->nreqs; i++)
        sel_req_free(&s->reqs[i]);
    free(s->reqs);
    sel_init(s);
}

int sel_is_everything(const sel_t *s)
{
    return !s->nothing && s->nreqs == 0;
}

int sel_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts and dedups the values (Go keeps them in a sets.String). */
void sel_sort_unique(char **v, size_t *n)
{
    if (*n < 2) return;
    qsort(v, *n, sizeof *v, sel_cmp_str);
    size_t w = 1;
    for (size_t i = 1; i < *n; i++) {
        if (strcmp(v[i], v[w - 1]) == 0) {
            free(v[i]);
            continue;
        }
        v[w++] = v[i];
    }
    *n = w;
}

/* Go's strconv.Quote (what %q prints in apimachinery's messages), truncated to fit out. */
const char *sel_go_quote(const char *s, char *out, size_t n)
{
    size_t w = 0;
    out[w++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p && w + 8 < n; p++) {
        static const char esc[] = "abtnvfr"; /* \\a .. \\r for 7 .. 13 */
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            out[w++] = '\\';
            out[w++] = (char)c;
        } else if (c >= 7 && c <= 13) {
            out[w++] = '\\';
            out[w++] = esc[c - 7];
        } else if (c < 0x20 || c == 0x7f || c >= 0x80) {
            /* multi-byte UTF-8 is kept as is; stray bytes are \xNN like Go */
            int n8 = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 ? 1 : -1, ok = c >= 0x80 && n8 > 0;
            for (int i = 1; ok && i <= n8; i++)
                ok = (p[i] & 0xc0) == 0x80;
            if (ok && w + (size_t)n8 + 3 < n) {
                for (int i = 0; i <= n8; i++)
                    out[w++] = (char)p[i];
                p += n8;
            } else {
                w += (size_t)snprintf(out + w, n - w, "\\x%02x", c);
            }
        } else {
            out[w++] = (char)c;
        }
    }
    out[w++] = '"';
    out[w] = '\0';
    return out;
}

/* NewRequirement's checks, in its order; the first problem wins (Go aggregates, but one line
 * is what we promise). key_path is "key" or "<nil>" as the Go callers produce. */
int sel_req_validate(const sel_req_t *r, const char *key_path, char *err, size_t errlen)
{
    const char *why = sel_qualified_name_error(r->key);
    if (why) {
        char q[300];
        errbuf_printf(err, errlen, "%s: Invalid value: %s: %s", key_path,
                      sel_go_quote(r->key, q, sizeof q), why);
        return -EINVAL;
    }
    switch (r->op) {
    case SEL_OP_IN:
    case SEL_OP_NOTIN:
        if (r->nvalues == 0) {
            errbuf_printf(err, errlen,
                          "values: Invalid value: []string(nil): for 'in', 'notin' "
                          "operators, values set can't be empty");
            return -EINVAL;
        }
        break;
    case SEL_OP_GT:
    case SEL_OP_LT:
        for (size_t i = 0; i < r->nvalues; i++) {
            long long dummy;
            if (parse_int64(r->values[i], &dummy)) {
                char q[300];
                errbuf_printf(err, errlen,
                              "values[%zu]: Invalid value: %s: for 'Gt', 'Lt' operators, the value "
                              "must be an integer",
                              i, sel_go_quote(r->values[i], q, sizeof q));
                return -EINVAL;
            }
        }
        break;
    default:
        break;
    }
    for (size_t i = 0; i < r->nvalues; i++) {
        why = label_value_error(r->values[i]);
        if (why) {
            char q[300];
            errbuf_printf(err, errlen, "values[%zu][%s]: Invalid value: %s: %s", i, r->key,
                          sel_go_quote(r->values[i], q, sizeof q), why);
            return -EINVAL;
        }
    }
    return 0;
}

int sel_push(sel_t *s, sel_req_t *r)
{
    if (s->nreqs >= SEL_MAX_REQS) return -E2BIG;
    sel_req_t *n = realloc(s->reqs, (s->nreqs + 1) * sizeof *n);
    if (!n) return -ENOMEM;
    s->reqs = n;
    s->reqs[s->nreqs++] = *r;
    return 0;
}

/* Stable insertion sort by key: equal keys keep their written order. */
void sel_sort(sel_t *s)
{
    for (size_t i = 1; i < s->nreqs; i++) {
        sel_req_t t = s->reqs[i];
        size_t j = i;
        while (j > 0 && strcmp(s->reqs[j - 1].key, t.key) > 0) {
            s->reqs[j] = s->reqs[j - 1];
            j--;
        }
        s->reqs[j] = t;
    }
}

int sel_vals_add(sel_vals_t *vs, const char *s, size_t n)
{
    if (vs->n >= SEL_MAX_VALUES) return -E2BIG;
    char **nv = realloc(vs->v, (vs->n + 1) * sizeof *nv);
    if (!nv) return -ENOMEM;
    vs->v = nv;
    if (!(vs->v[vs->n] = sel_dup_n(s, n))) return -ENOMEM;
    vs->n++;
    return 0;
}

/* ---- matching and rendering ----------------------------------------------------------------- */

const char *sel_lookup(const char *key, const char *const *keys, const char *const *values,
                       size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i], key) == 0) return values[i] ? values[i] : "";
    return NULL;
}

static int has_value(const sel_req_t *r, const char *v)
{
    for (size_t i = 0; i < r->nvalues; i++)
        if (strcmp(r->values[i], v) == 0) return 1;
    return 0;
}

static int req_match(const sel_req_t *r, const char *v)
{
    long long a, b;
    switch (r->op) {
    case SEL_OP_EQ:
    case SEL_OP_DEQ:
    case SEL_OP_IN:
        return v && has_value(r, v);
    case SEL_OP_NE:
    case SEL_OP_NOTIN:
        return !v || !has_value(r, v);
    case SEL_OP_EXISTS:
        return v != NULL;
    case SEL_OP_NOT_EXISTS:
        return v == NULL;
    case SEL_OP_GT:
    case SEL_OP_LT:
        if (!v || r->nvalues != 1 || parse_int64(v, &a) || parse_int64(r->values[0], &b)) return 0;
        return r->op == SEL_OP_GT ? a > b : a < b;
    }
    return 0;
}

int sel_match(const sel_t *s, const char *const *keys, const char *const *values, size_t n)
{
    if (s->nothing) return 0;
    for (size_t i = 0; i < s->nreqs; i++)
        if (!req_match(&s->reqs[i], sel_lookup(s->reqs[i].key, keys, values, n))) return 0;
    return 1;
}

static int render_req(const sel_req_t *r, buf_t *out)
{
    static const char *const opstr[] = {
        [SEL_OP_EQ] = "=",        [SEL_OP_DEQ] = "==",         [SEL_OP_NE] = "!=",
        [SEL_OP_IN] = " in (",    [SEL_OP_NOTIN] = " notin (", [SEL_OP_EXISTS] = "",
        [SEL_OP_NOT_EXISTS] = "", [SEL_OP_GT] = ">",           [SEL_OP_LT] = "<",
    };
    int e = 0;
    if (r->op == SEL_OP_NOT_EXISTS) e |= buf_append_byte(out, '!');
    e |= buf_append_str(out, r->key);
    if (r->op == SEL_OP_EXISTS || r->op == SEL_OP_NOT_EXISTS) return e ? -ENOMEM : 0;
    e |= buf_append_str(out, opstr[r->op]);
    for (size_t i = 0; i < r->nvalues; i++) {
        if (i) e |= buf_append_byte(out, ',');
        e |= buf_append_str(out, r->values[i]);
    }
    if (r->op == SEL_OP_IN || r->op == SEL_OP_NOTIN) e |= buf_append_byte(out, ')');
    return e ? -ENOMEM : 0;
}

int sel_render(const sel_t *s, buf_t *out)
{
    if (s->nothing) return 0;
    for (size_t i = 0; i < s->nreqs; i++) {
        if (i && buf_append_byte(out, ',')) return -ENOMEM;
        if (render_req(&s->reqs[i], out)) return -ENOMEM;
    }
    return 0;
}
