/* The ring and the job claim protocol of shmpool, as a Promela model for spin.
 *
 * What is modelled (each step names the C it stands for):
 *   - lib/ring.c: the Vyukov ring (cells with sequence numbers, positions won by CAS on enq/deq),
 *     shmpool__ring_try_push, shmpool__ring_try_pop with the consumer's claim word, shmpool__ring_repair_claim;
 *   - lib/job.c: shmpool__job_run (hazard `job`, generation check, fetch_add on `next`, the stop
 *     check), shmpool__job_leave (hazard `posting`, the derived completion check, the CAS on
 *     `completed`, the post of `done`), shmpool__job_stop / _fail, shmpool__job_retire_begin /
 *     _retire_done (generation bump, hazard scan), shmpool__job_slot_reset;
 *   - lib/worker.c: shmpool__worker_main's loop (pop, run, idle);
 *   - lib/helper.c: repair() and repair_claim(), what the fork helper does when it reaps a dead
 *     worker, and push_again();
 *   - lib/pool.c / submit.c: the submitter (fills a job slot, pushes `copies` descriptors, waits
 *     for `done`, retires the slot).
 * Processes: NSUB submitters (the producers: parent threads; the helper also pushes when it
 * repairs), NW workers (the consumers), one helper (the reaper). Worker VICTIM may die once, at
 * any step (MAYDIE: a nondeterministic `goto dead` between any two shared-memory accesses); the
 * helper then runs repair() on its slot. Not modelled: chunk retries (task_retries, `resume`),
 * cancel, respawning the dead worker, the sleep/wake protocol (a worker with nothing to do blocks
 * until shared memory changes, so a lost item shows as a deadlock: an invalid end state).
 * Memory is sequentially consistent here: the model checks the protocol, not the C11 orderings
 * (lib/ring.c and lib/job.c argue those in their opening comments).
 *
 * Properties (assertions, and spin's invalid-end-state check for hangs):
 *   P1 no descriptor lost: every position pushed is consumed exactly once, by a live pop, by the
 *      helper's repair (REPUSH: it takes the item and pushes it again), or by the final drain;
 *      every job posts `done`; nothing deadlocks.
 *   P2 no position consumed twice (the ring itself never duplicates). Duplicate *descriptors* are
 *      allowed where the design allows them, and shown harmless: the `copies` a submitter pushes
 *      (one per worker that could help), the `held` descriptor the helper pushes again after a
 *      RING_REPAIR_TAKEN repair (the dead worker may have consumed it already, or not), and stale
 *      descriptors of a retired slot. Harmless means: no chunk runs twice (P4), `done` is posted
 *      once (P3), and a descriptor never acts on a later job in its slot (P5).
 *   P3 `done` is posted exactly once, and only when no claimed chunk is still running.
 *   P4 a job that did not fail ran every chunk exactly once.
 *   P5 a worker only claims chunks of the job instance its descriptor names.
 *   P6 no read is torn: a descriptor is written and read in two halves; both halves agree.
 *   P7 the ring is usable afterwards: drained, then filled to capacity and emptied again.
 *
 * Check: spin -a ring.pml && cc -O2 -DSAFETY -DCOLLAPSE -o pan pan.c && ./pan -m200000 -w24
 * ("errors: 0"; test/model/check.sh does this for ctest).
 *
 * Variants (spin -D...): the default is the code as it is. OLD_REPAIR and OLD_RETIRE_ORDER model
 * the code before two fixes the model led to, and find their bugs (a cell released twice by
 * shmpool__ring_repair_claim, which duplicates a position and can stall the ring; a retire scan that misses
 * a hazard handed to helper_posting, so `done` is posted on a reset slot). STALE_JOB_CHECK models
 * a proposed fix in helper.c repair(): skip a dead worker's `job` whose generation has moved on
 * (it died between setting the hazard and checking the generation of a stale descriptor); without
 * it the helper fails and completes whatever job now holds that slot (P5 fails).
 */

#ifndef NSUB
#define NSUB 2        /* submitters, one job slot each */
#endif
#ifndef ROUNDS
#define ROUNDS 1      /* jobs each submitter runs in its slot, one after the other */
#endif
#ifndef NCH
#define NCH 2         /* chunks per job */
#endif
#ifndef COPIES
#define COPIES 2      /* descriptors pushed per job: min(nchunks, workers) in submit.c */
#endif
#define NW 2          /* workers */
#define CAP 2         /* ring capacity (a power of two) */
#define VICTIM 0      /* the worker that may die */
#define MAXPOS 16     /* ghost bookkeeping per ring position */
#define NONE 255
/* Written out for NW == 2, VICTIM == 0 (blocking conditions must be single expressions): */
#define LIVE_OTHER_CLAIMS(rec) (alive[1] && claim[1] == (rec))
#define HAZARD(d) (hposting == (d) || wjob[0] == (d) || wposting[0] == (d) || wjob[1] == (d) || \
                   wposting[1] == (d))

/* A descriptor: (generation << 3) | slot in the C code (desc_make); never 0. */
#define DESC(slot, g) ((g) * 8 + (slot))
#define SLOT(d) ((d) % 8)
#define GEN(d) ((d) / 8)

/* ---- shared memory ---------------------------------------------------------------------------- */
/* struct ring */
short enq, deq;
short seq[CAP];
byte lo[CAP], hi[CAP];       /* the payload, written and read in two halves */
/* struct worker_slot */
bool alive[NW];              /* pid > 0 */
short claim[NW];             /* ring position + 1 while a pop is in progress or just done */
byte held[NW];               /* the descriptor last popped */
byte wjob[NW];               /* hazard: the job it is in */
byte wposting[NW];           /* hazard: the job whose completion it checks */
byte witem[NW];              /* the chunk it runs, NONE between chunks */
/* struct control */
byte hposting;               /* helper_posting */
/* struct job, one per submitter */
byte gen[NSUB];
byte next[NSUB];
byte nchunks[NSUB];
bool stop[NSUB];
bool completed[NSUB];
byte done[NSUB];             /* the semaphore's count: posts */

/* ---- ghosts (not in the C code: what the properties are about) --------------------------------- */
byte consumed[MAXPOS];       /* per ring position: how often it was taken out */
byte pushed_val[MAXPOS];
byte inflight[NSUB];         /* chunks claimed and still running */
byte runs[NSUB * NCH];       /* how often each chunk of the current job ran */
byte posts_total[NSUB];      /* done posts over all rounds */
bool holds_chunk[NW];        /* the worker claimed a chunk it has not finished */
bool victim_dead;            /* VICTIM died; the helper has not finished repairing */
bool died;
byte finished;               /* submitters done */
byte exited;                 /* workers that left */

/* A step at which worker `me` may die (only VICTIM, only once). */
#define MAYDIE if :: (me == VICTIM && !died) -> died = true; goto dead :: true -> skip fi

/* ---- lib/ring.c ------------------------------------------------------------------------------- */

/* shmpool__ring_try_push(r, &item): ok = true if pushed, false if the ring is full. */
inline shmpool__ring_try_push(item, ok) {
    pos = enq;                                              /* load enq (relaxed) */
    do
    :: s = seq[pos % CAP];                                  /* load cell seq (acquire) */
       if
       :: s == pos ->
          if
          :: atomic { enq == pos -> enq = pos + 1 }  /* CAS enq: won position pos */
             lo[pos % CAP] = item;                          /* memcpy(c->data, item), first half */
             hi[pos % CAP] = item;                          /*   second half */
             atomic { seq[pos % CAP] = pos + 1;      /* publish: seq = pos + 1 (release) */
                      assert(pos < MAXPOS); pushed_val[pos] = item }
             ok = true;
             break
          :: atomic { enq != pos -> pos = enq }             /* CAS failed: reload */
          fi
       :: s < pos -> ok = false; break                      /* previous lap not released: full */
       :: s > pos -> pos = enq                              /* another producer won it: reload */
       fi
    od
}

/* shmpool__ring_try_pop(r, &held[me], &claim[me]) by worker `me`, who may die at any step. */
inline shmpool__ring_try_pop(ok) {
    pos = deq;                                              /* load deq (relaxed) */
    MAYDIE;
    do
    :: s = seq[pos % CAP];                                  /* load cell seq (acquire) */
       MAYDIE;
       if
       :: s == pos + 1 ->
          claim[me] = pos + 1;                       /* record the position (seq_cst) */
          MAYDIE;
          if
          :: atomic { deq == pos -> deq = pos + 1 }  /* CAS deq: won position pos */
             MAYDIE;
             v1 = lo[pos % CAP];                            /* memcpy(item, c->data), first half */
             MAYDIE;
             v2 = hi[pos % CAP];                            /*   second half */
             assert(v1 == v2);                              /* P6 */
             held[me] = v1;
             MAYDIE;
             atomic { seq[pos % CAP] = pos + CAP;    /* release: seq = pos + capacity */
                      consumed[pos]++; assert(consumed[pos] == 1) } /* P2 */
             ok = true;                                     /* *claim stays set: caller clears */
             break
          :: atomic { deq != pos -> pos = deq }             /* CAS failed: reload */
          fi
       :: s < pos + 1 ->
          claim[me] = 0;                             /* nothing published: empty */
          ok = false;
          break
       :: s > pos + 1 -> pos = deq                          /* taken already: reload */
       fi;
       MAYDIE
    od
}

/* shmpool__ring_repair_claim(r, &lost, others = live workers' claims but the dead one's, &item), run by the
   helper. res: 0 NOTHING, 1 REPUSH (item in `item`), 2 TAKEN, 3 RETRY. */
inline shmpool__ring_repair_claim(rec, item, res) {
    res = 0;
    if
    :: rec == 0 -> skip                                     /* RING_REPAIR_NOTHING */
    :: else ->
       rpos = rec - 1;
       rs = seq[rpos % CAP];                                /* load the cell's seq */
       rd = deq;                                            /* load deq */
       if
       :: rs == rpos + 1 && rd > rpos ->                    /* won by somebody, not released */
          k = 0;
          do                                                /* a live consumer recording it? */
          :: k < NW && k != VICTIM && alive[k] && claim[k] == rec -> res = 3; break
          :: k < NW && !(k != VICTIM && alive[k] && claim[k] == rec) -> k++
          :: k == NW -> break
          od;
          if
          :: res == 3 -> skip                               /* RING_REPAIR_RETRY: *claim kept */
          :: else ->
             v1 = lo[rpos % CAP];                           /* memcpy(item, c->data) */
             v2 = hi[rpos % CAP];
#ifdef OLD_REPAIR
             assert(v1 == v2);                              /* P6 */
#endif
             item = v1;
#ifndef OLD_REPAIR
             /* release only if nobody has: CAS seq pos + 1 -> pos + capacity, else TAKEN */
             atomic {
                if
                :: seq[rpos % CAP] == rpos + 1 ->
                   assert(v1 == v2);                        /* P6: nobody wrote it meanwhile */
                   seq[rpos % CAP] = rpos + CAP;
                   consumed[rpos]++; assert(consumed[rpos] == 1);
                   res = 1                                  /* RING_REPAIR_REPUSH */
                :: else -> res = 2                          /* released meanwhile: TAKEN */
                fi
             }
#else
             atomic { seq[rpos % CAP] = rpos + CAP;  /* store seq = pos + capacity */
                      consumed[rpos]++; assert(consumed[rpos] == 1) } /* P2 */
             res = 1                                        /* RING_REPAIR_REPUSH */
#endif
          fi
       :: else ->
          if
          :: rd > rpos -> res = 2                           /* RING_REPAIR_TAKEN */
          :: else -> skip                                   /* never won: NOTHING */
          fi
       fi
    fi
}

/* ---- lib/job.c -------------------------------------------------------------------------------- */

/* shmpool__job_stop(j, STOP_FAILED), as called by shmpool__job_fail */
inline job_stop(sl) {
    stop[sl] = true;                                        /* CAS stop NONE -> FAILED */
    atomic { if :: next[sl] < nchunks[sl] -> next[sl] = nchunks[sl] :: else fi } /* CAS loop */
}

/* anyone_in(cb, desc): any worker's `job` hazard equal to desc; one load per worker. */
inline anyone_in(desc, any) {
    any = false;
    k = 0;
    do
    :: k < NW -> if :: wjob[k] == desc -> any = true :: else fi; k++
    :: k == NW -> break
    od
}

/* shmpool__job_leave(cb, job_word, posting, desc). DIE is MAYDIE for a worker, skip for the helper. */
#define JOB_LEAVE(job_word, posting, desc, DIE)                                                   \
    sl = SLOT(desc);                                                                              \
    posting = desc;                                  /* hazard: keeps the slot from retiring */   \
    DIE;                                                                                          \
    job_word = 0;                                    /* leave the job */                          \
    DIE;                                                                                          \
    if                                                                                            \
    :: next[sl] >= nchunks[sl] ->                    /* every chunk claimed (nretry == 0) */      \
       anyone_in(desc, any);                                                                      \
       DIE;                                                                                       \
       if                                                                                         \
       :: !any ->                                                                                 \
          atomic {                                   /* CAS completed 0 -> 1, then sem_post */    \
             if                                                                                   \
             :: !completed[sl] -> completed[sl] = true; done[sl]++; posts_total[sl]++;     \
                assert(inflight[sl] == 0);           /* P3: no claimed chunk still running */     \
                assert(GEN(desc) == gen[sl])         /* P5: it is the job it names */             \
             :: else -> skip                                                                      \
             fi                                                                                   \
          }                                                                                       \
       :: else -> skip                                                                            \
       fi                                                                                         \
    :: else -> skip                                                                               \
    fi;                                                                                           \
    DIE;                                                                                          \
    posting = 0                                      /* atomic_store(posting, 0) */

/* ---- the processes ------------------------------------------------------------------------------ */

/* lib/worker.c shmpool__worker_main, with lib/job.c shmpool__job_run inline. */
proctype Worker(byte me) {
    short pos, s;
    byte v1, v2, sl, k, c, d;
    bool ok, any;
    do
    :: d_step { pos = 0; s = 0; v1 = 0; v2 = 0; sl = 0; k = 0; c = 0; d = 0; ok = false; any = false };
       shmpool__ring_try_pop(ok);                                    /* shmpool__ring_try_pop(ring, &w->held, &w->claim) */
       if
       :: ok ->
          d = held[me];
          sl = SLOT(d);
          /* shmpool__job_run(cb, w, d, ...) */
          wjob[me] = d;                                     /* atomic_store(&w->job, desc) */
          MAYDIE;
          claim[me] = 0;                             /* atomic_store(&w->claim, NO_CLAIM) */
          MAYDIE;
          if
          :: gen[sl] != GEN(d) ->                           /* retired: a stale descriptor */
             wjob[me] = 0
          :: else ->
             do
             :: atomic { c = next[sl]; next[sl]++ };        /* fetch_add(&j->next, 1) */
                MAYDIE;
                if
                :: c >= nchunks[sl] -> break
                :: else -> skip
                fi;
                atomic {                                    /* load j->stop */
                   if
                   :: stop[sl] -> ok = false
                   :: else -> ok = true; inflight[sl]++; holds_chunk[me] = true;
                      assert(GEN(d) == gen[sl])             /* P5 */
                   fi
                };
                if :: !ok -> break :: else fi;              /* claimed after a stop: dropped */
                MAYDIE;
                witem[me] = c;                              /* run_chunk: w->item = index */
                MAYDIE;
                atomic { runs[sl * NCH + c]++; assert(runs[sl * NCH + c] == 1) } /* P4: fn runs */
                MAYDIE;
                atomic { witem[me] = NONE; inflight[sl]--; holds_chunk[me] = false }
                MAYDIE
             od;
             JOB_LEAVE(wjob[me], wposting[me], d, MAYDIE)   /* shmpool__job_leave */
          fi;
          MAYDIE
       :: else ->
          if
          :: finished == NSUB -> break                      /* shutdown: leave */
          :: else ->                                        /* idle(): sleep until the cell at deq */
             (deq != pos || seq[pos % CAP] != s || finished == NSUB) /* changes, or shutdown */
          fi
       fi
    od;
    exited++;
    goto end;
dead:
    victim_dead = true;                                     /* killed; the helper reaps it */
end:
    skip
}

/* lib/helper.c: reap() -> on_exit_of() -> repair(), repair_claim(), push_again(). */
proctype Helper() {
    short pos, s, rpos, rs, rd, rec;
    byte v1, v2, sl, k, d, item, res, pv;
    bool ok, any;
    byte none;
    if
    :: victim_dead ->
       /* repair(): the job it was in */
       d = wjob[VICTIM];
       if
#ifdef STALE_JOB_CHECK
       /* proposed: a descriptor whose slot has moved on was stale (the worker died between setting
          its hazard and checking the generation): nothing of that job is the dead worker's. */
       :: d != 0 && gen[SLOT(d)] != GEN(d) -> wjob[VICTIM] = 0
       :: d != 0 && gen[SLOT(d)] == GEN(d) ->
#else
       :: d != 0 ->
#endif
          sl = SLOT(d);
          atomic {                                          /* its chunk ends with it */
             if :: holds_chunk[VICTIM] -> inflight[sl]--; holds_chunk[VICTIM] = false :: else fi
          };
          job_stop(sl);                                     /* shmpool__job_fail(j, item, code) */
          JOB_LEAVE(wjob[VICTIM], hposting, d, skip)        /* shmpool__job_leave(.., helper_posting, d) */
       :: else -> skip
       fi;
       /* the completion check it died in */
       pv = wposting[VICTIM];
       if
       :: pv != 0 ->
          hposting = pv;
          wposting[VICTIM] = 0;
          none = 0;
          JOB_LEAVE(none, hposting, pv, skip)
       :: else -> skip
       fi;
       /* its ring claim: c = atomic_exchange(&w->claim, NO_CLAIM) */
       atomic { rec = claim[VICTIM]; claim[VICTIM] = 0 };
       if
       :: rec != 0 && d == 0 ->                             /* lost_claim[slot] = c */
          do                                                /* repair_claim(), every tick until done */
          :: shmpool__ring_repair_claim(rec, item, res);
             if
             :: res == 3 -> !LIVE_OTHER_CLAIMS(rec)         /* RETRY: again on a later tick */
             :: res == 1 -> pv = item; break                /* REPUSH: push the item again */
             :: res == 2 -> pv = held[VICTIM]; break        /* TAKEN: push `held` again if any */
             :: res == 0 -> pv = 0; break
             fi
          od;
          if
          :: pv != 0 ->
             do                                             /* push_again(): until it fits */
             :: shmpool__ring_try_push(pv, ok);
                if
                :: ok -> break
                :: else -> (enq != pos || seq[pos % CAP] != s) /* full: until a cell frees */
                fi
             od
          :: else -> skip
          fi
       :: else -> skip
       fi;
       held[VICTIM] = 0;
       alive[VICTIM] = false;                               /* on_exit_of(): pid = 0 */
       victim_dead = false
    :: exited == NW -> skip                                 /* nobody died */
    fi
}

/* A parent thread: submit (lib/submit.c), wait (result get), retire (lib/pool.c). */
proctype Submitter(byte sl) {
    short pos, s;
    byte r, n, k, d, w;
    bool ok;
    for (r : 1 .. ROUNDS) {
        /* the slot's parameters, then the descriptors (the ring publishes the parameters) */
        nchunks[sl] = NCH;
        d = DESC(sl, gen[sl]);
        for (n : 1 .. COPIES) {
            do                                              /* shmpool__pool_push: wait while full */
            :: d_step { pos = 0; s = 0 };                  /* (locals: fewer states) */
               shmpool__ring_try_push(d, ok);
               if
               :: ok -> break
               :: else -> (enq != pos || seq[pos % CAP] != s) /* full: until a cell frees */
               fi
            od
        }
        done[sl] > 0;                                       /* sem_wait(&j->done) */
        done[sl]--;
        assert(completed[sl]);
        /* P4: a job that did not fail ran every chunk exactly once */
        for (k : 0 .. NCH - 1) { assert(stop[sl] || runs[sl * NCH + k] == 1) }
        /* shmpool__job_retire_begin: bump the generation (never 0) */
        gen[sl] = gen[sl] + 1;
        /* shmpool__job_retire_done, polled until nobody holds the old descriptor */
        do
        :: ok = true;
#ifdef OLD_RETIRE_ORDER
           if :: hposting == d -> ok = false :: else fi;     /* helper_posting first */
#endif
           for (w : 0 .. NW - 1) {                          /* then each worker: job, posting */
              if :: wjob[w] == d -> ok = false :: else fi;
              if :: wposting[w] == d -> ok = false :: else fi
           }
#ifndef OLD_RETIRE_ORDER
           /* helper_posting last. repair() moves a dead worker's hazard from its `job`
              word to helper_posting (set helper_posting, then clear job): a scan must read the
              word that is cleared before the word that is set, as it does for a worker's own
              job -> posting hand-over in shmpool__job_leave. */
           if :: hposting == d -> ok = false :: else fi;
#endif
           if
           :: ok -> break
           :: else -> !HAZARD(d)                            /* poll again once it may pass */
           fi
        od;
        /* shmpool__job_slot_reset */
        atomic {
           next[sl] = 0; stop[sl] = false; completed[sl] = false;
           for (k : 0 .. NCH - 1) { runs[sl * NCH + k] = 0 }
        }
    }
    finished++
}

init {
    byte i, v1, v2, item, me;
    short pos, s;
    bool ok;
    atomic {
        for (i : 0 .. CAP - 1) { seq[i] = i }               /* shmpool__ring_init */
        for (i : 0 .. NSUB - 1) { gen[i] = 1 }              /* generations start at 1 */
        for (i : 0 .. NW - 1) { alive[i] = true; witem[i] = NONE }
        for (i : 0 .. NW - 1) { run Worker(i) }
        for (i : 0 .. NSUB - 1) { run Submitter(i) }
        run Helper()
    }
    _nr_pr == 1;                                            /* everybody else has ended */

    /* P3: every job posted done exactly once per round */
    for (i : 0 .. NSUB - 1) { assert(posts_total[i] == ROUNDS) }
    /* no hazard left behind */
    for (i : 0 .. NW - 1) { assert(!alive[i] || (wjob[i] == 0 && wposting[i] == 0)) }
    assert(hposting == 0);

    /* P1 + P7: what is left in the ring (stale or duplicate descriptors) drains; then the ring
       takes CAP items and gives them back. `me` = NW: a consumer that never dies. */
    me = NW;
    do
    :: deq < enq ->
       pos = deq;
       s = seq[pos % CAP];
       assert(s == pos + 1);                                /* published, not stuck */
       deq = pos + 1;
       consumed[pos]++;
       assert(consumed[pos] == 1);
       seq[pos % CAP] = pos + CAP
    :: else -> break
    od;
    for (i : 0 .. CAP - 1) {
        shmpool__ring_try_push(7, ok);
        assert(ok)
    }
    for (i : 0 .. CAP - 1) {
        pos = deq;
        s = seq[pos % CAP];
        assert(s == pos + 1);
        deq = pos + 1;
        consumed[pos]++;
        seq[pos % CAP] = pos + CAP
    }
    /* P1: every position ever pushed was consumed exactly once */
    pos = 0;
    do
    :: pos < enq -> assert(consumed[pos] == 1); pos++
    :: else -> break
    od
}
