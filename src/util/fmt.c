/* fmt: see fmt.h. */
#include "util/fmt.h"

#include <stdio.h>

void fmt_bytes(uint64_t n, char *out, size_t len)
{
    if (n < 1000)
        snprintf(out, len, "%llu bytes", (unsigned long long)n);
    else if (n < 1000000)
        snprintf(out, len, "%.1f kB", (double)n / 1e3);
    else if (n < 1000000000)
        snprintf(out, len, "%.1f MB", (double)n / 1e6);
    else
        snprintf(out, len, "%.1f GB", (double)n / 1e9);
}
