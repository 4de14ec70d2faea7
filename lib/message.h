/* Task failure messages (message.c): from a task's thread, through the job's failure record in
   shared memory, to the result and the calling thread. */
#ifndef SHMPOOL_MESSAGE_H
#define SHMPOOL_MESSAGE_H

#include <stdbool.h>

#include "result.h"

struct job;
/* Under the job's fail_lock, as a failure is recorded: keep (this failure is now the lowest
   failing index) moves this thread's pending message into job_msg ("" if none); either way the
   pending message is gone. */
void shmpool__message_record(char *job_msg, bool keep);
/* At a chunk's end: a message set by a task that did not fail goes nowhere. */
void shmpool__message_drop(void);
/* At harvest, r->code set: copy the job's message into r. */
void shmpool__message_harvest(shmpool_result *r, struct job *j);
/* A synchronous call: keep r's message for shmpool_last_message() (NULL: clear it). */
void shmpool__message_keep_last(const shmpool_result *r);

#endif
