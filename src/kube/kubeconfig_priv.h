/* kubeconfig internals shared by kubeconfig_parse.c (YAML -> one file's entries) and
 * kubeconfig.c (choosing and merging files, resolving a context). Not installed. */
#ifndef PMX_KUBE_KUBECONFIG_PRIV_H
#define PMX_KUBE_KUBECONFIG_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "kube/kubeconfig.h"

#define KCFG_MAX_FILE (16u << 20) /* larger than any sane kubeconfig, small enough to read */
#define KCFG_MAX_ALIASES 10000    /* far more than any kubeconfig uses; bounds alias bombs */

/* One file's entries, as written (relative paths already resolved against its directory). */
typedef struct kf_cluster {
    char *name;
    char *server, *ca_file, *tls_server_name, *proxy_url, *exec_ext_json;
    uint8_t *ca_data;
    size_t ca_data_len;
    int insecure;
} kf_cluster_t;

typedef struct kf_user {
    char *name;
    char *token, *token_file, *cert_file, *key_file, *username, *password;
    uint8_t *cert_data, *key_data;
    size_t cert_data_len, key_data_len;
    int auth_provider;
    char *ap_name;                      /* auth-provider.name */
    char *oidc_id_token, *oidc_refresh; /* auth-provider.config id-token, refresh-token */
    char *as, *as_uid;                  /* impersonation */
    char **as_groups, **as_extra;       /* as_extra: key, value, key, value, ... */
    size_t nas_groups, nas_extra;       /* nas_extra counts pairs */
    kcfg_exec_t *exec;
} kf_user_t;

typedef struct kf_context {
    char *name;
    char *cluster, *user, *namespace_;
} kf_context_t;

struct kcfg_file {
    char *path, *dir;
    kf_cluster_t *clusters;
    kf_user_t *users;
    kf_context_t *contexts;
    size_t nclusters, nusers, ncontexts;
    char *current_context;
};

/* Formats err and returns PMX_ECONFIG. */
int kcfg_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Grows *pp (an array of elem-sized items with capacity *cap) to hold need items. */
int kcfg_grow(void *pp, size_t *cap, size_t need, size_t elem);
/* Go's filepath.Abs: joined with the working directory and cleaned. */
char *kcfg_path_abs(const char *p);
void kcfg_exec_free(kcfg_exec_t *e);

#endif
