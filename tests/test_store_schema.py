"""The records table's schema version and the migration of run folders written by version 1.

``tests/fixtures/run_v1`` is a real run folder written by hierbench before the table had a
version (the SQL dump of its ``results.sqlite``, the host name replaced, and its spec): adaptive
search with a 0.3 GiB budget, so it holds ok records, resource-model skips and adaptive skips of
both kinds, their cause only in the reason text.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from harness.analysis import load_records, metric_curves, sample_complexity
from harness.analysis.core import cell_kind
from harness.experiment import load_spec
from harness.run import RunOptions, run_spec
from harness.store import (
    METRICS,
    SCHEMA_VERSION,
    Direction,
    Metric,
    On,
    Record,
    ResultStore,
    SchemaError,
    SkipKind,
    Status,
    results_frame,
)

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "run_v1"
#: the records table exactly as version 1 created it (CREATE TABLE IF NOT EXISTS, no version)
V1_CREATE = (
    "CREATE TABLE records (key TEXT PRIMARY KEY, task TEXT, task_label TEXT, task_params TEXT, "
    "d INTEGER, learner TEXT, label TEXT, learner_params TEXT, n INTEGER, seed INTEGER, "
    "status TEXT, family TEXT, reason TEXT, traceback TEXT, test_error REAL, train_error REAL, "
    "fit_wall_s REAL, fit_cpu_s REAL, predict_wall_s REAL, peak_mem_bytes INTEGER, "
    "n_test INTEGER, hierarchy_index REAL, top_share REAL, task_info TEXT, fit_info TEXT, "
    "threads INTEGER, versions TEXT, host TEXT, started_at TEXT, finished_at TEXT)")
V1_COLUMNS = V1_CREATE[V1_CREATE.index("(") + 1:-1].replace(" PRIMARY KEY", "")
V1_COLUMNS = [c.split()[0] for c in V1_COLUMNS.split(", ")]


def v1_folder(tmp_path: Path) -> Path:
    run = tmp_path / "old"
    run.mkdir()
    with closing(sqlite3.connect(run / "results.sqlite")) as con:
        con.executescript((FIXTURE / "results.sql").read_text())
    shutil.copy(FIXTURE / "spec.toml", run / "spec.toml")
    return run


def rows(run: Path, cols: list[str]) -> list[tuple]:
    with closing(sqlite3.connect(run / "results.sqlite")) as con:
        return con.execute(f"SELECT {', '.join(cols)} FROM records ORDER BY key").fetchall()


def user_version(run: Path) -> int:
    with closing(sqlite3.connect(run / "results.sqlite")) as con:
        return con.execute("PRAGMA user_version").fetchone()[0]


def test_fixture_is_a_version_1_table(tmp_path):
    run = v1_folder(tmp_path)
    with closing(sqlite3.connect(run / "results.sqlite")) as con:
        sql = con.execute("SELECT sql FROM sqlite_master WHERE name = 'records'").fetchone()[0]
    assert sql == V1_CREATE and user_version(run) == 0
    statuses = {r[0] for r in rows(run, ["status"])}
    assert statuses == {"ok", "skipped"}


def test_version_1_folder_resumes_without_rerunning(tmp_path):
    run = v1_folder(tmp_path)
    before = rows(run, V1_COLUMNS)
    frame_before = load_records(run)  # read-only: upgraded in memory, the file left as it is
    assert user_version(run) == 0
    summary = run_spec(load_spec(FIXTURE / "spec.toml"), run, RunOptions(progress=False))
    assert summary.total == len(before) == 48
    assert summary.already_done == 48 and sum(summary.counts.values()) == 0  # nothing re-run
    assert user_version(run) == SCHEMA_VERSION
    assert rows(run, V1_COLUMNS) == before  # every stored value unchanged
    kinds = {(label, n): k for label, n, k in rows(run, ["label", "n", "skip_kind"])}
    assert {k for (label, _), k in kinds.items() if label == "ridge"} == {None}
    assert {k for (label, n), k in kinds.items() if label == "krr" and n >= 256} == {
        SkipKind.EPS_REACHED}
    assert kinds[("mlp", 64)] == SkipKind.RESOURCE_MEMORY
    assert {k for (label, n), k in kinds.items() if label == "mlp" and n > 64} == {
        SkipKind.STOPPED_AFTER_SKIP}
    # the analysis of the migrated folder equals that of the version-1 folder read in memory
    after = load_records(run)
    assert list(cell_kind(after)) == list(cell_kind(frame_before))
    a, b = sample_complexity(frame_before, 0.2), sample_complexity(after, 0.2)
    assert a.drop(columns=["t_wall", "t_cpu"]).equals(b.drop(columns=["t_wall", "t_cpu"]))
    assert set(cell_kind(after)) == {"ok", "adaptive", "resource", "stopped"}
    # a second resume finds the current version and still runs nothing
    again = run_spec(load_spec(FIXTURE / "spec.toml"), run, RunOptions(progress=False))
    assert again.already_done == 48 and sum(again.counts.values()) == 0


def test_explicit_version_1_table_migrates_in_place(tmp_path):
    rec = Record(key="k1", task="t", task_label="t", task_params={}, d=4, learner="krr",
                 label="krr", learner_params={}, n=64, seed=0, status="skipped",
                 reason="resource model: predicted fit time 900 s > 3 x timeout 60 s")
    old = {c: v for c, v in rec.to_row().items() if c in V1_COLUMNS}
    with closing(sqlite3.connect(tmp_path / "results.sqlite")) as con:
        con.execute(V1_CREATE)
        con.execute(f"INSERT INTO records ({', '.join(old)}) VALUES "
                    f"({', '.join('?' * len(old))})", list(old.values()))
        con.commit()
    with ResultStore(tmp_path) as store:
        assert store.migrated_from == 1
        (back,) = store.records()
    assert back.skip_kind == SkipKind.RESOURCE_TIME and back.reason == rec.reason
    assert back.status == Status.SKIPPED and user_version(tmp_path) == SCHEMA_VERSION


def test_newer_schema_is_refused(tmp_path):
    with ResultStore(tmp_path):
        pass
    with closing(sqlite3.connect(tmp_path / "results.sqlite")) as con:
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaError, match="schema version"):
        ResultStore(tmp_path)


def test_a_new_metric_adds_its_column_to_an_existing_folder(tmp_path, monkeypatch):
    rec = Record(key="k", task="t", task_label="t", task_params={}, d=4, learner="krr",
                 label="krr", learner_params={}, n=64, seed=0, status="ok", test_error=0.5)
    with ResultStore(tmp_path) as store:
        store.write(rec)
    monkeypatch.setitem(METRICS, "twice_error", Metric(
        "twice_error", lambda p, t, task: 2.0, Direction.LOWER, On.TEST, "test only"))
    with ResultStore(tmp_path) as store:
        assert store.migrated_from == SCHEMA_VERSION
        (old,) = store.records()
        store.write(Record.from_row({**rec.to_row(), "key": "k2", "seed": 1,
                                     "twice_error": 1.0}))
    assert old.metrics["twice_error"] is None and old.test_error == 0.5
    df = results_frame(tmp_path).sort_values("key")
    assert list(df["twice_error"].isna()) == [True, False]
    curves = metric_curves(load_records(tmp_path))
    tw = curves[curves["metric"] == "twice_error"]
    assert len(tw) == 1 and tw.iloc[0]["median"] == 1.0 and tw.iloc[0]["n_values"] == 1


def test_rows_an_older_hierbench_adds_to_a_migrated_folder_get_their_kind(tmp_path):
    with ResultStore(tmp_path):
        pass  # a current-version folder
    rec = Record(key="old", task="t", task_label="t", task_params={}, d=4, learner="krr",
                 label="krr", learner_params={}, n=64, seed=0, status="skipped",
                 reason="adaptive: eps reached at n=16 and n=32")
    old = {c: v for c, v in rec.to_row().items() if c in V1_COLUMNS}  # what version 1 writes
    with closing(sqlite3.connect(tmp_path / "results.sqlite")) as con:
        con.execute(f"INSERT INTO records ({', '.join(old)}) VALUES "
                    f"({', '.join('?' * len(old))})", list(old.values()))
        con.commit()
    assert results_frame(tmp_path)["skip_kind"].tolist() == ["eps_reached"]  # read-only
    assert rows(tmp_path, ["skip_kind"]) == [(None,)]
    with ResultStore(tmp_path):
        pass
    assert rows(tmp_path, ["skip_kind"]) == [("eps_reached",)]
