/* args: podmux's command line, parsed like kubectl's (cobra/pflag): long flags with "=" or a
 * separate value, combined short flags ("-it", "-nfoo", "-n=foo"), flags anywhere before "--",
 * everything after "--" is the command. Pure: no I/O, so it is unit-tested directly. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

enum { F_BOOL, F_STR, F_DUR, F_UINT, F_DOUBLE, F_ESCAPE, F_OUTPUT, F_SIZE };

typedef struct flag {
    const char *name;
    char shorthand;
    int type;
    size_t off;
} flag_t;

#define OFF(field) offsetof(cli_opts_t, field)
static const flag_t FLAGS[] = {
    {"namespace", 'n', F_STR, OFF(ns)},
    {"container", 'c', F_STR, OFF(container)},
    {"stdin", 'i', F_BOOL, OFF(stdin_)},
    {"tty", 't', F_BOOL, OFF(tty)},
    {"quiet", 'q', F_BOOL, OFF(quiet)},
    {"verbose", 'v', F_BOOL, OFF(verbose)},
    {"help", 'h', F_BOOL, OFF(help)},
    {"kubeconfig", 0, F_STR, OFF(kubeconfig)},
    {"context", 0, F_STR, OFF(context)},
    {"cluster", 0, F_STR, OFF(cluster)},
    {"user", 0, F_STR, OFF(user)},
    {"server", 's', F_STR, OFF(server)},
    {"token", 0, F_STR, OFF(token)},
    {"certificate-authority", 0, F_STR, OFF(ca_file)},
    {"insecure-skip-tls-verify", 0, F_BOOL, OFF(insecure)},
    {"request-timeout", 0, F_DUR, OFF(request_timeout_ms)},
    {"pod-running-timeout", 0, F_DUR, OFF(pod_running_timeout_ms)},
    {"escape", 0, F_ESCAPE, OFF(escape_char)},
    {"keepalive", 0, F_DUR, OFF(keepalive_ms)},
    {"selector", 'l', F_STR, OFF(selector)},
    {"field-selector", 0, F_STR, OFF(field_selector)},
    {"all-namespaces", 'A', F_BOOL, OFF(all_ns)},
    {"all-pods", 0, F_BOOL, OFF(all_pods)},
    {"all-containers", 0, F_BOOL, OFF(all_containers)},
    {"parallel", 'P', F_UINT, OFF(parallel)},
    {"qps", 0, F_DOUBLE, OFF(qps)},
    {"burst", 0, F_UINT, OFF(burst)},
    {"timeout", 0, F_DUR, OFF(timeout_ms)},
    {"fail-fast", 0, F_BOOL, OFF(fail_fast)},
    {"retries", 0, F_UINT, OFF(retries)},
    {"output", 'o', F_OUTPUT, OFF(output)},
    {"layout", 0, F_STR, OFF(layout)},
    {"max-bytes", 0, F_SIZE, OFF(max_bytes)},
    {"max-entries", 0, F_SIZE, OFF(max_entries)},
    {"max-lag", 0, F_SIZE, OFF(max_lag)},
};
#define NFLAGS (sizeof FLAGS / sizeof FLAGS[0])

/* Go's time.ParseDuration units, in nanoseconds. */
static const struct {
    const char *unit;
    double ns;
} UNITS[] = {{"ns", 1},   {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3},
             {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},        {"h", 3600e9}};

int cli_parse_duration(const char *s, uint64_t *ms)
{
    if (!s || !*s) return -1;
    char *end;
    if (s[strspn(s, "0123456789")] == '\0') { /* bare integer: seconds (kubectl) */
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || v > UINT64_MAX / 1000) return -1;
        *ms = v * 1000;
        return 0;
    }
    double total = 0;
    const char *p = s;
    while (*p) {
        if (!isdigit((unsigned char)*p) && *p != '.') return -1;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || v < 0) return -1;
        p = end;
        size_t best = 0, bestlen = 0;
        for (size_t i = 0; i < sizeof UNITS / sizeof UNITS[0]; i++) {
            size_t ul = strlen(UNITS[i].unit);
            if (ul > bestlen && !strncmp(p, UNITS[i].unit, ul)) best = i, bestlen = ul;
        }
        if (!bestlen) return -1; /* Go: "missing unit in duration" */
        p += bestlen;
        total += v * UNITS[best].ns;
    }
    double m = total / 1e6;
    if (!isfinite(m) || m > 1.8e19) return -1;
    *ms = (uint64_t)ceil(m);
    return 0;
}

/* kubectl's resource names and aliases for the workloads `exec` accepts. */
static const struct {
    const char *canon;
    const char *names[5];
} KINDS[] = {
    {"pod", {"pod", "pods", "po", NULL}},
    {"deploy", {"deploy", "deployment", "deployments", "deployment.apps", NULL}},
    {"sts", {"sts", "statefulset", "statefulsets", "statefulset.apps", NULL}},
    {"ds", {"ds", "daemonset", "daemonsets", "daemonset.apps", NULL}},
    {"rs", {"rs", "replicaset", "replicasets", "replicaset.apps", NULL}},
    {"job", {"job", "jobs", "job.batch", NULL}},
};

/* RFC 1123 subdomain, as the names of pods and workloads. */
static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-' || c == '.'))
            return 0;
    }
    return isalnum((unsigned char)s[0]) && isalnum((unsigned char)s[n - 1]);
}

int cli_parse_target(const char *s, cli_target_t *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    const char *slash = strchr(s, '/');
    const char *name = slash ? slash + 1 : s;
    int kind = slash ? -1 : 0;
    for (size_t i = 0; slash && i < sizeof KINDS / sizeof KINDS[0] && kind < 0; i++)
        for (int k = 0; KINDS[i].names[k] && kind < 0; k++)
            if (strlen(KINDS[i].names[k]) == (size_t)(slash - s) &&
                !strncasecmp(s, KINDS[i].names[k], (size_t)(slash - s)))
                kind = (int)i;
    if (kind < 0) {
        snprintf(err, errlen, "the server doesn't have a resource type \"%.*s\"", (int)(slash - s),
                 s);
        return -1;
    }
    if (!valid_name(name)) {
        snprintf(err, errlen, "invalid resource name \"%s\"", s);
        return -1;
    }
    t->kind = kind == 0 ? TGT_POD : TGT_WORKLOAD;
    snprintf(t->name, sizeof t->name, "%s", name);
    if (kind) snprintf(t->workload, sizeof t->workload, "%s/%s", KINDS[kind].canon, name);
    return 0;
}

static int parse_bool(const char *v, int *out)
{
    static const char *T[] = {"1", "t", "T", "true", "TRUE", "True"};
    static const char *F[] = {"0", "f", "F", "false", "FALSE", "False"};
    for (int i = 0; i < 6; i++) {
        if (!strcmp(v, T[i])) return *out = 1, 0;
        if (!strcmp(v, F[i])) return *out = 0, 0;
    }
    return -1;
}

static int set_value(const flag_t *f, const char *v, cli_opts_t *o, char *err, size_t errlen)
{
    void *p = (char *)o + f->off;
    char *end;
    int ok = 1;
    switch (f->type) {
    case F_BOOL:
        ok = parse_bool(v, (int *)p) == 0;
        break;
    case F_STR:
        *(const char **)p = v;
        break;
    case F_DUR:
        ok = cli_parse_duration(v, (uint64_t *)p) == 0;
        break;
    case F_UINT: {
        errno = 0;
        unsigned long n = strtoul(v, &end, 10);
        ok = *v && !*end && !errno && n <= 1000000 && v[0] != '-';
        if (ok) *(unsigned *)p = (unsigned)n;
        break;
    }
    case F_DOUBLE: {
        double d = strtod(v, &end);
        ok = *v && !*end && isfinite(d) && d >= 0;
        if (ok) *(double *)p = d;
        break;
    }
    case F_ESCAPE:
        if (!strcmp(v, "none"))
            *(int *)p = -1;
        else if (strlen(v) == 1)
            *(int *)p = (unsigned char)v[0];
        else if (strlen(v) == 2 && v[0] == '^' && v[1] >= '@' && v[1] <= '_')
            *(int *)p = v[1] - '@'; /* ssh's ^X notation */
        else
            ok = 0;
        break;
    case F_SIZE: { /* 1000, 64Ki, 100Mi, 1Gi, 10M, 2G (Kubernetes quantities, no decimals) */
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        static const struct {
            const char *sfx;
            unsigned long long mul;
        } S[] = {{"", 1},
                 {"k", 1000ull},
                 {"K", 1000ull},
                 {"M", 1000000ull},
                 {"G", 1000000000ull},
                 {"Ki", 1ull << 10},
                 {"Mi", 1ull << 20},
                 {"Gi", 1ull << 30},
                 {"Ti", 1ull << 40}};
        ok = 0;
        for (size_t i = 0; i < sizeof S / sizeof S[0] && isdigit((unsigned char)v[0]) && !errno;
             i++)
            if (!strcmp(end, S[i].sfx) && n > 0 && n <= UINT64_MAX / S[i].mul) {
                *(uint64_t *)p = n * S[i].mul;
                ok = 1;
            }
        break;
    }
    case F_OUTPUT:
        if (!strcmp(v, "raw"))
            *(int *)p = OUT_RAW;
        else if (!strcmp(v, "prefix"))
            *(int *)p = OUT_PREFIX;
        else if (!strcmp(v, "group"))
            *(int *)p = OUT_GROUP;
        else if (!strcmp(v, "json"))
            *(int *)p = OUT_JSON;
        else
            ok = 0;
        break;
    }
    if (!ok && f->shorthand)
        snprintf(err, errlen, "invalid argument \"%s\" for \"-%c, --%s\" flag", v, f->shorthand,
                 f->name);
    else if (!ok)
        snprintf(err, errlen, "invalid argument \"%s\" for \"--%s\" flag", v, f->name);
    return ok ? 0 : -1;
}

static const flag_t *find_long(const char *name, size_t len)
{
    for (size_t i = 0; i < NFLAGS; i++)
        if (strlen(FLAGS[i].name) == len && !strncmp(FLAGS[i].name, name, len)) return &FLAGS[i];
    return NULL;
}

static const flag_t *find_short(char c)
{
    for (size_t i = 0; i < NFLAGS; i++)
        if (FLAGS[i].shorthand == c) return &FLAGS[i];
    return NULL;
}

/* --name[=value]; may take argv[*i + 1]. */
static int parse_long(int argc, char **argv, int *i, cli_opts_t *o, char *err, size_t errlen)
{
    const char *a = argv[*i] + 2, *eq = strchr(a, '=');
    const flag_t *f = find_long(a, eq ? (size_t)(eq - a) : strlen(a));
    if (!f) {
        snprintf(err, errlen, "unknown flag: --%.*s", (int)(eq ? eq - a : (int)strlen(a)), a);
        return -1;
    }
    if (eq) return set_value(f, eq + 1, o, err, errlen);
    if (f->type == F_BOOL) return *(int *)((char *)o + f->off) = 1, 0;
    if (*i + 1 >= argc) {
        snprintf(err, errlen, "flag needs an argument: --%s", f->name);
        return -1;
    }
    return set_value(f, argv[++*i], o, err, errlen);
}

/* -abc, -nvalue, -n=value, -n value. */
static int parse_short(int argc, char **argv, int *i, cli_opts_t *o, char *err, size_t errlen)
{
    const char *a = argv[*i] + 1;
    for (size_t k = 0; a[k]; k++) {
        const flag_t *f = find_short(a[k]);
        if (!f) {
            snprintf(err, errlen, "unknown shorthand flag: '%c' in -%s", a[k], a);
            return -1;
        }
        const char *rest = a + k + 1;
        if (f->type == F_BOOL) {
            if (*rest == '=') return set_value(f, rest + 1, o, err, errlen);
            *(int *)((char *)o + f->off) = 1;
            continue;
        }
        if (*rest) return set_value(f, *rest == '=' ? rest + 1 : rest, o, err, errlen);
        if (*i + 1 >= argc) {
            snprintf(err, errlen, "flag needs an argument: '%c' in -%s", a[k], a);
            return -1;
        }
        return set_value(f, argv[++*i], o, err, errlen);
    }
    return 0;
}

static int command_word(const char *w)
{
    if (!strcmp(w, "exec")) return CMD_EXEC;
    if (!strcmp(w, "attach")) return CMD_ATTACH;
    if (!strcmp(w, "version")) return CMD_VERSION;
    if (!strcmp(w, "help")) return CMD_HELP;
    if (!strcmp(w, "shell")) return CMD_SHELL;
    if (!strcmp(w, "cp")) return CMD_CP;
    return CMD_NONE;
}

static int positional(cli_opts_t *o, const char *a, int *help_for, char *err, size_t errlen)
{
    if (o->cmd == CMD_NONE) {
        o->cmd = command_word(a);
        if (o->cmd == CMD_NONE) {
            snprintf(err, errlen, "unknown command \"%s\" for \"podmux\"", a);
            return -1;
        }
        return 0;
    }
    if (o->cmd == CMD_HELP && *help_for == CMD_NONE) {
        *help_for = command_word(a);
        if (*help_for == CMD_NONE) {
            snprintf(err, errlen, "unknown help topic \"%s\"", a);
            return -1;
        }
        return 0;
    }
    o->targets[o->ntargets++] = a;
    return 0;
}

static void defaults(cli_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->escape_char = '~';
    o->parallel = 64;
    o->pod_running_timeout_ms = 60000;
    o->keepalive_ms = 5000; /* kubectl's ping period; 0 on the command line turns pings off */
    o->output = OUT_AUTO;
}

int cli_parse_args(int argc, char **argv, cli_opts_t *o, char *err, size_t errlen)
{
    defaults(o);
    o->targets = calloc((size_t)argc + 1, sizeof *o->targets);
    if (!o->targets) return snprintf(err, errlen, "out of memory"), -1;
    int help_for = CMD_NONE, i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = 0;
        if (!strcmp(a, "--")) break;
        if (a[0] == '-' && a[1] == '-')
            rc = parse_long(argc, argv, &i, o, err, errlen);
        else if (a[0] == '-' && a[1])
            rc = parse_short(argc, argv, &i, o, err, errlen);
        else
            rc = positional(o, a, &help_for, err, errlen);
        if (rc < 0) return -1;
    }
    if (o->cmd == CMD_HELP) {
        o->cmd = help_for;
        o->help = 1;
    }
    if (i < argc) {
        o->argv = argv + i + 1;
        o->argc = argc - i - 1;
    }
    return 0;
}

void cli_opts_free(cli_opts_t *o)
{
    free(o->targets);
    o->targets = NULL;
}
