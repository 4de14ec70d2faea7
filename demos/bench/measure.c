/* measure(): the implementations of one workload, each once untimed (warm-up, PSS sampled), then
 * --reps rounds alternating them with a rotating start; the medians go into M.
 */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

struct meas M[512];
int nM;

struct meas *find(const char *wl, const char *impl, unsigned w) {
    for (int i = 0; i < nM; i++)
        if (!strcmp(M[i].workload, wl) && !strcmp(M[i].impl, impl) && M[i].workers == w)
            return M[i].ok ? &M[i] : NULL;
    return NULL;
}

/* The untimed first run of each, with the PSS of its process tree sampled: ours without the
   Python coprocess for C, the coprocess's for Python. A failed warm-up skips that one. */
static void warm_up(const char *wl, struct impl *im, int n, int *skip, long *pss) {
    for (int i = 0; i < n; i++) {
        pid_t py = py_pid();
        struct sampler s = {.root = im[i].python ? py : getpid(), .exclude = im[i].python ? 0 : py};
        int sampling = !im[i].python || py > 0;
        if (sampling && sampler_start(&s))
            sampling = 0;
        double t = im[i].fn(im[i].arg, 1);
        if (sampling)
            pss[i] = sampler_stop(&s);
        if (t < 0) {
            skip[i] = 1;
            if (im[i].python) {
                struct pyarg *a = im[i].arg;
                snprintf(im[i].note, sizeof im[i].note, "%s", a->note);
            }
            if (t < -1.5)
                FAIL("%s/%s: %s", wl, im[i].name, im[i].note);
            else
                fprintf(stderr, "bench: %s/%s skipped: %s\n", wl, im[i].name, im[i].note);
        }
    }
}

/* Each round starts one implementation later, so none always runs right after the same one
   (shmpool used to follow Python's Pool and joblib, whose processes were still being torn
   down, about 1 GB each, while it ran). */
static void rounds(const char *wl, struct impl *im, int n, int *skip, double v[][MAXREPS],
                   int *nv) {
    for (int r = 0; r < O.reps && r < MAXREPS; r++)
        for (int k = 0; k < n; k++) {
            int i = (k + r) % n;
            int reps = im[i].reps ? im[i].reps : O.reps;
            if (skip[i] || r >= reps)
                continue;
            double t = im[i].fn(im[i].arg, 0);
            if (t < 0) {
                skip[i] = 1;
                FAIL("%s/%s failed in round %d", wl, im[i].name, r);
                continue;
            }
            v[i][nv[i]++] = t;
        }
}

/* One row of M, printed as it is measured; one that never ran is kept (unmarked ok) so the
   report says why it was skipped. */
static void record(const char *wl, const struct impl *im, long pss, double *v, int nv, int skip) {
    if (nM >= (int)(sizeof M / sizeof *M))
        return;
    struct meas *m = &M[nM++];
    memset(m, 0, sizeof *m);
    snprintf(m->workload, sizeof m->workload, "%s", wl);
    snprintf(m->impl, sizeof m->impl, "%s", im->name);
    snprintf(m->note, sizeof m->note, "%s", im->note);
    m->workers = im->workers;
    m->items = im->items;
    m->pss_kb = pss;
    if (skip && nv == 0)
        return;
    m->ok = 1;
    m->min = m->max = v[0];
    for (int k = 0; k < nv; k++) {
        m->min = fmin(m->min, v[k]);
        m->max = fmax(m->max, v[k]);
    }
    m->med = median(v, (size_t)nv);
    printf("  %-15s %-18s w=%u  median %10.6f s  [%10.6f, %10.6f]  n=%d  PSS %7.1f MiB\n", wl,
           m->impl, m->workers, m->med, m->min, m->max, nv, (double)m->pss_kb / 1024);
}

void measure(const char *wl, struct impl *im, int n) {
    double v[MAXIMPL][MAXREPS];
    int nv[MAXIMPL] = {0}, skip[MAXIMPL] = {0};
    long pss[MAXIMPL] = {0};
    double t_start = now();
    warm_up(wl, im, n, skip, pss);
    rounds(wl, im, n, skip, v, nv);
    for (int i = 0; i < n; i++)
        record(wl, &im[i], pss[i], v[i], nv[i], skip[i]);
    fflush(stdout);
    fprintf(stderr, "bench: %s took %.1f s\n", wl, now() - t_start);
}
