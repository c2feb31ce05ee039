"""Adaptive n-search: a series stops growing n once eps is reached; the rest is recorded skipped."""

from __future__ import annotations

from conftest import PLUGINS, hierbench, write_spec

from harness import results_frame

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
        # point past that is n = 16, where it must stop
        assert list(ran.n) == [4, 8, 16]
        assert ran.test_error.iloc[-1] <= 0.01 < ran.test_error.iloc[-2]
        skipped = g[g.status == "skipped"]
        assert list(skipped.n) == [32, 64]
        assert all(r == "adaptive: eps reached at n=16" for r in skipped.reason)
    mean = df[df.label == "mean"]
    assert (mean.status == "ok").all()  # never reaches eps: the whole grid runs

    full = _run(tmp_path, adaptive=False)
    assert (full.status == "ok").all()
    # the points the adaptive run did compute equal the full run's
    merged = df[df.status == "ok"].merge(full, on="key", suffixes=("", "_full"))
    assert len(merged) == (df.status == "ok").sum()
    assert (merged.test_error - merged.test_error_full).abs().max() < 1e-12
