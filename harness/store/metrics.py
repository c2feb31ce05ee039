"""The metrics a record carries: a registry of (name, function, direction, evaluation set).

A metric is a function ``fn(predictions, targets, task) -> float | None`` of a learner's
predictions on one evaluation set, that set's :class:`Targets` (inputs and labels) and the task
(the teacher, for what only it knows: its variance, its energies, its top residual).  It returns
None where it is not defined (the task lacks what it needs); one that raises fails the job, like
any exception inside a job.  Each metric states whether lower or
higher is better (:class:`Direction`) and which set it is evaluated on (:class:`On`): the fixed
noiseless test set (``y = y*``) or the n noisy training samples.

Every registered metric is computed for every ok job (:func:`evaluate`, called by
:mod:`harness.run.job`), stored as one REAL column of the records table named after it (a new
metric's column is added to existing run folders when they are opened, NULL for the jobs they
already hold, see :mod:`harness.store.schema`) and summarised by the analysis
(:func:`harness.analysis.curves.metric_curves`: median and IQR over seeds per learning-curve
point).  Adding a metric is one :func:`register` call in this module (and its definition in
docs/metrics.md); ``test_error`` is the metric n*(eps) is defined on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np


class Direction(StrEnum):
    LOWER = "lower"    # lower is better (errors)
    HIGHER = "higher"  # higher is better (scores)


class On(StrEnum):
    """The evaluation set a metric is computed on."""

    TEST = "test"    # the fixed held-out set of the (task, d, seed), noiseless labels y*
    TRAIN = "train"  # the n training samples the learner was fitted on, noisy labels


@dataclass(frozen=True)
class Targets:
    """One evaluation set: inputs ``X`` (n, d) and labels ``y`` (n,)."""

    X: np.ndarray
    y: np.ndarray


MetricFn = Callable[[np.ndarray, Targets, Any], "float | None"]


@dataclass(frozen=True)
class Metric:
    name: str
    fn: MetricFn
    direction: Direction
    on: On
    doc: str


#: every metric, in registration order (the order of the records table's metric columns)
METRICS: dict[str, Metric] = {}


def register(name: str, direction: Direction = Direction.LOWER,
             on: On = On.TEST) -> Callable[[MetricFn], MetricFn]:
    """Decorator: register ``fn`` as the metric ``name`` (its docstring is its definition)."""
    if not name.isidentifier():
        raise ValueError(f"metric name {name!r} must be an identifier (it names a column)")

    def deco(fn: MetricFn) -> MetricFn:
        if name in METRICS:
            raise ValueError(f"metric {name!r} is already registered")
        METRICS[name] = Metric(name, fn, Direction(direction), On(on),
                               " ".join((fn.__doc__ or "").split()))
        return fn

    return deco


def metric_names() -> list[str]:
    return list(METRICS)


def evaluate(task: Any, sets: dict[On, tuple[np.ndarray, Targets]]) -> dict[str, float | None]:
    """Every registered metric: ``sets`` maps each evaluation set to (predictions, targets).

    A metric whose set's predictions are not all finite, or that returns None, gets None.
    """
    out: dict[str, float | None] = {}
    for m in METRICS.values():
        pred, targets = sets[m.on]
        pred = np.asarray(pred, dtype=np.float64).ravel()
        value = m.fn(pred, targets, task) if np.all(np.isfinite(pred)) else None
        out[m.name] = None if value is None else float(value)
    return out


def normalised_mse(pred: np.ndarray, y_true: np.ndarray, variance: float | None = None) -> float:
    """mean((pred - y)^2) / variance; without ``variance``, the empirical variance of y."""
    var = float(np.var(y_true)) if variance is None else float(variance)
    return float(np.mean((np.asarray(pred, dtype=np.float64).ravel() - y_true) ** 2) / var)


def _variance(task: Any) -> float:
    return float(getattr(task, "target_variance", 1.0))


@register("test_error", Direction.LOWER, On.TEST)
def normalised_test_error(pred: np.ndarray, t: Targets, task: Any) -> float:
    """Normalised MSE on the fixed noiseless test set: mean((f - y*)^2) / Var(y*), Var(y*) the
    task's exact variance (1 = predicting the mean, 0 = perfect)."""
    return normalised_mse(pred, t.y, _variance(task))


@register("train_error", Direction.LOWER, On.TRAIN)
def normalised_train_error(pred: np.ndarray, t: Targets, task: Any) -> float:
    """Normalised MSE on the n noisy training samples, same normalisation as test_error."""
    return normalised_mse(pred, t.y, _variance(task))


@register("top_error", Direction.LOWER, On.TEST)
def top_degree_error(pred: np.ndarray, t: Targets, task: Any) -> float | None:
    """Error on the part of y* above degree q_low: with r = task.top_residual(X_test) (y* minus
    its projection on degree <= q_low), top_error = (<f - y*, r> / <r, r>)^2 on the test set: the
    energy of the error f - y* along r relative to that of r (0 when f reproduces r, exactly 1
    for f = y* - r, a perfect fit of the lower levels alone; (1 - c)^2 for f = y* - r + c r).  A
    lower bound on ||P_top(f - y*)||^2 / E_top.  None for a task without q_low or a top
    residual."""
    if getattr(task, "q_low", None) is None:
        return None
    try:
        r = np.asarray(task.top_residual(t.X), dtype=np.float64).ravel()
    except NotImplementedError:
        return None
    rr = float(r @ r)
    return float(((pred - t.y) @ r / rr) ** 2) if rr > 0 else None
