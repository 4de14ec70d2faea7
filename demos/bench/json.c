/* JSON, as little as bench needs: a number or a string by key in one of bench.py's one-line
 * answers (no nesting, no escapes: bench.py writes them), and the --json file, one object per
 * measurement per line (read by demos/bench_plot.sh; docs/bench-results.json is one).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int json_num(const char *s, const char *key, double *v) {
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(s, k);
    if (!p)
        return 0;
    *v = strtod(p + strlen(k), NULL);
    return 1;
}

int json_str(const char *s, const char *key, char *out, size_t len) {
    char k[64];
    snprintf(k, sizeof k, "\"%s\": \"", key);
    const char *p = strstr(s, k);
    if (!p)
        return 0;
    p += strlen(k);
    size_t i = 0;
    for (; *p && *p != '"' && i + 1 < len; p++)
        out[i++] = *p;
    out[i] = 0;
    return 1;
}

void write_json(const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) {
        FAIL("%s: %s", path, strerror(errno));
        return;
    }
    for (int i = 0; i < nM; i++) {
        struct meas *m = &M[i];
        if (!m->ok)
            continue;
        fprintf(f,
                "{\"workload\": \"%s\", \"impl\": \"%s\", \"workers\": %u, \"seconds\": %.9g, "
                "\"min\": %.9g, \"max\": %.9g, \"items\": %.0f, \"peak_pss_kb\": %ld}\n",
                m->workload, m->impl, m->workers, m->med, m->min, m->max, m->items, m->pss_kb);
    }
    fclose(f);
}
