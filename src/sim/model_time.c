/* model_time: pods that change over time. A pod template's sim.podmux.io/create-after,
 * running-after and delete-after become steps on one schedule, sorted by time. Nothing runs by
 * itself: whoever looks at the model first calls sim_model_advance() with the current time
 * (the REST layer on every request, the watch hub from its timer), so a list, a get and a watch
 * all see the same history. Each step bumps the resourceVersion by exactly one, so the change
 * with rv R has sequence number R - rv_built - 1 and "changes after rv" is an index. */
#include "sim/model_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHANGELOG_MAX 65536 /* changes kept for watches that start in the past */

typedef enum step_kind { STEP_CREATE, STEP_RUN, STEP_DELETE } step_kind_t;

typedef struct step {
    long long at; /* ms since the build */
    size_t pod;
    step_kind_t kind;
} step_t;

struct sim_timeline {
    step_t *steps;
    size_t nsteps, next;
    sim_change_t *log; /* ring: sequence numbers [total - min(total, cap), total) */
    size_t cap;
    uint64_t total;
};

long long model_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long sim_model_now_ms(const sim_model_t *m)
{
    return model_mono_ms() - m->mono_start_ms;
}

static int step_cmp(const void *a, const void *b)
{
    const step_t *x = a, *y = b;
    if (x->at != y->at) return x->at < y->at ? -1 : 1;
    if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1; /* create, run, delete */
    return x->pod < y->pod ? -1 : x->pod > y->pod;
}

void model_timeline_free(sim_model_t *m)
{
    if (!m->timeline) return;
    free(m->timeline->steps);
    free(m->timeline->log);
    free(m->timeline);
    m->timeline = NULL;
}

static size_t collect_steps(const sim_model_t *m, step_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < m->npods; i++) {
        const sim_pod_t *p = &m->pods[i];
        long long at[] = {p->create_at_ms, p->run_at_ms, p->delete_at_ms};
        for (int k = 0; k < 3; k++)
            if (at[k] >= 0) {
                if (out) out[n] = (step_t){at[k], i, (step_kind_t)k};
                n++;
            }
    }
    return n;
}

int model_timeline_build(sim_model_t *m)
{
    model_timeline_free(m);
    size_t n = collect_steps(m, NULL);
    if (!n) return 0;
    struct sim_timeline *tl = calloc(1, sizeof *tl);
    if (!tl) return -ENOMEM;
    tl->cap = n < CHANGELOG_MAX ? n : CHANGELOG_MAX;
    tl->steps = malloc(n * sizeof *tl->steps);
    tl->log = malloc(tl->cap * sizeof *tl->log);
    if (!tl->steps || !tl->log) {
        free(tl->steps);
        free(tl->log);
        free(tl);
        return -ENOMEM;
    }
    tl->nsteps = collect_steps(m, tl->steps);
    qsort(tl->steps, tl->nsteps, sizeof *tl->steps, step_cmp);
    m->timeline = tl;
    return 0;
}

static sim_pod_snap_t snap(const sim_pod_t *p)
{
    return (sim_pod_snap_t){p->phase, p->rv, p->life == SIM_POD_LIVE};
}

/* Moves the pod one step; 0 when the step no longer applies (deleted before it ran). */
static int step_pod(sim_model_t *m, sim_pod_t *p, step_kind_t kind, sim_change_type_t *type)
{
    if (kind == STEP_CREATE) {
        if (p->life != SIM_POD_UNBORN) return 0;
        p->life = SIM_POD_LIVE;
        model_count_pod(m, p, 1);
        *type = SIM_CHANGE_ADDED;
        return 1;
    }
    if (p->life != SIM_POD_LIVE) return 0;
    model_count_pod(m, p, -1);
    if (kind == STEP_RUN) {
        p->phase = p->final_phase;
        model_count_pod(m, p, 1);
        *type = SIM_CHANGE_MODIFIED;
    } else {
        p->life = SIM_POD_GONE;
        *type = SIM_CHANGE_DELETED;
    }
    return 1;
}

static void apply(sim_model_t *m, const step_t *s)
{
    struct sim_timeline *tl = m->timeline;
    sim_pod_t *p = &m->pods[s->pod];
    sim_change_t c = {0};
    c.pod = s->pod;
    c.before = snap(p);
    if (!step_pod(m, p, s->kind, &c.type)) return;
    p->rv = c.rv = ++m->rv;
    /* The owners' status changed with the pod: they carry the same rv (one step, one rv). */
    sim_workload_t *w = model_workload_by_uid(m, p->owner.uid ? p->owner.uid : "");
    for (int depth = 0; w && depth < 2; depth++) {
        w->rv = c.rv;
        w = w->owner.uid ? model_workload_by_uid(m, w->owner.uid) : NULL;
    }
    c.after = snap(p);
    tl->log[tl->total % tl->cap] = c;
    tl->total++;
    if (m->on_change) m->on_change(m->on_change_arg, &c);
}

size_t sim_model_advance(sim_model_t *m, long long now_ms)
{
    struct sim_timeline *tl = m->timeline;
    size_t n = 0;
    while (tl && tl->next < tl->nsteps && tl->steps[tl->next].at <= now_ms) {
        apply(m, &tl->steps[tl->next++]);
        n++;
    }
    return n;
}

long long sim_model_next_step_ms(const sim_model_t *m)
{
    const struct sim_timeline *tl = m->timeline;
    return tl && tl->next < tl->nsteps ? tl->steps[tl->next].at : -1;
}

int sim_model_changes_since(const sim_model_t *m, uint64_t rv, uint64_t *first)
{
    const struct sim_timeline *tl = m->timeline;
    uint64_t total = tl ? tl->total : 0;
    uint64_t lo = total > (tl ? tl->cap : 0) ? total - tl->cap : 0;
    if (rv < m->rv_built) return -1;
    uint64_t seq = rv - m->rv_built; /* the change with rv+1 */
    if (seq > total) seq = total;    /* rv from the future: nothing logged after it */
    if (seq < lo) return -1;
    *first = seq;
    return 0;
}

const sim_change_t *sim_model_change(const sim_model_t *m, uint64_t seq)
{
    const struct sim_timeline *tl = m->timeline;
    if (!tl || seq >= tl->total || (tl->total > tl->cap && seq < tl->total - tl->cap)) return NULL;
    return &tl->log[seq % tl->cap];
}

void sim_pod_at(const sim_pod_t *p, const sim_pod_snap_t *s, sim_pod_t *copy)
{
    *copy = *p;
    copy->phase = s->phase;
    copy->rv = s->rv;
    copy->life = s->exists ? SIM_POD_LIVE : SIM_POD_GONE;
}

/* A subset of Go's time.ParseDuration: decimal numbers with ms, s, m or h, concatenated. */
long long sim_parse_duration_ms(const char *s)
{
    double total = 0;
    if (!s || !*s) return -1;
    if (!strcmp(s, "0")) return 0;
    while (*s) {
        if (!((*s >= '0' && *s <= '9') || *s == '.')) return -1;
        char *end;
        double v = strtod(s, &end);
        if (end == s) return -1;
        s = end;
        double unit = !strncmp(s, "ms", 2) ? 1
                      : *s == 's'          ? 1000
                      : *s == 'm'          ? 60000
                      : *s == 'h'          ? 3600000
                                           : 0;
        if (unit == 0) return -1;
        s += unit == 1 ? 2 : 1;
        total += v * unit;
        if (total > 1e15) return -1;
    }
    return (long long)(total + 0.5);
}
