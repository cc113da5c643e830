/* Label and field selectors: parse, render, match, LabelSelector JSON, exact error texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kube/selector.h"

static void render(const sel_t *s, char *out, size_t n)
{
    buf_t b;
    buf_init(&b, 0);
    assert_int_equal(sel_render(s, &b), 0);
    snprintf(out, n, "%s", b.data ? b.data : "");
    buf_free(&b);
}

static void check_canon(const char *in, const char *want)
{
    sel_t s;
    char err[512], got[512];
    int r = sel_parse(&s, in, strlen(in), err, sizeof err);
    if (r) fail_msg("parse of \"%s\" failed: %s", in, err);
    render(&s, got, sizeof got);
    if (strcmp(got, want)) fail_msg("\"%s\" rendered \"%s\", want \"%s\"", in, got, want);
    sel_free(&s);
}

static void test_parse_and_render(void **state)
{
    static const char *const cases[][2] = {
        {"app=web", "app=web"},
        {"  app = web , tier notin (db,cache) ", "app=web,tier notin (cache,db)"},
        {"tier notin (db,cache),app=web", "app=web,tier notin (cache,db)"},
        {"app==web", "app==web"},
        {"a!=b", "a!=b"},
        {"!a", "!a"},
        {"! a", "!a"},
        {"a", "a"},
        {"k>5,j<3", "j<3,k>5"},
        {"k in (a,)", "k in (,a)"},
        {"k in (,a)", "k in (,a)"},
        {"k in (a,,b)", "k in (,a,b)"},
        {"k in ()", "k in ()"},
        {"k=", "k="},
        {"k=,j!=", "j!=,k="},
        {"in=x", "in=x"},
        {"notin", "notin"},
        {"x in (in,notin)", "x in (in,notin)"},
        {"a=b,c", "a=b,c"},
        {"k in (b,a,b)", "k in (a,b)"},
        {"example.com/app=web", "example.com/app=web"},
        {"z=1,a=2,z!=3", "a=2,z=1,z!=3"},
        {"a\t=\nb", "a=b"},
        {"", ""},
        {"   ", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_canon(cases[i][0], cases[i][1]);
}

static void check_error(const char *in, const char *want)
{
    sel_t s;
    char err[1024];
    int r = sel_parse(&s, in, strlen(in), err, sizeof err);
    if (r != -EINVAL) fail_msg("\"%s\" gave %d, want -EINVAL", in, r);
    if (strcmp(err, want)) fail_msg("\"%s\" error\n  got  \"%s\"\n  want \"%s\"", in, err, want);
    assert_int_equal(s.nreqs, 0);
    sel_free(&s);
}

static void test_parse_errors(void **state)
{
    check_error(",", "found ',', expected: !, identifier, or 'end of string'");
    check_error("a=b,", "found '', expected: identifier after ','");
    check_error("a=b,,c", "found ',', expected: identifier after ','");
    check_error("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, "
                       "gt, lt");
    check_error("a=b c", "found 'c', expected: ',' or 'end of string'");
    check_error("k in a", "unable to parse requirement: found 'a' expected: '('");
    check_error("k in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'");
    check_error("k in (a", "unable to parse requirement: found '', expected: ',' or ')'");
    check_error("k in (=)", "unable to parse requirement: found '=', expected: ',', ')' or "
                            "identifier");
    check_error("k=(", "unable to parse requirement: found '(', expected: identifier");
    check_error("!a=b", "found '=', expected: ',' or 'end of string'");
    check_error("!", "unable to parse requirement: found '', expected: identifier");
    check_error("k>a", "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', "
                       "'Lt' operators, the value must be an integer");
    check_error("k>99999999999999999999",
                "unable to parse requirement: values[0]: Invalid value: "
                "\"99999999999999999999\": for 'Gt', 'Lt' operators, the value must be an "
                "integer");
    check_error("a=-x", "unable to parse requirement: values[0][a]: Invalid value: \"-x\": a "
                        "valid label must be an empty string or consist of alphanumeric "
                        "characters, '-', '_' or '.', and must start and end with an "
                        "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
                        "regex used for validation is "
                        "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
    check_error("-a=b", "unable to parse requirement: <nil>: Invalid value: \"-a\": name part "
                        "must consist of alphanumeric characters, '-', '_' or '.', and must "
                        "start and end with an alphanumeric character (e.g. 'MyName',  or "
                        "'my.name',  or '123-abc', regex used for validation is "
                        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
    check_error("a\"b=c",
                "unable to parse requirement: <nil>: Invalid value: \"a\\\"b\": name part "
                "must consist of alphanumeric characters, '-', '_' or '.', and must "
                "start and end with an alphanumeric character (e.g. 'MyName',  or "
                "'my.name',  or '123-abc', regex used for validation is "
                "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
    check_error("\x08\x01=1", "unable to parse requirement: <nil>: Invalid value: \"\\b\\x01\": "
                              "name part must consist of alphanumeric characters, '-', '_' or "
                              "'.', and must start and end with an alphanumeric character (e.g. "
                              "'MyName',  or 'my.name',  or '123-abc', regex used for validation "
                              "is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
    check_error("/a", "unable to parse requirement: <nil>: Invalid value: \"/a\": prefix part "
                      "must be non-empty");
    check_error("a/", "unable to parse requirement: <nil>: Invalid value: \"a/\": name part "
                      "must be non-empty");
    /* Negative numbers are not valid label values, so "k<-2" is refused as in Go. */
    check_error("k<-2", "unable to parse requirement: values[0][k]: Invalid value: \"-2\": a "
                        "valid label must be an empty string or consist of alphanumeric "
                        "characters, '-', '_' or '.', and must start and end with an "
                        "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
                        "regex used for validation is "
                        "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
    /* The lexer's greedy symbol scan: "=!" is "=" then "!" (an operator where a value goes). */
    check_error("a=!b", "unable to parse requirement: found '!', expected: identifier");
}

static void test_nul_ends_text(void **state)
{
    sel_t s;
    char err[256];
    assert_int_equal(sel_parse(&s, "a=b\0junk junk", 13, err, sizeof err), 0);
    assert_int_equal(s.nreqs, 1);
    assert_string_equal(s.reqs[0].values[0], "b");
    sel_free(&s);
}

typedef struct lbl {
    const char *k[4];
    const char *v[4];
    size_t n;
} lbl_t;

static int match(const char *sel_text, const lbl_t *l)
{
    sel_t s;
    char err[256];
    if (sel_parse(&s, sel_text, strlen(sel_text), err, sizeof err))
        fail_msg("parse \"%s\": %s", sel_text, err);
    int m = sel_match(&s, l->k, l->v, l->n);
    sel_free(&s);
    return m;
}

static void test_match(void **state)
{
    lbl_t none = {{0}, {0}, 0};
    lbl_t web = {{"app", "tier"}, {"web", "fe"}, 2};
    lbl_t x = {{"app"}, {"x"}, 1};
    lbl_t k6 = {{"k"}, {"6"}, 1}, k5 = {{"k"}, {"5"}, 1}, kx = {{"k"}, {"x"}, 1};
    lbl_t kneg = {{"k"}, {"-3"}, 1}, kempty = {{"k"}, {""}, 1};
    assert_int_equal(match("app=web", &web), 1);
    assert_int_equal(match("app==web", &web), 1);
    assert_int_equal(match("app=web", &none), 0);
    assert_int_equal(match("app!=web", &none), 1); /* absent key matches != */
    assert_int_equal(match("app!=web", &web), 0);
    assert_int_equal(match("app!=web", &x), 1);
    assert_int_equal(match("tier notin (a)", &none), 1);
    assert_int_equal(match("tier notin (fe)", &web), 0);
    assert_int_equal(match("tier in (a,fe)", &web), 1);
    assert_int_equal(match("tier in (a,fe)", &none), 0);
    assert_int_equal(match("app=web,tier=fe", &web), 1);
    assert_int_equal(match("app=web,tier=be", &web), 0);
    assert_int_equal(match("k>5", &k6), 1);
    assert_int_equal(match("k>5", &k5), 0);
    assert_int_equal(match("k>5", &kx), 0);
    assert_int_equal(match("k>5", &none), 0);
    assert_int_equal(match("k<5", &kneg), 1);
    assert_int_equal(match("k<0", &kneg), 1);
    assert_int_equal(match("!k", &none), 1);
    assert_int_equal(match("!k", &kempty), 0);
    assert_int_equal(match("k", &kempty), 1);
    assert_int_equal(match("k=", &kempty), 1);
    assert_int_equal(match("k=", &none), 0);
    assert_int_equal(match("k in (,a)", &kempty), 1);
    assert_int_equal(match("", &none), 1);
}

static void check_ls(const char *json, const char *want_render, int want_r, const char *want_err)
{
    cJSON *j = json ? cJSON_Parse(json) : NULL;
    if (json) assert_non_null(j);
    sel_t s;
    char err[512] = "", got[512];
    int r = sel_from_label_selector(&s, j, err, sizeof err);
    cJSON_Delete(j);
    if (r != want_r) fail_msg("%s: r=%d want %d (%s)", json, r, want_r, err);
    if (want_err && strcmp(err, want_err))
        fail_msg("%s: error\n  got  \"%s\"\n  want \"%s\"", json, err, want_err);
    if (!r) {
        render(&s, got, sizeof got);
        if (strcmp(got, want_render)) fail_msg("%s: \"%s\" want \"%s\"", json, got, want_render);
    }
    sel_free(&s);
}

static void test_label_selector_json(void **state)
{
    check_ls("{\"matchLabels\":{\"tier\":\"fe\",\"app\":\"web\"},\"matchExpressions\":["
             "{\"key\":\"env\",\"operator\":\"NotIn\",\"values\":[\"prod\",\"dev\"]},"
             "{\"key\":\"x\",\"operator\":\"Exists\"},"
             "{\"key\":\"y\",\"operator\":\"DoesNotExist\",\"values\":[]},"
             "{\"key\":\"app\",\"operator\":\"In\",\"values\":[\"web\",\"api\"]}]}",
             "app=web,app in (api,web),env notin (dev,prod),tier=fe,x,!y", 0, NULL);
    check_ls("{}", "", 0, NULL);
    check_ls("{\"matchLabels\":{}}", "", 0, NULL);
    check_ls("{\"matchLabels\":{\"batch.kubernetes.io/controller-uid\":\"0f4c-11\"}}",
             "batch.kubernetes.io/controller-uid=0f4c-11", 0, NULL);
    check_ls("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Gt\",\"values\":[\"1\"]}]}", "",
             -EINVAL, "\"Gt\" is not a valid label selector operator");
    check_ls("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[]}]}", "",
             -EINVAL,
             "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't "
             "be empty");
    check_ls(
        "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\",\"values\":[\"v\"]}]}", "",
        -EINVAL,
        "values: Invalid value: []string{\"v\"}: values set must be empty for exists and does not "
        "exist");
    check_ls("{\"matchLabels\":{\"a b\":\"c\"}}", "", -EINVAL,
             "key: Invalid value: \"a b\": name part must consist of alphanumeric characters, "
             "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
             "'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
             "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
    check_ls("{\"matchLabels\":[1]}", "", -EINVAL, NULL);
    check_ls("{\"matchLabels\":{\"a\":1}}", "", -EINVAL, NULL);
    check_ls("[]", "", -EINVAL, NULL);

    /* Missing (NULL or JSON null) matches nothing; {} matches everything. */
    sel_t s;
    const char *k[] = {"app"}, *v[] = {"web"};
    assert_int_equal(sel_from_label_selector(&s, NULL, NULL, 0), 0);
    assert_int_equal(s.nothing, 1);
    assert_int_equal(sel_match(&s, k, v, 1), 0);
    assert_int_equal(sel_match(&s, NULL, NULL, 0), 0);
    assert_int_equal(sel_is_everything(&s), 0);
    sel_free(&s);
    cJSON *null = cJSON_CreateNull(), *empty = cJSON_CreateObject();
    assert_int_equal(sel_from_label_selector(&s, null, NULL, 0), 0);
    assert_int_equal(sel_match(&s, k, v, 1), 0);
    sel_free(&s);
    assert_int_equal(sel_from_label_selector(&s, empty, NULL, 0), 0);
    assert_int_equal(sel_is_everything(&s), 1);
    assert_int_equal(sel_match(&s, k, v, 1), 1);
    assert_int_equal(sel_match(&s, NULL, NULL, 0), 1);
    sel_free(&s);
    cJSON_Delete(null);
    cJSON_Delete(empty);
}

static void test_limits(void **state)
{
    char big[SEL_MAX_REQS * 4 + 16];
    size_t n = 0;
    for (int i = 0; i <= SEL_MAX_REQS; i++)
        n += (size_t)sprintf(big + n, "%sa", i ? "," : "");
    sel_t s;
    char err[256];
    assert_int_equal(sel_parse(&s, big, n, err, sizeof err), -EINVAL);
    assert_string_equal(err, "too many requirements or values in selector");
    sel_free(&s);
}

/* ---- field selectors ---------------------------------------------------------------------- */

static void check_fsel_err(const char *in, const char *want)
{
    fsel_t f;
    char err[512];
    int r = fsel_parse_pod(&f, in, err, sizeof err);
    if (r != -EINVAL) fail_msg("\"%s\" gave %d", in, r);
    if (strcmp(err, want)) fail_msg("\"%s\"\n  got  \"%s\"\n  want \"%s\"", in, err, want);
    assert_int_equal(f.n, 0);
    fsel_free(&f);
}

static int fmatch(const char *in)
{
    const char *k[] = {"metadata.name", "status.phase", "spec.nodeName", "metadata.namespace"};
    const char *v[] = {"web,1", "Running", "n1", "default"};
    fsel_t f;
    char err[256];
    if (fsel_parse_pod(&f, in, err, sizeof err)) fail_msg("\"%s\": %s", in, err);
    int m = fsel_match(&f, k, v, 4);
    fsel_free(&f);
    return m;
}

static void test_field_selectors(void **state)
{
    assert_int_equal(fmatch(""), 1);
    assert_int_equal(fmatch("status.phase=Running"), 1);
    assert_int_equal(fmatch("status.phase==Running"), 1);
    assert_int_equal(fmatch("status.phase!=Running"), 0);
    assert_int_equal(fmatch("status.phase!=Pending,spec.nodeName=n1"), 1);
    assert_int_equal(fmatch("spec.host=n1"), 1);
    assert_int_equal(fmatch("spec.nodeName=n2"), 0);
    assert_int_equal(fmatch("status.podIP="), 1); /* absent field is "" */
    assert_int_equal(fmatch("status.podIP!="), 0);
    assert_int_equal(fmatch("metadata.name=web\\,1"), 1);
    assert_int_equal(fmatch("metadata.namespace=default,,"), 1);

    fsel_t f;
    char err[128];
    assert_int_equal(fsel_parse_pod(&f, "spec.host=a\\\\b", err, sizeof err), 0);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.terms[0].field, "spec.nodeName");
    assert_string_equal(f.terms[0].value, "a\\b");
    fsel_free(&f);

    check_fsel_err("metadata.labels=x", "field label not supported: metadata.labels");
    check_fsel_err("status.phase = Running", "field label not supported: status.phase ");
    check_fsel_err("status.phase", "invalid selector: 'status.phase'; can't understand "
                                   "'status.phase'");
    check_fsel_err("metadata.name=a=b", "invalid field selector: unescaped character in value: 61");
    check_fsel_err("metadata.name=a\\x", "invalid field selector: invalid escape sequence: \\x");
    check_fsel_err("metadata.name=a\\", "invalid field selector: invalid escape sequence: \\");
    check_fsel_err("status.phase>1", "invalid selector: 'status.phase>1'; can't understand "
                                     "'status.phase>1'");
    /* Terms are sorted before labels are checked: the first bad label in sort order wins. */
    check_fsel_err("zz=1,aa=2", "field label not supported: aa");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_render),    cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_nul_ends_text),       cmocka_unit_test(test_match),
        cmocka_unit_test(test_label_selector_json), cmocka_unit_test(test_limits),
        cmocka_unit_test(test_field_selectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
