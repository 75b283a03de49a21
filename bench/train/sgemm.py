"""The machine's SGEMM ceiling for bench/train: NumPy's float32 matrix product on OpenBLAS.

Prints one JSON line: {"gflops": ..., "n": ..., "threads": ..., "blas": ...}. The best of a
few n x n x n products, 2 n^3 floating-point operations each. Run by bench/train/main.go
with OPENBLAS_NUM_THREADS set and OPENBLAS_CORETYPE unset, so that OpenBLAS takes the
kernels it finds best for this CPU (AVX-512 where there is AVX-512); not part of catdog.
"""
import argparse
import json
import os
import time

import numpy as np

from torch_ref import blas_in_use


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=4096)
    p.add_argument("--reps", type=int, default=3)
    a = p.parse_args()
    rng = np.random.default_rng(1)
    x = rng.random((a.n, a.n), dtype=np.float32)
    y = rng.random((a.n, a.n), dtype=np.float32)
    x @ y  # warm-up
    best = float("inf")
    for _ in range(a.reps):
        t = time.perf_counter()
        x @ y
        best = min(best, time.perf_counter() - t)
    print(json.dumps({"gflops": 2 * a.n ** 3 / best / 1e9, "n": a.n,
                      "threads": int(os.environ.get("OPENBLAS_NUM_THREADS", "0")), "blas": blas_in_use()}))


if __name__ == "__main__":
    main()
