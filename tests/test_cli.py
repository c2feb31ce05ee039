"""The CLI end to end on the smoke preset: run, report, show, list, export."""

from __future__ import annotations

import json

import pandas as pd
from conftest import hierbench

from harness import results_frame
from harness.plan import all_jobs
from harness.spec import load_spec


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
