"""The store: the Record schema and the run's results database.

* :mod:`harness.store.record` -- :class:`Record`, one row per job, its columns and statuses;
* :mod:`harness.store.results` -- :class:`ResultStore` (SQLite, one committed row per job),
  the run-folder lock :class:`RunLock`, and the read side :func:`results_frame`, :func:`export`.
"""

from harness.store.record import JSON_COLUMNS, STATUSES, Record, column_names
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

__all__ = ["JSON_COLUMNS", "STATUSES", "Record", "column_names", "DB_NAME", "LOCK_NAME",
           "ResultStore", "RunLock", "RunLockedError", "export", "results_frame", "connect",
           "connect_read_only", "write_row"]
