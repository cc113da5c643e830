/* kubeconfig: file choice, merge, relative paths, overrides, validation messages, in-cluster.
 * Fixtures live in tests/unit/data/kubeconfig; every expectation is an exact value. */
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

#include "kube/kubeconfig.h"
#include "podmux.h"
#include "util/buf.h"

static char fixdir[PATH_MAX];
static char err[1024];

static const char *fx(const char *name)
{
    static char path[4][PATH_MAX];
    static int i;
    i = (i + 1) % 4;
    snprintf(path[i], sizeof path[i], "%s/%s", fixdir, name);
    return path[i];
}

static kcfg_t *load_ok(const kcfg_opts_t *o)
{
    kcfg_t *c = NULL;
    err[0] = 0;
    int rc = kcfg_load(o, &c, err, sizeof err);
    if (rc) fail_msg("kcfg_load: %d %s", rc, err);
    return c;
}

static void load_fails(const kcfg_opts_t *o, const char *want)
{
    kcfg_t *c = NULL;
    err[0] = 0;
    assert_true(kcfg_load(o, &c, err, sizeof err) < 0);
    assert_null(c);
    assert_string_equal(err, want);
}

static void test_merge_first_file_wins(void **state)
{
    char env[2 * PATH_MAX + 2];
    snprintf(env, sizeof env, "%s:%s", fx("a.yaml"), fx("b.yaml"));
    kcfg_opts_t o = {.env = env, .home = "/nonexistent"};
    kcfg_t *c = load_ok(&o);
    /* current-context from b (a has none); ctx-b -> c2 and u2 only exist in b */
    assert_string_equal(c->context_name, "ctx-b");
    assert_string_equal(c->source, fx("b.yaml"));
    assert_string_equal(c->cluster_name, "c2");
    assert_string_equal(c->user_name, "u2");
    assert_string_equal(c->namespace_, "default");
    assert_string_equal(c->server, "https://b2.example:443/prefix");
    assert_string_equal(c->proxy_url, "http://proxy.example:3128");
    /* both CA forms are kept; data wins where it is used */
    assert_string_equal(c->ca_file, fx("ca/b-ca.crt"));
    assert_int_equal(c->ca_data_len, 6);
    assert_memory_equal(c->ca_data, "PEM-B\n", 7);
    assert_string_equal(c->token, "static-A");
    assert_string_equal(c->token_file, fx("tokens/u2-token"));
    assert_null(c->exec);
    kcfg_free(c);

    /* ctx-a, c1 and u1 exist in both: a's win whole (b's client cert for u1 is dropped). */
    o.context = "ctx-a";
    c = load_ok(&o);
    assert_string_equal(c->source, fx("a.yaml"));
    assert_string_equal(c->cluster_name, "c1");
    assert_string_equal(c->server, "https://a.example:6443");
    assert_string_equal(c->ca_file, fx("ca/a-ca.crt"));
    assert_null(c->ca_data);
    assert_string_equal(c->tls_server_name, "a.internal");
    assert_string_equal(c->token, "tok-a");
    assert_null(c->client_cert_file);
    assert_null(c->client_key_file);
    assert_string_equal(c->namespace_, "team-a");
    kcfg_free(c);
}

static void test_kubeconfig_env_skips_missing_and_duplicates(void **state)
{
    char env[3 * PATH_MAX + 16];
    snprintf(env, sizeof env, "/nonexistent/x::%s:%s", fx("b.yaml"), fx("b.yaml"));
    kcfg_opts_t o = {.env = env, .home = "/nonexistent"};
    kcfg_t *c = load_ok(&o);
    assert_string_equal(c->context_name, "ctx-b");
    kcfg_free(c);

    o.env = "/nonexistent/x:/nonexistent/y";
    load_fails(&o, "invalid configuration: no configuration has been provided (KUBECONFIG files "
                   "not found: /nonexistent/x, /nonexistent/y)");
}

static void test_explicit_kubeconfig_must_exist(void **state)
{
    kcfg_opts_t o = {.kubeconfig = "/nonexistent/config", .env = fx("b.yaml")};
    load_fails(&o, "kubeconfig /nonexistent/config: no such file or directory");
    o.kubeconfig = fx("a.yaml"); /* KUBECONFIG is ignored when --kubeconfig is given */
    o.context = "ctx-a";
    kcfg_t *c = load_ok(&o);
    assert_string_equal(c->token, "tok-a");
    kcfg_free(c);
}

static void test_home_default(void **state)
{
    char home[] = "/tmp/pmx-kcfg-home-XXXXXX", dir[PATH_MAX], path[PATH_MAX + 16];
    assert_non_null(mkdtemp(home));
    snprintf(dir, sizeof dir, "%s/.kube", home);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/config", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("current-context: h\ncontexts:\n- name: h\n  context: {cluster: c}\nclusters:\n"
          "- name: c\n  cluster: {server: 'https://home.example'}\n",
          f);
    fclose(f);
    kcfg_opts_t o = {.env = "", .home = home};
    kcfg_t *c = load_ok(&o);
    assert_string_equal(c->server, "https://home.example");
    assert_string_equal(c->source, path);
    kcfg_free(c);
    unlink(path);
    rmdir(dir);
    rmdir(home);
}

static void test_missing_context_lists_contexts(void **state)
{
    char env[2 * PATH_MAX + 2];
    snprintf(env, sizeof env, "%s:%s", fx("a.yaml"), fx("b.yaml"));
    kcfg_opts_t o = {.env = env, .context = "nope"};
    load_fails(&o, "context \"nope\" does not exist (contexts: ctx-a, ctx-b)");
    o.context = "ctx-a";
    o.user = "ghost";
    load_fails(&o, "invalid configuration: user \"ghost\" was not found for context \"ctx-a\"");
    o.user = NULL;
    o.cluster = "ghost";
    load_fails(&o, "invalid configuration: cluster \"ghost\" was not found for context \"ctx-a\"");
}

static void test_insecure_with_ca_is_an_error(void **state)
{
    kcfg_opts_t o = {.kubeconfig = fx("insecure-ca.yaml")};
    load_fails(&o, "specifying a root certificates file with the insecure flag is not allowed");
    /* --insecure-skip-tls-verify on the command line clears the CA instead (client-go) */
    o.insecure = 1;
    kcfg_t *c = load_ok(&o);
    assert_true(c->insecure);
    assert_null(c->ca_data);
    assert_null(c->ca_file);
    kcfg_free(c);
}

static void test_bad_yaml_names_line(void **state)
{
    char want[PATH_MAX + 200];
    kcfg_opts_t o = {.kubeconfig = fx("bad-yaml.yaml")};
    snprintf(want, sizeof want,
             "kubeconfig %s line 7: yaml: found unexpected end of stream while scanning a "
             "quoted scalar",
             fx("bad-yaml.yaml"));
    load_fails(&o, want);
    o.kubeconfig = fx("bad-type.yaml");
    snprintf(want, sizeof want,
             "kubeconfig %s line 7: clusters[0].cluster.server: expected a string",
             fx("bad-type.yaml"));
    load_fails(&o, want);
    o.kubeconfig = fx("bad-bool.yaml");
    snprintf(want, sizeof want,
             "kubeconfig %s line 5: clusters[0].cluster.insecure-skip-tls-verify: expected a "
             "boolean",
             fx("bad-bool.yaml"));
    load_fails(&o, want);
}

static void test_proxy_scheme(void **state)
{
    char path[] = "/tmp/pmx-kcfg-proxy-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *doc = "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
                      "clusters:\n- name: c\n  cluster:\n    server: https://x.example\n"
                      "    proxy-url: ftp://proxy.example\n";
    assert_int_equal(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
    close(fd);
    kcfg_opts_t o = {.kubeconfig = path};
    load_fails(&o, "unsupported scheme \"ftp\", must be http, https, or socks5");
    unlink(path);
}

static void test_two_methods(void **state)
{
    kcfg_opts_t o = {.kubeconfig = fx("two-methods.yaml")};
    load_fails(&o, "invalid configuration: more than one authentication method found for u; "
                   "found [token basicAuth], only one is allowed");
}

static void test_exec_user(void **state)
{
    kcfg_opts_t o = {.kubeconfig = fx("exec.yaml")};
    kcfg_t *c = load_ok(&o);
    kcfg_exec_t *e = c->exec;
    assert_non_null(e);
    assert_string_equal(e->api_version, "client.authentication.k8s.io/v1");
    assert_string_equal(e->command, fx("bin/plugin.sh"));
    assert_int_equal(e->nargs, 2);
    assert_string_equal(e->args[0], "--flag");
    assert_string_equal(e->args[1], "two words");
    assert_null(e->args[2]);
    assert_int_equal(e->nenv, 2);
    assert_string_equal(e->env[0], "FOO=bar");
    assert_string_equal(e->env[1], "EMPTY=");
    assert_string_equal(e->install_hint, "\x1b[1minstall\x1b[0m it");
    assert_true(e->provide_cluster_info);
    assert_string_equal(e->interactive_mode, "Never");
    assert_string_equal(e->cluster_config_json,
                        "{\"audience\":\"podmux\",\"n\":3,\"f\":1.5,\"b\":true,\"z\":null,"
                        "\"s\":\"007\",\"l\":[\"x\",\"\\u003c\\u0026\\u003e\"]}");
    kcfg_free(c);

    o.context = "bare"; /* a bare command goes through PATH; v1beta1 defaults IfAvailable */
    c = load_ok(&o);
    assert_string_equal(c->exec->command, "kubectl-oidc");
    assert_string_equal(c->exec->interactive_mode, "IfAvailable");
    assert_string_equal(c->exec->cluster_config_json, c->exec->cluster_config_json);
    kcfg_free(c);

    o.context = "token-wins"; /* a static token makes client-go skip the plugin */
    c = load_ok(&o);
    assert_null(c->exec);
    assert_string_equal(c->token, "static");
    kcfg_free(c);

    o.context = "v1-no-mode";
    load_fails(&o, "invalid configuration: interactiveMode must be specified for v1-no-mode to "
                   "use exec authentication plugin");
    o.context = "alpha";
    load_fails(&o, "exec plugin: invalid apiVersion \"client.authentication.k8s.io/v1alpha1\"");
}

static void test_client_certs(void **state)
{
    char want[PATH_MAX + 200];
    kcfg_opts_t o = {.kubeconfig = fx("certs.yaml")};
    kcfg_t *c = load_ok(&o);
    assert_string_equal(c->client_cert_file, fx("ca/a-ca.crt"));
    assert_null(c->client_key_file);
    assert_int_equal(c->client_key_data_len, 4);
    assert_memory_equal(c->client_key_data, "KEY\n", 5);
    assert_string_equal(c->token, "also-a-token"); /* certificates combine with a token */
    kcfg_free(c);
    o.context = "nokey";
    load_fails(&o, "invalid configuration: client-key-data or client-key must be specified for "
                   "nokey to use the clientCert authentication method.");
    o.context = "missing";
    snprintf(want, sizeof want,
             "invalid configuration: unable to read client-cert %s for missing due to No such "
             "file or directory",
             fx("nope/cert.pem"));
    load_fails(&o, want);
}

static void test_alias_bomb_is_bounded(void **state)
{
    char path[PATH_MAX], want[PATH_MAX + 200];
    snprintf(path, sizeof path, "%s/../../../fuzz/corpus/fuzz_kubeconfig/alias-bomb.yaml", fixdir);
    kcfg_opts_t o = {.kubeconfig = path};
    snprintf(want, sizeof want,
             "kubeconfig %s line 8: clusters[0].cluster.extensions: extension too large", path);
    load_fails(&o, want);
}

static void test_anchors_and_basic(void **state)
{
    kcfg_opts_t o = {.kubeconfig = fx("anchors.yaml"), .namespace_ = "ns1"};
    kcfg_t *c = load_ok(&o);
    assert_string_equal(c->server, "https://anchored.example");
    assert_string_equal(c->username, "admin");
    assert_string_equal(c->password, "p@ss:word");
    assert_string_equal(c->namespace_, "ns1");
    kcfg_free(c);
}

static void test_overrides(void **state)
{
    char env[2 * PATH_MAX + 2];
    snprintf(env, sizeof env, "%s:%s", fx("a.yaml"), fx("b.yaml"));
    kcfg_opts_t o = {.env = env, .context = "ctx-a", .server = "https://other:1/", .token = "T"};
    kcfg_t *c = load_ok(&o);
    assert_string_equal(c->server, "https://other:1");
    assert_null(c->tls_server_name); /* --server drops the kubeconfig's tls-server-name */
    assert_string_equal(c->token, "T");
    assert_string_equal(c->ca_file, fx("ca/a-ca.crt"));
    kcfg_free(c);

    o = (kcfg_opts_t){.env = env, .token = "T2", .ca_file = fx("ca/a-ca.crt")};
    c = load_ok(&o); /* ctx-b: --token replaces tokenFile too, --certificate-authority the data */
    assert_string_equal(c->token, "T2");
    assert_null(c->token_file);
    assert_null(c->ca_data);
    assert_string_equal(c->ca_file, fx("ca/a-ca.crt"));
    kcfg_free(c);

    /* flags only: no kubeconfig at all */
    o = (kcfg_opts_t){.env = "/nonexistent/q", .server = "x.example:6443", .insecure = 1};
    c = load_ok(&o);
    assert_string_equal(c->server, "https://x.example:6443");
    assert_null(c->context_name);
    assert_string_equal(c->namespace_, "default");
    kcfg_free(c);
    o.insecure = 0; /* no TLS settings: client-go's DefaultServerURL picks http */
    c = load_ok(&o);
    assert_string_equal(c->server, "http://x.example:6443");
    kcfg_free(c);
}

static void write_file(const char *dir, const char *name, const char *content)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static void test_in_cluster(void **state)
{
    char dir[] = "/tmp/pmx-kcfg-sa-XXXXXX", path[PATH_MAX];
    assert_non_null(mkdtemp(dir));
    kcfg_opts_t o = {.env = "/nonexistent/q", .home = "/nonexistent", .incluster_dir = dir};
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    unsetenv("POD_NAMESPACE");
    /* no token file yet: not in a cluster */
    load_fails(&o, "invalid configuration: no configuration has been provided (KUBECONFIG files "
                   "not found: /nonexistent/q)");
    write_file(dir, "token", "sa-token\n");
    write_file(dir, "namespace", " team-x\n");
    kcfg_t *c = load_ok(&o);
    snprintf(path, sizeof path, "%s/token", dir);
    assert_string_equal(c->source, "in-cluster");
    assert_string_equal(c->server, "https://[fd00::1]:443");
    assert_string_equal(c->token_file, path);
    assert_null(c->ca_file); /* unreadable CA: skipped */
    assert_string_equal(c->namespace_, "team-x");
    kcfg_free(c);

    write_file(dir, "ca.crt", "PEM");
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    setenv("POD_NAMESPACE", "from-env", 1);
    c = load_ok(&o);
    snprintf(path, sizeof path, "%s/ca.crt", dir);
    assert_string_equal(c->server, "https://10.0.0.1:443");
    assert_string_equal(c->ca_file, path);
    assert_string_equal(c->namespace_, "from-env");
    kcfg_free(c);

    /* a ca.crt that is not a regular file (issue 13 item 8) */
    snprintf(path, sizeof path, "%s/ca.crt", dir);
    unlink(path);
    assert_int_equal(mkfifo(path, 0600), 0);
    char want[PATH_MAX + 200];
    snprintf(want, sizeof want,
             "invalid configuration: unable to read certificate-authority %s for in-cluster due "
             "to not a regular file",
             path);
    load_fails(&o, want);
    unlink(path);
    write_file(dir, "ca.crt", "PEM");

    /* a kubeconfig that exists wins over in-cluster */
    o.env = fx("a.yaml");
    o.context = "ctx-a";
    c = load_ok(&o);
    assert_string_equal(c->server, "https://a.example:6443");
    kcfg_free(c);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    unsetenv("POD_NAMESPACE");
    const char *files[] = {"token", "namespace", "ca.crt"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void test_parse_limits(void **state)
{
    kcfg_file_t *f = NULL;
    /* empty documents are an empty config */
    assert_int_equal(kcfg_parse("/x/config", "", 0, &f, err, sizeof err), 0);
    kcfg_file_free(f);
    assert_int_equal(kcfg_parse("/x/config", "---\n", 4, &f, err, sizeof err), 0);
    kcfg_file_free(f);
    /* deep nesting is refused with a line number */
    char deep[400];
    memset(deep, '[', 200);
    deep[200] = 0;
    assert_true(kcfg_parse("/x/config", deep, 200, &f, err, sizeof err) < 0);
    assert_null(f);
    assert_string_equal(err, "kubeconfig /x/config line 1: yaml: nested more than 64 levels deep");
    const char *top = "- a\n- b\n";
    assert_true(kcfg_parse("/x/config", top, strlen(top), &f, err, sizeof err) < 0);
    assert_string_equal(err, "kubeconfig /x/config line 1: expected a mapping at the top level");
    const char *alias = "clusters: *nope\n";
    assert_true(kcfg_parse("/x/config", alias, strlen(alias), &f, err, sizeof err) < 0);
    assert_string_equal(err, "kubeconfig /x/config line 1: yaml: unknown anchor 'nope' referenced");
    const char *dup = "contexts:\n- name: a\n- name: b\n- name: a\n  context: {}\n";
    assert_true(kcfg_parse("/x/config", dup, strlen(dup), &f, err, sizeof err) < 0);
    assert_string_equal(err, "kubeconfig /x/config line 4: contexts[2].name: duplicate name \"a\" "
                             "in list");
    const char *b64 = "users:\n- name: u\n  user:\n    client-key-data: '!!!'\n";
    assert_true(kcfg_parse("/x/config", b64, strlen(b64), &f, err, sizeof err) < 0);
    assert_string_equal(err, "kubeconfig /x/config line 4: users[0].user.client-key-data: illegal "
                             "base64 data");
}

static void test_file_too_large(void **state)
{
    char path[] = "/tmp/pmx-kcfg-big-XXXXXX", want[200];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (16 << 20) + 1), 0);
    close(fd);
    kcfg_opts_t o = {.kubeconfig = path};
    snprintf(want, sizeof want, "kubeconfig %s: file is larger than 16777216 bytes", path);
    load_fails(&o, want);
    unlink(path);
}

/* ---- issue 13: impersonation, auth-provider, files that are not regular, many aliases ---- */

/* Writes a kubeconfig whose cluster is https://k and whose user body is `user` (YAML flow
 * mapping text). Returns its path (static). */
static const char *tmp_kubeconfig(const char *user)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/pmx-kcfg-i13-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fprintf(f,
            "clusters:\n- name: c\n  cluster: {server: https://k, insecure-skip-tls-verify: true}\n"
            "users:\n- name: u\n  user: %s\n"
            "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
            user);
    fclose(f);
    return path;
}

static void expect_headers(const kcfg_t *c, const char *const *want)
{
    size_t n = 0;
    while (want[n])
        n++;
    assert_int_equal(c->nimp_headers * 2, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(c->imp_headers[i], want[i]);
    assert_null(c->imp_headers[n]);
}

static void test_impersonation_headers(void **state)
{
    const char *path =
        tmp_kubeconfig("{token: t, as: alice, as-uid: \"42\", as-groups: [dev, \"system:masters\"],"
                       " as-user-extra: {example.com/scopes: [view, edit], \"a b\": [x], Zz: []}}");
    kcfg_opts_t o = {.kubeconfig = path};
    kcfg_t *c = load_ok(&o);
    static const char *const want[] = {"Impersonate-User",
                                       "alice",
                                       "Impersonate-Uid",
                                       "42",
                                       "Impersonate-Group",
                                       "dev",
                                       "Impersonate-Group",
                                       "system:masters",
                                       "Impersonate-Extra-A%20b",
                                       "x",
                                       "Impersonate-Extra-Example.com%2fscopes",
                                       "view",
                                       "Impersonate-Extra-Example.com%2fscopes",
                                       "edit",
                                       NULL};
    expect_headers(c, want);
    assert_string_equal(c->as, "alice");
    kcfg_free(c);

    /* --as, --as-uid and --as-group replace the kubeconfig's values; extras stay */
    const char *groups[] = {"ops"};
    o.as = "bob";
    o.as_uid = "7";
    o.as_groups = groups;
    o.nas_groups = 1;
    c = load_ok(&o);
    static const char *const want2[] = {"Impersonate-User",
                                        "bob",
                                        "Impersonate-Uid",
                                        "7",
                                        "Impersonate-Group",
                                        "ops",
                                        "Impersonate-Extra-A%20b",
                                        "x",
                                        "Impersonate-Extra-Example.com%2fscopes",
                                        "view",
                                        "Impersonate-Extra-Example.com%2fscopes",
                                        "edit",
                                        NULL};
    expect_headers(c, want2);
    kcfg_free(c);
    unlink(path);

    /* nobody impersonated: no headers */
    path = tmp_kubeconfig("{token: t}");
    kcfg_opts_t o2 = {.kubeconfig = path};
    c = load_ok(&o2);
    assert_null(c->imp_headers);
    assert_int_equal(c->nimp_headers, 0);
    kcfg_free(c);
    /* a group without a user: client-go's validation message */
    o2.as_groups = groups;
    o2.nas_groups = 1;
    load_fails(&o2, "requesting uid, groups or user-extra for u without impersonating a user");
    o2.nas_groups = 0;
    o2.as = "bad\nname";
    load_fails(&o2, "invalid configuration: Impersonate-User value for u holds characters not "
                    "allowed in a header");
    unlink(path);
}

static void test_extra_header_name(void **state)
{
    buf_t b;
    buf_init(&b, 4096);
    assert_int_equal(kcfg_extra_header_name(&b, "reason-Code_x.y~z/\xc3\xa9%"), 0);
    assert_string_equal(b.data, "Impersonate-Extra-Reason-Code_x.y~z%2f%c3%a9%25");
    buf_free(&b);
}

#define JWT_HDR "eyJhbGciOiJub25lIn0."
#define JWT_2100 JWT_HDR "eyJpc3MiOiJodHRwczovL2kiLCJleHAiOjQxMDI0NDQ4MDB9.sig"
#define JWT_2001 JWT_HDR "eyJpc3MiOiJodHRwczovL2kiLCJleHAiOjEwMDAwMDAwMDB9.sig"
#define JWT_NOEXP JWT_HDR "eyJpc3MiOiJodHRwczovL2kifQ.sig"

static void test_auth_provider(void **state)
{
    const char *path = tmp_kubeconfig("{auth-provider: {name: oidc, config: {id-token: " JWT_2100
                                      ", idp-issuer-url: https://i, client-id: k}}}");
    kcfg_opts_t o = {.kubeconfig = path};
    kcfg_t *c = load_ok(&o);
    assert_string_equal(c->token, JWT_2100); /* sent as the bearer token, as client-go does */
    assert_string_equal(c->auth_provider, "oidc");
    kcfg_free(c);
    unlink(path);

    /* a static token wins over the provider, as the Authorization already set does */
    path =
        tmp_kubeconfig("{token: t, auth-provider: {name: oidc, config: {id-token: " JWT_2001 "}}}");
    o.kubeconfig = path;
    c = load_ok(&o);
    assert_string_equal(c->token, "t");
    kcfg_free(c);
    unlink(path);

    path = tmp_kubeconfig("{auth-provider: {name: oidc, config: {id-token: " JWT_2001
                          ", refresh-token: r}}}");
    o.kubeconfig = path;
    load_fails(&o, "user u: auth-provider \"oidc\" has an expired id-token, and podmux does not "
                   "refresh it; use an exec credential plugin such as kubelogin "
                   "(https://github.com/int128/kubelogin) instead");
    unlink(path);
    path = tmp_kubeconfig("{auth-provider: {name: oidc, config: {id-token: " JWT_NOEXP "}}}");
    o.kubeconfig = path;
    load_fails(&o, "user u: auth-provider \"oidc\" has an expired id-token and no refresh-token; "
                   "use an exec credential plugin such as kubelogin "
                   "(https://github.com/int128/kubelogin) instead");
    unlink(path);
    path = tmp_kubeconfig("{auth-provider: {name: oidc, config: {id-token: not-a-jwt}}}");
    o.kubeconfig = path;
    load_fails(&o, "user u: auth-provider \"oidc\" has an id-token that is not a valid JWT; use "
                   "an exec credential plugin such as kubelogin "
                   "(https://github.com/int128/kubelogin) instead");
    unlink(path);
    path = tmp_kubeconfig("{auth-provider: {name: gcp}}");
    o.kubeconfig = path;
    load_fails(&o, "user u: auth-provider \"gcp\" is not supported (client-go removed it); use "
                   "the gke-gcloud-auth-plugin exec plugin instead");
    unlink(path);
    path = tmp_kubeconfig("{auth-provider: {name: custom}}");
    o.kubeconfig = path;
    load_fails(&o, "user u: auth-provider \"custom\" is not supported (client-go removed it); "
                   "use an exec credential plugin (user.exec) instead");
    unlink(path);
}

static void test_not_regular_files(void **state)
{
    char dir[] = "/tmp/pmx-kcfg-nreg-XXXXXX", fifo[PATH_MAX], user[2 * PATH_MAX],
         want[3 * PATH_MAX];
    assert_non_null(mkdtemp(dir));
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);

    kcfg_opts_t o = {.ca_file = dir};
    snprintf(user, sizeof user, "{token: t}");
    o.kubeconfig = tmp_kubeconfig(user);
    o.insecure = 0;
    snprintf(want, sizeof want,
             "invalid configuration: unable to read certificate-authority %s for c due to not a "
             "regular file",
             dir);
    load_fails(&o, want);
    unlink(o.kubeconfig);

    const char *what[] = {"client-cert", "client-key", "tokenFile"};
    for (int k = 0; k < 3; k++)
        for (int f = 0; f < 3; f++) {
            const char *target = f == 0 ? dir : f == 1 ? fifo : "/dev/null";
            kcfg_opts_t o2 = {0};
            if (k == 2)
                snprintf(user, sizeof user, "{tokenFile: %s}", target);
            else
                snprintf(user, sizeof user, "{client-certificate: %s, client-key: %s}",
                         k == 0 ? target : fx("certs.yaml"), k == 1 ? target : fx("certs.yaml"));
            o2.kubeconfig = tmp_kubeconfig(user);
            snprintf(want, sizeof want,
                     "invalid configuration: unable to read %s %s for u due to not a regular file",
                     what[k], target);
            load_fails(&o2, want);
            unlink(o2.kubeconfig);
        }
    unlink(fifo);
    rmdir(dir);
}

/* Many anchors and aliases read in linear time (hashed), and aliases are capped. */
static void test_many_aliases(void **state)
{
    char path[] = "/tmp/pmx-kcfg-alias-XXXXXX", want[200];
    for (int over = 0; over < 2; over++) {
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        FILE *f = fdopen(fd, "w");
        fprintf(f, "clusters:\n- name: c\n  cluster: {server: https://k}\n"
                   "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n"
                   "preferences:\n");
        for (int i = 0; i < 100000; i++)
            fprintf(f, "  a%d: &a%d v%d\n", i, i, i);
        for (int i = 0; i < 10000 + over; i++)
            fprintf(f, "  b%d: *a%d\n", i, (i * 7919) % 100000);
        fclose(f);
        kcfg_opts_t o = {.kubeconfig = path};
        if (!over) {
            kcfg_free(load_ok(&o));
        } else {
            snprintf(want, sizeof want, "kubeconfig %s line %d: yaml: more than 10000 aliases",
                     path, 9 + 100000 + 10000);
            load_fails(&o, want);
        }
        unlink(path);
        snprintf(path, sizeof path, "/tmp/pmx-kcfg-alias-XXXXXX");
    }
}

int main(void)
{
    /* The fixtures sit next to this file (tests/unit/data/kubeconfig). */
    char here[PATH_MAX];
    snprintf(here, sizeof here, "%s", __FILE__);
    *strrchr(here, '/') = 0;
    strncat(here, "/data/kubeconfig", sizeof here - strlen(here) - 1);
    if (!realpath(here, fixdir)) {
        perror("fixtures");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_first_file_wins),
        cmocka_unit_test(test_kubeconfig_env_skips_missing_and_duplicates),
        cmocka_unit_test(test_explicit_kubeconfig_must_exist),
        cmocka_unit_test(test_home_default),
        cmocka_unit_test(test_missing_context_lists_contexts),
        cmocka_unit_test(test_insecure_with_ca_is_an_error),
        cmocka_unit_test(test_bad_yaml_names_line),
        cmocka_unit_test(test_two_methods),
        cmocka_unit_test(test_proxy_scheme),
        cmocka_unit_test(test_exec_user),
        cmocka_unit_test(test_client_certs),
        cmocka_unit_test(test_alias_bomb_is_bounded),
        cmocka_unit_test(test_anchors_and_basic),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_in_cluster),
        cmocka_unit_test(test_parse_limits),
        cmocka_unit_test(test_file_too_large),
        cmocka_unit_test(test_impersonation_headers),
        cmocka_unit_test(test_extra_header_name),
        cmocka_unit_test(test_auth_provider),
        cmocka_unit_test(test_not_regular_files),
        cmocka_unit_test(test_many_aliases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
