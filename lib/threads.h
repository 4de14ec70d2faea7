/* Threads inside a worker: OpenMP and BLAS libraries that a task uses run with
 * shmpool_options.worker_threads threads (1 by default, as joblib's workers), so W workers never
 * start W x cores threads, and a libgomp whose thread pool the parent had started before create
 * (a forked child's pool threads do not exist: a team of more than one hangs) runs its regions on
 * the worker's own thread. */
#ifndef SHMPOOL_THREADS_H
#define SHMPOOL_THREADS_H

/* In a worker, before its initializer: tell every threading runtime present in the process (looked
   up by name, none is linked) and every one loaded later (the environment) to use n threads. */
void shmpool__limit_threads(unsigned n);

#endif
