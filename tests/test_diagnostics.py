"""Tests of the backward-feature-correction diagnostic: config, variants, freezing, probes at the
stage switches, crash-safe resume, the CLI command and the computed report."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import PLUGINS, ROOT
from typer.testing import CliRunner

from harness.cli import app
from harness.diagnostics import load_fits, run_diagnostics
from harness.diagnostics.bfc import (
    DiagnosticsError,
    FitSpec,
    active_stage,
    block_vectors,
    build_task,
    load_config,
    make_variant_learner,
    parse_config,
    plan_fits,
    run_fit,
)
from harness.run import draw_training_set
from reports.diagnostics import analyse, t_interval, verdict

TINY = """
name = "tiny"
seeds = 2
n = 300
n_test = 200
n_probe = 200
[task]
d = 5
params = { L = 3, k = 2 }
[learner]
width = 8
max_steps = 90
patience_epochs = 10000
lr_grid = [1e-2]
device = "cpu"
[probe]
every = 20
[execution]
threads = 1
"""


pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest


def hierbench(*args: str, check: bool = True):
    """The CLI in this process; ``stdout`` / ``stderr`` / ``returncode`` like a subprocess."""
    res = CliRunner().invoke(app, list(args))
    res.returncode = res.exit_code
    if check and res.exit_code != 0:
        raise AssertionError(f"hierbench {' '.join(args)} failed ({res.exit_code}):\n"
                             f"{res.stdout}\n{res.stderr}\n{res.exception!r}")
    return res


def _tiny(**over):
    import tomllib

    data = tomllib.loads(TINY)
    for key, value in over.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return parse_config(data, source="tiny")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """`hierbench diagnose` of the tiny config with two worker processes."""
    folder = tmp_path_factory.mktemp("diag")
    cfg_path = folder / "tiny.toml"
    cfg_path.write_text(TINY)
    run_dir = folder / "run"
    proc = hierbench("diagnose", str(cfg_path), "--out", str(run_dir), "--workers", "2",
                     "--no-progress")
    return run_dir, cfg_path, proc


# -- config and plan ---------------------------------------------------------------------------
def test_config_errors_are_one_line():
    with pytest.raises(DiagnosticsError, match=r"tiny: bogus: unknown key"):
        _tiny(bogus=1)
    with pytest.raises(DiagnosticsError, match=r"learner.backward_depth: set by the experiment"):
        _tiny(learner={"backward_depth": 1})
    with pytest.raises(DiagnosticsError, match=r"task \(bfc\): task 'bfc': parameter 'L' = 1"):
        _tiny(task={"params": {"L": 1}})
    with pytest.raises(DiagnosticsError, match=r"learner \(end_to_end\).*nope"):
        _tiny(learner={"nope": 3})
    with pytest.raises(DiagnosticsError, match="nothing to fit"):
        _tiny(variants={"end_to_end": False, "layerwise": False, "backward_depths": []})
    with pytest.raises(DiagnosticsError, match="unknown diagnostics preset 'nope'"):
        load_config("nope")
    cfg, text = load_config("bfc-diagnostics")
    assert cfg.task.name == "bfc" and len(cfg.seeds) >= 3 and "bfc-diagnostics" in text


def test_plan_merges_equivalent_schedules():
    cfg = _tiny()
    assert [(f.variant, f.backward_depth, f.m_values) for f in plan_fits(cfg, 3)] == [
        ("end_to_end", None, (2,)), ("layerwise", 0, (0,)), ("m=1", 1, (1,))]
    assert [f.variant for f in plan_fits(_tiny(variants={"alias": False}), 3)] == [
        "end_to_end", "layerwise", "m=0", "m=1", "m=2"]
    no_lw = plan_fits(_tiny(variants={"layerwise": False, "backward_depths": [0, 4]}), 3)
    assert [(f.variant, f.m_values) for f in no_lw] == [("end_to_end", (4,)), ("m=0", (0,))]


def test_digest_ignores_budget_and_execution_and_is_that_of_earlier_folders():
    """Folders written before ``[budget]`` and ``execution.executor`` existed resume: the digest
    of the tiny config and of the preset are the values those folders hold."""
    cfg = _tiny()
    assert cfg.digest() == "5b57701384cf1296"
    assert load_config("bfc-diagnostics")[0].digest() == "a9dd2b1c36c92900"
    other = _tiny(budget={"timeout_s": 5, "memory_gb": 1},
                  execution={"executor": "dask", "workers": 3, "scheduler": "tcp://x:1"})
    assert other.digest() == cfg.digest() and _tiny(n=301).digest() != cfg.digest()
    with pytest.raises(DiagnosticsError, match=r"tiny: execution.executor: Input should be"):
        _tiny(execution={"executor": "threads"})
    with pytest.raises(DiagnosticsError, match=r"tiny: budget.timeout_s: Input should be greater"):
        _tiny(budget={"timeout_s": 0})


def test_configs_and_specs_are_read_by_one_toml_reader(tmp_path):
    """A TOML syntax error is the same one line for a diagnostics config and a spec."""
    from harness.experiment import SpecError, load_spec

    bad = tmp_path / "bad.toml"
    bad.write_text("name = \"x\"\nseeds = [1,\n")
    with pytest.raises(DiagnosticsError) as diag:
        load_config(bad)
    with pytest.raises(SpecError) as spec:
        load_spec(bad)
    assert str(diag.value) == str(spec.value) and str(diag.value).startswith(
        "bad.toml: invalid TOML: ")
    assert "\n" not in str(diag.value)
    with pytest.raises(DiagnosticsError, match=r"^config file not found: .*none\.toml$"):
        load_config(tmp_path / "none.toml")


def _fit(cfg, fit, seed=0, callback=None):
    task = build_task(cfg, seed)
    X, y = draw_training_set(task, seed, cfg.n)
    return make_variant_learner(cfg, fit, task, seed, callback=callback).fit(X, y), X


def test_merged_schedules_are_identical_fits():
    """m = 0 is the layerwise learner and m = L - 1 end-to-end: the same predictions."""
    cfg = _tiny()
    pairs = [(FitSpec("layerwise", "layerwise", 0), FitSpec("m=0", "bfc_net", 0)),
             (FitSpec("end_to_end", "bfc_net", None), FitSpec("m=2", "bfc_net", 2))]
    for a, b in pairs:
        (ea, X), (eb, _) = _fit(cfg, a), _fit(cfg, b)
        np.testing.assert_array_equal(ea.predict(X), eb.predict(X))
    (e1, X), (lw, _) = _fit(cfg, FitSpec("m=1", "bfc_net", 1)), _fit(cfg, pairs[0][0])
    assert not np.array_equal(e1.predict(X), lw.predict(X))


@pytest.mark.parametrize("m", [0, 1, None])
def test_backward_depth_variants_freeze_exactly_the_blocks_below_reach(m):
    """Block b is frozen (bitwise) from stage b + m + 1 on and trains while it is reachable."""
    snaps = []

    def record(step, est):
        snaps.append((active_stage(est.model_), block_vectors(est.model_)))

    variant = {None: "end_to_end", 0: "layerwise"}.get(m, f"m={m}")
    est, _ = _fit(_tiny(), FitSpec(variant, "layerwise" if m == 0 else "bfc_net", m),
                  callback=record)
    final = block_vectors(est.model_)
    assert [s for s, _ in snaps] == sorted(s for s, _ in snaps) and snaps[-1][0] == 3
    for b in (1, 2, 3):
        frozen_from = 4 if m is None else b + m + 1
        frozen = [v[b - 1] for s, v in snaps if s >= frozen_from]
        training = [v[b - 1] for s, v in snaps if b <= s < frozen_from]
        assert all(np.array_equal(w, final[b - 1]) for w in frozen)
        assert len(training) > 1 and not np.array_equal(training[0], training[-1])


def test_run_fit_probes_the_exact_switch_and_records_checks():
    cfg = _tiny()
    rows = {f.variant: run_fit(cfg.model_dump(), f.__dict__, 0, 1) for f in plan_fits(cfg, 3)}
    assert all(r["status"] == "ok" for r in rows.values()), rows
    e2e, lw, m1 = rows["end_to_end"], rows["layerwise"], rows["m=1"]
    events = [(c["event"], c["stage"]) for c in e2e["checkpoints"] if c["event"] != "periodic"]
    assert events == [("stage_start", 1), ("stage_start", 2), ("stage_start", 3), ("final", 3)]
    assert e2e["stage_starts"] == {"1": 1, "2": 30, "3": 60}
    assert len(e2e["checkpoints"]) == 4 + 90 // 20
    assert np.array(e2e["checkpoints"][0]["r2"]).shape == (3, 3)

    def at_switch(row, s):
        return next(c["r2"] for c in row["checkpoints"] if c["event"] == "stage_start"
                    and c["stage"] == s)

    # stage 1 is the same training in every variant: identical nets when block 2 switches on
    assert at_switch(e2e, 2) == at_switch(lw, 2) == at_switch(m1, 2)
    assert lw["checkpoints"][-1]["r2"][0] == at_switch(lw, 2)[0]  # frozen block 1: same R^2
    assert lw["frozen_max_change"] == 0.0 and lw["drift"] == [0.0, 0.0]
    assert m1["frozen_max_change"] == 0.0 and m1["drift"][0] > 0
    assert e2e["frozen_max_change"] is None and min(e2e["drift"]) > 0
    assert 0 < e2e["test_error"] < 1.5 and e2e["fit_info"]["stages"][0]["active"] == 1


# -- run folder: crash safety, resume, other config, failures ----------------------------------
def test_killed_run_keeps_finished_fits_and_resumes(tmp_path):
    cfg = _tiny()
    run_dir = tmp_path / "run"
    code = ("import sys; from harness.diagnostics.bfc import parse_config; import tomllib; "
            "from harness.diagnostics.runner import run_diagnostics; "
            "run_diagnostics(parse_config(tomllib.loads(sys.stdin.read())), sys.argv[1])")
    proc = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], stdin=subprocess.PIPE,
                            cwd=ROOT, env=dict(os.environ), text=True)
    proc.stdin.write(TINY)
    proc.stdin.close()
    db, deadline = run_dir / "diagnostics.sqlite", time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if db.is_file() and _count(db) >= 1:
            break
        time.sleep(0.05)
    proc.kill()  # SIGKILL: no clean-up of any kind
    proc.wait()
    kept = {r["key"]: r["finished_at"] for r in load_fits(run_dir)}
    assert 1 <= len(kept) <= 6
    summary = run_diagnostics(cfg, run_dir)
    assert summary.already_done == len(kept) and sum(summary.counts.values()) == 6 - len(kept)
    after = {r["key"]: r["finished_at"] for r in load_fits(run_dir)}
    assert len(after) == 6 and all(after[k] == v for k, v in kept.items())
    with pytest.raises(DiagnosticsError, match="another config"):
        run_diagnostics(_tiny(n=301), run_dir)


def _count(db) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT COUNT(*) FROM fits").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_failed_fits_are_stored_reported_and_retried(tmp_path):
    cfg = _tiny(seeds=[0], learner={"dtype": "float16"}, variants={"backward_depths": [0]})
    summary = run_diagnostics(cfg, tmp_path)
    rows = load_fits(tmp_path)
    assert summary.counts == {"failed": 2} and all("'dtype'" in r["reason"] for r in rows)
    assert run_diagnostics(cfg, tmp_path).counts == {}
    assert run_diagnostics(cfg, tmp_path, retry_failed=True).counts == {"failed": 2}
    from reports.diagnostics import statement

    text = " ".join(statement(analyse(tmp_path)))
    assert "cannot be answered" in text and "2 fit(s) failed" in text


def _is_pool_worker(proc) -> bool:
    import psutil

    try:
        return "spawn_main" in " ".join(proc.cmdline())
    except psutil.Error:  # exited meanwhile
        return False

def test_a_dead_worker_is_recorded_failed_and_the_run_goes_on(tmp_path):
    """SIGKILL one of the local executor's worker processes once a fit is stored: its fit is
    stored as failed with a one-line reason, the stored fits are unchanged, the other fits are
    run, and rerunning with retry_failed completes the plan."""
    import signal
    import threading

    import psutil

    cfg, run_dir, out = _tiny(seeds=[0, 1, 2]), tmp_path / "run", {}

    def run():
        try:
            out["summary"] = run_diagnostics(cfg, run_dir, workers=2, threads=1)
        except Exception as exc:  # noqa: BLE001 - what the run raised is the result
            out["error"] = exc

    me = psutil.Process()
    older = {c.pid for c in me.children()}  # processes other tests may have left
    thread = threading.Thread(target=run)
    thread.start()
    stored, deadline = [], time.monotonic() + 300
    while not stored and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
        try:
            stored = load_fits(run_dir)
        except (sqlite3.Error, OSError):
            pass
    workers = [c for c in me.children() if c.pid not in older and _is_pool_worker(c)]
    assert stored and workers, "no fit was stored while the pool ran"
    workers[0].send_signal(signal.SIGKILL)
    thread.join(300)
    assert "error" not in out, out
    total = len(plan_fits(cfg, 3)) * len(cfg.seeds)
    assert out["summary"].counts == {"ok": total - 1, "failed": 1}
    after = {r["key"]: r for r in load_fits(run_dir)}
    assert len(after) == total
    dead = [r for r in after.values() if r["status"] == "failed"]
    assert len(dead) == 1 and "worker process died: killed by signal SIGKILL" in dead[0]["reason"]
    assert "\n" not in dead[0]["reason"]
    for r in stored:
        assert after[r["key"]]["test_error"] == r["test_error"]
    summary = run_diagnostics(cfg, run_dir, workers=1, threads=1, retry_failed=True)
    assert summary.already_done == total - 1 and summary.counts == {"ok": 1}
    assert sorted(r["status"] for r in load_fits(run_dir)) == ["ok"] * total


def test_a_fit_that_raises_or_exceeds_its_timeout_is_recorded_and_the_run_goes_on(tmp_path):
    """Through the local executor (task: tests/plugins/misbehaving_task.py): seed 1's fit passes
    the per-fit timeout (killed, stored as timeout), seed 2's raises (stored as failed), seeds 0
    and 3 are fitted as in-process."""
    from registry import load_plugin_file

    load_plugin_file(PLUGINS / "misbehaving_task.py")  # workers load it too (plugin_paths())
    cfg = _tiny(seeds=[0, 1, 2, 3], task={"name": "bfc_misbehaves"},
                variants={"layerwise": False, "backward_depths": []},
                budget={"timeout_s": 12}, execution={"executor": "local", "workers": 2})
    summary = run_diagnostics(cfg, tmp_path / "run")
    assert summary.counts == {"ok": 2, "timeout": 1, "failed": 1}
    rows = {r["seed"]: r for r in load_fits(tmp_path / "run")}
    assert rows[1]["status"] == "timeout" and rows[1]["test_error"] is None
    assert "exceeded the per-job timeout of 12 s; worker killed" in rows[1]["reason"]
    assert rows[1]["fit_wall_s"] > 12 and rows[1]["variant"] == "end_to_end"
    assert rows[2]["status"] == "failed"
    assert rows[2]["reason"] == "RuntimeError: boom from a diagnostics plugin"
    for seed in (0, 3):
        again = run_fit(cfg.model_dump(), plan_fits(cfg, 3)[0].__dict__, seed, 1)
        assert rows[seed]["status"] == "ok"
        assert rows[seed]["checkpoints"] == again["checkpoints"]
    resumed = run_diagnostics(cfg, tmp_path / "run", executor="serial")
    assert resumed.already_done == 4 and resumed.counts == {}


def test_fits_run_on_dask_as_in_process(tmp_path):
    """``--executor dask`` (a LocalCluster): the fit is the in-process fit, run on a Dask worker."""
    path = tmp_path / "one.toml"
    path.write_text(TINY.replace("seeds = 2", "seeds = [1]")
                    + "[variants]\nlayerwise = false\nbackward_depths = []\n")
    cfg, _ = load_config(path)
    res = hierbench("diagnose", str(path), "--out", str(tmp_path / "run"), "--executor", "dask",
                    "--workers", "1", "--no-progress")
    assert "1 ok" in res.stderr
    (row,) = load_fits(tmp_path / "run")
    again = run_fit(cfg.model_dump(), plan_fits(cfg, 3)[0].__dict__, 1, 1)
    assert row["status"] == "ok" and row["checkpoints"] == again["checkpoints"]
    assert row["test_error"] == again["test_error"]
    assert str(row["fit_info"]["dask_worker"]).startswith("tcp://127.0.0.1:")
    prov = json.loads((tmp_path / "run" / "provenance.json").read_text())
    assert prov["executor"] == "dask" and prov["workers"] == 1


# -- statistics and the report -----------------------------------------------------------------
def test_t_interval_and_verdict_rule():
    m, lo, hi, n = t_interval([1.0, 2.0, 3.0])
    assert (m, n) == (2.0, 3) and hi - m == pytest.approx(4.302653 / np.sqrt(3), rel=1e-5)
    assert np.isnan(t_interval([0.5])[1]) and t_interval([None, np.nan])[3] == 0
    assert verdict([0.1, 0.2, 0.15], 0.05, 0.25) == "improved"
    assert verdict([-0.1, -0.2], -0.3, -0.01) == "got worse"
    assert verdict([-0.1, 0.2], -1.0, 1.0) == "no clear change"
    assert verdict([0.0, 0.0, 0.0], 0.0, 0.0) == "unchanged"
    assert verdict([0.3], np.nan, np.nan) == "no interval (one seed)"


def test_diagnose_cli_report_states_the_measured_change(tiny_run):
    run_dir, cfg_path, proc = tiny_run
    html, md = run_dir / "report" / "diagnostics.html", run_dir / "report" / "diagnostics.md"
    assert f"report: {html}" in proc.stdout.replace("\n", "")
    assert "6 ok" in proc.stderr
    text, page = md.read_text(), html.read_text()
    a = analyse(run_dir)
    row = a.correction[(a.correction["variant"] == "end_to_end") & (a.correction["block"] == 1)
                       & (a.correction["level"] == 1)].iloc[0]
    assert f"Delta = {row['delta']:+.3f}, 95 % t-interval [{row['ci_lo']:+.3f}, " in text
    assert f"(per seed {row['per seed']}): {row['verdict']}" in text
    assert "exactly 0 for every seed, as it must be (check passed)" in text
    assert "largest parameter change of a frozen block = 0 (passed)" in text
    assert page.count("data:image/png;base64,") == 3 and "src=\"figures/" not in page
    lw = a.per_seed[a.per_seed["variant"] == "layerwise"]
    assert len(lw) == 2 * 2 * 3 and (lw["delta"] == 0).all()
    assert sorted(a.depth["m"]) == [0, 1, 2] and list(a.depth["seeds"]) == [2, 2, 2]


def test_pool_fits_equal_in_process_fits(tiny_run):
    run_dir = tiny_run[0]
    cfg = _tiny()
    stored = {r["key"]: r for r in load_fits(run_dir)}
    fit = plan_fits(cfg, 3)[2]
    again = run_fit(cfg.model_dump(), fit.__dict__, 1, 1)
    assert again["checkpoints"] == stored["m=1/seed=1"]["checkpoints"]
    assert again["test_error"] == stored["m=1/seed=1"]["test_error"]


def test_diagnose_cli_resume_report_only_and_errors(tiny_run, tmp_path):
    run_dir, cfg_path, _ = tiny_run
    again = hierbench("diagnose", str(cfg_path), "--out", str(run_dir), "--no-progress")
    assert "6 already stored, this session: none" in again.stderr
    only = hierbench("diagnose", "--report-only", str(cfg_path), "--out", str(run_dir))
    assert "diagnostics.md" in only.stdout
    other = tmp_path / "other.toml"
    other.write_text(TINY.replace("n = 300", "n = 310"))
    bad = hierbench("diagnose", str(other), "--out", str(run_dir), check=False)
    assert bad.returncode == 2 and "another config" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    both = hierbench("diagnose", str(cfg_path), "--preset", "bfc-diagnostics", check=False)
    assert both.returncode == 2 and "not both" in both.stderr
    empty = hierbench("diagnose", "--report-only", "--out", str(tmp_path / "none"), check=False)
    assert empty.returncode == 2 and "not a diagnostics folder" in empty.stderr
