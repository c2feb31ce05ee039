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


def test_no_preset_uses_a_pilots_seeds():
    """Preregistration: a preset's grids were chosen on pilot seeds (benchmarks/specs/pilot_*);
    no shipped preset may run on any of them, and quick and standard use disjoint seeds."""
    pilots = sorted((Path(__file__).parents[1] / "benchmarks" / "specs").glob("pilot_*.toml"))
    assert {p.stem for p in pilots} >= {"pilot_quick", "pilot_standard"}
    pilot_seeds = set().union(*(set(load_spec(str(p)).seeds) for p in pilots))
    for name in preset_names():
        clash = pilot_seeds & set(load_spec(name).seeds)
        assert not clash, f"preset {name} reuses pilot seeds {sorted(clash)}"
    assert not set(load_spec("quick").seeds) & set(load_spec("standard").seeds)
