"""Estimate a preset's compute from the learners' resource models, calibrated on a measured run.

For every job of the preset's plan (all grid points: an upper bound, since the adaptive search
stops each series one point past its first confirmed pass), the learner's resource model
predicts the fit seconds t_model(n, d) on one core, with every learner parameter given as "task"
(e.g. poly_features' ``degree = "task"``) resolved to the task's degree as the run's resource
admission does (:mod:`harness.experiment.task_values`).  A measured run folder calibrates it: per
learner, c = median over its ok records of (measured fit wall s) / t_model(n, d); the estimate is
sum_jobs c * t_model.  Wall time on W workers is that sum / W (jobs are independent; the last,
largest fits make it a lower bound on the wall time).  Jobs the run's resource admission would
skip (predicted memory over the budget's cap, or time over its slack x timeout) are counted
apart, not summed: the run skips them too.  A learner without a time model is reported
as such; one without records in the calibration run is priced by its bare model, printed apart
and left out of the sum.

    python scripts/estimate_cost.py full --calibrate runs/quick --workers 16
    python scripts/estimate_cost.py full --calibrate runs/quick runs/three-layer-cal --workers 16
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from harness.experiment import load_spec, plan
from harness.run.runner import JobResources, resource_admission


def model_seconds(resources: JobResources, name: str, params: dict, n: int, d: int):
    """The learner's predicted fit seconds on (n, d) (``params`` resolved), or None without a
    time model."""
    res = resources.of(name, params, n, d)
    return None if res is None or res.seconds is None else float(res.seconds)


def calibration(folders: str | list[str]) -> dict[str, float]:
    """Per learner, the median of (measured fit wall s) / t_model(n, d) over its ok records with
    n >= 256 in the run folders, pooled (e.g. quick, and a small run of a learner quick leaves
    out)."""
    folders = [folders] if isinstance(folders, str) else folders
    frames = []
    for folder in folders:
        if not (Path(folder) / "results.sqlite").is_file():
            raise SystemExit(f"--calibrate {folder}: no results.sqlite there (a run folder, as "
                             "`hierbench run quick --out runs/quick` writes, is needed)")
        con = sqlite3.connect(f"file:{folder}/results.sqlite?mode=ro", uri=True)
        frames.append(pd.read_sql("select task, task_params, learner, learner_params, n, d, "
                                  "fit_wall_s from records where status = 'ok' and n >= 256",
                                  con))
        con.close()
    df = pd.concat(frames, ignore_index=True)
    resources = JobResources()
    ratios = defaultdict(list)
    for row in df.itertuples():
        params = resources.values.resolve(row.learner, json.loads(row.learner_params), row.task,
                                          int(row.d), json.loads(row.task_params))
        t = model_seconds(resources, row.learner, params, int(row.n), int(row.d))
        if t and t > 0:
            ratios[row.learner].append(row.fit_wall_s / t)
    return {k: float(np.median(v)) for k, v in ratios.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("preset")
    ap.add_argument("--calibrate", required=True, nargs="+",
                    help="run folders with measured fit times (pooled per learner)")
    ap.add_argument("--workers", type=int, default=16)
    a = ap.parse_args()
    spec = load_spec(a.preset)
    cal = calibration(a.calibrate)
    resources = JobResources()  # shared with the admission: one cache of degrees and learners
    total = defaultdict(float)
    uncalibrated = defaultdict(float)  # a time model, but no records in the calibration run
    missing = set()
    jobs = 0
    admit = resource_admission(spec, resources)
    refused: dict[str, int] = defaultdict(int)
    for series in plan(spec):
        for job in series.jobs:
            jobs += 1
            if (refusal := admit(job)) is not None:  # the run skips it before fitting
                refused[f"{job.label} ({refusal.kind})"] += 1
                continue
            t = model_seconds(resources, job.learner, resources.values.for_job(job), job.n,
                              job.d)
            if t is None:
                missing.add(job.label)
                continue
            if job.learner not in cal:
                uncalibrated[job.label] += t
                continue
            total[job.label] += cal[job.learner] * t
    print(f"{a.preset}: {jobs} jobs (every grid point; adaptive runs fewer)")
    for label, s in sorted(total.items(), key=lambda kv: -kv[1]):
        print(f"  {label:24s} {s / 3600:9.1f} core-hours")
    s = sum(total.values())
    wall = s / a.workers / 3600
    print(f"  total {s / 3600:.1f} core-hours; on {a.workers} workers >= {wall:.1f} h")
    print("  calibration (measured / model):", {k: round(v, 2) for k, v in cal.items()})
    if refused:
        print("  skipped by the run's resource admission (not in the sum):",
              dict(sorted(refused.items())))
    span = f"{min(cal.values()):.2g}-{max(cal.values()):.2g}" if cal else "none"
    for label, t in sorted(uncalibrated.items()):
        print(f"  {label}: not in the calibration run; its bare model says {t / 3600:.1f} "
              f"core-hours (not in the sum; the calibrated learners' ratios: {span})")
    if missing:
        print("  not estimated (no time model):", sorted(missing))


if __name__ == "__main__":
    main()
