"""The Record: one row of a run's results database, the outcome of one job.

Columns (units in brackets); JSON columns hold dicts.

=================  =======================================================================
key                stable content hash of the job (see :mod:`harness.experiment.planning`)
task, task_label   task registry name; label = name plus its parameters, e.g. ``bfc(L=2,k=4)``
task_params        JSON: the task's constructor parameters (without d and seed)
d, n, seed         input dimension; number of training samples the learner received; seed
learner, label     learner registry name; the spec's label for this learner configuration
learner_params     JSON: the learner's constructor parameters
family             learner family, a :class:`~learners.base.Family` (hierarchical / layerwise /
                   non-hierarchical / baseline)
status             a :class:`~harness.store.outcome.Status`: ok | failed | timeout | skipped
reason             one line for people: why a job failed, timed out or was skipped (None when ok)
skip_kind          a :class:`~harness.store.outcome.SkipKind` when skipped, else None: the
                   machine-readable cause the analysis reads (never ``reason``)
traceback          last lines of the traceback of a failed job
test_error         normalised MSE on the fixed noiseless test set: mean((f - y*)^2) / Var(y*)
train_error        normalised MSE on the n (noisy) training samples, same normalisation
<metric>           one REAL column per other metric of :mod:`harness.store.metrics`, named
                   after it (held in ``Record.metrics``); NULL when not computed
fit_wall_s         wall-clock seconds of ``fit`` (tuning included) [s]
fit_cpu_s          CPU seconds of ``fit`` summed over the process's threads [s]
predict_wall_s     wall-clock seconds of ``predict`` on the test set [s]
peak_mem_bytes     peak resident memory of the process running the job [bytes]
n_test             test-set size
hierarchy_index    the task's depth/degree index (bfc L, multi_index p, ...)
top_share          variance share of the task's top level (for relative eps)
task_info          JSON: level shares, theory exponents, noise
fit_info           JSON: what the learner chose (ridge, lr, epochs, solver...)
threads            BLAS/torch threads the job ran with
versions           JSON: python, numpy, scipy, sklearn, torch versions
host               hostname of the worker
started_at         ISO 8601 UTC start time of the job
finished_at        ISO 8601 UTC end time of the job
=================  =======================================================================
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

from harness.store.metrics import metric_names
from harness.store.outcome import STATUSES, SkipKind, Status, legacy_skip_kind
from learners.base import Family

JSON_COLUMNS = ("task_params", "learner_params", "task_info", "fit_info", "versions")
#: the metrics that are Record fields of their own (the columns every version has; the scheduler
#: and the analysis read test_error directly); every other metric lives in ``Record.metrics``
FIELD_METRICS = ("test_error", "train_error")
assert set(FIELD_METRICS) <= set(metric_names()), "the field metrics must be registered"


@dataclass
class Record:
    key: str
    task: str
    task_label: str
    task_params: dict[str, Any]
    d: int
    learner: str
    label: str
    learner_params: dict[str, Any]
    n: int
    seed: int
    status: Status
    family: Family = Family.BASELINE
    reason: str | None = None
    skip_kind: SkipKind | None = None
    traceback: str | None = None
    test_error: float | None = None
    train_error: float | None = None
    fit_wall_s: float | None = None
    fit_cpu_s: float | None = None
    predict_wall_s: float | None = None
    peak_mem_bytes: int | None = None
    n_test: int | None = None
    hierarchy_index: float | None = None
    top_share: float | None = None
    task_info: dict[str, Any] = field(default_factory=dict)
    fit_info: dict[str, Any] = field(default_factory=dict)
    threads: int | None = None
    versions: dict[str, Any] = field(default_factory=dict)
    host: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    #: values of the registered metrics other than FIELD_METRICS (name -> value or None)
    metrics: dict[str, float | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {tuple(map(str, STATUSES))}, "
                             f"got {self.status!r}")
        self.status = Status(self.status)
        self.family = Family.BASELINE if self.family is None else Family(self.family)
        if self.status != Status.SKIPPED:
            if self.skip_kind is not None:
                raise ValueError(f"a {self.status} record has no skip kind "
                                 f"(got {self.skip_kind!r})")
        elif self.skip_kind is None:  # built without a kind (version-1 style): from its reason
            self.skip_kind = legacy_skip_kind(self.reason)
        else:
            self.skip_kind = SkipKind(self.skip_kind)

    def columns(self) -> dict[str, Any]:
        """The record as one value per table column (shallow; metrics flattened, enums and JSON
        columns as they are)."""
        row = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "metrics"}
        for name in metric_columns():
            if name not in FIELD_METRICS:
                row[name] = self.metrics.get(name)
        return row

    def to_row(self) -> dict[str, Any]:
        """Flat dict for SQLite: enums as strings, JSON columns serialised with sorted keys."""
        row = self.columns()
        for col in ("status", "family", "skip_kind"):
            row[col] = None if row[col] is None else str(row[col])
        for col in JSON_COLUMNS:
            row[col] = json.dumps(row[col], sort_keys=True, default=_json_default)
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Record:
        data = dict(row)
        for col in JSON_COLUMNS:
            if isinstance(data.get(col), str):
                data[col] = json.loads(data[col])
        names = {f.name for f in fields(cls)} - {"metrics"}
        extra = {k: _float_or_none(data[k]) for k in metric_columns()
                 if k in data and k not in FIELD_METRICS}
        return cls(**{k: v for k, v in data.items() if k in names}, metrics=extra)

    def metric(self, name: str) -> float | None:
        """The value of the registered metric ``name`` (None when not computed)."""
        return getattr(self, name) if name in FIELD_METRICS else self.metrics.get(name)

    @staticmethod
    def metric_fields(values: dict[str, float | None]) -> dict[str, Any]:
        """Constructor keywords holding the metric ``values`` (name -> value)."""
        out: dict[str, Any] = {k: values[k] for k in FIELD_METRICS if k in values}
        out["metrics"] = {k: v for k, v in values.items() if k not in FIELD_METRICS}
        return out


def metric_columns() -> list[str]:
    """The records table's metric columns: every registered metric, in registration order."""
    names = metric_names()
    clash = [m for m in names if m in _FIELD_NAMES and m not in FIELD_METRICS]
    if clash:
        raise ValueError(f"metric name {clash[0]!r} is the name of a Record column")
    return names


_FIELD_NAMES = frozenset(f.name for f in fields(Record))


def column_names() -> list[str]:
    """Every column of the records table, in order: the Record's fields (``metrics`` flattened
    into one column per registered metric that is not a field of its own)."""
    cols = [f.name for f in fields(Record) if f.name != "metrics"]
    return cols + [m for m in metric_columns() if m not in cols]


def _float_or_none(v: Any) -> float | None:
    try:
        out = float(v)
    except (TypeError, ValueError):
        return None
    return None if out != out else out  # NaN (pandas' missing value) -> None


def _json_default(obj: Any) -> Any:
    """Make numpy scalars/arrays JSON-serialisable."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)
