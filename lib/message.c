/* Task failure messages: text a task attaches to its failure (a C++ exception's what(), a solver's
 * diagnosis) that the parent reads back with the code. The task writes it into a per-thread buffer;
 * the failure record (shmpool__job_fail, under the job's fail_lock) moves it into the job's slot in
 * shared memory when that failure becomes the lowest failing index, so message and index always
 * belong together. Harvest copies it into the result; the synchronous calls keep it per thread. */
#include "message.h"

#include <errno.h>
#include <string.h>

#include "job.h"
#include "owner.h"
#include "state.h"

/* The message this thread's task set and no failure has taken yet ("" when none). */
static _Thread_local char pending[SHMPOOL_TASK_MESSAGE_MAX];
/* What shmpool_last_message() returns: the message of this thread's last synchronous call. */
static _Thread_local char last[SHMPOOL_TASK_MESSAGE_MAX];

static void copy_message(char *dst, const char *src) {
    size_t n = strnlen(src, SHMPOOL_TASK_MESSAGE_MAX - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int shmpool_task_fail_message(const char *msg) {
    if (!msg)
        return -EINVAL;
    if (shmpool_worker_index() < 0) /* not inside a task: no failure will ever take it */
        return -EPERM;
    copy_message(pending, msg);
    return 0;
}

void shmpool__message_record(char *job_msg, bool keep) {
    if (keep)
        copy_message(job_msg, pending);
    pending[0] = '\0';
}

void shmpool__message_drop(void) {
    if (pending[0]) /* a load, no store, in the usual case */
        pending[0] = '\0';
}

void shmpool__message_harvest(shmpool_result *r, struct job *j) {
    if (r->code == 0) {
        r->message[0] = '\0';
        return;
    }
    /* under fail_lock: after a terminate a worker may still be recording */
    pthread_mutex_lock(&j->fail_lock);
    copy_message(r->message, j->fail_msg);
    pthread_mutex_unlock(&j->fail_lock);
}

const char *shmpool_result_message(const shmpool_result *r) {
    if (!r)
        return NULL;
    shmpool *p = r->pool;
    if (shmpool__owner_check(p)) /* a forked child: the pool is not its own */
        return "";
    pthread_mutex_lock(&p->lock);
    if (!atomic_load(&r->harvested) && shmpool__result_job_ended(r)) /* ended, not yet collected */
        shmpool__result_harvest((shmpool_result *)r);
    const char *m = atomic_load(&r->harvested) ? r->message : "";
    pthread_mutex_unlock(&p->lock);
    return m;
}

void shmpool__message_keep_last(const shmpool_result *r) {
    if (r)
        copy_message(last, r->message);
    else
        last[0] = '\0';
}

const char *shmpool_last_message(void) { return last; }
