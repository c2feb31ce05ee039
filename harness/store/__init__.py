"""The store: the Record schema, what a record measures, and the run's results database.

* :mod:`harness.store.outcome` -- :class:`Status` and :class:`SkipKind`, the outcome of a job;
* :mod:`harness.store.metrics` -- the metric registry (name, function, direction, set);
* :mod:`harness.store.record` -- :class:`Record`, one row per job, its columns;
* :mod:`harness.store.schema` -- the records table's schema version and the migration of older
  run folders;
* :mod:`harness.store.results` -- :class:`ResultStore` (SQLite, one committed row per job),
  the run-folder lock :class:`RunLock`, and the read side :func:`results_frame`, :func:`export`.
"""

from harness.store.metrics import (
    METRICS,
    Direction,
    Metric,
    On,
    Targets,
    evaluate,
    metric_names,
    normalised_mse,
    register,
)
from harness.store.outcome import (
    BAD,
    RETRYABLE,
    STATUSES,
    SkipKind,
    Status,
    legacy_skip_kind,
)
from harness.store.record import (
    FIELD_METRICS,
    JSON_COLUMNS,
    Record,
    column_names,
    metric_columns,
)
from harness.store.results import (
    DB_NAME,
    LOCK_NAME,
    ResultStore,
    RunLock,
    RunLockedError,
    connect,
    connect_read_only,
    export,
    results_frame,
    write_row,
)
from harness.store.schema import SCHEMA_VERSION, SchemaError, ensure_schema, version_of

__all__ = [
    "METRICS", "Direction", "Metric", "On", "Targets", "evaluate", "metric_names",
    "normalised_mse", "register", "BAD", "RETRYABLE", "STATUSES", "SkipKind", "Status",
    "legacy_skip_kind", "FIELD_METRICS", "JSON_COLUMNS", "Record", "column_names",
    "metric_columns", "DB_NAME", "LOCK_NAME", "ResultStore", "RunLock", "RunLockedError",
    "export", "results_frame", "connect", "connect_read_only", "write_row",
    "SCHEMA_VERSION", "SchemaError", "ensure_schema", "version_of",
]
