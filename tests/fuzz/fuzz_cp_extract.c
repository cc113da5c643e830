/* Fuzzes podmux cp's extraction of an untrusted tar stream (src/cli/cp_tar.c) into a real
 * temporary directory. The input is the tar; it is extracted twice, under prefix "x" (as from
 * `tar cf - x`) and prefix "" (every entry), into BOX/dest with the working directory at BOX,
 * so the root is relative and libarchive's no-absolute-paths check is on too. Invariants after
 * each run: BOX holds nothing but dest; under dest no device, fifo or socket, no setuid/setgid
 * bit, and every symlink is relative. dest is then removed. No lazily-created state besides the
 * directory made once. */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cp.h"

static char box[256];

static int check(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    if (f->level == 0) return 0; /* BOX itself */
    if (strncmp(path + strlen(box), "/dest", 5) ||
        (path[strlen(box) + 5] != '/' && path[strlen(box) + 5] != 0))
        abort(); /* something outside dest */
    if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) || S_ISFIFO(st->st_mode) ||
        S_ISSOCK(st->st_mode))
        abort();
    if (st->st_mode & (S_ISUID | S_ISGID)) abort();
    if (S_ISLNK(st->st_mode)) {
        char t[4096];
        ssize_t n = readlink(path, t, sizeof t - 1);
        if (n > 0 && t[0] == '/') abort();
    }
    return 0;
}

static int rm(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    if (f->level == 0) return 0;
    if (flag == FTW_DP || flag == FTW_D)
        chmod(path, 0700), rmdir(path);
    else
        unlink(path);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!box[0]) {
        char tmpl[] = "/tmp/pmx-fuzz-cp-XXXXXX";
        if (!mkdtemp(tmpl) || chdir(tmpl) < 0) abort();
        snprintf(box, sizeof box, "%s", tmpl);
    }
    static const char *prefixes[] = {"x", ""};
    for (int i = 0; i < 2; i++) {
        cp_limits_t l = {.max_bytes = 1 << 20, .max_entries = 200};
        cp_extract_report_t rep;
        char err[512];
        mkdir("dest", 0755);
        int rc = cp_extract_mem(data, size, "dest", prefixes[i], &l, &rep, err, sizeof err);
        if (rc < 0 && !memchr(err, 0, sizeof err)) abort();
        if (rep.bytes > l.max_bytes || rep.entries > l.max_entries) abort();
        nftw(box, check, 16, FTW_PHYS);
        /* Twice: a directory made read-only by the tar is opened up on the way down. */
        nftw(box, rm, 16, FTW_PHYS | FTW_DEPTH);
        nftw(box, rm, 16, FTW_PHYS | FTW_DEPTH);
    }
    return 0;
}
