/* auth_execcred.c: decoding an exec plugin's stdout as an ExecCredential with client-go's
 * rules and messages (docs/PROTOCOL.md §5.5; client-go plugin/pkg/client/auth/exec/exec.go). Pure:
 * no I/O, so the fuzzer can drive it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "util/errbuf.h"
#include "kube/auth.h"
#include "podmux.h"

/* ---- ExecCredential ------------------------------------------------------------------- */

static int perr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int perr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    errbuf_vprintf(err, errlen, fmt, ap);
    va_end(ap);
    return PMX_ECREDENTIAL;
}

static int digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9') return -1;
        *v = *v * 10 + (**p - '0');
    }
    return 0;
}

/* RFC 3339 (what metav1.Time accepts): 2006-01-02T15:04:05[.frac](Z|+hh:mm|-hh:mm). */
static int rfc3339(const char *s, int64_t *out)
{
    static const int width[6] = {4, 2, 2, 2, 2, 2};
    static const char sep[5] = {'-', '-', 'T', ':', ':'};
    int v[6], oh = 0, om = 0, sign = 0;
    for (int i = 0; i < 6; i++) {
        if (digits(&s, width[i], &v[i])) return -1;
        if (i < 5 && *s != sep[i] && !(i == 2 && *s == 't')) return -1;
        if (i < 5) s++;
    }
    if (*s == '.') {
        if (*++s < '0' || *s > '9') return -1;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        sign = *s++ == '-' ? -1 : 1;
        if (digits(&s, 2, &oh) || *s++ != ':' || digits(&s, 2, &om) || oh > 23 || om > 59)
            return -1;
    } else {
        return -1;
    }
    if (*s || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60)
        return -1;
    struct tm tm = {.tm_year = v[0] - 1900,
                    .tm_mon = v[1] - 1,
                    .tm_mday = v[2],
                    .tm_hour = v[3],
                    .tm_min = v[4],
                    .tm_sec = v[5]};
    *out = (int64_t)timegm(&tm) - sign * (oh * 3600 + om * 60);
    return 0;
}

/* An optional string: absent, null and "" all mean unset (Go compares with ""). */
static int opt_str(const cJSON *o, const char *key, char **out, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsString(v) || !v->valuestring)
        return perr(err, errlen, "decoding stdout: status.%s: expected a string", key);
    if (!*v->valuestring) return 0;
    *out = strdup(v->valuestring);
    return *out ? 0 : perr(err, errlen, "out of memory");
}

static int parse_status(const cJSON *st, auth_exec_cred_t *out, char *err, size_t errlen)
{
    char *ts = NULL;
    int rc;
    if ((rc = opt_str(st, "token", &out->token, err, errlen)) ||
        (rc = opt_str(st, "clientCertificateData", &out->cert_pem, err, errlen)) ||
        (rc = opt_str(st, "clientKeyData", &out->key_pem, err, errlen)) ||
        (rc = opt_str(st, "expirationTimestamp", &ts, err, errlen)))
        return rc;
    if (ts && rfc3339(ts, &out->expiry))
        rc =
            perr(err, errlen,
                 "decoding stdout: status.expirationTimestamp: \"%s\" is not an RFC 3339 time", ts);
    out->has_expiry = ts != NULL;
    free(ts);
    if (rc) return rc;
    if (!out->token && !out->cert_pem && !out->key_pem)
        return perr(err, errlen, "exec plugin didn't return a token or cert/key pair");
    if (!out->cert_pem != !out->key_pem)
        return perr(err, errlen, "exec plugin returned only certificate or key, not both");
    return 0;
}

static int parse_root(const char *want, const cJSON *root, auth_exec_cred_t *out, char *err,
                      size_t errlen)
{
    if (!cJSON_IsObject(root))
        return perr(err, errlen, "decoding stdout: couldn't get version/kind; json parse error");
    const cJSON *av = cJSON_GetObjectItemCaseSensitive(root, "apiVersion");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(root, "kind");
    if (!cJSON_IsString(kind) || !*kind->valuestring)
        return perr(err, errlen, "decoding stdout: Object 'Kind' is missing");
    if (!cJSON_IsString(av) || !*av->valuestring)
        return perr(err, errlen, "decoding stdout: Object 'apiVersion' is missing");
    if (strcmp(av->valuestring, want))
        return perr(err, errlen,
                    "exec plugin is configured to use API version %s, plugin returned version %s",
                    want, av->valuestring);
    if (strcmp(kind->valuestring, "ExecCredential"))
        return perr(err, errlen, "decoding stdout: no kind \"%s\" is registered for version \"%s\"",
                    kind->valuestring, av->valuestring);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "status");
    if (!st || cJSON_IsNull(st))
        return perr(err, errlen, "exec plugin didn't return a status field");
    if (!cJSON_IsObject(st))
        return perr(err, errlen, "decoding stdout: status: expected an object");
    return parse_status(st, out, err, errlen);
}

void auth_exec_cred_clear(auth_exec_cred_t *c)
{
    free(c->token);
    free(c->cert_pem);
    free(c->key_pem);
    memset(c, 0, sizeof *c);
}

int auth_parse_exec_credential(const char *api_version, const char *json, size_t len,
                               auth_exec_cred_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_ParseWithLength(json, len);
    int rc = parse_root(api_version ? api_version : "", root, out, err, errlen);
    cJSON_Delete(root);
    if (rc) auth_exec_cred_clear(out);
    return rc;
}
