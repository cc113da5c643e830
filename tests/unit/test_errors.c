/* The public error domain: PMX_E* codes live apart from every internal family, each has its own
 * name and message, and pmx__err_from_internal() maps each internal family to them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <uv.h>

#include "client/errors.h"
#include "podmux.h"
#include "proto/tls.h"
#include "proto/ws.h"

static const struct {
    int code;
    const char *name;
} codes[] = {
#define ROW(name, val, msg) {PMX_##name, "PMX_" #name},
    PMX_ERRNO_MAP(ROW)
#undef ROW
};
#define NCODES (sizeof codes / sizeof codes[0])

static void test_codes_outside_errno(void **state)
{
    for (size_t i = 0; i < NCODES; i++) {
        assert_true(codes[i].code < 0);
        for (int e = 1; e <= 4095; e++)
            if (codes[i].code == -e) fail_msg("%s == -%d (an errno value)", codes[i].name, e);
        /* nor one of libuv's (UV_EAI_* are -3000.., UV_EOF -4095) or TLS_E* */
        assert_true(codes[i].code < -4095);
        assert_int_not_equal(codes[i].code, TLS_EVERIFY);
        assert_int_not_equal(codes[i].code, TLS_EHOSTNAME);
        assert_int_not_equal(codes[i].code, TLS_EHANDSHAKE);
        assert_int_not_equal(codes[i].code, TLS_ECLOSED);
        assert_int_not_equal(codes[i].code, WS_WOULDBLOCK);
    }
}

static void test_names_and_messages_distinct(void **state)
{
    for (size_t i = 0; i < NCODES; i++) {
        const char *name = pmx_err_name(codes[i].code);
        const char *msg = pmx_strerror(codes[i].code);
        assert_string_equal(name, codes[i].name);
        assert_true(msg[0] != '\0');
        assert_string_not_equal(msg, "unknown error");
        for (size_t j = 0; j < i; j++) {
            if (codes[i].code == codes[j].code)
                fail_msg("%s and %s share %d", codes[i].name, codes[j].name, codes[i].code);
            if (!strcmp(msg, pmx_strerror(codes[j].code)))
                fail_msg("%s and %s share the message \"%s\"", codes[i].name, codes[j].name, msg);
        }
    }
    assert_string_equal(pmx_err_name(0), "PMX_OK");
    assert_string_equal(pmx_err_name(-ENOMEM), "PMX_UNKNOWN");
    assert_string_equal(pmx_strerror(-EPERM), "unknown error");
    assert_string_equal(pmx_err_name(PMX_ENOFILES), "PMX_ENOFILES");
    assert_string_equal(pmx_strerror(PMX_ENOFILES), "too many open files");
}

static void test_map_passes_through(void **state)
{
    for (size_t i = 0; i < NCODES; i++)
        assert_int_equal(pmx__err_from_internal(codes[i].code), codes[i].code);
    assert_int_equal(pmx__err_from_internal(0), 0);
    assert_int_equal(pmx__err_from_internal(42), 42); /* sizes and counts */
}

static void test_map_errno(void **state)
{
    assert_int_equal(pmx__err_from_internal(-ENOMEM), PMX_ENOMEM);
    assert_int_equal(pmx__err_from_internal(-EINVAL), PMX_EINVAL);
    assert_int_equal(pmx__err_from_internal(-ETIMEDOUT), PMX_ETIMEDOUT);
    assert_int_equal(pmx__err_from_internal(-ECONNREFUSED), PMX_ECONNECT);
    assert_int_equal(pmx__err_from_internal(-ENETUNREACH), PMX_ECONNECT);
    assert_int_equal(pmx__err_from_internal(-EHOSTUNREACH), PMX_ECONNECT);
    assert_int_equal(pmx__err_from_internal(-ECONNRESET), PMX_ELOST);
    assert_int_equal(pmx__err_from_internal(-EPIPE), PMX_ELOST);
    assert_int_equal(pmx__err_from_internal(-EMFILE), PMX_ENOFILES);
    assert_int_equal(pmx__err_from_internal(-ENFILE), PMX_ENOFILES);
    assert_int_equal(pmx__err_from_internal(-EPROTO), PMX_EPROTO);
    assert_int_equal(pmx__err_from_internal(-E2BIG), PMX_ETOOBIG);
    assert_int_equal(pmx__err_from_internal(-ECANCELED), PMX_ECANCELED);
    assert_int_equal(pmx__err_from_internal(-ENOTSUP), PMX_ENOTSUP);
    assert_int_equal(pmx__err_from_internal(-EBUSY), PMX_EBUSY);
    assert_int_equal(pmx__err_from_internal(-ENOENT), PMX_EIO); /* nothing closer */
    /* Every errno lands on some PMX_E* code, never on an unknown value. */
    for (int e = 1; e <= 4095; e++) {
        int m = pmx__err_from_internal(-e);
        if (!strcmp(pmx_err_name(m), "PMX_UNKNOWN")) fail_msg("-%d maps to %d", e, m);
    }
}

static void test_map_libuv(void **state)
{
    assert_int_equal(pmx__err_from_internal(UV_ENOMEM), PMX_ENOMEM);
    assert_int_equal(pmx__err_from_internal(UV_ECONNREFUSED), PMX_ECONNECT);
    assert_int_equal(pmx__err_from_internal(UV_ETIMEDOUT), PMX_ETIMEDOUT);
    assert_int_equal(pmx__err_from_internal(UV_EMFILE), PMX_ENOFILES);
    assert_int_equal(pmx__err_from_internal(UV_EOF), PMX_ELOST);
    assert_int_equal(pmx__err_from_internal(UV_ECANCELED), PMX_ECANCELED);
    assert_int_equal(pmx__err_from_internal(UV_EAI_NONAME), PMX_EDNS);
    assert_int_equal(pmx__err_from_internal(UV_EAI_AGAIN), PMX_EDNS);
    assert_int_equal(pmx__err_from_internal(UV_EAI_ADDRFAMILY), PMX_EDNS);
    assert_int_equal(pmx__err_from_internal(UV_EAI_PROTOCOL), PMX_EDNS);
}

static void test_map_tls_and_ws(void **state)
{
    assert_int_equal(pmx__err_from_internal(TLS_EVERIFY), PMX_ETLS);
    assert_int_equal(pmx__err_from_internal(TLS_EHOSTNAME), PMX_ETLS);
    assert_int_equal(pmx__err_from_internal(TLS_EHANDSHAKE), PMX_ETLS);
    assert_int_equal(pmx__err_from_internal(TLS_ECLOSED), PMX_ELOST);
    assert_int_equal(pmx__err_from_internal(-0x7780), PMX_ETLS); /* an mbedTLS SSL code */
    assert_int_equal(pmx__err_from_internal(WS_WOULDBLOCK), PMX_EAGAIN);
    assert_int_equal(pmx__err_from_internal(-99999), PMX_EIO); /* beyond every family */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_outside_errno),
        cmocka_unit_test(test_names_and_messages_distinct),
        cmocka_unit_test(test_map_passes_through),
        cmocka_unit_test(test_map_errno),
        cmocka_unit_test(test_map_libuv),
        cmocka_unit_test(test_map_tls_and_ws),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
