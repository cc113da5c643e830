/* exec_minimal: the smallest libpodmux program. Runs one command in one pod on our own loop
 * and exits with its exit code (255 when it could not run).
 *
 *   exec_minimal POD CMD [ARG...]        (kubeconfig from $KUBECONFIG or ~/.kube/config) */
#include <podmux.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static int status = 255;

static void on_stdout(pmx_session_t *s, const char *buf, size_t len, void *data)
{
    fwrite(buf, 1, len, stdout);
}

static void on_stderr(pmx_session_t *s, const char *buf, size_t len, void *data)
{
    fwrite(buf, 1, len, stderr);
}

static void on_exit_cb(pmx_session_t *s, const pmx_exit_t *e, void *data)
{
    if (e->err == 0)
        status = e->exit_code;
    else
        fprintf(stderr, "exec_minimal: %s\n", e->message);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: exec_minimal POD CMD [ARG...]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t loop;
    uv_loop_init(&loop);
    pmx_client_t *client;
    char err[512];
    if (pmx_client_new(&loop, NULL, &client, err, sizeof err) < 0) {
        fprintf(stderr, "exec_minimal: %s\n", err);
        return 255;
    }
    pmx_session_opts_t o = {0};
    o.kind = PMX_EXEC;
    o.pod = argv[1];
    o.argv = (const char *const *)argv + 2;
    o.argc = argc - 2;
    o.stdout_ = o.stderr_ = 1;
    pmx_session_cb_t cb = {NULL, on_stdout, on_stderr, on_exit_cb, NULL, NULL};
    pmx_session_t *s;
    int r = pmx_session_start(client, &o, &cb, NULL, &s);
    if (r < 0) {
        fprintf(stderr, "exec_minimal: %s\n", pmx_strerror(r));
        return 255;
    }
    uv_run(&loop, UV_RUN_DEFAULT); /* returns once the session closed */
    pmx_client_free(client);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return status;
}
