/* cp.h: `podmux cp`: tar streams built and checked locally (cp_tar.c, libarchive), and the
 * runner that copies to and from many pods (cp.c). */
#ifndef PMX_CLI_CP_H
#define PMX_CLI_CP_H

#include <stddef.h>
#include <stdint.h>

/* Defaults of --max-bytes and --max-entries: per pod, for what comes back from it. */
#define CP_MAX_BYTES (1ull << 30)
#define CP_MAX_ENTRIES 100000ull

/* ---- cp_tar.c (no loop: called before the loop runs, or on libuv's threadpool) ---- */
/* Writes to fd a tar of the local path src, its entries named as kubectl cp names them: src
 * itself as `name`, what is under a directory as `name/...`; symlinks are kept as symlinks,
 * modes and mtimes as on disk. Appends to an archive opened by cp_tar_open. */
typedef struct cp_tar cp_tar_t;
cp_tar_t *cp_tar_open(int fd, char *err, size_t errlen);
int cp_tar_add(cp_tar_t *t, const char *src, const char *name, uint64_t *bytes, char *err,
               size_t errlen);
/* Finishes the archive (trailer) and frees t; returns 0 or -1 with err. */
int cp_tar_close(cp_tar_t *t, char *err, size_t errlen);

typedef struct cp_limits {
    uint64_t max_bytes, max_entries;
} cp_limits_t;

typedef struct cp_extract_report {
    uint64_t entries, bytes; /* written */
    uint64_t refused;        /* entries left out (outside, device, ...) */
    char first_refused[512]; /* why the first one was left out */
} cp_extract_report_t;

/* Extracts an untrusted tar stream (from a pod running `tar cf - PATH`) under root, laid out as
 * kubectl cp lays it out: an entry named PREFIX/x goes to root/x, PREFIX itself to root, where
 * PREFIX is PATH without leading '/' or "./" (prefix "" or "." takes every entry as is).
 * Refused (counted, the first reason kept): absolute names, "..", names outside PREFIX,
 * symlinks whose target is absolute or leads outside root, hard links to outside, devices,
 * fifos and sockets. setuid/setgid/sticky bits are dropped, owners are not restored. Past
 * max_entries or max_bytes it stops with an error. Returns 0 (possibly with refusals) or -1 with
 * err (one line). */
int cp_extract_fd(int fd, const char *root, const char *prefix, const cp_limits_t *l,
                  cp_extract_report_t *rep, char *err, size_t errlen);
int cp_extract_mem(const void *p, size_t n, const char *root, const char *prefix,
                   const cp_limits_t *l, cp_extract_report_t *rep, char *err, size_t errlen);

#endif
