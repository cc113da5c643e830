/* auth: credentials for one client (docs/PROTOCOL.md §5.4-5.5): static token, tokenFile
 * (re-read at most once a minute and after a 401), basic auth, client certificates, exec
 * credential plugins run through uv_spawn (never blocking the loop), cached until
 * expirationTimestamp, one run shared by every waiter (no stampede), refreshed once on 401. */
#ifndef PMX_KUBE_AUTH_H
#define PMX_KUBE_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "kube/kubeconfig.h"

typedef struct auth auth_t;

typedef struct auth_cred {
    const char *authorization; /* full header value ("Bearer x", "Basic y") or NULL */
    const uint8_t *cert_pem;   /* client certificate from a plugin (PEM, NUL-terminated) or NULL */
    size_t cert_pem_len;
    const uint8_t *key_pem;
    size_t key_pem_len;
    uint64_t generation; /* changes whenever the credential changes (cert rebuild check) */
} auth_cred_t;

/* The callback gets status 0 and a credential valid until the next auth_* call that changes
 * it, or <0 with a one-line message ("exec plugin didn't return a status field"). */
typedef void (*auth_cb)(void *arg, int status, const auth_cred_t *cred, const char *err);

int auth_new(uv_loop_t *loop, const kcfg_t *cfg, auth_t **out);
/* Frees now if no plugin runs, else when it exits (the process is killed). */
void auth_free(auth_t *a);
/* Gets the current credential. If it is ready (static, cached, no plugin needed) fills *cred
 * and returns 1 without calling cb. Otherwise returns 0 and calls cb later, from the loop.
 * force_refresh: after a 401 (re-reads tokenFile, re-runs the plugin once). <0 on error. */
int auth_get(auth_t *a, int force_refresh, auth_cb cb, void *arg, auth_cred_t *cred);
/* Withdraws a pending callback (a session closed while waiting). */
void auth_cancel(auth_t *a, auth_cb cb, void *arg);

/* Exec plugin timeout (default 60 s): the plugin is killed and the waiters get an error. */
void auth_set_exec_timeout(auth_t *a, uint64_t timeout_ms);
/* Kills a running exec plugin (its whole process group); its waiters get the error. */
void auth_kill_plugin(auth_t *a);

/* One decoded ExecCredential (plugin stdout). Strings are heap, NULL when absent. */
typedef struct auth_exec_cred {
    char *token;
    char *cert_pem; /* clientCertificateData */
    char *key_pem;  /* clientKeyData */
    int has_expiry; /* 0: no expirationTimestamp, cache forever */
    int64_t expiry; /* Unix seconds */
} auth_exec_cred_t;

/* Decodes plugin output configured for api_version, with client-go's messages ("exec plugin
 * didn't return a status field", "exec plugin is configured to use API version X, plugin returned
 * version Y", ...). 0 or <0 with err set; *out is cleared on error. */
int auth_parse_exec_credential(const char *api_version, const char *json, size_t len,
                               auth_exec_cred_t *out, char *err, size_t errlen);
void auth_exec_cred_clear(auth_exec_cred_t *c);

#endif
