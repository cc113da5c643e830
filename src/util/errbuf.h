/* errbuf: one-line error messages written into a caller's buffer (char *err, size_t errlen),
 * the convention of every parser and loader here. A NULL or empty buffer is allowed. */
#ifndef PMX_UTIL_ERRBUF_H
#define PMX_UTIL_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>

void errbuf_vprintf(char *err, size_t errlen, const char *fmt, va_list ap);
void errbuf_printf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
