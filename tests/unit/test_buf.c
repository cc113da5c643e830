#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "podmux.h"
#include "util/buf.h"

static void test_append_and_consume(void **state)
{
    buf_t b;
    buf_init(&b, 0);
    assert_int_equal(buf_append_str(&b, "hello "), 0);
    assert_int_equal(buf_printf(&b, "%s %d", "world", 42), 0);
    assert_string_equal(b.data, "hello world 42");
    buf_consume(&b, 6);
    assert_string_equal(b.data, "world 42");
    assert_int_equal(b.len, 8);
    buf_free(&b);
}

static void test_limit_is_enforced(void **state)
{
    buf_t b;
    buf_init(&b, 8);
    assert_int_equal(buf_append(&b, "12345678", 8), 0);
    assert_true(buf_append_byte(&b, '9') < 0);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "12345678");
    buf_free(&b);
}

static void test_give_back(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b, 0);
    assert_int_equal(buf_append(&b, "hello", 5), 0);
    size_t cap = b.cap;
    char *mem = buf_steal(&b);
    assert_int_equal(buf_append(&b, "x", 1), 0);
    buf_give_back(&b, mem, cap, 1024); /* b holds memory already: freed */
    assert_string_equal(b.data, "x");
    buf_free(&b);
    assert_int_equal(buf_append(&b, "hello", 5), 0);
    cap = b.cap;
    mem = buf_steal(&b);
    buf_give_back(&b, mem, cap, 1024); /* reused, empty */
    assert_ptr_equal(b.data, mem);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, cap);
    assert_int_equal(buf_append(&b, "abc", 3), 0);
    assert_ptr_equal(b.data, mem); /* fits: no realloc */
    mem = buf_steal(&b);
    buf_give_back(&b, mem, cap, cap - 1); /* above max_keep: freed */
    assert_null(b.data);
    buf_free(&b);
}

static void test_error_names(void **state)
{
    assert_string_equal(pmx_strerror(PMX_ENOSTATUS), "connection ended before any status");
    assert_string_equal(pmx_err_name(PMX_ELOST), "PMX_ELOST");
    assert_string_equal(pmx_strerror(12345), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_consume),
        cmocka_unit_test(test_limit_is_enforced),
        cmocka_unit_test(test_give_back),
        cmocka_unit_test(test_error_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
