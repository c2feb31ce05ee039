"""The backward-feature-correction report of a ``hierbench diagnose`` folder.

* :mod:`reports.diagnostics.analysis` -- the numbers: intervals, verdicts, tables, :func:`analyse`;
* :mod:`reports.diagnostics.figures` -- the three figures;
* :mod:`reports.diagnostics.page` -- the statement, the displayed tables and
  :func:`build_diagnostics_report`.

``build_diagnostics_report(run_dir)`` writes ``RUN_DIR/report/diagnostics.md``, a self-contained
``diagnostics.html``, figures (``report/figures/diag_*.png|svg``) and tables
(``report/tables/diag_*.csv``).  Every sentence of the summary is computed from the stored fits.

Measurements (per fit: variant, seed; block b, teacher level l; R^2 of the ridge probe, see
:mod:`learners.probes`):

* R^2 at the switch: the checkpoint right after the first step of stage b + 1 (the moment block
  b + 1 switches on); R^2 at the end: the final net.  Delta = end - switch, per seed.
* Intervals: two-sided 95 % Student t intervals over seeds, mean +- t_{0.975, S-1} sd / sqrt(S)
  (with three to five seeds a percentile bootstrap under-covers; t is the honest choice).
* Verdict for a Delta: "improved" when the interval lies above 0, "got worse" when below,
  "unchanged" when every seed's Delta is exactly 0 (a frozen block), otherwise "no clear change";
  with one seed no interval and no verdict.
* Test errors are summarised on the log scale (they spread over orders of magnitude across
  teachers): geometric mean over seeds with the t interval of mean(log error), exponentiated.
  Paired comparison: per seed the ratio of two variants' errors (same teacher, data and test
  set), geometric mean with the same log-scale t interval.
"""

from reports.diagnostics.analysis import (
    CI_LEVEL,
    Diag,
    analyse,
    checkpoints_frame,
    correction_per_seed,
    correction_table,
    depth_table,
    error_table,
    log_interval,
    paired_ratio,
    t_interval,
    verdict,
)
from reports.diagnostics.page import build_diagnostics_report, statement

__all__ = ["CI_LEVEL", "Diag", "analyse", "checkpoints_frame", "correction_per_seed",
           "correction_table", "depth_table", "error_table", "log_interval", "paired_ratio",
           "t_interval", "verdict", "build_diagnostics_report", "statement"]
