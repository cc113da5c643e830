/* heap: keeps the CLI's resident memory near what its sessions really hold. */
#ifndef PMX_CLI_HEAP_H
#define PMX_CLI_HEAP_H

#include <uv.h>

typedef struct cli_heap {
    uv_timer_t timer;
} cli_heap_t;

/* Tunes malloc for many long-lived sessions and starts a once-a-second check (an unreferenced
 * timer: it never keeps the loop alive; uv_walk/uv_close ends it with the others). */
void cli_heap_init(cli_heap_t *h, uv_loop_t *loop);

#endif
