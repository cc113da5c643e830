#include "podmux.h"

#define PMX_API PMX_EXTERN

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
