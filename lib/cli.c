/* The `shmpool` command-line tool, installed with the library.
 *
 *   shmpool info               what this machine offers a pool: cpu counts, /dev/shm size and free
 *                              space, huge page and THP settings, io_uring availability
 *   shmpool clean [--dry-run]  remove the /dev/shm segments of pools whose owner is gone
 *
 * A segment is named /shmpool.<P>.<H>.<hex> (lib/arena.c, shmpool__seg_name): P is the pool's
 * parent, H its fork helper. While either lives, the pool may still use the segment or its helper
 * is about to remove it, so `clean` leaves it alone. Only when both are gone (no such process, or
 * a zombie) is nobody left to remove it: those, and only those, are removed. A pid reused by an
 * unrelated process keeps a dead pool's segment: the tool errs on the side of keeping. Where the
 * pool's processes cannot be seen (another PID namespace), its liveness lock speaks for them: the
 * helper and workers hold /dev/shm/shmpool.<P>.<H>.lock shared, and a name is kept while clean
 * cannot take it. A dead pool's lock file is removed like its segments.
 *
 * SHMPOOL_SHM_DIR names another directory for `info` and `clean` to look at (the library itself
 * always uses /dev/shm): tests clean a directory of their own, and leave the real one, with the
 * leaks CI looks for, alone. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>

#include "helper.h"
#include "procstat.h"
#include "shmpool.h"

/* The directory `info` and `clean` look at: /dev/shm unless SHMPOOL_SHM_DIR says otherwise. */
static const char *shm_dir(void) {
    const char *d = getenv("SHMPOOL_SHM_DIR");
    return d && *d ? d : "/dev/shm";
}

static void usage(FILE *f) {
    fprintf(f, "usage: shmpool <command> [options]\n"
               "\n"
               "commands:\n"
               "  info               cpu counts, /dev/shm size and free space, huge pages, THP,\n"
               "                     io_uring availability\n"
               "  clean [--dry-run]  remove /dev/shm segments (shmpool.<parent>.<helper>.<hex>) of\n"
               "                     pools whose parent and helper are both gone; with --dry-run,\n"
               "                     only list them\n"
               "  --help             this text\n"
               "\n"
               "environment:\n"
               "  SHMPOOL_SHM_DIR    the directory info and clean look at instead of /dev/shm\n"
               "                     (for tests; the library always uses /dev/shm)\n");
}

/* ---- info ---------------------------------------------------------------------------------- */

static void human(char *buf, size_t len, double bytes) {
    static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    unsigned u = 0;
    while (bytes >= 1024 && u + 1 < sizeof unit / sizeof unit[0]) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
}

/* The first line of a small file, without its newline; false if it cannot be read. */
static bool read_line(const char *path, char *buf, size_t len) {
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    if (ok)
        buf[strcspn(buf, "\n")] = 0;
    return ok;
}

static void info_cpus(void) {
    printf("cpus: logical %d, physical %d, usable %d\n", shmpool_cpu_count(SHMPOOL_CPU_LOGICAL),
           shmpool_cpu_count(SHMPOOL_CPU_PHYSICAL), shmpool_cpu_count(SHMPOOL_CPU_USABLE));
}

static void info_shm(void) {
    struct statvfs s;
    if (statvfs(shm_dir(), &s) != 0) {
        printf("%s: unavailable (%s): shmpool_alloc cannot work here\n", shm_dir(), strerror(errno));
        return;
    }
    char size[32], avail[32];
    human(size, sizeof size, (double)s.f_blocks * (double)s.f_frsize);
    human(avail, sizeof avail, (double)s.f_bavail * (double)s.f_frsize);
    printf("%s: size %s, free %s\n", shm_dir(), size, avail);
}

static void info_hugepages(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        long total = -1, freep = -1, rsvd = -1, surp = -1, size_kb = -1;
        while (fgets(line, sizeof line, f)) {
            sscanf(line, "HugePages_Total: %ld", &total);
            sscanf(line, "HugePages_Free: %ld", &freep);
            sscanf(line, "HugePages_Rsvd: %ld", &rsvd);
            sscanf(line, "HugePages_Surp: %ld", &surp);
            sscanf(line, "Hugepagesize: %ld", &size_kb);
        }
        fclose(f);
        if (total >= 0)
            printf("huge pages: total %ld, free %ld, reserved %ld, surplus %ld, size %ld kB\n", total,
                   freep, rsvd, surp, size_kb);
        else
            printf("huge pages: not reported by /proc/meminfo\n");
    }
    char buf[256];
    printf("transparent huge pages: %s\n",
           read_line("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof buf) ? buf
                                                                                     : "unknown");
    printf("transparent huge pages for shmem (/dev/shm): %s\n",
           read_line("/sys/kernel/mm/transparent_hugepage/shmem_enabled", buf, sizeof buf)
               ? buf
               : "unknown");
}

static void info_io_uring(void) {
    struct io_uring ring;
    int rc = io_uring_queue_init(4, &ring, 0);
    if (rc == 0) {
        io_uring_queue_exit(&ring);
        printf("io_uring: yes\n");
    } else {
        printf("io_uring: no (%s: %s); array I/O uses pread/pwrite\n", strerrorname_np(-rc) ?
               strerrorname_np(-rc) : "?", strerror(-rc));
    }
    char buf[64];
    if (read_line("/proc/sys/kernel/io_uring_disabled", buf, sizeof buf))
        printf("kernel.io_uring_disabled: %s\n", buf);
}

static int cmd_info(void) {
    unsigned v = shmpool_version();
    printf("shmpool %u.%u.%u\n", v >> 16, (v >> 8) & 0xff, v & 0xff);
    info_cpus();
    info_shm();
    info_hugepages();
    info_io_uring();
    return 0;
}

/* ---- clean --------------------------------------------------------------------------------- */

/* Parses "shmpool.<P>.<H>.<hex>" (a segment) or "shmpool.<P>.<H>.lock" (the pool's liveness lock,
   *is_lock); false if the name is neither. */
static bool parse_name(const char *name, pid_t *parent, pid_t *helper, bool *is_lock) {
    static const char prefix[] = "shmpool.";
    if (strncmp(name, prefix, sizeof prefix - 1) != 0)
        return false;
    const char *s = name + sizeof prefix - 1;
    long v[2];
    for (int i = 0; i < 2; i++) {
        if (!isdigit((unsigned char)*s))
            return false;
        char *end;
        errno = 0;
        v[i] = strtol(s, &end, 10);
        if (errno || *end != '.' || v[i] <= 0 || v[i] > INT32_MAX)
            return false;
        s = end + 1;
    }
    if (!*s)
        return false;
    *is_lock = strcmp(s, "lock") == 0;
    for (; *s && !*is_lock; s++)
        if (!isxdigit((unsigned char)*s))
            return false;
    *parent = (pid_t)v[0];
    *helper = (pid_t)v[1];
    return true;
}

/* True if pid names a live process. A zombie has ended: it holds no mapping and will remove
   nothing, so it counts as gone. EPERM means it exists (somebody else's). No /proc entry: gone;
   /proc unreadable: assume alive. */
static bool alive(pid_t pid) {
    int ended = shmpool__pid_ended(pid);
    return ended == 0 || (ended < 0 && ended != -ENOENT);
}

/* True if a live pool holds its liveness lock (lib/helper.c): its helper or a worker runs, maybe
   where we cannot see it (another PID namespace sharing this /dev/shm). */
static bool lock_held(int dirfd, pid_t parent, pid_t helper) {
    char name[96];
    shmpool__helper_lock_name(parent, helper, name, sizeof name);
    int fd = openat(dirfd, name + 1, O_RDONLY | O_CLOEXEC); /* without the leading '/' */
    if (fd < 0)
        return false;
    bool held = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd); /* drops our lock, if we took it */
    return held;
}

static int cmd_clean(bool dry_run) {
    const char *dir = shm_dir();
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "shmpool clean: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    unsigned found = 0, removed = 0, kept = 0, failed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        pid_t parent, helper;
        bool is_lock;
        if (!parse_name(e->d_name, &parent, &helper, &is_lock))
            continue;
        found++;
        if (alive(parent) || alive(helper) || lock_held(dirfd(d), parent, helper)) {
            kept++;
            continue;
        }
        /* unlinkat, not shm_unlink: that is unlink("/dev/shm/" name), whatever dir is */
        if (dry_run) {
            printf("would remove %s/%s (parent %d and helper %d are gone)\n", dir, e->d_name,
                   (int)parent, (int)helper);
            removed++;
        } else if (unlinkat(dirfd(d), e->d_name, 0) == 0 || errno == ENOENT) {
            printf("removed %s/%s (parent %d and helper %d are gone)\n", dir, e->d_name,
                   (int)parent, (int)helper);
            removed++;
        } else {
            fprintf(stderr, "shmpool clean: cannot remove %s/%s: %s\n", dir, e->d_name,
                    strerror(errno));
            failed++;
        }
    }
    closedir(d);
    printf("%u segment%s found, %u %s, %u kept (owner alive)%s\n", found, found == 1 ? "" : "s",
           removed, dry_run ? "to remove" : "removed", kept, failed ? ", some could not be removed" : "");
    return failed ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "info") && argc == 2)
        return cmd_info();
    if (!strcmp(cmd, "clean")) {
        bool dry = false;
        for (int i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "--dry-run") || !strcmp(argv[i], "-n")) {
                dry = true;
            } else {
                fprintf(stderr, "shmpool clean: unknown option '%s'\n", argv[i]);
                usage(stderr);
                return 2;
            }
        }
        return cmd_clean(dry);
    }
    fprintf(stderr, "shmpool: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
