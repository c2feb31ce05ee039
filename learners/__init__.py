"""Learners: one module per family, a shared interface (:mod:`learners.base`), a registry.

    >>> from learners import make_learner
    >>> est = make_learner("krr", kernel="rbf")

Names are looked up in the ``hierbench.learners`` entry-point group (the built-ins register there),
among learners registered by plugin files (:func:`register_learner`), and finally as an import path
(``sklearn.linear_model:Ridge`` or ``sklearn.linear_model.Ridge``), so any scikit-learn
regressor runs as a learner unchanged.
"""

from __future__ import annotations

from typing import Any

from learners.base import (
    FAMILIES,
    DivergenceError,
    Family,
    HierbenchLearner,
    Resources,
    learner_family,
    learner_resources,
)
from registry import PluginError, Registry

LEARNERS = Registry("hierbench.learners", "learner")


def register_learner(name: str, cls: Any = None):
    """Register an estimator class (or factory) under ``name`` (also usable as a decorator)."""
    return LEARNERS.register(name, cls)


def get_learner_class(name: str) -> Any:
    return LEARNERS.get(name)


def make_learner(name: str, **params: Any) -> Any:
    """Instantiate the learner ``name`` with ``params``; unknown parameters fail in one line."""
    cls = get_learner_class(name)
    try:
        return cls(**params)
    except TypeError as exc:
        raise ValueError(f"learner {name!r}: {exc}") from exc


def available_learners() -> list[str]:
    return LEARNERS.names()


__all__ = ["LEARNERS", "PluginError", "DivergenceError", "HierbenchLearner", "Resources",
           "register_learner", "get_learner_class", "make_learner", "available_learners",
           "learner_family", "learner_resources", "Family", "FAMILIES"]
