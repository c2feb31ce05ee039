"""The net learners' own random streams: split, initialisation, batches, random features.

A learner's ``random_state`` (the harness sets it to the job's seed s) seeds every random choice
the learner makes, through ``numpy.random.SeedSequence([s, LEARNER_ENTROPY, stream])``.  The
harness draws the training data from ``default_rng([s, 1])`` and the test set from
``default_rng([s, 2])``; a different entropy word makes the learner's streams statistically
independent of both (before, the validation split was ``default_rng([s, 1])``, the very stream
that had drawn the training inputs, so the split was a function of the data).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import numpy as np

#: entropy word of the learners' streams ("nets" in ASCII); keeps them apart from [seed, 1 | 2]
LEARNER_ENTROPY = 0x6E657473


class Stream(IntEnum):
    """What a stream is used for (one independent stream each)."""

    SPLIT = 0      # train/validation split (or the split between two stages' samples)
    INIT = 1       # weight initialisation
    BATCHES = 2    # the order of the mini-batches
    FEATURES = 3   # random features / random draws inside closed-form learners


def seed_int(random_state: Any) -> int:
    """An integer seed from ``random_state`` (None -> 0, int, or a numpy Generator/RandomState)."""
    if random_state is None:
        return 0
    if isinstance(random_state, (int, np.integer)):
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31 - 1))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    raise ValueError(f"random_state must be None, an int or a numpy generator: {random_state!r}")


def stream_sequence(seed: int, stream: Stream) -> np.random.SeedSequence:
    """SeedSequence([seed, LEARNER_ENTROPY, stream])."""
    return np.random.SeedSequence([int(seed), LEARNER_ENTROPY, int(stream)])


def stream_rng(seed: int, stream: Stream) -> np.random.Generator:
    """numpy Generator of one stream."""
    return np.random.default_rng(stream_sequence(seed, stream))


def stream_torch_seed(seed: int, stream: Stream) -> int:
    """A 63-bit integer seed of one stream for torch generators."""
    return int(stream_sequence(seed, stream).generate_state(1, np.uint64)[0] >> np.uint64(1))
