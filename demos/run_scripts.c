/* run_scripts: three shell scripts run in parallel by pool workers; each script's stdout comes
 * back through shared memory.
 *
 * Mirrors the tutorial's "Running several python scripts in parallel"
 * (../shared/seed/parallel-processing-in-python.md), where subprocess.run(capture_output=True)
 * reads the output through a pipe and pool.map pickles it back through another. Here each task
 * posix_spawn()s /bin/sh with its stdout on a memfd (an anonymous in-memory file), waits for it,
 * and reads the output straight into its slot of the map's `out` array, which is shmpool_alloc
 * memory: the parent reads the slots in place. No pipe anywhere.
 *
 *     run_scripts [--scripts 3] [--workers 3]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmpool.h"

extern char **environ;

struct script {     /* one task's input */
    char dir[PATH_MAX];
    int number;
};
struct output {     /* one task's output slot */
    long worker_pid;
    int exit_status;
    char text[256]; /* the script's stdout, NUL-terminated (truncated if longer) */
};

static int run_script(const void *in, void *out, void *ctx) {
    (void)ctx;
    const struct script *s = in;
    struct output *o = out;
    char name[32];
    snprintf(name, sizeof name, "script%d.sh", s->number);
    o->worker_pid = (long)getpid();

    int fd = memfd_create("stdout", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd, STDOUT_FILENO); /* stdout -> the memfd */
    posix_spawn_file_actions_addchdir_np(&fa, s->dir);        /* fileN.txt lands in dir */
    posix_spawnattr_init(&attr);
    /* Workers ignore SIGINT (the parent handles Ctrl-C); give the script the defaults back. */
    sigset_t none, dflt;
    sigemptyset(&none);
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGINT);
    sigaddset(&dflt, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char *argv[] = {"sh", name, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc) {
        close(fd);
        return -rc;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            close(fd);
            return -errno;
        }
    o->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    ssize_t got = pread(fd, o->text, sizeof o->text - 1, 0);
    close(fd);
    if (got < 0)
        return -errno;
    o->text[got] = '\0';
    return 0;
}

static int write_file(const char *dir, const char *name, const char *text) {
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int bad = fputs(text, f) < 0;
    return fclose(f) != 0 || bad ? -1 : 0;
}

static int file_is(const char *dir, const char *name, const char *want) {
    char path[PATH_MAX + 64], buf[256] = {0};
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strcmp(buf, want) == 0;
}

static void remove_file(const char *dir, const char *name) {
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

#define MAX_SCRIPTS 64

int main(int argc, char **argv) {
    int nscripts = 3;
    unsigned workers = 3; /* the tutorial's mp.Pool(processes=3) */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--scripts") && i + 1 < argc) {
            nscripts = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--workers") && i + 1 < argc) {
            workers = (unsigned)strtoul(argv[++i], NULL, 0);
        } else {
            int help = !strcmp(argv[i], "--help");
            fprintf(help ? stdout : stderr, "usage: run_scripts [--scripts 3] [--workers 3]\n");
            return help ? 0 : 2;
        }
    }
    if (nscripts < 1 || nscripts > MAX_SCRIPTS)
        return 2;

    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX - 64];
    snprintf(dir, sizeof dir, "%s/shmpool-run_scripts.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("run_scripts: mkdtemp");
        return 1;
    }
    char name[32], text[256];
    int status = 1;
    for (int k = 1; k <= nscripts; k++) {
        snprintf(name, sizeof name, "script%d.sh", k);
        snprintf(text, sizeof text,
                 "#!/bin/sh\n"
                 "echo \"hello from script %d, executed by process $$.\"\n"
                 "printf 'hello from script %d' > file%d.txt\n",
                 k, k, k);
        if (write_file(dir, name, text)) {
            perror("run_scripts: writing a script");
            goto clean;
        }
    }

    shmpool *pool;
    shmpool_options opt = {.workers = workers};
    int rc = shmpool_create(&pool, &opt);
    if (rc) {
        fprintf(stderr, "run_scripts: shmpool_create: %s\n", shmpool_strerror(rc));
        goto clean;
    }
    struct script *in = shmpool_alloc(pool, (size_t)nscripts * sizeof *in);
    struct output *out = shmpool_alloc(pool, (size_t)nscripts * sizeof *out);
    if (!in || !out) {
        fprintf(stderr, "run_scripts: shmpool_alloc: %s\n", strerror(errno));
        shmpool_destroy(pool);
        goto clean;
    }
    for (int k = 0; k < nscripts; k++) {
        snprintf(in[k].dir, sizeof in[k].dir, "%s", dir);
        in[k].number = k + 1;
    }
    /* results = pool.map(run_script, script_list), one script per task */
    rc = shmpool_map(pool, run_script, NULL, in, sizeof *in, out, sizeof *out, (size_t)nscripts, 1);
    if (rc) {
        fprintf(stderr, "run_scripts: map: %s\n", shmpool_strerror(rc));
        shmpool_destroy(pool);
        goto clean;
    }
    int ok = 1;
    for (int k = 0; k < nscripts; k++) {
        printf("results[%d] = \"%.*s\" (run by worker %ld)\n", k,
               (int)strcspn(out[k].text, "\n"), out[k].text, out[k].worker_pid);
        char want[64], fname[32], content[64];
        snprintf(want, sizeof want, "hello from script %d, executed by process ", k + 1);
        snprintf(fname, sizeof fname, "file%d.txt", k + 1);
        snprintf(content, sizeof content, "hello from script %d", k + 1);
        char *end = NULL;
        long pid = strncmp(out[k].text, want, strlen(want)) ? 0
                                                            : strtol(out[k].text + strlen(want), &end, 10);
        if (out[k].exit_status != 0 || pid <= 0 || !end || strcmp(end, ".\n") != 0 ||
            !file_is(dir, fname, content)) {
            fprintf(stderr, "run_scripts: FAIL: script %d: exit %d, output \"%s\"\n", k + 1,
                    out[k].exit_status, out[k].text);
            ok = 0;
        }
    }
    shmpool_destroy(pool);
    if (ok) {
        printf("ok: %d scripts ran, their output and files check\n", nscripts);
        status = 0;
    }
clean:
    for (int k = 1; k <= nscripts; k++) {
        snprintf(name, sizeof name, "script%d.sh", k);
        remove_file(dir, name);
        snprintf(name, sizeof name, "file%d.txt", k);
        remove_file(dir, name);
    }
    if (rmdir(dir) != 0) {
        perror("run_scripts: rmdir");
        status = 1;
    }
    return status;
}
