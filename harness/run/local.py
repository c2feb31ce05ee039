"""Executors: where jobs run.  All share one small interface so the run loop does not care.

* :class:`SerialExecutor` runs each job in the driver process (use it with pdb).  It cannot enforce
  timeouts or memory caps, and a job that kills its process kills the run.
* :class:`LocalExecutor` keeps ``workers`` long-lived worker processes (``spawn`` start method). The
  driver watches each one: a job past its timeout is killed and recorded as ``timeout``; a worker
  whose resident memory passes the cap is killed and its job recorded as ``failed``; a worker that
  dies (``os._exit``, segfault, the kernel's OOM killer) has its job recorded as ``failed`` with the
  exit code or signal.  A replacement worker starts and the run goes on.
* :class:`harness.run.cluster.DaskExecutor` runs jobs on a Dask cluster (same interface).

Interface: ``submit(job)`` queues a job; ``poll(timeout)`` returns the ``(job, record)`` pairs that
finished within ``timeout`` seconds; ``pending()`` counts queued + running jobs; ``close()`` stops
the workers.  Records are created in workers but stored only by the driver.

A job is a benchmark :class:`~harness.experiment.Job` (run by :func:`~harness.run.job.run_job`,
recorded as a :class:`~harness.store.Record`) or any other :class:`RunnableJob` (for instance a
fit of the BFC diagnostics), which runs itself and makes its own records: :func:`execute` and
:func:`stopped_record` choose.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol

import psutil

from harness.experiment import Job
from harness.run.job import JobContext, base_record, now_iso, run_job
from harness.store import Record, Status

MEMORY_CHECK_S = 0.25
READY = "ready"
MAX_START_FAILURES = 3


class RunnableJob(Protocol):
    """A job that is not a benchmark :class:`Job`: it runs itself and makes its own records.

    ``run(ctx)`` computes the job's record and never raises (a failure is a record);
    ``stopped(status, **fields)`` is the record of the job when the executor had to stop or
    lose it (``status`` "timeout" or "failed"; ``fields``: ``reason``, ``started_at``,
    ``finished_at`` and possibly ``fit_wall_s``, ``peak_mem_bytes``).  A record has a
    ``fit_info`` attribute (a dict or None: the Dask executor adds its worker's address).
    ``key`` names the job; ``learner`` and ``learner_params`` let the Dask executor route GPU
    learners.  It must pickle (it travels to worker processes).
    """

    key: str
    learner: str
    learner_params: dict[str, Any]

    def run(self, ctx: JobContext) -> Any: ...

    def stopped(self, status: str, **fields: Any) -> Any: ...


def execute(job: Job | RunnableJob, ctx: JobContext) -> Any:
    """Run one job in this process: a :class:`Job` by ``run_job``, any other by ``job.run``."""
    return run_job(job, ctx) if isinstance(job, Job) else job.run(ctx)


def stopped_record(job: Job | RunnableJob, status: str, **fields: Any) -> Any:
    """The record of a job the executor stopped (timeout, memory cap) or lost (a dead process)."""
    return base_record(job, status, **fields) if isinstance(job, Job) \
        else job.stopped(status, **fields)


class SerialExecutor:
    """Run jobs one after another in this process."""

    def __init__(self, ctx: JobContext):
        self.ctx = ctx
        self._queue: deque[Job] = deque()

    def submit(self, job: Job) -> None:
        self._queue.append(job)

    def poll(self, timeout: float) -> list[tuple[Job, Record]]:
        if not self._queue:
            return []
        job = self._queue.popleft()
        return [(job, execute(job, self.ctx))]

    def pending(self) -> int:
        return len(self._queue)

    def close(self) -> None:
        self._queue.clear()


def worker_main(conn: Connection, ctx: JobContext) -> None:
    """Worker process loop: initialise, say "ready", then run jobs until None arrives.

    Initialisation (plugins, registries, torch) happens before "ready", so it is never counted
    against a job's timeout.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver handles Ctrl-C
    from registry import load_plugin_files

    load_plugin_files(ctx.plugins)
    _preimport()
    conn.send(READY)
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        conn.send(execute(job, ctx))


def _preimport() -> None:
    import importlib

    for name in ("sklearn.linear_model", "learners", "tasks", "torch"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass


@dataclass
class Worker:
    proc: Any
    conn: Connection
    job: Job | None = None
    started: float = 0.0
    ready: bool = False

    @property
    def pid(self) -> int:
        return int(self.proc.pid)


class LocalExecutor:
    """A pool of worker processes with per-job timeout, memory cap and crash isolation."""

    def __init__(self, ctx: JobContext, workers: int, timeout_s: float,
                 memory_bytes: float | None = None):
        self.ctx = ctx
        self.n_workers = max(1, int(workers))
        self.timeout_s = float(timeout_s)
        self.memory_bytes = memory_bytes
        self._mp = mp.get_context("spawn")
        self._queue: deque[Job] = deque()
        self._workers: list[Worker] = []
        self._last_mem_check = 0.0
        self._start_failures = 0

    # -- interface ----------------------------------------------------------------------------
    def submit(self, job: Job) -> None:
        self._queue.append(job)

    def pending(self) -> int:
        return len(self._queue) + sum(w.job is not None for w in self._workers)

    def poll(self, timeout: float) -> list[tuple[Job, Record]]:
        self._dispatch()
        active = [w for w in self._workers if w.job is not None or not w.ready]
        if not active:
            return []
        results: list[tuple[Job, Record]] = []
        waitables = [w.conn for w in active] + [w.proc.sentinel for w in active]
        ready = set(wait(waitables, timeout=min(timeout, MEMORY_CHECK_S)))
        for w in active:
            if w.conn in ready or w.proc.sentinel in ready:
                results.extend(self._collect(w))
        results.extend(self._enforce_limits())
        self._dispatch()
        return results

    def close(self) -> None:
        for w in self._workers:
            try:
                w.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        deadline = time.monotonic() + 5.0
        for w in self._workers:
            if w.job is not None:
                self._kill(w)
            w.proc.join(timeout=max(0.0, deadline - time.monotonic()))
            if w.proc.is_alive():
                self._kill(w)
        self._workers.clear()
        self._queue.clear()

    # -- internals ----------------------------------------------------------------------------
    def _spawn(self) -> Worker:
        # idle OpenMP threads sleep instead of spinning: several workers share the cores
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        parent, child = self._mp.Pipe()
        proc = self._mp.Process(target=worker_main, args=(child, self.ctx), daemon=True)
        proc.start()
        child.close()
        return Worker(proc=proc, conn=parent)

    def _dispatch(self) -> None:
        while self._queue:
            idle = [w for w in self._workers if w.ready and w.job is None and w.proc.is_alive()]
            if not idle and len(self._workers) < self.n_workers:
                self._workers.append(self._spawn())
                continue
            if not idle:
                return
            w = idle[0]
            job = self._queue.popleft()
            try:
                w.conn.send(job)
            except (BrokenPipeError, OSError):
                self._queue.appendleft(job)
                self._replace(w)
                continue
            w.job, w.started = job, time.monotonic()

    def _collect(self, w: Worker) -> list[tuple[Job, Record]]:
        job = w.job
        if w.conn.poll():
            try:
                msg = w.conn.recv()
            except (EOFError, OSError):
                msg = None
            if msg == READY:
                w.ready = True
                self._start_failures = 0
                return []
            if msg is not None and job is not None:
                w.job = None
                return [(job, msg)]
        if not w.proc.is_alive():
            if job is None:  # died while starting: replace it, unless that keeps happening
                self._replace(w)
                self._start_failures += 1
                if self._start_failures >= MAX_START_FAILURES:
                    raise RuntimeError(
                        f"worker processes keep dying at start-up (exit code {w.proc.exitcode});"
                        " run with --executor serial to see why")
                return []
            w.proc.join(timeout=1.0)
            record = _died_record(job, w.proc.exitcode, w.started)
            self._replace(w)
            return [(job, record)]
        return []

    def _enforce_limits(self) -> list[tuple[Job, Record]]:
        out = []
        now = time.monotonic()
        check_mem = self.memory_bytes is not None and now - self._last_mem_check >= MEMORY_CHECK_S
        if check_mem:
            self._last_mem_check = now
        for w in list(self._workers):
            if w.job is None:
                continue
            elapsed = now - w.started
            if elapsed > self.timeout_s:
                rec = stopped_record(w.job, Status.TIMEOUT, reason=(
                    f"exceeded the per-job timeout of {self.timeout_s:g} s; worker killed"),
                    fit_wall_s=elapsed, started_at=_iso_ago(elapsed), finished_at=now_iso())
                out.append((w.job, rec))
                self._replace(w)
            elif check_mem:
                rss = _tree_rss(w.pid)
                if rss > self.memory_bytes:
                    rec = stopped_record(w.job, Status.FAILED, reason=(
                        f"exceeded the memory cap: {rss / 2**30:.2f} GiB > "
                        f"{self.memory_bytes / 2**30:.2f} GiB; worker killed"),
                        peak_mem_bytes=rss, started_at=_iso_ago(elapsed), finished_at=now_iso())
                    out.append((w.job, rec))
                    self._replace(w)
        return out

    def _kill(self, w: Worker) -> None:
        try:
            for child in psutil.Process(w.pid).children(recursive=True):
                child.kill()
        except psutil.Error:
            pass
        if w.proc.is_alive():
            w.proc.kill()
        w.proc.join(timeout=5.0)

    def _replace(self, w: Worker) -> None:
        self._kill(w)
        w.conn.close()
        self._workers.remove(w)


def _tree_rss(pid: int) -> int:
    """Resident memory of a process and its children, bytes."""
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs)
    except psutil.Error:
        return 0


def _died_record(job: Job, exitcode: int | None, started: float) -> Record:
    if exitcode is not None and exitcode < 0:
        try:
            how = f"killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"killed by signal {-exitcode}"
    else:
        how = f"exited with code {exitcode}"
    hint = " (out of memory?)" if exitcode == -signal.SIGKILL else ""
    elapsed = time.monotonic() - started
    return stopped_record(job, Status.FAILED, reason=f"worker process died: {how}{hint}",
                       started_at=_iso_ago(elapsed), finished_at=now_iso())


def _iso_ago(seconds: float) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat(timespec="seconds")
