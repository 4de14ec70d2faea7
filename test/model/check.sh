#!/bin/bash
# check.sh <model.pml> <work-dir> [spin -D options...]: generate the verifier with spin, compile it
# for safety properties (assertions, invalid end states), run an exhaustive search, and pass only
# if it reports "errors: 0". On an error, print the counterexample (spin -t -p) for the log.
set -u
model=$1 dir=$2
shift 2
mkdir -p "$dir" && cd "$dir" || exit 2
cp "$model" ring.pml
spin -a "$@" ring.pml || exit 2
${CC:-cc} -O2 -DSAFETY -DCOLLAPSE -DMEMLIM=8192 -o pan pan.c || exit 2
./pan -m200000 -w24 | tee pan.out
if grep -q "errors: 0" pan.out; then
    exit 0
fi
echo "---- counterexample (spin -t -p $*), last 120 steps ----"
spin "$@" -t -p ring.pml | tail -120
exit 1
