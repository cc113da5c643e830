/* http: HTTP/1.1 requests and responses as bytes. Writing is plain formatting; reading is
 * http-parser 2.9 driven by callbacks that copy the pieces into an http_msg_t. What only a
 * server needs (the response writer, query lookup, subprotocol choice) is podmux-sim's, in
 * src/sim/http_server.c. */
#include "proto/http.h"

#include <errno.h>
#include <http_parser.h>
#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* m->state bits: the low two say which header piece the parser is in, the rest are flags. */
#define HS_NONE 0
#define HS_FIELD 1
#define HS_VALUE 2
#define HS_MASK 3
#define F_HEADERS_DONE 4
#define F_DONE 8
#define F_E2BIG 16
#define F_FAILED 32
#define F_URL_DONE 64

/* Per-header overhead counted against the limit (": " and CRLF), so that many empty headers
 * still cost something. */
#define HEADER_OVERHEAD 4

/* ---- writing --------------------------------------------------------------------------- */

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

/* Undo a partial append so a failed writer leaves the buffer as it was. */
static int rollback(buf_t *b, size_t len, int err)
{
    b->len = len;
    if (b->data) b->data[len] = '\0';
    return err;
}

int http_query_escape(buf_t *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t start = out->len;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int r;
        if (is_unreserved(*p)) {
            r = buf_append_byte(out, *p);
        } else if (*p == ' ') {
            r = buf_append_byte(out, '+');
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            r = buf_append(out, e, 3);
        }
        if (r) return rollback(out, start, r);
    }
    return 0;
}

int http_query_add(buf_t *path, int *first, const char *key, const char *value)
{
    size_t start = path->len;
    int r = buf_append_byte(path, *first ? '?' : '&');
    if (!r) r = http_query_escape(path, key);
    if (!r) r = buf_append_byte(path, '=');
    if (!r) r = http_query_escape(path, value);
    if (r) return rollback(path, start, r);
    *first = 0;
    return 0;
}

/* CR or LF inside a start line or header would let a caller's string inject headers. */
static int has_crlf(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

static int write_headers(buf_t *out, const char *const *headers)
{
    for (size_t i = 0; headers && headers[i]; i += 2) {
        if (!headers[i + 1]) return -EINVAL;
        if (has_crlf(headers[i]) || has_crlf(headers[i + 1]) || !headers[i][0]) return -EINVAL;
        int r = buf_printf(out, "%s: %s\r\n", headers[i], headers[i + 1]);
        if (r) return r;
    }
    return 0;
}

static int write_tail(buf_t *out, const void *body, size_t body_len)
{
    int r = 0;
    if (body) r = buf_printf(out, "Content-Length: %zu\r\n", body_len);
    if (!r) r = buf_append(out, "\r\n", 2);
    if (!r && body && body_len) r = buf_append(out, body, body_len);
    return r;
}

int http_write_fields(buf_t *out, size_t start, const char *const *headers, const void *body,
                      size_t body_len)
{
    int r = write_headers(out, headers);
    if (!r) r = write_tail(out, body, body_len);
    return r ? rollback(out, start, r) : 0;
}

int http_write_request(buf_t *out, const char *method, const char *target, const char *host,
                       const char *const *headers, const void *body, size_t body_len)
{
    if (!method || !target || !host || has_crlf(method) || has_crlf(target) || has_crlf(host) ||
        strchr(method, ' ') || strchr(target, ' '))
        return -EINVAL;
    size_t start = out->len;
    int r = buf_printf(out, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, host);
    return r ? rollback(out, start, r) : http_write_fields(out, start, headers, body, body_len);
}

/* ---- parsing: http-parser callbacks ---------------------------------------------------- */

static http_msg_t *msg_of(http_parser *p)
{
    return (http_msg_t *)p->data;
}

/* Counts bytes of the start line and headers; fails the parse once over the limit. */
static int count_header_bytes(http_msg_t *m, size_t n)
{
    m->header_bytes += n;
    if (m->header_bytes > m->max_header_bytes) {
        m->state |= F_E2BIG;
        return -1;
    }
    return 0;
}

/* The url arrives in pieces in scratch; it is complete once anything after it starts. */
static int finish_url(http_msg_t *m)
{
    if (!m->is_request || (m->state & F_URL_DONE)) return 0;
    m->state |= F_URL_DONE;
    m->url = buf_steal(&m->scratch);
    if (!m->url) m->url = strdup("");
    if (!m->url) return -1;
    const char *q = strchr(m->url, '?');
    size_t plen = q ? (size_t)(q - m->url) : strlen(m->url);
    m->path = strndup(m->url, plen);
    if (!m->path) return -1;
    if (q && !(m->query = strdup(q + 1))) return -1;
    return 0;
}

/* scratch holds "name\0value" for the header being read; commit copies it out. */
static int commit_header(http_msg_t *m)
{
    int hs = m->state & HS_MASK;
    if (hs == HS_NONE) return 0;
    if (buf_append(&m->scratch, "", 0)) return -1; /* makes scratch.data non-NULL */
    if (hs == HS_FIELD && buf_append_byte(&m->scratch, 0)) return -1;
    if (m->nheaders >= HTTP_MAX_HEADERS) {
        m->state |= F_E2BIG;
        return -1;
    }
    size_t nlen = strlen(m->scratch.data);
    http_header_t *h = &m->headers[m->nheaders];
    h->name = strdup(m->scratch.data);
    h->value = strdup(m->scratch.data + nlen + 1);
    if (!h->name || !h->value) {
        free(h->name);
        free(h->value);
        h->name = h->value = NULL;
        return -1;
    }
    m->nheaders++;
    buf_reset(&m->scratch);
    m->state &= ~HS_MASK;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    http_msg_t *m = msg_of(p);
    if (count_header_bytes(m, len)) return -1;
    return buf_append(&m->scratch, at, len) ? -1 : 0;
}

static int on_status(http_parser *p, const char *at, size_t len)
{
    return count_header_bytes(msg_of(p), len);
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    http_msg_t *m = msg_of(p);
    if (count_header_bytes(m, len)) return -1;
    if (finish_url(m)) return -1;
    if ((m->state & HS_MASK) == HS_VALUE && commit_header(m)) return -1;
    if ((m->state & HS_MASK) == HS_NONE) {
        if (count_header_bytes(m, HEADER_OVERHEAD)) return -1;
        m->state |= HS_FIELD;
    }
    return buf_append(&m->scratch, at, len) ? -1 : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    http_msg_t *m = msg_of(p);
    if (count_header_bytes(m, len)) return -1;
    if ((m->state & HS_MASK) == HS_FIELD) {
        if (buf_append_byte(&m->scratch, 0)) return -1;
        m->state = (m->state & ~HS_MASK) | HS_VALUE;
    }
    return buf_append(&m->scratch, at, len) ? -1 : 0;
}

static int on_headers_complete(http_parser *p)
{
    http_msg_t *m = msg_of(p);
    if (finish_url(m) || commit_header(m)) return -1;
    m->state |= F_HEADERS_DONE;
    m->status = m->is_request ? 0 : (int)p->status_code;
    /* http-parser takes "HTTP/1.1 10"; Go (and so every real server) uses three digits. */
    if (!m->is_request && m->status < 100) return -1;
    if (m->is_request && !(m->method = strdup(http_method_str((enum http_method)p->method))))
        return -1;
    m->keep_alive = http_should_keep_alive(p);
    m->http_major = p->http_major;
    m->http_minor = p->http_minor;
    /* A 101 has no body whatever its headers say (Go ignores Content-Length and
     * Transfer-Encoding there): 2 tells http-parser "upgrade, no body", so the bytes after the
     * headers are the next protocol's. */
    if (!m->is_request && m->status == 101) return 2;
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    http_msg_t *m = msg_of(p);
    if (m->body_cap) {
        size_t room = m->body.len < m->body_cap ? m->body_cap - m->body.len : 0;
        if (len > room) {
            m->body_truncated = 1;
            len = room;
        }
    }
    if (len && buf_append(&m->body, at, len)) {
        m->state |= F_E2BIG;
        return -1;
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    http_msg_t *m = msg_of(p);
    m->state |= F_DONE;
    m->upgrade = p->upgrade;
    m->keep_alive = http_should_keep_alive(p);
    /* Stop right here: whatever follows is the next message or another protocol. */
    http_parser_pause(p, 1);
    return 0;
}

/* ---- parsing: public ------------------------------------------------------------------- */

int http_msg_init(http_msg_t *m, int is_request, size_t max_header_bytes, size_t max_body)
{
    memset(m, 0, sizeof *m);
    m->is_request = is_request;
    m->max_header_bytes = max_header_bytes ? max_header_bytes : HTTP_DEFAULT_MAX_HEADER_BYTES;
    buf_init(&m->body, max_body ? max_body : HTTP_DEFAULT_MAX_BODY);
    buf_init(&m->scratch, m->max_header_bytes + 1);
    http_parser *p = calloc(1, sizeof *p);
    http_parser_settings *s = calloc(1, sizeof *s);
    if (!p || !s) {
        free(p);
        free(s);
        return -ENOMEM;
    }
    http_parser_init(p, is_request ? HTTP_REQUEST : HTTP_RESPONSE);
    p->data = m;
    s->on_url = on_url;
    s->on_status = on_status;
    s->on_header_field = on_header_field;
    s->on_header_value = on_header_value;
    s->on_headers_complete = on_headers_complete;
    s->on_body = on_body;
    s->on_message_complete = on_message_complete;
    m->parser = p;
    m->settings = s;
    return 0;
}

void http_msg_free(http_msg_t *m)
{
    for (int i = 0; i < m->nheaders; i++) {
        free(m->headers[i].name);
        free(m->headers[i].value);
    }
    free(m->method);
    free(m->url);
    free(m->path);
    free(m->query);
    buf_free(&m->body);
    buf_free(&m->scratch);
    free(m->parser);
    free(m->settings);
    memset(m, 0, sizeof *m);
}

static int failed_code(const http_msg_t *m)
{
    return (m->state & F_E2BIG) ? -E2BIG : -EPROTO;
}

int http_msg_feed(http_msg_t *m, const char *data, size_t len, size_t *consumed)
{
    *consumed = 0;
    if (m->state & F_FAILED) return failed_code(m);
    if (m->state & F_DONE) return HTTP_DONE;
    if (!len) return HTTP_NEED_MORE;
    http_parser *p = m->parser;
    size_t n = http_parser_execute(p, m->settings, data, len);
    if (m->state & F_DONE) {
        *consumed = n;
        return HTTP_DONE;
    }
    enum http_errno e = HTTP_PARSER_ERRNO(p);
    if (e != HPE_OK || n != len) {
        if (e == HPE_HEADER_OVERFLOW) m->state |= F_E2BIG;
        m->state |= F_FAILED;
        return failed_code(m);
    }
    *consumed = n;
    return HTTP_NEED_MORE;
}

int http_msg_eof(http_msg_t *m)
{
    if (m->state & F_DONE) return HTTP_DONE;
    if (m->state & F_FAILED) return failed_code(m);
    /* A zero-length execute is http-parser's way of saying "the connection ended": it
     * completes a body that runs to EOF and flags anything else as truncated. */
    http_parser_execute(m->parser, m->settings, NULL, 0);
    if (m->state & F_DONE) return HTTP_DONE;
    m->state |= F_FAILED;
    return -EPROTO;
}

void http_msg_set_body_cap(http_msg_t *m, size_t cap)
{
    m->body_cap = cap;
}

int http_check_ws_101(const http_msg_t *m, char *why, size_t whylen)
{
    const char *what = NULL;
    if (m->is_request || m->status != 101)
        what = "the response is not 101 Switching Protocols";
    else if (m->http_major != 1 || m->http_minor < 1)
        what = "the 101 response is not HTTP/1.1";
    else if (!http_msg_header_has_token(m, "Upgrade", "websocket"))
        what = "the 101 response has no \"Upgrade: websocket\" header";
    else if (!http_msg_header_has_token(m, "Connection", "Upgrade"))
        what = "the 101 response has no \"Connection: Upgrade\" header";
    if (!what) return 0;
    if (why && whylen) snprintf(why, whylen, "%s", what);
    return -EPROTO;
}

const char *http_msg_header(const http_msg_t *m, const char *name)
{
    for (int i = 0; i < m->nheaders; i++)
        if (!strcasecmp(m->headers[i].name, name)) return m->headers[i].value;
    return NULL;
}

static int token_in_list(const char *list, const char *token)
{
    size_t tlen = strlen(token);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if ((size_t)(end - start) == tlen && tlen && !strncasecmp(start, token, tlen)) return 1;
    }
    return 0;
}

int http_msg_header_has_token(const http_msg_t *m, const char *name, const char *token)
{
    /* Every header line with that name counts: "Connection: a" + "Connection: b" = "a, b". */
    for (int i = 0; i < m->nheaders; i++)
        if (!strcasecmp(m->headers[i].name, name) && token_in_list(m->headers[i].value, token))
            return 1;
    return 0;
}

/* ---- WebSocket handshake ------------------------------------------------------------------ */

void ws_key_from_random(const uint8_t random16[16], char out[25])
{
    size_t olen = 0;
    if (mbedtls_base64_encode((unsigned char *)out, 25, &olen, random16, 16) || olen != 24)
        out[0] = '\0';
}

int ws_accept_for_key(const char *key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char cat[256];
    size_t klen = strlen(key);
    if (klen + sizeof guid > sizeof cat) return -EINVAL;
    memcpy(cat, key, klen);
    memcpy(cat + klen, guid, sizeof guid - 1);
    unsigned char sha[20];
    if (mbedtls_sha1_ret((const unsigned char *)cat, klen + sizeof guid - 1, sha)) return -EIO;
    size_t olen = 0;
    if (mbedtls_base64_encode((unsigned char *)out, 29, &olen, sha, sizeof sha) || olen != 28)
        return -EIO;
    return 0;
}
