"""Complexity analysis of a run: learning curves, n*(eps), t*(eps), exponents, d^omega(1) verdict.

The definitions are those of DESIGN.md ("Definitions"), implemented exactly; docs/metrics.md states
every formula.  This module is the public entry point; the work is split over

* :mod:`harness.analysis_core` -- eps thresholds, per-seed matrices, n* interpolation, bounds;
* :mod:`harness.analysis_curves` -- learning curves, error at fixed n, failures, paired errors;
* :mod:`harness.analysis_complexity` -- n*(eps), t*(eps) per curve and their bootstrap replicates;
* :mod:`harness.analysis_exponents` -- beta, gamma with CIs and bounds, paired delta beta;
* :mod:`harness.analysis_verdict` -- grows / bounded / not enough evidence per learner.

Typical use::

    df = load_records(run_dir)
    eps = parse_eps(load_spec(run_dir))
    curves = learning_curves(df)
    sc = sample_complexity(df, eps)
    exp = exponents(df, eps, n_boot=1000, seed=0)
    ver = verdicts(exp)
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis_complexity import sample_complexity
from harness.analysis_core import parse_eps
from harness.analysis_curves import error_at_fixed_n, failures, learning_curves, paired_errors
from harness.analysis_exponents import exponents, paired_beta
from harness.analysis_verdict import MIN_GROWTH, verdicts
from harness.record import JSON_COLUMNS, column_names
from harness.spec import Eps
from harness.store import DB_NAME, results_frame

__all__ = [
    "Eps", "parse_eps", "load_records", "load_spec", "load_provenance", "learning_curves",
    "sample_complexity", "exponents", "verdicts", "failures", "error_at_fixed_n", "paired_errors",
    "paired_beta", "MIN_GROWTH", "RESULTS_FILE", "Analysis", "analyse_run",
]

RESULTS_FILE = DB_NAME
NUMERIC = ("d", "n", "seed", "test_error", "train_error", "fit_wall_s", "fit_cpu_s",
           "predict_wall_s", "peak_mem_bytes", "n_test", "hierarchy_index", "top_share", "threads")


def load_records(run_dir: str | Path) -> pd.DataFrame:
    """All records of a run as a DataFrame with the Record columns (JSON columns parsed to dicts).

    Reads ``RUN_DIR/results.sqlite`` read-only through :func:`harness.store.results_frame`.  A
    missing database or table gives an empty frame with the same columns.
    """
    try:
        df = results_frame(run_dir)
    except (FileNotFoundError, sqlite3.Error, pd.errors.DatabaseError):
        df = pd.DataFrame(columns=column_names())
    return normalise_records(df)


def _as_dict(v: Any) -> dict:
    if isinstance(v, dict):
        return v
    if isinstance(v, str) and v:
        try:
            out = json.loads(v)
        except ValueError:
            return {}
        return out if isinstance(out, dict) else {}
    return {}


def normalise_records(df: pd.DataFrame) -> pd.DataFrame:
    """Fill missing Record columns, parse JSON columns, make numeric columns numeric.

    ``top_share`` and ``hierarchy_index`` fall back to ``task_info`` when their column is empty;
    ``family`` defaults to ``baseline``; ``label`` / ``task_label`` default to the registry names.
    """
    df = df.copy()
    for col in column_names():
        if col not in df:
            df[col] = None
    for col in JSON_COLUMNS:
        df[col] = df[col].map(_as_dict).astype(object)
    for col in NUMERIC:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    for col, key in (("top_share", "top_share"), ("hierarchy_index", "hierarchy_index")):
        alt = pd.to_numeric(df["task_info"].map(lambda i, k=key: i.get(k)), errors="coerce")
        df[col] = df[col].fillna(alt)
    for col in ("d", "n", "seed"):
        df = df[df[col].notna()] if len(df) else df
        df[col] = df[col].astype(np.int64)
    df["family"] = df["family"].fillna("baseline").astype(str)
    df["label"] = df["label"].fillna(df["learner"]).astype(str)
    df["task_label"] = df["task_label"].fillna(df["task"]).astype(str)
    df["status"] = df["status"].astype(str)
    return df.reset_index(drop=True)


def _read_json(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def load_spec(run_dir: str | Path) -> dict:
    """``RUN_DIR/spec.json`` as a dict ({} when missing or unreadable)."""
    return _read_json(Path(run_dir) / "spec.json") or {}


def load_provenance(run_dir: str | Path) -> dict | None:
    """``RUN_DIR/provenance.json`` as a dict, or None when missing or unreadable."""
    return _read_json(Path(run_dir) / "provenance.json")


@dataclass
class Analysis:
    """Every table of a run's analysis (see the functions that compute each one)."""

    run_dir: Path
    spec: dict
    provenance: dict | None
    eps: Eps
    n_boot: int
    seed: int
    min_growth: float
    records: pd.DataFrame
    curves: pd.DataFrame = field(repr=False)
    complexity: pd.DataFrame = field(repr=False)
    exponents: pd.DataFrame = field(repr=False)
    verdicts: pd.DataFrame = field(repr=False)
    failures: pd.DataFrame = field(repr=False)
    paired_errors: pd.DataFrame = field(repr=False)
    paired_beta: pd.DataFrame = field(repr=False)

    @property
    def n_ok(self) -> int:
        return int((self.records["status"] == "ok").sum()) if len(self.records) else 0


def analyse_run(run_dir: str | Path, eps: Any = None, n_boot: int = 1000, seed: int = 0,
                min_growth: float = MIN_GROWTH) -> Analysis:
    """Load a run folder and compute all tables.  ``eps`` defaults to the spec's eps."""
    run_dir = Path(run_dir)
    spec = load_spec(run_dir)
    eps = parse_eps(eps if eps is not None else spec)
    df = load_records(run_dir)
    exp = exponents(df, eps, n_boot=n_boot, seed=seed)
    return Analysis(
        run_dir=run_dir, spec=spec, provenance=load_provenance(run_dir), eps=eps, n_boot=n_boot,
        seed=seed, min_growth=min_growth, records=df, curves=learning_curves(df),
        complexity=sample_complexity(df, eps), exponents=exp,
        verdicts=verdicts(exp, min_growth=min_growth), failures=failures(df),
        paired_errors=paired_errors(df), paired_beta=paired_beta(exp),
    )
