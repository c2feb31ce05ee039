"""Wall time of a spec under the serial, local and dask executors, and the per-job overhead.

    python benchmarks/bench_executors.py                          # smoke + overhead, 3 executors
    python benchmarks/bench_executors.py --presets smoke quick    # also the quick preset (~45 min)
    python benchmarks/bench_executors.py --executors local dask --trivial-jobs 50 200

Each run is a fresh ``hierbench run SPEC --executor X --no-report --no-progress`` in its own
process and output folder, timed from the outside (so interpreter start, worker or cluster
start-up and the final store writes are included). For every run it prints

* wall [s]: the command's wall-clock time;
* jobs: records by status (ok / skipped / failed / timeout);
* busy [s]: sum over fitted jobs of (finished_at - started_at), the time a worker spent inside
  jobs (data draw, fit, predict); busy / (wall x workers) is the fraction of the workers' time
  spent on jobs;
* agreement: max |test_error - test_error under the first executor| over common keys.

The per-job scheduling overhead is measured on a spec of trivial jobs (the ``mean`` learner on
multi_index d = 4 with n = 64 and 200 test points, one job per seed) run with N1 and N2 jobs:

    wall(N) = start-up + N x (per-job wall cost),
    per-job wall cost = (wall(N2) - wall(N1)) / (N2 - N1),

and the overhead one worker pays per job is  per-job wall cost x workers - mean job duration
(the jobs themselves take about a millisecond). A figure, not a timed test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

TRIVIAL_SPEC = """\
name = "trivial-{jobs}"
description = "Per-job overhead: {jobs} jobs of the mean learner on a tiny task."
seeds = {jobs}
n_test = 200
eps = 0.1
adaptive = false

[n_grid]
n_min = 64
n_max = 64

[budget]
timeout_s = 60
memory_gb = 2

[[tasks]]
name = "multi_index"
d = [4]
params = {{ p = 2, r = 1 }}

[[learners]]
name = "mean"
"""


def run_once(spec: str, executor: str, out: Path, workers: int | None) -> float:
    """Run ``hierbench run`` once; return its wall-clock seconds (raises if it fails)."""
    cmd = [sys.executable, "-m", "harness.cli", "run", spec, "--out", str(out),
           "--executor", executor, "--no-report", "--no-progress"]
    if workers and executor != "serial":
        cmd += ["--workers", str(workers)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{spec} on {executor} failed ({proc.returncode}): "
                         f"{proc.stderr.strip().splitlines()[-1:]}")
    return wall


def summarise(out: Path) -> dict:
    """Record counts by status, busy seconds and the test errors of a finished run folder."""
    from harness.store import Status, results_frame

    df = results_frame(out)
    ok = df[df.status == Status.OK]
    span = (pd.to_datetime(ok.finished_at) - pd.to_datetime(ok.started_at)).dt.total_seconds()
    counts = df.status.value_counts().to_dict()
    return {"jobs": len(df), "counts": counts, "busy_s": float(span.sum()),
            "mean_job_s": float(span.mean()) if len(span) else float("nan"),
            "errors": ok.set_index("key").test_error}


def workers_of(executor: str, workers: int | None) -> int:
    if executor == "serial":
        return 1
    return workers or os.cpu_count() or 1


def bench_preset(spec: str, executors: list[str], root: Path, workers: int | None) -> None:
    print(f"\n== {spec}")
    print(f"{'executor':>9} {'wall s':>8} {'jobs':>6} {'ok/skip/fail/timeout':>22} "
          f"{'busy s':>8} {'busy/(wall x workers)':>22} {'max |d err|':>12}")
    first = None
    for ex in executors:
        out = root / f"{spec.replace('/', '_')}-{ex}"
        wall = run_once(spec, ex, out, workers)
        s = summarise(out)
        c = s["counts"]
        status = "/".join(str(c.get(k, 0)) for k in ("ok", "skipped", "failed", "timeout"))
        if first is None:
            first, diff = s["errors"], 0.0
        else:
            common = first.index.intersection(s["errors"].index)
            diff = float((first[common] - s["errors"][common]).abs().max()) if len(common) else 0
        frac = s["busy_s"] / (wall * workers_of(ex, workers))
        print(f"{ex:>9} {wall:8.1f} {s['jobs']:6d} {status:>22} {s['busy_s']:8.1f} "
              f"{frac:22.2f} {diff:12.2e}", flush=True)


def bench_overhead(executors: list[str], sizes: tuple[int, int], root: Path,
                   workers: int | None) -> None:
    n1, n2 = sizes
    print(f"\n== per-job overhead: trivial jobs, N = {n1} and {n2}")
    print(f"{'executor':>9} {'wall(N1) s':>11} {'wall(N2) s':>11} {'start-up s':>11} "
          f"{'wall/job ms':>12} {'job ms':>8} {'overhead/job/worker ms':>23}")
    for ex in executors:
        walls, job_s = [], 0.0
        for n in sizes:
            spec = root / f"trivial-{n}.toml"
            spec.write_text(TRIVIAL_SPEC.format(jobs=n))
            out = root / f"trivial-{n}-{ex}"
            walls.append(run_once(str(spec), ex, out, workers))
            job_s = summarise(out)["mean_job_s"]
        per_job = (walls[1] - walls[0]) / (n2 - n1)
        start = walls[0] - n1 * per_job
        overhead = per_job * workers_of(ex, workers) - job_s
        print(f"{ex:>9} {walls[0]:11.1f} {walls[1]:11.1f} {start:11.1f} {1e3 * per_job:12.1f} "
              f"{1e3 * job_s:8.1f} {1e3 * overhead:23.1f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--presets", nargs="*", default=["smoke"])
    ap.add_argument("--executors", nargs="+", default=["serial", "local", "dask"])
    ap.add_argument("--workers", type=int, default=None, help="local/dask workers [cores]")
    ap.add_argument("--trivial-jobs", nargs=2, type=int, default=[40, 160], metavar=("N1", "N2"))
    ap.add_argument("--no-overhead", action="store_true")
    ap.add_argument("--keep", type=Path, default=None, help="keep the run folders here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        print(f"cores {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
        for spec in args.presets:
            bench_preset(spec, args.executors, root, args.workers)
        if not args.no_overhead:
            bench_overhead(args.executors, tuple(args.trivial_jobs), root, args.workers)


if __name__ == "__main__":
    main()
