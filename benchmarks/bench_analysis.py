"""Time of the analysis on a synthetic run the size of the quick preset, and the coverage of the
exponent intervals on synthetic censored power laws.

    python benchmarks/bench_analysis.py                       # n_boot 1000, 50 replications
    python benchmarks/bench_analysis.py --n-boot 200 --reps 20

Prints (nothing is asserted):

* the wall time of ``analyse_run`` on 4 task configurations x 8 learners x d in {8, 12, 16, 24}
  x 3 seeds on the grid 64 .. 2048 (ratio 2), as in quick;
* for n* = 3 d^2.5 exp(sigma z) over d = 6 .. 32, grid 16 .. 4096 (ratio sqrt 2; the largest d
  censored) and several (seeds, sigma): the fraction of replications whose 95 % interval for
  beta contains 2.5, and the median interval width.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from harness.analysis import analyse_run, exponents
from reports.synthetic import (
    Law,
    SynthTask,
    censored_law_records,
    n_grid,
    records_frame,
    synthetic_run,
)


def quick_sized(n_boot: int) -> float:
    tasks = [SynthTask("bfc", {"L": L, "k": 4}, "L", 0.3, q_low=2 ** (L - 1), degree=2**L)
             for L in (2, 3)]
    tasks += [SynthTask("multi_index", {"p": p, "r": 2}, "p", 0.5) for p in (2, 4)]
    laws = [Law(f"kernel{i}", "non-hierarchical", "krr", coef=2.0, beta=lambda p: p,
                n_budget=lambda d: 2**11) for i in range(4)]
    laws += [Law(f"net{i}", "hierarchical", "mlp", coef=8.0, beta=1.5) for i in range(4)]
    with tempfile.TemporaryDirectory() as run:
        synthetic_run(run, tasks, laws, ds=[8, 12, 16, 24], seeds=[0, 1, 2],
                      grid=n_grid(64, 2048, 2.0))
        t0 = time.perf_counter()
        analyse_run(run, n_boot=n_boot)
        return time.perf_counter() - t0


def coverage(seeds: int, sigma: float, reps: int, n_boot: int) -> tuple[float, float]:
    hits, widths = 0, []
    for rep in range(reps):
        rng = np.random.default_rng(1000 + rep)
        df = records_frame(censored_law_records(2.5, [6, 8, 11, 16, 22, 32], seeds, rng,
                                                noise=sigma))
        e = exponents(df, 0.1, n_boot=n_boot, seed=rep).iloc[0]
        hits += bool(e["beta_lo"] <= 2.5 <= e["beta_hi"])
        widths.append(e["beta_hi"] - e["beta_lo"])
    return hits / reps, float(np.median(widths))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=50)
    args = ap.parse_args()
    print(f"analyse_run, quick-sized synthetic run, n_boot={args.n_boot}: "
          f"{quick_sized(args.n_boot):.1f} s")
    for seeds, sigma in ((3, 0.15), (4, 0.25), (5, 0.15), (3, 0.3)):
        cov, width = coverage(seeds, sigma, args.reps, min(args.n_boot, 200))
        print(f"coverage of the 95 % interval, {seeds} seeds, sigma {sigma}: {cov:.2f} "
              f"(median width {width:.2f}, {args.reps} replications)")


if __name__ == "__main__":
    main()
