"""scripts/estimate_cost.py prices every job the run would fit, "task" parameters included.

poly_features with ``degree = "task"`` must be priced at the task's degree (as the run resolves
it), not left out of the estimate, and a job the run's resource admission would skip must not be
summed: the preset tables call these figures upper bounds of what the run costs.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from harness.experiment import TaskValues, load_spec, plan
from harness.run.runner import JobResources, resource_admission

_PATH = Path(__file__).resolve().parents[1] / "scripts" / "estimate_cost.py"
_SPEC = importlib.util.spec_from_file_location("estimate_cost", _PATH)
estimate_cost = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(estimate_cost)


@pytest.mark.parametrize("p", [3, 4])
def test_task_degree_priced_as_the_explicit_degree(p):
    learners = JobResources()
    params = learners.values.resolve("poly_features", {"degree": "task"}, "multi_index", 8,
                                     {"p": p, "r": 2})
    assert params == {"degree": p}
    t_task = estimate_cost.model_seconds(learners, "poly_features", params, 4096, 8)
    t_explicit = estimate_cost.model_seconds(learners, "poly_features", {"degree": p}, 4096, 8)
    assert t_task is not None and t_task > 0
    assert t_task == t_explicit
    # a higher degree has more features, hence a larger predicted cost
    t_higher = estimate_cost.model_seconds(learners, "poly_features", {"degree": p + 1}, 4096, 8)
    assert t_higher > t_task


def test_paper_damian_poly_features_priced_or_refused_as_the_run_would():
    """Every poly_features job of paper-damian is either priced at its task's p or refused by
    the run's admission for memory, and the refused ones are exactly those whose degree-p
    features at (n, d) pass the budget's memory cap or the learner's own (the preset's
    ``memory_limit_gb``, 14 GiB, under the 16 GiB budget)."""
    from learners import make_learner

    spec = load_spec("paper-damian")
    resources = JobResources()
    admit, values = resource_admission(spec, resources), resources.values
    own = next(entry.params["memory_limit_gb"] for entry in spec.learners
               if entry.name == "poly_features")
    assert own < spec.budget.memory_gb
    cap = min(spec.budget.memory_gb, own) * 2**30
    priced = refused = 0
    for series in plan(spec):
        for job in series.jobs:
            if job.learner != "poly_features":
                continue
            assert job.learner_params.get("degree") == "task"
            params = values.for_job(job)
            assert params["degree"] == job.task_params["p"]
            need = make_learner("poly_features", **params).resources(job.n, job.d).memory_bytes
            refusal = admit(job)
            if refusal is None:
                assert need <= cap
                assert estimate_cost.model_seconds(resources, job.learner, params, job.n,
                                                   job.d) > 0
                priced += 1
            else:
                assert need > cap and refusal.kind == "resource_memory"
                refused += 1
    assert priced > 0 and refused > 0


def test_degrees_are_found_once_per_task_and_d(monkeypatch):
    import harness.experiment.task_values as tv

    calls = []
    real = tv.task_degree
    monkeypatch.setattr(tv, "task_degree", lambda *a, **k: calls.append(a) or real(*a, **k))
    values = TaskValues()
    for _repeat in range(2):
        for p in (3, 4):
            values.resolve("poly_features", {"degree": "task"}, "multi_index", 8,
                           {"p": p, "r": 2})
    assert len(calls) == 2
    # parameters without "task" need no degree at all
    assert values.resolve("krr", {"kernel": "rbf"}, "multi_index", 8, {"p": 5}) == {
        "kernel": "rbf"}
    assert len(calls) == 2


def test_admission_skips_what_the_learner_itself_would_refuse():
    """poly_features raises MemoryError past its own memory_limit_gb (3.5 GiB by default); a
    job between that and the spec's larger cap is skipped as resource_memory, not run to a
    failure, and the skip's reason names the learner's cap."""
    from harness.experiment import Job, parse_spec
    from learners import make_learner

    spec = parse_spec({"name": "x", "tasks": [{"name": "multi_index", "d": [24],
                                               "params": {"p": 4, "r": 2}}],
                       "learners": [{"name": "poly_features", "params": {"degree": "task"}}],
                       "n_grid": {"n_min": 4096, "n_max": 8192},
                       "budget": {"memory_gb": 16}})
    admit = resource_admission(spec)

    def job(n):
        return Job("multi_index", "mi", {"p": 4, "r": 2}, 24, "poly_features", "poly_features",
                   {"degree": "task"}, n, 0, 1000)

    need = {n: make_learner("poly_features", degree=4).resources(n, 24).memory_bytes / 2**30
            for n in (1024, 8192)}
    assert need[1024] < 3.5 < need[8192] < 16  # the case: under the spec's cap, over its own
    assert admit(job(1024)) is None
    refusal = admit(job(8192))
    assert refusal.kind == "resource_memory"
    assert refusal.reason == (f"predicted peak memory {need[8192]:.2f} GiB > the learner's own "
                              "memory cap 3.5 GiB")
    with pytest.raises(MemoryError):  # what the job would otherwise have recorded as failed
        make_learner("poly_features", degree=4).fit(np.zeros((8192, 24)), np.zeros(8192))


def test_admission_admits_a_job_whose_task_raises_when_built():
    """A plugin task without ``degree_of`` is built to find its degree; if that raises, the
    admission does not crash the run: the job is admitted and records the failure itself."""
    from harness.experiment import Job, parse_spec
    from tasks import register_task
    from tasks.multi_index import MultiIndexTask

    class Fragile(MultiIndexTask):  # declares no degree; its constructor raises
        name = "fragile_degree"

        @classmethod
        def degree_of(cls, d, params):
            return None

        def __init__(self, d, seed=0, noise=0.0):
            raise RuntimeError("boom while building")

    register_task("fragile_degree", Fragile)
    spec = parse_spec({"name": "x", "tasks": [{"name": "multi_index", "d": [4]}],
                       "learners": [{"name": "poly_features", "params": {"degree": "task"}}],
                       "n_grid": {"n_min": 64, "n_max": 64}})
    job = Job("fragile_degree", "fragile", {}, 4, "poly_features", "poly_features",
              {"degree": "task"}, 64, 0, 1000)
    assert resource_admission(spec)(job) is None
    from harness.run import run_job

    rec = run_job(job)
    assert rec.status == "failed" and "boom while building" in rec.reason


def test_calibration_pools_run_folders(tmp_path):
    """c per learner = the median of measured / model seconds over the ok records (n >= 256) of
    every folder given: two folders with ratios 2 and 4 for krr give 3; a learner in one folder
    only is calibrated from it; n < 256 and non-ok records are left out."""
    from harness.store import Record
    from reports.synthetic import write_run

    resources = JobResources()

    def rec(learner, n, ratio, status="ok"):
        t = estimate_cost.model_seconds(resources, learner, {}, n, 8)
        return Record(key=f"{learner}{n}{ratio}{status}", task="multi_index",
                      task_label="multi_index(p=2)", task_params={"p": 2}, d=8, learner=learner,
                      label=learner, learner_params={}, n=n, seed=0, status=status,
                      family="non-hierarchical", test_error=0.1 if status == "ok" else None,
                      fit_wall_s=ratio * t if status == "ok" else None)

    a, b = tmp_path / "a", tmp_path / "b"
    write_run(a, [rec("krr", 512, 2.0), rec("krr", 1024, 2.0), rec("krr", 128, 50.0),
                  rec("ntk", 512, 0.5)], {"name": "a"})
    write_run(b, [rec("krr", 512, 4.0), rec("krr", 2048, 4.0),
                  rec("krr", 4096, 9.0, status="failed")], {"name": "b"})
    cal = estimate_cost.calibration([str(a), str(b)])
    assert cal["krr"] == pytest.approx(3.0) and cal["ntk"] == pytest.approx(0.5)
    assert estimate_cost.calibration(str(a))["krr"] == pytest.approx(2.0)


def test_calibration_folder_without_results_is_one_line(tmp_path):
    with pytest.raises(SystemExit, match="no results.sqlite there"):
        estimate_cost.calibration([str(tmp_path)])
