/* escape: ssh's escape sequences for the local terminal. The escape character (default '~')
 * is special only as the first byte of a line (after CR or LF, or at the very start):
 *   ~.  disconnect        ~?  list the escapes        ~~  send one '~'
 * any other byte after it sends both, as ssh does. Pure state machine, fed in any chunks. */
#include "cli.h"

void cli_escape_init(cli_escape_t *e, int ch)
{
    e->ch = ch;
    e->line_start = 1;
    e->pending = 0;
}

size_t cli_escape_feed(cli_escape_t *e, const char *in, size_t len, char *out, size_t *used,
                       int *action)
{
    size_t n = 0;
    *action = ESC_NONE;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (e->ch < 0) {
            out[n++] = (char)c;
            continue;
        }
        if (e->pending) {
            e->pending = 0;
            if (c == '.' || c == '?') {
                *action = c == '.' ? ESC_DISCONNECT : ESC_HELP;
                e->line_start = 1; /* so "~?" then "~." works at once */
                *used = i + 1;
                return n;
            }
            out[n++] = (char)e->ch;
            if (c == (unsigned char)e->ch) {
                e->line_start = 0;
                continue;
            }
        } else if (e->line_start && c == (unsigned char)e->ch) {
            e->pending = 1;
            continue;
        }
        out[n++] = (char)c;
        e->line_start = c == '\r' || c == '\n';
    }
    *used = len;
    return n;
}
