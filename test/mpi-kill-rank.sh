#!/bin/bash
# A rank killed (SIGKILL) while its workers compute a collective job: the job must end on every
# rank within 5 s with an error that names the dead rank and its host, no worker or helper of any
# rank may outlive it, and no /dev/shm segment of any rank may be left.
#   mpi-kill-rank.sh MPIEXEC TEST_MPI
set -u
mpiexec=$1 prog=$2
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
host=$(hostname)

"$mpiexec" -np 2 --bind-to none "$prog" --kill-rank >"$out" 2>"$err" &
mpirun_pid=$!
# The ranks print their pids just before the job in which rank 1 dies.
t0=
for _ in $(seq 200); do
    if [ "$(grep -c '^rank [01] pid' "$out")" = 2 ]; then t0=$(date +%s.%N); break; fi
    sleep 0.1
done
[ -n "$t0" ] || { echo "FAIL: the ranks never started"; cat "$out" "$err"; kill "$mpirun_pid"; exit 1; }
wait "$mpirun_pid"
rc=$?
t1=$(date +%s.%N)
cat "$out" "$err"
took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
echo "# mpirun exited with $rc, ${took} s after the job began"

fail=0
[ "$rc" != 0 ] || { echo "FAIL: mpirun succeeded although a rank died"; fail=1; }
awk -v t="$took" 'BEGIN { exit !(t < 5) }' || { echo "FAIL: the job took ${took} s to end (limit 5 s)"; fail=1; }
grep -q "rank 1" "$out" "$err" && grep -q "$host" "$err" ||
    { echo "FAIL: no error names rank 1 and host $host"; fail=1; }

pids=$(sed -n 's/^rank [01] pid \([0-9]*\)$/\1/p' "$out")
# Helpers and workers are forks of the ranks: same command line. Zombies are dead already (in a
# container whose pid 1 does not reap, they stay).
survivors() { # live (not zombie) processes running test-mpi --kill-rank; /proc, not ps (procps)
    local d cmd state
    for d in /proc/[0-9]*; do
        cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
        case $cmd in *test-mpi\ --kill-rank*) ;; *) continue ;; esac
        state=$(awk '/^State:/ {print $2}' "$d/status" 2>/dev/null)
        [ -n "$state" ] && [ "$state" != Z ] && echo "${d#/proc/} ($state) $cmd"
    done
}
for _ in $(seq 30); do
    alive=$(survivors)
    [ -z "$alive" ] && break
    sleep 0.1
done
[ -z "$alive" ] || { echo "FAIL: processes outlived the job:"; echo "$alive"; fail=1; }
for p in $pids; do
    left=$(ls /dev/shm | grep "^shmpool\.$p\." || true)
    [ -z "$left" ] || { echo "FAIL: rank pid $p left segments: $left"; fail=1; }
done
[ "$fail" = 0 ] && echo "ok: the job ended in ${took} s, nothing left behind"
exit "$fail"
