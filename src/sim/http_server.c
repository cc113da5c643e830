/* http_server: the server half of HTTP/1.1, which only podmux-sim needs: the response writer
 * with Go's reason phrases, query-parameter lookup on a request, and the choice of a WebSocket
 * subprotocol from the client's offer. The shared engine (requests, parsing) is src/proto/http.c.
 */
#include "sim/http_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- responses ------------------------------------------------------------------------- */

int http_write_response(buf_t *out, int status, const char *const *headers, const void *body,
                        size_t body_len)
{
    if (status < 100 || status > 999) return -EINVAL;
    size_t start = out->len;
    const char *phrase = http_reason_phrase(status);
    int r = phrase[0] ? buf_printf(out, "HTTP/1.1 %03d %s\r\n", status, phrase)
                      : buf_printf(out, "HTTP/1.1 %03d status code %d\r\n", status, status);
    if (r) {
        out->len = start;
        if (out->data) out->data[start] = '\0';
        return r;
    }
    return http_write_fields(out, start, headers, body, body_len);
}

const char *http_reason_phrase(int status)
{
    /* Go's net/http StatusText for the codes a Kubernetes API server can produce. */
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 413:
        return "Request Entity Too Large";
    case 414:
        return "Request URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Entity";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "";
    }
}

/* ---- request queries --------------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char *http_query_unescape(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%') {
            int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
            int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
            if (lo < 0) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* Is the raw pair's key (before '=') equal to key once unescaped? */
static int pair_key_is(const char *pair, size_t plen, const char *key)
{
    const char *eq = memchr(pair, '=', plen);
    size_t klen = eq ? (size_t)(eq - pair) : plen;
    char *k = http_query_unescape(pair, klen);
    int same = k && !strcmp(k, key);
    free(k);
    return same;
}

char *http_msg_query_get(const http_msg_t *m, const char *key, int index)
{
    /* Go's url.ParseQuery: pairs split on '&', a pair holding ';' is rejected, pairs with a
     * bad escape are skipped, a pair without '=' has the empty value. */
    const char *q = m->query;
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t plen = amp ? (size_t)(amp - q) : strlen(q);
        if (plen && !memchr(q, ';', plen) && pair_key_is(q, plen, key)) {
            const char *eq = memchr(q, '=', plen);
            const char *v = eq ? eq + 1 : q + plen;
            char *val = http_query_unescape(v, (size_t)(q + plen - v));
            if (val && index-- == 0) return val;
            free(val);
        }
        q = amp ? amp + 1 : NULL;
    }
    return NULL;
}

/* ---- WebSocket subprotocol ------------------------------------------------------------------ */

static int supported_index(const char *tok, size_t len, const char *const *supported)
{
    for (int i = 0; supported[i]; i++)
        if (strlen(supported[i]) == len && !strncmp(supported[i], tok, len)) return i;
    return -1;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

int ws_choose_protocol(const char *client_header, const char *const *supported)
{
    /* x/net + apimachinery: the header is trimmed; empty or absent means the list {""}. */
    const char *p = client_header ? client_header : "";
    while (is_space(*p))
        p++;
    if (!*p) return supported_index("", 0, supported);
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *s = p;
        while (s < end && is_space(*s))
            s++;
        while (end > s && is_space(end[-1]))
            end--;
        int i = supported_index(s, (size_t)(end - s), supported);
        if (i >= 0) return i;
        if (!comma) return -1;
        p = comma + 1;
    }
}
