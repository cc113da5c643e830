/* podmux: kubectl-style exec and attach for one pod, many pods, or a whole workload.
 * Installed as `podmux` and `kubectl-podmux`. Exit status: the remote command's, like ssh;
 * 255 with one line on stderr when podmux itself failed; 1 in a fan-out when some command
 * exited non-zero; 128+N when signal N ended podmux. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "app.h"
#include "heap.h"
#include "util/fmt.h"
#include "shell.h"
#include "term.h"

#define OUT_HIGH (4u * 1024 * 1024)
#define OUT_LOW (1u * 1024 * 1024)

/* Control bytes in a message (a server's text, a name echoed back) are shown as \xNN, so that
 * no escape sequence reaches the terminal through podmux's own lines. */
static size_t escape_controls(const char *in, char *out, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        int ctl = (*p < 0x20 && *p != '\t') || *p == 0x7f;
        if (n + (ctl ? 4 : 1) >= len) break;
        if (ctl) {
            out[n++] = '\\', out[n++] = 'x', out[n++] = hex[*p >> 4], out[n++] = hex[*p & 15];
        } else {
            out[n++] = (char)*p;
        }
    }
    out[n] = '\0';
    return n;
}

static void app_vprint(app_t *a, const char *prefix, const char *fmt, va_list ap)
{
    char msg[2048], line[2048];
    if (vsnprintf(msg, sizeof msg, fmt, ap) < 0) return;
    int n = snprintf(line, sizeof line, "%s", prefix);
    size_t len = (size_t)n + escape_controls(msg, line + n, sizeof line - (size_t)n - 2);
    if (a->raw) line[len++] = '\r';
    line[len++] = '\n';
    if (a->err.prep.loop && !a->err.closed)
        cli_out_write(&a->err, line, len);
    else if (write(2, line, len) < 0) { /* nowhere else to say it */
    }
}

void app_errorf(app_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    app_vprint(a, "podmux: ", fmt, ap);
    va_end(ap);
}

void app_notef(app_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    app_vprint(a, "", fmt, ap);
    va_end(ap);
}

void app_server_hostport(app_t *a, char *out, size_t len)
{
    const char *s = a->c ? pmx_client_server(a->c) : NULL;
    if (!s) s = "the server";
    const char *p = strstr(s, "://");
    p = p ? p + 3 : s;
    size_t n = strcspn(p, "/");
    snprintf(out, len, "%.*s", (int)n, p);
}

void app_failure_line(app_t *a, const pmx_exit_t *ex, char *out, size_t len)
{
    char host[300], amount[64];
    app_server_hostport(a, host, sizeof host);
    fmt_bytes(ex->bytes_out + ex->bytes_in, amount, sizeof amount);
    const char *msg = ex->message && *ex->message ? ex->message : pmx_strerror(ex->err);
    const char *unknown = "the command's exit status is unknown";
    if (strstr(msg, unknown)) /* the library said it already */
        snprintf(out, len, "%s", msg);
    else if (ex->command_started && ex->err == PMX_ELOST)
        snprintf(out, len, "connection to %s lost after %s; %s", host, amount, unknown);
    else if (ex->command_started && ex->err == PMX_ENOSTATUS)
        snprintf(out, len, "connection to %s ended without an exit status after %s; %s", host,
                 amount, unknown);
    else if (ex->command_started && ex->err == PMX_ETIMEDOUT)
        snprintf(out, len, "%s; %s", msg, unknown);
    else
        snprintf(out, len, "%s", msg);
    cli_strip_status(out);
}

static void on_log(void *data, const char *line)
{
    app_t *a = data;
    app_notef(a, "podmux: %s", line);
}

static int make_client(app_t *a)
{
    cli_opts_t *o = a->o;
    pmx_client_opts_t co = {
        .kubeconfig = o->kubeconfig,
        .context = o->context,
        .cluster = o->cluster,
        .user = o->user,
        .namespace_ = o->ns,
        .server = o->server,
        .token = o->token,
        .ca_file = o->ca_file,
        .insecure = o->insecure,
        .as = o->as,
        .as_uid = o->as_uid,
        .as_groups = o->as_groups,
        .nas_groups = o->nas_groups,
        .request_timeout_ms = o->request_timeout_ms,
        .upgrade_timeout_ms = o->request_timeout_ms,
        .keepalive_ms = o->keepalive_ms ? o->keepalive_ms : UINT64_MAX,
        .eof_grace_ms = o->eof_grace_ms ? o->eof_grace_ms : UINT64_MAX,
        .log = o->verbose ? on_log : NULL,
        .log_data = a,
    };
    if (o->insecure)
        app_notef(a, "podmux: warning: --insecure-skip-tls-verify: the server's certificate will "
                     "not be checked");
    char err[1024] = "";
    int rc = pmx_client_new(a->loop, &co, &a->c, err, sizeof err);
    if (rc < 0) {
        app_errorf(a, "%s", err[0] ? err : pmx_strerror(rc));
        return -1;
    }
    return 0;
}

/* Usage checks that need the whole command line. */
static int check_usage(app_t *a)
{
    cli_opts_t *o = a->o;
    if (o->cmd == CMD_CP) return 0; /* cp.c checks its own arguments */
    int selectors = o->selector || o->field_selector;
    if (!o->ntargets && !selectors) {
        app_errorf(a, "%s requires a pod or workload (or -l/--field-selector)",
                   o->cmd == CMD_EXEC    ? "exec"
                   : o->cmd == CMD_SHELL ? "shell"
                                         : "attach");
        return -1;
    }
    if (o->cmd == CMD_EXEC && o->argc < 1) {
        app_errorf(a, "you must specify at least one command for the container, after --");
        return -1;
    }
    if (o->cmd == CMD_ATTACH && o->argc > 0) {
        app_errorf(a, "attach takes no command");
        return -1;
    }
    if (o->all_ns && o->ntargets) {
        app_errorf(a, "-A/--all-namespaces goes with -l/--field-selector, not named targets");
        return -1;
    }
    return 0;
}

static int run_command(app_t *a)
{
    if (check_usage(a) < 0) return CLI_EXIT_FAIL;
    if (make_client(a) < 0) return CLI_EXIT_FAIL;
    if (a->o->cmd == CMD_CP) return run_cp(a);
    return shell_wanted(a->o) ? run_shell(a) : run_exec_attach(a);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Every session holds a socket: raise the soft open-file limit to the hard one, as Go
 * programs (kubectl) do at start, so that a fan-out of hundreds under a soft limit of 256 or
 * 1024 does not fail with "too many open files". */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl); /* best effort: the old limit stays on failure */
    }
}

/* A closed stdin, stdout or stderr (`podmux ... >&-`) gets /dev/null, so that no socket or
 * loop descriptor takes its number: our output would go into it, and libuv refuses to close
 * fds 0-2. Output to a closed stdout is dropped; the summary still reaches stderr. */
static void hold_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
        int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (n >= 0 && n != fd) { /* a lower one was closed too and is held by now */
            dup2(n, fd);
            close(n);
        }
    }
}

int main(int argc, char **argv)
{
    hold_std_fds();
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    cli_opts_t o;
    app_t a;
    memset(&a, 0, sizeof a);
    a.o = &o;
    char err[512];
    if (cli_parse_args(argc, argv, &o, err, sizeof err) < 0) {
        app_errorf(&a, "%s", err);
        app_notef(&a, "See '%s --help' for usage.", cli_prog_name(argv[0]));
        cli_opts_free(&o);
        return CLI_EXIT_FAIL;
    }
    if (o.help || o.cmd == CMD_NONE || o.cmd == CMD_HELP) {
        int usage_error = o.cmd == CMD_NONE && !o.help; /* bare `podmux`: usage, like ssh */
        fputs(cli_help_text(o.cmd, cli_prog_name(argv[0])), usage_error ? stderr : stdout);
        cli_opts_free(&o);
        return usage_error ? CLI_EXIT_FAIL : 0;
    }
    if (o.cmd == CMD_VERSION) {
        printf("podmux %s (libpodmux %s)\n", PMX_VERSION, pmx_version());
        cli_opts_free(&o);
        return 0;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    a.loop = &loop;
    cli_heap_t heap;
    cli_heap_init(&heap, &loop);
    app_early_signals(&a);
    cli_out_init(&a.out, &loop, 1, OUT_HIGH, OUT_LOW);
    cli_out_init(&a.err, &loop, 2, OUT_HIGH, OUT_LOW);
    int code = run_command(&a);
    cli_out_close(&a.out);
    cli_out_close(&a.err);
    uv_run(&loop, UV_RUN_DEFAULT); /* flush what is queued */
    if (a.c) pmx_client_free(a.c);
    uv_walk(&loop, close_walk, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    cli_out_restore(&a.out);
    cli_out_restore(&a.err);
    term_restore();
    cli_opts_free(&o);
    return code;
}
