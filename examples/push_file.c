/* push_file: streams one local file to the stdin of a command in several pods at once with
 * pmx_transfer, on our own loop: the file is read once per chunk and position (libuv's
 * threadpool), each pod gets it with backpressure, and no pod runs more than 1 MiB ahead of
 * the slowest. Prints one line per pod and exits 0 when every pod's command exited 0.
 *
 *   push_file FILE POD... -- CMD [ARG...]     e.g. push_file app.tar web-1 web-2 -- tar xf -
 *   (kubeconfig from $KUBECONFIG or ~/.kube/config) */
#include <fcntl.h>
#include <podmux.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pmx_transfer_t *transfer;
static int failures;

static void on_stdout(pmx_session_t *s, const char *buf, size_t len, void *data)
{
    fwrite(buf, 1, len, stdout);
}

static void on_drain(pmx_session_t *s, void *data)
{
    pmx_transfer_drain(transfer, s); /* the session's queue fell: send more */
}

static void on_exit_cb(pmx_session_t *s, const pmx_exit_t *e, void *data)
{
    pmx_transfer_remove(transfer, s); /* the others no longer wait for this one */
    if (e->err == 0)
        printf("%s: exit %d, %llu bytes sent\n", (const char *)data, e->exit_code,
               (unsigned long long)e->bytes_in);
    else
        printf("%s: %s\n", (const char *)data, e->message);
    if (e->err < 0 || e->exit_code != 0) failures++;
}

static void on_sent(pmx_transfer_t *t, pmx_session_t *s, int err, void *data)
{
    if (err < 0)
        fprintf(stderr, "push_file: %s: %s\n", (char *)pmx_session_data(s), pmx_strerror(err));
}

int main(int argc, char **argv)
{
    int dd = 0;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--")) dd = i;
    if (dd < 3 || dd == argc - 1) {
        fprintf(stderr, "usage: push_file FILE POD... -- CMD [ARG...]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        perror(argv[1]);
        return 255;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    pmx_client_t *client;
    char err[512];
    if (pmx_client_new(&loop, NULL, &client, err, sizeof err) < 0) {
        fprintf(stderr, "push_file: %s\n", err);
        return 255;
    }
    pmx_transfer_opts_t to = {
        .fd = fd, .size = (uint64_t)st.st_size, .max_lag = 1 << 20, .close_stdin = 1};
    pmx_transfer_cb_t tcb = {.on_sent = on_sent};
    if (pmx_transfer_new(&loop, &to, &tcb, NULL, &transfer) < 0) return 255;
    pmx_session_cb_t cb = {.on_stdout = on_stdout, .on_exit = on_exit_cb, .on_drain = on_drain};
    for (int i = 2; i < dd; i++) {
        pmx_session_opts_t o = {0};
        o.kind = PMX_EXEC;
        o.pod = argv[i];
        o.argv = (const char *const *)argv + dd + 1;
        o.argc = argc - dd - 1;
        o.stdin_ = o.stdout_ = 1;
        pmx_session_t *s;
        int r = pmx_session_start(client, &o, &cb, argv[i], &s);
        if (r < 0 || (r = pmx_transfer_add(transfer, s)) < 0) {
            fprintf(stderr, "push_file: %s: %s\n", argv[i], pmx_strerror(r));
            failures++;
        }
    }
    uv_run(&loop, UV_RUN_DEFAULT); /* returns once every session closed */
    pmx_transfer_free(transfer);
    pmx_client_free(client);
    uv_run(&loop, UV_RUN_DEFAULT); /* reads still out finish here */
    uv_loop_close(&loop);
    close(fd);
    return failures ? 1 : 0;
}
