"""Running one job: draw data, fit, predict, measure, and return a :class:`~harness.store.Record`.

Data (docs/design.md, "Definitions"):

* the teacher is ``make_task(task, d, seed, **params)``;
* the training set is ``task.sample(n, rng_train)`` with ``rng_train`` the ``TRAIN_DATA`` stream
  of the seed (:mod:`tasks.streams`; the same stream for every n of a series, so the sets nest
  wherever a task draws X first);
* the test set is drawn once per (task instance, d, seed) from the ``TEST_DATA`` stream: inputs
  from the task's law and *noiseless* labels y* = ``task.target(X_test)``; its size is the spec's
  ``n_test``, or with ``n_test = "auto"`` the teacher's own (:func:`choose_n_test`).

Metrics: every metric of the registry (:mod:`harness.store.metrics`) on its evaluation set, the
test set or the training set.  Test error = mean((f(X_test) - y*)^2) / Var(y*), with Var(y*) the
task's EXACT variance (``task.target_variance``, 1 after its exact normalisation), not the
empirical variance of the test labels (heavy-tailed targets make that a noisy denominator): 1.0 =
predicting the mean.

Measurements: wall and CPU seconds of ``fit`` (tuning included) and of ``predict``; peak resident
memory of the process during the job (Linux: VmHWM, reset before the job through
``/proc/self/clear_refs``; elsewhere ``ru_maxrss``).  BLAS and torch threads are limited to
``threads`` for the duration of the job.  Every exception is caught and recorded as ``failed``
with a one-line reason and the traceback's tail; nothing a learner does can stop the run.
"""

from __future__ import annotations

import json
import math
import platform
import resource
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from harness.experiment import Job
from harness.experiment.spec import N_TEST_MAX
from harness.experiment.task_values import resolve_task_values
from harness.store import On, Record, Status, Targets, evaluate
from learners.base import Family
from tasks.streams import Stream, stream_rng

TRACEBACK_LINES = 15


@dataclass
class JobContext:
    """How a job runs (not what it computes): threads, memory cap, plugin files to load."""

    threads: int = 1
    memory_bytes: float | None = None
    plugins: list[str] = field(default_factory=list)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def draw_test_set(task: Any, seed: int, n_test: int) -> tuple[np.ndarray, np.ndarray]:
    """Fixed held-out set of the (task instance, d, seed): inputs and noiseless labels."""
    X = task._draw_inputs(n_test, stream_rng(seed, Stream.TEST_DATA))
    return X, np.asarray(task.target(X), dtype=np.float64)


#: an automatic test-set size is rounded up to a multiple of this (stable across round-off)
N_TEST_STEP = 1024
#: residual kurtosis per teacher, computed once per worker process
_KAPPA: dict[tuple, float | None] = {}


def choose_n_test(task: Any, setting: int | str, cap: int | None,
                  teacher: tuple | None = None) -> tuple[int, float | None]:
    """(n_test, kappa) for the spec's ``n_test`` setting on this teacher.

    kappa = E[r^4] / E[r^2]^2 is the kurtosis of the teacher's top residual (exact for
    multi_index, Monte Carlo elsewhere; None where the task cannot evaluate that residual, e.g.
    bfc on its Monte Carlo route).  The measured test error e_hat = mean_i r_i^2 over n_test
    i.i.d. points has relative standard error sqrt((kappa - 1) / n_test), stated in the report
    for either setting.  A number is used as it is.  ``"auto"``: an error of size eps has
    sd <= eps / 10 when n_test >= 100 (max(kappa, 3) - 1) (``task.recommended_n_test``); that
    size is rounded up to a multiple of ``N_TEST_STEP`` and capped at ``cap`` (then
    sd = eps sqrt((kappa - 1) / cap) > eps / 10), and without kappa the cap is used.
    ``teacher`` (a hashable identity of the task instance) caches kappa in the worker process.
    """
    if teacher is None:
        kappa = _kurtosis(task)
    else:  # a Monte Carlo kurtosis costs ~10 s (bfc L = 3, d = 16): once per teacher and process
        if teacher not in _KAPPA:
            _KAPPA[teacher] = _kurtosis(task)
        kappa = _KAPPA[teacher]
    if setting != "auto":
        return int(setting), kappa
    if kappa is None:
        return int(cap if cap is not None else N_TEST_MAX), None
    need = task.recommended_n_test(kurtosis=kappa)
    size = int(math.ceil(need / N_TEST_STEP)) * N_TEST_STEP
    return (size if cap is None else min(size, int(cap))), kappa


def _kurtosis(task: Any) -> float | None:
    try:
        return float(task.residual_kurtosis())
    except NotImplementedError:  # no top residual (bfc's Monte Carlo route, some plugins)
        return None


def draw_training_set(task: Any, seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    return task.sample(n, stream_rng(seed, Stream.TRAIN_DATA))


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for mod in ("numpy", "scipy", "sklearn", "torch", "hierbench"):
        try:
            if mod == "hierbench":
                from importlib.metadata import version

                out[mod] = version("hierbench")
            else:
                out[mod] = getattr(__import__(mod), "__version__", "?")
        except Exception:  # noqa: BLE001 - a missing optional package is just absent
            continue
    return out


def learner_family_of(name: str) -> Family:
    """Family declared by the learner class registered as ``name`` (baseline if unknown)."""
    from learners import get_learner_class, learner_family

    try:
        return learner_family(get_learner_class(name))
    except Exception:  # noqa: BLE001 - an unimportable plugin has no family to report
        return Family.BASELINE


def base_record(job: Job, status: Status, **fields: Any) -> Record:
    """A record with the job's identity (and its learner's family) filled in."""
    fields.setdefault("family", learner_family_of(job.learner))
    fields.setdefault("n_test", job.n_test if isinstance(job.n_test, int) else None)
    return Record(
        key=job.key, task=job.task, task_label=job.task_label, task_params=job.task_params,
        d=job.d, learner=job.learner, label=job.label, learner_params=job.learner_params,
        n=job.n, seed=job.seed, status=status,
        host=socket.gethostname(), **fields,
    )


def failure_record(job: Job, exc: BaseException, started: str, **fields: Any) -> Record:
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    tail = "".join(tb).strip().splitlines()[-TRACEBACK_LINES:]
    return base_record(
        job, Status.FAILED, reason=one_line(exc), traceback="\n".join(tail),
        started_at=started, finished_at=now_iso(), **fields,
    )


def one_line(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {msg[0]}" if msg else type(exc).__name__
    return text[:500]


class PeakMemory:
    """Peak RSS of this process during a block (bytes)."""

    def __enter__(self) -> PeakMemory:
        self._linux = sys.platform.startswith("linux")
        if self._linux:
            try:
                with open("/proc/self/clear_refs", "w") as fh:
                    fh.write("5")
            except OSError:
                self._linux = False
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bytes = self._read()

    def _read(self) -> int:
        if self._linux:
            with open("/proc/self/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) * 1024
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def limit_threads(threads: int) -> Any:
    """Context manager limiting BLAS/OpenMP (threadpoolctl) and torch intra-op threads."""
    from threadpoolctl import threadpool_limits

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(int(threads))
    return threadpool_limits(limits=int(threads))


def run_job(job: Job, ctx: JobContext | None = None) -> Record:
    """Run one job to a Record; never raises (except KeyboardInterrupt/SystemExit)."""
    ctx = ctx or JobContext()
    started = now_iso()
    extra: dict[str, Any] = {"threads": ctx.threads, "versions": versions()}
    try:
        return _fit_and_score(job, ctx, started, extra)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - a learner's failure is a result
        return failure_record(job, exc, started, **extra)


def _fit_and_score(job: Job, ctx: JobContext, started: str, extra: dict[str, Any]) -> Record:
    from learners import learner_family, make_learner
    from learners.base import set_random_state
    from tasks import make_task

    task = make_task(job.task, d=job.d, seed=job.seed, **job.task_params)
    info = task.info()
    teacher = (job.task, json.dumps(job.task_params, sort_keys=True, default=str), job.d, job.seed)
    n_test, kappa = choose_n_test(task, job.n_test, job.n_test_max, teacher)
    info = {**info, "n_test_rule": "auto" if job.n_test == "auto" else "fixed",
            "residual_kurtosis": kappa,
            "n_test_needed": None if kappa is None else task.recommended_n_test(kurtosis=kappa)}
    extra.update(task_info=info, hierarchy_index=info.get("hierarchy_index"),
                 top_share=info.get("top_share"), n_test=n_test)
    X_test, y_test = draw_test_set(task, job.seed, n_test)
    X, y = draw_training_set(task, job.seed, job.n)
    params = resolve_task_values(job.learner, job.learner_params, job.task, job.d,
                                 job.task_params, task=task)
    est = set_random_state(make_learner(job.learner, **params), job.seed)
    extra["family"] = learner_family(est)
    with limit_threads(ctx.threads), PeakMemory() as peak:
        t0, c0 = time.perf_counter(), time.process_time()
        est.fit(X, y)
        fit_wall, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
        t1 = time.perf_counter()
        pred = np.asarray(est.predict(X_test), dtype=np.float64).ravel()
        predict_wall = time.perf_counter() - t1
        train_pred = np.asarray(est.predict(X), dtype=np.float64).ravel()
    fit_info = jsonable(getattr(est, "fit_info_", {}))
    timing = dict(fit_wall_s=fit_wall, fit_cpu_s=fit_cpu, predict_wall_s=predict_wall,
                  peak_mem_bytes=peak.bytes, fit_info=fit_info)
    if pred.shape != y_test.shape or not np.all(np.isfinite(pred)):
        bad = int(np.sum(~np.isfinite(pred))) if pred.shape == y_test.shape else -1
        reason = (f"predictions contain {bad} NaN/inf values" if bad >= 0
                  else f"predict returned shape {pred.shape}, expected {y_test.shape}")
        return base_record(job, Status.FAILED, reason=reason, started_at=started,
                           finished_at=now_iso(), **timing, **extra)
    values = evaluate(task, {On.TEST: (pred, Targets(X_test, y_test)),
                             On.TRAIN: (train_pred, Targets(X, y))})
    return base_record(
        job, Status.OK, **Record.metric_fields(values),
        started_at=started, finished_at=now_iso(), **timing, **extra,
    )


def jsonable(obj: Any) -> Any:
    """Best-effort conversion of a learner's fit_info_ to JSON types."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.generic,)):
        return obj.item()
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return repr(obj)

