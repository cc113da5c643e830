/* selector_field: pod field selectors (fieldSelector=...), as pkg/fields/selector.go parses
 * them and the pod registry's selectable fields allow. */
#include "util/errbuf.h"
#include "kube/selector_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        if (!(v[k++] = sel_dup_n(s + start, i - start))) {
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
        if (!(t->field = sel_dup_n(parts[i], ll))) return -ENOMEM;
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
        qsort(parts, n, sizeof *parts, sel_cmp_str);
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
        const char *v = sel_lookup(f->terms[i].field, fields, values, n);
        int eq = strcmp(v ? v : "", f->terms[i].value) == 0;
        if (eq == f->terms[i].negate) return 0;
    }
    return 1;
}
