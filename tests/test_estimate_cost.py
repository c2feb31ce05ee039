"""scripts/estimate_cost.py prices every job, including learners whose parameters say "task".

poly_features with ``degree = "task"`` must be priced at the task's degree (as the run resolves
it), not left out of the estimate: the preset tables call these figures upper bounds.
"""

import importlib.util
from pathlib import Path

import pytest

from harness.experiment import load_spec, plan

_PATH = Path(__file__).resolve().parents[1] / "scripts" / "estimate_cost.py"
_SPEC = importlib.util.spec_from_file_location("estimate_cost", _PATH)
estimate_cost = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(estimate_cost)


@pytest.mark.parametrize("p", [3, 4])
def test_task_degree_priced_as_the_explicit_degree(p):
    tasks, learners = {}, {}
    params = estimate_cost.resolved_params(tasks, "poly_features", {"degree": "task"},
                                           "multi_index", {"p": p, "r": 2}, 8)
    assert params == {"degree": p}
    t_task = estimate_cost.model_seconds(learners, "poly_features", params, 4096, 8)
    t_explicit = estimate_cost.model_seconds(learners, "poly_features", {"degree": p}, 4096, 8)
    assert t_task is not None and t_task > 0
    assert t_task == t_explicit
    # a higher degree has more features, hence a larger predicted cost
    t_higher = estimate_cost.model_seconds(learners, "poly_features", {"degree": p + 1}, 4096, 8)
    assert t_higher > t_task


def test_every_poly_features_job_of_paper_damian_is_priced():
    spec = load_spec("paper-damian")
    tasks, learners = {}, {}
    priced = 0
    for series in plan(spec):
        for job in series.jobs:
            if job.learner != "poly_features":
                continue
            assert job.learner_params.get("degree") == "task"
            params = estimate_cost.resolved_params(tasks, job.learner, job.learner_params,
                                                   job.task, job.task_params, job.d)
            assert params["degree"] == job.task_params["p"]
            assert estimate_cost.model_seconds(learners, job.learner, params, job.n, job.d) > 0
            priced += 1
    assert priced > 0


def test_tasks_are_built_once_per_task_and_d():
    tasks = {}
    for _repeat in range(2):
        for p in (3, 4):
            estimate_cost.resolved_params(tasks, "poly_features", {"degree": "task"},
                                          "multi_index", {"p": p, "r": 2}, 8)
    assert len(tasks) == 2
    # parameters without "task" need no task at all
    assert estimate_cost.resolved_params(tasks, "krr", {"kernel": "rbf"}, "multi_index",
                                         {"p": 5}, 8) == {"kernel": "rbf"}
    assert len(tasks) == 2
