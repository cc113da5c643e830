/* auth: credentials for one client (PROTOCOL.md §5.4-5.5): static token, tokenFile (re-read at
 * most once a minute and after a 401), basic auth, client certificates, exec credential plugins
 * run through uv_spawn (never blocking the loop), cached until expirationTimestamp, one run
 * shared by every waiter (no stampede), refreshed once on 401. */
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

#endif
