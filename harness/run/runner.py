"""The run loop: spec -> plan -> scheduler -> executor -> store, with a progress bar.

A run lives in one folder: ``spec.toml`` (the spec as given), ``spec.json`` (as validated),
``provenance.json`` (commit, versions, machine, times), ``results.sqlite`` (one row per job), and
``report/`` once a report is built.  Running the same spec into the same folder resumes: every job
whose record is stored is skipped (failed/timeout/skipped ones are re-run with ``retry_failed``).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from harness.experiment import Job, Spec, TaskValues, plan
from harness.run.job import JobContext, now_iso, versions
from harness.run.local import LocalExecutor, SerialExecutor
from harness.run.schedule import TIME_SLACK, Refusal, Scheduler
from harness.store import BAD, Record, ResultStore, RunLock, SkipKind, Status
from registry import plugin_paths


@dataclass
class RunOptions:
    executor: str | None = None       # serial | local | dask (None: the spec's)
    workers: int | None = None
    threads: int | None = None
    scheduler: str | None = None      # dask scheduler address
    retry_failed: bool = False
    progress: bool = True


@dataclass(frozen=True)
class FailedLearner:
    """A learner none of whose jobs in the run folder succeeded, and why the first one failed."""

    label: str
    jobs: int
    failed: int
    first_reason: str

    def line(self) -> str:
        return (f"learner {self.label!r}: all {self.jobs} jobs failed or timed out"
                if self.failed == self.jobs else
                f"learner {self.label!r}: no job succeeded ({self.failed} of {self.jobs} "
                "failed or timed out, the rest skipped)") + f"; first: {self.first_reason}"


def failed_learners(run_dir: str | Path) -> list[FailedLearner]:
    """Learners with no ok record and at least one failed or timed-out job, in label order."""
    from harness.store import results_frame

    df = results_frame(run_dir)
    out = []
    if not len(df):
        return out
    for label, g in df.groupby("label", sort=True):
        bad = g[g["status"].isin(BAD)]
        if (g["status"] == Status.OK).any() or bad.empty:
            continue
        first = bad.sort_values(["finished_at", "d", "n", "seed"], na_position="last").iloc[0]
        reason = str(first["reason"] or first["status"]).strip().splitlines()
        out.append(FailedLearner(str(label), len(g), len(bad),
                                 reason[0] if reason else str(first["status"])))
    return out


@dataclass
class RunSummary:
    run_dir: Path
    total: int
    already_done: int
    counts: Counter = field(default_factory=Counter)
    interrupted: bool = False


class JobResources:
    """A job's predicted :class:`~learners.base.Resources`, from its learner's resource model
    with the parameters the job will fit with: ``"task"`` values resolved to the task's degree
    (:attr:`values`, a :class:`~harness.experiment.TaskValues`), each learner built once per
    (name, resolved parameters).  Shared by the run's admission and the cost estimate."""

    def __init__(self) -> None:
        self.values = TaskValues()
        self._learners: dict[str, Any] = {}

    def of(self, learner: str, params: dict[str, Any], n: int, d: int):
        """The model's Resources of ``learner`` with resolved ``params`` on (n, d), or None."""
        from learners import learner_resources, make_learner

        key = learner + json.dumps(params, sort_keys=True, default=str)
        if key not in self._learners:
            self._learners[key] = make_learner(learner, **params)
        return learner_resources(self._learners[key], n, d)


def resource_admission(spec: Spec, resources: JobResources | None = None):
    """Admission check from the learner's resource model against the run's budget.

    The model sees the parameters the job will fit with: a ``"task"`` value (poly_features'
    ``degree = "task"``) resolved to the task's degree (:mod:`harness.experiment.task_values`),
    so a job past the memory cap is skipped as ``resource_memory`` instead of failing in fit.
    ``resources`` lets a caller share its caches (the cost estimate)."""
    cap = spec.budget.memory_gb * 2**30
    resources = resources if resources is not None else JobResources()

    def admit(job: Job) -> Refusal | None:
        try:
            params = resources.values.for_job(job)
        except Exception:  # noqa: BLE001 - e.g. a plugin task that raises when built: the
            return None    # job runs and records that failure itself, the run goes on
        res = resources.of(job.learner, params, job.n, job.d)
        if res is None:
            return None
        if res.memory_bytes > cap:
            return Refusal(SkipKind.RESOURCE_MEMORY,
                           f"predicted peak memory {res.memory_bytes / 2**30:.2f} GiB > memory "
                           f"cap {spec.budget.memory_gb:g} GiB")
        own = getattr(res, "limit_bytes", None)  # a plugin's Resources may not have it
        if own is not None and res.memory_bytes > own:
            return Refusal(SkipKind.RESOURCE_MEMORY,
                           f"predicted peak memory {res.memory_bytes / 2**30:.2f} GiB > the "
                           f"learner's own memory cap {own / 2**30:.3g} GiB")
        if res.seconds is not None and res.seconds > TIME_SLACK * spec.budget.timeout_s:
            return Refusal(SkipKind.RESOURCE_TIME,
                           f"predicted fit time {res.seconds:.0f} s > {TIME_SLACK:g} x timeout "
                           f"{spec.budget.timeout_s:g} s")
        return None

    return admit


def choose_workers(options: RunOptions, spec: Spec) -> tuple[int, int]:
    """(worker processes, threads per job); defaults: one worker per core, cores // workers."""
    cores = os.cpu_count() or 1
    kind = options.executor or spec.execution.executor
    workers = options.workers or spec.execution.workers or (1 if kind == "serial" else cores)
    threads = options.threads or spec.execution.threads_per_job or max(1, cores // workers)
    return workers, threads


def make_executor(kind: str, ctx: JobContext, workers: int, spec: Spec, options: RunOptions):
    mem = spec.budget.memory_gb * 2**30
    if kind == "serial":
        return SerialExecutor(ctx)
    if kind == "local":
        return LocalExecutor(ctx, workers=workers, timeout_s=spec.budget.timeout_s,
                             memory_bytes=mem)
    if kind == "dask":
        from harness.run.cluster import DaskExecutor

        return DaskExecutor(ctx, workers=workers, timeout_s=spec.budget.timeout_s,
                            memory_bytes=mem,
                            scheduler=options.scheduler or spec.execution.scheduler)
    raise ValueError(f"unknown executor {kind!r}; choose serial, local or dask")


def provenance(spec: Spec, started: str, finished: str | None, threads: int, workers: int,
               executor: str) -> dict[str, Any]:
    return {
        "spec": spec.name, "git_commit": _git_commit(), "versions": versions(),
        "hostname": platform.node(), "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
        "gpu": _gpu_name(), "threads_per_job": threads, "workers": workers,
        "executor": executor, "started_at": started, "finished_at": finished,
    }


def _git_commit() -> str | None:
    """HEAD of the checkout hierbench runs from (suffix "+dirty" with uncommitted changes)."""
    here = Path(__file__).resolve().parent

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=here, capture_output=True, text=True,
                              timeout=5).stdout.strip()

    try:
        head = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return (head + ("+dirty" if dirty else "")) or None


def _gpu_name() -> str | None:
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:  # noqa: BLE001
        return None


def write_spec_files(run_dir: Path, spec: Spec, spec_text: str | None) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "spec.json").write_text(json.dumps(spec.model_dump(), indent=2))
    if spec_text is not None:
        (run_dir / "spec.toml").write_text(spec_text)


def run_spec(spec: Spec, run_dir: str | Path, options: RunOptions | None = None,
             spec_text: str | None = None, console: Console | None = None) -> RunSummary:
    """Run (or resume) every job of ``spec`` into ``run_dir``; returns counts per status."""
    from harness.experiment import validate_spec

    validate_spec(spec)  # every learner and task configuration, before any job runs
    options = options or RunOptions()
    console = console or Console(stderr=True)
    run_dir = Path(run_dir)
    kind = options.executor or spec.execution.executor
    workers, threads = choose_workers(options, spec)
    with RunLock(run_dir), ResultStore(run_dir) as store:
        write_spec_files(run_dir, spec, spec_text)
        prov = provenance(spec, now_iso(), None, threads, workers, kind)
        prov_path = run_dir / "provenance.json"
        prov_path.write_text(json.dumps(prov, indent=2))
        sched = Scheduler(plan(spec), {r.key: r for r in store.records()}, spec.eps,
                          adaptive=spec.adaptive, retry_failed=options.retry_failed,
                          admit=resource_admission(spec))
        summary = RunSummary(run_dir, sched.total, sched.already_done())
        ctx = JobContext(threads=threads, memory_bytes=spec.budget.memory_gb * 2**30,
                         plugins=plugin_paths())
        executor = make_executor(kind, ctx, workers, spec, options)
        try:
            _loop(sched, executor, store, summary, console, options.progress)
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            executor.close()
            prov_path.write_text(json.dumps({**prov, "finished_at": now_iso()}, indent=2))
    return summary


def _loop(sched: Scheduler, executor: Any, store: ResultStore, summary: RunSummary,
          console: Console, show: bool) -> None:
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("failed {task.fields[failed]}"), TimeElapsedColumn(),
               TextColumn("eta"), TimeRemainingColumn()]
    with Progress(*columns, console=console, disable=not show, transient=False) as bar:
        task_id = bar.add_task("jobs", total=summary.total, completed=summary.already_done,
                               failed=0)

        def stored(rec: Record) -> None:
            store.write(rec)
            summary.counts[rec.status] += 1
            bar.update(task_id, advance=1,
                       failed=sum(summary.counts[s] for s in BAD))

        while True:
            jobs, skips = sched.step()
            for rec in skips:
                stored(rec)
            for job in jobs:
                executor.submit(job)
            if executor.pending() == 0 and not jobs and not skips:
                if sched.finished():
                    break
                raise RuntimeError("scheduler stalled with unfinished series (a bug)")
            for job, rec in executor.poll(timeout=0.5):
                stored(rec)
                sched.complete(job, rec)
