"""The figures of the diagnostics report: probe R^2 over training, at the switch vs at the end,
and against the backward depth m."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from reports.diagnostics.analysis import Diag, fit_for_m, lower_pairs
from reports.figures import save_figure
from reports.style import FAMILY_COLORS, OTHER_COLOR

R2_FLOOR = -0.1  # R^2 values below are drawn at this value in the figures


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
