/* lines: the output formats of a fan-out (prefixed lines, JSON lines), the summary and the
 * exit-code rules. Pure: bytes in, bytes out through a write function, so they are unit-tested
 * with odd chunk sizes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_prefixer_init(cli_prefixer_t *p, const char *prefix, int fd, size_t limit, cli_write_fn w,
                       void *ctx)
{
    memset(p, 0, sizeof *p);
    p->prefix = prefix ? prefix : "";
    p->fd = fd;
    p->write = w;
    p->ctx = ctx;
    buf_init(&p->part, limit ? limit : 64 * 1024);
}

/* One whole line: prefix + held part + rest, as consecutive writes (single-threaded, so no other
 * pod's bytes can land between them). */
static int emit(cli_prefixer_t *p, const char *rest, size_t len, int add_nl)
{
    if (p->on_line) {
        if (p->part.len) {
            if (buf_append(&p->part, rest, len) < 0) { /* over the bound: two objects */
                p->on_line(p->ctx, p->fd, p->part.data, p->part.len);
                p->on_line(p->ctx, p->fd, rest, len);
            } else {
                p->on_line(p->ctx, p->fd, p->part.data, p->part.len);
            }
        } else if (len) {
            p->on_line(p->ctx, p->fd, rest, len);
        }
        buf_reset(&p->part);
        return 0;
    }
    int rc = p->write(p->ctx, p->fd, p->prefix, strlen(p->prefix));
    if (rc == 0 && p->part.len) rc = p->write(p->ctx, p->fd, p->part.data, p->part.len);
    if (rc == 0 && len) rc = p->write(p->ctx, p->fd, rest, len);
    if (rc == 0 && add_nl) rc = p->write(p->ctx, p->fd, "\n", 1);
    buf_reset(&p->part);
    return rc;
}

/* Where to cut a too-long held line so no UTF-8 sequence is split. */
static size_t utf8_cut(const char *s, size_t len)
{
    size_t i = len;
    while (i > 0 && len - i < 3 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--;
    if (i > 0 && ((unsigned char)s[i - 1] & 0x80)) { /* lead byte: is its sequence whole? */
        unsigned char lead = (unsigned char)s[i - 1];
        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        if (len - (i - 1) < need) return i - 1;
    }
    return len;
}

int cli_prefixer_feed(cli_prefixer_t *p, const char *buf, size_t len)
{
    while (len) {
        const char *nl = memchr(buf, '\n', len);
        if (nl) {
            size_t seg = (size_t)(nl - buf) + 1;
            int rc = emit(p, buf, seg, 0);
            if (rc < 0) return rc;
            buf += seg, len -= seg;
            continue;
        }
        size_t room = p->part.limit - p->part.len;
        size_t take = len < room ? len : room;
        if (buf_append(&p->part, buf, take) < 0) return PMX_ENOMEM;
        buf += take, len -= take;
        if (p->part.len >= p->part.limit) { /* bound reached: cut and start a new line */
            size_t cut = utf8_cut(p->part.data, p->part.len);
            if (cut == 0) cut = p->part.len;
            char keep[4];
            size_t nkeep = p->part.len - cut;
            memcpy(keep, p->part.data + cut, nkeep);
            p->part.len = cut;
            int rc = emit(p, NULL, 0, 1);
            if (rc < 0) return rc;
            if (nkeep && buf_append(&p->part, keep, nkeep) < 0) return PMX_ENOMEM;
        }
    }
    return 0;
}

int cli_prefixer_flush(cli_prefixer_t *p)
{
    int rc = p->part.len ? emit(p, NULL, 0, 1) : 0;
    buf_free(&p->part);
    return rc;
}

void cli_prefixer_free(cli_prefixer_t *p)
{
    buf_free(&p->part);
}

static const char *result_text(const pmx_fanout_result_t *r, char *buf, size_t len);

/* ---- JSON ------------------------------------------------------------------------------------ */
static int utf8_valid(const unsigned char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        size_t n = c < 0x80             ? 1
                   : (c & 0xE0) == 0xC0 ? 2
                   : (c & 0xF0) == 0xE0 ? 3
                   : (c & 0xF8) == 0xF0 ? 4
                                        : 0;
        if (!n || i + n > len || (n == 2 && c < 0xC2) || (n == 4 && c > 0xF4)) return 0;
        for (size_t k = 1; k < n; k++)
            if ((s[i + k] & 0xC0) != 0x80) return 0;
        if (n == 3) {
            unsigned cp = ((c & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
            if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        }
        if (n == 4) {
            unsigned cp = ((c & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12);
            if (cp < 0x10000 || cp > 0x10FFFF) return 0;
        }
        i += n;
    }
    return 1;
}

static int json_str(buf_t *b, const char *s, size_t len)
{
    int rc = buf_append_byte(b, '"');
    for (size_t i = 0; rc == 0 && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            rc = buf_printf(b, "\\%c", c);
        else if (c == '\n')
            rc = buf_append_str(b, "\\n");
        else if (c == '\r')
            rc = buf_append_str(b, "\\r");
        else if (c == '\t')
            rc = buf_append_str(b, "\\t");
        else if (c < 0x20 || c == 0x7f)
            rc = buf_printf(b, "\\u%04x", c);
        else
            rc = buf_append_byte(b, c);
    }
    return rc ? rc : buf_append_byte(b, '"');
}

static int json_b64(buf_t *b, const unsigned char *s, size_t len)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int rc = buf_append_byte(b, '"');
    for (size_t i = 0; rc == 0 && i < len; i += 3) {
        unsigned v = (unsigned)s[i] << 16;
        if (i + 1 < len) v |= (unsigned)s[i + 1] << 8;
        if (i + 2 < len) v |= s[i + 2];
        char q[4] = {A[v >> 18], A[(v >> 12) & 63], i + 1 < len ? A[(v >> 6) & 63] : '=',
                     i + 2 < len ? A[v & 63] : '='};
        rc = buf_append(b, q, 4);
    }
    return rc ? rc : buf_append_byte(b, '"');
}

static int json_key_str(buf_t *b, const char *key, const char *val)
{
    int rc = buf_printf(b, ",\"%s\":", key);
    if (rc) return rc;
    return val ? json_str(b, val, strlen(val)) : buf_append_str(b, "null");
}

static char *finish_line(buf_t *b, int rc)
{
    if (rc == 0) rc = buf_append_str(b, "}\n");
    if (rc) {
        buf_free(b);
        return NULL;
    }
    return buf_steal(b);
}

void cli_prefix_text(const char *label, size_t index, int color, char *out, size_t len)
{
    static const int colors[] = {32, 33, 34, 35, 36, 31, 92, 93, 94, 95, 96, 91};
    if (color)
        snprintf(out, len, "\033[%dm%s\033[0m ", colors[index % 12], label);
    else
        snprintf(out, len, "%s ", label);
}

char *cli_json_chunk(const char *ns, const char *pod, const char *container, int fd,
                     const char *data, size_t len)
{
    buf_t b;
    buf_init(&b, 0);
    int rc = buf_append_str(&b, "{\"type\":\"output\"");
    if (!rc) rc = json_key_str(&b, "namespace", ns);
    if (!rc) rc = json_key_str(&b, "pod", pod);
    if (!rc) rc = json_key_str(&b, "container", container);
    if (!rc) rc = json_key_str(&b, "stream", fd == 2 ? "stderr" : "stdout");
    int text = utf8_valid((const unsigned char *)data, len);
    if (!rc) rc = buf_append_str(&b, text ? ",\"data\":" : ",\"data_b64\":");
    if (!rc) rc = text ? json_str(&b, data, len) : json_b64(&b, (const unsigned char *)data, len);
    return finish_line(&b, rc);
}

char *cli_json_result(const pmx_fanout_result_t *r)
{
    const pmx_exit_t *ex = &r->exit;
    buf_t b;
    buf_init(&b, 0);
    int rc = buf_append_str(&b, "{\"type\":\"result\"");
    if (!rc) rc = json_key_str(&b, "namespace", r->namespace_);
    if (!rc) rc = json_key_str(&b, "pod", r->pod);
    if (!rc) rc = json_key_str(&b, "container", r->container);
    if (!rc && ex->err == 0) rc = buf_printf(&b, ",\"exit_code\":%d", ex->exit_code);
    if (!rc && ex->err == 0) rc = buf_append_str(&b, ",\"error\":null");
    if (!rc && ex->err < 0) rc = buf_append_str(&b, ",\"exit_code\":null");
    if (!rc && ex->err < 0) {
        char tmp[512];
        rc = json_key_str(&b, "error", result_text(r, tmp, sizeof tmp));
        if (!rc) rc = json_key_str(&b, "error_code", pmx_err_name(ex->err));
    }
    if (!rc && ex->err < 0 && ex->http_status)
        rc = buf_printf(&b, ",\"http_status\":%d", ex->http_status);
    if (!rc)
        rc = buf_printf(&b,
                        ",\"skipped\":%s,\"duration\":%.3f,\"bytes_out\":%llu,\"bytes_in\":%llu,"
                        "\"attempts\":%u",
                        ex->err == PMX_ESKIPPED ? "true" : "false", r->seconds,
                        (unsigned long long)ex->bytes_out, (unsigned long long)ex->bytes_in,
                        r->attempts);
    return finish_line(&b, rc);
}

/* ---- summary and exit codes ------------------------------------------------------------------ */
void cli_tally_add(cli_tally_t *t, const pmx_exit_t *ex)
{
    if (ex->err == PMX_ESKIPPED)
        t->skipped++;
    else if (ex->err == PMX_ECANCELED)
        t->canceled++;
    else if (ex->err < 0)
        t->failed++;
    else if (ex->exit_code != 0)
        t->nonzero++;
    else
        t->ok++;
}

int cli_exit_code(const cli_tally_t *t)
{
    if (t->failed) return CLI_EXIT_FAIL;
    if (t->nonzero) return 1; /* --fail-fast after a non-zero exit: that exit is the news */
    if (t->canceled && !t->detached) return CLI_EXIT_FAIL; /* they never finished */
    if (t->canceled) return 0;                             /* the user detached */
    if (!t->ok) return CLI_EXIT_FAIL;                      /* nothing ran at all */
    return 0;
}

/* The library starts some messages with "ns/pod: "; where the pod is named already, drop it. */
static const char *without_label(const pmx_fanout_result_t *r, const char *msg)
{
    size_t nl = strlen(r->namespace_), pl = strlen(r->pod);
    if (!strncmp(msg, r->namespace_, nl) && msg[nl] == '/' && !strncmp(msg + nl + 1, r->pod, pl) &&
        !strncmp(msg + nl + 1 + pl, ": ", 2))
        return msg + nl + pl + 3;
    return msg;
}

static const char *result_text(const pmx_fanout_result_t *r, char *buf, size_t len)
{
    cli_exit_text(&r->exit, buf, len);
    cli_strip_status(buf);
    return without_label(r, buf);
}

void cli_strip_status(char *s)
{
    /* The library's detail ends in " (404)"; kubectl's wording does not. */
    size_t n = strlen(s);
    if (n > 6 && s[n - 1] == ')' && s[n - 6] == ' ' && s[n - 5] == '(' &&
        strspn(s + n - 4, "0123456789") == 3)
        s[n - 6] = 0;
}

const char *cli_exit_text(const pmx_exit_t *ex, char *buf, size_t len)
{
    if (ex->err == 0)
        snprintf(buf, len, "exit %d", ex->exit_code);
    else if (ex->message && *ex->message)
        snprintf(buf, len, "%s", ex->message);
    else
        snprintf(buf, len, "%s", pmx_strerror(ex->err));
    return buf;
}

static int same_namespace(const pmx_fanout_result_t *const *r, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (strcmp(r[i]->namespace_, r[0]->namespace_)) return 0;
    return 1;
}

size_t cli_summary(const pmx_fanout_result_t *const *r, size_t n, int show_container, char *out,
                   size_t outlen)
{
    int sc = show_container;
    cli_tally_t t = {0};
    for (size_t i = 0; i < n; i++)
        cli_tally_add(&t, &r[i]->exit);
    char canceled[48] = "";
    if (t.canceled) snprintf(canceled, sizeof canceled, ", %zu canceled", t.canceled);
    size_t w = (size_t)snprintf(
        out, outlen, "podmux: %zu ok, %zu non-zero, %zu failed, %zu skipped%s (%zu pod%s)\n", t.ok,
        t.nonzero, t.failed, t.skipped, canceled, n, n == 1 ? "" : "s");
    if (w >= outlen) return outlen ? outlen - 1 : 0;
    int ns = !same_namespace(r, n);
    size_t shown = 0, bad = t.nonzero + t.failed + t.skipped;
    for (size_t i = 0; i < n && w < outlen; i++) {
        const pmx_exit_t *ex = &r[i]->exit;
        if ((ex->err == 0 && ex->exit_code == 0) || ex->err == PMX_ECANCELED) continue;
        char text[512], line[1024];
        int ll = snprintf(line, sizeof line, "  %s%s%s%s%s: %s%s\n", ns ? r[i]->namespace_ : "",
                          ns ? "/" : "", r[i]->pod, sc && r[i]->container ? "/" : "",
                          sc && r[i]->container ? r[i]->container : "",
                          ex->err == PMX_ESKIPPED ? "skipped: " : "",
                          result_text(r[i], text, sizeof text));
        if (ll < 0) break;
        if (w + (size_t)ll + 40 >= outlen) { /* keep room to say how many were left out */
            w += (size_t)snprintf(out + w, outlen - w, "  ... and %zu more\n", bad - shown);
            return w < outlen ? w : outlen - 1;
        }
        memcpy(out + w, line, (size_t)ll + 1);
        w += (size_t)ll;
        shown++;
    }
    if (!t.canceled || w + 80 >= outlen) return w < outlen ? w : outlen - 1;
    /* The canceled ones in one line (--fail-fast, a signal, a detach): names up to a width. */
    size_t start = w, listed = 0;
    w += (size_t)snprintf(out + w, outlen - w, "  canceled:");
    for (size_t i = 0; i < n; i++) {
        if (r[i]->exit.err != PMX_ECANCELED) continue;
        char name[600];
        int nl = snprintf(name, sizeof name, " %s%s%s%s%s%s", ns ? r[i]->namespace_ : "",
                          ns ? "/" : "", r[i]->pod, sc && r[i]->container ? "/" : "",
                          sc && r[i]->container ? r[i]->container : "",
                          listed + 1 < t.canceled ? "," : "");
        if (nl < 0) break;
        if (w - start + (size_t)nl > 200 || w + (size_t)nl + 40 >= outlen) {
            w += (size_t)snprintf(out + w, outlen - w, " ... and %zu more", t.canceled - listed);
            break;
        }
        memcpy(out + w, name, (size_t)nl + 1);
        w += (size_t)nl;
        listed++;
    }
    if (w + 1 < outlen) out[w++] = '\n', out[w] = '\0';
    return w < outlen ? w : outlen - 1;
}
