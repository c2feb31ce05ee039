"""Every shipped preset validates (keys, task and learner names and parameters) and plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.experiment import load_spec, plan, preset_names

PAPER = {"paper-bfc", "paper-damian", "paper-wang", "paper-staircase"}


def test_shipped_presets():
    assert {"smoke", "quick", "standard", "full"} | PAPER <= set(preset_names())


@pytest.mark.parametrize("name", sorted({"smoke", "quick", "standard", "full"} | PAPER))
def test_preset_is_valid(name):
    spec = load_spec(name)
    series = plan(spec)
    assert series and all(s.jobs for s in series)
    assert len({s.key for s in series}) == len(series)


def test_quick_covers_the_comparison_the_readme_promises():
    """Every family, two index values of the same eps meaning, a d span >= 2.5, >= 5 seeds."""
    spec = load_spec("quick")
    learners = {lr.name for lr in spec.learners}
    assert {"krr", "ntk", "random_features", "poly_features", "mlp", "bfc_net", "layerwise",
            "two_layer"} <= learners
    instances = {label for t in spec.tasks for label, _ in t.instances()}
    assert any("p=3" in i for i in instances) and any("p=4" in i for i in instances)
    assert all(len(t.d) >= 4 and max(t.d) >= 2.5 * min(t.d) for t in spec.tasks)
    assert len(spec.seeds) >= 5 and spec.verdict.reference == "bfc_net"
    assert spec.eps.kind == "relative" and spec.eps.value < 1.0


@pytest.mark.parametrize("preset, pilot", [("quick", "pilot_quick"), ("standard", "pilot_standard")])
def test_presets_run_on_seeds_no_pilot_used(preset, pilot):
    """Preregistration: a preset's grids were chosen on its pilot's seeds; it must use others,
    and none of the pilots' seeds."""
    specs = Path(__file__).parents[1] / "benchmarks" / "specs"
    pilots = set()
    for f in ("pilot_quick", "pilot_standard"):
        pilots |= set(load_spec(str(specs / f"{f}.toml")).seeds)
    assert set(load_spec(str(specs / f"{pilot}.toml")).seeds) <= pilots
    assert not pilots & set(load_spec(preset).seeds)


def test_standard_and_quick_use_disjoint_seeds():
    assert not set(load_spec("quick").seeds) & set(load_spec("standard").seeds)
