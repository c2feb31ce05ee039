"""Run jobs on a Dask cluster (``--executor dask``) with the local executor's guarantees.

Dask is the engine: it ships jobs to workers, balances them, routes GPU jobs and survives workers
that come and go.  hierbench adds only what Dask cannot do for a task that runs inside a worker
*thread*: a per-job timeout, a memory cap and crash isolation.

How a job runs
    The driver submits one Dask task per job.  In the Dask worker, the task hands the job to a
    one-process :class:`~harness.run.local.LocalExecutor` owned by that worker thread (a *slot*): a
    long-lived child process started with ``spawn`` that loads the run's plugin files once and then
    runs one job after another.  The slot enforces the timeout and the memory cap and turns a child
    that dies (exception, ``os._exit``, segfault, OOM killer) into a ``failed``/``timeout`` record
    with exactly the reasons the local executor writes, then starts a fresh child.  So the Dask task
    always *returns* a Record; a job never takes its Dask worker down with it, and a hung BLAS call
    is killed with its process, which a thread could not be.

Why not Dask's own failure handling alone
    With the job in the worker's thread, a segfault or ``os._exit`` would kill the Dask worker;
    Dask would re-run the job on another worker (``allowed-failures`` times, 3 by default), taking
    down a worker each time, and a hang could not be stopped at all.  Isolation in a child gives the
    local executor's semantics on any cluster, whatever its configuration.

When a Dask worker itself dies
    (node lost, worker killed from outside, the worker's own memory limit): Dask re-runs its task on
    another worker, as it is built to; if the scheduler gives up (``KilledWorker`` after
    ``allowed-failures`` deaths), the job is recorded ``failed`` with that reason and the run goes
    on.  A child orphaned by its worker's death exits by itself within a second.

Results flow back to the driver, which alone writes the run's SQLite store; resume, retry and
failure recording are the run loop's, unchanged.  The worker a job ran on is added to its
record's ``fit_info`` as ``dask_worker``.

GPU jobs
    A learner whose class declares ``uses_gpu = True`` (and that is not pinned to
    ``device="cpu"``) is submitted with ``resources={"GPU": 1}`` whenever some worker of the
    cluster advertises a ``GPU`` resource (``dask worker --resources GPU=1``), so it runs only
    there; on a cluster without GPU workers it runs on the CPU workers like any other job.

Threads
    ``--executor dask`` without an address starts a :class:`distributed.LocalCluster` on loopback
    with one single-threaded worker process per core (``--workers`` to change it) and BLAS/OpenMP/
    torch limited to ``JobContext.threads`` through the environment and ``threadpoolctl``, so
    workers do not oversubscribe the cores.  On a machine with GPUs the first workers (one per GPU)
    each get one GPU and advertise it.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from harness.experiment import Job
from harness.run.job import JobContext, now_iso, one_line
from harness.run.local import LocalExecutor, Worker, stopped_record, worker_main
from harness.store import Record, Status

log = logging.getLogger(__name__)

THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                   "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
ORPHAN_CHECK_S = 1.0
SLOT_POLL_S = 1.0
SLOT_IDLE_S = 600.0
GPU_INFO_TTL_S = 5.0
CLOSE_TIMEOUT_S = 10.0


class ClusterError(RuntimeError):
    """The Dask cluster cannot be reached, started or used; the message is one line."""


class JobProcessError(RuntimeError):
    """Raised in a Dask worker whose job processes die at start-up (the run stops)."""


def thread_env(threads: int) -> dict[str, str]:
    """Environment variables that cap BLAS/OpenMP threads of a process at ``threads``."""
    return {name: str(int(threads)) for name in THREAD_ENV_VARS}


# =============================================================================================
# worker side: one isolated child process per Dask worker thread
# =============================================================================================
def _child_main(conn: Any, ctx: JobContext, parent_pid: int) -> None:
    """The job process of a slot: the local executor's worker loop, plus an orphan check."""
    threading.Thread(target=_exit_when_orphaned, args=(parent_pid,), daemon=True).start()
    try:
        worker_main(conn, ctx)
    except (BrokenPipeError, ConnectionResetError, EOFError):  # the Dask worker died mid-job
        os._exit(70)


def _exit_when_orphaned(parent_pid: int) -> None:
    """Exit this process once its parent (the Dask worker) is gone."""
    while os.getppid() == parent_pid:
        time.sleep(ORPHAN_CHECK_S)
    os._exit(70)


class _ChildExecutor(LocalExecutor):
    """A :class:`LocalExecutor` whose job processes exit when the Dask worker dies."""

    def _spawn(self) -> Worker:
        # Dask's nanny starts workers as daemonic processes, which multiprocessing forbids to have
        # children; the children are ours to manage (killed on close, or exit when orphaned).
        mp.current_process()._config["daemon"] = False  # type: ignore[attr-defined]
        parent, child = self._mp.Pipe()
        proc = self._mp.Process(target=_child_main, args=(child, self.ctx, os.getpid()),
                                daemon=True)
        proc.start()
        child.close()
        return Worker(proc=proc, conn=parent)


@dataclass
class _Slot:
    """The job process of one Dask worker thread, for one run (``token``)."""

    token: str
    executor: _ChildExecutor
    lock: threading.Lock = field(default_factory=threading.Lock)
    closing: bool = False
    last_used: float = field(default_factory=time.monotonic)


_SLOTS: dict[tuple[int, str], _Slot] = {}
_SLOTS_LOCK = threading.Lock()


def _slot(ctx: JobContext, timeout_s: float, memory_bytes: float | None, token: str) -> _Slot:
    """This thread's slot for this run; slots of other runs idle for long are closed."""
    ident = threading.get_ident()
    now = time.monotonic()
    with _SLOTS_LOCK:
        slot = _SLOTS.get((ident, token))
        if slot is None or slot.closing:
            os.environ.update(thread_env(ctx.threads))  # inherited by the spawned job process
            slot = _Slot(token, _ChildExecutor(ctx, workers=1, timeout_s=timeout_s,
                                               memory_bytes=memory_bytes))
            _SLOTS[(ident, token)] = slot
        slot.last_used = now
        stale = [s for (i, _), s in _SLOTS.items()
                 if i == ident and s is not slot and now - s.last_used > SLOT_IDLE_S]
    for other in stale:  # left behind by a driver that died without closing its run
        _close_if_idle(other)
    return slot


def run_isolated(job: Job, ctx: JobContext, timeout_s: float, memory_bytes: float | None,
                 token: str) -> Record:
    """The Dask task: run ``job`` in this thread's job process; always returns a Record."""
    slot = _slot(ctx, timeout_s, memory_bytes, token)
    with slot.lock:
        try:
            record = _wait_for_record(slot, job)
        except RuntimeError as exc:  # job processes keep dying at start-up
            _drop_slot(slot)
            raise JobProcessError(f"Dask worker {_worker_address()}: {exc}") from None
        if slot.closing:
            _drop_slot(slot)  # kills the job process if the job is still running
    record.fit_info = {**(record.fit_info or {}), "dask_worker": _worker_address()}
    return record


def _wait_for_record(slot: _Slot, job: Job) -> Record:
    """Run ``job`` in the slot's job process and wait for its record."""
    slot.executor.submit(job)
    while True:
        done = slot.executor.poll(timeout=SLOT_POLL_S)
        if done:
            return done[0][1]
        if slot.closing:  # the run was closed: nobody waits for this job any more
            return stopped_record(job, Status.FAILED, reason="the run was closed before the job "
                                  "finished", finished_at=now_iso())


def _worker_address() -> str | None:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except ValueError:  # not inside a Dask worker (direct call in tests)
        return None


def _drop_slot(slot: _Slot) -> None:
    slot.executor.close()
    with _SLOTS_LOCK:
        for key, other in list(_SLOTS.items()):
            if other is slot:
                del _SLOTS[key]


def _close_if_idle(slot: _Slot) -> None:
    """Close ``slot`` now unless a job is running in it (that one closes itself when done)."""
    slot.closing = True
    if slot.lock.acquire(blocking=False):
        try:
            _drop_slot(slot)
        finally:
            slot.lock.release()


def close_slots(token: str) -> int:
    """Stop this run's job processes on this Dask worker (via ``Client.run``); returns how many.

    An idle slot is closed at once; a busy one is marked and closes itself (killing its job
    process) within ``SLOT_POLL_S``, from the thread that owns it.
    """
    with _SLOTS_LOCK:
        mine = [s for s in _SLOTS.values() if s.token == token]
    for slot in mine:
        _close_if_idle(slot)
    return len(mine)


# =============================================================================================
# driver side
# =============================================================================================
def local_gpu_count() -> int:
    """Number of CUDA devices on this machine (0 without torch or CUDA)."""
    try:
        import torch

        return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
    except Exception:  # noqa: BLE001 - no usable torch/CUDA: no GPU
        return 0


def worker_specs(workers: int, threads: int, gpus: int = 0) -> dict[str, dict[str, Any]]:
    """Dask worker specs of the local cluster: ``workers`` single-threaded nanny processes.

    The first ``min(gpus, workers)`` each own one GPU (``CUDA_VISIBLE_DEVICES``) and advertise
    ``resources={"GPU": 1}``; the others see no GPU.  No Dask memory limit: the per-job memory
    cap is enforced on the job process.
    """
    from distributed import Nanny

    specs = {}
    for i in range(max(1, int(workers))):
        env = thread_env(threads)
        options: dict[str, Any] = {"nthreads": 1, "memory_limit": 0, "env": env,
                                   "silence_logs": logging.WARNING}
        if i < gpus:
            env["CUDA_VISIBLE_DEVICES"] = str(i)
            options["resources"] = {"GPU": 1}
        elif gpus:
            env["CUDA_VISIBLE_DEVICES"] = ""
        specs[f"hierbench-{i}"] = {"cls": Nanny, "options": options}
    return specs


def start_local_cluster(workers: int, threads: int, gpus: int | None = None) -> Any:
    """A LocalCluster on loopback with the workers of :func:`worker_specs`, started and ready."""
    from distributed import LocalCluster

    gpus = local_gpu_count() if gpus is None else gpus
    cluster = LocalCluster(n_workers=0, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=":0", memory_limit=0)
    specs = worker_specs(workers, threads, gpus)
    try:
        cluster.worker_spec.update(specs)
        cluster.scale(len(specs))
        cluster.wait_for_workers(len(specs))
    except BaseException:
        cluster.close()
        raise
    log.info("Dask LocalCluster %s: %d workers (%d with a GPU)", cluster.scheduler_address,
             len(specs), min(gpus, len(specs)))
    return cluster


def job_uses_gpu(job: Job) -> bool:
    """True if the job's learner declares ``uses_gpu`` and is not pinned to the CPU."""
    from learners import get_learner_class

    try:
        cls = get_learner_class(job.learner)
    except Exception:  # noqa: BLE001 - an unknown learner fails in its job, not here
        return False
    return bool(getattr(cls, "uses_gpu", False)) and job.learner_params.get("device") != "cpu"


class DaskExecutor:
    """Executor on a Dask cluster: an existing one (``scheduler``) or a LocalCluster it starts.

    The connection (and the LocalCluster) is made on the first ``submit``, so resuming a finished
    run starts nothing.
    """

    def __init__(self, ctx: JobContext, workers: int, timeout_s: float,
                 memory_bytes: float | None = None, scheduler: str | None = None,
                 gpus: int | None = None):
        self.ctx = ctx
        self.workers = workers
        self.timeout_s = float(timeout_s)
        self.memory_bytes = memory_bytes
        self.scheduler = scheduler
        self.gpus = gpus
        self.token = uuid.uuid4().hex[:12]
        self.cluster: Any = None
        self.client: Any = None
        self._running: dict[str, tuple[Job, Any]] = {}
        self._done: queue.Queue = queue.Queue()
        self._gpu_checked = -float("inf")
        self._has_gpu = False
        self._gpu_jobs: dict[tuple[str, str], bool] = {}

    # -- interface ----------------------------------------------------------------------------
    def submit(self, job: Job) -> None:
        client = self._connect()
        resources = {"GPU": 1} if self._wants_gpu(job) else None
        fut = client.submit(
            run_isolated, job, self.ctx, self.timeout_s, self.memory_bytes, self.token,
            key=f"hierbench-{job.key}-{uuid.uuid4().hex[:8]}", resources=resources, pure=False)
        self._running[fut.key] = (job, fut)
        fut.add_done_callback(self._done.put)

    def pending(self) -> int:
        return len(self._running)

    def poll(self, timeout: float) -> list[tuple[Job, Record]]:
        if not self._running:
            return []
        try:
            futs = [self._done.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                futs.append(self._done.get_nowait())
            except queue.Empty:
                break
        out = []
        for fut in futs:
            entry = self._running.pop(fut.key, None)
            if entry is not None:
                out.append((entry[0], self._record(entry[0], fut)))
                fut.release()
        return out

    def close(self) -> None:
        futures = [fut for _, fut in self._running.values()]
        self._running.clear()
        try:
            if self.client is not None:
                if futures:
                    self.client.cancel(futures)
                self.client.run(close_slots, self.token, wait=True)
        except Exception as exc:  # noqa: BLE001 - closing must not hide the run's own outcome
            log.warning("could not stop the job processes on the Dask workers: %s", exc)
        finally:
            self._disconnect()

    # -- connection ---------------------------------------------------------------------------
    def _connect(self) -> Any:
        """The Dask client; connects (starting the LocalCluster if no address) on first use."""
        if self.client is None:
            from distributed import Client

            try:
                if self.scheduler is None:
                    self.cluster = start_local_cluster(self.workers, self.ctx.threads, self.gpus)
                self.client = Client(self.scheduler or self.cluster, set_as_default=False)
            except OSError as exc:
                self._disconnect()
                where = self.scheduler or "the local cluster"
                raise ClusterError(f"cannot connect to the Dask scheduler at {where}: "
                                   f"{one_line(exc)}") from exc
            except BaseException:
                self._disconnect()
                raise
        return self.client

    def _disconnect(self) -> None:
        if self.client is not None:
            self.client.close(timeout=CLOSE_TIMEOUT_S)
            self.client = None
        if self.cluster is not None:
            self.cluster.close(timeout=CLOSE_TIMEOUT_S)
            self.cluster = None

    # -- internals ----------------------------------------------------------------------------
    def _record(self, job: Job, fut: Any) -> Record:
        """The job's Record from a finished future; a Dask-level error becomes ``failed``."""
        lost = ("lost the connection to the Dask scheduler (stopped or restarted?); the stored "
                "results are kept: run the same command again to resume")
        if fut.status == "finished":
            try:
                return fut.result()
            except OSError as exc:  # the result could not be fetched
                raise ClusterError(f"{lost} ({one_line(exc)})") from exc
        if fut.status != "error":  # cancelled or lost: not the job's doing
            raise ClusterError(lost)
        exc = fut.exception()
        if isinstance(exc, JobProcessError):  # as with the local executor, the run stops
            raise ClusterError(f"{exc}; that worker's log says why (a --plugin file or a "
                               "package missing on its node?)")
        reason = f"Dask: {one_line(exc)}"
        if type(exc).__name__ == "KilledWorker":
            reason = f"Dask workers kept dying while running the job: {one_line(exc)}"
        return stopped_record(job, Status.FAILED, reason=reason, finished_at=now_iso())

    def _wants_gpu(self, job: Job) -> bool:
        gkey = (job.learner, str(job.learner_params.get("device")))
        if gkey not in self._gpu_jobs:
            self._gpu_jobs[gkey] = job_uses_gpu(job)
        return self._gpu_jobs[gkey] and self._cluster_has_gpu()

    def _cluster_has_gpu(self) -> bool:
        """Whether a worker advertises a GPU resource (cached a few seconds)."""
        now = time.monotonic()
        if now - self._gpu_checked > GPU_INFO_TTL_S:
            workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
            self._has_gpu = any(w.get("resources", {}).get("GPU", 0) > 0
                                for w in workers.values())
            self._gpu_checked = now
        return self._has_gpu
