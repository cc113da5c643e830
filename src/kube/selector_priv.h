/* selector internals shared by selector.c (requirements: checks, sorting, matching, rendering),
 * selector_parse.c (the label selector text), selector_json.c (metav1.LabelSelector) and
 * selector_field.c (pod field selectors). Not installed; callers use selector.h. */
#ifndef PMX_KUBE_SELECTOR_PRIV_H
#define PMX_KUBE_SELECTOR_PRIV_H

#include <stddef.h>

#include "kube/selector.h"

/* s[0..n) as a NUL-terminated copy; NULL when out of memory. */
char *sel_dup_n(const char *s, size_t n);
/* qsort comparator for an array of char *. */
int sel_cmp_str(const void *a, const void *b);
/* IsQualifiedName: NULL when k is valid, else the (first) reason, in apimachinery's words. */
const char *sel_qualified_name_error(const char *k);
/* Go's strconv.Quote (what %q prints in apimachinery's messages), truncated to fit out. */
const char *sel_go_quote(const char *s, char *out, size_t n);
/* The value of key in a label or field set, "" for a NULL value; NULL when key is absent. */
const char *sel_lookup(const char *key, const char *const *keys, const char *const *values,
                       size_t n);

/* Values collected (copied) before they become a sorted set: at most SEL_MAX_VALUES. */
typedef struct sel_vals {
    char **v;
    size_t n;
} sel_vals_t;
/* Returns 0, -E2BIG past the bound or -ENOMEM. */
int sel_vals_add(sel_vals_t *vs, const char *s, size_t n);

/* Frees a requirement's key and values (not r itself). */
void sel_req_free(sel_req_t *r);
/* Sorts and dedups the values (Go keeps them in a sets.String); frees the duplicates. */
void sel_sort_unique(char **v, size_t *n);
/* NewRequirement's checks, first problem wins; key_path is "key" or "<nil>" as Go's callers
 * produce. Returns 0 or -EINVAL with one line in err. */
int sel_req_validate(const sel_req_t *r, const char *key_path, char *err, size_t errlen);
/* Appends r (s then owns its key and values); -E2BIG past SEL_MAX_REQS, -ENOMEM. */
int sel_push(sel_t *s, sel_req_t *r);
/* Stable sort by key: equal keys keep their written order. */
void sel_sort(sel_t *s);

#endif
