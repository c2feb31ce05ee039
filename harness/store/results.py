"""The results database of a run: an embedded SQLite file, one row per job.

Crash safety: every record is written in its own transaction (``INSERT OR REPLACE`` keyed by the
job's content key, then ``COMMIT``) with ``journal_mode=WAL`` and ``synchronous=FULL``, so a process
killed at any moment leaves every committed row intact and no half-written row.  Only one process
(the driver of the run) writes; a run folder is locked with ``flock`` while a run uses it, so a
second run into the same folder is refused, and the lock disappears with the process that held it
(even after SIGKILL).
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pandas as pd

from harness.store.record import JSON_COLUMNS, Record
from harness.store.schema import ensure_schema, upgrade_frame, version_of

DB_NAME = "results.sqlite"
LOCK_NAME = ".lock"


def connect(path: str | Path) -> sqlite3.Connection:
    """A writing connection to a run database with the crash-safety pragmas of the module doc
    (``journal_mode=WAL``, ``synchronous=FULL``); used by every store of a run folder."""
    conn = sqlite3.connect(path, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def connect_read_only(path: str | Path) -> sqlite3.Connection:
    """A read-only connection (through a file URI, so paths with spaces or ``#`` work): safe
    while a run is still writing."""
    return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)


def write_row(conn: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    """``INSERT OR REPLACE`` one row (column -> value) into ``table`` in its own transaction."""
    cols = list(row)
    sql = (f"INSERT OR REPLACE INTO {table} ({', '.join(cols)}) "
           f"VALUES ({', '.join('?' for _ in cols)})")
    with conn:
        conn.execute(sql, [row[c] for c in cols])


class RunLockedError(RuntimeError):
    """Another process is running into the same run folder."""


class ResultStore:
    """Read/write access to ``RUN_DIR/results.sqlite``.

    Opening creates the records table, or migrates an older one to the current schema version
    (:func:`harness.store.schema.ensure_schema`); ``migrated_from`` is the version it had (0 for
    a new database).
    """

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / DB_NAME
        self._conn = connect(self.path)
        self.migrated_from = ensure_schema(self._conn)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def write(self, record: Record) -> None:
        """Insert or replace one record and commit it."""
        write_row(self._conn, "records", record.to_row())

    def records(self) -> list[Record]:
        cur = self._conn.execute("SELECT * FROM records")
        names = [c[0] for c in cur.description]
        return [Record.from_row(dict(zip(names, row, strict=True))) for row in cur.fetchall()]

def results_frame(run_dir: str | Path) -> pd.DataFrame:
    """All records of a run as a DataFrame (JSON columns parsed into dicts).

    The database is opened read-only (through a file URI, so paths with spaces or ``#`` work), so
    this is safe while a run is still writing; a database of an older schema version is left as it
    is on disk and its frame upgraded in memory (:func:`harness.store.schema.upgrade_frame`).
    """
    path = Path(run_dir) / DB_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no results database in {run_dir} (expected {DB_NAME})")
    with closing(connect_read_only(path)) as conn:
        df = pd.read_sql_query("SELECT * FROM records", conn)
        df = upgrade_frame(df, version_of(conn))
    for col in JSON_COLUMNS:
        if col in df:
            df[col] = df[col].map(lambda s: json.loads(s) if isinstance(s, str) else {})
    return df


def export(run_dir: str | Path, fmt: str, out: str | Path | None = None) -> Path:
    """Write the run's records as CSV or Parquet (JSON columns kept as JSON text)."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"format must be csv or parquet, got {fmt!r}")
    df = results_frame(run_dir)
    for col in JSON_COLUMNS:
        if col in df:
            df[col] = df[col].map(lambda v: json.dumps(v, sort_keys=True))
    out_path = Path(out) if out else Path(run_dir) / f"results.{fmt}"
    if fmt == "csv":
        df.to_csv(out_path, index=False)
    else:
        df.to_parquet(out_path, index=False)
    return out_path


class RunLock:
    """Exclusive ``flock`` on ``RUN_DIR/.lock`` for the lifetime of a run."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / LOCK_NAME
        self._fh: Any = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "?"
            fh.close()
            raise RunLockedError(
                f"run folder {self.path.parent} is in use by another hierbench process "
                f"(pid {holder}); wait for it to finish or use another --out"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
