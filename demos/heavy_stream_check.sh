#!/bin/bash
# heavy --stream prints the same `sum` line as heavy without it, for the same --chunks: on a file
# numpy wrote, with small budgets, and inside a private mount namespace whose /dev/shm (8 MiB) is
# a third of the file, where the file cannot be loaded at all. Exit 77 (skip) without numpy; the
# namespace part is skipped where unshare -m is not allowed.
#   heavy_stream_check.sh HEAVY
set -u
heavy=$1
/usr/bin/python3 -c 'import numpy' 2>/dev/null || { echo "# python3-numpy absent: skipped"; exit 77; }
f=$(mktemp --suffix=.npy)
trap 'rm -f "$f"' EXIT
/usr/bin/python3 -c "import numpy as np, sys; np.save(sys.argv[1], np.random.default_rng(5).random(3000017))" "$f"
fail=0
for chunks in 64 1001; do
    want=$("$heavy" --input "$f" --chunks $chunks --no-scalar --workers 2 | grep '^sum ')
    echo "chunks $chunks, loaded:           $want"
    for budget in 2M 5M; do
        got=$("$heavy" --input "$f" --chunks $chunks --workers 2 --stream --budget $budget | grep '^sum ')
        echo "chunks $chunks, streamed, $budget:    $got"
        [ -n "$want" ] && [ "$got" = "$want" ] || { echo "FAIL: differs"; fail=1; }
    done
    if unshare -m true 2>/dev/null; then
        got=$(unshare -m sh -c 'mount --make-rprivate / && mount -t tmpfs -o size=8m tmpfs /dev/shm &&
              "$0" --input "$1" --chunks "$2" --workers 2 --stream' "$heavy" "$f" $chunks | grep '^sum ')
        echo "chunks $chunks, 8 MiB /dev/shm:   $got"
        [ -n "$want" ] && [ "$got" = "$want" ] || { echo "FAIL: differs"; fail=1; }
        unshare -m sh -c 'mount --make-rprivate / && mount -t tmpfs -o size=8m tmpfs /dev/shm &&
              "$0" --input "$1" --no-scalar --workers 2 >/dev/null 2>&1' "$heavy" "$f" &&
            { echo "FAIL: the file was expected not to fit in the 8 MiB /dev/shm"; fail=1; }
    else
        echo "# unshare -m not allowed here: the small /dev/shm part is skipped"
    fi
done
[ "$fail" = 0 ] && echo "ok: every sum line is identical"
exit "$fail"
