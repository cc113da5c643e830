/* cp_tar: the tar streams of `podmux cp`, read and written with libarchive.
 *
 * Writing (to pods): archive_read_disk walks the local tree without following symlinks and
 * each entry is renamed as kubectl cp names it. Reading (from pods) is untrusted input: every
 * entry goes through our own checks (below) and then archive_write_disk with its secure flags
 * (no writing through symlinks, no "..", no absolute names when the root is relative), owner not
 * restored, permission bits without setuid/setgid/sticky. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cp.h"
#include "cp_archive.h"

#define AR (cp_archive_api())

struct cp_tar {
    struct archive *w;
};

cp_tar_t *cp_tar_open(int fd, char *err, size_t errlen)
{
    if (cp_archive_load(err, errlen) < 0) return NULL;
    cp_tar_t *t = calloc(1, sizeof *t);
    if (!t || !(t->w = AR->archive_write_new())) {
        free(t);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* pax (ustar where it fits): long names and big files, read by GNU tar and busybox tar. */
    if (AR->archive_write_set_format_pax_restricted(t->w) != ARCHIVE_OK ||
        AR->archive_write_set_bytes_in_last_block(t->w, 1) != ARCHIVE_OK ||
        AR->archive_write_open_fd(t->w, fd) != ARCHIVE_OK) {
        snprintf(err, errlen, "tar: %s", AR->archive_error_string(t->w));
        AR->archive_write_free(t->w);
        free(t);
        return NULL;
    }
    return t;
}

static int copy_data(struct archive *r, struct archive *w, uint64_t *bytes, char *err,
                     size_t errlen)
{
    const void *buf;
    size_t len;
    la_int64_t off;
    int rc;
    while ((rc = AR->archive_read_data_block(r, &buf, &len, &off)) == ARCHIVE_OK) {
        if (AR->archive_write_data(w, buf, len) < 0) {
            snprintf(err, errlen, "tar: %s", AR->archive_error_string(w));
            return -1;
        }
        *bytes += len;
    }
    if (rc != ARCHIVE_EOF) {
        snprintf(err, errlen, "%s", AR->archive_error_string(r));
        return -1;
    }
    return 0;
}

int cp_tar_add(cp_tar_t *t, const char *src, const char *name, uint64_t *bytes, char *err,
               size_t errlen)
{
    struct archive *d = AR->archive_read_disk_new();
    if (!d) return snprintf(err, errlen, "out of memory"), -1;
    AR->archive_read_disk_set_symlink_physical(d); /* a symlink is sent as a symlink */
    AR->archive_read_disk_set_standard_lookup(d);
    AR->archive_read_disk_set_behavior(d, ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL |
                                              ARCHIVE_READDISK_NO_FFLAGS);
    int rc = -1;
    size_t slen = strlen(src);
    while (slen > 1 && src[slen - 1] == '/')
        slen--;
    if (AR->archive_read_disk_open(d, src) != ARCHIVE_OK) {
        snprintf(err, errlen, "%s: %s", src, AR->archive_error_string(d));
        goto out;
    }
    for (;;) {
        struct archive_entry *e = AR->archive_entry_new();
        if (!e) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        int r = AR->archive_read_next_header2(d, e);
        if (r == ARCHIVE_EOF) {
            AR->archive_entry_free(e);
            break;
        }
        if (r < ARCHIVE_WARN) {
            snprintf(err, errlen, "%s", AR->archive_error_string(d));
            AR->archive_entry_free(e);
            goto out;
        }
        AR->archive_read_disk_descend(d);
        /* src/rest -> name/rest, as kubectl's recursiveTar. */
        const char *p = AR->archive_entry_pathname(e);
        const char *rest = strlen(p) >= slen && !strncmp(p, src, slen) ? p + slen : "";
        while (*rest == '/')
            rest++;
        size_t nl = strlen(name) + strlen(rest) + 2;
        char *full = malloc(nl);
        if (!full) {
            AR->archive_entry_free(e);
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        snprintf(full, nl, "%s%s%s", name, *rest ? "/" : "", rest);
        AR->archive_entry_set_pathname(e, full);
        free(full);
        int ft = AR->archive_entry_filetype(e);
        if (ft != AE_IFREG && ft != AE_IFDIR && ft != AE_IFLNK) { /* kubectl skips them too */
            AR->archive_entry_free(e);
            continue;
        }
        if (AR->archive_write_header(t->w, e) < ARCHIVE_WARN) {
            snprintf(err, errlen, "tar: %s", AR->archive_error_string(t->w));
            AR->archive_entry_free(e);
            goto out;
        }
        int crc = ft == AE_IFREG ? copy_data(d, t->w, bytes, err, errlen) : 0;
        AR->archive_entry_free(e);
        if (crc < 0) goto out;
    }
    rc = 0;
out:
    AR->archive_read_free(d);
    return rc;
}

int cp_tar_close(cp_tar_t *t, char *err, size_t errlen)
{
    int rc = AR->archive_write_close(t->w) == ARCHIVE_OK ? 0 : -1;
    if (rc < 0) snprintf(err, errlen, "tar: %s", AR->archive_error_string(t->w));
    AR->archive_write_free(t->w);
    free(t);
    return rc;
}

/* ---- extraction ---------------------------------------------------------------------------- */

/* Drops leading "./" (and repeated ones) from a tar member name. */
static const char *skip_dot(const char *s)
{
    while (s[0] == '.' && s[1] == '/') {
        s += 2;
        while (*s == '/')
            s++;
    }
    return s;
}

/* The part of name under prefix ("" for prefix itself), or NULL when it is not under it. */
static const char *under_prefix(const char *name, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (!pl || (pl == 1 && prefix[0] == '.')) return name;
    if (strncmp(name, prefix, pl)) return NULL;
    if (name[pl] == 0) return name + pl;
    if (name[pl] != '/') return NULL;
    name += pl;
    while (*name == '/')
        name++;
    return name;
}

/* 1 when a relative name has no ".." component; depth gets its number of components. */
static int clean_relative(const char *s, int *depth)
{
    int d = 0;
    while (*s) {
        size_t n = strcspn(s, "/");
        if (n == 2 && s[0] == '.' && s[1] == '.') return 0;
        if (n && !(n == 1 && s[0] == '.')) d++;
        s += n;
        while (*s == '/')
            s++;
    }
    if (depth) *depth = d;
    return 1;
}

/* A symlink at rel (depth components, the last one the link) pointing to target stays inside
 * root: relative, its ".." only leading (after a name, ".." would climb from wherever that name,
 * maybe itself a symlink, leads) and never above root from the link's directory. Each symlink
 * is checked this way and none is written through, so every chain of them stays inside too. */
static int link_stays_inside(int depth, const char *target)
{
    if (target[0] == '/' || !target[0]) return 0;
    int d = depth - 1, named = 0; /* d: depth of the link's directory */
    const char *s = target;
    while (*s) {
        size_t n = strcspn(s, "/");
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            if (named || --d < 0) return 0;
        } else if (n && !(n == 1 && s[0] == '.')) {
            d++, named = 1;
        }
        s += n;
        while (*s == '/')
            s++;
    }
    return 1;
}

static void refuse(cp_extract_report_t *rep, const char *name, const char *why)
{
    if (!rep->refused++)
        snprintf(rep->first_refused, sizeof rep->first_refused, "\"%.200s\": %s", name, why);
}

/* root + "/" + rel (root alone for rel ""); NULL on allocation failure. */
static char *join_root(const char *root, const char *rel)
{
    size_t n = strlen(root) + strlen(rel) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s%s", root, *rel ? "/" : "", rel);
    return p;
}

static int extract(struct archive *a, const char *root, const char *prefix, const cp_limits_t *l,
                   cp_extract_report_t *rep, char *err, size_t errlen)
{
    memset(rep, 0, sizeof *rep);
    char pfx[4096];
    const char *p0 = prefix ? prefix : "";
    while (*p0 == '/')
        p0++;
    snprintf(pfx, sizeof pfx, "%s", skip_dot(p0));
    size_t pl = strlen(pfx);
    while (pl > 1 && pfx[pl - 1] == '/')
        pfx[--pl] = 0;
    struct archive *w = AR->archive_write_disk_new();
    if (!w) return snprintf(err, errlen, "out of memory"), -1;
    int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_UNLINK;
    if (root[0] != '/') flags |= ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;
    AR->archive_write_disk_set_options(w, flags);
    int rc = -1;
    struct archive_entry *e;
    for (;;) {
        int r = AR->archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) {
            snprintf(err, errlen, "bad tar stream: %s", AR->archive_error_string(a));
            goto out;
        }
        if (rep->entries + rep->refused >= l->max_entries) {
            snprintf(err, errlen, "more than %llu entries (--max-entries)",
                     (unsigned long long)l->max_entries);
            goto out;
        }
        const char *name = AR->archive_entry_pathname(e);
        if (!name || !*name) {
            refuse(rep, "", "empty name");
            continue;
        }
        if (name[0] == '/') {
            refuse(rep, name, "absolute name");
            continue;
        }
        const char *rel = under_prefix(skip_dot(name), pfx);
        int depth = 0;
        if (!rel) {
            refuse(rep, name, "not under the path asked for");
            continue;
        }
        if (!clean_relative(rel, &depth)) {
            refuse(rep, name, "\"..\" in the name");
            continue;
        }
        const char *hard = AR->archive_entry_hardlink(e);
        int ft = AR->archive_entry_filetype(e);
        char *hpath = NULL;
        if (hard) {
            const char *hrel = under_prefix(skip_dot(hard), pfx);
            if (hard[0] == '/' || !hrel || !clean_relative(hrel, NULL) || !*hrel) {
                refuse(rep, name, "hard link to outside the destination");
                continue;
            }
            if (!(hpath = join_root(root, hrel))) goto oom;
        } else if (ft == AE_IFLNK) {
            const char *target = AR->archive_entry_symlink(e);
            if (!target || !link_stays_inside(depth, target)) {
                refuse(rep, name, "symlink leading outside the destination");
                continue;
            }
        } else if (ft != AE_IFREG && ft != AE_IFDIR) {
            refuse(rep, name, "not a regular file, directory or link");
            continue;
        }
        int64_t size = AR->archive_entry_size_is_set(e) ? AR->archive_entry_size(e) : 0;
        if (size < 0 || (uint64_t)size > l->max_bytes - rep->bytes) {
            snprintf(err, errlen, "more than %llu bytes (--max-bytes)",
                     (unsigned long long)l->max_bytes);
            free(hpath);
            goto out;
        }
        /* PATH was a file and DEST an existing directory: the file goes inside, as cp(1). */
        struct stat rst;
        const char *base = strrchr(pfx, '/');
        base = base ? base + 1 : pfx;
        if (!*rel && ft != AE_IFDIR && *base && strcmp(base, ".") && stat(root, &rst) == 0 &&
            S_ISDIR(rst.st_mode))
            rel = base;
        char *dest = join_root(root, rel);
        if (!dest) {
            free(hpath);
            goto oom;
        }
        AR->archive_entry_set_pathname(e, dest);
        if (hpath) AR->archive_entry_set_hardlink(e, hpath);
        free(dest);
        free(hpath);
        mode_t perm = AR->archive_entry_perm(e) & 0777;
        if (ft == AE_IFDIR) perm |= 0700; /* we write into it */
        AR->archive_entry_set_perm(e, perm);
        r = AR->archive_write_header(w, e);
        if (r < ARCHIVE_WARN) {
            refuse(rep, name, AR->archive_error_string(w));
            continue;
        }
        if (ft == AE_IFREG && !hard && size > 0) {
            const void *buf;
            size_t len;
            la_int64_t off;
            while ((r = AR->archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
                if (AR->archive_write_data_block(w, buf, len, off) < ARCHIVE_WARN) {
                    snprintf(err, errlen, "%s", AR->archive_error_string(w));
                    goto out;
                }
            }
            if (r != ARCHIVE_EOF) {
                snprintf(err, errlen, "bad tar stream: %s", AR->archive_error_string(a));
                goto out;
            }
        }
        if (AR->archive_write_finish_entry(w) < ARCHIVE_WARN) {
            snprintf(err, errlen, "%s", AR->archive_error_string(w));
            goto out;
        }
        rep->entries++;
        rep->bytes += (uint64_t)size;
    }
    rc = 0;
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
out:
    if (AR->archive_write_close(w) != ARCHIVE_OK && rc == 0) { /* deferred directory modes */
        snprintf(err, errlen, "%s", AR->archive_error_string(w));
        rc = -1;
    }
    AR->archive_write_free(w);
    return rc;
}

static struct archive *reader(void)
{
    struct archive *a = AR->archive_read_new();
    if (!a) return NULL;
    AR->archive_read_support_format_tar(a); /* tar only: no other format, no filter */
    return a;
}

int cp_extract_fd(int fd, const char *root, const char *prefix, const cp_limits_t *l,
                  cp_extract_report_t *rep, char *err, size_t errlen)
{
    memset(rep, 0, sizeof *rep);
    if (cp_archive_load(err, errlen) < 0) return -1;
    struct archive *a = reader();
    if (!a) return snprintf(err, errlen, "out of memory"), -1;
    int rc = -1;
    if (AR->archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK)
        snprintf(err, errlen, "bad tar stream: %s", AR->archive_error_string(a));
    else
        rc = extract(a, root, prefix, l, rep, err, errlen);
    AR->archive_read_free(a);
    return rc;
}

int cp_extract_mem(const void *p, size_t n, const char *root, const char *prefix,
                   const cp_limits_t *l, cp_extract_report_t *rep, char *err, size_t errlen)
{
    memset(rep, 0, sizeof *rep);
    if (cp_archive_load(err, errlen) < 0) return -1;
    struct archive *a = reader();
    if (!a) return snprintf(err, errlen, "out of memory"), -1;
    int rc = -1;
    if (AR->archive_read_open_memory(a, p, n) != ARCHIVE_OK)
        snprintf(err, errlen, "bad tar stream: %s", AR->archive_error_string(a));
    else
        rc = extract(a, root, prefix, l, rep, err, errlen);
    AR->archive_read_free(a);
    return rc;
}
