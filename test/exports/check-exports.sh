#!/usr/bin/env bash
# Every global symbol a library defines is public (shmpool_) or internal with the project's prefix
# (shmpool__): a bare name (ring_init, say) would clash with the program's own or another library's.
# Usage: check-exports.sh LIB.a... ; prints each offending symbol and fails if there is one.
set -euo pipefail
bad=0
for lib in "$@"; do
  while read -r sym; do
    echo "$lib: global symbol without the shmpool_ prefix: $sym" >&2
    bad=1
  done < <(nm -g --defined-only "$lib" | awk 'NF == 3 { print $3 }' | grep -v '^shmpool_' | sort -u)
done
exit $bad
