"""The nets room: the machinery every torch net learner shares (the learners are in learners/).

* :mod:`learners.nets.params`: the training parameters (defaults and allowed values) and the
  run-time parameters, defined once, and :func:`~learners.nets.params.net_init`, which builds
  each net learner's constructor from its architecture parameters and these;
* :mod:`learners.nets.layers`: the torch modules (activations, initialisation, MLPNet,
  StagedMLPNet, DenseQuadNet);
* :mod:`learners.nets.loop`: the training loop (mini-batch AdamW/SGD, early stopping on the
  validation loss with the best state restored), the learning-rate choice and divergence retries;
* :mod:`learners.nets.update`: one step's parameter update (gradient clip, optimiser step,
  gradients reset) with the library calls' maths and less per-step Python;
* :mod:`learners.nets.staged`: staged training (blocks switched on one at a time), shared by
  ``bfc_net`` and ``layerwise``;
* :mod:`learners.nets.data`: device and dtype, scaling, tensors, batched prediction;
* :mod:`learners.nets.learner`: :class:`~learners.nets.learner.TorchNetLearner`, the fit /
  predict / fit_info plumbing of the learners trained by gradient, and the resource model.

The learners' random streams (split, initialisation, batches, features) are named with every
other stream of the benchmark in :mod:`tasks.streams`.  Imports point one way: params,
update <- loop; loop, data, layers <- staged <- learner <- the learner modules.
"""
