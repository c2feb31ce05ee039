"""Planning: a validated :class:`~harness.experiment.Spec` as jobs with stable content keys.

A *series* is one learning curve for one seed: (task, task params, d, learner, learner params,
seed); its jobs run that series at every n of the n-grid.  A job's key is the SHA-1 of the canonical
JSON of everything that determines its result (task name and params, d, learner name and params, n,
seed, test-set size - a number, or "auto" with its cap), so the same spec always gives the same
keys and changing one parameter changes only the keys it affects.  Labels, budgets and execution
settings are not part of the key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from harness.experiment.spec import Spec

#: ``n_test = "auto"``: each teacher's test set sized by :func:`harness.run.job.choose_n_test`
AUTO_N_TEST = "auto"


def content_key(payload: dict[str, Any]) -> str:
    """SHA-1 hex digest (first 20 chars) of the canonical JSON of ``payload``."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Job:
    """One fit: learner ``label`` on ``n`` samples of task ``task_label`` at dimension ``d``."""

    task: str
    task_label: str
    task_params: dict[str, Any] = field(hash=False)
    d: int
    learner: str
    label: str
    learner_params: dict[str, Any] = field(hash=False)
    n: int
    seed: int
    n_test: int | str
    n_test_max: int | None = None

    def _identity(self, with_n: bool) -> dict[str, Any]:
        ident = {
            "task": self.task, "task_params": self.task_params, "d": self.d,
            "learner": self.learner, "learner_params": self.learner_params,
            "seed": self.seed, "n_test": self.n_test,
        }
        if self.n_test == AUTO_N_TEST:  # the cap changes the result; a fixed size keeps old keys
            ident["n_test_max"] = self.n_test_max
        if with_n:
            ident["n"] = self.n
        return ident

    @property
    def key(self) -> str:
        return content_key(self._identity(with_n=True))

    @property
    def series_key(self) -> str:
        """Key of the learning curve this job belongs to (everything but n)."""
        return content_key(self._identity(with_n=False))


@dataclass
class Series:
    """The jobs of one (task instance, d, learner, seed), in increasing n."""

    jobs: list[Job]

    @property
    def key(self) -> str:
        return self.jobs[0].series_key


def plan(spec: Spec) -> list[Series]:
    """All series of the spec, ordered task -> d -> learner -> seed, each with the full n-grid."""
    ns = spec.n_grid.values()
    out: list[Series] = []
    for t in spec.tasks:
        for tlabel, tparams in t.instances():
            for d in t.d:
                for lr in spec.learners:
                    for seed in spec.seeds:
                        jobs = [
                            Job(task=t.name, task_label=tlabel, task_params=dict(tparams), d=d,
                                learner=lr.name, label=lr.display,
                                learner_params=dict(lr.params), n=n, seed=seed,
                                n_test=spec.n_test,
                                n_test_max=spec.n_test_max if spec.n_test == AUTO_N_TEST
                                else None)
                            for n in ns if lr.n_max is None or n <= lr.n_max
                        ]
                        out.append(Series(jobs))
    return out


def all_jobs(spec: Spec) -> list[Job]:
    return [job for s in plan(spec) for job in s.jobs]
