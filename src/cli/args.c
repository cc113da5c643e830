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

enum { F_BOOL, F_STR, F_DUR, F_UINT, F_DOUBLE, F_ESCAPE, F_OUTPUT, F_GROUPS, F_SIZE, F_KEY };

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
    {"as", 0, F_STR, OFF(as)},
    {"as-uid", 0, F_STR, OFF(as_uid)},
    {"as-group", 0, F_GROUPS, OFF(as_groups)}, /* repeatable, as kubectl's StringArray */
    {"request-timeout", 0, F_DUR, OFF(request_timeout_ms)},
    {"pod-running-timeout", 0, F_DUR, OFF(pod_running_timeout_ms)},
    {"escape", 0, F_ESCAPE, OFF(escape_char)},
    {"keepalive", 0, F_DUR, OFF(keepalive_ms)},
    {"eof-grace", 0, F_DUR, OFF(eof_grace_ms)},
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
    {"version", 0, F_BOOL, OFF(version)},
    {"kill-on-close", 0, F_BOOL, OFF(kill_on_close)},
    {"group-max", 0, F_SIZE, OFF(group_max)},
    {"prefix", 0, F_KEY, OFF(prefix_key)},
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

int cli_parse_size(const char *s, uint64_t *out)
{
    /* Kubernetes quantities (kubectl's resource sizes): k, M, G, T are powers of 1000, Ki, Mi,
     * Gi, Ti of 1024; "KiB"-style and "K" are accepted too. No decimals. */
    static const struct {
        const char *suffix;
        uint64_t mul;
    } SUFFIX[] = {{"", 1},
                  {"B", 1},
                  {"k", 1000ull},
                  {"K", 1000ull},
                  {"M", 1000000ull},
                  {"G", 1000000000ull},
                  {"T", 1000000000000ull},
                  {"Ki", 1ull << 10},
                  {"KiB", 1ull << 10},
                  {"Mi", 1ull << 20},
                  {"MiB", 1ull << 20},
                  {"Gi", 1ull << 30},
                  {"GiB", 1ull << 30},
                  {"Ti", 1ull << 40},
                  {"TiB", 1ull << 40}};
    if (!s || !isdigit((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) return -1;
    for (size_t i = 0; i < sizeof SUFFIX / sizeof SUFFIX[0]; i++) {
        if (strcmp(end, SUFFIX[i].suffix)) continue;
        if (v > UINT64_MAX / SUFFIX[i].mul) return -1;
        *out = (uint64_t)v * SUFFIX[i].mul;
        return 0;
    }
    return -1;
}

int cli_parse_ctrl_key(const char *s)
{
    if (!s) return -1;
    if (!strncasecmp(s, "ctrl-", 5))
        s += 5;
    else if (!strncasecmp(s, "c-", 2))
        s += 2;
    else if (s[0] == '^')
        s += 1;
    else
        return -1;
    if (!s[0] || s[1]) return -1;
    int c = toupper((unsigned char)s[0]);
    if (c < '@' || c > '_') return -1; /* a letter or @ [ \ ] ^ _ */
    return c - '@' ? c - '@' : -1;     /* not NUL */
}

void cli_ctrl_key_name(int key, char *out, size_t len)
{
    char c = (char)(key + '@');
    snprintf(out, len, "C-%c", c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

int cli_shell_prefix(int flag, const char *env, const char *tmux, const char *sty, char *err,
                     size_t errlen)
{
    if (flag > 0) return flag;
    if (env && *env) {
        int k = cli_parse_ctrl_key(env);
        if (k < 0) {
            char q[300];
            cli_quote(env, q, sizeof q);
            snprintf(err, errlen, "invalid PODMUX_PREFIX \"%s\" (a control key: C-b, ^a, Ctrl-])",
                     q);
        }
        return k;
    }
    if ((tmux && *tmux) || (sty && *sty)) return 0x1d; /* C-]: neither tmux's nor screen's */
    return 0x02;
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

size_t cli_quote(const char *s, char *out, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    if (!len) return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char e[4];
        size_t k = 0;
        if (*p == '"' || *p == '\\')
            e[k++] = '\\', e[k++] = (char)*p;
        else if (*p == '\n' || *p == '\t' || *p == '\r')
            e[k++] = '\\', e[k++] = *p == '\n' ? 'n' : *p == '\t' ? 't' : 'r';
        else if (*p < 0x20 || *p == 0x7f)
            e[k++] = '\\', e[k++] = 'x', e[k++] = hex[*p >> 4], e[k++] = hex[*p & 15];
        else
            e[k++] = (char)*p;
        if (n + k >= len) break; /* never half an escape */
        memcpy(out + n, e, k);
        n += k;
    }
    out[n] = '\0';
    return n;
}

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
    char q[300];
    if (kind < 0) {
        char type[256];
        snprintf(type, sizeof type, "%.*s", (int)(slash - s), s);
        cli_quote(type, q, sizeof q);
        snprintf(err, errlen, "the server doesn't have a resource type \"%s\"", q);
        return -1;
    }
    if (!valid_name(name)) {
        cli_quote(s, q, sizeof q);
        snprintf(err, errlen, "invalid resource name \"%s\"", q);
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
    case F_GROUPS:
        o->as_groups[o->nas_groups++] = v; /* at most one per argv entry: room was made */
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
    case F_KEY:
        *(int *)p = cli_parse_ctrl_key(v);
        ok = *(int *)p > 0;
        break;
    case F_SIZE: /* 0 turns --group-max's cap off; cp's limits need a size */
        ok = cli_parse_size(v, (uint64_t *)p) == 0 &&
             (*(uint64_t *)p > 0 || strcmp(f->name, "group-max") == 0);
        break;
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
    char q[300];
    if (!ok) cli_quote(v, q, sizeof q);
    if (!ok && f->shorthand)
        snprintf(err, errlen, "invalid argument \"%s\" for \"-%c, --%s\" flag", q, f->shorthand,
                 f->name);
    else if (!ok)
        snprintf(err, errlen, "invalid argument \"%s\" for \"--%s\" flag", q, f->name);
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
        char name[256], q[300];
        snprintf(name, sizeof name, "%.*s", (int)(eq ? eq - a : (int)strlen(a)), a);
        cli_quote(name, q, sizeof q);
        snprintf(err, errlen, "unknown flag: --%s", q);
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
            char c[2] = {a[k], 0}, qc[8], q[300];
            cli_quote(c, qc, sizeof qc);
            cli_quote(a, q, sizeof q);
            snprintf(err, errlen, "unknown shorthand flag: '%s' in -%s", qc, q);
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
            char q[300];
            cli_quote(a, q, sizeof q);
            snprintf(err, errlen, "unknown command \"%s\" for \"podmux\"", q);
            return -1;
        }
        return 0;
    }
    if (o->cmd == CMD_HELP && *help_for == CMD_NONE) {
        *help_for = command_word(a);
        if (*help_for == CMD_NONE) {
            char q[300];
            cli_quote(a, q, sizeof q);
            snprintf(err, errlen, "unknown help topic \"%s\"", q);
            return -1;
        }
        return 0;
    }
    o->targets[o->ntargets++] = a;
    return 0;
}

/* -n and -c go into the request path: what cannot be in a path segment is refused here, named
 * (the library would only say "invalid argument"). The server judges the rest, as for kubectl. */
static int check_name(const char *what, const char *v, char *err, size_t errlen)
{
    if (!v) return 0;
    const char *why = NULL;
    if (!*v)
        why = "it is empty";
    else if (strlen(v) > 253)
        why = "it is longer than 253 characters";
    else if (!strcmp(v, ".") || !strcmp(v, ".."))
        why = "it may not be '.' or '..'";
    for (const char *p = v; !why && *p; p++)
        if (*p == '/' || *p == '?' || *p == '#' || *p == '%' || (unsigned char)*p <= ' ' ||
            *p == 0x7f)
            why = "it may not contain '/', '?', '#', '%', spaces or control characters";
    if (!why) return 0;
    char q[300];
    cli_quote(v, q, sizeof q);
    snprintf(err, errlen, "invalid %s name \"%s\": %s", what, q, why);
    return -1;
}

/* --kill-on-close: the kubelet does not end a command when its stream goes away, but it closes
 * the command's stdin. The command runs under sh in the background (its stdin /dev/null, in its
 * own process group when the container has setsid), while sh watches the stream's stdin, which
 * podmux opens and never writes: at its end (podmux closed the session: --timeout, Ctrl-C,
 * --fail-fast, a lost connection) the group gets SIGTERM, then SIGKILL 2 s later. The exit
 * status is the command's. */
static const char KILL_WRAPPER[] =
    "exec 3<&0 0</dev/null\n"
    "if command -v setsid >/dev/null 2>&1; then setsid \"$@\" 3<&- & else \"$@\" 3<&- & fi\n"
    "c=$!\n"
    "{ while read -r _; do :; done <&3; kill -TERM -\"$c\" \"$c\"; sleep 2;"
    " kill -KILL -\"$c\" \"$c\"; } >/dev/null 2>&1 &\n"
    "w=$!\n"
    "exec 3<&-\n"
    "wait \"$c\"\n"
    "s=$?\n"
    "kill \"$w\" 2>/dev/null\n"
    "exit \"$s\"\n";

static int wrap_kill_on_close(cli_opts_t *o, char *err, size_t errlen)
{
    if (!o->kill_on_close) return 0;
    const char *why = o->cmd != CMD_EXEC ? "goes with exec only"
                      : o->stdin_ ? "cannot go with -i: the command's stdin is what it watches"
                      : o->tty    ? "cannot go with -t: a tty ends with the interrupt key"
                                  : NULL;
    if (why) {
        snprintf(err, errlen, "--kill-on-close %s", why);
        return -1;
    }
    if (o->argc < 1) return 0; /* the usage check says a command is missing */
    o->wrapped = calloc((size_t)o->argc + 5, sizeof *o->wrapped);
    if (!o->wrapped) return snprintf(err, errlen, "out of memory"), -1;
    o->wrapped[0] = "sh";
    o->wrapped[1] = "-c";
    o->wrapped[2] = (char *)KILL_WRAPPER;
    o->wrapped[3] = "podmux-kill-on-close"; /* $0 */
    for (int i = 0; i < o->argc; i++)
        o->wrapped[4 + i] = o->argv[i];
    o->argv = o->wrapped;
    o->argc += 4;
    return 0;
}

static void defaults(cli_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->escape_char = '~';
    o->parallel = 64;
    o->pod_running_timeout_ms = 60000;
    o->keepalive_ms = 5000; /* kubectl's ping period; 0 on the command line turns pings off */
    o->eof_grace_ms = 2000; /* without v5: quiet output after stdin's end ends it; 0: never */
    o->output = OUT_AUTO;
    o->group_max = CLI_GROUP_MAX_DEFAULT;
}

int cli_parse_args(int argc, char **argv, cli_opts_t *o, char *err, size_t errlen)
{
    defaults(o);
    o->targets = calloc((size_t)argc + 1, sizeof *o->targets);
    o->as_groups = calloc((size_t)argc + 1, sizeof *o->as_groups);
    if (!o->targets || !o->as_groups) return snprintf(err, errlen, "out of memory"), -1;
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
    if (o->version && o->cmd == CMD_NONE) o->cmd = CMD_VERSION; /* `podmux --version` */
    if (check_name("namespace", o->ns, err, errlen) < 0 ||
        check_name("container", o->container, err, errlen) < 0)
        return -1;
    if (i < argc) {
        o->argv = argv + i + 1;
        o->argc = argc - i - 1;
    }
    return wrap_kill_on_close(o, err, errlen);
}

void cli_opts_free(cli_opts_t *o)
{
    free(o->targets);
    free(o->as_groups);
    o->targets = NULL;
    o->as_groups = NULL;
    free(o->wrapped);
    o->wrapped = NULL;
}
