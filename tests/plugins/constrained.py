"""Test plugin: a learner with scikit-learn parameter constraints (one option always fails in
fit) and a task with a cheap ``check_params`` classmethod, for spec-time validation tests."""

from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from learners import HierbenchLearner, register_learner
from registry import load_plugin_file
from tasks import get_task_class, register_task

load_plugin_file(Path(__file__).with_name("linear_task.py"))  # the task this one extends
LinearTask = get_task_class("linear")


@register_learner("constrained")
class ConstrainedLearner(HierbenchLearner):
    """Ridge on the raw inputs; ``mode = "explode"`` raises in every fit."""

    family = "non-hierarchical"
    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "mode": [StrOptions({"fit", "explode"})],
        "width": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, alpha=1.0, mode="fit", width=None):
        self.alpha, self.mode, self.width = alpha, mode, width

    def fit(self, X, y):
        self._validate_params()
        if self.mode == "explode":
            raise RuntimeError("the explode mode always fails")
        X = np.asarray(X, float)
        self.w_ = np.linalg.solve(X.T @ X + self.alpha * np.eye(X.shape[1]), X.T @ y)
        self.fit_info_ = {"alpha": self.alpha}
        return self

    def predict(self, X):
        return np.asarray(X, float) @ self.w_


@register_task("checked_linear")
class CheckedLinearTask(LinearTask):
    """The linear plugin task y = scale * w.x / |w|, with a parameter ``scale`` that must be > 0
    (checked without building)."""

    name = "checked_linear"

    @classmethod
    def check_params(cls, d, params):
        scale = params.get("scale", 1.0)
        if not isinstance(scale, (int, float)) or scale <= 0:
            raise ValueError(f"task 'checked_linear': parameter 'scale' = {scale!r} is out of "
                             "range; allowed: a float > 0")
        if d < 2:
            raise ValueError(f"task 'checked_linear': d = {d} is out of range; allowed: d >= 2")

    def __init__(self, d, seed=0, noise=0.0, scale=1.0):
        super().__init__(d, seed=seed, noise=noise)
        self.w = scale * self.w
