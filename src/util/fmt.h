/* fmt: small text formatting shared by the library and the CLI. */
#ifndef PMX_UTIL_FMT_H
#define PMX_UTIL_FMT_H

#include <stddef.h>
#include <stdint.h>

/* "905 bytes", "12.3 kB", "49.6 MB", "1.1 GB" (decimal units, as people read them). */
void fmt_bytes(uint64_t n, char *out, size_t len);

#endif
