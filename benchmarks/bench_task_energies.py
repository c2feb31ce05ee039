"""Energies by degree, q_low, E_top and build time of the teachers of the quick configurations.

Run from the repository root (single thread; timings depend on the machine's load):

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python benchmarks/bench_task_energies.py [--kurtosis]

Prints one Markdown row per (task, params, d, seed): the energy of y* at each Hermite degree,
q_low, E_top (and how it was obtained), the time to build the teacher (a fresh process-level
cache: the first build of each configuration), C(d + q_low + 1, q_low + 1) (the number of
polynomials a kernel needs to reach degree q_low + 1) and, with --kurtosis, the kurtosis of the
top residual and the recommended n_test = 100 (kappa - 1).
"""

from __future__ import annotations

import argparse
import math
import time

from tasks import make_task

CONFIGS = (
    [("bfc", {"k": 4, "gap": 0.7, "L": L}, d) for L in (2, 3) for d in (8, 12, 16, 24, 32)]
    + [("multi_index", {"r": 2, "low_share": 0.5, "p": p}, 16) for p in (2, 3, 4)]
    + [("hier_poly", {"k": 2, "degree": q}, d) for q in (4, 6) for d in (8, 16, 24, 32)]
    + [("staircase", {"D": D}, 16) for D in (2, 3, 4)]
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kurtosis", action="store_true")
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    print("| task | params | d | seed | energy by degree | q_low | E_top | method | build s | "
          "C(d+q+1,q+1) | kurtosis | n_test |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, params, d in CONFIGS:
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            task = make_task(name, d=d, seed=seed, **params)
            build = time.perf_counter() - t0
            info = task.info()
            energy = " ".join(f"{e:.4f}" for e in info["energy_by_degree"])
            q = task.q_low
            kurt, n_test = "", ""
            if args.kurtosis:
                try:
                    k = task.residual_kurtosis()
                    kurt, n_test = f"{k:.1f}", str(task.recommended_n_test(kurtosis=k))
                except NotImplementedError:
                    pass
            print(f"| {name} | {params} | {d} | {seed} | {energy} | {q} | "
                  f"{info['top_share']:.4f} | {info['energy_method']} | {build:.2f} | "
                  f"{math.comb(d + q + 1, q + 1)} | {kurt} | {n_test} |")


if __name__ == "__main__":
    main()
