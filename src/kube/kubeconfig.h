/* kubeconfig: kubectl's configuration, read with libyaml the way client-go 1.32 reads it
 * (docs/PROTOCOL.md §5): file selection and merge, context selection, relative paths, in-cluster
 * fallback, overrides from command-line flags. Reading happens once at client creation. */
#ifndef PMX_KUBE_KUBECONFIG_H
#define PMX_KUBE_KUBECONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef struct kcfg_exec {
    char *api_version; /* client.authentication.k8s.io/v1 or /v1beta1 */
    char *command;     /* resolved against the kubeconfig's dir if it contains '/' */
    char **args;
    size_t nargs;
    char **env; /* "NAME=value" entries from the exec env list */
    size_t nenv;
    char *install_hint;
    int provide_cluster_info;
    char *interactive_mode;    /* Never | IfAvailable | Always */
    char *cluster_config_json; /* the cluster's client.authentication.k8s.io/exec extension, or NULL
                                */
} kcfg_exec_t;

/* One resolved context: everything a client needs. Strings are heap, NULL when unset. */
typedef struct kcfg {
    char *source;       /* file the context came from ("in-cluster" for in-cluster) */
    char *context_name; /* NULL when no context was used (flags only / in-cluster) */
    char *cluster_name;
    char *user_name;
    char *namespace_; /* flag > context > "default"; never NULL */

    char *server;     /* https://host:port[/prefix] */
    char *ca_file;    /* absolute */
    uint8_t *ca_data; /* decoded PEM (data wins over file) */
    size_t ca_data_len;
    int insecure;
    char *tls_server_name;
    char *proxy_url;

    char *token;      /* inline token */
    char *token_file; /* absolute; its content wins over token when readable */
    char *client_cert_file, *client_key_file;
    uint8_t *client_cert_data, *client_key_data;
    size_t client_cert_data_len, client_key_data_len;
    char *username, *password;
    kcfg_exec_t *exec;   /* NULL unless the user has exec and no static credential */
    char *auth_provider; /* auth-provider name (oidc: its id-token is in token), or NULL */

    /* Impersonation (the user's as, as-uid, as-groups, as-user-extra, then --as, --as-uid,
     * --as-group): the headers every request carries, request upgrades included, exactly as
     * client-go's impersonatingRoundTripper writes them. NULL-terminated name, value, name,
     * value, ...; NULL when nobody is impersonated. */
    char *as;
    char **imp_headers;
    size_t nimp_headers; /* pairs */
} kcfg_t;

typedef struct kcfg_opts {
    const char *kubeconfig;       /* --kubeconfig: only that file, must exist */
    const char *env;              /* value of KUBECONFIG; NULL: read getenv("KUBECONFIG") */
    const char *home;             /* NULL: getenv("HOME") */
    const char *context;          /* --context */
    const char *cluster;          /* --cluster */
    const char *user;             /* --user */
    const char *namespace_;       /* -n */
    const char *server;           /* --server */
    const char *token;            /* --token */
    const char *ca_file;          /* --certificate-authority */
    int insecure;                 /* --insecure-skip-tls-verify */
    const char *as;               /* --as */
    const char *as_uid;           /* --as-uid */
    const char *const *as_groups; /* --as-group, each; replaces the kubeconfig's as-groups */
    size_t nas_groups;
    /* In-cluster root (tests): NULL means "/var/run/secrets/kubernetes.io/serviceaccount". */
    const char *incluster_dir;
} kcfg_opts_t;

/* Returns 0, or <0 with one line in err naming the file, line and key
 * ("kubeconfig /x/config line 7: clusters[0].cluster.server: not a string"), or the missing
 * context with the ones that exist ("context \"x\" does not exist (contexts: a, b)"). */
int kcfg_load(const kcfg_opts_t *opts, kcfg_t **out, char *err, size_t errlen);
void kcfg_free(kcfg_t *cfg);

/* client-go's headerKeyEscape for an Impersonate-Extra-<key> name: every byte but
 * [A-Za-z0-9-._~] becomes %XX (upper-case hex), then Go's canonical header form (upper case
 * after '-' and at the start, lower case elsewhere). Appends "Impersonate-Extra-" + that to b. */
struct buf;
int kcfg_extra_header_name(struct buf *b, const char *key);

/* Parses one kubeconfig document held in memory (used by kcfg_load and the fuzzer). */
typedef struct kcfg_file kcfg_file_t;
int kcfg_parse(const char *path, const char *data, size_t len, kcfg_file_t **out, char *err,
               size_t errlen);
void kcfg_file_free(kcfg_file_t *f);

#endif
