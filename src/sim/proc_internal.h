/* proc_internal.h: what proc.c (lifetime, reaping, output, stdin, control, the registry) and
 * proc_spawn.c (starting: lookup, environment, pty or pipes, the thread-pool spawn) share. Private
 * to podmux-sim's processes: everyone else uses proc.h. */
#ifndef PMX_SIM_PROC_INTERNAL_H
#define PMX_SIM_PROC_INTERNAL_H

#include <sys/types.h>
#include <uv.h>

#include "proc.h"

enum { IO_IN, IO_OUT, IO_ERR }; /* tty: IO_IN is the pty master (written), IO_OUT/ERR unused */

typedef struct proc_io {
    uv_pipe_t h;
    int fd;            /* what on_output reports */
    unsigned open : 1; /* initialised and not being closed */
    unsigned eof : 1;  /* output: the end was read */
} proc_io_t;

/* The pty master is read through its own dup'd fd with uv_poll (see pty_poll_cb). */
typedef struct pty_reader {
    uv_poll_t h;
    int fd;
    unsigned open : 1, eof : 1;
} pty_reader_t;

struct sim_proc {
    uv_loop_t *loop;
    sim_proc_cb_t cb;
    void *data;
    sim_proc_registry_t *reg;
    sim_proc_t *prev, *next;
    uv_timer_t defer; /* reports that must not run inside the caller's call */
    uv_shutdown_t shut;
    proc_io_t io[3];
    pty_reader_t pty;
    pid_t pid;
    int exit_code;
    int pending_sig; /* asked for while the spawn was under way */
    unsigned pending_hangup : 1, pending_close_stdin : 1, stdin_waits_start : 1; /* likewise */
    unsigned width, height;   /* pty size for a spawn still queued */
    struct spawn_job *job;    /* while queued */
    struct proc_model *model; /* a command the remote-cluster model serves (proc_model.c) */
    int handles; /* handles whose close callback has not run yet, +1 for an unreaped child */
    int stdin_err;
    size_t queued, high_water;
    unsigned char last_byte; /* last byte queued to a pty, for close_stdin */
    unsigned tty : 1, want_stdin : 1, spawned : 1, start_failed : 1, exited : 1, reported : 1,
        closing : 1, paused : 1, full : 1, stdin_eof : 1, wrote : 1, spawning : 1;
    char start_error[512];
};

/* ---- proc.c ---- */
void proc_unref(sim_proc_t *p);
void proc_io_close(proc_io_t *io);
void proc_io_init(sim_proc_t *p, int idx);
void proc_pty_close(sim_proc_t *p);
void proc_defer_cb(uv_timer_t *t);
int proc_kid_reserve(sim_proc_registry_t *r);
void proc_kids_trim(sim_proc_registry_t *r);
void proc_kid_add(sim_proc_registry_t *r, sim_proc_t *p);
int proc_kid_reap(sim_proc_registry_t *r, size_t i);
void proc_start_reading(sim_proc_t *p);
uv_stream_t *proc_stdin_stream(sim_proc_t *p);
void proc_close_stdin_on(sim_proc_t *p, uv_stream_t *s);
int proc_kill_group(sim_proc_t *p, int sig);

/* ---- proc_spawn.c ---- */
void proc_unqueue(sim_proc_t *p);

/* ---- proc_model.c: the remote-cluster model; proc.c forwards proc.h's calls when p->model ---- */
int proc_model_start(sim_proc_t *p, const sim_proc_opts_t *o);
long proc_model_write(sim_proc_t *p, const void *data, size_t len);
int proc_model_close_stdin(sim_proc_t *p);
int proc_model_resize(sim_proc_t *p, unsigned width, unsigned height);
void proc_model_resume(sim_proc_t *p);
void proc_model_hangup(sim_proc_t *p);
int proc_model_kill(sim_proc_t *p, int sig);
void proc_model_free(sim_proc_t *p);

#endif
