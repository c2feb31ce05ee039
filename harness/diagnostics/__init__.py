"""The BFC diagnostics (``hierbench diagnose``): per-layer probe R^2 over training, by schedule.

* :mod:`harness.diagnostics.bfc` -- the experiment: its config (:class:`DiagConfig`, presets in
  ``harness/experiment/presets/diagnostics/``), the fits it plans, the probe tracker, one fit;
* :mod:`harness.diagnostics.runner` -- running, storing (``diagnostics.sqlite``) and resuming:
  :func:`run_diagnostics`, :func:`load_fits`, :func:`load_run_config`.
"""

from harness.diagnostics.bfc import (
    DEFAULT_PRESET,
    DiagConfig,
    DiagnosticsError,
    FitSpec,
    ProbeTracker,
    backward_depths,
    check_config,
    diagnostics_presets,
    fit_key,
    load_config,
    parse_config,
    plan_fits,
    resolve_config_path,
    run_fit,
)
from harness.diagnostics.runner import (
    DB_NAME,
    DiagStore,
    DiagSummary,
    load_fits,
    load_run_config,
    run_diagnostics,
)

__all__ = [
    "DEFAULT_PRESET", "DiagConfig", "DiagnosticsError", "FitSpec", "ProbeTracker",
    "backward_depths", "check_config", "diagnostics_presets", "fit_key", "load_config",
    "parse_config", "plan_fits", "resolve_config_path", "run_fit", "DB_NAME", "DiagStore",
    "DiagSummary", "load_fits", "load_run_config", "run_diagnostics",
]
