#!/usr/bin/python3
"""EASE's weight matrix B for one λ, in LAPACK (the dense solve of libs/cf/ease.ts).

    /usr/bin/python3 libs/cf/ease_weights.py --user-start U.i32 --user-items I.i32 --items N
        --lambda L --out B.f64

U and I are the binary user × item matrix in CSR, raw little-endian int32 (user u's items are
I[U[u]:U[u+1]]).
P = (XᵀX + λI)⁻¹ through its Cholesky factor (LAPACK potrf + potri, n³ multiply-adds in all), then
B_ij = −P_ij / P_jj off the diagonal and 0 on it. B is written row-major as raw little-endian
float64, n² values, no header. The thread count is OpenBLAS's (OMP_NUM_THREADS).
"""
import argparse
import sys
import time

import numpy as np
import torch


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--user-start", required=True)
    p.add_argument("--user-items", required=True)
    p.add_argument("--items", type=int, required=True)
    p.add_argument("--lambda", dest="lam", type=float, required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    started = time.perf_counter()
    n = a.items
    user_start = np.fromfile(a.user_start, dtype="<i4")
    user_items = np.fromfile(a.user_items, dtype="<i4")

    # Gram matrix XᵀX + λI: each user adds 1 to every pair of their items (Σ|row|² adds, X stays sparse).
    g = np.zeros((n, n))
    for u in range(len(user_start) - 1):
        row = user_items[user_start[u] : user_start[u + 1]]
        g[np.ix_(row, row)] += 1
    g[np.diag_indices(n)] += a.lam
    gram_s = time.perf_counter() - started

    factor = torch.linalg.cholesky(torch.from_numpy(g))
    del g
    b = torch.cholesky_inverse(factor)
    del factor
    # B_ij = −P_ij / P_jj: the division broadcasts P's diagonal along each row.
    b.div_(b.diagonal().clone()).neg_()
    b.fill_diagonal_(0)
    b.numpy().tofile(a.out)
    # CPU seconds (every thread) beside the wall clock: on a shared machine the wall clock is the load's.
    print(
        f"ease_weights: {n} items, λ {a.lam:g}: Gram {gram_s:.1f} s, solve {time.perf_counter() - started - gram_s:.1f} s,"
        f" CPU {time.process_time():.1f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
