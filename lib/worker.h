/* The worker process: forked by the helper into a slot of the worker table, it runs the
 * initializer, then pops descriptors from the ring and runs their jobs' chunks. Idle, it spins for
 * spin_us, then sleeps on the control block's eventcount (a futex). */
#ifndef SHMPOOL_WORKER_H
#define SHMPOOL_WORKER_H

#include <limits.h>

#include "control.h"

struct seg_view;
/* Never returns. `view` is the helper's, inherited through fork. */
_Noreturn void shmpool__worker_main(struct control *cb, unsigned slot, struct seg_view *view);
/* Wake sleeping workers (any process): up to `want` for queued work (fewer if spinners will take
   it), or every one with WAKE_ALL (shutdown, a new segment to map). No syscall when nobody sleeps. */
#define WAKE_ALL UINT_MAX
/* Take worker `w` out of the sleepers (it woke by itself, or the helper reaped it). */
void shmpool__worker_unsleep(struct control *cb, struct worker_slot *w);
void shmpool__wake_workers(struct control *cb, unsigned want);
/* Take worker `w` out of the spinners if it is counted there (it stopped spinning, or the helper
   reaped it while it spun: the count would leak and no worker would spin again). */
void shmpool__spinner_uncount(struct control *cb, struct worker_slot *w);

#endif
