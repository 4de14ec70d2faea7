#!/usr/bin/python3
"""numpy's side of test-array-numpy.c: the real client writes and reads .npy files.

    numpy-files.py write DIR   numpy writes np-<dtype>-<case>.npy for every dtype and case
    numpy-files.py check DIR   numpy loads c-<dtype>-<case>.npy (written by shmpool), checks the
                               values, and checks the bytes are exactly what np.save writes

The values are a formula of the flat index that test-array-numpy.c computes the same way, so each
side checks the other value by value, NaN, infinities, -0.0 and subnormals included.
Exit status: 0 all good, 1 a mismatch (printed), 77 numpy missing.
"""
import io
import os
import sys

try:
    import numpy as np
except ImportError:
    print("numpy is not installed for", sys.executable)
    sys.exit(77)

DTYPES = ["f8", "f4", "i8", "i4", "i2", "i1", "u8", "u4", "u2", "u1", "b1"]
# name -> (shape, version numpy writes with; None: np.save's own choice)
CASES = {
    "vec": ((1000,), None),
    "cube": ((2, 3, 4), (2, 0)),
    "scalar": ((), (3, 0)),
    "empty": ((0,), None),
    "empty3": ((3, 0, 2), (1, 0)),
}
LONG = ((3000001,), None)  # f8 only: larger than several I/O requests


def cases_for(dt):
    items = list(CASES.items())
    if dt == "f8":
        items.append(("long", LONG))
    return items


def values(dt, shape):
    """The array whose flat element i is f(i), as test-array-numpy.c's value() computes it."""
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    i = np.arange(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        v = i * np.uint64(0x9E3779B97F4A7C15) + np.uint64(0x0123456789ABCDEF)
    if dt == "f8":
        m = (v >> np.uint64(11)).astype(np.float64) / 1048576.0
        a = np.where((v & np.uint64(1)) != 0, -m, m)
        specials = [np.nan, np.inf, -np.inf, -0.0, 5e-324, 1.7976931348623157e308]
        if n >= len(specials):
            a[: len(specials)] = specials
    elif dt == "f4":
        m = (v >> np.uint64(40)).astype(np.float32) / np.float32(1024)
        a = np.where((v & np.uint64(1)) != 0, -m, m).astype(np.float32)
        specials = [np.nan, np.inf, -np.inf, -0.0, float.fromhex("0x1p-149"),
                    float.fromhex("0x1.fffffep+127")]
        if n >= len(specials):
            a[: len(specials)] = np.array(specials, dtype=np.float32)
    elif dt == "b1":
        a = ((v >> np.uint64(7)) & np.uint64(1)).astype(np.bool_)
    else:
        a = v.astype(np.dtype("<" + dt))  # wraps, as the C casts do
    return a.astype(np.dtype(("|" if dt[1] == "1" else "<") + dt)).reshape(shape)


def same(a, b):
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "f":
        return bool(np.array_equal(a.view(np.dtype("u%d" % a.itemsize)),
                                   b.view(np.dtype("u%d" % b.itemsize))))
    return bool(np.array_equal(a, b))


def write(d):
    for dt in DTYPES:
        for name, (shape, version) in cases_for(dt):
            a = values(dt, shape)
            with open(os.path.join(d, "np-%s-%s.npy" % (dt, name)), "wb") as f:
                if version is None:
                    np.save(f, a)
                else:
                    np.lib.format.write_array(f, a, version=version)
    return 0


def check(d):
    bad = 0
    for dt in DTYPES:
        for name, (shape, _) in cases_for(dt):
            path = os.path.join(d, "c-%s-%s.npy" % (dt, name))
            want = values(dt, shape)
            got = np.load(path, allow_pickle=False)
            if not same(got, want):
                print("%s: numpy read %s %s, want %s %s" % (path, got.dtype, got.shape,
                                                             want.dtype, want.shape))
                bad += 1
                continue
            buf = io.BytesIO()
            np.save(buf, want)
            with open(path, "rb") as f:
                if f.read() != buf.getvalue():
                    print("%s: the bytes differ from what np.save writes" % path)
                    bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "check"):
        print(__doc__)
        sys.exit(2)
    sys.exit(write(sys.argv[2]) if sys.argv[1] == "write" else check(sys.argv[2]))
