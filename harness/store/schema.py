"""The records table's schema, its version, and the migration of older run folders.

The version is SQLite's ``PRAGMA user_version`` of ``results.sqlite``:

=======  ==========================================================================================
version  records table
=======  ==========================================================================================
1        what hierbench wrote before the table had a version (``user_version`` 0): the Record
         columns of that time, the skip cause only in the ``reason`` text
2        adds ``skip_kind`` (:class:`~harness.store.outcome.SkipKind`, NULL unless skipped) and
         one REAL column per registered metric (:mod:`harness.store.metrics`)
=======  ==========================================================================================

:func:`ensure_schema` runs when a :class:`~harness.store.results.ResultStore` opens a folder: a
new database gets the table at :data:`SCHEMA_VERSION`; a version-1 table is migrated in one
transaction (``ALTER TABLE ... ADD COLUMN`` for each missing column, then ``skip_kind`` filled once
from each skipped record's reason by :func:`~harness.store.outcome.legacy_skip_kind`; the same
for a skipped row without a kind that an older hierbench wrote into a migrated folder); at any
version, a column the current Record has and the table lacks (a metric registered since the run
began) is added, NULL in the rows already written (a metric cannot be computed again without the
predictions).  A database of a newer version than this code knows is refused, so an older
hierbench never writes half a row into a newer table.  Every row, every key and every value
already stored stays as it was, so a migrated folder resumes with no job run again.

:func:`upgrade_frame` does the same on a frame read from a version-1 database opened read-only
(reports and ``show`` on an old folder leave the file as it is).
"""

from __future__ import annotations

import sqlite3

import pandas as pd

from harness.store.outcome import Status, legacy_skip_kind
from harness.store.record import column_names, metric_columns

SCHEMA_VERSION = 2
TABLE = "records"
_INTEGER = {"d", "n", "seed", "n_test", "threads", "peak_mem_bytes"}
_REAL = {"fit_wall_s", "fit_cpu_s", "predict_wall_s", "hierarchy_index", "top_share"}


class SchemaError(RuntimeError):
    """The run folder's database was written by a newer hierbench (or is not a results table)."""


def sql_type(column: str) -> str:
    """SQLite type of a Record column: INTEGER, REAL (measurements and every metric) or TEXT."""
    if column in _INTEGER:
        return "INTEGER"
    if column in _REAL or column in metric_columns():
        return "REAL"
    return "TEXT"


def create_sql() -> str:
    """``CREATE TABLE`` statement of the records table at the current version."""
    cols = ", ".join(f"{c} {sql_type(c)}{' PRIMARY KEY' if c == 'key' else ''}"
                     for c in column_names())
    return f"CREATE TABLE {TABLE} ({cols})"


def version_of(conn: sqlite3.Connection) -> int | None:
    """Schema version of an open database: None without a records table, 1 when unversioned."""
    if not _has_table(conn):
        return None
    return int(conn.execute("PRAGMA user_version").fetchone()[0]) or 1


def ensure_schema(conn: sqlite3.Connection) -> int:
    """Create or migrate the records table to :data:`SCHEMA_VERSION` (one transaction).

    Returns the version the database had before (0 for a new one).
    """
    conn.execute("BEGIN IMMEDIATE")  # DDL included: the migration is all or nothing
    try:
        before = version_of(conn)
        if before is None:
            conn.execute(create_sql())
        elif before > SCHEMA_VERSION:
            raise SchemaError(f"results database has schema version {before}; this hierbench "
                              f"knows versions up to {SCHEMA_VERSION} (upgrade hierbench)")
        else:
            have = table_columns(conn)
            for col in column_names():
                if col not in have:
                    conn.execute(f"ALTER TABLE {TABLE} ADD COLUMN {col} {sql_type(col)}")
            _fill_skip_kinds(conn)  # version 1 rows, or rows an older hierbench added since
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
    return before or 0


def table_columns(conn: sqlite3.Connection) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({TABLE})")]


def _has_table(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (TABLE,)).fetchone() is not None


def _fill_skip_kinds(conn: sqlite3.Connection) -> None:
    """The skip kind of each skipped record that has none, read once from its reason: every
    skipped row of a version-1 table, or one an older hierbench wrote into a migrated folder
    (it writes its own columns only); usually none."""
    rows = conn.execute(f"SELECT key, reason FROM {TABLE} WHERE status = ? AND skip_kind IS NULL",
                        (str(Status.SKIPPED),)).fetchall()
    conn.executemany(f"UPDATE {TABLE} SET skip_kind = ? WHERE key = ?",
                     [(str(legacy_skip_kind(reason)), key) for key, reason in rows])


def upgrade_frame(df: pd.DataFrame, version: int | None) -> pd.DataFrame:
    """A frame read from a database of ``version`` as the current version would hold it."""
    if version is None or not len(df):
        return df
    missing = "skip_kind" not in df or bool(
        ((df["status"] == str(Status.SKIPPED)) & df["skip_kind"].isna()).any())
    if version >= SCHEMA_VERSION and not missing:
        return df
    df = df.copy()
    for col in column_names():
        if col not in df:
            df[col] = None
    if missing:
        todo = (df["status"] == str(Status.SKIPPED)) & df["skip_kind"].isna()
        df["skip_kind"] = df["skip_kind"].astype(object)
        df.loc[todo, "skip_kind"] = df.loc[todo, "reason"].map(
            lambda r: str(legacy_skip_kind(r)))
    return df
