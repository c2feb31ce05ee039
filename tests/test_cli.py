"""The CLI end to end on the smoke preset: run, report, show, list, export."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import hierbench

from harness import results_frame
from harness.experiment import all_jobs, load_spec


def test_smoke_run_completes_every_job(smoke_run):
    df = results_frame(smoke_run)
    spec = load_spec("smoke")
    assert set(df.key) == {j.key for j in all_jobs(spec)}
    assert (df.status == "ok").all(), df[df.status != "ok"][["label", "reason"]]
    # the learners learn something: KRR and the MLP beat the mean predictor at the largest n
    big = df[df.n == df.n.max()].groupby(["label", "d"]).test_error.median()
    assert (big.loc["krr"] < 0.9).all() and (big.loc["mlp"] < 1.0).all()
    assert (smoke_run / "spec.toml").is_file() and (smoke_run / "spec.json").is_file()
    prov = json.loads((smoke_run / "provenance.json").read_text())
    assert prov["finished_at"] >= prov["started_at"] and prov["versions"]["numpy"]


def test_smoke_report_files(smoke_run):
    report = smoke_run / "report"
    for name in ("report.md", "report.html"):
        assert (report / name).stat().st_size > 500
    assert list((report / "figures").glob("*.png")) and list((report / "figures").glob("*.svg"))


def test_rerun_of_a_finished_run_runs_nothing(smoke_run):
    before = results_frame(smoke_run).set_index("key").started_at
    proc = hierbench("run", "smoke", "--out", str(smoke_run), "--no-report", "--no-progress")
    after = results_frame(smoke_run).set_index("key").started_at
    assert after.equals(before)
    assert "krr" in proc.stderr  # the summary table
    # its last column: the largest krr job's peak memory from the records, in GiB
    row = next(ln for ln in proc.stderr.splitlines() if "│ krr " in ln)
    df = results_frame(smoke_run)
    largest = df.loc[df.label == "krr", "peak_mem_bytes"].max() / 2**30
    assert float(row.split("│")[-2]) == pytest.approx(largest, abs=0.006)


def test_show_list_export(smoke_run, tmp_path):
    shown = hierbench("show", str(smoke_run))
    assert "krr" in shown.stdout
    listed = json.loads(hierbench("list", "--json").stdout)
    assert {"multi_index", "bfc"} <= set(listed["tasks"])
    assert {"krr", "mlp", "ridge"} <= set(listed["learners"])
    assert "smoke" in listed["presets"]
    csv = tmp_path / "r.csv"
    hierbench("export", str(smoke_run), "--format", "csv", "-o", str(csv))
    table = pd.read_csv(csv)
    assert len(table) == len(results_frame(smoke_run))
    pq = hierbench("export", str(smoke_run), "--format", "parquet").stdout.strip()
    assert len(pd.read_parquet(pq)) == len(table)
    bad = hierbench("export", str(smoke_run), "--format", "xlsx", check=False)
    assert bad.returncode == 2 and "csv or parquet" in bad.stderr


def test_commands_on_a_missing_run_folder_fail_cleanly(tmp_path):
    proc = hierbench("report", str(tmp_path / "nope"), check=False)
    assert proc.returncode == 2 and "not a run folder" in proc.stderr


# --- spec-time validation and failure exit status (plugins: tests/plugins/constrained.py) ---

FAILING = """
name = "failing"
seeds = 1
n_test = 200
[n_grid]
n_min = 32
n_max = 64
ratio = 2.0
[execution]
executor = "serial"
[[tasks]]
name = "checked_linear"
d = [4, 8]
[[learners]]
name = "constrained"
label = "boom"
params = {{ mode = "{mode}" }}
[[learners]]
name = "mean"
[[learners]]
name = "sklearn.linear_model.Ridge"
label = "sk-ridge"
params = {{ alpha = {alpha} }}
"""


def _failing_spec(tmp_path, mode="explode", alpha=1.0, name="f"):
    from conftest import write_spec

    return write_spec(tmp_path / f"{name}.toml", FAILING.format(mode=mode, alpha=alpha))


def test_learner_whose_every_job_fails_exits_3_with_one_line_per_learner(tmp_path):
    from conftest import PLUGINS

    run_dir = tmp_path / "run"
    proc = hierbench("run", str(_failing_spec(tmp_path)), "--out", str(run_dir),
                     "--no-progress", "--plugin", str(PLUGINS / "constrained.py"), check=False)
    assert proc.returncode == 3, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("failed:")]
    assert lines == ["failed: learner 'boom': all 4 jobs failed or timed out; first: "
                     "RuntimeError: the explode mode always fails"]
    df = results_frame(run_dir)
    assert set(df.loc[df.label == "boom", "status"]) == {"failed"}
    assert (df.loc[df.label != "boom", "status"] == "ok").all()
    assert (run_dir / "report" / "report.html").is_file()  # the report is still built


def test_validate_and_run_reject_a_bad_value_before_any_job(tmp_path):
    from conftest import PLUGINS

    plugin = ("--plugin", str(PLUGINS / "constrained.py"))
    ok = hierbench("validate", str(_failing_spec(tmp_path, mode="fit")), *plugin)
    assert "valid" in ok.stdout
    for spec, message in (
            (_failing_spec(tmp_path, mode="fit", alpha=-1, name="alpha"),
             "learner 'sk-ridge': params.alpha = -1 is not allowed; allowed: a float in the "
             "range [0.0, inf)"),
            (_failing_spec(tmp_path, mode="explodes", name="mode"),
             "learner 'boom': params.mode = 'explodes' is not allowed; allowed: 'explode', "
             "'fit'")):
        run = ("run", str(spec), "--out", str(tmp_path / "r"))
        for cmd in (("validate", str(spec)), run) if "alpha" in spec.name else (run,):
            proc = hierbench(*cmd, *plugin, check=False)
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
            assert proc.returncode == 2 and len(lines) == 1, proc.stderr
            assert lines[0].startswith(f"error: {spec.name}: learners.") and message in lines[0]
            assert not (tmp_path / "r").exists()  # nothing ran


def test_validate_counts_the_jobs_predicted_over_budget(tmp_path):
    """poly_features(degree = "task") at p = 4, d = 24: n = 8192 needs more than its own
    3.5 GiB cap (the spec allows 16), n = 4096 does not; validate says so before any run."""
    from conftest import write_spec

    spec = write_spec(tmp_path / "over.toml", """
name = "over"
seeds = 2
[n_grid]
n_min = 4096
n_max = 8192
ratio = 2.0
[budget]
memory_gb = 16
[[tasks]]
name = "multi_index"
d = [24]
params = { p = 4, r = 2 }
[[learners]]
name = "poly_features"
params = { degree = "task" }
[[learners]]
name = "ridge"
""")
    text = " ".join(hierbench("validate", str(spec)).stdout.split())  # rich may wrap
    assert text == ("over: valid; 4 series, 8 jobs; 2 predicted over budget, skipped if the "
                    "n-search reaches them: poly_features 2 (resource_memory)")
