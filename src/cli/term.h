/* term.h: raw mode and its restoration on every exit (see term.c). */
#ifndef PMX_CLI_TERM_H
#define PMX_CLI_TERM_H

#include <uv.h>

/* Puts the terminal behind `in` in raw mode; from then on atexit and the crash and other
 * fatal signals (SEGV, ABRT, BUS, ILL, FPE, QUIT, USR1, ALRM...) restore it. */
int term_raw_begin(uv_tty_t *in);
/* Restores the original mode (idempotent, async-signal-safe). */
void term_restore(void);
int term_is_raw(void);
/* The interrupt character (VINTR) of the terminal as it was before raw mode; ^C when unknown. */
int term_intr_char(void);
/* Window size of the terminal on fd (TIOCGWINSZ, what uv_tty_get_winsize reads). */
int term_winsize(int fd, unsigned *w, unsigned *h);

#endif
