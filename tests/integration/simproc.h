/* simproc.h: start and stop a podmux-sim for C integration tests (header-only helper). */
#ifndef PMX_TEST_SIMPROC_H
#define PMX_TEST_SIMPROC_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct simproc {
    pid_t pid;
    char dir[256];
    char kubeconfig[300];
    char url[128];
} simproc_t;

/* Starts $PODMUX_SIM with extra args (NULL-terminated); 0 on ready. */
static int simproc_start(simproc_t *s, const char *const *extra)
{
    const char *bin = getenv("PODMUX_SIM");
    if (!bin) return -1;
    snprintf(s->dir, sizeof s->dir, "/tmp/pmx-itest.XXXXXX");
    if (!mkdtemp(s->dir)) return -1;
    snprintf(s->kubeconfig, sizeof s->kubeconfig, "%s/kubeconfig", s->dir);
    int fds[2];
    if (pipe(fds) < 0) return -1;
    s->pid = fork();
    if (s->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        char state[300];
        snprintf(state, sizeof state, "%s/state", s->dir);
        const char *argv[32] = {bin,           "--listen",    "127.0.0.1:0", "--kubeconfig-out",
                                s->kubeconfig, "--state-dir", state};
        int n = 7;
        for (int i = 0; extra && extra[i] && n < 30; i++)
            argv[n++] = extra[i];
        argv[n] = NULL;
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[512] = "";
    if (!f || !fgets(line, sizeof line, f)) return -1;
    fclose(f);
    if (strncmp(line, "ready ", 6)) return -1;
    sscanf(line + 6, "%127s", s->url);
    return 0;
}

static void simproc_stop(simproc_t *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        int st;
        waitpid(s->pid, &st, 0);
    }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", s->dir);
}

#endif
