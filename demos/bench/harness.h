/* What only the harness uses: the Python coprocess's life, its JSON, the PSS sampler, the
 * report and the checks on the machine. Workloads include bench.h only.
 */
#ifndef SHMPOOL_BENCH_HARNESS_H
#define SHMPOOL_BENCH_HARNESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "bench.h"

/* python.c */
void py_start(void);
void py_stop(void);
pid_t py_pid(void);      /* the running coprocess, or <= 0 */
pid_t py_pid_seen(void); /* the one started, even after it ended (its /dev/shm names) */

/* json.c: the keys of bench.py's one-line answers, and the --json file */
int json_num(const char *s, const char *key, double *v);
int json_str(const char *s, const char *key, char *out, size_t len);
void write_json(const char *path);

/* sampler.c: the peak PSS of a process tree while a warm-up run runs */
struct sampler {
    pthread_t th;
    atomic_int stop;
    pid_t root, exclude;
    long peak_kb;
};
int sampler_start(struct sampler *s); /* 0: sampling; root and exclude set by the caller */
long sampler_stop(struct sampler *s); /* the peak PSS in kB */

/* report.c: the Markdown tables after the run */
void report(void);

/* machine.c: other programs' load, and what the run left in /dev/shm */
double machine_busy_s(void);
double our_cpu_s(void);
void print_other_load(double t0, double busy0, double ours0);
int shm_names(char names[][256], int max);
void check_shm_left(char before[][256], int nbefore);

#endif
