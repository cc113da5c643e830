/* selector: Kubernetes label and field selectors (docs/PROTOCOL.md §6), the way apimachinery 1.32
 * parses, matches and prints them (pkg/labels/selector.go, pkg/fields/selector.go).
 *
 * Used by podmux-sim to filter lists and by the client to turn a workload's spec.selector into
 * the `labelSelector=` string kubectl would send. Pure: no I/O, no global state.
 *
 * Label sets are given as two parallel arrays (keys[i] = values[i]), n entries, keys unique. */
#ifndef PMX_KUBE_SELECTOR_H
#define PMX_KUBE_SELECTOR_H

#include <stddef.h>

#include "util/buf.h"

typedef struct cJSON cJSON;

/* Bounds: a selector longer than this, or with more requirements/values, is refused. */
#define SEL_MAX_TEXT (64u * 1024)
#define SEL_MAX_REQS 256
#define SEL_MAX_VALUES 256

typedef enum sel_op {
    SEL_OP_EQ,         /* k=v */
    SEL_OP_DEQ,        /* k==v (kept apart: it renders as "==") */
    SEL_OP_NE,         /* k!=v, also true when k is absent */
    SEL_OP_IN,         /* k in (a,b) */
    SEL_OP_NOTIN,      /* k notin (a,b), also true when k is absent */
    SEL_OP_EXISTS,     /* k */
    SEL_OP_NOT_EXISTS, /* !k */
    SEL_OP_GT,         /* k>5 (integers) */
    SEL_OP_LT,         /* k<5 */
} sel_op_t;

typedef struct sel_req {
    char *key;
    sel_op_t op;
    char **values; /* sorted, unique; one for =,==,!=,>,<; none for exists/!exists */
    size_t nvalues;
} sel_req_t;

typedef struct sel {
    sel_req_t *reqs; /* sorted by key (stable: equal keys keep their written order) */
    size_t nreqs;
    int nothing; /* matches no object at all (a missing metav1.LabelSelector) */
} sel_t;

/* An empty selector: matches everything. */
void sel_init(sel_t *s);
void sel_free(sel_t *s);
/* 1 when the selector has no requirements and is not "nothing" (matches everything). */
int sel_is_everything(const sel_t *s);

/* Parses a label selector (the labelSelector= query value, already URL-decoded). len bytes; a
 * NUL byte ends the text as in Go's lexer. On error returns -EINVAL and writes one line to err
 * (apimachinery's wording, e.g. "unable to parse requirement: found '', expected: identifier");
 * -ENOMEM on allocation failure. s is initialised by the call (free it even on error). */
int sel_parse(sel_t *s, const char *text, size_t len, char *err, size_t errlen);

/* Converts a metav1.LabelSelector JSON object (matchLabels + matchExpressions with In, NotIn,
 * Exists, DoesNotExist). NULL or JSON null = missing = matches nothing; {} = everything. Errors
 * as sel_parse ("\"Foo\" is not a valid label selector operator", invalid keys/values). */
int sel_from_label_selector(sel_t *s, const cJSON *ls, char *err, size_t errlen);

/* 1 if the label set matches every requirement, else 0. */
int sel_match(const sel_t *s, const char *const *keys, const char *const *values, size_t n);

/* Appends kubectl's canonical text: requirements sorted by key, set values sorted,
 * e.g. "app=web,tier notin (cache,db)". Everything and nothing both render as "". */
int sel_render(const sel_t *s, buf_t *out);

/* ---- field selectors for pods ------------------------------------------------------------ */
typedef struct fsel_term {
    char *field; /* canonical label (spec.host is stored as spec.nodeName) */
    char *value; /* unescaped */
    int negate;  /* != */
} fsel_term_t;

typedef struct fsel {
    fsel_term_t *terms; /* sorted by their text, as Go does */
    size_t n;
} fsel_t;

void fsel_init(fsel_t *f);
void fsel_free(fsel_t *f);
/* Parses a pod field selector: terms split on unescaped commas, operators !=, ==, = only, values
 * unescaped (\\ \, \=), labels limited to the pod's selectable fields (metadata.name,
 * metadata.namespace, spec.nodeName, spec.host, spec.restartPolicy, spec.schedulerName,
 * spec.serviceAccountName, spec.hostNetwork, status.phase, status.podIP,
 * status.nominatedNodeName). Unknown label -> -EINVAL, "field label not supported: <label>". */
int fsel_parse_pod(fsel_t *f, const char *text, char *err, size_t errlen);
/* 1 if every term holds for the field set (a field absent from the set has the value ""). */
int fsel_match(const fsel_t *f, const char *const *fields, const char *const *values, size_t n);

#endif
