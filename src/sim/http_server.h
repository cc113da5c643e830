/* http_server: the server half of HTTP/1.1 (podmux-sim only); see http_server.c. */
#ifndef PMX_SIM_HTTP_SERVER_H
#define PMX_SIM_HTTP_SERVER_H

#include "proto/http.h"

/* Appends a response: status line with the standard reason phrase, headers (NULL-terminated
 * name,value,... as for http_write_request), Content-Length when body is non-NULL (even 0), and
 * the body. -EINVAL for a status outside 100..999 or a header with CR/LF. */
int http_write_response(buf_t *out, int status, const char *const *headers, const void *body,
                        size_t body_len);
/* Go's net/http StatusText for the codes an API server produces; "" for others. */
const char *http_reason_phrase(int status);

/* Query parameter lookup on a request: decodes '+' and %XX into a heap string. With index i,
 * the i-th occurrence (command=a&command=b). Returns NULL if absent. Caller frees. */
char *http_msg_query_get(const http_msg_t *m, const char *key, int index);
/* Decodes a form-encoded value; returns heap string or NULL on bad %XX. */
char *http_query_unescape(const char *s, size_t len);

/* Server side: picks the first entry of the client's first Sec-WebSocket-Protocol header (a
 * comma-separated list; entries trimmed) that is in supported (NULL-terminated). Returns the
 * index in supported, or -1. "" in supported matches a request with no protocol header. */
int ws_choose_protocol(const char *client_header, const char *const *supported);

#endif
