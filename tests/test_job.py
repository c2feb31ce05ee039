"""One job: the data it draws, the error it computes, the determinism of both."""

from __future__ import annotations

import numpy as np
import pytest

from harness.experiment import Job
from harness.run import draw_test_set, draw_training_set, normalised_mse, run_job
from harness.run.job import N_TEST_STEP, choose_n_test
from learners import make_learner
from tasks import make_task


def _job(learner="krr", params=None, n=200, seed=3, d=6):
    return Job(task="multi_index", task_label="mi", task_params={"p": 2, "r": 2}, d=d,
               learner=learner, label=learner, learner_params=params or {}, n=n, seed=seed,
               n_test=400)


def test_same_seed_same_data_and_same_krr_predictions():
    task_a = make_task("multi_index", d=6, seed=3, p=2, r=2)
    task_b = make_task("multi_index", d=6, seed=3, p=2, r=2)
    Xa, ya = draw_training_set(task_a, 3, 200)
    Xb, yb = draw_training_set(task_b, 3, 200)
    assert np.array_equal(Xa, Xb) and np.array_equal(ya, yb)
    Xt, yt = draw_test_set(task_a, 3, 400)
    pa = make_learner("krr").fit(Xa, ya).predict(Xt)
    pb = make_learner("krr").fit(Xb, yb).predict(Xt)
    assert np.array_equal(pa, pb)
    ra, rb = run_job(_job()), run_job(_job())
    assert ra.status == rb.status == "ok"
    assert ra.test_error == rb.test_error and ra.key == rb.key
    other = run_job(_job(seed=4))
    assert other.test_error != ra.test_error


def test_test_set_is_fixed_per_seed_and_independent_of_n():
    task = make_task("multi_index", d=6, seed=3, p=2, r=2)
    X1, y1 = draw_test_set(task, 3, 400)
    X2, y2 = draw_test_set(task, 3, 400)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    assert np.allclose(y1, task.target(X1))  # noiseless labels
    Xs, _ = draw_training_set(task, 3, 50)
    Xl, _ = draw_training_set(task, 3, 100)
    assert np.array_equal(Xs, Xl[:50])  # training sets of one series nest


def test_normalised_mse_definition():
    rng = np.random.default_rng(0)
    y = rng.standard_normal(1000) * 3 + 2
    assert normalised_mse(y, y) == 0.0
    assert np.isclose(normalised_mse(np.full_like(y, y.mean()), y), 1.0)
    pred = y + 0.5
    assert np.isclose(normalised_mse(pred, y), 0.25 / np.var(y))


def test_record_carries_measurements_and_task_info():
    rec = run_job(_job(learner="ridge"))
    assert rec.status == "ok" and rec.family == "baseline"
    assert rec.fit_wall_s > 0 and rec.fit_cpu_s >= 0 and rec.peak_mem_bytes > 10 * 2**20
    assert rec.threads == 1 and "numpy" in rec.versions
    assert rec.top_share is not None and abs(sum(rec.task_info["level_shares"]) - 1) < 1e-9
    assert "alpha" in rec.fit_info
    assert 0.0 < rec.test_error < 1.5


def _auto_job(p, cap=65536, learner="ridge"):
    return Job(task="multi_index", task_label="mi", task_params={"p": p, "r": 2}, d=6,
               learner=learner, label=learner, learner_params={}, n=64, seed=3, n_test="auto",
               n_test_max=cap)


def test_auto_test_set_meets_eps_over_10_from_the_teachers_kurtosis():
    """n_test = "auto": 100 (kappa - 1) rounded up to a multiple of N_TEST_STEP, kappa the
    teacher's exact residual kurtosis; the record keeps n_test, kappa and the size needed."""
    for p in (2, 4):
        task = make_task("multi_index", d=6, seed=3, p=p, r=2)
        kappa = task.residual_kurtosis()
        rec = run_job(_auto_job(p))
        assert rec.status == "ok", rec.reason
        assert rec.task_info["residual_kurtosis"] == kappa
        assert rec.n_test % N_TEST_STEP == 0
        assert rec.n_test - N_TEST_STEP < 100 * (kappa - 1) <= rec.n_test
        assert np.sqrt((kappa - 1) / rec.n_test) <= 0.1  # sd of an eps-sized error <= eps / 10
    assert run_job(_auto_job(4)).n_test > 8 * run_job(_auto_job(2)).n_test  # p = 4: heavy tail
    capped = run_job(_auto_job(4, cap=2048))
    assert capped.n_test == 2048 and capped.task_info["n_test_needed"] > 2048
    task = make_task("multi_index", d=6, seed=3, p=4, r=2)
    assert choose_n_test(task, 500, None) == (500, task.residual_kurtosis())  # kappa stated too


def test_kurtosis_rule_predicts_the_spread_of_the_test_error():
    """The rule's premise, by simulation: the mean of r^2 over n i.i.d. points (r the top
    residual of a multi_index p = 2 teacher) has relative sd sqrt((kappa - 1) / n)."""
    task = make_task("multi_index", d=4, seed=1, p=2, r=2)
    kappa, n = task.residual_kurtosis(), 500
    rng = np.random.default_rng(5)
    means = [np.mean(task.top_residual(task._draw_inputs(n, rng)) ** 2) for _ in range(400)]
    rel_sd = np.std(means) / task.top_share()
    assert rel_sd == pytest.approx(np.sqrt((kappa - 1) / n), rel=0.15)


def test_auto_test_set_without_a_kurtosis_uses_the_cap(monkeypatch):
    """bfc on its Monte Carlo route has no top residual: "auto" falls back to the cap, and the
    job still runs (kappa recorded as None)."""
    from tasks import bfc as bfc_module

    monkeypatch.setattr(bfc_module, "MAX_PAIRS", 0)
    monkeypatch.setattr(bfc_module, "QUAD_MAX_POINTS", 0)
    bfc_module._calibrate_cached.cache_clear()
    try:
        task = make_task("bfc", d=5, seed=0, L=2, k=2)
        assert choose_n_test(task, "auto", 3072) == (3072, None)
        assert choose_n_test(task, 700, 3072) == (700, None)
    finally:
        bfc_module._calibrate_cached.cache_clear()
