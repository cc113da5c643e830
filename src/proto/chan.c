/* chan: the remotecommand channel protocols (docs/PROTOCOL.md §2): per-message channel byte,
 * base64 variants, and the error channel's Status JSON parsed the way client-go's errorDecoderV4
 * does. The server's half (Status JSON written as the kubelet / apiserver translator do, the
 * resize decoder) is podmux-sim's: src/sim/chan_server.c. */
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
