"""The stored fits of a diagnostics folder: :class:`FitRecord`, :class:`DiagStore`, the readers.

Storage: ``RUN_DIR/diagnostics.sqlite`` with a table ``fits`` (one row per (variant, seed) fit)
and a table ``meta`` holding the config's digest.  The database is opened, written and read with
the run store's own helpers (:func:`harness.store.connect`, :func:`harness.store.write_row`,
:func:`harness.store.connect_read_only`): journal_mode=WAL, synchronous=FULL, every row its own
``INSERT OR REPLACE`` transaction, so a killed run keeps every finished fit.

Why a table of its own, not the ``records`` of ``results.sqlite``: a fit is not a point of a
learning curve (no n-grid, no eps, no series) and its row holds what a benchmark record has no
column for (the variant's backward depth and the m values it stands for, the probe checkpoints,
the drift and frozen-block checks); the analysis of ``hierbench report`` must not see it.  The
file keeps the name it always had, so existing diagnostics folders resume unchanged.
"""

from __future__ import annotations

import json
from contextlib import closing
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from harness.diagnostics.bfc import DiagConfig, DiagnosticsError
from harness.store import BAD, Status, connect, connect_read_only, write_row

DB_NAME = "diagnostics.sqlite"
#: statuses of a stored fit (the run store's Status; a fit is never skipped): TIMEOUT and a FAILED
#: from the executor (memory cap, a dead worker process) come from the shared executors, as for a
#: benchmark job
STATUSES: tuple[Status, ...] = (Status.OK, *BAD)

COLUMNS = {"key": "TEXT PRIMARY KEY", "variant": "TEXT", "learner": "TEXT",
           "backward_depth": "INTEGER", "m_values": "TEXT", "seed": "INTEGER", "status": "TEXT",
           "reason": "TEXT", "test_error": "REAL", "train_error": "REAL", "fit_wall_s": "REAL",
           "probe_wall_s": "REAL", "frozen_max_change": "REAL", "drift": "TEXT",
           "stage_starts": "TEXT", "checkpoints": "TEXT", "fit_info": "TEXT",
           "level_shares": "TEXT", "started_at": "TEXT", "finished_at": "TEXT"}
JSON_COLUMNS = ("m_values", "drift", "stage_starts", "checkpoints", "fit_info", "level_shares")


@dataclass
class FitRecord:
    """One stored fit (a row of ``fits``); made in the worker, stored by the driver."""

    key: str
    variant: str
    learner: str
    backward_depth: int | None
    m_values: list[int]
    seed: int
    status: Status
    reason: str | None = None
    test_error: float | None = None
    train_error: float | None = None
    fit_wall_s: float | None = None
    probe_wall_s: float | None = None
    frozen_max_change: float | None = None
    drift: list[float | None] | None = None
    stage_starts: dict[str, int] | None = None
    checkpoints: list[dict[str, Any]] | None = None
    fit_info: dict[str, Any] | None = None
    level_shares: list[float] | None = None
    started_at: str | None = None
    finished_at: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {tuple(map(str, STATUSES))}, "
                             f"got {self.status!r}")

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> FitRecord:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in names})

    def to_row(self) -> dict[str, Any]:
        """The row for SQLite: JSON columns serialised."""
        row = asdict(self)
        return {c: (json.dumps(row[c]) if c in JSON_COLUMNS else row[c]) for c in COLUMNS}


class DiagStore:
    """``RUN_DIR/diagnostics.sqlite``: table ``fits`` (one row per fit) and ``meta``."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / DB_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = connect(self.path)
        cols = ", ".join(f"{c} {t}" for c, t in COLUMNS.items())
        with self._conn:
            self._conn.execute(f"CREATE TABLE IF NOT EXISTS fits ({cols})")
            self._conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, "
                               "value TEXT)")

    def __enter__(self) -> DiagStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._conn.close()

    def claim(self, cfg: DiagConfig) -> None:
        """Tie the folder to the config's digest; refuse a folder of another config."""
        got = self._conn.execute("SELECT value FROM meta WHERE key='digest'").fetchone()
        if got is not None and got[0] != cfg.digest():
            raise DiagnosticsError(f"{self.path.parent} holds diagnostics of another config "
                                   "(task, learner, variants, probe or seeds differ); "
                                   "use another --out")
        write_row(self._conn, "meta", {"key": "digest", "value": cfg.digest()})

    def write(self, record: FitRecord | dict[str, Any]) -> None:
        """Insert or replace one fit's row and commit it."""
        if isinstance(record, dict):
            record = FitRecord.from_dict(record)
        write_row(self._conn, "fits", record.to_row())

    def statuses(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT key, status FROM fits").fetchall())


def load_fits(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every stored fit of a diagnostics folder (JSON columns parsed), read-only."""
    path = Path(run_dir) / DB_NAME
    if not path.is_file():
        raise DiagnosticsError(f"{run_dir} is not a diagnostics folder (no {DB_NAME})")
    with closing(connect_read_only(path)) as conn:
        cur = conn.execute("SELECT * FROM fits ORDER BY seed, variant")
        names = [c[0] for c in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    for row in rows:
        for c in JSON_COLUMNS:
            row[c] = json.loads(row[c]) if isinstance(row[c], str) else None
    return rows


def load_run_config(run_dir: str | Path) -> DiagConfig:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise DiagnosticsError(f"{run_dir} has no config.json")
    return DiagConfig.model_validate(json.loads(path.read_text()))
