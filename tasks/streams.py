"""Every random stream of the benchmark, named once: data, teacher, learner and analysis streams.

A stream is a :class:`Stream` member; its generator for a seed s is

    SeedSequence([s, *stream.words, *key])      (``key``: optional extra integers, e.g. a hash),

one derivation for all of them (:func:`stream_sequence`).  numpy's SeedSequence hashes its whole
entropy list, so two different lists give statistically independent generators; the words of the
members below differ from each other (also after numpy's identification of trailing zeros,
checked at import), so for one seed every stream is independent of every other.  Who draws what:

* data (the harness, from the job's seed): ``TRAIN_DATA`` (the training set; the same stream for
  every n of a series, so the sets nest), ``TEST_DATA`` (the noiseless test set, drawn once per
  task instance and seed), ``PROBE`` (the probe inputs of the BFC diagnostics);
* the teacher (a task, from its seed): ``TEACHER_WEIGHTS`` (its random weights, rotations,
  supports), ``TEACHER_REFERENCE`` (a Monte Carlo reference sample), ``TEACHER_PAIRS`` (the
  Mehler pairs of the Monte Carlo energies), ``TEACHER_RESIDUAL`` (the inputs of the residual
  kurtosis estimate);
* a learner (from its ``random_state``, which the harness sets to the job's seed): ``SPLIT``
  (train/validation split, or the split between two stages' samples), ``INIT`` (weight
  initialisation), ``BATCHES`` (the order of the mini-batches), ``FEATURES`` (random features
  and the other random draws of closed-form learners);
* the analysis: ``BOOTSTRAP`` (resampling of seeds, keyed by a hash of the curve).

A learner's streams are therefore independent of the data it is given, of the test set and of the
probe inputs, although all of them come from the same seed.  The data and teacher words are those
the benchmark has always used (``[s, 1]``, ``[s, 2]``, ``[s, 3]``, ``[s, 7919, k]``), so training
sets, test sets and teachers, and with them every stored run folder, are unchanged.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import numpy as np

#: entropy word of the teachers' streams (tasks.base.reference_rng has used it from the start)
TEACHER_WORD = 7919
#: entropy word of the learners' streams ("nets" in ASCII)
LEARNER_WORD = 0x6E657473
#: entropy word of the analysis's streams ("boot" in ASCII)
ANALYSIS_WORD = 0x626F6F74


class Stream(Enum):
    """A named random stream; the value is its entropy words after the seed (module doc)."""

    TRAIN_DATA = (1,)
    TEST_DATA = (2,)
    PROBE = (3,)
    TEACHER_WEIGHTS = (TEACHER_WORD, 0)
    TEACHER_REFERENCE = (TEACHER_WORD, 1)
    TEACHER_PAIRS = (TEACHER_WORD, 2)
    TEACHER_RESIDUAL = (TEACHER_WORD, 3)
    SPLIT = (LEARNER_WORD, 0)
    INIT = (LEARNER_WORD, 1)
    BATCHES = (LEARNER_WORD, 2)
    FEATURES = (LEARNER_WORD, 3)
    BOOTSTRAP = (ANALYSIS_WORD,)

    @property
    def words(self) -> tuple[int, ...]:
        return self.value


def _canonical(words: tuple[int, ...]) -> tuple[int, ...]:
    """The words as SeedSequence sees them after a seed: trailing zeros within its pool of 4
    words (seed included) do not change the state, so [s, w, 0] and [s, w] are one stream."""
    w = list(words)
    while w and w[-1] == 0 and len(w) + 1 <= 4:
        w.pop()
    return tuple(w)


_seen = [_canonical(s.words) for s in Stream]
if len(set(_seen)) != len(_seen):  # pragma: no cover - a guard on the table above
    raise RuntimeError("two random streams share their entropy words")


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


def _derive(seed: int, words: tuple[int, ...]) -> np.random.SeedSequence:
    """SeedSequence([seed, *words]): the one derivation of every stream."""
    return np.random.SeedSequence([int(seed), *(int(w) for w in words)])


def stream_sequence(seed: int, stream: Stream, *key: int) -> np.random.SeedSequence:
    """SeedSequence([seed, *stream.words, *key])."""
    if not isinstance(stream, Stream):
        raise TypeError(f"stream must be a Stream, got {stream!r}")
    return _derive(seed, (*stream.words, *key))


def teacher_sequence(seed: int, k: int) -> np.random.SeedSequence:
    """Teacher stream number k: SeedSequence([seed, TEACHER_WORD, k]); k = 0..3 are the named
    ``TEACHER_*`` streams, larger k are free for a plugin task's own further draws."""
    if int(k) < 0:
        raise ValueError(f"teacher stream number must be >= 0, got {k!r}")
    return _derive(seed, (TEACHER_WORD, int(k)))


def stream_rng(seed: int, stream: Stream, *key: int) -> np.random.Generator:
    """numpy Generator of one stream."""
    return np.random.default_rng(stream_sequence(seed, stream, *key))


def stream_torch_seed(seed: int, stream: Stream) -> int:
    """A 63-bit integer seed of one stream for torch generators."""
    return int(stream_sequence(seed, stream).generate_state(1, np.uint64)[0] >> np.uint64(1))
