/* cp_archive: libarchive through dlopen (see cp_archive.h). */
#include "cp_archive.h"

#include <dlfcn.h>
#include <stdio.h>
#include <uv.h>

#define CP_ARCHIVE_SONAME "libarchive.so.13"

static cp_archive_t api;
static uv_once_t once = UV_ONCE_INIT;
static char load_error[256];

static void load(void)
{
    void *h = dlopen(CP_ARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(load_error, sizeof load_error,
                 "podmux cp needs libarchive (%s; Debian: apt-get install libarchive13): %s",
                 CP_ARCHIVE_SONAME, dlerror());
        return;
    }
    cp_archive_t t;
#define CP_ARCHIVE_SYM(name)                                                                       \
    if (!(*(void **)&t.name = dlsym(h, #name))) {                                                  \
        snprintf(load_error, sizeof load_error, "%s has no %s", CP_ARCHIVE_SONAME, #name);         \
        return;                                                                                    \
    }
    CP_ARCHIVE_FUNCS(CP_ARCHIVE_SYM)
#undef CP_ARCHIVE_SYM
    api = t; /* the handle stays open for the process's life */
}

int cp_archive_load(char *err, size_t errlen)
{
    uv_once(&once, load);
    if (load_error[0]) {
        snprintf(err, errlen, "%s", load_error);
        return -1;
    }
    return 0;
}

const cp_archive_t *cp_archive_api(void)
{
    return &api;
}
