/* The Python coprocess: bench.py --serve, started once, one JSON command per line on its stdin,
 * one JSON answer per line on its stdout. It times itself; see bench.py.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static struct {
    pid_t pid;
    FILE *to, *from;
    int dead;
    char why[160];
} PY = {.pid = -1};

static pid_t pid_seen;

pid_t py_pid(void) {
    return PY.pid;
}
pid_t py_pid_seen(void) {
    return pid_seen;
}

/* Why the coprocess cannot start, into PY.why; 0 when it can. */
static int cannot_start(void) {
    if (O.no_python)
        snprintf(PY.why, sizeof PY.why, "--no-python");
    else if (access(O.python, X_OK))
        snprintf(PY.why, sizeof PY.why, "%s not found", O.python);
    else if (access(O.script, R_OK))
        snprintf(PY.why, sizeof PY.why, "%s not found", O.script);
    else
        return 0;
    return 1;
}

void py_start(void) {
    int in[2], out[2];
    if (cannot_start()) {
        PY.dead = 1;
        return;
    }
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
        snprintf(PY.why, sizeof PY.why, "pipe: %s", strerror(errno));
        PY.dead = 1;
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        execl(O.python, O.python, O.script, "--serve", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    if (pid < 0) {
        close(in[1]), close(out[0]);
        snprintf(PY.why, sizeof PY.why, "fork: %s", strerror(errno));
        PY.dead = 1;
        return;
    }
    PY.pid = pid;
    pid_seen = pid;
    PY.to = fdopen(in[1], "w");
    PY.from = fdopen(out[0], "r");
}

/* Send one command; -1: skipped (note says why), -2: error; else the seconds. */
static double py_call(const char *cmd, double *check, char *note, size_t notelen) {
    if (PY.dead) {
        snprintf(note, notelen, "python: %s", PY.why);
        return -1;
    }
    char line[4096];
    fprintf(PY.to, "%s\n", cmd);
    fflush(PY.to);
    if (!fgets(line, sizeof line, PY.from)) {
        snprintf(PY.why, sizeof PY.why, "bench.py ended");
        PY.dead = 1;
        snprintf(note, notelen, "python: %s", PY.why);
        return -2;
    }
    double v;
    if (json_str(line, "skip", note, notelen))
        return -1;
    if (json_str(line, "error", note, notelen))
        return -2;
    if (check && json_num(line, "check", &v))
        *check = v;
    if (!json_num(line, "seconds", &v))
        return -2;
    return v;
}

void py_stop(void) {
    if (PY.pid <= 0)
        return;
    if (PY.to && !PY.dead) { /* ends its pools and loky's workers, then EOF ends it */
        char note[200];
        py_call("{\"workload\": \"quit\"}", NULL, note, sizeof note);
    }
    if (PY.to)
        fclose(PY.to);
    if (PY.from)
        fclose(PY.from);
    int st;
    waitpid(PY.pid, &st, 0);
    PY.pid = -1;
}

double py_run(void *arg, int warm) {
    struct pyarg *a = arg;
    char cmd[1100];
    if (strstr(a->cmd, "\"path\": \"\"")) {
        snprintf(a->note, sizeof a->note, "could not write the data file for bench.py");
        return -1;
    }
    snprintf(cmd, sizeof cmd, "{%s, \"warm\": %d}", a->cmd, warm);
    return py_call(cmd, &a->check, a->note, sizeof a->note);
}

void py_drop(void) {
    char note[200];
    if (PY.pid > 0 && !PY.dead)
        py_call("{\"workload\": \"drop\"}", NULL, note, sizeof note);
}
