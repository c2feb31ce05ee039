"""The metric registry: its entries, what a job stores, the analysis's metric table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.analysis import learning_curves, load_records, metric_curves
from harness.experiment import Job
from harness.run import draw_test_set, draw_training_set, run_job
from harness.store import (
    METRICS,
    Direction,
    On,
    Record,
    ResultStore,
    Targets,
    evaluate,
    normalised_mse,
    register,
)
from learners import make_learner
from reports.synthetic import Law, SynthTask, n_grid, synthetic_run
from tasks import make_task


def test_first_entries_are_test_and_train_error():
    assert list(METRICS)[:2] == ["test_error", "train_error"]
    assert METRICS["test_error"].on is On.TEST and METRICS["train_error"].on is On.TRAIN
    assert all(METRICS[m].direction is Direction.LOWER for m in ("test_error", "train_error"))
    with pytest.raises(ValueError, match="already registered"):
        register("test_error")(lambda p, t, task: 0.0)
    with pytest.raises(ValueError, match="identifier"):
        register("top error")


def test_job_stores_every_metric_as_the_registry_computes_it():
    job = Job(task="multi_index", task_label="mi", task_params={"p": 2, "r": 2}, d=6,
              learner="krr", label="krr", learner_params={}, n=200, seed=3, n_test=400)
    rec = run_job(job)
    task = make_task("multi_index", d=6, seed=3, p=2, r=2)
    Xt, yt = draw_test_set(task, 3, 400)
    X, y = draw_training_set(task, 3, 200)
    est = make_learner("krr", random_state=3).fit(X, y)
    assert rec.test_error == normalised_mse(est.predict(Xt), yt, 1.0)
    assert rec.train_error == normalised_mse(est.predict(X), y, 1.0)
    values = evaluate(task, {On.TEST: (est.predict(Xt), Targets(Xt, yt)),
                             On.TRAIN: (est.predict(X), Targets(X, y))})
    assert set(values) == set(METRICS)
    assert all(rec.metric(m) == v for m, v in values.items())


def test_non_finite_predictions_give_no_value():
    task = make_task("multi_index", d=4, seed=0, p=2, r=1)
    X, y = draw_test_set(task, 0, 50)
    bad = np.full(50, np.nan)
    values = evaluate(task, {On.TEST: (y, Targets(X, y)), On.TRAIN: (bad, Targets(X, y))})
    assert values["test_error"] == 0.0 and values["train_error"] is None


def test_metric_curves_summarise_every_metric(tmp_path):
    synthetic_run(tmp_path, [SynthTask("toy", {}, None)], [Law("krr", coef=3.0, beta=2.0)],
                  ds=[8, 16], seeds=[0, 1, 2], grid=n_grid(16, 1024), seed=1)
    df = load_records(tmp_path)
    mc, lc = metric_curves(df), learning_curves(df)
    te = mc[mc["metric"] == "test_error"].reset_index(drop=True)
    assert np.allclose(te["median"], lc["median"]) and np.allclose(te["q75"], lc["q75"])
    tr = mc[mc["metric"] == "train_error"].reset_index(drop=True)
    assert np.allclose(tr["median"], 0.5 * lc["median"])  # the synthetic law's train error
    assert set(mc["direction"]) == {"lower"} and set(mc["on"]) == {"test", "train"}
    assert (mc["n_values"] == 3).all()


def test_record_metrics_round_trip_through_the_store(tmp_path):
    extra = [m for m in METRICS if m not in ("test_error", "train_error")]
    rec = Record(key="k", task="t", task_label="t", task_params={}, d=4, learner="krr",
                 label="krr", learner_params={}, n=64, seed=0, status="ok", test_error=0.25,
                 **Record.metric_fields({"train_error": 0.5, **{m: 0.125 for m in extra}}))
    with ResultStore(tmp_path) as store:
        store.write(rec)
        (back,) = store.records()
    assert back == rec and back.metric("train_error") == 0.5


def test_top_error_worked_example(tmp_path):
    # the metric added in two files (harness/store/metrics.py, docs/metrics.md): exact values
    task = make_task("multi_index", d=6, seed=3, p=4, r=2)  # two levels: q_low = 2
    X, y = draw_test_set(task, 3, 2000)
    r = task.top_residual(X)
    fn = METRICS["top_error"].fn
    assert METRICS["top_error"].direction is Direction.LOWER
    assert fn(y, Targets(X, y), task) == 0.0
    assert fn(y - r, Targets(X, y), task) == pytest.approx(1.0, abs=1e-12)  # lower levels only
    assert fn(y - 0.5 * r, Targets(X, y), task) == pytest.approx(0.25, abs=1e-12)
    assert fn(y + 0.3 * r, Targets(X, y), task) == pytest.approx(0.09, abs=1e-12)

    class NoTop:
        q_low = None

    assert fn(y, Targets(X, y), NoTop()) is None
    job = Job(task="multi_index", task_label="mi", task_params={"p": 4, "r": 2}, d=6,
              learner="ridge", label="ridge", learner_params={}, n=200, seed=3, n_test=2000)
    rec = run_job(job)  # a linear fit learns nothing of degree 4 (nor of degree 2)
    assert rec.metric("top_error") > 0.5 and np.isfinite(rec.metric("top_error"))
    assert rec.metrics["top_error"] == rec.to_row()["top_error"]
    with ResultStore(Path(tmp_path)) as store:
        store.write(rec)
    mc = metric_curves(load_records(tmp_path))
    assert mc.loc[mc["metric"] == "top_error", "median"].item() == rec.metric("top_error")


def test_a_metric_cannot_take_a_column_name(monkeypatch):
    from harness.store import Metric, column_names

    monkeypatch.setitem(METRICS, "seed", Metric("seed", lambda p, t, task: 0.0, Direction.LOWER,
                                                On.TEST, ""))
    with pytest.raises(ValueError, match="name of a Record column"):
        column_names()
