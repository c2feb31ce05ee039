"""Shared machinery of the torch net learners.

* :mod:`learners.nets.params`: the training parameters (and their defaults and allowed values),
  defined once and taken by every net learner;
* :mod:`learners.nets.loop`: the training loop (mini-batch AdamW/SGD, early stopping on the
  validation loss with the best state restored), the learning-rate choice and divergence retries;
* :mod:`tasks.streams`: the learners' own random streams, independent of the data.

The scaffolding common to the learners (scaling, fit/predict, fit_info) is in
:mod:`learners.nets.learner`.
"""
