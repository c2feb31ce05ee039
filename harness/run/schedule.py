"""Which job runs next: resume, resource admission and the adaptive n-search.

For every series (one learning curve of one seed, see :mod:`harness.experiment.planning`) the
scheduler walks the n-grid upwards:

* a job whose record is already stored is *done* and not run again (``failed``, ``timeout`` and
  ``skipped`` records are re-run only with ``retry_failed``);
* before a job is released, the learner's resource model is asked for its peak memory and time at
  (n, d); a job predicted to exceed the memory cap, or to take more than ``TIME_SLACK`` times the
  per-job timeout, is not run but stored as ``skipped`` with skip kind ``resource_memory`` or
  ``resource_time`` and the reason ("resource model: ...");
* with ``adaptive`` on, a series runs its grid upwards one job at a time and stops once eps is
  reached at two consecutive grid points (the lucky-dip rule of docs/metrics.md: a seed reaches
  eps at n when its error is <= eps there AND at the next grid point, so the search runs one
  point past the first pass; a pass followed by a miss counts for nothing and the search goes
  on), or once a job times out or cannot fit; the remaining larger n of that series are stored
  as ``skipped`` with skip kind ``eps_reached``, ``stopped_after_timeout`` or
  ``stopped_after_skip`` (:class:`~harness.store.SkipKind`) and the reason in words ("adaptive:
  eps reached at n=a and n=b", "adaptive: ..."), so every grid point is accounted for.  A
  single pass at the top of the grid stays a single pass (the analysis treats it as
  unconfirmed).  Without ``adaptive`` all admitted jobs are released at once.

The eps threshold of a record is ``eps.value`` (absolute) or ``eps.value * top_share`` of the
record's teacher (relative; see docs/metrics.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.experiment import Eps, Job, Series
from harness.run.job import base_record, now_iso
from harness.store import RETRYABLE, Record, SkipKind, Status

TIME_SLACK = 3.0


@dataclass(frozen=True)
class Refusal:
    """Why the resource model refuses a job: the skip kind and a one-line reason for people."""

    kind: SkipKind
    reason: str


Admission = Callable[[Job], "Refusal | None"]


def eps_threshold(eps: Eps, record: Record) -> float | None:
    """The error a record must reach: absolute eps, or eps * top level share (None without one)."""
    thr = float(eps.threshold(record.top_share)[0])
    return thr if math.isfinite(thr) else None


def reached(eps: Eps, record: Record) -> bool:
    thr = eps_threshold(eps, record)
    return (record.status == Status.OK and record.test_error is not None and thr is not None
            and record.test_error <= thr)


@dataclass
class _State:
    series: Series
    pos: int = 0               # index of the next job to consider
    running: bool = False
    stop: Refusal | None = None  # why the rest of the series is skipped (adaptive search)
    passed_at: int | None = None  # n of an unconfirmed pass (the previous job reached eps)


@dataclass
class Scheduler:
    series: list[Series]
    done: dict[str, Record]
    eps: Eps
    adaptive: bool = False
    retry_failed: bool = False
    admit: Admission | None = None
    _states: list[_State] = field(init=False)

    def __post_init__(self) -> None:
        if self.retry_failed:
            self.done = {k: r for k, r in self.done.items() if r.status not in RETRYABLE}
        self._states = [_State(s) for s in self.series]
        self._by_series = {s.key: st for s, st in zip(self.series, self._states, strict=True)}

    @property
    def total(self) -> int:
        return sum(len(s.jobs) for s in self.series)

    def already_done(self) -> int:
        keys = {j.key for s in self.series for j in s.jobs}
        return len(keys & set(self.done))

    def step(self) -> tuple[list[Job], list[Record]]:
        """Jobs to run now, and skip records to store now."""
        jobs: list[Job] = []
        skips: list[Record] = []
        for st in self._states:
            if st.running:
                continue
            while st.pos < len(st.series.jobs):
                job = st.series.jobs[st.pos]
                if job.key in self.done:
                    self._after(st, self.done[job.key])
                    st.pos += 1
                    continue
                if st.stop is not None:
                    skips.append(self._skip(job, st.stop))
                    st.pos += 1
                    continue
                refusal = self.admit(job) if self.admit else None
                if refusal is not None:
                    skips.append(self._skip(job, Refusal(refusal.kind,
                                                         f"resource model: {refusal.reason}")))
                    if self.adaptive:
                        st.stop = Refusal(SkipKind.STOPPED_AFTER_SKIP,
                                          f"adaptive: n={job.n} does not fit the budget")
                    st.pos += 1
                    continue
                jobs.append(job)
                st.pos += 1
                if self.adaptive:
                    st.running = True
                    break
        return jobs, skips

    def complete(self, job: Job, record: Record) -> None:
        """Tell the scheduler a job finished (its record is stored by the caller)."""
        self.done[record.key] = record
        st = self._by_series.get(job.series_key)
        if st is not None:
            st.running = False
            self._after(st, record)

    def finished(self) -> bool:
        return all(st.pos >= len(st.series.jobs) and not st.running for st in self._states)

    def _after(self, st: _State, record: Record) -> None:
        if not self.adaptive or st.stop is not None:
            return
        if reached(self.eps, record):
            if st.passed_at is not None:
                st.stop = Refusal(SkipKind.EPS_REACHED,
                                  f"adaptive: eps reached at n={st.passed_at} and n={record.n}")
            else:
                st.passed_at = record.n
            return
        st.passed_at = None
        if record.status == Status.TIMEOUT:
            st.stop = Refusal(SkipKind.STOPPED_AFTER_TIMEOUT, f"adaptive: n={record.n} timed out")
        elif record.status == Status.SKIPPED:
            st.stop = Refusal(SkipKind.STOPPED_AFTER_SKIP, f"adaptive: n={record.n} was skipped")

    def _skip(self, job: Job, why: Refusal) -> Record:
        rec = base_record(job, Status.SKIPPED, reason=why.reason, skip_kind=why.kind,
                          started_at=now_iso(), finished_at=now_iso())
        self.done[job.key] = rec
        return rec

