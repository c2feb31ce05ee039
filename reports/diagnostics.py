"""The backward-feature-correction report of a ``hierbench diagnose`` folder.

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

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from harness.diagnostics import DiagConfig, backward_depths, load_fits, load_run_config
from reports.figures import save_figure
from reports.render import to_html, to_markdown
from reports.style import FAMILY_COLORS, OTHER_COLOR, apply_style
from reports.tables import fmt

CI_LEVEL = 0.95
R2_FLOOR = -0.1  # R^2 values below are drawn at this value in the figures


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


# --------------------------------------------------------------------------------------------
# the statement
# --------------------------------------------------------------------------------------------
def _ci(lo: float, hi: float) -> str:
    return "no interval" if not np.isfinite(lo) else f"95 % t-interval [{lo:+.3f}, {hi:+.3f}]"


def _delta_sentence(c: pd.DataFrame, variant: str, lvl: int) -> str | None:
    row = c[(c["variant"] == variant) & (c["block"] == 1) & (c["level"] == lvl)]
    if row.empty:
        return None
    r = row.iloc[0]
    return (f"for the level-{lvl} features it was {r['R2 at switch']:.3f} when block 2 "
            f"switched on (median step {r['switch step (median)']:.0f}) and {r['R2 at end']:.3f} "
            f"at the end: Delta = {r['delta']:+.3f}, {_ci(r['ci_lo'], r['ci_hi'])} over "
            f"{r['seeds']} seed(s) (per seed {r['per seed']}): {r['verdict']}")


def statement(a: Diag) -> list[str]:
    """The report's answer, in sentences computed from the measurements."""
    out = []
    c = a.correction
    e2e = _delta_sentence(c, "end_to_end", 1) if len(c) else None
    if e2e is None:
        out.append("No ok end-to-end fit with a block-2 switch was measured: whether lower-layer "
                   "features improve after higher layers start training cannot be answered.")
    else:
        v1 = c[(c["variant"] == "end_to_end") & (c["block"] == 1) & (c["level"] == 1)].iloc[0]
        answer = {"improved": "Yes", "got worse": "No (they got worse)",
                  "unchanged": "No (unchanged)"}.get(v1["verdict"], "Not clearly")
        parts = [s for s in (e2e, _delta_sentence(c, "end_to_end", 2)) if s]
        out.append(f"Did lower-layer features improve after higher layers started training? "
                   f"{answer}. End-to-end, block 1's probe R^2: " + "; ".join(parts) + ".")
    out += _layerwise_check(a)
    d = paired_ratio(a.fits, "layerwise", "end_to_end")
    if d[3]:
        ci = "no interval" if not np.isfinite(d[1]) else f"95 % interval [{d[1]:.2f}, {d[2]:.2f}]"
        out.append(f"Final test error (normalised MSE, geometric mean over seeds): end-to-end "
                   f"{_mean_err(a, 'end_to_end')}, layerwise {_mean_err(a, 'layerwise')}; paired "
                   f"ratio layerwise / end-to-end = {d[0]:.2f}, {ci} over {d[3]} seed(s).")
    if len(a.depth) > 1:
        parts = [f"m={int(r['m'])}: {r['test error']:.4f}" for _, r in a.depth.iterrows()]
        out.append("Backward depth m (gradient reaches the m blocks below the newest): final "
                   "test error (geometric mean) " + ", ".join(parts) + ".")
    out += _failures(a)
    return out


def _mean_err(a: Diag, variant: str) -> str:
    r = a.errors[a.errors["variant"] == variant]
    if r.empty or not np.isfinite(r.iloc[0]["test error"]):
        return "n/a"
    r = r.iloc[0]
    ci = ("no interval" if not np.isfinite(r["ci_lo"])
          else f"95 % interval [{r['ci_lo']:.4f}, {r['ci_hi']:.4f}]")
    return f"{r['test error']:.4f} ({ci})"


def _layerwise_check(a: Diag) -> list[str]:
    """Built-in checks: layerwise Delta exactly 0; frozen blocks unchanged in every fit."""
    out = []
    lw = a.per_seed[a.per_seed["variant"] == "layerwise"]
    if len(lw):
        ok = bool(np.all(lw["delta"].to_numpy() == 0))
        out.append("Layerwise (every block frozen after its stage): Delta of every lower block's "
                   "R^2 is " + ("exactly 0 for every seed, as it must be (check passed)."
                                if ok else f"NOT 0 (max |Delta| = {lw['delta'].abs().max():.3g}):"
                                " the freezing check FAILED."))
    changes = [f["frozen_max_change"] for f in a.fits
               if f["status"] == "ok" and f["frozen_max_change"] is not None]
    if changes:
        worst = max(changes)
        out.append(f"Frozen-block check over {len(changes)} fit(s) with frozen blocks: largest "
                   f"parameter change of a frozen block = {worst:.3g} "
                   f"({'passed' if worst == 0 else 'FAILED'}).")
    return out


def _failures(a: Diag) -> list[str]:
    bad = [f for f in a.fits if f["status"] != "ok"]
    if not bad:
        return []
    reasons = "; ".join(f"{f['key']}: {f['reason']}" for f in bad[:5])
    return [f"{len(bad)} fit(s) failed and are left out of every number: {reasons}."]


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------
def variant_colors(variants) -> dict[str, tuple]:
    """end-to-end: the hierarchical blue; layerwise: the layerwise green; m=...: purples."""
    import seaborn as sns

    ms = [v for v in variants if v not in ("end_to_end", "layerwise")]
    shades = sns.light_palette(OTHER_COLOR, len(ms) + 2)[2:] if ms else []
    out = {"end_to_end": FAMILY_COLORS["hierarchical"], "layerwise": FAMILY_COLORS["layerwise"]}
    out.update({v: tuple(c) for v, c in zip(ms, shades, strict=True)})
    return out


def r2_over_training_figure(a: Diag, out: Path, variants=("end_to_end", "layerwise")):
    """Grid block x level: probe R^2 against step, one line per (variant, seed)."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    ck = a.ck[a.ck["variant"].isin(variants)]
    if ck.empty:
        return None
    colors = variant_colors(ck["variant"].unique())
    L = a.L
    fig, axes = plt.subplots(L, L, figsize=(2.6 * L, 2.0 * L), sharex=True, sharey=True,
                             squeeze=False)
    for (b, lvl), g in ck.groupby(["block", "level"]):
        ax = axes[b - 1][lvl - 1]
        for (v, _seed), h in g.groupby(["variant", "seed"]):
            h = h.sort_values("step", kind="stable")
            y = h["r2"].clip(lower=R2_FLOOR)
            ax.plot(h["step"], y, color=colors[v], lw=1.0, alpha=0.8)
            st = h[h["event"] == "stage_start"]
            ax.scatter(st["step"], st["r2"].clip(lower=R2_FLOOR), color=colors[v], marker="|",
                       s=60, zorder=3)
        ax.set_title(f"block {b} -> level {lvl}")
        ax.set_ylim(R2_FLOOR - 0.03, 1.03)
    for ax in axes[-1]:
        ax.set_xlabel("step")
    for row in axes:
        row[0].set_ylabel("probe R^2")
    handles = [Line2D([], [], color=colors[v], label=v.replace("_", "-")) for v in variants
               if v in colors and v in set(ck["variant"])]
    handles.append(Line2D([], [], color="k", marker="|", ls="", ms=9, label="stage start"))
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 0.95), frameon=False)
    fig.subplots_adjust(wspace=0.12, hspace=0.35)
    return save_figure(fig, out, "diag_r2_over_training", "Probe R^2 per block and teacher level "
                 "over training", "Held-out R^2 of a ridge probe from block b's hidden "
                 "representation to the teacher's level-l features, one line per seed; ticks "
                 f"mark the start of each stage (a block switching on). Values below {R2_FLOOR}"
                 f" are drawn at {R2_FLOOR}.")


def switch_end_figure(a: Diag, out: Path):
    """Per lower block b and level b, b + 1: R^2 at the switch and at the end, paired by seed."""
    import matplotlib.pyplot as plt

    ps = a.per_seed[a.per_seed.apply(lambda r: r["level"] in (r["block"], r["block"] + 1),
                                     axis=1)] if len(a.per_seed) else a.per_seed
    if ps.empty:
        return None
    pairs = sorted({(int(b), int(lvl)) for b, lvl in zip(ps["block"], ps["level"],
                                                          strict=True)})
    variants = list(dict.fromkeys(ps["variant"]))
    colors = variant_colors(variants)
    fig, axes = plt.subplots(1, len(pairs), figsize=(2.4 * len(pairs) + 1, 2.6), sharey=True,
                             squeeze=False)
    for ax, (b, lvl) in zip(axes[0], pairs, strict=True):
        g = ps[(ps["block"] == b) & (ps["level"] == lvl)]
        for i, v in enumerate(variants):
            x0 = i * 0.08
            for r in g[g["variant"] == v].itertuples(index=False):
                ax.plot([x0, 1 + x0], [max(r.r2_switch, R2_FLOOR), max(r.r2_end, R2_FLOOR)],
                        color=colors[v], marker="o", ms=3, lw=1, alpha=0.85,
                        label=v.replace("_", "-"))
        ax.set_xticks([0.1, 1.1], [f"block {b + 1}\non", "end"])
        ax.set_xlim(-0.3, 1.5)
        ax.set_title(f"block {b} -> level {lvl}")
    axes[0][0].set_ylabel("probe R^2")
    handles, labels = axes[0][0].get_legend_handles_labels()
    uniq = dict(zip(labels, handles, strict=True))
    fig.legend(uniq.values(), uniq.keys(), loc="upper left", bbox_to_anchor=(1.0, 0.9),
               frameon=False)
    fig.subplots_adjust(wspace=0.12, hspace=0.35)
    title = "Lower-block R^2 when the next block switches on vs at the end"
    return save_figure(fig, out, "diag_switch_vs_end", title,
                       "Each line is one seed: block b's probe R^2 right after block b + 1 "
                       "switched on and on the final net. A rising line is a lower-layer feature "
                       "improved by training the higher layers (backward feature correction).")


def depth_figure(a: Diag, out: Path):
    """Final test error and lower-block R^2 against the backward depth m."""
    import matplotlib.pyplot as plt

    d = a.depth
    if d.empty:
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8.0, 2.9))
    for m in d["m"]:
        errs = [f["test_error"] for f in fit_for_m(a.fits, int(m)).values()]
        ax1.scatter([m] * len(errs), errs, color="0.5", s=12, zorder=3)
    ax1.errorbar(d["m"], d["test error"], yerr=_yerr(d, "test error", "error_lo", "error_hi"),
                 color=FAMILY_COLORS["hierarchical"], marker="o", capsize=3)
    ax1.set_yscale("log")
    ax1.set_xlabel("backward depth m")
    ax1.set_ylabel("final test error (normalised MSE)")
    ax1.set_title("test error (geometric mean)")
    ax2.set_title("lower blocks' features (mean)")
    import seaborn as sns

    pairs = lower_pairs(a.L)
    for (b, lvl), color in zip(pairs, sns.color_palette("dark", len(pairs)), strict=True):
        col = f"R2 b{b}>l{lvl}"
        ax2.errorbar(d["m"], d[col], yerr=_yerr(d, col, f"{col} lo", f"{col} hi"), marker="o",
                     capsize=3, label=f"block {b} -> level {lvl}", color=color)
    ax2.set_xlabel("backward depth m")
    ax2.set_ylabel("final probe R^2")
    ax2.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    for ax in (ax1, ax2):
        ax.set_xticks(d["m"].tolist())
    fig.subplots_adjust(wspace=0.35)
    return save_figure(fig, out, "diag_backward_depth", "How much backward is needed",
                 "Staged training where the gradient reaches only the m blocks below the newest "
                 f"one (m = 0: layerwise; m >= {a.L - 1}: end-to-end). Test error: geometric "
                 "means over seeds with 95 % t-intervals on the log scale; R^2: means with 95 % "
                 "t-intervals; grey dots: single seeds.")


def _yerr(d: pd.DataFrame, col: str, lo: str, hi: str) -> np.ndarray:
    """Asymmetric error bars; 0 where the interval is missing (one seed)."""
    return np.nan_to_num(np.vstack([d[col] - d[lo], d[hi] - d[col]]), nan=0.0)


# --------------------------------------------------------------------------------------------
# tables and the report
# --------------------------------------------------------------------------------------------
def _display_correction(c: pd.DataFrame) -> pd.DataFrame:
    if c.empty:
        return c
    out = c[["variant", "block", "level", "seeds", "switch step (median)", "R2 at switch",
             "R2 at end"]].copy()
    for col in ("R2 at switch", "R2 at end"):
        out[col] = out[col].map(lambda x: f"{x:.3f}")
    out["Delta [95 % CI]"] = [f"{r.delta:+.3f} " + (f"[{r.ci_lo:+.3f}, {r.ci_hi:+.3f}]"
                                                      if np.isfinite(r.ci_lo) else "")
                              for r in c.itertuples(index=False)]
    out["per seed"], out["verdict"] = c["per seed"], c["verdict"]
    return out


def _display_errors(e: pd.DataFrame) -> pd.DataFrame:
    if e.empty:
        return e
    out = e[["variant", "stands for m", "ok", "failed"]].copy()
    out["test error: geo. mean [95 % CI]"] = [
        f"{fmt(r['test error'], 4)} [{fmt(r.ci_lo, 4)}, {fmt(r.ci_hi, 4)}]"
        for _, r in e.iterrows()]
    out["per seed"] = e["per seed"]
    out["train error"] = e["train error"].map(lambda x: fmt(x, 4))
    out["frozen max change"] = e["frozen max change"].map(lambda x: "-" if x is None
                                                            or pd.isna(x) else fmt(x))
    out["fit s (mean)"] = e["fit s (mean)"].map(lambda x: fmt(x, 3))
    return out


def _setup(a: Diag) -> str:
    c = a.cfg
    shares = next((f["level_shares"] for f in a.fits if f["status"] == "ok"), None)
    share_txt = ", ".join(f"{s:.3f}" for s in shares) if shares else "n/a"
    return (f"Task {c.task.name} (d = {c.task.d}, params {c.task.params}; level variance shares "
            f"of the seed-{a.fits[0]['seed'] if a.fits else '?'} teacher: {share_txt}); n = {c.n} "
            f"training samples, noiseless test set of {c.n_test}, probe set of {c.n_probe} "
            f"({c.probe.train_fraction:.0%} fit the probes, the rest scores them), seeds "
            f"{c.seeds}. Shared learner parameters: {c.learner or '{}'}. Checkpoints every "
            f"{c.probe.every} steps, at every stage start and on the final net.")


DEFINITIONS = (
    "Probe: ridge regression with a free intercept from the standardised hidden representation "
    "of block b to the teacher's level-l features, ridge chosen by exact leave-one-out on the "
    "probe-train half; R^2 = 1 - sum ||F - F_hat||^2 / sum ||F - mean F||^2 pooled over the "
    "level's features, on the probe-test half. Delta = R^2 on the final net minus R^2 right "
    "after block b + 1 switched on; 95 % Student t-intervals over seeds. Verdict: improved / got "
    "worse when the interval excludes 0, unchanged when every Delta is exactly 0, otherwise no "
    "clear change. Test error: normalised MSE on the noiseless test set, summarised by the "
    "geometric mean over seeds with a 95 % t-interval on the log scale. Details: "
    "docs/diagnostics.md.")


def _blocks(a: Diag, figs: dict) -> list[tuple[str, object]]:
    def fig_or_note(key: str, text: str):
        return ("figure", figs[key]) if figs.get(key) else ("note", text)

    wall = _wall(a.run_dir)
    return [
        ("h1", f"Backward feature correction: {a.cfg.name}"),
        *(("p", s) for s in statement(a)),
        ("h2", "1. Setup"), ("p", _setup(a)), ("p", DEFINITIONS),
        ("h2", "2. Probe R^2 over training: end-to-end vs layerwise"),
        fig_or_note("r2", "No end-to-end or layerwise checkpoints."),
        ("h2", "3. Did lower-layer features improve after higher layers switched on?"),
        fig_or_note("switch", "No stage switches were measured."),
        ("table", _display_correction(a.correction)),
        ("h2", "4. How much backward is needed (backward depth m)"),
        fig_or_note("depth", "No backward-depth fits."),
        ("table", _display_depth(a.depth)),
        ("h2", "5. Final test error per variant"),
        ("table", _display_errors(a.errors)),
        ("h2", "6. Provenance"),
        ("p", f"Run folder: {a.run_dir.name}. {len(a.fits)} stored fit(s); total fit time "
              f"{sum(f['fit_wall_s'] or 0 for f in a.fits):.0f} s; {wall}"),
        ("pre", a.cfg.model_dump_json(indent=2)),
        ("p", f"Report generated {datetime.now(UTC).isoformat(timespec='seconds')}."),
    ]


def _display_depth(d: pd.DataFrame) -> pd.DataFrame:
    if d.empty:
        return d
    out = d[["m", "fit", "seeds"]].copy()
    out["test error: geo. mean [95 % CI]"] = [
        f"{fmt(r['test error'], 4)} [{fmt(r['error_lo'], 4)}, {fmt(r['error_hi'], 4)}]"
        for _, r in d.iterrows()]
    for col in [c for c in d.columns if c.startswith("R2 ") and not c.endswith((" lo", " hi"))]:
        out[col.replace(">", " -> ")] = [f"{r[col]:.3f} [{fmt(r[col + ' lo'])}, "
                                         f"{fmt(r[col + ' hi'])}]" for _, r in d.iterrows()]
    return out


def _wall(run_dir: Path) -> str:
    import json

    p = run_dir / "provenance.json"
    if not p.is_file():
        return "no provenance.json."
    prov = json.loads(p.read_text())
    return (f"last session {prov.get('started_at')} to {prov.get('finished_at')}, wall "
            f"{prov.get('wall_s', float('nan')):.0f} s with {prov.get('workers')} worker(s) x "
            f"{prov.get('threads_per_job')} thread(s); commit {prov.get('git_commit')}; "
            f"{prov.get('cpu_count')} cores.")


def build_diagnostics_report(run_dir: str | Path) -> Path:
    """Write diagnostics.md / .html, figures and CSV tables; returns the report folder."""
    a = analyse(run_dir)
    out = Path(run_dir) / "report"
    fig_dir, tab_dir = out / "figures", out / "tables"
    apply_style()
    figs = {"r2": r2_over_training_figure(a, fig_dir), "switch": switch_end_figure(a, fig_dir),
            "depth": depth_figure(a, fig_dir)}
    tab_dir.mkdir(parents=True, exist_ok=True)
    a.ck.to_csv(tab_dir / "diag_checkpoints.csv", index=False)
    a.per_seed.to_csv(tab_dir / "diag_correction_per_seed.csv", index=False)
    correction_table(a.per_seed, levels="all").to_csv(tab_dir / "diag_correction.csv",
                                                      index=False)
    a.depth.to_csv(tab_dir / "diag_backward_depth.csv", index=False)
    a.errors.to_csv(tab_dir / "diag_errors.csv", index=False)
    blocks = _blocks(a, figs)
    (out / "diagnostics.md").write_text(to_markdown(blocks, out))
    (out / "diagnostics.html").write_text(to_html(blocks, f"diagnostics: {a.cfg.name}"))
    return out
