/* heap: malloc tuning for a process that holds thousands of sessions.
 *
 * Opening a session allocates for a moment far more than the session keeps (the TLS handshake,
 * the HTTP exchange, the pod list of a fan-out), and glibc keeps what is freed inside the heap
 * resident. Two measures (bench/findings.md has the figures):
 * - no top padding: calloc() then takes large blocks, such as mbedTLS's 16 KiB record buffers,
 *   from fresh pages it need not zero, so only the pages a record really touches become resident
 *   (and no automatic trimming of the top, which would then happen at every free);
 * - malloc_trim() once a second when the heap holds much free memory, which hands whole free
 *   pages back to the kernel after a wave of sessions has opened.
 * Both are process-wide settings, which is why they live in the program and not in the library. */
#include "heap.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#define TRIM_PERIOD_MS 1000
#define TRIM_FREE_BYTES (4u << 20) /* below this, a trim is not worth its heap walk */

#ifdef __GLIBC__
static void check_cb(uv_timer_t *t)
{
    (void)t;
    struct mallinfo2 mi = mallinfo2();
    if (mi.fordblks >= TRIM_FREE_BYTES) malloc_trim(0);
}
#endif

void cli_heap_init(cli_heap_t *h, uv_loop_t *loop)
{
    uv_timer_init(loop, &h->timer);
#ifdef __GLIBC__
    mallopt(M_TOP_PAD, 0);
    /* free() must not hand the top back at every turn either: with no padding, a stream that
     * allocates and frees its buffers would call brk twice per chunk (and fault the pages in
     * again). Returning memory is the timer's job. */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    /* Setting either of the above freezes glibc's adaptive mmap threshold at 128 KiB, and every
     * large output buffer would then be a fresh mmap to fault in and zero (2x the CPU of a
     * 1 GiB stream). Large blocks come from the heap and are reused, as the adaptive rule
     * would have settled on. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    uv_timer_start(&h->timer, check_cb, TRIM_PERIOD_MS, TRIM_PERIOD_MS);
#endif
    uv_unref((uv_handle_t *)&h->timer);
}
