/* fuzz_kubeconfig: kcfg_parse on arbitrary bytes (YAML tree, aliases, depth and size limits,
 * schema reading, base64, extension-to-JSON). Must never crash, leak or hang. */
#include <stddef.h>
#include <stdint.h>

#include "kube/kubeconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kcfg_file_t *f = NULL;
    char err[512];
    if (kcfg_parse("/fuzz/dir/config", (const char *)data, size, &f, err, sizeof err) == 0)
        kcfg_file_free(f);
    return 0;
}
