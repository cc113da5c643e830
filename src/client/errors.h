/* errors: the one place where the library's internal error families become PMX_E* codes.
 *
 * Inside the library, the engines and helpers return -errno (src/proto, src/util, src/kube),
 * libuv's UV_* (which are -errno on Linux, plus UV_EAI_* and UV_EOF), TLS_E* (src/proto/tls.h)
 * or WS_WOULDBLOCK (src/proto/ws.h). A public function never returns one of those: whatever it
 * got from below goes through pmx__err_from_internal() first. */
#ifndef PMX_CLIENT_ERRORS_H
#define PMX_CLIENT_ERRORS_H

/* Maps an internal code to a PMX_E* code. 0 and positive values (sizes, counts) and PMX_E*
 * codes pass through unchanged; any other negative value becomes the closest PMX_E* code, and
 * PMX_EIO when nothing closer fits. */
int pmx__err_from_internal(int code);

/* Maps an HTTP status of a refused request to a PMX_E* code. */
int pmx__err_from_http(int status);

#endif
