/* chan_server: the server's half of the remotecommand channel protocols (docs/PROTOCOL.md §2),
 * which only podmux-sim needs: the error channel's Status JSON written byte for byte the way the
 * kubelet / apiserver translator do, and the streaming resize decoder (Go's json.Decoder into
 * TerminalSize). Framing and status parsing are the shared engine, src/proto/chan.c. */
#include "sim/chan_server.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RESIZE_MAX_PENDING (64 * 1024) /* one resize object is ~30 bytes */
#define RESIZE_MAX_DEPTH 64

/* ---- Go-compatible JSON strings --------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (Go's rules: no overlongs, no surrogates, max
 * U+10FFFF), or 0 if the bytes there are not one. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80) return 1;
    size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (!len || s[0] > 0xf4 || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if (len == 3 && s[0] == 0xe0 && s[1] < 0xa0) return 0;  /* overlong */
    if (len == 3 && s[0] == 0xed && s[1] >= 0xa0) return 0; /* surrogate */
    if (len == 4 && s[0] == 0xf0 && s[1] < 0x90) return 0;  /* overlong */
    if (len == 4 && s[0] == 0xf4 && s[1] >= 0x90) return 0; /* > U+10FFFF */
    return len;
}

static int json_escape_byte(buf_t *out, unsigned char c)
{
    switch (c) {
    case '"':
        return buf_append(out, "\\\"", 2);
    case '\\':
        return buf_append(out, "\\\\", 2);
    case '\n':
        return buf_append(out, "\\n", 2);
    case '\r':
        return buf_append(out, "\\r", 2);
    case '\t':
        return buf_append(out, "\\t", 2);
    case '\b':
        return buf_append(out, "\\b", 2);
    case '\f':
        return buf_append(out, "\\f", 2);
    case '<':
    case '>':
    case '&':
        return buf_printf(out, "\\u%04x", c);
    default:
        return c < 0x20 ? buf_printf(out, "\\u%04x", c) : buf_append_byte(out, c);
    }
}

/* Quoted JSON string escaped as Go's encoding/json does (HTML-safe, U+2028/9 escaped,
 * invalid UTF-8 replaced by \ufffd). */
static int append_json_string(buf_t *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    int r = buf_append_byte(out, '"');
    for (size_t i = 0; !r && i < n;) {
        size_t l = utf8_seq_len(s + i, n - i);
        if (l == 0) {
            r = buf_append_str(out, "\\ufffd");
            i++;
        } else if (l == 1) {
            r = json_escape_byte(out, s[i++]);
        } else if (l == 3 && s[i] == 0xe2 && s[i + 1] == 0x80 && (s[i + 2] & 0xfe) == 0xa8) {
            r = buf_printf(out, "\\u202%c", s[i + 2] == 0xa8 ? '8' : '9');
            i += 3;
        } else {
            r = buf_append(out, s + i, l);
            i += l;
        }
    }
    return r ? r : buf_append_byte(out, '"');
}

/* ---- server-side Status builders --------------------------------------------------------- */

/* containerd's "error executing command %v, exit code %d" with %v of the argv slice. */
static int append_kubelet_exit_message(buf_t *out, int exit_code, const char *const *argv, int argc)
{
    int r = buf_append_str(out, "command terminated with non-zero exit code: "
                                "error executing command [");
    for (int i = 0; !r && i < argc; i++) {
        if (i) r = buf_append_byte(out, ' ');
        if (!r) r = buf_append_str(out, argv[i] ? argv[i] : "");
    }
    return r ? r : buf_printf(out, "], exit code %d", exit_code);
}

static int finish(buf_t *out, size_t start, int r)
{
    if (r) {
        out->len = start;
        if (out->data) out->data[start] = '\0';
    }
    return r;
}

int chan_status_exit_json(buf_t *out, int v5, int exit_code, const char *const *argv, int argc)
{
    if (exit_code < 0 || exit_code > 255 || argc < 0) return -EINVAL;
    size_t start = out->len;
    if (exit_code == 0) return buf_append_str(out, "{\"metadata\":{},\"status\":\"Success\"}");
    buf_t msg;
    buf_init(&msg, 0);
    int r = v5 ? buf_printf(&msg,
                            "command terminated with non-zero exit code: command terminated "
                            "with exit code %d",
                            exit_code)
               : append_kubelet_exit_message(&msg, exit_code, argv, argc);
    if (!r) r = buf_append_str(out, "{\"metadata\":{},\"status\":\"Failure\",\"message\":");
    if (!r) r = append_json_string(out, msg.data);
    if (!r)
        r = buf_printf(out,
                       ",\"reason\":\"NonZeroExitCode\",\"details\":{\"causes\":[{\"reason\":"
                       "\"ExitCode\",\"message\":\"%d\"}]}}",
                       exit_code);
    buf_free(&msg);
    return finish(out, start, r);
}

int chan_status_internal_json(buf_t *out, const char *msg)
{
    size_t start = out->len;
    buf_t full;
    buf_init(&full, 0);
    int r = buf_printf(&full, "Internal error occurred: %s", msg);
    if (!r) r = buf_append_str(out, "{\"metadata\":{},\"status\":\"Failure\",\"message\":");
    if (!r) r = append_json_string(out, full.data);
    if (!r)
        r = buf_append_str(out, ",\"reason\":\"InternalError\",\"details\":{\"causes\":[{"
                                "\"message\":");
    if (!r) r = append_json_string(out, msg);
    if (!r) r = buf_append_str(out, "}]},\"code\":500}");
    buf_free(&full);
    return finish(out, start, r);
}

int chan_status_v1_text(buf_t *out, int exit_code, const char *const *argv, int argc)
{
    if (exit_code < 0 || exit_code > 255 || argc < 0) return -EINVAL;
    if (exit_code == 0) return 0; /* the v1 family says nothing on success */
    size_t start = out->len;
    return finish(out, start, append_kubelet_exit_message(out, exit_code, argv, argc));
}

/* ---- resize: a streaming JSON decoder over channel 4 ------------------------------------- */

enum { SC_MORE = 0, SC_OK = 1, SC_ERR = -1 };

typedef struct scan {
    const char *p, *end;
} scan_t;

static void skip_ws(scan_t *s)
{
    while (s->p < s->end && strchr(" \t\r\n", *s->p) && *s->p)
        s->p++;
}

static int scan_literal(scan_t *s, const char *lit)
{
    size_t n = strlen(lit), have = (size_t)(s->end - s->p);
    if (memcmp(s->p, lit, have < n ? have : n)) return SC_ERR;
    if (have < n) return SC_MORE;
    s->p += n;
    return SC_OK;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A string; its bytes (escapes resolved for ASCII, enough to match field names) go to name. */
static int scan_string(scan_t *s, char *name, size_t cap)
{
    size_t n = 0;
    const char *p = s->p + 1;
    while (p < s->end && *p != '"') {
        char c = *p;
        if ((unsigned char)c < 0x20) return SC_ERR;
        if (c == '\\') {
            if (p + 1 >= s->end) return SC_MORE;
            const char *esc = strchr("\"\\/bfnrtu", p[1]);
            if (!esc || !p[1]) return SC_ERR;
            if (p[1] == 'u') {
                for (int i = 2; i < 6; i++) {
                    if (p + i >= s->end) return SC_MORE;
                    if (!is_hex(p[i])) return SC_ERR;
                }
                unsigned v = (unsigned)strtoul((char[5]){p[2], p[3], p[4], p[5], 0}, NULL, 16);
                c = v < 0x80 ? (char)v : '?';
                p += 6;
            } else {
                c = p[1] == 'b'   ? '\b'
                    : p[1] == 'f' ? '\f'
                    : p[1] == 'n' ? '\n'
                    : p[1] == 'r' ? '\r'
                    : p[1] == 't' ? '\t'
                                  : p[1];
                p += 2;
            }
        } else {
            p++;
        }
        if (name && n + 1 < cap) name[n++] = c;
    }
    if (p >= s->end) return SC_MORE;
    if (name) name[n] = '\0';
    s->p = p + 1;
    return SC_OK;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A JSON number. *uval gets its value when it is a plain unsigned integer (else -1). A number
 * that reaches the end of the buffer may go on in the next message. */
static int scan_number(scan_t *s, long *uval)
{
    const char *p = s->p;
    int plain = 1;
    if (*p == '-') p++, plain = 0;
    if (p >= s->end) return SC_MORE;
    if (*p == '0')
        p++;
    else if (is_digit(*p))
        while (p < s->end && is_digit(*p))
            p++;
    else
        return SC_ERR;
    if (p < s->end && *p == '.') {
        plain = 0;
        if (++p >= s->end) return SC_MORE;
        if (!is_digit(*p)) return SC_ERR;
        while (p < s->end && is_digit(*p))
            p++;
    }
    if (p < s->end && (*p == 'e' || *p == 'E')) {
        plain = 0;
        if (++p < s->end && (*p == '+' || *p == '-')) p++;
        if (p >= s->end) return SC_MORE;
        if (!is_digit(*p)) return SC_ERR;
        while (p < s->end && is_digit(*p))
            p++;
    }
    if (p >= s->end) return SC_MORE;
    long v = 0;
    for (const char *d = s->p; plain && d < p; d++)
        v = v > 65536 ? v : v * 10 + (*d - '0');
    *uval = plain ? v : -1;
    s->p = p;
    return SC_OK;
}

static int scan_value(scan_t *s, int depth);

/* Walks "{...}" or "[...]"; each member goes through member(), which reads the value. */
static int scan_container(scan_t *s, int depth, int (*member)(scan_t *, int, const char *, void *),
                          void *arg)
{
    int obj = *s->p == '{';
    char close = obj ? '}' : ']';
    if (depth > RESIZE_MAX_DEPTH) return SC_ERR;
    s->p++;
    skip_ws(s);
    if (s->p >= s->end) return SC_MORE;
    if (*s->p == close) {
        s->p++;
        return SC_OK;
    }
    for (;;) {
        char name[32] = "";
        int r;
        skip_ws(s);
        if (s->p >= s->end) return SC_MORE;
        if (obj) {
            if (*s->p != '"') return SC_ERR;
            if ((r = scan_string(s, name, sizeof name)) != SC_OK) return r;
            skip_ws(s);
            if (s->p >= s->end) return SC_MORE;
            if (*s->p++ != ':') return SC_ERR;
            skip_ws(s);
            if (s->p >= s->end) return SC_MORE;
        }
        r = member ? member(s, depth, name, arg) : scan_value(s, depth + 1);
        if (r != SC_OK) return r;
        skip_ws(s);
        if (s->p >= s->end) return SC_MORE;
        char c = *s->p++;
        if (c == close) return SC_OK;
        if (c != ',') return SC_ERR;
    }
}

static int scan_value(scan_t *s, int depth)
{
    long ignored;
    switch (*s->p) {
    case '{':
    case '[':
        return scan_container(s, depth, NULL, NULL);
    case '"':
        return scan_string(s, NULL, 0);
    case 't':
        return scan_literal(s, "true");
    case 'f':
        return scan_literal(s, "false");
    case 'n':
        return scan_literal(s, "null");
    default:
        return scan_number(s, &ignored);
    }
}

typedef struct size_arg {
    long width, height;
} size_arg_t;

/* Width / Height (any case) must be null or an integer that fits uint16; others are skipped. */
static int size_member(scan_t *s, int depth, const char *name, void *arg)
{
    size_arg_t *sz = arg;
    long *dst = !strcasecmp(name, "Width")    ? &sz->width
                : !strcasecmp(name, "Height") ? &sz->height
                                              : NULL;
    if (!dst) return scan_value(s, depth + 1);
    if (*s->p == 'n') return scan_literal(s, "null");
    if (*s->p != '-' && !is_digit(*s->p)) {
        int r = scan_value(s, depth + 1);
        return r == SC_OK ? SC_ERR : r; /* a string, bool or object: type error */
    }
    long v;
    int r = scan_number(s, &v);
    if (r != SC_OK) return r;
    if (v < 0 || v > 65535) return SC_ERR;
    *dst = v;
    return SC_OK;
}

void chan_resize_init(chan_resize_decoder_t *d)
{
    buf_init(&d->pending, RESIZE_MAX_PENDING);
    d->failed = 0;
}

void chan_resize_free(chan_resize_decoder_t *d)
{
    buf_free(&d->pending);
}

/* One top-level value: an object gives a size, null gives 0x0 (Go decodes null into the
 * zero TerminalSize), anything else is a type error. */
static int resize_step(scan_t *s, size_arg_t *sz)
{
    sz->width = sz->height = 0;
    if (*s->p == '{') return scan_container(s, 0, size_member, sz);
    if (*s->p == 'n') return scan_literal(s, "null");
    int r = scan_value(s, 0);
    return r == SC_OK ? SC_ERR : r;
}

int chan_resize_feed(chan_resize_decoder_t *d, const uint8_t *data, size_t len,
                     void (*cb)(void *arg, unsigned width, unsigned height), void *arg)
{
    if (d->failed) return -EPROTO;
    if (buf_append(&d->pending, data, len)) {
        d->failed = 1;
        buf_free(&d->pending);
        return -EPROTO;
    }
    scan_t s = {d->pending.data, d->pending.data + d->pending.len};
    for (;;) {
        skip_ws(&s);
        if (s.p >= s.end) break;
        const char *start = s.p;
        size_arg_t sz;
        int r = resize_step(&s, &sz);
        if (r == SC_MORE) {
            s.p = start;
            break;
        }
        if (r == SC_ERR) {
            d->failed = 1;
            buf_free(&d->pending);
            return -EPROTO;
        }
        if (cb) cb(arg, (unsigned)sz.width, (unsigned)sz.height);
    }
    buf_consume(&d->pending, (size_t)(s.p - d->pending.data));
    return 0;
}
