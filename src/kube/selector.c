/* selector: label and field selectors with apimachinery 1.32's grammar and wording.
 * The label parser mirrors pkg/labels/selector.go (Lexer + Parser) closely so that every input
 * the real server accepts is accepted here and vice versa; the error texts follow its fmt
 * strings. */
#include "util/errbuf.h"
#include "kube/selector.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers -------------------------------------------------------------------------- */

static char *dup_n(const char *s, size_t n)
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
static const char *qualified_name_error(const char *k)
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

static void req_free(sel_req_t *r)
{
    free(r->key);
    for (size_t i = 0; i < r->nvalues; i++)
        free(r->values[i]);
    free(r->values);
}

void sel_free(sel_t *s)
{
    for (size_t i = 0; i < s->nreqs; i++)
        req_free(&s->reqs[i]);
    free(s->reqs);
    sel_init(s);
}

int sel_is_everything(const sel_t *s)
{
    return !s->nothing && s->nreqs == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts and dedups the values (Go keeps them in a sets.String). */
static void sort_unique(char **v, size_t *n)
{
    if (*n < 2) return;
    qsort(v, *n, sizeof *v, cmp_str);
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
static const char *go_quote(const char *s, char *out, size_t n)
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
static int req_validate(const sel_req_t *r, const char *key_path, char *err, size_t errlen)
{
    const char *why = qualified_name_error(r->key);
    if (why) {
        char q[300];
        errbuf_printf(err, errlen, "%s: Invalid value: %s: %s", key_path,
                      go_quote(r->key, q, sizeof q), why);
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
                              i, go_quote(r->values[i], q, sizeof q));
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
                          go_quote(r->values[i], q, sizeof q), why);
            return -EINVAL;
        }
    }
    return 0;
}

static int sel_push(sel_t *s, sel_req_t *r)
{
    if (s->nreqs >= SEL_MAX_REQS) return -E2BIG;
    sel_req_t *n = realloc(s->reqs, (s->nreqs + 1) * sizeof *n);
    if (!n) return -ENOMEM;
    s->reqs = n;
    s->reqs[s->nreqs++] = *r;
    return 0;
}

/* Stable insertion sort by key: equal keys keep their written order. */
static void sel_sort(sel_t *s)
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

/* ---- lexer ---------------------------------------------------------------------------------- */

typedef enum tok {
    T_EOS,
    T_CLOSEPAR,
    T_COMMA,
    T_DNE, /* ! */
    T_DEQ,
    T_EQ,
    T_GT,
    T_ID,
    T_IN,
    T_LT,
    T_NEQ,
    T_NOTIN,
    T_OPENPAR,
} tok_t;

typedef struct token {
    tok_t tok;
    const char *lit;
    size_t len;
} token_t;

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_special(char c)
{
    return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

static int special_token(const char *s, size_t n, tok_t *t)
{
    static const struct {
        const char *s;
        tok_t t;
    } map[] = {{")", T_CLOSEPAR}, {",", T_COMMA}, {"!", T_DNE},  {"==", T_DEQ},   {"=", T_EQ},
               {">", T_GT},       {"<", T_LT},    {"!=", T_NEQ}, {"(", T_OPENPAR}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strlen(map[i].s) == n && memcmp(map[i].s, s, n) == 0) {
            *t = map[i].t;
            return 1;
        }
    return 0;
}

/* One token starting at *pos (Go's Lexer.Lex); text ends at len or at a NUL byte. */
static token_t lex_one(const char *s, size_t len, size_t *pos)
{
    size_t p = *pos;
    while (p < len && s[p] && is_ws(s[p]))
        p++;
    token_t t = {T_EOS, s + p, 0};
    if (p >= len || !s[p]) {
        *pos = p;
        return t;
    }
    if (is_special(s[p])) {
        /* Greedy: extend while the longer text is still a token. */
        size_t n = 0;
        tok_t cur = T_EOS, next;
        while (p + n < len && s[p + n] && is_special(s[p + n]) &&
               special_token(s + p, n + 1, &next)) {
            cur = next;
            n++;
        }
        t.tok = cur;
        t.len = n;
        *pos = p + n;
        return t;
    }
    size_t n = 0;
    while (p + n < len && s[p + n] && !is_special(s[p + n]) && !is_ws(s[p + n]))
        n++;
    t.tok = T_ID;
    t.len = n;
    if (n == 2 && memcmp(s + p, "in", 2) == 0) t.tok = T_IN;
    if (n == 5 && memcmp(s + p, "notin", 5) == 0) t.tok = T_NOTIN;
    *pos = p + n;
    return t;
}

/* ---- parser --------------------------------------------------------------------------------- */

typedef struct parser {
    token_t *toks;
    size_t n, pos;
    char *err;
    size_t errlen;
} parser_t;

/* lookahead/consume in the Values context: "in" and "notin" count as identifiers. */
static token_t peek_v(parser_t *p)
{
    token_t t = p->toks[p->pos];
    if (t.tok == T_IN || t.tok == T_NOTIN) t.tok = T_ID;
    return t;
}

static token_t next_v(parser_t *p)
{
    token_t t = peek_v(p);
    if (p->pos + 1 < p->n) p->pos++;
    return t;
}

static token_t next_raw(parser_t *p)
{
    token_t t = p->toks[p->pos];
    if (p->pos + 1 < p->n) p->pos++;
    return t;
}

#define LIT(t) (int)(t).len, (t).lit

/* Collected values (pointers into the text) before they become a sorted set. */
typedef struct vals {
    char **v;
    size_t n;
} vals_t;

static int vals_add(vals_t *vs, const char *s, size_t n)
{
    if (vs->n >= SEL_MAX_VALUES) return -E2BIG;
    char **nv = realloc(vs->v, (vs->n + 1) * sizeof *nv);
    if (!nv) return -ENOMEM;
    vs->v = nv;
    if (!(vs->v[vs->n] = dup_n(s, n))) return -ENOMEM;
    vs->n++;
    return 0;
}

static int fail(parser_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(parser_t *p, const char *fmt, ...)
{
    if (p->err && p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err, p->errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static int parse_ident_list(parser_t *p, vals_t *vs)
{
    int r;
    for (;;) {
        token_t t = next_v(p);
        if (t.tok == T_ID) {
            if ((r = vals_add(vs, t.lit, t.len))) return r;
            token_t t2 = peek_v(p);
            if (t2.tok == T_COMMA) continue;
            if (t2.tok == T_CLOSEPAR) return 0;
            return fail(p, "found '%.*s', expected: ',' or ')'", LIT(t2));
        }
        if (t.tok != T_COMMA) return fail(p, "found '%.*s', expected: ',', or identifier", LIT(t));
        /* "(," ",)" ",," all stand for empty values. */
        if (vs->n == 0 && (r = vals_add(vs, "", 0))) return r;
        token_t t2 = peek_v(p);
        if (t2.tok == T_CLOSEPAR) return vals_add(vs, "", 0);
        if (t2.tok == T_COMMA) {
            next_v(p);
            if ((r = vals_add(vs, "", 0))) return r;
        }
    }
}

static int parse_values(parser_t *p, vals_t *vs)
{
    token_t t = next_v(p);
    if (t.tok != T_OPENPAR) return fail(p, "found '%.*s' expected: '('", LIT(t));
    t = peek_v(p);
    if (t.tok == T_ID || t.tok == T_COMMA) {
        int r = parse_ident_list(p, vs);
        if (r) return r;
        if (next_v(p).tok != T_CLOSEPAR) return fail(p, "found '%.*s', expected: ')'", LIT(t));
        return 0;
    }
    if (t.tok == T_CLOSEPAR) {
        next_v(p);
        return vals_add(vs, "", 0);
    }
    return fail(p, "found '%.*s', expected: ',', ')' or identifier", LIT(t));
}

static int parse_exact_value(parser_t *p, vals_t *vs)
{
    token_t t = peek_v(p);
    if (t.tok == T_EOS || t.tok == T_COMMA) return vals_add(vs, "", 0);
    t = next_v(p);
    if (t.tok == T_ID) return vals_add(vs, t.lit, t.len);
    return fail(p, "found '%.*s', expected: identifier", LIT(t));
}

static int parse_operator(parser_t *p, sel_op_t *op)
{
    token_t t = next_raw(p);
    switch (t.tok) {
    case T_IN:
        *op = SEL_OP_IN;
        return 0;
    case T_NOTIN:
        *op = SEL_OP_NOTIN;
        return 0;
    case T_EQ:
        *op = SEL_OP_EQ;
        return 0;
    case T_DEQ:
        *op = SEL_OP_DEQ;
        return 0;
    case T_NEQ:
        *op = SEL_OP_NE;
        return 0;
    case T_GT:
        *op = SEL_OP_GT;
        return 0;
    case T_LT:
        *op = SEL_OP_LT;
        return 0;
    default:
        return fail(p, "found '%.*s', expected: in, notin, =, ==, !=, gt, lt", LIT(t));
    }
}

/* parseRequirement; on success *out owns key and values. */
static int parse_requirement(parser_t *p, sel_req_t *out)
{
    memset(out, 0, sizeof *out);
    int dne = 0, r;
    token_t t = next_v(p);
    if (t.tok == T_DNE) {
        dne = 1;
        t = next_v(p);
    }
    if (t.tok != T_ID) return fail(p, "found '%.*s', expected: identifier", LIT(t));
    if (!(out->key = dup_n(t.lit, t.len))) return -ENOMEM;
    const char *why = qualified_name_error(out->key);
    char q[300];
    if (why) return fail(p, "<nil>: Invalid value: %s: %s", go_quote(out->key, q, sizeof q), why);
    tok_t la = peek_v(p).tok;
    if (dne || la == T_EOS || la == T_COMMA) {
        out->op = dne ? SEL_OP_NOT_EXISTS : SEL_OP_EXISTS;
        return 0;
    }
    if ((r = parse_operator(p, &out->op))) return r;
    vals_t vs = {0};
    if (out->op == SEL_OP_IN || out->op == SEL_OP_NOTIN)
        r = parse_values(p, &vs);
    else
        r = parse_exact_value(p, &vs);
    out->values = vs.v;
    out->nvalues = vs.n;
    if (r) return r;
    sort_unique(out->values, &out->nvalues);
    return req_validate(out, "key", p->err, p->errlen);
}

/* Prefixes the message already in p->err. */
static void prefix_err(parser_t *p, const char *prefix)
{
    if (!p->err || !p->errlen) return;
    size_t pl = strlen(prefix), el = strnlen(p->err, p->errlen - 1);
    if (pl >= p->errlen) pl = p->errlen - 1;
    if (pl + el >= p->errlen) el = p->errlen - 1 - pl;
    memmove(p->err + pl, p->err, el);
    memcpy(p->err, prefix, pl);
    p->err[pl + el] = '\0';
}

static int parse_all(parser_t *p, sel_t *s)
{
    for (;;) {
        token_t t = peek_v(p);
        if (t.tok == T_EOS) return 0;
        if (t.tok != T_ID && t.tok != T_DNE)
            return fail(p, "found '%.*s', expected: !, identifier, or 'end of string'", LIT(t));
        sel_req_t req;
        int r = parse_requirement(p, &req);
        if (!r) r = sel_push(s, &req);
        if (r) {
            req_free(&req);
            if (r == -EINVAL) prefix_err(p, "unable to parse requirement: ");
            if (r == -E2BIG) r = fail(p, "too many requirements or values in selector");
            return r;
        }
        t = next_v(p);
        if (t.tok == T_EOS) return 0;
        if (t.tok != T_COMMA)
            return fail(p, "found '%.*s', expected: ',' or 'end of string'", LIT(t));
        token_t t2 = peek_v(p);
        if (t2.tok != T_ID && t2.tok != T_DNE)
            return fail(p, "found '%.*s', expected: identifier after ','", LIT(t2));
    }
}

int sel_parse(sel_t *s, const char *text, size_t len, char *err, size_t errlen)
{
    sel_init(s);
    if (err && errlen) err[0] = '\0';
    if (len > SEL_MAX_TEXT) {
        errbuf_printf(err, errlen, "selector too long (%zu bytes, limit %u)", len, SEL_MAX_TEXT);
        return -EINVAL;
    }
    /* Go scans every token first; at most one token per byte plus the end. */
    token_t *toks = malloc((len + 1) * sizeof *toks);
    if (!toks) return -ENOMEM;
    size_t n = 0, pos = 0;
    do
        toks[n] = lex_one(text, len, &pos);
    while (toks[n++].tok != T_EOS);
    parser_t p = {toks, n, 0, err, errlen};
    int r = parse_all(&p, s);
    free(toks);
    if (r) {
        sel_free(s);
        return r;
    }
    sel_sort(s);
    return 0;
}

/* ---- metav1.LabelSelector ------------------------------------------------------------------- */

static int add_req(sel_t *s, const char *key, sel_op_t op, const char *const *vals, size_t n,
                   char *err, size_t errlen)
{
    sel_req_t req = {0};
    vals_t vs = {0};
    int r = -ENOMEM;
    if (!(req.key = strdup(key))) goto out;
    req.op = op;
    for (size_t i = 0; i < n; i++)
        if ((r = vals_add(&vs, vals[i], strlen(vals[i])))) break;
    req.values = vs.v;
    req.nvalues = vs.n;
    if (n && r) goto out;
    if ((op == SEL_OP_EXISTS || op == SEL_OP_NOT_EXISTS) && req.nvalues) {
        char q[300], list[700] = "";
        for (size_t i = 0, k = 0; i < req.nvalues && k < sizeof list; i++)
            k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "",
                                  go_quote(req.values[i], q, sizeof q));
        errbuf_printf(
            err, errlen,
            "values: Invalid value: []string{%s}: values set must be empty for exists and "
            "does not exist",
            list);
        r = -EINVAL;
        goto out;
    }
    sort_unique(req.values, &req.nvalues);
    if ((r = req_validate(&req, "key", err, errlen))) goto out;
    if ((r = sel_push(s, &req)) == 0) return 0;
out:
    req_free(&req);
    if (r == -E2BIG) errbuf_printf(err, errlen, "too many requirements or values in selector");
    return r == -E2BIG ? -EINVAL : r;
}

static int add_expression(sel_t *s, const cJSON *e, char *err, size_t errlen)
{
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(e, "key");
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(e, "operator");
    const cJSON *vals = cJSON_GetObjectItemCaseSensitive(e, "values");
    if (!cJSON_IsString(key) || !cJSON_IsString(op)) {
        errbuf_printf(err, errlen, "matchExpressions entry needs string key and operator");
        return -EINVAL;
    }
    static const struct {
        const char *name;
        sel_op_t op;
    } ops[] = {{"In", SEL_OP_IN},
               {"NotIn", SEL_OP_NOTIN},
               {"Exists", SEL_OP_EXISTS},
               {"DoesNotExist", SEL_OP_NOT_EXISTS}};
    size_t i = 0;
    while (i < sizeof ops / sizeof ops[0] && strcmp(op->valuestring, ops[i].name) != 0)
        i++;
    if (i == sizeof ops / sizeof ops[0]) {
        errbuf_printf(err, errlen, "\"%s\" is not a valid label selector operator",
                      op->valuestring);
        return -EINVAL;
    }
    if (vals && !cJSON_IsArray(vals) && !cJSON_IsNull(vals)) {
        errbuf_printf(err, errlen, "values of \"%s\" is not a list", key->valuestring);
        return -EINVAL;
    }
    int nv = cJSON_IsArray(vals) ? cJSON_GetArraySize(vals) : 0;
    if (nv > SEL_MAX_VALUES) {
        errbuf_printf(err, errlen, "too many requirements or values in selector");
        return -EINVAL;
    }
    const char *sv[SEL_MAX_VALUES + 1];
    size_t k = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, vals)
    {
        if (!cJSON_IsString(v)) {
            errbuf_printf(err, errlen, "values: Invalid value: non-string value for key \"%s\"",
                          key->valuestring);
            return -EINVAL;
        }
        sv[k++] = v->valuestring;
    }
    return add_req(s, key->valuestring, ops[i].op, sv, k, err, errlen);
}

int sel_from_label_selector(sel_t *s, const cJSON *ls, char *err, size_t errlen)
{
    sel_init(s);
    if (err && errlen) err[0] = '\0';
    if (!ls || cJSON_IsNull(ls)) {
        s->nothing = 1;
        return 0;
    }
    if (!cJSON_IsObject(ls)) {
        errbuf_printf(err, errlen, "label selector is not an object");
        return -EINVAL;
    }
    const cJSON *ml = cJSON_GetObjectItemCaseSensitive(ls, "matchLabels");
    const cJSON *me = cJSON_GetObjectItemCaseSensitive(ls, "matchExpressions");
    if ((ml && !cJSON_IsObject(ml) && !cJSON_IsNull(ml)) ||
        (me && !cJSON_IsArray(me) && !cJSON_IsNull(me))) {
        errbuf_printf(err, errlen, "matchLabels must be an object and matchExpressions a list");
        return -EINVAL;
    }
    int r = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, ml)
    {
        if (!cJSON_IsString(it)) {
            errbuf_printf(err, errlen, "matchLabels value for \"%s\" is not a string", it->string);
            r = -EINVAL;
            break;
        }
        const char *v = it->valuestring;
        if ((r = add_req(s, it->string, SEL_OP_EQ, &v, 1, err, errlen))) break;
    }
    if (!r) cJSON_ArrayForEach(it, me)
        {
            if ((r = add_expression(s, it, err, errlen))) break;
        }
    if (r) {
        sel_free(s);
        return r;
    }
    sel_sort(s);
    return 0;
}

/* ---- matching and rendering ----------------------------------------------------------------- */

static const char *lookup(const char *key, const char *const *keys, const char *const *values,
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
        if (!req_match(&s->reqs[i], lookup(s->reqs[i].key, keys, values, n))) return 0;
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

/* ---- field selectors ------------------------------------------------------------------------ */

void fsel_init(fsel_t *f)
{
    f->terms = NULL;
    f->n = 0;
}

void fsel_free(fsel_t *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->terms[i].field);
        free(f->terms[i].value);
    }
    free(f->terms);
    fsel_init(f);
}

/* Splits on commas not escaped by a backslash (Go's splitTerms). */
static size_t split_terms(const char *s, char ***out)
{
    size_t n = 1, len = strlen(s);
    int slash = 0;
    for (size_t i = 0; i < len; i++) {
        if (slash)
            slash = 0;
        else if (s[i] == '\\')
            slash = 1;
        else if (s[i] == ',')
            n++;
    }
    char **v = calloc(n, sizeof *v);
    if (!v) return 0;
    size_t k = 0, start = 0;
    slash = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && slash) {
            slash = 0;
            continue;
        }
        if (i < len && s[i] == '\\') {
            slash = 1;
            continue;
        }
        if (i < len && s[i] != ',') continue;
        if (!(v[k++] = dup_n(s + start, i - start))) {
            for (size_t j = 0; j < k; j++)
                free(v[j]);
            free(v);
            return 0;
        }
        start = i + 1;
    }
    *out = v;
    return n;
}

/* UnescapeValue: \\ \, \= only; bare , or = are errors (Go prints the rune as a number). */
static int unescape_value(const char *s, char **out, char *err, size_t errlen)
{
    size_t n = strlen(s), w = 0;
    char *v = malloc(n + 1);
    if (!v) return -ENOMEM;
    int slash = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (slash) {
            if (c != '\\' && c != ',' && c != '=') {
                errbuf_printf(err, errlen, "invalid field selector: invalid escape sequence: \\%c",
                              c);
                free(v);
                return -EINVAL;
            }
            v[w++] = c;
            slash = 0;
        } else if (c == '\\') {
            slash = 1;
        } else if (c == ',' || c == '=') {
            errbuf_printf(err, errlen, "invalid field selector: unescaped character in value: %d",
                          c);
            free(v);
            return -EINVAL;
        } else {
            v[w++] = c;
        }
    }
    if (slash) {
        errbuf_printf(err, errlen, "invalid field selector: invalid escape sequence: \\");
        free(v);
        return -EINVAL;
    }
    v[w] = '\0';
    *out = v;
    return 0;
}

/* splitTerm: the first position where "!=", "==" or "=" starts, in that preference. */
static int split_term(const char *t, size_t *lhs_len, size_t *op_len, int *negate)
{
    for (size_t i = 0; t[i]; i++) {
        if (strncmp(t + i, "!=", 2) == 0) {
            *lhs_len = i, *op_len = 2, *negate = 1;
            return 0;
        }
        if (strncmp(t + i, "==", 2) == 0 || t[i] == '=') {
            *lhs_len = i, *op_len = t[i + 1] == '=' ? 2 : 1, *negate = 0;
            return 0;
        }
    }
    return -1;
}

static const char *pod_field_label(const char *label)
{
    static const char *const ok[] = {
        "metadata.name",      "metadata.namespace",       "spec.nodeName",    "spec.restartPolicy",
        "spec.schedulerName", "spec.serviceAccountName",  "spec.hostNetwork", "status.phase",
        "status.podIP",       "status.nominatedNodeName",
    };
    if (strcmp(label, "spec.host") == 0) return "spec.nodeName";
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(label, ok[i]) == 0) return ok[i];
    return NULL;
}

static int parse_terms(fsel_t *f, const char *text, char **parts, size_t n, char *err,
                       size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (!parts[i][0]) continue;
        size_t ll, ol;
        int neg;
        if (split_term(parts[i], &ll, &ol, &neg)) {
            errbuf_printf(err, errlen, "invalid selector: '%s'; can't understand '%s'", text,
                          parts[i]);
            return -EINVAL;
        }
        fsel_term_t *t = &f->terms[f->n];
        memset(t, 0, sizeof *t);
        t->negate = neg;
        int r = unescape_value(parts[i] + ll + ol, &t->value, err, errlen);
        if (r) return r;
        f->n++;
        if (!(t->field = dup_n(parts[i], ll))) return -ENOMEM;
    }
    /* Labels are converted after the whole selector parsed (Selector.Transform). */
    for (size_t i = 0; i < f->n; i++) {
        const char *canon = pod_field_label(f->terms[i].field);
        if (!canon) {
            errbuf_printf(err, errlen, "field label not supported: %s", f->terms[i].field);
            return -EINVAL;
        }
        char *c = strdup(canon);
        if (!c) return -ENOMEM;
        free(f->terms[i].field);
        f->terms[i].field = c;
    }
    return 0;
}

int fsel_parse_pod(fsel_t *f, const char *text, char *err, size_t errlen)
{
    fsel_init(f);
    if (err && errlen) err[0] = '\0';
    if (!text || !*text) return 0;
    if (strlen(text) > SEL_MAX_TEXT) {
        errbuf_printf(err, errlen, "field selector too long");
        return -EINVAL;
    }
    char **parts = NULL;
    size_t n = split_terms(text, &parts);
    if (!n) return -ENOMEM;
    int r = -E2BIG;
    if (n <= SEL_MAX_REQS) {
        qsort(parts, n, sizeof *parts, cmp_str);
        f->terms = calloc(n, sizeof *f->terms);
        r = f->terms ? parse_terms(f, text, parts, n, err, errlen) : -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        free(parts[i]);
    free(parts);
    if (r == -E2BIG) {
        errbuf_printf(err, errlen, "too many terms in field selector");
        r = -EINVAL;
    }
    for (char *c = err; r && c && *c; c++) /* the text is echoed: keep the error one line */
        if (*c == '\n' || *c == '\r') *c = ' ';
    if (r) fsel_free(f);
    return r;
}

int fsel_match(const fsel_t *f, const char *const *fields, const char *const *values, size_t n)
{
    for (size_t i = 0; i < f->n; i++) {
        const char *v = lookup(f->terms[i].field, fields, values, n);
        int eq = strcmp(v ? v : "", f->terms[i].value) == 0;
        if (eq == f->terms[i].negate) return 0;
    }
    return 1;
}
