#!/bin/sh
# Draw docs/img/*.png from a `bench --json FILE` run:
#     demos/bench_plot.sh bench.json docs/img
# Needs python3 (to read the JSON lines) and gnuplot (gnuplot-nox is enough).
set -eu
json=${1:?usage: bench_plot.sh BENCH.json OUTDIR}
out=${2:?usage: bench_plot.sh BENCH.json OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
python3 - "$json" "$tmp" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
tmp = sys.argv[2]
def get(wl, impl, w):
    for r in rows:
        if r["workload"] == wl and r["impl"] == impl and r["workers"] == w:
            return r
    return None
# time vs workers: one file per workload and implementation (workers median min max)
for wl in ("heavy", "primes"):
    for impl in ("shmpool", "openmp", "python_pool", "joblib", "serial"):
        pts = sorted((r["workers"], r["seconds"], r["min"], r["max"]) for r in rows
                     if r["workload"] == wl and r["impl"] == impl)
        if impl == "serial" and pts:  # one measurement: drawn flat across the worker counts
            ws = sorted({r["workers"] for r in rows if r["workload"] == wl})
            pts = [(w,) + pts[0][1:] for w in ws]
        with open(f"{tmp}/{wl}_{impl}.dat", "w") as f:
            for p in pts:
                f.write("%d %.9g %.9g %.9g\n" % p)
# speed-up bars: how many times faster shmpool is than each alternative, at 2 workers
w = max(set(r["workers"] for r in rows if r["workload"] == "starmap") or {2})
pairs = [("heavy", "python_pool"), ("heavy", "joblib"), ("heavy", "openmp"), ("heavy", "serial"),
         ("starmap", "python_pool"), ("starmap_chunk1", "python_pool"), ("apply", "python_pool"),
         ("apply_async", "python_pool"), ("create", "python_pool"), ("for_empty", "openmp"),
         ("heat", "openmp"), ("heat", "serial"), ("primes", "python_pool"), ("primes", "openmp"),
         ("primes", "serial")]
with open(f"{tmp}/speedup.dat", "w") as f:
    for wl, impl in pairs:
        a = get(wl, "shmpool", w)
        b = get(wl, impl, 1 if impl == "serial" else w)
        if a and b:
            # time per item, so runs over different item counts compare
            s = (b["seconds"] / b["items"]) / (a["seconds"] / a["items"])
            f.write('"%s\\nvs %s" %.6g\n' % (wl, impl.replace("_", " "), s))
PY
gnuplot -e "dir='$tmp'; out='$out'" "$here/plot_bench.gp"
