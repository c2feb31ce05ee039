"""Running the backward-feature-correction experiment: its fits as jobs of the shared executors.

Every (variant, seed) fit is a :class:`FitJob`, run by the executors of ``hierbench run``
(:mod:`harness.run`): ``serial`` (in this process), ``local`` (worker processes) or ``dask``.
So a fit gets what a benchmark job gets: under ``local`` and ``dask`` a per-fit timeout
(``budget.timeout_s``: the fit is killed and stored as ``timeout``) and a memory cap
(``budget.memory_gb``: killed, stored as ``failed``); a fit that raises, or whose process dies
(``os._exit``, a segfault, the OOM killer), is stored as ``failed`` with a one-line reason, and
the run goes on.  The executor defaults to ``serial`` with one worker (the default) and ``local``
with more; each fit is limited to ``threads`` (default 1) BLAS/torch threads; only the driver
writes the database (:mod:`harness.diagnostics.store`).

The folder: ``diagnostics.sqlite``, the config as given (``config.toml``), as validated
(``config.json``), and ``provenance.json`` (commit, versions, machine, times of the last
session).  It is locked (:class:`harness.store.RunLock`) while a run uses it.  Rerunning into
the same folder skips stored fits (failed and timed-out ones are re-run only with
``retry_failed``); a folder holding another config is refused.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.diagnostics.bfc import (
    DiagConfig,
    DiagnosticsError,
    FitSpec,
    build_task,
    first_line,
    fit_key,
    n_levels,
    plan_fits,
    run_fit,
)
from harness.diagnostics.store import STATUSES, DiagStore, FitRecord
from harness.run import JobContext, now_iso
from harness.store import Status

POLL_S = 0.5


@dataclass(frozen=True)
class FitJob:
    """One (variant, seed) fit as a job of the shared executors (a
    :class:`harness.run.RunnableJob`).

    Plain data (the config as a dict), so that it pickles into worker processes.
    """

    cfg_data: dict[str, Any] = field(hash=False)
    fit: FitSpec
    seed: int

    @property
    def key(self) -> str:
        return fit_key(self.fit.variant, self.seed)

    @property
    def learner(self) -> str:
        return self.fit.learner

    @property
    def learner_params(self) -> dict[str, Any]:
        return dict(self.cfg_data.get("learner") or {})

    def run(self, ctx: JobContext) -> FitRecord:
        """Fit and probe (:func:`harness.diagnostics.bfc.run_fit`); never raises."""
        return FitRecord.from_dict(run_fit(self.cfg_data, self.fit.__dict__, self.seed,
                                           ctx.threads))

    def stopped(self, status: str, **fields: Any) -> FitRecord:
        """The record of a fit the executor killed or lost (its reason says why and, for the
        memory cap, how much memory the process held)."""
        keep = {k: fields[k] for k in ("reason", "fit_wall_s", "started_at", "finished_at")
                if k in fields}
        return FitRecord(key=self.key, variant=self.fit.variant, learner=self.fit.learner,
                         backward_depth=self.fit.backward_depth,
                         m_values=list(self.fit.m_values), seed=int(self.seed), status=status,
                         **keep)


@dataclass
class DiagSummary:
    run_dir: Path
    total: int
    already_done: int
    counts: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False
    wall_s: float = 0.0


@dataclass(frozen=True)
class DiagExecution:
    """Where and how the fits run: executor kind, worker processes, threads per fit."""

    kind: str
    workers: int
    threads: int
    scheduler: str | None = None


def choose_execution(cfg: DiagConfig, workers: int | None = None, threads: int | None = None,
                     executor: str | None = None, scheduler: str | None = None) -> DiagExecution:
    """The arguments, else the config's ``[execution]``; defaults 1 worker, 1 thread, and the
    executor ``serial`` for one worker, ``local`` for more.

    The nets are small (a few 10^4 parameters, batches of 256): extra threads per fit gain
    little and oversubscribe a busy machine; several workers use the cores better.
    """
    ex = cfg.execution
    n_workers = workers or ex.workers or 1
    kind = executor or ex.executor or ("serial" if n_workers == 1 else "local")
    return DiagExecution(kind, n_workers, threads or ex.threads or 1, scheduler or ex.scheduler)


def make_executor(cfg: DiagConfig, how: DiagExecution) -> Any:
    """The shared executor of ``how.kind`` with the config's per-fit timeout and memory cap."""
    from harness.run import DaskExecutor, LocalExecutor, SerialExecutor
    from registry import plugin_paths

    mem = cfg.budget.memory_gb * 2**30
    ctx = JobContext(threads=how.threads, memory_bytes=mem, plugins=plugin_paths())
    if how.kind == "serial":
        return SerialExecutor(ctx)
    if how.kind == "local":
        return LocalExecutor(ctx, workers=how.workers, timeout_s=cfg.budget.timeout_s,
                             memory_bytes=mem)
    if how.kind == "dask":
        return DaskExecutor(ctx, workers=how.workers, timeout_s=cfg.budget.timeout_s,
                            memory_bytes=mem, scheduler=how.scheduler)
    raise DiagnosticsError(f"unknown executor {how.kind!r}; choose serial, local or dask")


def run_diagnostics(cfg: DiagConfig, run_dir: str | Path, config_text: str | None = None,
                    workers: int | None = None, threads: int | None = None,
                    retry_failed: bool = False, progress: bool = False, console=None,
                    executor: str | None = None, scheduler: str | None = None) -> DiagSummary:
    """Run (or resume) every fit of ``cfg`` into ``run_dir``; see the module docstring."""
    from harness.run import provenance
    from harness.store import RunLock

    run_dir = Path(run_dir)
    how = choose_execution(cfg, workers, threads, executor, scheduler)
    t0 = time.perf_counter()
    with RunLock(run_dir), DiagStore(run_dir) as store:
        store.claim(cfg)
        (run_dir / "config.json").write_text(json.dumps(cfg.model_dump(), indent=2))
        if config_text is not None:
            (run_dir / "config.toml").write_text(config_text)
        fits = plan_fits(cfg, n_levels(build_task(cfg, cfg.seeds[0])))
        plan = [FitJob(cfg.model_dump(), f, s) for s in cfg.seeds for f in fits]
        old = store.statuses()
        done = (Status.OK,) if retry_failed else STATUSES
        todo = [job for job in plan if old.get(job.key) not in done]
        summary = DiagSummary(run_dir, len(plan), len(plan) - len(todo))
        started = now_iso()
        try:
            _execute(cfg, how, todo, store, summary, progress, console)
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            summary.wall_s = time.perf_counter() - t0
            prov = provenance(cfg, started, now_iso(), how.threads, how.workers, how.kind)
            prov["wall_s"] = summary.wall_s
            (run_dir / "provenance.json").write_text(json.dumps(prov, indent=2))
    return summary


def _execute(cfg: DiagConfig, how: DiagExecution, todo: list[FitJob], store: DiagStore,
             summary: DiagSummary, progress: bool, console) -> None:
    """Submit every fit to the executor and store each record as it arrives (driver only)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from harness.run import ClusterError

    if not todo:
        return
    columns = [TextColumn("[bold]fits"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    executor = make_executor(cfg, how)
    with Progress(*columns, console=console, disable=not progress) as bar:
        task_id = bar.add_task("fits", total=summary.total, completed=summary.already_done)
        try:
            for job in todo:
                executor.submit(job)
            while executor.pending():
                for _, rec in executor.poll(timeout=POLL_S):
                    store.write(rec)
                    summary.counts[rec.status] = summary.counts.get(rec.status, 0) + 1
                    bar.update(task_id, advance=1)
        except (ClusterError, RuntimeError) as exc:  # workers that cannot start, a lost cluster
            raise DiagnosticsError(f"{first_line(exc)}; the fits finished before are stored: "
                                   "run the same command again to resume") from exc
        finally:
            executor.close()

