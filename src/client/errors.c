/* errors: names and messages of the PMX_E* codes, all generated from PMX_ERRNO_MAP, and the one
 * mapping from the library's internal error families to them. */
#include "client/errors.h"

#include <errno.h>
#include <uv.h>

#include "podmux.h"
#include "proto/tls.h"
#include "proto/ws.h"

#define PMX_API PMX_EXTERN

/* 1 if code is one of the PMX_E* values. */
static int is_pmx_code(int code)
{
    switch (code) {
#define PMX_IS_CASE(name, val, msg) case val:
        PMX_ERRNO_MAP(PMX_IS_CASE)
#undef PMX_IS_CASE
        return 1;
    }
    return 0;
}

int pmx__err_from_internal(int code)
{
    if (code >= 0 || is_pmx_code(code)) return code;
    switch (code) {
    case TLS_EVERIFY:
    case TLS_EHOSTNAME:
    case TLS_EHANDSHAKE:
        return PMX_ETLS;
    case TLS_ECLOSED:
    case UV_EOF:
        return PMX_ELOST;
    case UV_EAI_ADDRFAMILY:
    case UV_EAI_AGAIN:
    case UV_EAI_BADFLAGS:
    case UV_EAI_BADHINTS:
    case UV_EAI_CANCELED:
    case UV_EAI_FAIL:
    case UV_EAI_FAMILY:
    case UV_EAI_MEMORY:
    case UV_EAI_NODATA:
    case UV_EAI_NONAME:
    case UV_EAI_OVERFLOW:
    case UV_EAI_PROTOCOL:
    case UV_EAI_SERVICE:
    case UV_EAI_SOCKTYPE:
        return PMX_EDNS;
    case -ENOMEM:
        return PMX_ENOMEM;
    case -EINVAL:
    case -ERANGE:
    case -EFAULT:
    case -ENAMETOOLONG:
        return PMX_EINVAL;
    case -ETIMEDOUT:
        return PMX_ETIMEDOUT;
    case -ECONNREFUSED:
    case -ENETUNREACH:
    case -EHOSTUNREACH:
    case -ENETDOWN:
    case -EHOSTDOWN:
    case -EADDRNOTAVAIL:
    case -EADDRINUSE:
    case -EAFNOSUPPORT:
    case -ECONNABORTED:
        return PMX_ECONNECT;
    case -ECONNRESET:
    case -EPIPE:
    case -ENOTCONN:
    case -ESHUTDOWN:
        return PMX_ELOST;
    case -EMFILE:
    case -ENFILE:
        return PMX_ENOFILES;
    case -EPROTO:
    case -EBADMSG:
    case -EILSEQ:
        return PMX_EPROTO;
    case -E2BIG:
    case -EMSGSIZE:
    case -EOVERFLOW:
        return PMX_ETOOBIG;
    case -EAGAIN: /* also WS_WOULDBLOCK (ws.h) and UV_EAGAIN */
        return PMX_EAGAIN;
    case -ECANCELED:
        return PMX_ECANCELED;
    case -EBUSY:
    case -EALREADY:
    case -EINPROGRESS:
        return PMX_EBUSY;
    case -ENOTSUP: /* == -EOPNOTSUPP on Linux */
        return PMX_ENOTSUP;
    }
    /* mbedTLS's own codes (-0x0001..-0x7FFF), should one come up unconverted: past the errno and
     * libuv ranges, they can only be mbedTLS's. */
    if (code < -4095 && code >= -0x7FFF) return PMX_ETLS;
    return PMX_EIO;
}

_Static_assert(WS_WOULDBLOCK == -EAGAIN, "WS_WOULDBLOCK must map like -EAGAIN");

PMX_API const char *pmx_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define PMX_STRERROR_CASE(name, val, msg)                                                          \
    case val:                                                                                      \
        return msg;
        PMX_ERRNO_MAP(PMX_STRERROR_CASE)
#undef PMX_STRERROR_CASE
    }
    return "unknown error";
}

PMX_API const char *pmx_err_name(int err)
{
    switch (err) {
    case 0:
        return "PMX_OK";
#define PMX_ERRNAME_CASE(name, val, msg)                                                           \
    case val:                                                                                      \
        return "PMX_" #name;
        PMX_ERRNO_MAP(PMX_ERRNAME_CASE)
#undef PMX_ERRNAME_CASE
    }
    return "PMX_UNKNOWN";
}

PMX_API const char *pmx_version(void)
{
    return PMX_VERSION;
}

/* HTTP statuses of a refused request, as the other internal families. */
int pmx__err_from_http(int status)
{
    switch (status) {
    case 400:
        return PMX_EBADREQUEST;
    case 401:
        return PMX_EUNAUTHORIZED;
    case 403:
        return PMX_EFORBIDDEN;
    case 404:
        return PMX_ENOTFOUND;
    case 429:
        return PMX_ETOOMANY;
    default:
        return status >= 500 ? PMX_ESERVER : PMX_EHTTP;
    }
}
