/* cp_archive: libarchive for `podmux cp`, loaded when cp first needs it.
 *
 * libarchive13 brings libxml2, ICU, libstdc++ and half a dozen compression libraries with it:
 * linked into podmux it cost every invocation (exec, attach, shell) about 3 MiB of resident
 * memory and a few ms of start-up for a feature only cp uses. So cp opens it with dlopen() the
 * first time and calls it through this table; the Debian package depends on libarchive13. */
#ifndef PMX_CLI_CP_ARCHIVE_H
#define PMX_CLI_CP_ARCHIVE_H

#include <archive.h>
#include <archive_entry.h>
#include <stddef.h>

#define CP_ARCHIVE_FUNCS(X)                                                                        \
    X(archive_entry_filetype)                                                                      \
    X(archive_entry_free)                                                                          \
    X(archive_entry_hardlink)                                                                      \
    X(archive_entry_new)                                                                           \
    X(archive_entry_pathname)                                                                      \
    X(archive_entry_perm)                                                                          \
    X(archive_entry_set_hardlink)                                                                  \
    X(archive_entry_set_pathname)                                                                  \
    X(archive_entry_set_perm)                                                                      \
    X(archive_entry_size)                                                                          \
    X(archive_entry_size_is_set)                                                                   \
    X(archive_entry_symlink)                                                                       \
    X(archive_error_string)                                                                        \
    X(archive_read_data_block)                                                                     \
    X(archive_read_disk_descend)                                                                   \
    X(archive_read_disk_new)                                                                       \
    X(archive_read_disk_open)                                                                      \
    X(archive_read_disk_set_behavior)                                                              \
    X(archive_read_disk_set_standard_lookup)                                                       \
    X(archive_read_disk_set_symlink_physical)                                                      \
    X(archive_read_free)                                                                           \
    X(archive_read_new)                                                                            \
    X(archive_read_next_header)                                                                    \
    X(archive_read_next_header2)                                                                   \
    X(archive_read_open_fd)                                                                        \
    X(archive_read_open_memory)                                                                    \
    X(archive_read_support_format_tar)                                                             \
    X(archive_write_close)                                                                         \
    X(archive_write_data)                                                                          \
    X(archive_write_data_block)                                                                    \
    X(archive_write_disk_new)                                                                      \
    X(archive_write_disk_set_options)                                                              \
    X(archive_write_finish_entry)                                                                  \
    X(archive_write_free)                                                                          \
    X(archive_write_header)                                                                        \
    X(archive_write_new)                                                                           \
    X(archive_write_open_fd)                                                                       \
    X(archive_write_set_bytes_in_last_block)                                                       \
    X(archive_write_set_format_pax_restricted)

typedef struct cp_archive {
#define CP_ARCHIVE_FIELD(name) __typeof__(&name) name;
    CP_ARCHIVE_FUNCS(CP_ARCHIVE_FIELD)
#undef CP_ARCHIVE_FIELD
} cp_archive_t;

/* Loads libarchive once (thread-safe). 0, or -1 with one line in err naming what is missing. */
int cp_archive_load(char *err, size_t errlen);
/* The table, once cp_archive_load() succeeded. */
const cp_archive_t *cp_archive_api(void);

#endif
