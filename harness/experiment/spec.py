"""Experiment specs: TOML files validated with pydantic.

A spec names the tasks (with their d-grid), the learners, the n-grid, the seeds, the target error
eps, the test-set size and the budgets.  Example::

    name = "smoke"
    seeds = 2                      # or a list: [0, 1]
    n_test = 500                   # or "auto": per teacher, sd(test error) <= eps / 10
    n_test_max = 65536             # cap of "auto"
    eps = 0.1                      # absolute; or  [eps] kind = "relative"  value = 0.5
    adaptive = false               # grow n per series only until eps is reached (twice)

    [n_grid]
    n_min = 32
    n_max = 256
    ratio = 1.4142135623730951     # geometric grid n_i = round(n_min * ratio^i) <= n_max

    [budget]
    timeout_s = 60                 # per job, wall seconds
    memory_gb = 4                  # per job, peak resident memory

    [[tasks]]
    name = "multi_index"
    d = [4, 8]
    params = { p = 2 }
    grid = { r = [1, 2] }          # optional: one task instance per combination

    [[learners]]
    name = "krr"
    label = "krr-rbf"              # optional; must be unique
    n_max = 4096                   # optional; this learner's n-grid stops there (censored above)
    params = { kernel = "rbf" }

    [verdict]                      # optional
    reference = "bfc_net"          # reference deep learner of the contrast (a learner label)
    min_growth = 0.5               # threshold of the verdict rule, per unit of index

Every mistake (an unknown key, a wrong type, d <= 0, n_min > n_max, an unknown task or learner, a
parameter the learner does not take) raises :class:`SpecError` with one line naming the key.
"""

from __future__ import annotations

import itertools
import math
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

PositiveInt = Annotated[int, Field(gt=0)]
#: default cap of ``n_test = "auto"``
N_TEST_MAX = 65536


def _seed_list(v: Any) -> Any:
    """``seeds = 3`` means ``[0, 1, 2]``; a list is kept as given."""
    if isinstance(v, int) and not isinstance(v, bool):
        if v <= 0:
            raise ValueError(f"seed count must be > 0, got {v}")
        return list(range(v))
    return v


def _distinct(v: list[int]) -> list[int]:
    if len(set(v)) != len(v):
        raise ValueError("seeds must be distinct")
    return v


#: a list of distinct seeds, or a count n meaning seeds 0..n-1
Seeds = Annotated[list[int], BeforeValidator(_seed_list), AfterValidator(_distinct),
                  Field(min_length=1)]


class SpecError(ValueError):
    """A spec is invalid; the message is one line naming the key and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskSpec(_Strict):
    """One task family entry: a registry name, fixed params, an optional params grid, a d-grid."""

    name: str
    label: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    d: list[PositiveInt] = Field(min_length=1)

    def instances(self) -> list[tuple[str, dict[str, Any]]]:
        """(label, params) for each combination of the grid, params merged over the fixed ones."""
        keys = sorted(self.grid)
        out = []
        for values in itertools.product(*(self.grid[k] for k in keys)) if keys else [()]:
            params = {**self.params, **dict(zip(keys, values, strict=True))}
            out.append((task_label(self.label or self.name, params), params))
        return out


class LearnerSpec(_Strict):
    """One learner of the spec; ``n_max`` (optional) stops its n-grid below the spec's n_max.

    A learner whose grid stops early is right-censored above its own n_max in the analysis
    (n_reached is the largest n it has a record at), exactly as at the spec's n_max.
    """

    name: str
    label: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    n_max: PositiveInt | None = None

    @property
    def display(self) -> str:
        return self.label or self.name


class NGrid(_Strict):
    """Geometric grid n_i = round(n_min * ratio^i), i = 0, 1, ..., while n_i <= n_max."""

    n_min: PositiveInt
    n_max: PositiveInt
    ratio: float = Field(default=math.sqrt(2), gt=1.0)

    @model_validator(mode="after")
    def _order(self) -> NGrid:
        if self.n_min > self.n_max:
            raise ValueError(f"n_min ({self.n_min}) must be <= n_max ({self.n_max})")
        return self

    def values(self) -> list[int]:
        out: list[int] = []
        i = 0
        while True:
            n = int(round(self.n_min * self.ratio**i))
            if n > self.n_max:
                break
            if not out or n > out[-1]:
                out.append(n)
            i += 1
        return out


class Eps(_Strict):
    """Target test error eps: ``absolute`` (threshold = value) or ``relative`` (threshold =
    value x the top level's variance share, per teacher).  The one model of eps, used by the
    scheduler (has a record reached eps?) and by the analysis (n*, t*, beta)."""

    kind: Literal["absolute", "relative"] = "absolute"
    value: float = Field(gt=0.0)

    def threshold(self, top_share: Any) -> np.ndarray:
        """Thresholds for a scalar or a sequence of top shares: float array of shape (len,);
        NaN where a relative eps meets a missing top share (such a record never reaches eps)."""
        shares = np.atleast_1d(np.asarray(top_share, dtype=object))
        ts = np.array([_float_or_nan(v) for v in shares], dtype=float)
        return self.value * ts if self.kind == "relative" else np.full(ts.shape, self.value)

    def text(self) -> str:
        if self.kind == "relative":
            return f"eps = {self.value:g} x top_share (relative)"
        return f"eps = {self.value:g} (absolute)"


def _float_or_nan(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


class Budget(_Strict):
    timeout_s: float = Field(default=600.0, gt=0)
    memory_gb: float = Field(default=8.0, gt=0)


class Execution(_Strict):
    executor: Literal["serial", "local", "dask"] = "local"
    workers: PositiveInt | None = None
    threads_per_job: PositiveInt | None = None
    scheduler: str | None = None


def _n_test_setting(v: Any) -> Any:
    """``n_test``: a positive int, or "auto" (each teacher's size for sd <= eps / 10)."""
    if v == "auto" or (isinstance(v, int) and not isinstance(v, bool) and v > 0):
        return v
    raise ValueError(f"n_test = {v!r} is not allowed; allowed: an int >= 1 or \"auto\"")


class VerdictSpec(_Strict):
    """How the report decides (docs/metrics.md, "Verdict"): the reference end-to-end deep learner
    of the paired contrast (a learner label; default: the first learner of family
    "hierarchical") and the one threshold of the rule, in growth of beta per unit of index."""

    reference: str | None = None
    min_growth: float = Field(default=0.5, gt=0.0)


class Spec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    tasks: list[TaskSpec] = Field(min_length=1)
    learners: list[LearnerSpec] = Field(min_length=1)
    n_grid: NGrid
    seeds: Seeds = Field(default_factory=lambda: [0, 1, 2])
    eps: Eps = Eps(value=0.1)
    n_test: Annotated[int | str, BeforeValidator(_n_test_setting)] = 2000
    n_test_max: PositiveInt = N_TEST_MAX
    adaptive: bool = False
    budget: Budget = Budget()
    execution: Execution = Execution()
    verdict: VerdictSpec = VerdictSpec()

    @field_validator("eps", mode="before")
    @classmethod
    def _eps_number(cls, v: Any) -> Any:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return {"kind": "absolute", "value": v}
        return v

    @model_validator(mode="after")
    def _unique_labels(self) -> Spec:
        labels = [lr.display for lr in self.learners]
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            raise ValueError(f"learner labels must be unique; give a `label` to: {', '.join(dup)}")
        ref = self.verdict.reference
        if ref is not None and ref not in labels:
            raise ValueError(f"verdict.reference = {ref!r} is not a learner label; allowed: "
                             f"{', '.join(labels)}")
        for lr in self.learners:
            if lr.n_max is not None and lr.n_max < self.n_grid.n_min:
                raise ValueError(f"learner {lr.display!r}: n_max = {lr.n_max} is below "
                                 f"n_grid.n_min = {self.n_grid.n_min}; allowed: an int >= "
                                 f"{self.n_grid.n_min}")
        return self


def task_label(name: str, params: dict[str, Any]) -> str:
    """``name(k1=v1,k2=v2)`` with sorted keys; just ``name`` without params."""
    if not params:
        return name
    inner = ",".join(f"{k}={_short(v)}" for k, v in sorted(params.items()))
    return f"{name}({inner})"


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_short(x) for x in v) + "]"
    return str(v)


def format_validation_error(exc: ValidationError) -> str:
    """One line: ``key.path: message; other.key: message``."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "spec"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def parse_spec(data: dict[str, Any], source: str = "spec") -> Spec:
    """Validate a spec dict (schema only; see :func:`check_plugins` for names and params)."""
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(f"{source}: {format_validation_error(exc)}") from None


def toml_names(folder: Path) -> list[str]:
    """The names (without ``.toml``) of the TOML files in ``folder``; [] if it does not exist."""
    if not folder.is_dir():
        return []
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir()
                  if p.name.endswith(".toml"))


def preset_names() -> list[str]:
    return toml_names(preset_folder())


def find_toml(name: str | Path, folder: Path, error: type[ValueError] = SpecError,
              what: str = "spec", preset_kind: str = "preset") -> Path:
    """A path to a TOML file, or the name of a preset in ``folder``; ``error`` with one line if
    neither exists (``what`` and ``preset_kind`` name the file in the message)."""
    path = Path(name)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise error(f"{what} file not found: {path}")
        return path
    preset = folder / f"{name}.toml"
    if not preset.is_file():
        raise error(f"unknown {preset_kind} {str(name)!r}; presets: "
                    f"{', '.join(toml_names(folder))}")
    return preset


def read_toml(path: Path, error: type[ValueError] = SpecError) -> tuple[dict[str, Any], str]:
    """(data, text) of a TOML file: the one TOML reader of specs and diagnostics configs.  A
    syntax error raises ``error`` with one line naming the file."""
    text = path.read_text()
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path.name}: invalid TOML: {exc}") from None


def preset_folder() -> Path:
    """The shipped spec presets: ``harness/experiment/presets/``."""
    return Path(str(resources.files("harness.experiment") / "presets"))


def resolve_spec_path(spec: str | Path) -> Path:
    """A path to a TOML file, or the name of a preset shipped in harness/experiment/presets/."""
    return find_toml(spec, preset_folder())


def load_spec(spec: str | Path) -> Spec:
    """Read and validate a spec from a preset name or a TOML path."""
    path = resolve_spec_path(spec)
    data, _ = read_toml(path)
    spec_obj = parse_spec(data, source=path.name)
    check_plugins(spec_obj, source=path.name)
    return spec_obj


def check_plugins(spec: Spec, source: str = "spec") -> None:
    """Check that every task and learner exists and accepts its parameters: each learner is built
    once and its parameters checked against its ``_parameter_constraints``; each task is checked
    with its ``check_params`` or built once (see :mod:`harness.experiment.validate`)."""
    from harness.experiment.validate import ValidationFailure, validate_spec

    try:
        validate_spec(spec)
    except ValidationFailure as exc:
        raise SpecError(f"{source}: {exc}") from None
