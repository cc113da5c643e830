/* buf: a growable byte buffer with an explicit upper bound.
 * Every buffer in podmux has an owner and a limit; buf_* calls fail with -ENOMEM when growing
 * would pass the limit or malloc fails, and leave the buffer as it was. */
#ifndef PMX_UTIL_BUF_H
#define PMX_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct buf {
    char *data;   /* NUL-terminated after every append (room for one extra byte is kept) */
    size_t len;   /* bytes in use */
    size_t cap;   /* bytes allocated, not counting the terminator */
    size_t limit; /* maximum len; 0 means SIZE_MAX/2 */
} buf_t;

void buf_init(buf_t *b, size_t limit);
void buf_free(buf_t *b);
void buf_reset(buf_t *b); /* len = 0, keeps memory */
int buf_reserve(buf_t *b, size_t extra);
int buf_append(buf_t *b, const void *data, size_t len);
int buf_append_str(buf_t *b, const char *s);
int buf_append_byte(buf_t *b, uint8_t c);
int buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes (n <= len). */
void buf_consume(buf_t *b, size_t n);
/* Hands the memory to the caller (who frees it) and leaves b empty. */
char *buf_steal(buf_t *b);
/* Gives memory of cap bytes (from buf_steal, with the cap it had) back to b when b holds no
 * memory and cap is within max_keep; otherwise frees it. Saves a malloc and fresh pages per use
 * for a buffer that is filled and handed off over and over. */
void buf_give_back(buf_t *b, char *mem, size_t cap, size_t max_keep);

#endif
