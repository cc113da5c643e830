/* http: HTTP/1.1 requests and responses as bytes, parsed with http-parser. Pure: no I/O.
 * Used by the client (requests out, responses in) and podmux-sim (requests in; its response
 * writer is src/sim/http_server.h). */
#ifndef PMX_NET_HTTP_H
#define PMX_NET_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define HTTP_MAX_HEADERS 64
#define HTTP_DEFAULT_MAX_HEADER_BYTES (64 * 1024)
#define HTTP_DEFAULT_MAX_BODY (8 * 1024 * 1024)

/* Status of a *_feed call. */
#define HTTP_NEED_MORE 0 /* consumed everything, message not complete */
#define HTTP_DONE 1      /* message complete (for an upgrade: headers complete) */
/* errors: -EPROTO (malformed), -E2BIG (header or body over its limit) */

typedef struct http_header {
    char *name; /* as received */
    char *value;
} http_header_t;

/* ---- writing --------------------------------------------------------------------------- */
/* Appends s form-encoded for a query value, the way Go's url.Values.Encode does: space -> '+',
 * [A-Za-z0-9-_.~] as is, every other byte %XX (upper-case hex). Works on raw bytes (UTF-8 ok). */
int http_query_escape(buf_t *out, const char *s);
/* Appends "&key=value" (or "?key=value" if first) with the value escaped. */
int http_query_add(buf_t *path, int *first, const char *key, const char *value);
/* Appends "METHOD target HTTP/1.1\r\nHost: host\r\n" then each header "Name: value\r\n"
 * (headers is NULL-terminated name,value,name,value,...), then Content-Length if body, then
 * "\r\n" and the body. */
int http_write_request(buf_t *out, const char *method, const char *target, const char *host,
                       const char *const *headers, const void *body, size_t body_len);
/* Appends headers (as above), Content-Length when body is non-NULL (even 0), "\r\n" and the body
 * after a start line the caller wrote; on failure cuts out back to start (where the start line
 * began) and returns the error. */
int http_write_fields(buf_t *out, size_t start, const char *const *headers, const void *body,
                      size_t body_len);

/* ---- parsing --------------------------------------------------------------------------- */
typedef struct http_msg {
    /* filled in by the parser */
    int is_request;
    int status;   /* response */
    char *method; /* request: "GET" ... */
    char *url;    /* request target as sent */
    char *path;   /* request: decoded? no: raw path part of url (before '?') */
    char *query;  /* request: raw query part (after '?'), or NULL */
    http_header_t headers[HTTP_MAX_HEADERS];
    int nheaders;
    buf_t body;  /* de-chunked */
    int upgrade; /* the message asks for/accepts an upgrade; parsing stopped after the headers */
    int keep_alive;
    int http_major, http_minor; /* the version the peer sent */
    int body_truncated;         /* body_cap dropped bytes */
    size_t body_cap;            /* 0: none (max_body fails the message instead) */
    /* private */
    void *parser; /* http_parser* */
    void *settings;
    buf_t scratch;
    int state;
    size_t header_bytes, max_header_bytes;
} http_msg_t;

/* is_request: parse a request (server) or a response (client). */
int http_msg_init(http_msg_t *m, int is_request, size_t max_header_bytes, size_t max_body);
void http_msg_free(http_msg_t *m);
/* Feeds bytes. *consumed says how many were used: after HTTP_DONE on an upgrade, the bytes
 * after the headers belong to the next protocol and are NOT consumed. For a response to a
 * request that had no body (HEAD) or a 1xx/204/304, done at headers. For a response with neither
 * Content-Length nor chunked, call http_msg_eof() when the connection ends. */
int http_msg_feed(http_msg_t *m, const char *data, size_t len, size_t *consumed);
int http_msg_eof(http_msg_t *m);
/* Keep at most cap bytes of the body and drop the rest (body_truncated is set) instead of
 * failing at max_body: for error bodies, of which only the message is wanted. */
void http_msg_set_body_cap(http_msg_t *m, size_t cap);
/* A WebSocket upgrade response as RFC 6455 4.1 wants it: HTTP/1.1 (or later 1.x) 101 with
 * "Upgrade: websocket" and "Connection: Upgrade" (tokens, any case). Returns 0, or -EPROTO with
 * a phrase naming what is wrong in why. (A 101's Content-Length or Transfer-Encoding is
 * ignored by the parser: the bytes after its headers are not a body.) */
int http_check_ws_101(const http_msg_t *m, char *why, size_t whylen);
/* Case-insensitive lookup of the first header with that name; NULL if absent. */
const char *http_msg_header(const http_msg_t *m, const char *name);
/* 1 if the comma-separated header `name` contains token (case-insensitive), e.g.
 * Connection: keep-alive, Upgrade. */
int http_msg_header_has_token(const http_msg_t *m, const char *name, const char *token);
/* ---- WebSocket handshake ------------------------------------------------------------------ */
/* 16 random bytes -> base64 key (24 chars + NUL). */
void ws_key_from_random(const uint8_t random16[16], char out[25]);
/* base64(sha1(key + GUID)) (28 chars + NUL). */
int ws_accept_for_key(const char *key, char out[29]);
#endif
