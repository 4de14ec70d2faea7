#!/bin/bash
# mpi_heavy prints the same `sum` line as heavy on the same data, on 1, 2 and 3 ranks, with Open
# MPI's default transports and with TCP only; on random data and (with python3-numpy) on a .npy
# file numpy wrote.
#   mpi_heavy_check.sh MPIEXEC MPI_HEAVY HEAVY
set -u
mpiexec=$1 mpi_heavy=$2 heavy=$3
fail=0
check() { # label, heavy args...
    local label=$1; shift
    local want got
    want=$("$heavy" --no-scalar --workers 2 "$@" | grep '^sum ')
    echo "$label heavy:            $want"
    for np in 1 2 3; do
        for net in default tcp; do
            if [ "$net" = tcp ]; then
                got=$(OMPI_MCA_btl=self,tcp OMPI_MCA_osc=sm,pt2pt timeout 60 "$mpiexec" -np $np \
                      --bind-to none "$mpi_heavy" --workers 1 "$@" | grep '^sum ')
            else
                got=$(timeout 60 "$mpiexec" -np $np --bind-to none "$mpi_heavy" --workers 1 "$@" |
                      grep '^sum ')
            fi
            echo "$label mpi_heavy np=$np $net: $got"
            [ -n "$want" ] && [ "$got" = "$want" ] || { echo "FAIL: differs"; fail=1; }
        done
    done
}
check random --n 400000 --chunks 4
check odd --n 1001 --chunks 7 --seed 5
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    f=$(mktemp --suffix=.npy)
    /usr/bin/python3 -c "import numpy as np, sys; np.save(sys.argv[1], np.random.default_rng(3).random(300001))" "$f"
    check npy --input "$f"
    # each rank streams its share of the rows (a small budget: many pieces per rank)
    check npy-stream --input "$f" --stream --chunks 37 --budget 1M
    rm -f "$f"
else
    echo "# python3-numpy absent: the --input check is skipped"
fi
[ "$fail" = 0 ] && echo "ok: every sum line is identical"
exit "$fail"
