"""The Record: one row of a run's results database, the outcome of one job.

Columns (units in brackets); JSON columns hold dicts.

=================  =======================================================================
key                stable content hash of the job (see :mod:`harness.experiment.planning`)
task, task_label   task registry name; label = name plus its parameters, e.g. ``bfc(L=2,k=4)``
task_params        JSON: the task's constructor parameters (without d and seed)
d, n, seed         input dimension; number of training samples the learner received; seed
learner, label     learner registry name; the spec's label for this learner configuration
learner_params     JSON: the learner's constructor parameters
family             learner family (hierarchical / layerwise / non-hierarchical / baseline)
status             ok | failed | timeout | skipped
reason             one line: why a job failed, timed out or was skipped (None when ok)
traceback          last lines of the traceback of a failed job
test_error         normalised MSE on the fixed noiseless test set: mean((f - y*)^2) / Var(y*)
train_error        normalised MSE on the n (noisy) training samples, same normalisation
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
from dataclasses import asdict, dataclass, field, fields
from typing import Any

STATUSES = ("ok", "failed", "timeout", "skipped")
JSON_COLUMNS = ("task_params", "learner_params", "task_info", "fit_info", "versions")


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
    status: str
    family: str = "baseline"
    reason: str | None = None
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

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    def to_row(self) -> dict[str, Any]:
        """Flat dict for SQLite: JSON columns serialised with sorted keys."""
        row = asdict(self)
        for col in JSON_COLUMNS:
            row[col] = json.dumps(row[col], sort_keys=True, default=_json_default)
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Record:
        data = dict(row)
        for col in JSON_COLUMNS:
            if isinstance(data.get(col), str):
                data[col] = json.loads(data[col])
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def column_names() -> list[str]:
    return [f.name for f in fields(Record)]


def _json_default(obj: Any) -> Any:
    """Make numpy scalars/arrays JSON-serialisable."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)
