#!/usr/bin/python3
"""The Python side of demos/bench: the tutorial's code (../shared/seed/parallel-processing-in-python.md),
run exactly as the tutorial runs it, timed, on the data the C side wrote to a file.

The C program starts this script once (`bench.py --serve`) and sends one JSON command per line on
stdin; each command runs one measurement and answers one JSON line on stdout:

    {"workload": "heavy", "impl": "python_pool", "workers": 2, "path": "/tmp/...", "n": 40000000,
     "chunks": 4}
    -> {"seconds": 1.93, "check": 1234.5}     or {"skip": "why"}     or {"error": "what"}

One process for the whole run lets the C side alternate implementations (C, Python, C, Python...)
and keeps the data loaded between repetitions. The same commands can be given as arguments for a
one-off run: bench.py '{"workload": "create", "impl": "python_pool", "workers": 2, "calls": 5}'.

Timing uses time.perf_counter() (monotonic) where the tutorial uses time.time(); what is inside
the timed region is the tutorial's: the heavy and primes runs create their Pool inside it
(`with mp.Pool(...) as pool:` in the timed function), the starmap runs do not (the tutorial
creates the pool before t0).
"""
import json
import math
import os
import sys
import time

try:
    import numpy as np
except ImportError:  # every workload needs numpy: each command answers "skip"
    np = None

import multiprocessing as mp

try:
    from tqdm import tqdm  # the tutorial's primes example wraps pool.map's finished list in tqdm
except ImportError:
    def tqdm(it, **kw):
        return it


# --- the tutorial's functions, as written there -------------------------------------------------

def f(x, y):
    return (x+y)**(2)


def heavy_function(array):
    for _ in range(3):
        array = (np.sin(array)+np.cos(array))**(array*array)
    return np.sum(array)  # Just return the sum of the processed chunk


def parallel_map(chunks_list, num_procs=4):
    with mp.Pool(processes=num_procs) as pool:
        results = pool.map(heavy_function, chunks_list)
    return results


def prime_factors(n):
    factors = []
    divisor = 2
    while n > 1:
        while n % divisor == 0:
            factors.append(divisor)
            n //= divisor
        divisor += 1
        if divisor * divisor > n and n > 1:
            factors.append(n)
            break
    return factors


def multi_process_execution(data, workers):
    with mp.Pool(workers) as pool:  # the tutorial's Pool(2), with --workers
        results = list(tqdm(pool.map(prime_factors, data), total=len(data),
                            desc="Multi-process execution", disable=True))
    return results


# --- data from the C side ------------------------------------------------------------------------

_cache = {}


def load(path, dtype):
    key = (path, dtype)
    if key not in _cache:
        _cache[key] = np.fromfile(path, dtype=dtype)
    return _cache[key]


def xy_tuples(path, n):
    key = ("xy", path, n)
    if key not in _cache:
        xy = load(path, "<i4")
        x, y = xy[: len(xy) // 2], xy[len(xy) // 2:]
        # the tutorial's list of tuples of Python ints
        _cache[key] = [(int(x[i]), int(y[i])) for i in range(0, n)]
    return _cache[key]


_pools = {}


def hot_pool(workers):
    """A pool kept across commands (the tutorial's `pool = mp.Pool(2)` made before t0)."""
    if workers not in _pools:
        for p in _pools.values():
            p.terminate()
            p.join()
        _pools.clear()
        _pools[workers] = mp.Pool(workers)
    return _pools[workers]


def drop_pools():
    for p in _pools.values():
        p.terminate()
        p.join()
    _pools.clear()


def loky_shutdown():
    try:
        from joblib.externals.loky import get_reusable_executor
        get_reusable_executor().shutdown(wait=True)
    except ImportError:
        pass


# --- the measurements ----------------------------------------------------------------------------

def run(cmd):
    if np is None:
        return {"skip": "numpy is not installed for " + sys.executable}
    wl, impl, w = cmd.get("workload"), cmd.get("impl"), int(cmd.get("workers", 2))
    if wl == "drop":
        drop_pools()
        _cache.clear()
        return {"ok": 1}
    if wl == "quit":
        drop_pools()
        loky_shutdown()
        return {"ok": 1}

    if wl == "heavy":
        x = load(cmd["path"], "<f8")
        N = len(x)
        chunk_size = (N + int(cmd["chunks"]) - 1) // int(cmd["chunks"])
        chunks = [x[i:i + chunk_size] for i in range(0, N, chunk_size)]
        if impl == "python_pool":
            if cmd.get("warm"):
                loky_shutdown()  # so the memory sample holds the Pool's processes only
            drop_pools()
            t0 = time.perf_counter()
            results = parallel_map(chunks, w)
            t1 = time.perf_counter()
        elif impl == "joblib":
            try:
                from joblib import Parallel, delayed
            except ImportError:
                return {"skip": "joblib is not installed for " + sys.executable}
            drop_pools()
            t0 = time.perf_counter()
            results = Parallel(n_jobs=w)(delayed(heavy_function)(c) for c in chunks)
            t1 = time.perf_counter()
        else:
            return {"error": "unknown impl " + str(impl)}
        return {"seconds": t1 - t0, "check": float(sum(results))}

    if wl in ("starmap", "starmap_chunk1"):
        xy_tuple = xy_tuples(cmd["path"], int(cmd["n"]))
        pool = hot_pool(w)
        t0 = time.perf_counter()
        if wl == "starmap":
            result1 = pool.starmap(f, xy_tuple)
        else:
            result1 = pool.starmap(f, xy_tuple, chunksize=1)
        t1 = time.perf_counter()
        return {"seconds": t1 - t0, "check": float(sum(result1))}

    if wl == "apply":
        xy_tuple = xy_tuples(cmd["path"], int(cmd["n"]))
        pool = hot_pool(w)
        times = []
        s = 0
        for i in range(int(cmd["calls"])):
            a, b = xy_tuple[i % len(xy_tuple)]
            t0 = time.perf_counter()
            s += pool.apply(f, (a, b))
            times.append(time.perf_counter() - t0)
        times.sort()
        return {"seconds": times[len(times) // 2], "check": float(s)}

    if wl == "apply_async":
        xy_tuple = xy_tuples(cmd["path"], int(cmd["n"]))
        pool = hot_pool(w)
        calls = int(cmd["calls"])
        t0 = time.perf_counter()
        rs = [pool.apply_async(f, xy_tuple[i % len(xy_tuple)]) for i in range(calls)]
        s = sum(r.get() for r in rs)
        t1 = time.perf_counter()
        return {"seconds": t1 - t0, "check": float(s)}

    if wl == "create":
        drop_pools()
        times = []
        for _ in range(int(cmd["calls"])):
            t0 = time.perf_counter()
            with mp.Pool(w) as pool:
                pass
            times.append(time.perf_counter() - t0)
        times.sort()
        return {"seconds": times[len(times) // 2]}

    if wl == "primes":
        # np.random.uniform's float64 values, as in the tutorial (the C side's integers, exactly)
        data = load(cmd["path"], "<u8").astype(np.float64)
        if cmd.get("warm"):
            data = data[: max(1, len(data) // 20)]
        drop_pools()
        t0 = time.perf_counter()
        multi_results = multi_process_execution(data, w)
        t1 = time.perf_counter()
        check = float(sum(float(v) for fs in multi_results for v in fs))
        return {"seconds": t1 - t0, "check": check}

    if wl == "npy-load":
        # numpy.load, then a copy into a new SharedMemory block: what a Python program does to put
        # a .npy file in shared memory for its workers. Timed from the load to the copy's end;
        # the checks and close+unlink come after (the C side times its free outside too).
        from multiprocessing import shared_memory
        t0 = time.perf_counter()
        arr = np.load(cmd["path"])
        shm = shared_memory.SharedMemory(create=True, size=max(arr.nbytes, 1))
        dst = np.ndarray(arr.shape, dtype=arr.dtype, buffer=shm.buf)
        dst[:] = arr
        t1 = time.perf_counter()
        words = dst.reshape(-1).view(np.uint64)
        x = int(np.bitwise_xor.reduce(words)) if words.size else 0
        del words, dst, arr
        shm.close()
        shm.unlink()
        return {"seconds": t1 - t0, "check": float((x ^ (x >> 32)) & 0xFFFFFFFF)}

    return {"error": "unknown workload " + str(wl)}


def answer(line):
    try:
        res = run(json.loads(line))
    except Exception as e:  # report, keep serving
        res = {"error": repr(e)}
    sys.stdout.write(json.dumps(res) + "\n")
    sys.stdout.flush()


def main():
    if len(sys.argv) > 1 and sys.argv[1] != "--serve":
        for a in sys.argv[1:]:
            answer(a)
        run({"workload": "quit"})
        return
    for line in sys.stdin:
        if line.strip():
            answer(line)
    run({"workload": "quit"})


if __name__ == "__main__":
    main()
