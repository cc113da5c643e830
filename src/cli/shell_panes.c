/* shell_panes: the "panes" layout of `podmux shell`: the screen tiled, one pane per session,
 * each pane a libvterm emulation of that pod's tty, sized to the pane (the remote tty follows
 * through pmx_session_resize). Output is fed to the pane's VTerm; its damage callbacks collect
 * a dirty rectangle and one short timer turns all dirty rectangles into one frame, so only
 * changed cells are drawn and nothing runs while nothing happens (no idle handler, no polling).
 * Keys: Ctrl-b then an arrow, a digit or o (focus), b (broadcast), z (zoom), d (detach), ?
 * (help), Ctrl-b (a literal Ctrl-b); anything else goes to the focused pane or to all. */
#include <stdlib.h>
#include <string.h>
#include <vterm.h>

#include "shell.h"
#include "term.h"

#define FRAME_LIMIT (8u * 1024 * 1024)
#define REDRAW_MS 8
#define MIN_W 10 /* smallest pane interior we start with */
#define MIN_H 2

struct sh_pane {
    sh_sess_t *x;
    VTerm *vt;
    VTermScreen *vs;
    int x0, y0, w, h; /* interior on screen, 0-based; the title is the row above */
    int cell_w;       /* interior + the separator column, when one is drawn */
    int visible, sep;
    int dirty;
    VTermRect d;
    VTermPos cur;
    int cur_visible;
};

typedef struct panes {
    sh_pane_t *p;
    int W, H, cols;
    uv_timer_t timer;
    int timer_on, scheduled, full, chrome;
    int key; /* 0, 1 after Ctrl-b, 2 after Ctrl-b ESC, 3 after Ctrl-b ESC [ */
    int help;
    buf_t f; /* the frame being built */
} panes_t;

static const char HELP[] = " %s: arrows/0-9/o focus  b broadcast  z zoom  d detach  ? help";

/* ---- layout ------------------------------------------------------------------------------- */
/* The column count whose panes are the least cramped (a cell is about twice as tall as wide). */
static int best_cols(int n, int W, int H)
{
    int best = 1, score = -1;
    for (int c = 1; c <= n; c++) {
        int r = (n + c - 1) / c;
        int s = W / c / 2 < H / r ? W / c / 2 : H / r;
        if (s > score) best = c, score = s;
    }
    return best;
}

static void place(shell_t *sh, panes_t *ps, sh_pane_t *p, int i, int n, int cols)
{
    int rows = (n + cols - 1) / cols, AH = ps->H - 1; /* the last row is the status line */
    int c = i % cols, r = i / cols;
    int pw = ps->W / cols, ph = AH / rows;
    int cw = c == cols - 1 ? ps->W - pw * c : pw;
    int ch = r == rows - 1 ? AH - ph * r : ph;
    p->sep = c < cols - 1;
    p->x0 = pw * c;
    p->y0 = ph * r + 1;
    p->cell_w = cw;
    p->w = cw - p->sep > 1 ? cw - p->sep : 1;
    p->h = ch - 1 > 1 ? ch - 1 : 1;
    p->visible = 1;
}

static void layout(shell_t *sh, panes_t *ps)
{
    int n = (int)sh->n;
    ps->cols = best_cols(n, ps->W, ps->H - 1);
    for (int i = 0; i < n; i++) {
        sh_pane_t *p = &ps->p[i];
        if (sh->zoom) {
            place(sh, ps, p, 0, 1, 1);
            p->visible = (size_t)i == sh->focus;
        } else {
            place(sh, ps, p, i, n, ps->cols);
        }
    }
}

static void schedule(shell_t *sh);

/* Applies the layout to the emulations and the remote ttys. */
static void apply_layout(shell_t *sh)
{
    panes_t *ps = sh->panes_state;
    layout(sh, ps);
    for (size_t i = 0; i < sh->n; i++) {
        sh_pane_t *p = &ps->p[i];
        if (!p->visible) continue;
        int rows, cols;
        vterm_get_size(p->vt, &rows, &cols);
        if (rows == p->h && cols == p->w) continue;
        vterm_set_size(p->vt, p->h, p->w);
        if (p->x->s && !p->x->ended) pmx_session_resize(p->x->s, (unsigned)p->w, (unsigned)p->h);
    }
    ps->full = 1;
    schedule(sh);
}

void shp_pane_size(shell_t *sh, size_t idx, unsigned *w, unsigned *h)
{
    panes_t *ps = sh->panes_state;
    *w = (unsigned)ps->p[idx].w;
    *h = (unsigned)ps->p[idx].h;
}

/* ---- drawing ------------------------------------------------------------------------------ */
static void put_utf8(buf_t *b, uint32_t c)
{
    char u[4];
    size_t n;
    if (c < 0x80)
        u[0] = (char)c, n = 1;
    else if (c < 0x800)
        u[0] = (char)(0xC0 | c >> 6), u[1] = (char)(0x80 | (c & 0x3F)), n = 2;
    else if (c < 0x10000)
        u[0] = (char)(0xE0 | c >> 12), u[1] = (char)(0x80 | ((c >> 6) & 0x3F)),
        u[2] = (char)(0x80 | (c & 0x3F)), n = 3;
    else
        u[0] = (char)(0xF0 | c >> 18), u[1] = (char)(0x80 | ((c >> 12) & 0x3F)),
        u[2] = (char)(0x80 | ((c >> 6) & 0x3F)), u[3] = (char)(0x80 | (c & 0x3F)), n = 4;
    buf_append(b, u, n);
}

static void put_color(buf_t *b, const VTermColor *c, int fg)
{
    if (fg ? VTERM_COLOR_IS_DEFAULT_FG(c) : VTERM_COLOR_IS_DEFAULT_BG(c)) return;
    if (VTERM_COLOR_IS_INDEXED(c)) {
        int i = c->indexed.idx;
        if (i < 8)
            buf_printf(b, ";%d", (fg ? 30 : 40) + i);
        else if (i < 16)
            buf_printf(b, ";%d", (fg ? 90 : 100) + i - 8);
        else
            buf_printf(b, ";%d;5;%d", fg ? 38 : 48, i);
    } else if (VTERM_COLOR_IS_RGB(c)) {
        buf_printf(b, ";%d;2;%d;%d;%d", fg ? 38 : 48, c->rgb.red, c->rgb.green, c->rgb.blue);
    }
}

/* The SGR for a cell, written only when it differs from the last one in this frame. */
static void put_pen(buf_t *b, const VTermScreenCell *c, char *last, size_t lastlen)
{
    buf_t t;
    buf_init(&t, 95);
    buf_append_str(&t, "\033[0");
    if (c->attrs.bold) buf_append_str(&t, ";1");
    if (c->attrs.italic) buf_append_str(&t, ";3");
    if (c->attrs.underline) buf_append_str(&t, ";4");
    if (c->attrs.reverse) buf_append_str(&t, ";7");
    put_color(&t, &c->fg, 1);
    put_color(&t, &c->bg, 0);
    if (buf_append_str(&t, "m") == 0 && buf_append_byte(&t, 0) == 0 && t.len <= lastlen &&
        strcmp(last, t.data)) {
        memcpy(last, t.data, t.len);
        buf_append(b, t.data, t.len - 1);
    }
    buf_free(&t);
}

static void draw_rect(buf_t *b, sh_pane_t *p, VTermRect r, char *pen, size_t penlen)
{
    for (int row = r.start_row; row < r.end_row && row < p->h; row++) {
        buf_printf(b, "\033[%d;%dH", p->y0 + row + 1, p->x0 + r.start_col + 1);
        for (int col = r.start_col; col < r.end_col && col < p->w; col++) {
            VTermScreenCell c;
            if (!vterm_screen_get_cell(p->vs, (VTermPos){row, col}, &c)) continue;
            put_pen(b, &c, pen, penlen);
            if (c.width == 2 && col + 1 >= p->w) { /* a wide char cut by the pane's edge */
                buf_append_byte(b, ' ');
                continue;
            }
            if (c.chars[0] == 0 || c.chars[0] == (uint32_t)-1)
                buf_append_byte(b, ' ');
            else
                for (int k = 0; k < VTERM_MAX_CHARS_PER_CELL && c.chars[k]; k++)
                    put_utf8(b, c.chars[k]);
            if (c.width == 2) col++;
        }
    }
}

static void draw_title(shell_t *sh, buf_t *b, sh_pane_t *p)
{
    sh_sess_t *x = p->x;
    char t[600], code[64] = "";
    if (x->ended && x->ex.err == 0)
        snprintf(code, sizeof code, "[exit %d] ", x->ex.exit_code);
    else if (x->ended)
        snprintf(code, sizeof code, "[%s] ", pmx_err_name(x->ex.err) + 4);
    int focused = x->idx == sh->focus;
    /* The code before the name: a narrow pane cuts the end of the title. */
    int n = snprintf(t, sizeof t, " %zu:%s%s%s ", x->idx, focused ? "*" : "", code, x->pod);
    if (n < 0) n = 0;
    if (n > p->cell_w) n = p->cell_w;
    buf_printf(b, "\033[%d;%dH\033[0;%sm", p->y0, p->x0 + 1, focused ? "1;7" : "2");
    buf_append(b, t, (size_t)n);
    for (int i = n; i < p->cell_w; i++)
        buf_append_str(b, "\xe2\x94\x80"); /* ─ */
    buf_append_str(b, "\033[0m");
}

static void draw_chrome(shell_t *sh, panes_t *ps, buf_t *b)
{
    for (size_t i = 0; i < sh->n; i++) {
        sh_pane_t *p = &ps->p[i];
        if (!p->visible) continue;
        draw_title(sh, b, p);
        if (!p->sep) continue;
        for (int r = 0; r < p->h; r++)
            buf_printf(b, "\033[%d;%dH\033[0;2m\xe2\x94\x82\033[0m", p->y0 + r + 1,
                       p->x0 + p->w + 1);
    }
    char st[1024];
    size_t n = ps->help ? (size_t)snprintf(st, sizeof st, HELP, sh->prefix_name)
                        : shell_status_text(sh, st, sizeof st - 16);
    if (!ps->help) n += (size_t)snprintf(st + n, sizeof st - n, " | C-b ? help");
    if ((int)n > ps->W) n = (size_t)ps->W;
    buf_printf(b, "\033[%d;1H\033[0;7m", ps->H);
    buf_append(b, st, n);
    for (int i = (int)n; i < ps->W; i++)
        buf_append_byte(b, ' ');
    buf_append_str(b, "\033[0m");
}

static void frame(shell_t *sh)
{
    panes_t *ps = sh->panes_state;
    buf_t *b = &ps->f;
    char pen[96] = "";
    buf_reset(b);
    buf_append_str(b, "\033[?25l");
    if (ps->full) buf_append_str(b, "\033[0m\033[2J");
    for (size_t i = 0; i < sh->n; i++) {
        sh_pane_t *p = &ps->p[i];
        VTermRect all = {0, p->h, 0, p->w};
        if (p->visible && (ps->full || p->dirty)) {
            draw_rect(b, p, ps->full ? all : p->d, pen, sizeof pen);
            pen[0] = 0;
        }
        p->dirty = 0;
    }
    buf_append_str(b, "\033[0m");
    if (ps->full || ps->chrome) draw_chrome(sh, ps, b);
    ps->full = ps->chrome = 0;
    sh_pane_t *f = &ps->p[sh->focus];
    buf_printf(b, "\033[%d;%dH", f->y0 + f->cur.row + 1, f->x0 + f->cur.col + 1);
    if (f->cur_visible && !f->x->ended) buf_append_str(b, "\033[?25h");
    if (b->data) cli_out_write(&sh->a->out, b->data, b->len);
}

static void on_timer(uv_timer_t *t)
{
    shell_t *sh = t->data;
    panes_t *ps = sh->panes_state;
    ps->scheduled = 0;
    if (cli_out_queued(&sh->a->out) > FRAME_LIMIT) { /* the terminal is behind: wait for it */
        ps->scheduled = 1;
        uv_timer_start(&ps->timer, on_timer, 50, 0);
        return;
    }
    frame(sh);
}

static void schedule(shell_t *sh)
{
    panes_t *ps = sh->panes_state;
    if (ps->scheduled || !ps->timer_on) return;
    ps->scheduled = 1;
    uv_timer_start(&ps->timer, on_timer, REDRAW_MS, 0);
}

/* ---- libvterm callbacks ------------------------------------------------------------------- */
static int on_damage(VTermRect r, void *user)
{
    sh_pane_t *p = user;
    if (!p->dirty) {
        p->d = r;
        p->dirty = 1;
    } else {
        if (r.start_row < p->d.start_row) p->d.start_row = r.start_row;
        if (r.start_col < p->d.start_col) p->d.start_col = r.start_col;
        if (r.end_row > p->d.end_row) p->d.end_row = r.end_row;
        if (r.end_col > p->d.end_col) p->d.end_col = r.end_col;
    }
    return 1;
}

static int on_movecursor(VTermPos pos, VTermPos old, int visible, void *user)
{
    sh_pane_t *p = user;
    p->cur = pos;
    return 1;
}

static int on_termprop(VTermProp prop, VTermValue *val, void *user)
{
    sh_pane_t *p = user;
    if (prop == VTERM_PROP_CURSORVISIBLE) p->cur_visible = val->boolean;
    return 1;
}

static const VTermScreenCallbacks VCB = {
    .damage = on_damage,
    .movecursor = on_movecursor,
    .settermprop = on_termprop,
};

/* The emulation's answers (cursor position reports, device attributes) go back to the pod. */
static void on_vterm_output(const char *s, size_t len, void *user)
{
    sh_pane_t *p = user;
    if (p->x->s && !p->x->ended) pmx_session_write(p->x->s, s, len);
}

void shp_output(sh_sess_t *x, const char *buf, size_t len)
{
    sh_pane_t *p = x->pane;
    vterm_input_write(p->vt, buf, len);
    if (p->dirty || x->idx == x->sh->focus) schedule(x->sh);
}

/* ---- begin, end, changes ------------------------------------------------------------------ */
static int init_pane(sh_pane_t *p, sh_sess_t *x)
{
    p->x = x;
    x->pane = p;
    p->cur_visible = 1;
    p->vt = vterm_new(p->h, p->w);
    if (!p->vt) return -1;
    vterm_set_utf8(p->vt, 1);
    vterm_output_set_callback(p->vt, on_vterm_output, p);
    p->vs = vterm_obtain_screen(p->vt);
    vterm_screen_set_callbacks(p->vs, &VCB, p);
    vterm_screen_enable_altscreen(p->vs, 1);
    vterm_screen_reset(p->vs, 1);
    return 0;
}

static int too_small(shell_t *sh, panes_t *ps)
{
    for (size_t i = 0; i < sh->n; i++)
        if (ps->p[i].w < MIN_W || ps->p[i].h < MIN_H) return 1;
    return 0;
}

int shp_begin(shell_t *sh)
{
    unsigned W, H;
    if (term_winsize(1, &W, &H) < 0) return -1;
    panes_t *ps = calloc(1, sizeof *ps);
    if (!ps) return -1;
    ps->p = calloc(sh->n, sizeof *ps->p);
    ps->W = (int)W, ps->H = (int)H;
    sh->panes_state = ps;
    if (!ps->p) goto fail;
    layout(sh, ps);
    if (too_small(sh, ps)) goto fail;
    for (size_t i = 0; i < sh->n; i++)
        if (init_pane(&ps->p[i], &sh->ss[i]) < 0) goto fail;
    if (term_raw_begin(&sh->in.io.h.tty) < 0) goto fail;
    sh->a->raw = 1;
    buf_init(&ps->f, FRAME_LIMIT);
    uv_timer_init(sh->a->loop, &ps->timer);
    ps->timer.data = sh;
    ps->timer_on = 1;
    ps->full = 1;
    cli_out_write(&sh->a->out, "\033[?1049h\033[H\033[2J", 15);
    schedule(sh);
    return 0;
fail:
    for (size_t i = 0; ps->p && i < sh->n; i++)
        if (ps->p[i].vt) vterm_free(ps->p[i].vt), sh->ss[i].pane = NULL;
    free(ps->p);
    free(ps);
    sh->panes_state = NULL;
    return -1;
}

void shp_changed(shell_t *sh)
{
    panes_t *ps = sh->panes_state;
    if (!ps) return;
    ps->chrome = 1;
    schedule(sh);
}

void shp_winch(shell_t *sh)
{
    panes_t *ps = sh->panes_state;
    unsigned W, H;
    if (!ps || term_winsize(1, &W, &H) < 0) return;
    ps->W = (int)W, ps->H = (int)H < 2 ? 2 : (int)H;
    apply_layout(sh);
}

void shp_end(shell_t *sh)
{
    panes_t *ps = sh->panes_state;
    if (!ps) return;
    if (ps->timer_on) uv_close((uv_handle_t *)&ps->timer, NULL);
    ps->timer_on = 0;
    static const char LEAVE[] = "\033[0m\033[?25h\033[?1049l";
    cli_out_write(&sh->a->out, LEAVE, sizeof LEAVE - 1);
    for (size_t i = 0; i < sh->n; i++)
        if (ps->p[i].vt) vterm_free(ps->p[i].vt), sh->ss[i].pane = NULL;
    buf_free(&ps->f);
    free(ps->p);
    free(ps);
    sh->panes_state = NULL;
    sh->panes = 0; /* late output (none: sessions are closed) would go to lines */
}

/* ---- keys --------------------------------------------------------------------------------- */
static void focus(shell_t *sh, size_t i)
{
    if (i >= sh->n) return;
    sh->broadcast = 0; /* as in lines: focusing a pod means typing to it alone */
    if (i == sh->focus) return shp_changed(sh);
    sh->focus = i;
    if (sh->zoom)
        apply_layout(sh);
    else
        shp_changed(sh);
}

static void arrow(shell_t *sh, char k)
{
    panes_t *ps = sh->panes_state;
    size_t f = sh->focus, cols = (size_t)ps->cols;
    if (k == 'C' && f + 1 < sh->n) focus(sh, f + 1);
    if (k == 'D' && f > 0) focus(sh, f - 1);
    if (k == 'B' && f + cols < sh->n) focus(sh, f + cols);
    if (k == 'A' && f >= cols) focus(sh, f - cols);
}

/* The byte after Ctrl-b. */
static void command(shell_t *sh, panes_t *ps, char k)
{
    ps->key = 0;
    if (k != '?') ps->help = 0;
    if (k >= '0' && k <= '9') {
        focus(sh, (size_t)(k - '0'));
    } else if (k == 'o') {
        focus(sh, (sh->focus + 1) % sh->n);
    } else if (k == 'b') {
        sh->broadcast = !sh->broadcast;
    } else if (k == 'z') {
        sh->zoom = !sh->zoom;
        apply_layout(sh);
    } else if (k == 'd') {
        sh->detached = 1;
        shell_close_all(sh);
    } else if (k == '?') {
        ps->help = !ps->help;
    } else if (k == sh->prefix) {
        char c = (char)sh->prefix;
        shell_send(sh, &c, 1);
    } else if (k == 0x1b) {
        ps->key = 2;
    }
    shp_changed(sh);
}

void shp_keys(shell_t *sh, const char *buf, size_t len)
{
    panes_t *ps = sh->panes_state;
    if (!ps) return;
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        char k = buf[i];
        if (ps->key == 0) {
            if (k != sh->prefix) continue;
            shell_send(sh, buf + start, i - start);
            ps->key = 1;
        } else if (ps->key == 1) {
            command(sh, ps, k);
        } else if (ps->key == 2) {
            ps->key = k == '[' || k == 'O' ? 3 : 0;
        } else {
            ps->key = 0;
            arrow(sh, k);
        }
        start = i + 1;
    }
    if (ps->key == 0) shell_send(sh, buf + start, len - start);
}
