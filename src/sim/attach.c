/* attach: a container's main process, shared by every client attached to it. Its output goes to
 * every attached session; stdin (when the container has stdin: true) comes from any of them;
 * its tty (tty: true) is resized by any of them. The process starts at the first attach (a
 * simulated pod with thousands of replicas does not need thousands of idle processes) and when
 * it ends every attached session gets Success: attach never reports an exit code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/exec_internal.h"

#define MAIN_HIGH_WATER (1024 * 1024)

struct sim_main {
    sim_server_t *srv;
    char ns[256], pod[256], container[256];
    sim_proc_t *proc;
    sim_exec_t *attached;
    int paused, ended;
    struct sim_main *next;
};

static void main_unlink_free(sim_main_t *mp)
{
    sim_main_t **pp = &mp->srv->mains;
    while (*pp && *pp != mp)
        pp = &(*pp)->next;
    if (*pp) *pp = mp->next;
    sim_server_t *srv = mp->srv;
    free(mp);
    sim_server_maybe_stopped(srv);
}

static void main_output(sim_proc_t *p, int fd, const char *data, size_t len)
{
    sim_main_t *mp = sim_proc_data(p);
    int full = 0;
    for (sim_exec_t *e = mp->attached; e; e = e->main_next) {
        sim_exec_output(e, fd, data, len);
        if (e->st && stream_above_high_water(e->st)) full = 1;
    }
    if (full && !mp->paused) {
        mp->paused = 1;
        sim_proc_pause_output(p);
    }
}

static void main_exit(sim_proc_t *p, int code, const char *start_error)
{
    sim_main_t *mp = sim_proc_data(p);
    mp->ended = 1;
    sim_exec_t *e = mp->attached;
    while (e) {
        sim_exec_t *next = e->main_next;
        sim_exec_send_attach_end(e); /* detaches e */
        e = next;
    }
    sim_proc_close(p);
}

static void main_drain(sim_proc_t *p)
{
    (void)p;
}

static void main_closed(sim_proc_t *p)
{
    sim_main_t *mp = sim_proc_data(p);
    mp->proc = NULL;
    if (!mp->attached) main_unlink_free(mp);
}

static sim_main_t *main_find_or_start(sim_exec_t *e)
{
    sim_server_t *srv = e->srv;
    for (sim_main_t *mp = srv->mains; mp; mp = mp->next)
        if (!mp->ended && !strcmp(mp->ns, e->ns) && !strcmp(mp->pod, e->pod) &&
            !strcmp(mp->container, e->container))
            return mp;
    sim_main_t *mp = calloc(1, sizeof *mp);
    if (!mp) return NULL;
    mp->srv = srv;
    snprintf(mp->ns, sizeof mp->ns, "%s", e->ns);
    snprintf(mp->pod, sizeof mp->pod, "%s", e->pod);
    snprintf(mp->container, sizeof mp->container, "%s", e->container);
    const sim_container_t *c = e->mcont;
    size_t argc = c->ncommand + c->nargs;
    if (argc) {
        const char **argv = calloc(argc + 1, sizeof *argv);
        if (!argv) {
            free(mp);
            return NULL;
        }
        for (size_t i = 0; i < c->ncommand; i++)
            argv[i] = c->command[i];
        for (size_t i = 0; i < c->nargs; i++)
            argv[c->ncommand + i] = c->args[i];
        sim_env_t env;
        if (sim_env_build(&env, srv, e->ns, e->pod, e->container, c->tty, c) < 0) {
            free(argv);
            free(mp);
            return NULL;
        }
        sim_proc_opts_t o = {0};
        o.argv = argv;
        o.env = env.env;
        o.cwd = env.cwd;
        o.tty = c->tty;
        o.want_stdin = c->stdin_;
        o.registry = &srv->procs;
        sim_proc_cb_t cb = {main_output, main_exit, main_drain, main_closed};
        if (sim_proc_spawn(srv->loop, &o, &cb, mp, &mp->proc) < 0) mp->proc = NULL;
        sim_env_free(&env);
        free(argv);
    }
    mp->next = srv->mains;
    srv->mains = mp;
    return mp;
}

void sim_main_attach(sim_exec_t *e)
{
    sim_main_t *mp = main_find_or_start(e);
    if (!mp) {
        sim_exec_send_attach_end(e);
        return;
    }
    /* The container decides: no stdin unless it has one; a tty container is a tty. */
    if (!e->mcont->stdin_) e->want_stdin = 0;
    e->main = mp;
    e->main_next = mp->attached;
    mp->attached = e;
    if (e->tty && e->init_w && mp->proc) sim_proc_resize(mp->proc, e->init_w, e->init_h);
}

void sim_main_detach(sim_exec_t *e)
{
    sim_main_t *mp = e->main;
    if (!mp) return;
    sim_exec_t **pp = &mp->attached;
    while (*pp && *pp != e)
        pp = &(*pp)->main_next;
    if (*pp) *pp = e->main_next;
    e->main = NULL;
    e->main_next = NULL;
    if (mp->paused && mp->proc) {
        mp->paused = 0; /* re-evaluated at the next output */
        sim_proc_resume_output(mp->proc);
    }
    if (!mp->proc && !mp->attached) main_unlink_free(mp);
}

long sim_main_write(sim_exec_t *e, const uint8_t *data, size_t len)
{
    if (!e->main || !e->main->proc) return 0;
    return sim_proc_write(e->main->proc, data, len);
}

void sim_main_resize(sim_exec_t *e, unsigned w, unsigned h)
{
    if (e->main && e->main->proc) sim_proc_resize(e->main->proc, w, h);
}

/* An attached client drained: resume the main process once no attached client is full. */
void sim_main_drained(sim_exec_t *e)
{
    sim_main_t *mp = e ? e->main : NULL;
    if (!mp || !mp->paused || !mp->proc) return;
    for (sim_exec_t *a = mp->attached; a; a = a->main_next)
        if (a->st && stream_above_high_water(a->st)) return;
    mp->paused = 0;
    sim_proc_resume_output(mp->proc);
}

void sim_main_kill_all(sim_server_t *srv)
{
    for (sim_main_t *mp = srv->mains; mp; mp = mp->next)
        if (mp->proc) sim_proc_close(mp->proc);
}
