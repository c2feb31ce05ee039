"""The run: which job next, running one job, and the executors that run them.

* :mod:`harness.run.runner` -- :func:`run_spec`: lock the run folder, plan, schedule, execute,
  store every record as it arrives, write provenance; :func:`failed_learners`;
* :mod:`harness.run.schedule` -- the :class:`Scheduler`: resume, resource admission, the adaptive
  n-search;
* :mod:`harness.run.job` -- one job: draw the data, fit, predict, measure, return a Record;
* :mod:`harness.run.local` -- :class:`SerialExecutor` (in this process) and :class:`LocalExecutor`
  (worker processes with per-job timeout and memory cap);
* :mod:`harness.run.cluster` -- :class:`DaskExecutor` (the same on a Dask cluster).
"""

from harness.run.cluster import ClusterError, DaskExecutor
from harness.run.job import (
    JobContext,
    draw_test_set,
    draw_training_set,
    jsonable,
    limit_threads,
    now_iso,
    one_line,
    run_job,
)
from harness.run.local import (
    LocalExecutor,
    RunnableJob,
    SerialExecutor,
    execute,
    stopped_record,
)
from harness.run.runner import (
    FailedLearner,
    RunOptions,
    RunSummary,
    failed_learners,
    provenance,
    run_spec,
)
from harness.run.schedule import TIME_SLACK, Refusal, Scheduler
from harness.store import normalised_mse  # the metric's definition, kept here for callers

__all__ = [
    "ClusterError", "DaskExecutor", "JobContext", "draw_test_set", "draw_training_set",
    "jsonable", "limit_threads", "normalised_mse", "now_iso", "one_line", "run_job",
    "LocalExecutor", "RunnableJob", "SerialExecutor", "execute",
    "stopped_record", "FailedLearner", "RunOptions", "RunSummary",
    "failed_learners", "provenance", "run_spec", "TIME_SLACK", "Refusal", "Scheduler",
]
