"""The BFC diagnostics (``hierbench diagnose``): per-layer probe R^2 over training, by schedule.

* :mod:`harness.diagnostics.bfc` -- the experiment: its config (:class:`DiagConfig`, presets in
  ``harness/experiment/presets/diagnostics/``, read by the specs' TOML reader), the fits it plans,
  the probe tracker, one fit;
* :mod:`harness.diagnostics.runner` -- running and resuming: every fit a :class:`FitJob` of the
  shared executors of :mod:`harness.run` (timeout, memory cap, crash records, Dask):
  :func:`run_diagnostics`;
* :mod:`harness.diagnostics.store` -- the stored fits (``diagnostics.sqlite``, written with the
  helpers of :mod:`harness.store`): :class:`FitRecord`, :func:`load_fits`,
  :func:`load_run_config`.
"""

from harness.diagnostics.bfc import (
    DEFAULT_PRESET,
    DiagConfig,
    DiagnosticsError,
    FitSpec,
    ProbeTracker,
    active_stage,
    backward_depths,
    block_vectors,
    build_task,
    check_config,
    diagnostics_presets,
    fit_key,
    load_config,
    make_variant_learner,
    parse_config,
    plan_fits,
    resolve_config_path,
    run_fit,
)
from harness.diagnostics.runner import (
    DiagExecution,
    DiagSummary,
    FitJob,
    choose_execution,
    run_diagnostics,
)
from harness.diagnostics.store import (
    DB_NAME,
    DiagStore,
    FitRecord,
    load_fits,
    load_run_config,
)

__all__ = [
    "DEFAULT_PRESET", "DiagConfig", "DiagnosticsError", "FitSpec", "ProbeTracker",
    "active_stage", "backward_depths", "block_vectors", "build_task", "check_config",
    "diagnostics_presets", "fit_key", "load_config", "make_variant_learner", "parse_config",
    "plan_fits", "resolve_config_path", "run_fit", "DiagExecution", "DiagSummary", "FitJob",
    "choose_execution", "run_diagnostics", "DB_NAME", "DiagStore", "FitRecord", "load_fits",
    "load_run_config",
]
