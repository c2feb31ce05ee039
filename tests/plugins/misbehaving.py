"""Learners that misbehave on purpose, for the harness's isolation tests (loaded with --plugin)."""

import ctypes
import os
import time

import numpy as np
from sklearn.linear_model import Ridge

from learners import register_learner
from learners.base import HierbenchLearner, Resources


@register_learner("raises")
class Raises(Ridge):
    def fit(self, X, y):
        raise RuntimeError("boom from a plugin")


@register_learner("exits")
class Exits(Ridge):
    def fit(self, X, y):
        os._exit(1)


@register_learner("segfaults")
class Segfaults(Ridge):
    def fit(self, X, y):
        ctypes.string_at(0)  # reads address 0: SIGSEGV, like a BLAS crash


@register_learner("sleeps")
class Sleeps(Ridge):
    def fit(self, X, y):
        time.sleep(120)
        return super().fit(X, y)


@register_learner("nans")
class NaNs(Ridge):
    def predict(self, X):
        return np.full(np.asarray(X).shape[0], np.nan)


@register_learner("hungry")
class Hungry(Ridge):
    def fit(self, X, y):
        hog = np.ones(2 * 2**30 // 8)  # 2 GiB, touched
        time.sleep(30)
        return hog


@register_learner("huge")
class Huge(HierbenchLearner):
    """Declares a resource model no budget can meet: the harness must skip it."""

    family = "non-hierarchical"

    def fit(self, X, y):
        raise AssertionError("a skipped learner must never be fitted")

    def predict(self, X):
        return np.zeros(len(X))

    def resources(self, n, d):
        return Resources(memory_bytes=1e15, seconds=1.0)


@register_learner("slow_ridge")
class SlowRidge(Ridge):
    """Ridge that takes a little time, so a run can be killed mid-way."""

    def fit(self, X, y):
        time.sleep(0.25)
        return super().fit(X, y)
