/* A one-line progress bar on stderr, tqdm's layout:
 *     label  45% |#####     | 450/1000 [00:02<00:03, 180.0 it/s] */
#include "shmpool.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

#define BAR_WIDTH 25
#define POLL_MS 100

/* Appends to a fixed buffer, truncating, always NUL-terminated. */
struct out {
    char *buf;
    size_t len, pos;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...) {
    if (o->pos + 1 >= o->len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->pos, o->len - o->pos, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->pos = (size_t)n < o->len - o->pos ? o->pos + (size_t)n : o->len - 1;
}

static void put_char(struct out *o, char c, size_t count) {
    for (size_t i = 0; i < count && o->pos + 1 < o->len; i++)
        o->buf[o->pos++] = c;
    o->buf[o->pos] = '\0';
}

/* mm:ss, or h:mm:ss from an hour on; seconds are truncated as tqdm does. */
static void put_time(struct out *o, double s) {
    if (!(s >= 0) || s >= 1e9) {
        put(o, "?");
        return;
    }
    unsigned long long t = (unsigned long long)s;
    if (t >= 3600)
        put(o, "%llu:%02llu:%02llu", t / 3600, t / 60 % 60, t % 60);
    else
        put(o, "%02llu:%02llu", t / 60, t % 60);
}

int shmpool_progress_format(char *buf, size_t len, const char *label, size_t done, size_t total,
                            double elapsed_s, int width) {
    if (!buf || len == 0 || width < 0 || !(elapsed_s >= 0))
        return -EINVAL;
    struct out o = {buf, len, 0};
    buf[0] = '\0';
    if (done > total)
        done = total;

    /* Percent is truncated (99% until the last item); total 0 is a finished empty job. */
    unsigned pct;
    if (total == 0)
        pct = 100;
    else if (done <= SIZE_MAX / 100)
        pct = (unsigned)(done * 100 / total);
    else
        pct = (unsigned)((double)done / (double)total * 100.0);
    if (pct >= 100 && done < total)
        pct = 99;

    if (label && *label)
        put(&o, "%s ", label);
    put(&o, "%3u%%", pct);
    if (width > 0) {
        /* Cells are rounded to the nearest, but the bar is full only when the job is. */
        size_t cells = (size_t)width, filled = cells;
        if (total > 0 && done < total) {
            filled = (size_t)((double)done / (double)total * (double)cells + 0.5);
            if (filled >= cells)
                filled = cells - 1;
        }
        put(&o, " |");
        put_char(&o, '#', filled);
        put_char(&o, ' ', cells - filled);
        put(&o, "|");
    }
    put(&o, " %zu/%zu [", done, total);
    put_time(&o, elapsed_s);
    put(&o, "<");
    double rate = elapsed_s > 0 ? (double)done / elapsed_s : 0;
    if (done == total)
        put_time(&o, 0);
    else if (rate > 0)
        put_time(&o, (double)(total - done) / rate);
    else
        put(&o, "?");
    if (rate <= 0 || !isfinite(rate))
        put(&o, ", ? it/s]");
    else if (rate >= 1)
        put(&o, ", %.1f it/s]", rate);
    else
        put(&o, ", %.1f s/it]", 1.0 / rate); /* slow items read better as seconds per item */
    return (int)o.pos;
}

static void draw(const shmpool_result *r, const char *label, uint64_t t0, const char *before,
                 const char *after) {
    size_t done = 0, total = 0;
    char line[512];
    shmpool_result_progress(r, &done, &total);
    double elapsed = (double)(shmpool__now_ns() - t0) / 1e9;
    if (shmpool_progress_format(line, sizeof line, label, done, total, elapsed, BAR_WIDTH) >= 0) {
        /* One call, so the line goes out in one write even if stderr was made buffered. */
        fprintf(stderr, "%s%s%s", before, line, after);
        fflush(stderr);
    }
}

/* Elapsed time and the rate count from this call, so call it right after submitting. */
int shmpool_progress_wait(shmpool_result *r, const char *label, int mode) {
    if (!r || mode < SHMPOOL_PROGRESS_AUTO || mode > SHMPOOL_PROGRESS_NEVER)
        return -EINVAL;
    int tty = isatty(STDERR_FILENO);
    if (mode == SHMPOOL_PROGRESS_NEVER || (mode == SHMPOOL_PROGRESS_AUTO && !tty))
        return shmpool_result_get(r, -1);
    uint64_t t0 = shmpool__now_ns();
    int rc;
    while ((rc = shmpool_result_get(r, POLL_MS)) == -ETIMEDOUT)
        if (tty)
            draw(r, label, t0, "\r", "\x1b[K");
    /* Not a terminal (a log file): no redraws and no escape codes, one final line. */
    if (tty)
        draw(r, label, t0, "\r", "\x1b[K\n");
    else
        draw(r, label, t0, "", "\n");
    return rc;
}
