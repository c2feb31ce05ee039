"""Learner parameters given as ``"task"``: replaced by the task's polynomial degree.

A spec may write a learner parameter as ``"task"`` (``poly_features``' ``degree = "task"``), so the
polynomial baseline has the degree of each task it meets.  The value is the degree of y*:

1. the task class's ``degree_of(d, params)`` (:meth:`tasks.base.Task.degree_of`), read from its
   parameters without building the task, which for bfc at L = 4 takes minutes (exact energies);
2. else, for a task whose class does not declare it (a plugin), the built task's ``degree``
   attribute, then ``info()["degree"]``.

Every place that needs the resolved parameters uses this module, so they agree: the job
(:func:`harness.run.job.run_job`, which has the task built anyway), the resource admission (a
poly_features job past the memory cap is skipped as ``resource_memory`` before it runs, with the
cost of the degree it would use), the spec's validation (a task without a degree is a one-line
error at ``hierbench validate``) and the cost estimate.  A task's degree does not depend on its
seed, so :class:`TaskValues` builds a task (when it must) once per (task, parameters, d).
"""

from __future__ import annotations

import json
from typing import Any

#: a learner parameter with this value is replaced by the task's polynomial degree
TASK_VALUE = "task"


def task_keys(params: dict[str, Any]) -> list[str]:
    """The keys of ``params`` whose value is ``"task"``."""
    return [k for k, v in params.items() if isinstance(v, str) and v == TASK_VALUE]


def has_task_values(params: dict[str, Any]) -> bool:
    """Whether some parameter of ``params`` is ``"task"``."""
    return bool(task_keys(params))


def task_degree(task_name: str, d: int, task_params: dict[str, Any],
                task: Any = None) -> int | None:
    """The polynomial degree of task ``task_name`` at ``d`` (None if it has none).

    From the class's ``degree_of`` when it declares one; else from ``task`` (built here at seed 0
    when not given): its ``degree``, then ``info()["degree"]``.
    """
    from tasks import get_task_class, make_task

    cls = get_task_class(task_name)
    degree_of = getattr(cls, "degree_of", None)
    degree = degree_of(int(d), dict(task_params)) if callable(degree_of) else None
    if degree is None:
        if task is None:
            task = make_task(task_name, d=int(d), seed=0, **task_params)
        degree = getattr(task, "degree", None)
        if degree is None:
            degree = task.info().get("degree")
    return None if degree is None else int(degree)


def resolve_task_values(learner: str, params: dict[str, Any], task_name: str, d: int,
                        task_params: dict[str, Any], task: Any = None,
                        degree: int | None = None) -> dict[str, Any]:
    """``params`` with each ``"task"`` value replaced by the task's degree.

    ``degree`` when the caller knows it already, else :func:`task_degree`.  A task without a
    degree is a one-line ``ValueError`` naming the learner, the key and the task.
    """
    keys = task_keys(params)
    if not keys:
        return params
    if degree is None:
        degree = task_degree(task_name, d, task_params, task)
    if degree is None:
        raise ValueError(f"learner {learner!r}: parameter {keys[0]!r} = 'task' needs the task's "
                         f"polynomial degree, but task {task_name!r} has none")
    return {**params, **{k: int(degree) for k in keys}}


class TaskValues:
    """:func:`resolve_task_values` with the degrees cached per (task, parameters, d)."""

    def __init__(self) -> None:
        self._degrees: dict[tuple[str, str, int], int | None] = {}

    def degree(self, task_name: str, d: int, task_params: dict[str, Any]) -> int | None:
        key = (task_name, json.dumps(task_params, sort_keys=True, default=str), int(d))
        if key not in self._degrees:
            self._degrees[key] = task_degree(task_name, d, task_params)
        return self._degrees[key]

    def resolve(self, learner: str, params: dict[str, Any], task_name: str, d: int,
                task_params: dict[str, Any]) -> dict[str, Any]:
        if not has_task_values(params):
            return params
        return resolve_task_values(learner, params, task_name, d, task_params,
                                   degree=self.degree(task_name, d, task_params))

    def for_job(self, job: Any) -> dict[str, Any]:
        """The learner parameters of a :class:`~harness.experiment.planning.Job`, resolved."""
        return self.resolve(job.learner, job.learner_params, job.task, job.d, job.task_params)
