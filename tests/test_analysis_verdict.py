"""The d^omega(1) verdict (symmetric rule around min_growth) and the paired contrast, on
constructed exponents that grow, stay flat, are noisy or are bounds, and end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.analysis import analyse_run, contrast, exponents, load_records, verdicts
from harness.analysis.verdict import decide
from reports.synthetic import demo_run


def exp_frame(label: str, betas, sd: float, kinds=None, family="non-hierarchical",
              indices=(2, 3, 4), seed=0, shared=None) -> pd.DataFrame:
    """Exponent rows of one learner over a family indexed by p, with normal bootstrap draws
    (``shared``: per-index draws added to every learner, i.e. teachers shared by the learners)."""
    rng = np.random.default_rng(seed)
    kinds = kinds or ["estimate"] * len(betas)
    common = shared if shared is not None else np.zeros((len(betas), 500))
    return pd.DataFrame({
        "family_key": 'toy{"r": 2}', "task": "toy", "task_label": [f"toy(p={i})" for i in indices],
        "index_param": "p", "hierarchy_index": [float(i) for i in indices], "label": label,
        "learner": label, "family": family, "beta": betas, "beta_kind": kinds,
        "beta_text": [f"{b:.2f}" for b in betas],
        "beta_boot": [b + sd * rng.standard_normal(500) + c for b, c in
                      zip(betas, common, strict=True)],
        "beta_se": sd, "beta_se_boot": [np.full(500, sd) for _ in betas],
    })


def verdict_of(df: pd.DataFrame) -> pd.Series:
    v = verdicts(df)
    assert len(v) == 1
    return v.iloc[0]


def test_growing_exponent():
    v = verdict_of(exp_frame("krr", [2.0, 3.0, 4.0], sd=0.1))
    assert v["verdict"] == "grows" and v["slope"] == pytest.approx(1.0)
    assert v["slope_lo"] > 0 and v["delta"] == pytest.approx(2.0)
    assert v["expected"] == "grows"


def test_flat_exponent_is_bounded():
    v = verdict_of(exp_frame("mlp", [1.5, 1.52, 1.49], sd=0.05, family="hierarchical"))
    assert v["verdict"] == "bounded" and v["slope_hi"] < 0.5
    assert v["expected"] == "bounded"


def test_noisy_exponent_is_not_enough_evidence():
    v = verdict_of(exp_frame("rf", [1.5, 2.0, 1.8], sd=1.0))
    assert v["verdict"] == "not enough evidence"
    assert "contains 0.5" in v["reason"]


def test_small_but_certain_growth_is_not_called_grows():
    # definition changed: "grows" needs CI lo > min_growth (was lo > 0), so a net drifting up by
    # 0.2 +- 0.05 per unit of index is bounded, not growing
    v = verdict_of(exp_frame("mlp", [1.5, 1.7, 1.9], sd=0.03, family="hierarchical"))
    assert v["slope"] == pytest.approx(0.2) and v["slope_lo"] > 0
    assert v["verdict"] == "bounded"


def test_single_index_value_is_not_enough_evidence():
    v = verdict_of(exp_frame("krr", [2.0], sd=0.1, indices=(2,)))
    assert v["verdict"] == "not enough evidence" and "one index value" in v["reason"]


def test_not_estimable_betas_are_left_out():
    df = exp_frame("krr", [2.0, np.nan, 4.0], sd=0.1,
                   kinds=["estimate", "not estimable", "estimate"])
    v = verdict_of(df)
    assert v["verdict"] == "grows" and v["slope"] == pytest.approx(1.0)


def test_lower_bound_at_top_index_still_grows_but_cannot_be_bounded():
    grow = verdict_of(exp_frame("krr", [2.0, 3.0, 3.5], sd=0.1,
                                kinds=["estimate", "estimate", "lower bound"]))
    assert grow["verdict"] == "grows" and grow["slope_kind"] == "lower bound"
    flat = verdict_of(exp_frame("krr", [2.0, 2.0, 2.0], sd=0.05,
                                kinds=["estimate", "estimate", "lower bound"]))
    assert flat["verdict"] == "not enough evidence" and "lower bound" in flat["reason"]


def test_lower_bound_at_bottom_index_is_indeterminate():
    v = verdict_of(exp_frame("krr", [2.0, 3.0, 4.0], sd=0.1,
                             kinds=["lower bound", "estimate", "lower bound"]))
    assert v["slope_kind"] == "indeterminate" and v["verdict"] == "not enough evidence"


@pytest.mark.parametrize("s, lo, hi, kind, expected", [  # one threshold, min_growth = 0.5
    (1.0, 0.6, 1.5, 0.0, "grows"),
    (1.0, 0.6, 1.5, 1.0, "grows"),
    (1.0, 0.6, 1.5, -1.0, "not enough evidence"),
    (1.0, 0.5, 1.5, 0.0, "not enough evidence"),  # lo at the threshold (was "grows": lo > 0)
    (0.3, 0.1, 0.45, 0.0, "bounded"),  # growing, but by less than the threshold
    (0.0, -0.2, 0.2, 0.0, "bounded"),
    (0.0, -0.2, 0.2, -1.0, "bounded"),
    (0.0, -0.2, 0.2, 1.0, "not enough evidence"),
    (0.3, -0.2, 0.8, 0.0, "not enough evidence"),
    (-1.0, -1.5, -0.5, 0.0, "bounded"),
    (1.0, 0.6, 1.5, np.nan, "not enough evidence"),
])
def test_decide_rule(s, lo, hi, kind, expected):
    assert decide(s, lo, hi, kind, 0.5)[0] == expected


def test_verdicts_end_to_end(tmp_path):
    demo_run(tmp_path)
    exp = exponents(load_records(tmp_path), 0.1, n_boot=200)
    v = verdicts(exp).set_index("label")["verdict"]
    assert v.to_dict() == {"krr": "grows", "mean": "not enough evidence", "mlp": "bounded"}


def contrast_of(kernel: pd.DataFrame, deep: pd.DataFrame) -> pd.Series:
    c = contrast(pd.concat([kernel, deep], ignore_index=True), reference="deep")
    assert len(c) == 1 and c.iloc[0]["label"] == "krr" and c.iloc[0]["reference"] == "deep"
    return c.iloc[0]


def test_contrast_separation():
    c = contrast_of(exp_frame("krr", [2.0, 3.0, 4.0], sd=0.1),
                    exp_frame("deep", [1.5, 1.6, 1.6], sd=0.1, family="hierarchical", seed=1))
    assert c["difference"] == pytest.approx(1.0 - 0.05)
    assert c["diff_lo"] > 0.5 and c["verdict"] == "separation"


def test_contrast_no_separation():
    c = contrast_of(exp_frame("krr", [2.0, 2.2, 2.4], sd=0.05),
                    exp_frame("deep", [1.5, 1.6, 1.7], sd=0.05, family="hierarchical", seed=1))
    assert c["difference"] == pytest.approx(0.1) and c["diff_hi"] < 0.5
    assert c["verdict"] == "no separation"


def test_contrast_not_enough_evidence():
    c = contrast_of(exp_frame("krr", [2.0, 2.5, 3.0], sd=0.6),
                    exp_frame("deep", [1.5, 1.5, 1.5], sd=0.6, family="hierarchical", seed=1))
    assert c["diff_lo"] < 0.5 < c["diff_hi"] and c["verdict"] == "not enough evidence"


def test_contrast_pairing_by_teacher_narrows_the_interval():
    # the same teacher draws move both learners' betas: the paired difference cancels them
    rng = np.random.default_rng(5)
    shared = 0.5 * rng.standard_normal((3, 500))
    paired = contrast_of(exp_frame("krr", [2.0, 3.0, 4.0], sd=0.05, shared=shared),
                         exp_frame("deep", [1.5, 1.5, 1.5], sd=0.05, family="hierarchical",
                                   seed=1, shared=shared))
    unpaired = contrast_of(exp_frame("krr", [2.0, 3.0, 4.0], sd=0.05, shared=shared),
                           exp_frame("deep", [1.5, 1.5, 1.5], sd=0.05, family="hierarchical",
                                     seed=1, shared=shared[:, ::-1]))
    assert paired["diff_hi"] - paired["diff_lo"] < 0.5 * (unpaired["diff_hi"]
                                                          - unpaired["diff_lo"])
    assert paired["verdict"] == "separation"


def test_contrast_without_reference_says_so():
    c = contrast(exp_frame("krr", [2.0, 3.0, 4.0], sd=0.1), reference=None).iloc[0]
    assert c["verdict"] == "not enough evidence" and "no reference" in c["reason"]


def test_contrast_end_to_end(tmp_path):
    demo_run(tmp_path)
    a = analyse_run(tmp_path, n_boot=200)
    assert a.reference == "mlp"  # the first learner of family "hierarchical" in the spec
    c = a.contrast.set_index("label")
    assert list(c.index) == ["krr"] and c.loc["krr", "verdict"] == "separation"
    # the demo's laws: krr beta = p, mlp beta = 1.5, so the difference of growths is 1 per p
    assert c.loc["krr", "diff_lo"] < 1.0 < c.loc["krr", "diff_hi"]


def test_spec_verdict_keys(tmp_path):
    from harness.analysis import verdict_settings
    from harness.experiment import SpecError, parse_spec

    base = {"name": "v", "tasks": [{"name": "multi_index", "d": [8]}],
            "learners": [{"name": "krr"}, {"name": "bfc_net"}],
            "n_grid": {"n_min": 16, "n_max": 64}}
    spec = parse_spec(base)
    assert spec.verdict.reference is None and spec.verdict.min_growth == 0.5
    spec = parse_spec(base | {"verdict": {"reference": "bfc_net", "min_growth": 0.8}})
    assert verdict_settings(spec.model_dump()) == ("bfc_net", 0.8)
    with pytest.raises(SpecError, match=r"verdict.reference = 'mlp' is not a learner label; "
                                        r"allowed: krr, bfc_net$"):
        parse_spec(base | {"verdict": {"reference": "mlp"}})
    with pytest.raises(SpecError, match="verdict.min_growth"):
        parse_spec(base | {"verdict": {"min_growth": 0}})
    # the spec's reference and threshold reach the analysis
    demo_run(tmp_path)
    import json
    spec_path = tmp_path / "spec.json"
    data = json.loads(spec_path.read_text()) | {"verdict": {"reference": "mlp",
                                                            "min_growth": 2.0}}
    spec_path.write_text(json.dumps(data))
    a = analyse_run(tmp_path, n_boot=50)
    assert a.min_growth == 2.0 and a.reference == "mlp"
    assert a.contrast.iloc[0]["verdict"] == "no separation"  # 1.08 per unit is below 2
