/* kubeconfig.c: which kubeconfig files are read, how they merge, and how one context becomes
 * a kcfg_t, the way client-go 1.32 does it (docs/PROTOCOL.md §5.1-5.4), with the in-cluster
 * fallback (docs/PROTOCOL.md §5.6). The YAML itself is read by kubeconfig_parse.c. */
#include "kube/kubeconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <mbedtls/base64.h>

#include "kube/kubeconfig_priv.h"
#include "podmux.h"
#include "util/buf.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* ---- helpers ------------------------------------------------------------------------------ */

static char *xdup(const char *s, int *oom)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *oom = 1;
    return d;
}

static uint8_t *xmemdup(const uint8_t *s, size_t len, int *oom)
{
    if (!s) return NULL;
    uint8_t *d = malloc(len + 1); /* PEM users want a NUL after the bytes */
    if (!d) {
        *oom = 1;
        return NULL;
    }
    memcpy(d, s, len);
    d[len] = 0;
    return d;
}

/* ---- files ------------------------------------------------------------------------------- */

/* Reads a whole regular file of at most limit bytes. *missing is set (and 0 returned) for
 * ENOENT so callers can skip files that do not exist. */
static int read_file(const char *path, size_t limit, char **data, size_t *len, int *missing,
                     char *err, size_t errlen)
{
    *data = NULL;
    *len = 0;
    if (missing) *missing = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && missing) {
        *missing = 1;
        return 0;
    }
    if (fd < 0) return kcfg_fail(err, errlen, "kubeconfig %s: %s", path, strerror(errno));
    buf_t b;
    buf_init(&b, limit + 1);
    int rc = 0;
    for (;;) {
        size_t want = limit + 1 - b.len < 65536 ? limit + 1 - b.len : 65536;
        if (want == 0) break; /* one byte past the limit: too large */
        if (buf_reserve(&b, want)) {
            rc = PMX_ENOMEM;
            break;
        }
        ssize_t r = read(fd, b.data + b.len, want);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = kcfg_fail(err, errlen, "kubeconfig %s: %s", path, strerror(errno));
            break;
        }
        if (r == 0) break;
        b.len += (size_t)r;
        b.data[b.len] = 0;
    }
    close(fd);
    if (!rc && b.len > limit)
        rc = kcfg_fail(err, errlen, "kubeconfig %s: file is larger than %zu bytes", path,
                       (size_t)limit);
    if (rc) {
        buf_free(&b);
        return rc;
    }
    *len = b.len;
    *data = b.data ? buf_steal(&b) : strdup("");
    return *data ? 0 : PMX_ENOMEM;
}

/* ---- choosing files ---------------------------------------------------------------------- */

typedef struct files {
    kcfg_file_t **f;
    size_t n, cap;
    char missing[512]; /* KUBECONFIG entries that do not exist, for the error message */
} files_t;

static int load_one(files_t *fs, const char *path, int must_exist, char *err, size_t errlen)
{
    for (size_t i = 0; i < fs->n; i++)
        if (!strcmp(fs->f[i]->path, path)) return 0; /* KUBECONFIG=a:a reads a once */
    char *data;
    size_t len;
    int missing, rc = read_file(path, KCFG_MAX_FILE, &data, &len, &missing, err, errlen);
    if (rc) return rc;
    if (missing && must_exist)
        return kcfg_fail(err, errlen, "kubeconfig %s: no such file or directory", path);
    if (missing) {
        size_t l = strlen(fs->missing);
        snprintf(fs->missing + l, sizeof fs->missing - l, "%s%s", l ? ", " : "", path);
        return 0;
    }
    if (kcfg_grow(&fs->f, &fs->cap, fs->n + 1, sizeof *fs->f)) rc = PMX_ENOMEM;
    if (!rc) rc = kcfg_parse(path, data, len, &fs->f[fs->n], err, errlen);
    free(data);
    if (!rc) fs->n++;
    return rc;
}

static int load_files(const kcfg_opts_t *o, files_t *fs, char *err, size_t errlen)
{
    if (o->kubeconfig) return load_one(fs, o->kubeconfig, 1, err, errlen);
    const char *env = o->env ? o->env : getenv("KUBECONFIG");
    if (env && *env) {
        char *list = strdup(env), *save = NULL;
        int rc = list ? 0 : PMX_ENOMEM;
        for (char *p = list ? strtok_r(list, ":", &save) : NULL; p && !rc;
             p = strtok_r(NULL, ":", &save))
            rc = load_one(fs, p, 0, err, errlen);
        free(list);
        return rc;
    }
    const char *home = o->home ? o->home : getenv("HOME");
    if (!home || !*home) return 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/.kube/config", home);
    int rc = load_one(fs, path, 0, err, errlen);
    fs->missing[0] = 0; /* a missing ~/.kube/config is not worth mentioning */
    return rc;
}

/* First file wins per named entry (docs/PROTOCOL.md §5.1). */
static const kf_context_t *find_context(const files_t *fs, const char *name, const char **origin)
{
    for (size_t i = 0; i < fs->n; i++)
        for (size_t j = 0; j < fs->f[i]->ncontexts; j++)
            if (!strcmp(fs->f[i]->contexts[j].name, name)) {
                *origin = fs->f[i]->path;
                return &fs->f[i]->contexts[j];
            }
    return NULL;
}

static const kf_cluster_t *find_cluster(const files_t *fs, const char *name)
{
    for (size_t i = 0; i < fs->n; i++)
        for (size_t j = 0; j < fs->f[i]->nclusters; j++)
            if (!strcmp(fs->f[i]->clusters[j].name, name)) return &fs->f[i]->clusters[j];
    return NULL;
}

static const kf_user_t *find_user(const files_t *fs, const char *name)
{
    for (size_t i = 0; i < fs->n; i++)
        for (size_t j = 0; j < fs->f[i]->nusers; j++)
            if (!strcmp(fs->f[i]->users[j].name, name)) return &fs->f[i]->users[j];
    return NULL;
}

static int no_context(const files_t *fs, const char *name, char *err, size_t errlen)
{
    buf_t b;
    buf_init(&b, errlen ? errlen : 1);
    for (size_t i = 0; i < fs->n; i++)
        for (size_t j = 0; j < fs->f[i]->ncontexts; j++) {
            const char *c = fs->f[i]->contexts[j].name;
            const char *origin;
            if (find_context(fs, c, &origin) != &fs->f[i]->contexts[j]) continue; /* a dup */
            if (buf_printf(&b, "%s%s", b.len ? ", " : "", c)) goto out;
        }
out:
    kcfg_fail(err, errlen, "context \"%s\" does not exist (contexts: %s)", name,
              b.len ? b.data : "none");
    buf_free(&b);
    return PMX_ECONFIG;
}

/* ---- building the resolved config ------------------------------------------------------ */

void kcfg_free(kcfg_t *c)
{
    if (!c) return;
    free(c->source), free(c->context_name), free(c->cluster_name), free(c->user_name);
    free(c->namespace_), free(c->server), free(c->ca_file), free(c->ca_data);
    free(c->tls_server_name), free(c->proxy_url), free(c->token), free(c->token_file);
    free(c->client_cert_file), free(c->client_key_file), free(c->client_cert_data);
    free(c->client_key_data), free(c->username), free(c->password);
    kcfg_exec_free(c->exec);
    free(c->auth_provider), free(c->as);
    for (size_t i = 0; c->imp_headers && c->imp_headers[i]; i++)
        free(c->imp_headers[i]);
    free(c->imp_headers);
    free(c);
}

static kcfg_exec_t *exec_dup(const kcfg_exec_t *s, const char *ext, int *oom)
{
    kcfg_exec_t *e = calloc(1, sizeof *e);
    if (!e || !(e->args = calloc(s->nargs + 1, sizeof *e->args)) ||
        !(e->env = calloc(s->nenv + 1, sizeof *e->env))) {
        *oom = 1;
        kcfg_exec_free(e);
        return NULL;
    }
    for (; e->nargs < s->nargs; e->nargs++)
        e->args[e->nargs] = xdup(s->args[e->nargs], oom);
    for (; e->nenv < s->nenv; e->nenv++)
        e->env[e->nenv] = xdup(s->env[e->nenv], oom);
    e->api_version = xdup(s->api_version, oom);
    e->command = xdup(s->command, oom);
    e->install_hint = xdup(s->install_hint, oom);
    e->provide_cluster_info = s->provide_cluster_info;
    /* v1beta1 defaults to IfAvailable; v1 must say (client-go SetDefaults_ExecConfig). */
    const char *mode = s->interactive_mode;
    if ((!mode || !*mode) && s->api_version &&
        !strcmp(s->api_version, "client.authentication.k8s.io/v1beta1"))
        mode = "IfAvailable";
    e->interactive_mode = xdup(mode, oom);
    e->cluster_config_json = xdup(ext, oom);
    return e;
}

static void fill_cluster(kcfg_t *c, const kf_cluster_t *cl, int *oom)
{
    c->server = xdup(cl->server, oom);
    c->ca_file = xdup(cl->ca_file, oom);
    c->ca_data = xmemdup(cl->ca_data, cl->ca_data_len, oom);
    c->ca_data_len = cl->ca_data_len;
    c->insecure = cl->insecure;
    c->tls_server_name = xdup(cl->tls_server_name, oom);
    c->proxy_url = xdup(cl->proxy_url, oom);
}

static void fill_user(kcfg_t *c, const kf_user_t *u, int *oom)
{
    c->token = xdup(u->token, oom);
    c->token_file = xdup(u->token_file, oom);
    c->client_cert_file = xdup(u->cert_file, oom);
    c->client_key_file = xdup(u->key_file, oom);
    c->client_cert_data = xmemdup(u->cert_data, u->cert_data_len, oom);
    c->client_cert_data_len = u->cert_data_len;
    c->client_key_data = xmemdup(u->key_data, u->key_data_len, oom);
    c->client_key_data_len = u->key_data_len;
    c->username = xdup(u->username, oom);
    c->password = xdup(u->password, oom);
}

static void set(char **dst, char *val)
{
    free(*dst);
    *dst = val;
}

/* Command-line flags, as client-go's getCluster/getAuthInfo apply them. */
static void apply_overrides(const kcfg_opts_t *o, kcfg_t *c, int *oom)
{
    if (o->server) {
        set(&c->server, xdup(o->server, oom));
        set(&c->tls_server_name, NULL); /* the name belonged to the other server */
    }
    if (o->insecure || (o->ca_file && *o->ca_file)) {
        c->insecure = o->insecure;
        set(&c->ca_file, NULL);
        if (o->ca_file && *o->ca_file && !(c->ca_file = kcfg_path_abs(o->ca_file))) *oom = 1;
        free(c->ca_data);
        c->ca_data = NULL;
        c->ca_data_len = 0;
    }
    if (o->token && *o->token) {
        set(&c->token, xdup(o->token, oom));
        set(&c->token_file, NULL); /* --token replaces tokenFile too */
    }
}

/* A directory would make mbedTLS allocate its "size" and a FIFO would block the reader
 * forever: only regular files (or links to them) are read. */
static int check_readable(const char *path, const char *what, const char *owner, char *err,
                          size_t errlen)
{
    struct stat st;
    const char *why = NULL;
    if (!path) return 0;
    if (stat(path, &st) < 0)
        why = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        why = "not a regular file";
    else if (access(path, R_OK) < 0)
        why = strerror(errno);
    if (!why) return 0;
    return kcfg_fail(err, errlen, "invalid configuration: unable to read %s %s for %s due to %s",
                     what, path, owner, why);
}

/* A tokenFile may be missing for now (auth.c then falls back, and reads it again later), but
 * one that exists must be a regular file. */
static int check_token_file(const char *path, const char *owner, char *err, size_t errlen)
{
    struct stat st;
    if (!path || stat(path, &st) < 0 || S_ISREG(st.st_mode)) return 0;
    return kcfg_fail(err, errlen,
                     "invalid configuration: unable to read tokenFile %s for %s due to not a "
                     "regular file",
                     path, owner);
}

/* Go's net/http refuses such header values; so do we, before anything is sent. */
static int header_value_ok(const char *s)
{
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f) return 0;
    return 1;
}

int kcfg_extra_header_name(buf_t *b, const char *key)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t start = b->len;
    int rc = buf_append_str(b, "Impersonate-Extra-");
    for (const unsigned char *k = (const unsigned char *)key; !rc && *k; k++) {
        unsigned char c = *k;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~')
            rc = buf_append_byte(b, c);
        else
            rc = buf_printf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
    }
    if (rc) return rc;
    /* textproto.CanonicalMIMEHeaderKey: every byte is now a token byte */
    int upper = 1;
    for (size_t i = start; i < b->len; i++) {
        char *c = &b->data[i];
        if (upper && *c >= 'a' && *c <= 'z')
            *c = (char)(*c - 32);
        else if (!upper && *c >= 'A' && *c <= 'Z')
            *c = (char)(*c + 32);
        upper = *c == '-';
    }
    return 0;
}

static int imp_add(kcfg_t *c, size_t *cap, const char *name, size_t name_len, const char *value)
{
    if (c->nimp_headers * 2 + 3 > *cap &&
        kcfg_grow(&c->imp_headers, cap, c->nimp_headers * 2 + 3, sizeof *c->imp_headers))
        return PMX_ENOMEM;
    char **h = c->imp_headers + 2 * c->nimp_headers;
    if (!(h[0] = strndup(name, name_len))) return PMX_ENOMEM;
    if (!(h[1] = strdup(value))) {
        free(h[0]);
        h[0] = NULL;
        return PMX_ENOMEM;
    }
    h[2] = NULL;
    c->nimp_headers++;
    return 0;
}

/* client-go's impersonatingRoundTripper (transport/round_trippers.go): Impersonate-User, then
 * Impersonate-Uid if set, one Impersonate-Group per group, one Impersonate-Extra-<key> per
 * value. --as, --as-uid and --as-group replace the kubeconfig's values. */
static int impersonation(const kcfg_opts_t *o, const kf_user_t *us, kcfg_t *c, const char *u,
                         char *err, size_t errlen)
{
    const char *as = o->as && *o->as ? o->as : us ? us->as : NULL;
    const char *uid = o->as_uid && *o->as_uid ? o->as_uid : us ? us->as_uid : NULL;
    const char *const *groups = o->nas_groups ? o->as_groups
                                : us          ? (const char *const *)us->as_groups
                                              : NULL;
    size_t ngroups = o->nas_groups ? o->nas_groups : us ? us->nas_groups : 0;
    size_t nextra = us ? us->nas_extra : 0, cap = 0;
    int rc = 0;
    if (as && !*as) as = NULL;
    if (uid && !*uid) uid = NULL;
    if (!as && !uid && !ngroups && !nextra) return 0;
    if (!as)
        return kcfg_fail(err, errlen,
                         "requesting uid, groups or user-extra for %s without impersonating a "
                         "user",
                         u);
    if (!(c->as = strdup(as))) return PMX_ENOMEM;
    rc = imp_add(c, &cap, "Impersonate-User", 16, as);
    if (!rc && uid) rc = imp_add(c, &cap, "Impersonate-Uid", 15, uid);
    for (size_t i = 0; !rc && i < ngroups; i++)
        rc = imp_add(c, &cap, "Impersonate-Group", 17, groups[i]);
    for (size_t i = 0; !rc && i < nextra; i++) {
        buf_t name;
        buf_init(&name, 4096);
        rc = kcfg_extra_header_name(&name, us->as_extra[2 * i]);
        if (rc)
            rc = kcfg_fail(err, errlen, "invalid configuration: as-user-extra key too long for %s",
                           u);
        else
            rc = imp_add(c, &cap, name.data, name.len, us->as_extra[2 * i + 1]);
        buf_free(&name);
    }
    for (size_t i = 0; !rc && i < c->nimp_headers; i++)
        if (!header_value_ok(c->imp_headers[2 * i + 1]))
            rc = kcfg_fail(err, errlen,
                           "invalid configuration: %s value for %s holds characters not allowed "
                           "in a header",
                           c->imp_headers[2 * i], u);
    return rc;
}

/* The "exp" claim of a JWT (0 when absent), as client-go's oidc idTokenExpired reads it:
 * three dot-separated parts, the second base64url without padding. */
static int kcfg_jwt_exp(const char *jwt, int64_t *exp)
{
    const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    *exp = 0;
    if (!d2 || strchr(d2 + 1, '.')) return -1;
    size_t n = (size_t)(d2 - d1 - 1), olen = 0;
    if (n > 65536) return -1;
    unsigned char *std = malloc(n + 4), *out = malloc(n + 4);
    int rc = -1;
    if (!std || !out) goto done;
    for (size_t i = 0; i < n; i++) {
        char ch = d1[1 + i];
        if (ch == '=' || ch == '+' || ch == '/') goto done; /* RawURLEncoding only */
        std[i] = ch == '-' ? '+' : ch == '_' ? '/' : (unsigned char)ch;
    }
    while (n % 4)
        std[n++] = '=';
    if (mbedtls_base64_decode(out, n + 1, &olen, std, n)) goto done;
    cJSON *j = cJSON_ParseWithLength((const char *)out, olen);
    if (!j) goto done;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "exp");
    if (cJSON_IsNumber(e) && e->valuedouble > 0 && e->valuedouble < 1e15)
        *exp = (int64_t)e->valuedouble;
    rc = cJSON_IsObject(j) && (!e || cJSON_IsNumber(e)) ? 0 : -1;
    cJSON_Delete(j);
done:
    free(std);
    free(out);
    return rc;
}

/* auth-provider (PROTOCOL.md §5.4): client-go still ships oidc, which sends the id-token while
 * it has not expired and otherwise refreshes it at the issuer. podmux sends an unexpired
 * id-token and points everything else at the exec-plugin replacements. */
static int auth_provider(const kf_user_t *us, kcfg_t *c, const char *u, char *err, size_t errlen)
{
    if (!us || !us->auth_provider) return 0;
    const char *name = us->ap_name ? us->ap_name : "";
    if (us->exec)
        return kcfg_fail(err, errlen,
                         "invalid configuration: authProvider cannot be provided in combination "
                         "with an exec plugin for %s",
                         u);
    if (strcmp(name, "oidc")) {
        const char *hint = !strcmp(name, "gcp")     ? "the gke-gcloud-auth-plugin exec plugin"
                           : !strcmp(name, "azure") ? "the kubelogin exec plugin"
                                                    : "an exec credential plugin (user.exec)";
        return kcfg_fail(err, errlen,
                         "user %s: auth-provider \"%s\" is not supported (client-go removed it); "
                         "use %s instead",
                         u, name, hint);
    }
    if (c->token || c->token_file || c->username || c->password) return 0; /* they win */
    const char *why = NULL;
    int64_t exp = 0;
    if (!us->oidc_id_token || !*us->oidc_id_token)
        why = "has no id-token";
    else if (kcfg_jwt_exp(us->oidc_id_token, &exp) < 0)
        why = "has an id-token that is not a valid JWT";
    else if ((int64_t)time(NULL) + 10 >= exp) /* client-go's expiryDelta is 10 s */
        why = us->oidc_refresh && *us->oidc_refresh
                  ? "has an expired id-token, and podmux does not refresh it"
                  : "has an expired id-token and no refresh-token";
    if (why)
        return kcfg_fail(err, errlen,
                         "user %s: auth-provider \"oidc\" %s; use an exec credential plugin such "
                         "as kubelogin (https://github.com/int128/kubelogin) instead",
                         u, why);
    if (!(c->token = strdup(us->oidc_id_token)) || !(c->auth_provider = strdup(name)))
        return PMX_ENOMEM;
    return 0;
}

static int validate_exec(const kcfg_exec_t *e, int auth_provider, const char *u, char *err,
                         size_t errlen)
{
    const char *mode = e->interactive_mode;
    if (auth_provider)
        return kcfg_fail(
            err, errlen,
            "invalid configuration: authProvider cannot be provided in combination with "
            "an exec plugin for %s",
            u);
    if (!e->command || !*e->command)
        return kcfg_fail(err, errlen,
                         "invalid configuration: command must be specified for %s to use exec "
                         "authentication plugin",
                         u);
    if (!e->api_version || !*e->api_version)
        return kcfg_fail(err, errlen,
                         "invalid configuration: apiVersion must be specified for %s to use exec "
                         "authentication plugin",
                         u);
    for (size_t i = 0; i < e->nenv; i++)
        if (e->env[i][0] == '=')
            return kcfg_fail(err, errlen,
                             "invalid configuration: env variable name must be specified for %s to "
                             "use exec authentication plugin",
                             u);
    if (!mode || !*mode)
        return kcfg_fail(
            err, errlen,
            "invalid configuration: interactiveMode must be specified for %s to use exec "
            "authentication plugin",
            u);
    if (strcmp(mode, "Never") && strcmp(mode, "IfAvailable") && strcmp(mode, "Always"))
        return kcfg_fail(err, errlen,
                         "invalid configuration: invalid interactiveMode for %s: \"%s\"", u, mode);
    if (strcmp(e->api_version, "client.authentication.k8s.io/v1") &&
        strcmp(e->api_version, "client.authentication.k8s.io/v1beta1"))
        return kcfg_fail(err, errlen, "exec plugin: invalid apiVersion \"%s\"", e->api_version);
    return 0;
}

static int validate_user(const kcfg_t *c, const char *u, char *err, size_t errlen)
{
    int cert = c->client_cert_file || c->client_cert_data,
        key = c->client_key_file || c->client_key_data;
    if (cert && !key)
        return kcfg_fail(
            err, errlen,
            "invalid configuration: client-key-data or client-key must be specified for "
            "%s to use the clientCert authentication method.",
            u);
    if (key && !cert)
        return kcfg_fail(err, errlen,
                         "invalid configuration: client-cert-data or client-cert must be specified "
                         "for %s to use the clientCert authentication method.",
                         u);
    if ((c->token || c->token_file) && (c->username || c->password))
        return kcfg_fail(err, errlen,
                         "invalid configuration: more than one authentication method found for %s; "
                         "found [token basicAuth], only one is allowed",
                         u);
    int rc = check_readable(c->client_cert_file, "client-cert", u, err, errlen);
    return rc ? rc : check_readable(c->client_key_file, "client-key", u, err, errlen);
}

/* client-go's DefaultServerURL: no scheme means https only when TLS is configured; query and
 * fragment are dropped, the path is kept as a prefix (without a trailing slash). */
static int normalize_server(kcfg_t *c, char *err, size_t errlen)
{
    char *s = c->server, *url;
    s[strcspn(s, "?#")] = 0;
    if (strstr(s, "://")) {
        if (strncmp(s, "https://", 8) && strncmp(s, "http://", 7))
            return kcfg_fail(err, errlen,
                             "invalid configuration: server \"%s\": unsupported scheme", s);
        url = strdup(s);
    } else {
        int tls =
            c->ca_file || c->ca_data || c->insecure || c->client_cert_file || c->client_cert_data;
        if (asprintf(&url, "%s%s", tls ? "https://" : "http://", s) < 0) url = NULL;
    }
    if (!url) return PMX_ENOMEM;
    size_t n = strlen(url), min = (size_t)(strstr(url, "://") - url) + 4;
    while (n > min && url[n - 1] == '/')
        url[--n] = 0;
    set(&c->server, url);
    return 0;
}

/* client-go's parseProxyURL: only these schemes can carry our connections. */
static int check_proxy(const char *url, char *err, size_t errlen)
{
    const char *sep = url ? strstr(url, "://") : NULL;
    size_t n = sep ? (size_t)(sep - url) : 0;
    if (!url || (n == 4 && !strncmp(url, "http", 4)) || (n == 5 && !strncmp(url, "https", 5)) ||
        (n == 6 && !strncmp(url, "socks5", 6)))
        return 0;
    return kcfg_fail(err, errlen, "unsupported scheme \"%.*s\", must be http, https, or socks5",
                     (int)n, url);
}

typedef struct pick {
    const kf_context_t *ctx;
    const char *origin, *ctx_name, *cl_name, *us_name;
} pick_t;

static int pick_entries(const kcfg_opts_t *o, const files_t *fs, pick_t *p, char *err,
                        size_t errlen)
{
    static const kf_context_t none = {0};
    const char *cc = NULL;
    for (size_t i = 0; i < fs->n && !cc; i++)
        if (fs->f[i]->current_context && *fs->f[i]->current_context) cc = fs->f[i]->current_context;
    p->ctx_name = o->context && *o->context ? o->context : cc;
    p->ctx = &none;
    if (p->ctx_name && !(p->ctx = find_context(fs, p->ctx_name, &p->origin)))
        return no_context(fs, p->ctx_name, err, errlen);
    p->cl_name = o->cluster && *o->cluster ? o->cluster : p->ctx->cluster;
    p->us_name = o->user && *o->user ? o->user : p->ctx->user;
    const char *cn = p->ctx_name ? p->ctx_name : "";
    if (p->cl_name && *p->cl_name && !find_cluster(fs, p->cl_name))
        return kcfg_fail(err, errlen,
                         "invalid configuration: cluster \"%s\" was not found for context \"%s\"",
                         p->cl_name, cn);
    if (p->us_name && *p->us_name && !find_user(fs, p->us_name))
        return kcfg_fail(err, errlen,
                         "invalid configuration: user \"%s\" was not found for context \"%s\"",
                         p->us_name, cn);
    if (!p->ctx_name && !(p->cl_name && *p->cl_name) && !o->server)
        return kcfg_fail(err, errlen,
                         "invalid configuration: no current-context is set and no "
                         "--context, --cluster or --server was given");
    return 0;
}

static int resolve(const kcfg_opts_t *o, const files_t *fs, kcfg_t *c, char *err, size_t errlen)
{
    pick_t p = {0};
    int oom = 0, rc = pick_entries(o, fs, &p, err, errlen);
    if (rc) return rc;
    const kf_cluster_t *cl = p.cl_name && *p.cl_name ? find_cluster(fs, p.cl_name) : NULL;
    const kf_user_t *us = p.us_name && *p.us_name ? find_user(fs, p.us_name) : NULL;
    c->source = xdup(p.origin, &oom);
    c->context_name = xdup(p.ctx_name, &oom);
    c->cluster_name = xdup(p.cl_name, &oom);
    c->user_name = xdup(p.us_name, &oom);
    const char *ns = o->namespace_ && *o->namespace_ ? o->namespace_ : p.ctx->namespace_;
    c->namespace_ = xdup(ns && *ns ? ns : "default", &oom);
    if (cl) fill_cluster(c, cl, &oom);
    if (us) fill_user(c, us, &oom);
    apply_overrides(o, c, &oom);
    if (oom) return PMX_ENOMEM;
    const char *cname = p.cl_name ? p.cl_name : "", *uname = p.us_name ? p.us_name : "";
    if (!c->server || !*c->server)
        return kcfg_fail(err, errlen, "invalid configuration: no server found for cluster \"%s\"",
                         cname);
    if (c->insecure && (c->ca_file || c->ca_data))
        return kcfg_fail(
            err, errlen,
            "specifying a root certificates file with the insecure flag is not allowed");
    if ((rc = check_proxy(c->proxy_url, err, errlen)) ||
        (rc = check_readable(c->ca_file, "certificate-authority", cname, err, errlen)) ||
        (rc = check_token_file(c->token_file, uname, err, errlen)) ||
        (rc = validate_user(c, uname, err, errlen)) ||
        (rc = impersonation(o, us, c, uname, err, errlen)) ||
        (rc = auth_provider(us, c, uname, err, errlen)))
        return rc;
    /* A static credential makes client-go skip the plugin (exec.go UpdateTransportConfig). */
    int fixed = c->token || c->token_file || c->username || c->password || c->client_cert_file ||
                c->client_cert_data;
    if (us && us->exec && !fixed) {
        if (!(c->exec = exec_dup(us->exec, cl ? cl->exec_ext_json : NULL, &oom))) return PMX_ENOMEM;
        if (oom) return PMX_ENOMEM;
        if ((rc = validate_exec(c->exec, us->auth_provider, uname, err, errlen))) return rc;
    }
    return normalize_server(c, err, errlen);
}

/* ---- in-cluster (docs/PROTOCOL.md §5.6) -------------------------------------------------- */

static int incluster_possible(const kcfg_opts_t *o)
{
    const char *h = getenv("KUBERNETES_SERVICE_HOST"), *p = getenv("KUBERNETES_SERVICE_PORT");
    char tok[4096];
    struct stat st;
    snprintf(tok, sizeof tok, "%s/token", o->incluster_dir ? o->incluster_dir : SA_DIR);
    return h && *h && p && *p && stat(tok, &st) == 0 && !S_ISDIR(st.st_mode);
}

static char *incluster_namespace(const char *dir)
{
    const char *env = getenv("POD_NAMESPACE");
    char path[4096], *data = NULL;
    size_t len = 0;
    int missing;
    if (env && *env) return strdup(env);
    snprintf(path, sizeof path, "%s/namespace", dir);
    if (read_file(path, 4096, &data, &len, &missing, NULL, 0) == 0 && data) {
        size_t a = strspn(data, " \t\r\n");
        while (len > a && strchr(" \t\r\n", data[len - 1]))
            data[--len] = 0;
        if (len > a) {
            memmove(data, data + a, len - a + 1);
            return data;
        }
    }
    free(data);
    return strdup("default");
}

static int incluster(const kcfg_opts_t *o, kcfg_t *c)
{
    const char *dir = o->incluster_dir ? o->incluster_dir : SA_DIR;
    const char *h = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
    int oom = 0;
    char ca[4096];
    if (asprintf(&c->server, strchr(h, ':') ? "https://[%s]:%s" : "https://%s:%s", h, port) < 0)
        c->server = NULL, oom = 1;
    if (asprintf(&c->token_file, "%s/token", dir) < 0) c->token_file = NULL, oom = 1;
    snprintf(ca, sizeof ca, "%s/ca.crt", dir);
    if (access(ca, R_OK) == 0) c->ca_file = xdup(ca, &oom); /* else skipped, like client-go */
    c->source = xdup("in-cluster", &oom);
    c->namespace_ =
        o->namespace_ && *o->namespace_ ? xdup(o->namespace_, &oom) : incluster_namespace(dir);
    if (!c->namespace_) oom = 1;
    if (o->server) set(&c->server, xdup(o->server, &oom));
    if (o->token && *o->token) {
        set(&c->token, xdup(o->token, &oom));
        set(&c->token_file, NULL);
    }
    if (o->ca_file && *o->ca_file) {
        set(&c->ca_file, kcfg_path_abs(o->ca_file));
        oom |= !c->ca_file;
    }
    return oom ? PMX_ENOMEM : 0;
}

static int files_empty(const files_t *fs)
{
    for (size_t i = 0; i < fs->n; i++) {
        const kcfg_file_t *f = fs->f[i];
        if (f->nclusters || f->nusers || f->ncontexts ||
            (f->current_context && *f->current_context))
            return 0;
    }
    return 1;
}

int kcfg_load(const kcfg_opts_t *opts, kcfg_t **out, char *err, size_t errlen)
{
    static const kcfg_opts_t defaults = {0};
    const kcfg_opts_t *o = opts ? opts : &defaults;
    files_t fs = {0};
    kcfg_t *c = calloc(1, sizeof *c);
    int rc = c ? load_files(o, &fs, err, errlen) : PMX_ENOMEM;
    *out = NULL;
    if (rc) goto done;
    if (files_empty(&fs) && !o->server && !o->context && !o->cluster) {
        if (incluster_possible(o)) {
            if (!(rc = incluster(o, c)) &&
                !(rc = check_readable(c->ca_file, "certificate-authority", "in-cluster", err,
                                      errlen)) &&
                !(rc = check_token_file(c->token_file, "in-cluster", err, errlen)))
                rc = normalize_server(c, err, errlen);
        } else if (fs.missing[0]) {
            rc = kcfg_fail(err, errlen,
                           "invalid configuration: no configuration has been provided (KUBECONFIG "
                           "files not found: %s)",
                           fs.missing);
        } else {
            rc =
                kcfg_fail(err, errlen, "invalid configuration: no configuration has been provided");
        }
    } else {
        rc = resolve(o, &fs, c, err, errlen);
    }
done:
    for (size_t i = 0; i < fs.n; i++)
        kcfg_file_free(fs.f[i]);
    free(fs.f);
    if (rc == PMX_ENOMEM) kcfg_fail(err, errlen, "kubeconfig: out of memory");
    if (rc) {
        kcfg_free(c);
        return rc;
    }
    *out = c;
    return 0;
}
