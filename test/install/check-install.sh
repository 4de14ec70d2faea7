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

# libshmpool_mpi, where it was built: find_package(shmpool COMPONENTS mpi) and pkg-config.
if [ -f "$work/prefix/include/shmpool_mpi.h" ]; then
    cmake -S "$src/mpi" -B "$work/cmake-mpi" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
    cmake --build "$work/cmake-mpi" >/dev/null
    cc -std=c11 "$src/mpi_main.c" -o "$work/pc-mpi" $(pkg-config --cflags --libs shmpool_mpi)
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_tcp_if_include=lo
    export OMPI_MCA_oob_tcp_if_include=lo OMPI_MCA_rmaps_base_oversubscribe=1
    for exe in "$work/cmake-mpi/mpi_consumer" "$work/pc-mpi"; do
        LD_LIBRARY_PATH="$libdir" timeout 60 mpirun -np 2 --bind-to none -x LD_LIBRARY_PATH "$exe"
    done
    echo "install check: libshmpool_mpi through find_package(COMPONENTS mpi) and pkg-config"
fi
# C++ (shmpool.hpp) and Fortran (the shmpool module): find_package, and pkg-config with no
# LD_LIBRARY_PATH (the .pc files give an rpath).
test -f "$work/prefix/include/shmpool.hpp"
if command -v c++ >/dev/null; then
    cmake -S "$src/cxx" -B "$work/cmake-cxx" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
    cmake --build "$work/cmake-cxx" >/dev/null
    LD_LIBRARY_PATH="$libdir" "$work/cmake-cxx/cxx_consumer"
    c++ -std=c++17 "$src/cxx/main.cpp" -o "$work/pc-cxx" $(pkg-config --cflags --libs shmpool_cxx)
    env -u LD_LIBRARY_PATH "$work/pc-cxx"
    env -u LD_LIBRARY_PATH "$work/pc" # the C consumer too, by its rpath
    echo "install check: C++ through find_package and pkg-config"
fi
if [ -f "$work/prefix/include/shmpool.mod" ]; then
    cmake -S "$src/fortran" -B "$work/cmake-fortran" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
    cmake --build "$work/cmake-fortran" >/dev/null
    LD_LIBRARY_PATH="$libdir" "$work/cmake-fortran/fortran_consumer"
    gfortran "$src/fortran/main.f90" -J "$work" -o "$work/pc-fortran" $(pkg-config --cflags --libs shmpool_fortran)
    env -u LD_LIBRARY_PATH "$work/pc-fortran"
    echo "install check: Fortran through find_package(COMPONENTS fortran) and pkg-config"
fi
echo "install check: find_package and pkg-config both work"
