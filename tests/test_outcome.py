"""Status, SkipKind and Family: stored as the same strings, the analysis reads the kind column."""

from __future__ import annotations

import pytest

from harness.analysis import load_records
from harness.analysis.core import CellKind, cell_kind
from harness.store import STATUSES, Record, ResultStore, SkipKind, Status, legacy_skip_kind
from learners import FAMILIES, Family, get_learner_class, learner_family


def rec(**kw) -> Record:
    base = dict(key="k", task="t", task_label="t", task_params={}, d=4, learner="krr",
                label="krr", learner_params={}, n=64, seed=0, status="ok")
    return Record(**{**base, **kw})


def test_stored_strings_are_unchanged():
    assert [str(s) for s in STATUSES] == ["ok", "failed", "timeout", "skipped"]
    assert [str(f) for f in FAMILIES] == ["hierarchical", "layerwise", "non-hierarchical",
                                         "baseline"]
    assert Status.OK == "ok" and Family.NON_HIERARCHICAL == "non-hierarchical"
    row = rec(status="skipped", skip_kind=SkipKind.EPS_REACHED, family="layerwise").to_row()
    assert (row["status"], row["skip_kind"], row["family"]) == ("skipped", "eps_reached",
                                                               "layerwise")
    assert type(row["status"]) is str and type(row["family"]) is str


def test_record_checks_status_and_kind():
    with pytest.raises(ValueError, match="status must be one of"):
        rec(status="done")
    with pytest.raises(ValueError, match="no skip kind"):
        rec(status="ok", skip_kind=SkipKind.RESOURCE_MEMORY)
    with pytest.raises(ValueError):
        rec(family="quantum")
    assert rec(status="skipped", skip_kind="resource_time").skip_kind is SkipKind.RESOURCE_TIME


@pytest.mark.parametrize("reason, kind", [
    ("resource model: predicted peak memory 9.1 GiB > memory cap 8 GiB", SkipKind.RESOURCE_MEMORY),
    ("resource model: predicted fit time 900 s > 3 x timeout 60 s", SkipKind.RESOURCE_TIME),
    ("resource model: needs 2.0 GB > budget", SkipKind.RESOURCE_MEMORY),
    ("adaptive: eps reached at n=64 and n=128", SkipKind.EPS_REACHED),
    ("adaptive: eps reached at n=200", SkipKind.EPS_REACHED),
    ("adaptive: n=64 timed out", SkipKind.STOPPED_AFTER_TIMEOUT),
    ("adaptive: n=64 does not fit the budget", SkipKind.STOPPED_AFTER_SKIP),
    ("adaptive: n=64 was skipped", SkipKind.STOPPED_AFTER_SKIP),
    ("something else", SkipKind.OTHER),
    (None, SkipKind.OTHER),
])
def test_legacy_reasons_map_to_kinds(reason, kind):
    assert legacy_skip_kind(reason) is kind
    assert rec(status="skipped", reason=reason).skip_kind is kind  # built without a kind


def test_analysis_reads_the_kind_not_the_reason(tmp_path):
    # reasons that say the opposite of the stored kind: the kind decides
    recs = [rec(key="a", n=64, status="skipped", skip_kind=SkipKind.RESOURCE_MEMORY,
                reason="adaptive: eps reached at n=32 and n=48"),
            rec(key="b", n=128, status="skipped", skip_kind=SkipKind.EPS_REACHED,
                reason="resource model: predicted peak memory 9 GiB > memory cap 8 GiB"),
            rec(key="c", n=256, status="skipped", skip_kind=SkipKind.STOPPED_AFTER_TIMEOUT,
                reason="no words"),
            rec(key="d", n=512, status="skipped", skip_kind=SkipKind.OTHER,
                reason="adaptive: n=1 timed out"),
            rec(key="e", n=32, status="ok", test_error=0.3)]
    with ResultStore(tmp_path) as store:
        for r in recs:
            store.write(r)
    df = load_records(tmp_path).sort_values("key")
    assert list(cell_kind(df)) == [CellKind.RESOURCE, CellKind.ADAPTIVE, CellKind.STOPPED,
                                   CellKind.SKIPPED, CellKind.OK]


def test_learners_declare_a_family():
    assert learner_family(get_learner_class("mlp")()) is Family.HIERARCHICAL
    assert learner_family(get_learner_class("krr")()) is Family.NON_HIERARCHICAL
    assert learner_family(object()) is Family.BASELINE
