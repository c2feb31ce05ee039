"""Reports: turn a run's results into tables, seaborn figures, report.html and report.md.

* :func:`build_report` -- ``RUN_DIR/report/`` with report.md, a self-contained report.html,
  figures/*.png|svg (and *.pdf with ``formats="png,svg,pdf"``) and tables/*.csv;
* :func:`show_summary` -- the verdicts, the exponent table and the failures table in the
  terminal (rich, readable at 80 columns);
* :mod:`reports.compare` -- two runs' exponent and verdict tables side by side.

The numbers come from :mod:`harness.analysis`; the definitions are stated in
docs/metrics.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_report", "show_summary", "read_tables"]


def __getattr__(name: str) -> Any:
    # imported lazily: matplotlib and seaborn load only when a report is built
    if name in ("build_report", "read_tables"):
        from reports import build

        return getattr(build, name)
    if name == "show_summary":
        from reports.show import show_summary

        return show_summary
    raise AttributeError(name)
