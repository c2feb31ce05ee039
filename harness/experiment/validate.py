"""Spec-time validation: build every learner and task configuration once, without fitting.

A learner is constructed from its spec entry, then its parameters are checked against the class's
scikit-learn ``_parameter_constraints`` (``Interval``, ``StrOptions``, ``"boolean"``, ...) with
scikit-learn's own validation (``BaseEstimator._validate_params``).  scikit-learn's
``InvalidParameterError`` is turned into ONE line naming the learner label, the key, the value and
the allowed values::

    learner 'krr': params.kernel = 'rbff' is not allowed; allowed: 'laplace', 'rbf'

A task is checked with its classmethod ``check_params(d, params)`` when it has one (cheap, no
teacher drawn), otherwise by constructing it at the smallest d of its grid.  A learner parameter
given as ``"task"`` (poly_features' ``degree = "task"``) is checked against every task of the spec:
each must have a polynomial degree.

scikit-learn raises the error as free text ("The 'alpha' parameter of Ridge must be ... Got -1
instead."); the key is read from that text, and the allowed values are then rendered from the
structured constraints of that key, so the line does not depend on scikit-learn's wording beyond
the parameter name.
"""

from __future__ import annotations

import re
from typing import Any

from sklearn.utils._param_validation import (
    InvalidParameterError,
    Options,
    StrOptions,
    make_constraint,
    validate_parameter_constraints,
)

_PARAM = re.compile(r"The '([^']+)' parameter of ")


class ValidationFailure(ValueError):
    """A learner or task configuration is invalid; the message is one line."""


def allowed_text(constraints: list[Any]) -> str:
    """The allowed values of one parameter in words: options listed, ranges as scikit-learn."""
    parts = []
    for c in constraints:
        c = make_constraint(c)
        if getattr(c, "hidden", False):
            continue
        if isinstance(c, (StrOptions, Options)):
            parts.append(", ".join(repr(o) for o in sorted(c.options, key=str)))
        else:
            parts.append(str(c))
    return "; or ".join(parts) if parts else "(no visible constraint)"


def check_estimator_params(est: Any, label: str) -> None:
    """Check ``est``'s parameters against its class's ``_parameter_constraints``.

    Raises :class:`ValidationFailure` (one line).  An estimator without constraints is accepted
    as is (nothing to check).
    """
    constraints = getattr(est, "_parameter_constraints", None)
    if not isinstance(constraints, dict):
        return
    params = est.get_params(deep=False)
    try:
        if hasattr(est, "_validate_params"):
            est._validate_params()
        else:
            validate_parameter_constraints(constraints, params, type(est).__name__)
    except InvalidParameterError as exc:
        found = _PARAM.search(str(exc))
        key = found.group(1) if found else None
        if key is None or key not in constraints:
            raise ValidationFailure(f"learner {label!r}: {_one_line(exc)}") from None
        raise ValidationFailure(
            f"learner {label!r}: params.{key} = {params.get(key)!r} is not allowed; "
            f"allowed: {allowed_text(constraints[key])}") from None


def check_learner(name: str, label: str, params: dict[str, Any]) -> Any:
    """Construct learner ``name`` with ``params`` and check them; returns the estimator."""
    from learners import make_learner

    try:
        est = make_learner(name, **params)
    except Exception as exc:  # noqa: BLE001 - any construction error becomes one line
        raise ValidationFailure(_named("learner", label, exc)) from None
    check_estimator_params(est, label)
    return est


def check_task(name: str, label: str, ds: list[int], params: dict[str, Any],
               seed: int = 0) -> None:
    """Check task ``name`` on its d-grid: ``cls.check_params(d, params)`` at every d (cheap), or
    else one construction at the smallest d."""
    from tasks import get_task_class, make_task

    try:
        cls = get_task_class(name)
        check = getattr(cls, "check_params", None)
        if callable(check):
            for d in sorted(ds):
                check(int(d), dict(params))
        else:
            make_task(name, d=min(ds), seed=seed, **params)
    except Exception as exc:  # noqa: BLE001 - plugin errors become one line
        raise ValidationFailure(_named("task", label, exc)) from None


def validate_spec(spec: Any) -> None:
    """Check every task instance and every learner of ``spec``; the first problem raises, its
    line prefixed with the spec location (``tasks.0 (bfc): ...``, ``learners.2 (krr): ...``)."""
    for i, t in enumerate(spec.tasks):
        for label, params in t.instances():
            try:
                check_task(t.name, label, list(t.d), params, seed=spec.seeds[0])
            except ValidationFailure as exc:
                raise ValidationFailure(f"tasks.{i} ({t.name}): {exc}") from None
    for i, lr in enumerate(spec.learners):
        try:
            check_learner(lr.name, lr.display, lr.params)
            check_task_values(lr.display, lr.params, spec)
        except ValidationFailure as exc:
            raise ValidationFailure(f"learners.{i} ({lr.name}): {exc}") from None


def check_task_values(label: str, params: dict[str, Any], spec: Any) -> None:
    """A learner parameter given as ``"task"`` needs every task configuration of ``spec`` to have
    a polynomial degree (:mod:`harness.experiment.task_values`), at the smallest d of its grid;
    a built-in task answers from its parameters, a plugin task may be built once."""
    from harness.experiment.task_values import has_task_values, resolve_task_values

    if not has_task_values(params):
        return
    for t in spec.tasks:
        for _, task_params in t.instances():
            try:
                resolve_task_values(label, params, t.name, min(t.d), task_params)
            except Exception as exc:  # noqa: BLE001 - plugin errors become one line
                raise ValidationFailure(_named("learner", label, exc)) from None


def _named(kind: str, label: str, exc: BaseException) -> str:
    """``kind 'label': message``, unless the message already names the plugin."""
    text = _one_line(exc)
    if text.startswith((f"{kind} ", f"unknown {kind} ", "cannot import", f"{kind} plugin")):
        return text
    return f"{kind} {label!r}: {text}"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
