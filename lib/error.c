/* shmpool_strerror: one table for the library's codes; errno codes through strerrordesc_np, which
 * returns static strings (thread-safe, unlike strerror). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "shmpool.h"

#define NSIG_MAX 65

static char killed_msg[NSIG_MAX][96];
static char exited_msg[256][64];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build_messages(void) {
    for (int s = 0; s < NSIG_MAX; s++) {
        const char *abbrev = s ? sigabbrev_np(s) : NULL;
        const char *descr = s ? sigdescr_np(s) : NULL;
        snprintf(killed_msg[s], sizeof killed_msg[s], "worker killed by signal %d (SIG%s: %s)", s,
                 abbrev ? abbrev : "?", descr ? descr : "unknown signal");
    }
    for (int st = 0; st < 256; st++)
        snprintf(exited_msg[st], sizeof exited_msg[st], "worker exited with status %d during a task",
                 st);
}

/* ENOSPC says how big /dev/shm is now: a per-thread buffer, so the pointer stays valid until the
   thread's next call for this code. */
static const char *enospc_message(void) {
    static _Thread_local char msg[320];
    struct statvfs v;
    if (statvfs("/dev/shm", &v) != 0)
        return "no space left in /dev/shm (shared memory): enlarge it, e.g. "
               "`mount -o remount,size=8G /dev/shm`, or `docker run --shm-size=8g`";
    double mib = 1024.0 * 1024.0;
    snprintf(msg, sizeof msg,
             "no space left in /dev/shm (shared memory: %.1f MiB in all, %.1f MiB free): enlarge "
             "it, e.g. `mount -o remount,size=8G /dev/shm`, or `docker run --shm-size=8g`",
             (double)v.f_blocks * (double)v.f_frsize / mib,
             (double)v.f_bavail * (double)v.f_frsize / mib);
    return msg;
}

int shmpool_error_signal(int code) {
    int v = -code - SHMPOOL_ERRNO_BASE;
    return v >= 0x100 && v < 0x100 + NSIG_MAX ? v - 0x100 : 0;
}

int shmpool_error_exit_status(int code) {
    int v = -code - SHMPOOL_ERRNO_BASE;
    return v >= 0x200 && v < 0x300 ? v - 0x200 : -1;
}

const char *shmpool_strerror(int code) {
    if (code == 0)
        return "success";
    switch (code) {
#define XX(name, offset, msg)                                                                      \
    case SHMPOOL_##name:                                                                           \
        return msg;
        SHMPOOL_ERRNO_MAP(XX)
#undef XX
    default:
        break;
    }
    if (code == -ENOSPC)
        return enospc_message();
    if (code == -ESHUTDOWN)
        return "the pool was closed or terminated: it accepts no more work";
    if (code == -ETIME)
        return "a task ran past the pool's task_timeout_ms and was killed";
    int sig = shmpool_error_signal(code), st = shmpool_error_exit_status(code);
    if (sig || st >= 0) {
        pthread_once(&once, build_messages);
        return sig ? killed_msg[sig] : exited_msg[st];
    }
    if (code < 0 && code > -SHMPOOL_ERRNO_BASE) {
        const char *d = strerrordesc_np(-code);
        if (d)
            return d;
    }
    return "unknown error code";
}
