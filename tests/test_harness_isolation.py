"""Jobs that raise, exit, crash, hang, return NaN or eat memory are recorded; the run goes on."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import PLUGINS, hierbench, misbehaving_spec, write_spec

from harness import results_frame

SPEC = misbehaving_spec("isolation", 64, 10, '[[learners]]\nname = "huge"\n')


def test_misbehaving_learners_are_recorded(tmp_path):
    spec = write_spec(tmp_path / "isolation.toml", SPEC)
    run_dir = tmp_path / "run"
    proc = hierbench("run", str(spec), "--out", str(run_dir), "--plugin",
                     str(PLUGINS / "misbehaving.py"), "--workers", "2", "--no-report",
                     "--no-progress", check=False)
    # every job of six learners failed: one line each, exit status 3
    failed = sorted(ln.split("'")[1] for ln in proc.stderr.splitlines()
                    if ln.startswith("failed: learner '"))
    assert proc.returncode == 3 and failed == sorted(
        ["raises", "exits", "segfaults", "sleeps", "nans", "hungry"]), proc.stderr
    df = results_frame(run_dir)
    assert len(df) == 16 and df.key.is_unique  # 8 learners x 2 n, each exactly once
    by = {label: g for label, g in df.groupby("label")}
    assert set(by["ridge"].status) == {"ok"}
    # a linear model cannot learn h_2(u.x): its error is that of the mean predictor on the same
    # 200 test points (their mean square / Var(y*) = 1), within 10 %
    assert by["ridge"].test_error.to_numpy() == pytest.approx(mean_predictor_error(), rel=0.1)

    raises = by["raises"].iloc[0]
    assert raises.status == "failed" and "RuntimeError: boom from a plugin" in raises.reason
    assert "boom from a plugin" in raises.traceback

    assert set(by["exits"].status) == {"failed"}
    assert all("exited with code 1" in r for r in by["exits"].reason)
    assert all("SIGSEGV" in r for r in by["segfaults"].reason)

    assert set(by["sleeps"].status) == {"timeout"}
    assert all("timeout of 10 s" in r for r in by["sleeps"].reason)

    assert set(by["nans"].status) == {"failed"}
    assert all("NaN/inf" in r for r in by["nans"].reason)

    assert set(by["hungry"].status) == {"failed"}
    assert all("memory cap" in r for r in by["hungry"].reason)
    assert (by["hungry"].peak_mem_bytes > 2**30).all()

    assert set(by["huge"].status) == {"skipped"}
    assert set(by["huge"].family) == {"non-hierarchical"}  # skip records carry the family
    assert all(r.startswith("resource model: predicted peak memory") for r in by["huge"].reason)


def test_plugin_that_raises_at_import_is_one_line_error(tmp_path):
    bad = tmp_path / "bad_plugin.py"
    bad.write_text("raise ImportError('missing dependency xyz')\n")
    proc = hierbench("list", "--plugin", str(bad), check=False)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "missing dependency xyz" in lines[0] and "bad_plugin.py" in lines[0]


def mean_predictor_error() -> float:
    """Test error of predicting 0 (the exact mean) on the spec's test set: d = 4, seed 0, 200."""
    from harness.run import draw_test_set
    from tasks.multi_index import MultiIndexTask

    _, y = draw_test_set(MultiIndexTask(4, seed=0, p=2, r=1), 0, 200)
    return float(np.mean(y ** 2))
