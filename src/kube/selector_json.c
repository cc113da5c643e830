/* selector_json: a metav1.LabelSelector (a workload's spec.selector) as a sel_t, checked as
 * apimachinery's LabelSelectorAsSelector does. */
#include "util/errbuf.h"
#include "kube/selector_priv.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add_req(sel_t *s, const char *key, sel_op_t op, const char *const *vals, size_t n,
                   char *err, size_t errlen)
{
    sel_req_t req = {0};
    sel_vals_t vs = {0};
    int r = -ENOMEM;
    if (!(req.key = strdup(key))) goto out;
    req.op = op;
    for (size_t i = 0; i < n; i++)
        if ((r = sel_vals_add(&vs, vals[i], strlen(vals[i])))) break;
    req.values = vs.v;
    req.nvalues = vs.n;
    if (n && r) goto out;
    if ((op == SEL_OP_EXISTS || op == SEL_OP_NOT_EXISTS) && req.nvalues) {
        char q[300], list[700] = "";
        for (size_t i = 0, k = 0; i < req.nvalues && k < sizeof list; i++)
            k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "",
                                  sel_go_quote(req.values[i], q, sizeof q));
        errbuf_printf(
            err, errlen,
            "values: Invalid value: []string{%s}: values set must be empty for exists and "
            "does not exist",
            list);
        r = -EINVAL;
        goto out;
    }
    sel_sort_unique(req.values, &req.nvalues);
    if ((r = sel_req_validate(&req, "key", err, errlen))) goto out;
    if ((r = sel_push(s, &req)) == 0) return 0;
out:
    sel_req_free(&req);
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
