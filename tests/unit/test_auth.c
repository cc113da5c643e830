/* auth: static credentials, tokenFile, and exec plugins run for real (small shell scripts in a
 * temporary directory) on a real libuv loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "kube/auth.h"
#include "podmux.h"

#define V1 "client.authentication.k8s.io/v1"
#define V1BETA1 "client.authentication.k8s.io/v1beta1"

typedef struct res {
    int called, status;
    char err[1024], authz[256], cert[256], key[256];
    uint64_t gen;
    auth_t *free_me; /* auth_free from inside the callback */
} res_t;

typedef struct fx {
    uv_loop_t loop;
    char dir[64];
    kcfg_t cfg;
    kcfg_exec_t exec;
    char cmd[PATH_MAX];
} fx_t;

static void on_cred(void *arg, int status, const auth_cred_t *c, const char *err)
{
    res_t *r = arg;
    r->called++;
    r->status = status;
    snprintf(r->err, sizeof r->err, "%s", err ? err : "");
    r->authz[0] = r->cert[0] = r->key[0] = 0;
    if (c && c->authorization) snprintf(r->authz, sizeof r->authz, "%s", c->authorization);
    if (c && c->cert_pem)
        snprintf(r->cert, sizeof r->cert, "%.*s", (int)c->cert_pem_len, c->cert_pem);
    if (c && c->key_pem) snprintf(r->key, sizeof r->key, "%.*s", (int)c->key_pem_len, c->key_pem);
    if (c) r->gen = c->generation;
    if (r->free_me) auth_free(r->free_me);
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (!f || uv_loop_init(&f->loop)) return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/pmx-auth-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    f->cfg.server = "https://127.0.0.1:18443";
    f->exec.api_version = V1;
    f->exec.interactive_mode = "Never";
    f->exec.command = f->cmd;
    snprintf(f->cmd, sizeof f->cmd, "%s/plugin.sh", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    char cmd[128];
    uv_run(&f->loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&f->loop);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0) rc = -1;
    free(f);
    return rc ? -1 : 0;
}

static void write_file(const char *path, const char *content, int mode)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(content, fp);
    fclose(fp);
    assert_int_equal(chmod(path, (mode_t)mode), 0);
}

/* The plugin: counts its runs in DIR/count, saves its KUBERNETES_EXEC_INFO, then body. */
static void plugin(fx_t *f, const char *body)
{
    char script[4096];
    snprintf(script, sizeof script,
             "#!/bin/sh\necho run >> '%s/count'\nprintf '%%s' \"$KUBERNETES_EXEC_INFO\" > "
             "'%s/info'\n%s\n",
             f->dir, f->dir, body);
    write_file(f->cmd, script, 0755);
}

static void token_plugin(fx_t *f, const char *token, const char *expiry)
{
    char body[1024];
    snprintf(body, sizeof body,
             "cat <<EOF\n{\"kind\":\"ExecCredential\",\"apiVersion\":\"%s\",\"status\":{"
             "\"token\":\"%s\"%s%s%s}}\nEOF",
             V1, token, expiry ? ",\"expirationTimestamp\":\"" : "", expiry ? expiry : "",
             expiry ? "\"" : "");
    plugin(f, body);
}

static int runs(fx_t *f)
{
    char path[PATH_MAX], line[64];
    int n = 0;
    snprintf(path, sizeof path, "%s/count", f->dir);
    FILE *fp = fopen(path, "r");
    if (!fp) return 0;
    while (fgets(line, sizeof line, fp))
        n++;
    fclose(fp);
    return n;
}

static void read_info(fx_t *f, char *out, size_t len)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/info", f->dir);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t n = fread(out, 1, len - 1, fp);
    out[n] = 0;
    fclose(fp);
}

static auth_t *new_auth(fx_t *f)
{
    auth_t *a = NULL;
    assert_int_equal(auth_new(&f->loop, &f->cfg, &a), 0);
    assert_non_null(a);
    return a;
}

/* Gets a credential that needs the loop; the callback must not run inside auth_get. */
static void get_async(fx_t *f, auth_t *a, int force, res_t *r)
{
    auth_cred_t c;
    memset(r, 0, sizeof *r);
    assert_int_equal(auth_get(a, force, on_cred, r, &c), 0);
    assert_int_equal(r->called, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(r->called, 1);
}

static void test_static_token_and_basic(void **state)
{
    fx_t *f = *state;
    auth_cred_t c;
    res_t r = {0};
    f->cfg.token = "abc";
    auth_t *a = new_auth(f);
    assert_int_equal(auth_get(a, 0, on_cred, &r, &c), 1);
    assert_string_equal(c.authorization, "Bearer abc");
    assert_null(c.cert_pem);
    assert_int_equal(auth_get(a, 1, on_cred, &r, &c), 1); /* nothing to refresh */
    auth_free(a);

    f->cfg.token = NULL;
    f->cfg.username = "admin";
    f->cfg.password = "p@ss:word";
    a = new_auth(f);
    assert_int_equal(auth_get(a, 0, on_cred, &r, &c), 1);
    assert_string_equal(c.authorization, "Basic YWRtaW46cEBzczp3b3Jk");
    auth_free(a);

    /* http:// servers get no credentials at all (client-go) */
    f->cfg.server = "http://127.0.0.1:8080";
    f->cfg.token = "abc";
    a = new_auth(f);
    assert_int_equal(auth_get(a, 0, on_cred, &r, &c), 1);
    assert_null(c.authorization);
    auth_free(a);
    assert_int_equal(r.called, 0);
}

static void test_token_file(void **state)
{
    fx_t *f = *state;
    char path[PATH_MAX];
    res_t r;
    auth_cred_t c;
    snprintf(path, sizeof path, "%s/token", f->dir);
    write_file(path, "  file-token-B\n", 0600);
    f->cfg.token = "static-A";
    f->cfg.token_file = path;
    auth_t *a = new_auth(f);
    get_async(f, a, 0, &r);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.authz, "Bearer file-token-B"); /* the file wins over token */
    uint64_t gen = r.gen;
    assert_int_equal(auth_get(a, 0, on_cred, &r, &c), 1); /* cached for a minute */
    assert_string_equal(c.authorization, "Bearer file-token-B");
    write_file(path, "file-token-C", 0600);
    assert_int_equal(auth_get(a, 0, on_cred, &r, &c), 1);
    assert_string_equal(c.authorization, "Bearer file-token-B");
    get_async(f, a, 1, &r); /* after a 401 */
    assert_string_equal(r.authz, "Bearer file-token-C");
    assert_true(r.gen != gen);
    auth_free(a);

    write_file(path, " \n", 0600);
    f->cfg.token = NULL;
    a = new_auth(f);
    get_async(f, a, 0, &r);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "read empty token from file \"%s\"", path);
    assert_int_equal(r.status, PMX_ECREDENTIAL);
    assert_string_equal(r.err, want);
    auth_free(a);

    unlink(path); /* unreadable file: the inline token is the fallback */
    f->cfg.token = "static-A";
    a = new_auth(f);
    get_async(f, a, 0, &r);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.authz, "Bearer static-A");
    auth_free(a);
}

static void test_exec_token_and_info(void **state)
{
    fx_t *f = *state;
    char info[4096];
    res_t r;
    char *env[] = {"FOO=bar", NULL};
    static const uint8_t ca[] = "PEM-B\n";
    token_plugin(f, "tok-$FOO", NULL);
    setenv("FOO", "parent", 1); /* the plugin's env entry replaces the parent's variable */
    f->exec.env = env;
    f->exec.nenv = 1;
    f->exec.provide_cluster_info = 1;
    f->exec.cluster_config_json = "{\"audience\":\"podmux\"}";
    f->cfg.ca_data = (uint8_t *)ca;
    f->cfg.ca_data_len = 6;
    f->cfg.exec = &f->exec;
    auth_t *a = new_auth(f);
    get_async(f, a, 0, &r);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.authz, "Bearer tok-bar");
    read_info(f, info, sizeof info);
    assert_string_equal(info, "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1 "\",\"spec\":{"
                              "\"cluster\":{\"server\":\"https://127.0.0.1:18443\","
                              "\"certificate-authority-data\":\"UEVNLUIK\",\"config\":{"
                              "\"audience\":\"podmux\"}},\"interactive\":false}}");
    /* no expirationTimestamp: cached forever */
    auth_cred_t c;
    assert_int_equal(auth_get(a, 0, on_cred, &r, &c), 1);
    assert_string_equal(c.authorization, "Bearer tok-bar");
    assert_int_equal(runs(f), 1);
    auth_free(a);
    unsetenv("FOO");

    /* CA from the file when only a file is set; without provideClusterInfo no cluster at all */
    char ca_path[PATH_MAX];
    snprintf(ca_path, sizeof ca_path, "%s/ca.crt", f->dir);
    write_file(ca_path, "PEM-B\n", 0644);
    f->cfg.ca_data = NULL;
    f->cfg.ca_file = ca_path;
    f->cfg.insecure = 0;
    f->cfg.tls_server_name = "kube.internal";
    f->exec.cluster_config_json = NULL;
    a = new_auth(f);
    get_async(f, a, 0, &r);
    read_info(f, info, sizeof info);
    assert_string_equal(info, "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1 "\",\"spec\":{"
                              "\"cluster\":{\"server\":\"https://127.0.0.1:18443\","
                              "\"tls-server-name\":\"kube.internal\","
                              "\"certificate-authority-data\":\"UEVNLUIK\"},"
                              "\"interactive\":false}}");
    auth_free(a);
    f->exec.provide_cluster_info = 0;
    a = new_auth(f);
    get_async(f, a, 0, &r);
    read_info(f, info, sizeof info);
    assert_string_equal(info, "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1 "\",\"spec\":{"
                              "\"interactive\":false}}");
    auth_free(a);
}

static void test_exec_client_cert(void **state)
{
    fx_t *f = *state;
    res_t r;
    plugin(f, "printf '{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1 "\",\"status\":{"
              "\"clientCertificateData\":\"CERT\\\\n\",\"clientKeyData\":\"KEY\\\\n\"}}'");
    f->cfg.exec = &f->exec;
    auth_t *a = new_auth(f);
    get_async(f, a, 0, &r);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.authz, "");
    assert_string_equal(r.cert, "CERT\n");
    assert_string_equal(r.key, "KEY\n");
    auth_free(a);
}

static void test_exec_expiry_caching(void **state)
{
    fx_t *f = *state;
    res_t r;
    auth_cred_t c;
    f->cfg.exec = &f->exec;
    token_plugin(f, "old", "2000-01-01T00:00:00Z");
    auth_t *a = new_auth(f);
    get_async(f, a, 0, &r);
    assert_string_equal(r.authz, "Bearer old");
    get_async(f, a, 0, &r); /* expired: runs again */
    assert_int_equal(runs(f), 2);
    token_plugin(f, "new", "2099-01-01T00:00:00+02:00");
    get_async(f, a, 0, &r);
    assert_string_equal(r.authz, "Bearer new");
    assert_int_equal(auth_get(a, 0, on_cred, &r, &c), 1);
    assert_string_equal(c.authorization, "Bearer new");
    assert_int_equal(runs(f), 3);
    /* a 401: one re-run shared by every caller */
    res_t many[3];
    for (int i = 0; i < 3; i++) {
        memset(&many[i], 0, sizeof many[i]);
        assert_int_equal(auth_get(a, 1, on_cred, &many[i], &c), 0);
    }
    uv_run(&f->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 3; i++)
        assert_int_equal(many[i].called, 1);
    assert_int_equal(runs(f), 4);
    auth_free(a);
}

static void test_exec_no_stampede(void **state)
{
    fx_t *f = *state;
    res_t r[10];
    auth_cred_t c;
    f->cfg.exec = &f->exec;
    token_plugin(f, "shared", NULL);
    auth_t *a = new_auth(f);
    for (int i = 0; i < 10; i++) {
        memset(&r[i], 0, sizeof r[i]);
        assert_int_equal(auth_get(a, 0, on_cred, &r[i], &c), 0);
    }
    auth_cancel(a, on_cred, &r[9]);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 9; i++) {
        assert_int_equal(r[i].called, 1);
        assert_int_equal(r[i].status, 0);
        assert_string_equal(r[i].authz, "Bearer shared");
    }
    assert_int_equal(r[9].called, 0);
    assert_int_equal(runs(f), 1);
    auth_free(a);
}

static void expect_exec_error(fx_t *f, int status, const char *want)
{
    res_t r;
    f->cfg.exec = &f->exec;
    auth_t *a = new_auth(f);
    get_async(f, a, 0, &r);
    assert_int_equal(r.status, status);
    assert_string_equal(r.err, want);
    auth_free(a);
}

static void test_exec_errors(void **state)
{
    fx_t *f = *state;
    char want[PATH_MAX + 128];
    plugin(f, "echo oops >&2; exit 3");
    snprintf(want, sizeof want, "exec: executable %s failed with exit code 3", f->cmd);
    expect_exec_error(f, PMX_ECREDENTIAL, want);
    plugin(f, "echo hello");
    snprintf(want, sizeof want,
             "exec plugin \"%s\": decoding stdout: couldn't get version/kind; json parse error",
             f->cmd);
    expect_exec_error(f, PMX_ECREDENTIAL, want);
    plugin(f, "echo '{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1BETA1
              "\",\"status\":{\"token\":\"x\"}}'");
    snprintf(want, sizeof want,
             "exec plugin \"%s\" is configured to use API version " V1 ", plugin returned "
             "version " V1BETA1,
             f->cmd);
    expect_exec_error(f, PMX_ECREDENTIAL, want);
    plugin(f, "echo '{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1 "\"}'");
    snprintf(want, sizeof want, "exec plugin \"%s\" didn't return a status field", f->cmd);
    expect_exec_error(f, PMX_ECREDENTIAL, want);

    snprintf(f->cmd, sizeof f->cmd, "%s/missing-plugin", f->dir);
    f->exec.install_hint = "install it";
    snprintf(want, sizeof want, "exec: executable %s not found\n\ninstall it", f->cmd);
    expect_exec_error(f, PMX_ECREDENTIAL, want);
    f->exec.install_hint = NULL;
    snprintf(f->cmd, sizeof f->cmd, "%s/plugin.sh", f->dir);

    f->exec.interactive_mode = "Always";
    token_plugin(f, "x", NULL);
    expect_exec_error(f, PMX_ECONFIG,
                      "exec plugin cannot support interactive mode: standard input "
                      "is unavailable");
    f->exec.interactive_mode = "Never";
}

static void test_exec_timeout(void **state)
{
    fx_t *f = *state;
    res_t r;
    char want[PATH_MAX + 64];
    plugin(f, "sleep 30");
    f->cfg.exec = &f->exec;
    auth_t *a = new_auth(f);
    auth_set_exec_timeout(a, 300);
    uint64_t t0 = uv_hrtime();
    get_async(f, a, 0, &r);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    assert_true(ms >= 290 && ms < 5000); /* the loop also waited for the killed sleep's pipe */
    snprintf(want, sizeof want, "exec plugin \"%s\" timed out after 300 ms", f->cmd);
    assert_int_equal(r.status, PMX_ETIMEDOUT);
    assert_string_equal(r.err, want);
    auth_free(a);
}

static void free_later(uv_timer_t *t)
{
    auth_free(t->data);
    uv_close((uv_handle_t *)t, NULL);
}

static void test_free_while_running(void **state)
{
    fx_t *f = *state;
    res_t r = {0};
    auth_cred_t c;
    uv_timer_t t;
    plugin(f, "sleep 30");
    f->cfg.exec = &f->exec;
    auth_t *a = new_auth(f);
    assert_int_equal(auth_get(a, 0, on_cred, &r, &c), 0);
    uv_timer_init(&f->loop, &t);
    t.data = a;
    uv_timer_start(&t, free_later, 100, 0);
    uint64_t t0 = uv_hrtime();
    uv_run(&f->loop, UV_RUN_DEFAULT); /* ends once the killed plugin is reaped */
    assert_true((uv_hrtime() - t0) / 1000000 < 5000);
    assert_int_equal(r.called, 0);
}

static void test_free_inside_callback(void **state)
{
    fx_t *f = *state;
    res_t r[2];
    auth_cred_t c;
    token_plugin(f, "x", NULL);
    f->cfg.exec = &f->exec;
    auth_t *a = new_auth(f);
    memset(r, 0, sizeof r);
    r[0].free_me = a;
    assert_int_equal(auth_get(a, 0, on_cred, &r[0], &c), 0);
    assert_int_equal(auth_get(a, 0, on_cred, &r[1], &c), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(r[0].called, 1);
    assert_int_equal(r[1].called, 0); /* freed before its turn: never called */
}

static void test_parse_exec_credential(void **state)
{
    auth_exec_cred_t c;
    char err[256];
    const char *ok = "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1 "\",\"status\":{"
                     "\"token\":\"t\",\"expirationTimestamp\":\"2024-02-29T12:00:00.5-01:30\"}}";
    assert_int_equal(auth_parse_exec_credential(V1, ok, strlen(ok), &c, err, sizeof err), 0);
    assert_string_equal(c.token, "t");
    assert_true(c.has_expiry);
    assert_int_equal(c.expiry, 1709208000 + 5400);
    auth_exec_cred_clear(&c);
    const char *half = "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1 "\",\"status\":{"
                       "\"clientCertificateData\":\"C\"}}";
    assert_true(auth_parse_exec_credential(V1, half, strlen(half), &c, err, sizeof err) < 0);
    assert_string_equal(err, "exec plugin returned only certificate or key, not both");
    const char *none = "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1 "\",\"status\":{}}";
    assert_true(auth_parse_exec_credential(V1, none, strlen(none), &c, err, sizeof err) < 0);
    assert_string_equal(err, "exec plugin didn't return a token or cert/key pair");
    const char *badts = "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1 "\",\"status\":{"
                        "\"token\":\"t\",\"expirationTimestamp\":\"tomorrow\"}}";
    assert_true(auth_parse_exec_credential(V1, badts, strlen(badts), &c, err, sizeof err) < 0);
    assert_string_equal(err, "decoding stdout: status.expirationTimestamp: \"tomorrow\" is not an "
                             "RFC 3339 time");
    assert_null(c.token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_static_token_and_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_token_and_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_client_cert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_expiry_caching, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_no_stampede, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_while_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_inside_callback, setup, teardown),
        cmocka_unit_test(test_parse_exec_credential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
