/* fuzz_execcred: exec plugin stdout through auth_parse_exec_credential. The first byte picks
 * the configured apiVersion ('b': v1beta1, else v1); the rest is the plugin's output. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kube/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *v =
        data[0] == 'b' ? "client.authentication.k8s.io/v1beta1" : "client.authentication.k8s.io/v1";
    auth_exec_cred_t c;
    char err[512];
    if (auth_parse_exec_credential(v, (const char *)data + 1, size - 1, &c, err, sizeof err) == 0) {
        /* a success always carries a token or a full cert/key pair */
        if (!c.token && !(c.cert_pem && c.key_pem)) __builtin_trap();
        auth_exec_cred_clear(&c);
    } else if (c.token || c.cert_pem || c.key_pem || !memchr(err, 0, sizeof err)) {
        __builtin_trap();
    }
    return 0;
}
