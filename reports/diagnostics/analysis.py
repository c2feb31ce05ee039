"""The numbers of the diagnostics report: t intervals, the verdict rule, the tables (see
:mod:`reports.diagnostics` for the definitions)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from harness.diagnostics import DiagConfig, backward_depths, load_fits, load_run_config
from reports.tables import fmt

CI_LEVEL = 0.95


# --------------------------------------------------------------------------------------------
# numbers
# --------------------------------------------------------------------------------------------
def t_interval(x) -> tuple[float, float, float, int]:
    """(mean, lo, hi, n) of the finite values of x; the bounds are NaN for fewer than 2."""
    x = np.asarray([v for v in x if v is not None and np.isfinite(v)], dtype=float)
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan"), 0
    m = float(x.mean())
    if len(x) < 2:
        return m, float("nan"), float("nan"), 1
    half = float(stats.t.ppf(0.5 + CI_LEVEL / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return m, m - half, m + half, len(x)


def log_interval(x) -> tuple[float, float, float, int]:
    """Geometric mean and its t interval: exp of :func:`t_interval` of log x (x > 0)."""
    x = [v for v in x if v is not None and np.isfinite(v) and v > 0]
    m, lo, hi, n = t_interval(np.log(x)) if x else (np.nan, np.nan, np.nan, 0)
    return float(np.exp(m)), float(np.exp(lo)), float(np.exp(hi)), n


def verdict(deltas, lo: float, hi: float) -> str:
    """The verdict rule of the module docstring."""
    d = np.asarray([v for v in deltas if v is not None and np.isfinite(v)], dtype=float)
    if len(d) and np.all(d == 0):
        return "unchanged"
    if len(d) < 2:
        return "no interval (one seed)" if len(d) else "not measured"
    if lo > 0:
        return "improved"
    if hi < 0:
        return "got worse"
    return "no clear change"


def checkpoints_frame(fits: list[dict]) -> pd.DataFrame:
    """Long format over ok fits: variant, seed, step, stage, event, block, level, r2."""
    rows = []
    for f in fits:
        if f["status"] != "ok":
            continue
        for c in f["checkpoints"]:
            for b, row in enumerate(c["r2"], start=1):
                for lvl, v in enumerate(row, start=1):
                    rows.append((f["variant"], f["seed"], c["step"], c["stage"], c["event"],
                                 b, lvl, np.nan if v is None else float(v)))
    return pd.DataFrame(rows, columns=["variant", "seed", "step", "stage", "event", "block",
                                       "level", "r2"])


def correction_per_seed(ck: pd.DataFrame) -> pd.DataFrame:
    """Per (variant, seed, block b < L, level): R^2 when block b + 1 switched on, at the end."""
    if ck.empty:
        return pd.DataFrame(columns=["variant", "seed", "block", "level", "switch_step",
                                     "r2_switch", "r2_end", "delta"])
    L = int(ck["block"].max())
    start = ck[ck["event"] == "stage_start"]
    end = ck[ck["event"] == "final"].set_index(["variant", "seed", "block", "level"])["r2"]
    rows = []
    for b in range(1, L):
        sw = start[(start["stage"] == b + 1) & (start["block"] == b)]
        for r in sw.itertuples(index=False):
            e = end.get((r.variant, r.seed, b, r.level), np.nan)
            rows.append((r.variant, r.seed, b, r.level, r.step, r.r2, e, e - r.r2))
    return pd.DataFrame(rows, columns=["variant", "seed", "block", "level", "switch_step",
                                       "r2_switch", "r2_end", "delta"])


def correction_table(per_seed: pd.DataFrame, levels: str = "adjacent") -> pd.DataFrame:
    """Mean R^2 at the switch and at the end, Delta with its t interval and verdict.

    ``levels="adjacent"``: block b against levels b and b + 1 only; ``"all"``: every level.
    """
    rows = []
    for (v, b, lvl), g in per_seed.groupby(["variant", "block", "level"], sort=False):
        if levels == "adjacent" and lvl not in (b, b + 1):
            continue
        m, lo, hi, n = t_interval(g["delta"])
        rows.append({"variant": v, "block": b, "level": lvl, "seeds": n,
                     "switch step (median)": int(np.median(g["switch_step"])),
                     "R2 at switch": float(g["r2_switch"].mean()),
                     "R2 at end": float(g["r2_end"].mean()), "delta": m, "ci_lo": lo,
                     "ci_hi": hi, "per seed": ", ".join(f"{x:+.3f}" for x in g["delta"]),
                     "verdict": verdict(g["delta"], lo, hi)})
    return pd.DataFrame(rows)


def fit_for_m(fits: list[dict], m: int) -> dict[int, dict]:
    """seed -> the ok fit that stands for backward depth m (its own or an aliased one)."""
    return {f["seed"]: f for f in fits if f["status"] == "ok" and m in (f["m_values"] or [])}


def final_r2(fit: dict, b: int, lvl: int) -> float:
    v = fit["checkpoints"][-1]["r2"][b - 1][lvl - 1]
    return np.nan if v is None else float(v)


def depth_table(fits: list[dict], cfg: DiagConfig, L: int) -> pd.DataFrame:
    """Per m: the fit used, test error (geometric mean) and final lower-block R^2 (means)."""
    rows = []
    for m in backward_depths(cfg, L):
        by_seed = fit_for_m(fits, m)
        if not by_seed:
            continue
        fs = list(by_seed.values())
        row = {"m": m, "fit": fs[0]["variant"], "seeds": len(fs)}
        e, lo, hi, _ = log_interval([f["test_error"] for f in fs])
        row.update({"test error": e, "error_lo": lo, "error_hi": hi})
        for b, lvl in lower_pairs(L):
            r, rlo, rhi, _ = t_interval([final_r2(f, b, lvl) for f in fs])
            row.update({f"R2 b{b}>l{lvl}": r, f"R2 b{b}>l{lvl} lo": rlo,
                        f"R2 b{b}>l{lvl} hi": rhi})
        rows.append(row)
    return pd.DataFrame(rows)


def lower_pairs(L: int) -> list[tuple[int, int]]:
    """(block, level) pairs of the lower blocks: (b, b) for b < L, and (1, 2)."""
    return [(b, b) for b in range(1, L)] + [(1, 2)]


def error_table(fits: list[dict]) -> pd.DataFrame:
    """Per variant: final test and train error (mean, t interval, per seed), time, failures."""
    rows = []
    for v in dict.fromkeys(f["variant"] for f in fits):
        fs = [f for f in fits if f["variant"] == v]
        ok = [f for f in fs if f["status"] == "ok"]
        m, lo, hi, n = log_interval([f["test_error"] for f in ok])
        rows.append({"variant": v, "stands for m": ", ".join(map(str, fs[0]["m_values"] or [])),
                     "ok": n, "failed": len(fs) - len(ok), "test error": m, "ci_lo": lo,
                     "ci_hi": hi, "per seed": ", ".join(fmt(f["test_error"]) for f in ok),
                     "train error": float(np.mean([f["train_error"] for f in ok])) if ok
                     else np.nan,
                     "frozen max change": _max_or_none([f["frozen_max_change"] for f in ok]),
                     "fit s (mean)": float(np.mean([f["fit_wall_s"] for f in ok])) if ok
                     else np.nan})
    return pd.DataFrame(rows)


def _max_or_none(xs):
    xs = [x for x in xs if x is not None]
    return max(xs) if xs else None


def paired_ratio(fits: list[dict], a: str, b: str) -> tuple[float, float, float, int]:
    """Geometric mean of test error(a) / test error(b) over the seeds where both are ok."""
    ea = {f["seed"]: f["test_error"] for f in fits if f["variant"] == a and f["status"] == "ok"}
    eb = {f["seed"]: f["test_error"] for f in fits if f["variant"] == b and f["status"] == "ok"}
    return log_interval([ea[s] / eb[s] for s in sorted(set(ea) & set(eb)) if eb[s] > 0])


@dataclass
class Diag:
    """Everything the report shows, computed once."""

    run_dir: Path
    cfg: DiagConfig
    fits: list[dict]
    L: int
    ck: pd.DataFrame
    per_seed: pd.DataFrame
    correction: pd.DataFrame
    depth: pd.DataFrame
    errors: pd.DataFrame


def analyse(run_dir: str | Path) -> Diag:
    run_dir = Path(run_dir)
    cfg, fits = load_run_config(run_dir), load_fits(run_dir)
    ck = checkpoints_frame(fits)
    L = int(ck["block"].max()) if len(ck) else int(cfg.task.params.get("L", 0))
    per_seed = correction_per_seed(ck)
    return Diag(run_dir, cfg, fits, L, ck, per_seed, correction_table(per_seed),
                depth_table(fits, cfg, L) if L else pd.DataFrame(), error_table(fits))
