#include "util/errbuf.h"

#include <stdio.h>

void errbuf_vprintf(char *err, size_t errlen, const char *fmt, va_list ap)
{
    if (err && errlen) vsnprintf(err, errlen, fmt, ap);
}

void errbuf_printf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    errbuf_vprintf(err, errlen, fmt, ap);
    va_end(ap);
}
