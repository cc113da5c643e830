/* chan: the remotecommand channel protocols (docs/PROTOCOL.md §2): per-message channel byte,
 * base64 variants, the error channel's Status JSON (parsed the way client-go's errorDecoderV4
 * does and written byte for byte the way the kubelet / apiserver translator do), and the
 * streaming resize decoder (Go's json.Decoder into TerminalSize). */
#include "proto/chan.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <mbedtls/base64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PROTO_ERR "error stream protocol error: "
#define RESIZE_MAX_PENDING (64 * 1024) /* one resize object is ~30 bytes */
#define RESIZE_MAX_DEPTH 64

/* ---- protocols -------------------------------------------------------------------------- */

static const char *const proto_names[] = {
    [CHAN_PROTO_NONE] = "",
    [CHAN_PROTO_V1] = "channel.k8s.io",
    [CHAN_PROTO_BASE64] = "base64.channel.k8s.io",
    [CHAN_PROTO_V4] = "v4.channel.k8s.io",
    [CHAN_PROTO_V4_BASE64] = "v4.base64.channel.k8s.io",
    [CHAN_PROTO_V5] = "v5.channel.k8s.io",
};

chan_proto_t chan_proto_from_name(const char *name)
{
    if (!name || !name[0]) return CHAN_PROTO_NONE;
    for (int p = CHAN_PROTO_V1; p <= CHAN_PROTO_V5; p++)
        if (!strcmp(name, proto_names[p])) return (chan_proto_t)p;
    return CHAN_PROTO_INVALID;
}

const char *chan_proto_name(chan_proto_t p)
{
    if (p < CHAN_PROTO_NONE || p > CHAN_PROTO_V5) return NULL;
    return proto_names[p];
}

int chan_proto_is_base64(chan_proto_t p)
{
    return p == CHAN_PROTO_BASE64 || p == CHAN_PROTO_V4_BASE64;
}

int chan_proto_has_close(chan_proto_t p)
{
    return p == CHAN_PROTO_V5;
}

int chan_proto_status_json(chan_proto_t p)
{
    return p == CHAN_PROTO_V4 || p == CHAN_PROTO_V4_BASE64 || p == CHAN_PROTO_V5;
}

/* ---- framing ---------------------------------------------------------------------------- */

static int valid_proto(chan_proto_t p)
{
    return p >= CHAN_PROTO_NONE && p <= CHAN_PROTO_V5;
}

static int append_base64(buf_t *out, const uint8_t *data, size_t len)
{
    size_t need = 4 * ((len + 2) / 3);
    int r = buf_reserve(out, need + 1);
    if (r) return r;
    size_t olen = 0;
    if (mbedtls_base64_encode((unsigned char *)out->data + out->len, need + 1, &olen, data, len))
        return -EIO;
    out->len += olen;
    out->data[out->len] = '\0';
    return 0;
}

int chan_encode(chan_proto_t p, int ch, const uint8_t *data, size_t len, buf_t *out, int *opcode)
{
    if (!valid_proto(p) || ch < 0 || ch > 255) return -EINVAL;
    size_t start = out->len;
    int r;
    if (chan_proto_is_base64(p)) {
        if (ch > 9) return -EINVAL; /* one ASCII digit */
        r = buf_append_byte(out, (uint8_t)('0' + ch));
        if (!r) r = append_base64(out, data, len);
        *opcode = 1;
    } else {
        r = buf_append_byte(out, (uint8_t)ch);
        if (!r) r = buf_append(out, data, len);
        *opcode = 2;
    }
    if (r) {
        out->len = start;
        if (out->data) out->data[start] = '\0';
    }
    return r;
}

int chan_encode_resize(chan_proto_t p, unsigned width, unsigned height, buf_t *out, int *opcode)
{
    if (width > 65535 || height > 65535) return -EINVAL; /* TerminalSize is uint16 */
    char json[64];
    int n = snprintf(json, sizeof json, "{\"Width\":%u,\"Height\":%u}\n", width, height);
    return chan_encode(p, CHAN_RESIZE, (const uint8_t *)json, (size_t)n, out, opcode);
}

int chan_encode_close(chan_proto_t p, int ch, buf_t *out, int *opcode)
{
    if (!chan_proto_has_close(p)) return -ENOTSUP;
    if (ch < 0 || ch > 255) return -EINVAL;
    uint8_t msg[2] = {CHAN_CLOSE, (uint8_t)ch};
    *opcode = 2;
    return buf_append(out, msg, 2);
}

/* Go's base64.StdEncoding.DecodeString: padded, '\r' and '\n' ignored anywhere. */
static int decode_base64(const uint8_t *src, size_t len, buf_t *out)
{
    uint8_t *clean = malloc(len ? len : 1);
    if (!clean) return -ENOMEM;
    size_t n = 0;
    int r = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = src[i];
        if (c == '\r' || c == '\n') continue;
        /* mbedTLS would let trailing spaces through; Go does not. */
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '='))
            r = -EPROTO;
        clean[n++] = c;
    }
    if (n % 4) r = -EPROTO;
    size_t olen = 0;
    if (!r) r = buf_reserve(out, n / 4 * 3 + 1);
    if (!r && mbedtls_base64_decode((unsigned char *)out->data + out->len, n / 4 * 3 + 1, &olen,
                                    clean, n))
        r = -EPROTO;
    free(clean);
    if (r) return r;
    out->len += olen;
    out->data[out->len] = '\0';
    return 0;
}

int chan_decode(chan_proto_t p, const uint8_t *msg, size_t len, int *ch, buf_t *out)
{
    if (!valid_proto(p)) return -EINVAL;
    *ch = -1;
    if (len == 0) return 0;
    if (!chan_proto_is_base64(p)) {
        *ch = msg[0];
        return buf_append(out, msg + 1, len - 1);
    }
    if (msg[0] < '0' || msg[0] > '9') return -EPROTO;
    int r = decode_base64(msg + 1, len - 1, out);
    if (!r) *ch = msg[0] - '0';
    return r;
}

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

/* ---- status parsing (client-go errorDecoderV4) ------------------------------------------- */

static void set_text(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap) {
        len = cap - 1;
        /* Do not cut a UTF-8 sequence in half. */
        while (len && ((unsigned char)src[len] & 0xc0) == 0x80)
            len--;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static void status_failure(chan_status_t *st, const char *reason, const char *msg)
{
    st->kind = CHAN_STATUS_FAILURE;
    st->exit_code = -1;
    set_text(st->reason, sizeof st->reason, reason, strlen(reason));
    set_text(st->message, sizeof st->message, msg, strlen(msg));
}

/* Go's %q, shortened to fit what is left of the message. */
static void quote_into(buf_t *b, const uint8_t *data, size_t len, size_t room)
{
    buf_append_byte(b, '"');
    for (size_t i = 0; i < len && b->len + 8 < room; i++) {
        unsigned char c = data[i];
        if (c == '"' || c == '\\')
            buf_printf(b, "\\%c", c);
        else if (c == '\n')
            buf_append_str(b, "\\n");
        else if (c == '\r')
            buf_append_str(b, "\\r");
        else if (c == '\t')
            buf_append_str(b, "\\t");
        else if (c < 0x20 || c == 0x7f)
            buf_printf(b, "\\x%02x", c);
        else
            buf_append_byte(b, c);
    }
    buf_append_byte(b, '"');
}

static void protocol_error_json(chan_status_t *st, const char *what, const uint8_t *data,
                                size_t len)
{
    buf_t b;
    buf_init(&b, sizeof st->message * 2);
    buf_printf(&b, PROTO_ERR "%s in ", what);
    quote_into(&b, data, len, sizeof st->message);
    status_failure(st, "ProtocolError", b.data ? b.data : PROTO_ERR "out of memory");
    buf_free(&b);
}

/* A field Go would fail to unmarshal into its Status type makes the whole decode fail. */
static const char *type_error(const cJSON *obj, const char *name, int want_type)
{
    const cJSON *v = cJSON_GetObjectItem(obj, name);
    if (!v || cJSON_IsNull(v)) return NULL;
    if (want_type == cJSON_String && !cJSON_IsString(v)) return name;
    if (want_type == cJSON_Object && !cJSON_IsObject(v)) return name;
    if (want_type == cJSON_Array && !cJSON_IsArray(v)) return name;
    if (want_type == cJSON_Number) {
        /* Status.code is an int32: a fraction or an out-of-range value fails in Go. */
        if (!cJSON_IsNumber(v)) return name;
        double d = v->valuedouble;
        if (!(d >= INT_MIN && d <= INT_MAX) || d != (double)(long long)d) return name;
    }
    return NULL;
}

static const char *status_type_error(const cJSON *root)
{
    static const struct {
        const char *name;
        int type;
    } fields[] = {{"kind", cJSON_String},     {"apiVersion", cJSON_String},
                  {"metadata", cJSON_Object}, {"status", cJSON_String},
                  {"message", cJSON_String},  {"reason", cJSON_String},
                  {"details", cJSON_Object},  {"code", cJSON_Number}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *bad = type_error(root, fields[i].name, fields[i].type);
        if (bad) return bad;
    }
    const cJSON *details = cJSON_GetObjectItem(root, "details");
    if (!cJSON_IsObject(details)) return NULL;
    if (type_error(details, "causes", cJSON_Array)) return "details.causes";
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(details, "causes"))
    {
        if (!cJSON_IsObject(c) && !cJSON_IsNull(c)) return "details.causes";
        if (type_error(c, "reason", cJSON_String) || type_error(c, "message", cJSON_String))
            return "details.causes.reason";
    }
    return NULL;
}

static const char *str_field(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItem(obj, name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* strconv.ParseUint(s, 10, 8): digits only, no sign, 0..255. */
static int parse_u8(const char *s)
{
    if (!*s) return -1;
    int v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        v = v * 10 + (*s - '0');
        if (v > 255) return -1;
    }
    return v;
}

static void parse_nonzero_exit(const cJSON *root, chan_status_t *st)
{
    const cJSON *details = cJSON_GetObjectItem(root, "details");
    if (!cJSON_IsObject(details)) {
        status_failure(st, "ProtocolError", PROTO_ERR "details must be set");
        return;
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(details, "causes"))
    {
        if (strcmp(str_field(c, "reason"), "ExitCode")) continue;
        const char *m = str_field(c, "message");
        int code = parse_u8(m);
        if (code < 0) {
            char buf[sizeof st->message];
            buf_t b;
            buf_init(&b, sizeof buf * 2);
            buf_append_str(&b, PROTO_ERR "invalid exit code value ");
            quote_into(&b, (const uint8_t *)m, strlen(m), sizeof st->message);
            status_failure(st, "ProtocolError", b.data ? b.data : PROTO_ERR);
            buf_free(&b);
            return;
        }
        st->kind = CHAN_STATUS_EXIT;
        st->exit_code = code;
        set_text(st->reason, sizeof st->reason, "NonZeroExitCode", 15);
        snprintf(st->message, sizeof st->message, "command terminated with exit code %d", code);
        return;
    }
    status_failure(st, "ProtocolError", PROTO_ERR "no ExitCode cause given");
}

static void parse_status_json(const uint8_t *data, size_t len, chan_status_t *st)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)data, len, &end, 0);
    /* Anything but whitespace after the value is an error for Go's json.Unmarshal. */
    while (root && end < (const char *)data + len && strchr(" \t\r\n", *end) && *end)
        end++;
    if (!root || end != (const char *)data + len) {
        protocol_error_json(st, "invalid JSON", data, len);
        cJSON_Delete(root);
        return;
    }
    const char *bad = cJSON_IsObject(root) ? status_type_error(root) : NULL;
    if (bad || (!cJSON_IsObject(root) && !cJSON_IsNull(root))) {
        char what[128];
        snprintf(what, sizeof what, "json: cannot unmarshal into Go value of type Status%s%s",
                 bad ? " field " : "", bad ? bad : "");
        protocol_error_json(st, what, data, len);
        cJSON_Delete(root);
        return;
    }
    const cJSON *code = cJSON_GetObjectItem(root, "code");
    st->http_code = cJSON_IsNumber(code) ? code->valueint : 0;
    const char *status = str_field(root, "status");
    if (!strcmp(status, "Success")) {
        st->kind = CHAN_STATUS_SUCCESS;
        st->exit_code = 0;
    } else if (strcmp(status, "Failure")) {
        status_failure(st, "ProtocolError", PROTO_ERR "unknown error");
    } else if (!strcmp(str_field(root, "reason"), "NonZeroExitCode")) {
        parse_nonzero_exit(root, st);
    } else {
        status_failure(st, str_field(root, "reason"), str_field(root, "message"));
    }
    cJSON_Delete(root);
}

int chan_status_parse(chan_proto_t p, const uint8_t *data, size_t len, chan_status_t *st)
{
    memset(st, 0, sizeof *st);
    st->kind = CHAN_STATUS_FAILURE;
    st->exit_code = -1;
    if (!valid_proto(p)) return -EINVAL;
    /* Nothing on the error channel: client-go calls that success, podmux refuses to guess. */
    if (len == 0) return -ENODATA;
    if (chan_proto_status_json(p)) {
        parse_status_json(data, len, st);
    } else {
        st->kind = CHAN_STATUS_FAILURE;
        set_text(st->message, sizeof st->message, (const char *)data, len);
    }
    return 0;
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
