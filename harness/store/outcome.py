"""The outcome of a job: its :class:`Status` and, for a skipped job, its :class:`SkipKind`.

Both are ``StrEnum``: a member *is* its string (``Status.OK == "ok"``), so the values stored in
``results.sqlite`` are the same strings as before the enums existed, and a frame read back from
the store compares with either spelling.

Statuses:

=========  ================================================================================
ok         the job ran; its metrics are stored
failed     the learner raised, predicted NaN/inf or the wrong shape, or its worker died
timeout    the fit ran past the per-job timeout and was killed
skipped    the job was not run; ``skip_kind`` says why (``reason`` says it in words)
=========  ================================================================================

Skip kinds (the ``skip_kind`` column, NULL unless ``status == skipped``):

======================  ==================================================================
resource_memory         the learner's resource model predicts a peak memory above the cap
resource_time           ... a fit time above ``TIME_SLACK`` x the per-job timeout
eps_reached             adaptive search: the series reached eps at two consecutive grid points
stopped_after_timeout   adaptive search: the series stopped because a smaller n timed out
stopped_after_skip      adaptive search: the series stopped because a smaller n was skipped
                        (it did not fit the budget)
other                   a skip whose cause names none of the above (records written before
                        skip kinds were stored, with an unrecognised reason)
======================  ==================================================================

:func:`legacy_skip_kind` reads the kind back from the reason text that the scheduler wrote before
the kind was a column.  It is used once, when a run folder of schema version 1 is migrated (and
for records built without a kind); nothing else parses a reason.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """What became of a job."""

    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"
    SKIPPED = "skipped"


#: every status, in the order tables list them
STATUSES: tuple[Status, ...] = tuple(Status)
#: statuses a run re-runs when asked to retry (``retry_failed``)
RETRYABLE: tuple[Status, ...] = (Status.FAILED, Status.TIMEOUT, Status.SKIPPED)
#: statuses of jobs that ran and did not succeed
BAD: tuple[Status, ...] = (Status.FAILED, Status.TIMEOUT)


class SkipKind(StrEnum):
    """Why a job was skipped (see the module docstring)."""

    RESOURCE_MEMORY = "resource_memory"
    RESOURCE_TIME = "resource_time"
    EPS_REACHED = "eps_reached"
    STOPPED_AFTER_TIMEOUT = "stopped_after_timeout"
    STOPPED_AFTER_SKIP = "stopped_after_skip"
    OTHER = "other"

    @property
    def is_resource(self) -> bool:
        """The budget refused the job (right-censoring in the analysis)."""
        return self in (SkipKind.RESOURCE_MEMORY, SkipKind.RESOURCE_TIME)

    @property
    def is_adaptive_stop(self) -> bool:
        """The adaptive search stopped the series after a timeout or a skip (censoring)."""
        return self in (SkipKind.STOPPED_AFTER_TIMEOUT, SkipKind.STOPPED_AFTER_SKIP)


def legacy_skip_kind(reason: str | None) -> SkipKind:
    """The skip kind a version-1 reason text stands for.

    Version 1 wrote the kind only into ``reason``: ``"resource model: predicted peak memory ..."``
    or ``"resource model: predicted fit time ..."`` (any other ``resource model`` text counts as
    memory, the only other resource the model predicts), ``"adaptive: eps reached at n=a and
    n=b"``, ``"adaptive: n=a timed out"`` and ``"adaptive: n=a does not fit the budget"`` /
    ``"adaptive: n=a was skipped"``.  Anything else is :attr:`SkipKind.OTHER`.
    """
    text = (reason or "").strip().lower()
    if text.startswith("resource model"):
        return SkipKind.RESOURCE_TIME if "fit time" in text else SkipKind.RESOURCE_MEMORY
    if text.startswith("adaptive: eps reached"):
        return SkipKind.EPS_REACHED
    if text.startswith("adaptive"):
        return (SkipKind.STOPPED_AFTER_TIMEOUT if "timed out" in text
                else SkipKind.STOPPED_AFTER_SKIP)
    return SkipKind.OTHER
