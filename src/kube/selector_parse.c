/* selector_parse: the label selector text (labelSelector=...). The lexer and parser mirror
 * pkg/labels/selector.go (Lexer + Parser) closely so that every input the real server accepts is
 * accepted here and vice versa; the error texts follow its fmt strings. */
#include "util/errbuf.h"
#include "kube/selector_priv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int parse_ident_list(parser_t *p, sel_vals_t *vs)
{
    int r;
    for (;;) {
        token_t t = next_v(p);
        if (t.tok == T_ID) {
            if ((r = sel_vals_add(vs, t.lit, t.len))) return r;
            token_t t2 = peek_v(p);
            if (t2.tok == T_COMMA) continue;
            if (t2.tok == T_CLOSEPAR) return 0;
            return fail(p, "found '%.*s', expected: ',' or ')'", LIT(t2));
        }
        if (t.tok != T_COMMA) return fail(p, "found '%.*s', expected: ',', or identifier", LIT(t));
        /* "(," ",)" ",," all stand for empty values. */
        if (vs->n == 0 && (r = sel_vals_add(vs, "", 0))) return r;
        token_t t2 = peek_v(p);
        if (t2.tok == T_CLOSEPAR) return sel_vals_add(vs, "", 0);
        if (t2.tok == T_COMMA) {
            next_v(p);
            if ((r = sel_vals_add(vs, "", 0))) return r;
        }
    }
}

static int parse_values(parser_t *p, sel_vals_t *vs)
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
        return sel_vals_add(vs, "", 0);
    }
    return fail(p, "found '%.*s', expected: ',', ')' or identifier", LIT(t));
}

static int parse_exact_value(parser_t *p, sel_vals_t *vs)
{
    token_t t = peek_v(p);
    if (t.tok == T_EOS || t.tok == T_COMMA) return sel_vals_add(vs, "", 0);
    t = next_v(p);
    if (t.tok == T_ID) return sel_vals_add(vs, t.lit, t.len);
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
    if (!(out->key = sel_dup_n(t.lit, t.len))) return -ENOMEM;
    const char *why = sel_qualified_name_error(out->key);
    char q[300];
    if (why)
        return fail(p, "<nil>: Invalid value: %s: %s", sel_go_quote(out->key, q, sizeof q), why);
    tok_t la = peek_v(p).tok;
    if (dne || la == T_EOS || la == T_COMMA) {
        out->op = dne ? SEL_OP_NOT_EXISTS : SEL_OP_EXISTS;
        return 0;
    }
    if ((r = parse_operator(p, &out->op))) return r;
    sel_vals_t vs = {0};
    if (out->op == SEL_OP_IN || out->op == SEL_OP_NOTIN)
        r = parse_values(p, &vs);
    else
        r = parse_exact_value(p, &vs);
    out->values = vs.v;
    out->nvalues = vs.n;
    if (r) return r;
    sel_sort_unique(out->values, &out->nvalues);
    return sel_req_validate(out, "key", p->err, p->errlen);
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
            sel_req_free(&req);
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
