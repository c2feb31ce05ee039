"""Experiment specs, planning, running, storing and analysing; the ``hierbench`` CLI.

Rooms (subpackages; each ``__init__`` names its public API):
:mod:`harness.experiment` (spec, validation, planning, presets), :mod:`harness.run` (runner,
scheduler, one job, executors), :mod:`harness.store` (Record schema, outcomes, metric registry,
versioned results database), :mod:`harness.analysis`, :mod:`harness.diagnostics`;
:mod:`harness.cli` on top.

Data flow: preset TOML --:mod:`harness.experiment.spec`--> Spec
--:mod:`harness.experiment.planning`--> Jobs
--:mod:`harness.run.local`/:mod:`harness.run.runner`--> Records (:mod:`harness.run.job`)
--:mod:`harness.store`--> results.sqlite --:mod:`harness.analysis`--> curves, n*, exponents.
"""

from harness.store import results_frame

__all__ = ["results_frame"]
