#!/usr/bin/env bash
# Install the build tree into a scratch prefix, then build and run a consumer against it twice:
# with CMake's find_package(shmpool) (shared and static targets) and with pkg-config.
set -euo pipefail
build=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
libdir=$(ls -d "$work"/prefix/lib*/ | head -n1)
test -f "$work/prefix/include/shmpool.h"
test -x "$work/prefix/bin/shmpool" || { echo "shmpool tool not installed"; exit 1; }

cmake -S "$src" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cmake" >/dev/null
LD_LIBRARY_PATH="$libdir" "$work/cmake/consumer_shared"
"$work/cmake/consumer_static"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -std=c11 "$src/main.c" -o "$work/pc" $(pkg-config --cflags --libs shmpool)
LD_LIBRARY_PATH="$libdir" "$work/pc"
cc -std=c11 "$src/main.c" -o "$work/pc-static" $(pkg-config --cflags shmpool) \
   "$libdir/libshmpool.a" $(pkg-config --libs-only-other --static shmpool) -luring -lpthread
"$work/pc-static"
echo "install check: find_package and pkg-config both work"
