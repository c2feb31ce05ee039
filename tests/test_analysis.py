"""Analysis: n*(eps) interpolation, censoring, t*(eps), exponents with CIs, paired comparisons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.analysis import (
    exponents,
    failures,
    learning_curves,
    load_records,
    load_spec,
    paired_errors,
    parse_eps,
    sample_complexity,
)
from harness.analysis.core import combine_bounds
from harness.experiment import Eps
from harness.store import Record
from reports.synthetic import Law, SynthTask, n_grid, synthetic_run, write_run


def rec(n, seed, err=None, status="ok", reason=None, d=8, label="krr", top_share=0.5,
        wall=None, task_label="toy(p=2)", family="non-hierarchical") -> Record:
    """One hand-made record."""
    return Record(key=f"{task_label}{label}{d}{n}{seed}", task="toy", task_label=task_label,
                  task_params={"p": 2}, d=d, learner=label, label=label, learner_params={},
                  n=n, seed=seed, status=status, family=family, reason=reason,
                  test_error=err if status == "ok" else None,
                  fit_wall_s=(wall if wall is not None else 1e-3 * n) if status == "ok" else None,
                  fit_cpu_s=(2e-3 * n) if status == "ok" else None, top_share=top_share,
                  hierarchy_index=2.0,
                  task_info={"index_param": "p", "hierarchy_index": 2.0, "top_share": top_share,
                             "theory_exponents": {"non-hierarchical": 2.0}})


def frame(tmp_path, records, eps=None):
    write_run(tmp_path, records, {"name": "t", "eps": eps or {"kind": "absolute", "value": 0.1}})
    return load_records(tmp_path)


@pytest.fixture(scope="module")
def law_run(tmp_path_factory):
    """n* = 3 d^2.5 per seed times exp(0.1 z), 7 seeds, d = 8 ... 32."""
    run = tmp_path_factory.mktemp("law")
    synthetic_run(run, [SynthTask("toy", {}, None)],
                  [Law("krr", coef=3.0, beta=2.5, noise=0.1)], ds=[8, 11, 16, 23, 32],
                  seeds=list(range(7)), grid=n_grid(16, 2**16), seed=1)
    return load_records(run)


def test_load_records_parses_json_and_types(law_run):
    df = law_run
    assert isinstance(df.loc[0, "task_info"], dict) and isinstance(df.loc[0, "task_params"], dict)
    assert df["n"].dtype == np.int64 and df["test_error"].dtype == float
    assert set(df["status"]) == {"ok"}


def test_load_records_missing_database_is_empty(tmp_path):
    df = load_records(tmp_path)
    assert df.empty and "test_error" in df.columns
    assert load_spec(tmp_path) == {}


def test_parse_eps_variants():
    assert parse_eps(None) == Eps(kind="absolute", value=0.1)
    assert parse_eps(0.05) == Eps(kind="absolute", value=0.05)
    assert parse_eps({"name": "x", "eps": {"kind": "relative", "value": 0.5}}) == Eps(
        kind="relative", value=0.5)
    with pytest.raises(ValueError):
        parse_eps({"kind": "bogus", "value": 0.1})


def test_eps_threshold_matches_its_definition_in_analysis_and_scheduler():
    """threshold = value (absolute) or value * top_share (relative); no top share, no threshold."""
    from dataclasses import replace

    from harness.run.schedule import eps_threshold, reached

    rel, ab = Eps(kind="relative", value=0.5), Eps(kind="absolute", value=0.2)
    np.testing.assert_allclose(rel.threshold([0.3, None, 0.8]), [0.15, np.nan, 0.4])
    np.testing.assert_allclose(ab.threshold(pd.Series([0.3, None])), [0.2, 0.2])
    assert rel.threshold(0.3).shape == (1,)
    r = rec(64, 0, err=0.16, top_share=0.3)
    assert eps_threshold(rel, r) == pytest.approx(0.15) and not reached(rel, r)
    assert eps_threshold(ab, r) == pytest.approx(0.2) and reached(ab, r)
    assert eps_threshold(rel, replace(r, top_share=None)) is None
    assert not reached(rel, replace(r, top_share=None, test_error=0.0))

def test_known_law_beta_and_ci(law_run):
    e = exponents(law_run, 0.1, n_boot=400, seed=0).iloc[0]
    assert e["beta_kind"] == "estimate"
    assert abs(e["beta"] - 2.5) < 0.1
    assert e["beta_lo"] <= 2.5 <= e["beta_hi"]
    assert e["beta_hi"] - e["beta_lo"] < 0.5
    # fit time = 1e-7 n^1.5 d, so t* ~ n*^1.5 d ~ d^(1.5 * 2.5 + 1)
    assert abs(e["gamma_wall"] - 4.75) < 0.2
    assert e["beta_text"].startswith(f"{e['beta']:.2f} [")


def test_exponents_are_deterministic(law_run):
    a = exponents(law_run, 0.1, n_boot=100, seed=3)
    b = exponents(law_run, 0.1, n_boot=100, seed=3)
    assert a["beta_lo"].iloc[0] == b["beta_lo"].iloc[0]
    assert np.array_equal(a["beta_boot"].iloc[0], b["beta_boot"].iloc[0])


def test_nstar_loglog_interpolation(tmp_path):
    # one seed: error 0.2 at n=100, 0.05 at n=200 (confirmed at 400); eps 0.1 -> log n* halfway
    df = frame(tmp_path, [rec(50, 0, 0.5), rec(100, 0, 0.2, wall=1.0), rec(200, 0, 0.05, wall=4.0),
                          rec(400, 0, 0.04, wall=16.0)])
    r = sample_complexity(df, 0.1).iloc[0]
    assert r["nstar"] == pytest.approx(100 * np.sqrt(2))
    assert r["bound"] == 0 and r["nstar_kind"] == "interpolated"
    # t* interpolated at the same position in log-log: sqrt(1 * 4)
    assert r["t_wall"] == pytest.approx(2.0)


def test_nstar_uses_median_over_seeds(tmp_path):
    errs = {0: [0.5, 0.05, 0.01], 1: [0.5, 0.3, 0.01], 2: [0.5, 0.08, 0.01]}  # 0.5, 0.08, 0.01
    recs = [rec(n, s, e) for s, es in errs.items()
            for n, e in zip((100, 400, 800), es, strict=True)]
    r = sample_complexity(frame(tmp_path, recs), 0.1).iloc[0]
    frac = np.log(0.5 / 0.1) / np.log(0.5 / 0.08)
    assert r["nstar"] == pytest.approx(100 * 4**frac)


def test_relative_eps_median_of_ratios(tmp_path):
    # thresholds 0.1 * top_share: seed 0 -> 0.02, seed 1 -> 0.05, seed 2 -> 0.05
    recs = []
    for s, (ts, errs) in enumerate([(0.2, (0.1, 0.03)), (0.5, (0.1, 0.04)), (0.5, (0.1, 0.2))]):
        recs += [rec(n, s, e, top_share=ts) for n, e in zip((100, 200), errs, strict=True)]
    df = frame(tmp_path, recs, {"kind": "relative", "value": 0.1})
    eps = parse_eps(load_spec(tmp_path))
    r = sample_complexity(df, eps).iloc[0]
    # ratios at 100: 5, 2, 2 -> median 2; at 200: 1.5, 0.8, 4 -> median 1.5: not reached
    assert r["bound"] == 1 and r["nstar"] == 200
    assert r["threshold"] == pytest.approx(0.05)


def test_right_censoring_at_n_reached(tmp_path):
    recs = [rec(n, s, 0.5) for n in (100, 200) for s in range(3)]
    recs += [rec(400, s, status="skipped", reason="resource model: 9 GB > 8 GB") for s in range(3)]
    r = sample_complexity(frame(tmp_path, recs), 0.1).iloc[0]
    assert r["bound"] == 1 and r["nstar"] == 200 and r["n_reached"] == 200
    assert r["censor_reason"] == "resource model" and r["nstar_text"] == "> 200"


def test_failures_count_as_not_reaching(tmp_path):
    # at n=200 two of three seeds failed: the median there is +inf, so n* is at n=400
    recs = [rec(100, s, 0.5) for s in range(3)] + [rec(400, s, 0.01) for s in range(3)]
    recs += [rec(800, s, 0.01) for s in range(3)]
    recs += [rec(200, 0, 0.05), rec(200, 1, status="failed", reason="DivergenceError: nan"),
             rec(200, 2, status="timeout", reason="timeout after 60 s")]
    r = sample_complexity(frame(tmp_path, recs), 0.1).iloc[0]
    assert r["nstar"] == pytest.approx(400.0)  # last failing point is infinite: no refinement


def test_adaptive_skips_count_as_passing(tmp_path):
    # seed 0 reaches eps at 200 and is skipped afterwards; the median passes at 400
    recs = [rec(100, s, 0.5) for s in range(3)]
    recs += [rec(200, 0, 0.08), rec(200, 1, 0.3), rec(200, 2, 0.3)]
    recs += [rec(400, 0, status="skipped", reason="adaptive: eps reached at n=200"),
             rec(400, 1, 0.09), rec(400, 2, 0.2)]
    recs += [rec(800, s, status="skipped", reason="adaptive: eps reached at n=400") for s in (0, 1)]
    recs += [rec(800, 2, 0.05)]
    r = sample_complexity(frame(tmp_path, recs), 0.1).iloc[0]
    # medians: 0.5, 0.3, 0.09 (seed 0 carried forward at 0.08) -> between 200 and 400
    frac = np.log(0.3 / 0.1) / np.log(0.3 / 0.09)
    assert r["bound"] == 0 and r["nstar"] == pytest.approx(200 * 2**frac)


def test_adaptive_stop_after_timeout_censors(tmp_path):
    recs = [rec(100, 0, 0.5), rec(200, 0, status="timeout", reason="timeout after 60 s"),
            rec(400, 0, status="skipped", reason="adaptive: n=200 timed out")]
    r = sample_complexity(frame(tmp_path, recs), 0.1).iloc[0]
    assert r["bound"] == 1 and r["nstar"] == 100 and r["censor_reason"] == "timeout"


def test_pass_at_first_grid_point_is_an_upper_bound(tmp_path):
    r = sample_complexity(frame(tmp_path, [rec(100, 0, 0.05), rec(200, 0, 0.01)]), 0.1).iloc[0]
    assert r["bound"] == -1 and r["nstar"] == 100 and r["nstar_text"] == "<= 100"


def censored_run(tmp_path, ds):
    law = Law("krr", coef=3.0, beta=2.5, noise=0.05, n_budget=lambda d: 2**12)
    synthetic_run(tmp_path, [SynthTask("toy", {}, None)], [law], ds=ds, seeds=[0, 1, 2],
                  grid=n_grid(16, 2**14))
    return load_records(tmp_path)


def test_censored_points_enter_the_likelihood(tmp_path):
    # n* = 3 d^2.5 exceeds the budget 4096 for d >= 18: the seeds at d = 22, 32 are right-censored
    # and enter the censored likelihood (definition changed: the former least-squares fit on the
    # median n* could only call this a lower bound, "> 1.9"); the fit recovers beta.
    e = exponents(censored_run(tmp_path, [6, 8, 11, 16, 22, 32]), 0.1, n_boot=100).iloc[0]
    # d = 16 (n* ~ 3072) passes once at 4096, the last n within budget: censored as well
    assert e["beta_kind"] == "estimate" and e["n_censored"] == 9 and e["n_obs"] == 18
    assert abs(e["beta"] - 2.5) < 0.25 and e["beta_lo"] < e["beta"] < e["beta_hi"]


def test_one_d_value_not_estimable(tmp_path):
    # two d values now pin a slope (the likelihood decides, not a count of three); one does not
    e = exponents(censored_run(tmp_path, [8]), 0.1, n_boot=50).iloc[0]
    assert e["beta_kind"] == "not estimable" and np.isnan(e["beta"])
    assert e["beta_text"] == "not estimable (1 usable d value (need 2))"
    assert exponents(censored_run(tmp_path, [6, 8]), 0.1, n_boot=50).iloc[0]["beta_kind"] \
        == "estimate"


def test_censored_at_every_d_is_not_estimable(tmp_path):
    law = Law("mean", coef=1e9, beta=0.0, noise=0.0)
    synthetic_run(tmp_path, [SynthTask("toy", {}, None)], [law], ds=[4, 8, 16], seeds=[0, 1],
                  grid=n_grid(16, 256))
    e = exponents(load_records(tmp_path), 0.1, n_boot=20).iloc[0]
    assert e["beta_kind"] == "not estimable" and "censored at every point" in e["beta_text"]


def test_lucky_dip_needs_the_next_point(tmp_path):
    # seed errors 0.5, 0.08 (a dip), 0.2, 0.09, 0.07: reached at 800 (0.09 and then 0.07), so
    # n* lies between 400 and 800, not at the dip at 200
    errs = [0.5, 0.08, 0.2, 0.09, 0.07]
    df = frame(tmp_path, [rec(n, 0, e) for n, e in zip((100, 200, 400, 800, 1600), errs,
                                                           strict=True)])
    r = sample_complexity(df, 0.1).iloc[0]
    frac = np.log(0.2 / 0.1) / np.log(0.2 / 0.09)
    assert r["bound"] == 0 and r["nstar"] == pytest.approx(400 * 2**frac)


def test_single_pass_at_the_top_is_censored(tmp_path):
    df = frame(tmp_path, [rec(100, 0, 0.5), rec(200, 0, 0.3), rec(400, 0, 0.05)])
    r = sample_complexity(df, 0.1).iloc[0]
    assert r["bound"] == 1 and r["nstar"] == 200 and r["nstar_text"] == "> 200"


def test_seed_intervals_follow_the_lucky_dip_rule(tmp_path):
    from harness.analysis.complexity import seed_intervals
    from harness.analysis.core import curve_data, prepare

    recs = [rec(n, 0, e) for n, e in zip((100, 200, 400, 800), (0.5, 0.08, 0.2, 0.09),
                                         strict=True)]  # dip at 200, single pass at the top
    recs += [rec(n, 1, e) for n, e in zip((100, 200, 400, 800), (0.5, 0.2, 0.05, 0.04),
                                          strict=True)]  # reached at 400
    recs += [rec(n, 2, e) for n, e in zip((100, 200, 400, 800), (0.05, 0.04, 0.03, 0.02),
                                          strict=True)]  # reached at the first point
    si = seed_intervals(curve_data(prepare(frame(tmp_path, recs), 0.1)))
    np.testing.assert_allclose(si.lo[0], np.log([400, 200, np.inf]) * [1, 1, -1])
    np.testing.assert_allclose(si.hi[0], [np.inf, np.log(400), np.log(100)])
    np.testing.assert_array_equal(si.kind, [1, 0, -1])


def test_combine_bounds():
    w = np.array([-1.0, 0.0, 1.0])
    assert combine_bounds(np.array([0, 0, 0]), w) == 0
    assert combine_bounds(np.array([0, 0, 1]), w) == 1  # censored at large d: lower bound
    assert combine_bounds(np.array([-1, 0, 1]), w) == 1  # at grid min at small d: also lower
    assert combine_bounds(np.array([-1, 0, 0]), -w) == -1
    assert np.isnan(combine_bounds(np.array([1, 0, 1]), w))  # censored at both ends


def test_learning_curves_median_iqr(tmp_path):
    recs = [rec(100, s, e) for s, e in enumerate([0.1, 0.2, 0.3, 0.4])]
    recs.append(rec(100, 4, status="failed", reason="boom"))
    lc = learning_curves(frame(tmp_path, recs)).iloc[0]
    expect = pd.Series([0.1, 0.2, 0.3, 0.4])
    assert lc["median"] == pytest.approx(0.25) and lc["q25"] == pytest.approx(expect.quantile(.25))
    assert lc["q75"] == pytest.approx(expect.quantile(0.75))
    assert (lc["n_ok"], lc["n_failed"]) == (4, 1)


def test_error_at_fixed_n_counts_the_seeds_of_its_median(tmp_path):
    # learner a: seeds 0, 1 stopped by the adaptive search at 400; only seed 2 runs there.
    # learner b: every seed at 400.  The shared largest n is 400; a's median is seed 2's error
    # alone, and says so (1 of 3 seeds); b's is over all 3.
    recs = [rec(n, s, 0.05, label="a") for n in (100, 200) for s in (0, 1)]
    recs += [rec(100, 2, 0.5, label="a"), rec(200, 2, 0.3, label="a"), rec(400, 2, 0.2, label="a")]
    recs += [rec(400, s, status="skipped", reason="adaptive: eps reached at n=100 and n=200",
                 label="a") for s in (0, 1)]
    recs += [rec(n, s, 0.4 + 0.1 * s, label="b") for n in (100, 200, 400) for s in range(3)]
    sc = sample_complexity(frame(tmp_path, recs), 0.1).set_index("label")
    assert (sc.loc["a", "n_fixed"], sc.loc["b", "n_fixed"]) == (400, 400)
    assert sc.loc["a", "err_fixed"] == pytest.approx(0.2) and sc.loc["a", "n_fixed_ok"] == 1
    assert sc.loc["b", "err_fixed"] == pytest.approx(0.5) and sc.loc["b", "n_fixed_ok"] == 3
    assert sc.loc["a", "n_seeds"] == 3


def test_failures_table_groups_reasons(tmp_path):
    recs = [rec(n, 0, status="skipped", reason=f"resource model: {n} GB > 8 GB")
            for n in (100, 200)]
    recs.append(rec(50, 0, 0.5))
    f = failures(frame(tmp_path, recs))
    assert len(f) == 1 and f.iloc[0]["count"] == 2 and f.iloc[0]["kind"] == "resource"
    assert (f.iloc[0]["n_min"], f.iloc[0]["n_max"]) == (100, 200)


def test_paired_errors_on_shared_seeds(tmp_path):
    recs = [rec(100, s, 0.1 * (s + 1), label="a") for s in range(4)]
    recs += [rec(100, s, 0.2 * (s + 1), label="b") for s in range(4)]
    p = paired_errors(frame(tmp_path, recs)).iloc[0]
    assert (p["label_a"], p["label_b"], p["n_seeds"], p["a_wins"]) == ("a", "b", 4, 4)
    assert p["median_log10_ratio"] == pytest.approx(np.log10(0.5))


def test_runs_stored_under_the_one_pass_rule_still_analyse(tmp_path):
    # the former scheduler stopped after one pass ("adaptive: eps reached at n=200"): the skipped
    # points carry the passing ratio forward, so the pass counts as confirmed (stated assumption)
    from harness.analysis.complexity import seed_intervals
    from harness.analysis.core import curve_data, prepare

    recs = [rec(100, 0, 0.5), rec(200, 0, 0.05)]
    recs += [rec(n, 0, status="skipped", reason="adaptive: eps reached at n=200")
             for n in (400, 800)]
    df = frame(tmp_path, recs)
    r = sample_complexity(df, 0.1).iloc[0]
    assert r["bound"] == 0 and 100 < r["nstar"] < 200
    si = seed_intervals(curve_data(prepare(df, 0.1)))
    np.testing.assert_allclose(np.exp([si.lo[0, 0], si.hi[0, 0]]), [100, 200])


def _interp(n_a, r_a, n_j, r_j):
    """log-log interpolation of the threshold crossing between a failing and a passing point."""
    frac = np.log(r_a) / (np.log(r_a) - np.log(r_j))
    return n_a * (n_j / n_a) ** frac


def test_monte_carlo_top_share_error_gives_an_nstar_range(tmp_path):
    # relative eps 0.5, E_top = 0.2 +- 0.02: thresholds 0.1 (point), 0.12 (E + 2 se) and
    # 0.08 (E - 2 se)
    errs = {100: 0.5, 200: 0.11, 400: 0.09, 800: 0.07, 1600: 0.06}
    recs = []
    for n, e in errs.items():
        r = rec(n, 0, e, top_share=0.2)
        r.task_info["top_share_se"] = 0.02
        recs.append(r)
    recs += [rec(n, 0, e, top_share=0.2, label="exact") for n, e in errs.items()]
    df = frame(tmp_path, recs, {"kind": "relative", "value": 0.5})
    sc = sample_complexity(df, {"kind": "relative", "value": 0.5}).set_index("label")
    mc, exact = sc.loc["krr"], sc.loc["exact"]
    assert mc["nstar"] == pytest.approx(_interp(200, 1.1, 400, 0.9))
    assert mc["nstar_etop_lo"] == pytest.approx(_interp(100, 0.5 / 0.12, 200, 0.11 / 0.12))
    assert mc["nstar_etop_hi"] == pytest.approx(_interp(400, 0.09 / 0.08, 800, 0.07 / 0.08))
    assert mc["top_share_se"] == pytest.approx(0.02) and mc["threshold_se"] == pytest.approx(0.01)
    assert mc["nstar_etop_text"] == f"{mc['nstar_etop_lo']:.0f} .. {mc['nstar_etop_hi']:.0f}"
    # exact energies: the same n*, no range
    assert exact["nstar"] == pytest.approx(mc["nstar"])
    assert np.isnan(exact["nstar_etop_lo"]) and exact["nstar_etop_text"] == ""
