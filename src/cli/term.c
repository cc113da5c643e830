/* term: the local terminal in raw mode, and its restoration on every way out.
 *
 * libuv keeps the terminal's original mode from the first uv_tty_set_mode and restores it with
 * uv_tty_reset_mode, which is async-signal-safe. We call it on the normal path, from atexit,
 * and from a handler for the crash signals that then re-raises the signal with its default
 * action, so `stty -a` after podmux equals `stty -a` before, whatever happened. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "term.h"

/* Process-wide by nature (signal handlers, atexit): the CLI's only such state. */
static volatile sig_atomic_t raw_active;
/* Our own copy of the mode of the terminal on fd 0: libuv's reset goes through the descriptor
 * of the uv_tty_t, which is gone once the handle is closed. */
static struct termios saved;
static int saved_ok;

static void reset_mode(void)
{
    if (uv_tty_reset_mode() < 0 && saved_ok) tcsetattr(0, TCSADRAIN, &saved);
}

void term_restore(void)
{
    if (raw_active) {
        reset_mode();
        raw_active = 0;
    }
}

static void on_crash(int sig)
{
    if (raw_active) reset_mode();
    raw_active = 0;
    /* SA_RESETHAND put the default action back: this kills us as the original signal would. */
    raise(sig);
}

static void install_crash_handlers(void)
{
    /* Every signal whose default action ends the process and that the session does not handle
     * on the loop (SIGINT, SIGTERM, SIGHUP are). SIGKILL cannot be caught. */
    static const int sigs[] = {SIGSEGV, SIGABRT, SIGBUS,  SIGILL,    SIGFPE,
                               SIGQUIT, SIGTRAP, SIGSYS,  SIGXCPU,   SIGXFSZ,
                               SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_crash;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
}

static void at_exit(void)
{
    term_restore();
}

int term_raw_begin(uv_tty_t *in)
{
    static int registered;
    if (!registered) {
        atexit(at_exit);
        install_crash_handlers();
        registered = 1;
    }
    saved_ok = tcgetattr(0, &saved) == 0;
    int rc = uv_tty_set_mode(in, UV_TTY_MODE_RAW);
    if (rc == 0) raw_active = 1;
    return rc;
}

int term_intr_char(void)
{
    if (saved_ok && saved.c_cc[VINTR] != _POSIX_VDISABLE) return saved.c_cc[VINTR];
    return 0x03; /* ^C, a new pty's default */
}

int term_is_raw(void)
{
    return raw_active;
}

int term_winsize(int fd, unsigned *w, unsigned *h)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) < 0 || !ws.ws_col || !ws.ws_row) return -1;
    *w = ws.ws_col;
    *h = ws.ws_row;
    return 0;
}
