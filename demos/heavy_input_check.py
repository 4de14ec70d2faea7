#!/usr/bin/env python3
"""heavy --input against numpy: numpy writes x.npy, computes the tutorial's heavy_function over
the same 4 chunks, and the sum heavy prints must agree to 1e-9 relative.
usage: heavy_input_check.py HEAVY_BINARY [N]   (exit 77 without numpy: a skip for ctest)"""
import os, subprocess, sys, tempfile

try:
    import numpy as np
except ImportError:
    print("numpy is not installed (apt-get install python3-numpy): skipped")
    sys.exit(77)


def heavy_function(array):  # the tutorial's, verbatim
    for _ in range(3):
        array = (np.sin(array) + np.cos(array)) ** (array * array)
    return np.sum(array)


heavy = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100003
x = np.random.default_rng(12345).random(n).astype(np.float64)
chunk_size = -(-n // 4)  # ceil: the tutorial's chunks = [x[i:i + chunk_size] ...]
expected = sum(heavy_function(x[i:i + chunk_size]) for i in range(0, n, chunk_size))

with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "x.npy")
    np.save(path, x)
    out = subprocess.run([heavy, "--input", path, "--workers", "2", "--no-scalar"],
                         capture_output=True, text=True, check=True).stdout
sums = [line for line in out.splitlines() if line.startswith("sum ")]
if len(sums) != 1:
    print(out)
    sys.exit("heavy printed no 'sum' line")
got = float(sums[0].split()[1])
rel = abs(got - expected) / abs(expected)
print(f"heavy: {got!r}  numpy: {expected!r}  relative difference {rel:.3g}")
sys.exit(0 if rel <= 1e-9 else 1)
