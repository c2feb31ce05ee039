"""Running the backward-feature-correction experiment: the crash-safe store and the run loop.

Storage: ``RUN_DIR/diagnostics.sqlite`` with a table ``fits`` (one row per (variant, seed) fit,
each written by ``INSERT OR REPLACE`` in its own transaction, journal_mode=WAL and
synchronous=FULL, so a killed run keeps every finished fit) and a table ``meta`` holding the
config's digest; the config as given (``config.toml``), as validated (``config.json``), and
``provenance.json`` (commit, versions, machine, times of the last session).  The folder is locked
(``flock``) while a run uses it.  Rerunning into the same folder skips stored fits (failed ones
are re-run only with ``retry_failed``); a folder holding another config is refused.

Execution: with ``workers = 1`` (the default) the fits run in this process one after the other;
with more, in a pool of spawned worker processes; each fit is limited to ``threads`` (default
1) BLAS/torch threads; only the driver writes the database.  There is no per-fit timeout or
memory cap (unlike the benchmark runner): a fit that raises is stored as ``failed`` with a
one-line reason; a worker process that dies stops the run with a one-line
:class:`DiagnosticsError` (the fits stored before are kept; rerunning resumes).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.diagnostics.bfc import (
    DiagConfig,
    DiagnosticsError,
    build_task,
    fit_key,
    n_levels,
    plan_fits,
    run_fit,
)
from harness.run import now_iso

DB_NAME = "diagnostics.sqlite"

COLUMNS = {"key": "TEXT PRIMARY KEY", "variant": "TEXT", "learner": "TEXT",
           "backward_depth": "INTEGER", "m_values": "TEXT", "seed": "INTEGER", "status": "TEXT",
           "reason": "TEXT", "test_error": "REAL", "train_error": "REAL", "fit_wall_s": "REAL",
           "probe_wall_s": "REAL", "frozen_max_change": "REAL", "drift": "TEXT",
           "stage_starts": "TEXT", "checkpoints": "TEXT", "fit_info": "TEXT",
           "level_shares": "TEXT", "started_at": "TEXT", "finished_at": "TEXT"}
JSON_COLUMNS = ("m_values", "drift", "stage_starts", "checkpoints", "fit_info", "level_shares")


class DiagStore:
    """``RUN_DIR/diagnostics.sqlite``: table ``fits`` (one row per fit) and ``meta``."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / DB_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=30.0)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
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
        with self._conn:
            self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('digest', ?)",
                               (cfg.digest(),))

    def write(self, row: dict[str, Any]) -> None:
        """Insert or replace one fit's row and commit it."""
        vals = {c: (json.dumps(row.get(c)) if c in JSON_COLUMNS else row.get(c))
                for c in COLUMNS}
        sql = (f"INSERT OR REPLACE INTO fits ({', '.join(vals)}) "
               f"VALUES ({', '.join('?' for _ in vals)})")
        with self._conn:
            self._conn.execute(sql, list(vals.values()))

    def statuses(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT key, status FROM fits").fetchall())


def load_fits(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every stored fit of a diagnostics folder (JSON columns parsed)."""
    path = Path(run_dir) / DB_NAME
    if not path.is_file():
        raise DiagnosticsError(f"{run_dir} is not a diagnostics folder (no {DB_NAME})")
    with sqlite3.connect(path) as conn:
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


# --------------------------------------------------------------------------------------------
# the run loop
# --------------------------------------------------------------------------------------------
@dataclass
class DiagSummary:
    run_dir: Path
    total: int
    already_done: int
    counts: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False
    wall_s: float = 0.0


def choose_workers(cfg: DiagConfig, workers: int | None, threads: int | None) -> tuple[int, int]:
    """(worker processes, threads per fit); defaults 1 and 1.

    The nets are small (a few 10^4 parameters, batches of 256): extra threads per fit gain
    little and oversubscribe a busy machine; several workers use the cores better.
    """
    return workers or cfg.execution.workers or 1, threads or cfg.execution.threads or 1


def run_diagnostics(cfg: DiagConfig, run_dir: str | Path, config_text: str | None = None,
                    workers: int | None = None, threads: int | None = None,
                    retry_failed: bool = False, progress: bool = False,
                    console=None) -> DiagSummary:
    """Run (or resume) every fit of ``cfg`` into ``run_dir``; see the module docstring."""
    from harness.run import provenance
    from harness.store import RunLock

    run_dir = Path(run_dir)
    workers, threads = choose_workers(cfg, workers, threads)
    t0 = time.perf_counter()
    with RunLock(run_dir), DiagStore(run_dir) as store:
        store.claim(cfg)
        (run_dir / "config.json").write_text(json.dumps(cfg.model_dump(), indent=2))
        if config_text is not None:
            (run_dir / "config.toml").write_text(config_text)
        fits = plan_fits(cfg, n_levels(build_task(cfg, cfg.seeds[0])))
        plan = [(f, s) for s in cfg.seeds for f in fits]
        old = store.statuses()
        todo = [(f, s) for f, s in plan if old.get(fit_key(f.variant, s)) not in
                (("ok",) if retry_failed else ("ok", "failed"))]
        summary = DiagSummary(run_dir, len(plan), len(plan) - len(todo))
        started = now_iso()
        kind = "serial" if workers == 1 else "processes"
        try:
            _execute(cfg, todo, workers, threads, store, summary, progress, console)
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            summary.wall_s = time.perf_counter() - t0
            prov = provenance(cfg, started, now_iso(), threads, workers, kind)
            prov["wall_s"] = summary.wall_s
            (run_dir / "provenance.json").write_text(json.dumps(prov, indent=2))
    return summary


def _execute(cfg, todo, workers, threads, store, summary, progress, console) -> None:
    """Serial in-process, or a pool of spawned processes; the driver writes every row."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    cfg_data = cfg.model_dump()
    columns = [TextColumn("[bold]fits"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, disable=not progress) as bar:
        task_id = bar.add_task("fits", total=summary.total, completed=summary.already_done)

        def stored(row: dict[str, Any]) -> None:
            store.write(row)
            summary.counts[row["status"]] = summary.counts.get(row["status"], 0) + 1
            bar.update(task_id, advance=1)

        if workers == 1:
            for fit, seed in todo:
                stored(run_fit(cfg_data, fit.__dict__, seed, threads))
            return
        _pool(cfg_data, todo, workers, threads, stored)


def _pool(cfg_data, todo, workers, threads, stored) -> None:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))
    try:
        futures = [pool.submit(run_fit, cfg_data, f.__dict__, s, threads) for f, s in todo]
        for fut in as_completed(futures):
            stored(fut.result())
    except BaseException as exc:
        procs = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:  # the pool's own workers, by their handles
            p.terminate()
        if isinstance(exc, BrokenProcessPool):  # which fit killed it, the pool cannot tell
            raise DiagnosticsError(
                "a worker process died (killed, out of memory or crashed) while fitting; the "
                "fits finished before are stored: run the same command again to resume, or "
                "with --workers 1 to find the fit") from exc
        raise
    pool.shutdown(wait=True)
