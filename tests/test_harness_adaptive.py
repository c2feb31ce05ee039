"""Adaptive n-search: a series stops growing n once eps is reached at two consecutive grid points
(the lucky-dip rule); the rest is recorded skipped."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import PLUGINS, hierbench, write_spec

from harness import results_frame
from harness.experiment import Eps, Job, Series
from harness.run import Scheduler
from harness.run.job import base_record

SPEC = """
name = "adaptive"
seeds = [0, 1]
n_test = 300
eps = 0.01
adaptive = {adaptive}
[n_grid]
n_min = 4
n_max = 64
ratio = 2.0
[[tasks]]
name = "linear"
d = [8]
[[learners]]
name = "ridge"
params = {{ alphas = [1e-8] }}
[[learners]]
name = "mean"
"""


def _run(tmp_path, adaptive: bool):
    spec = write_spec(tmp_path / f"a{adaptive}.toml", SPEC.format(adaptive=str(adaptive).lower()))
    out = tmp_path / f"run{adaptive}"
    hierbench("run", str(spec), "--out", str(out), "--executor", "serial", "--no-report",
              "--no-progress", "--plugin", str(PLUGINS / "linear_task.py"))
    return results_frame(out)


def test_adaptive_stops_at_eps_and_records_the_skipped_points(tmp_path):
    df = _run(tmp_path, adaptive=True)
    assert len(df) == 2 * 2 * 5 and df.key.is_unique  # every grid point accounted for
    ridge = df[df.label == "ridge"].sort_values(["seed", "n"])
    for _, g in ridge.groupby("seed"):
        ran = g[g.status == "ok"]
        # ridge interpolates a noiseless linear target once n >= d + 1 (= 9): the first grid
        # point past that is n = 16; the pass is confirmed at n = 32, where it must stop
        assert list(ran.n) == [4, 8, 16, 32]
        assert ran.test_error.iloc[-1] <= 0.01 and ran.test_error.iloc[-2] <= 0.01
        assert ran.test_error.iloc[-3] > 0.01
        skipped = g[g.status == "skipped"]
        assert list(skipped.n) == [64]
        assert all(r == "adaptive: eps reached at n=16 and n=32" for r in skipped.reason)
    mean = df[df.label == "mean"]
    assert (mean.status == "ok").all()  # never reaches eps: the whole grid runs

    full = _run(tmp_path, adaptive=False)
    assert (full.status == "ok").all()
    # the points the adaptive run did compute equal the full run's
    merged = df[df.status == "ok"].merge(full, on="key", suffixes=("", "_full"))
    assert len(merged) == (df.status == "ok").sum()
    assert (merged.test_error - merged.test_error_full).abs().max() < 1e-12


def _series(ns):
    jobs = [Job(task="toy", task_label="toy", task_params={}, d=8, learner="mean", label="m",
                learner_params={}, n=n, seed=0, n_test=10) for n in ns]
    return Series(jobs)


def _drive(errors: list[float], eps: float = 0.1):
    """Run a scheduler over one series whose job at grid point i returns errors[i]."""
    series = _series([2**k for k in range(4, 4 + len(errors))])
    sch = Scheduler([series], {}, Eps(value=eps), adaptive=True)
    ran, skipped = [], []
    while not sch.finished():
        jobs, skips = sch.step()
        skipped += skips
        for job in jobs:
            err = errors[series.jobs.index(job)]
            ran.append(job.n)
            sch.complete(job, replace(base_record(job, "ok"), test_error=err))
    return ran, skipped


@pytest.mark.parametrize("errors, ran, reason", [
    # a lucky dip at 32 (0.05, then 0.2 at 64) does not stop the search; 256 and 512 confirm
    ([0.5, 0.05, 0.2, 0.3, 0.08, 0.06, 0.05, 0.04], [16, 32, 64, 128, 256, 512],
     "adaptive: eps reached at n=256 and n=512"),
    # a pass at the top of the grid is the last job: nothing left to confirm or skip
    ([0.5, 0.4, 0.3, 0.05], [16, 32, 64, 128], None),
    # never reached: the whole grid runs
    ([0.5, 0.4, 0.3, 0.2], [16, 32, 64, 128], None),
])
def test_scheduler_runs_one_point_past_the_first_pass(errors, ran, reason):
    got, skipped = _drive(errors)
    assert got == ran
    assert len(got) + len(skipped) == len(errors)  # every grid point accounted for
    assert {s.reason for s in skipped} == ({reason} if reason else set())
