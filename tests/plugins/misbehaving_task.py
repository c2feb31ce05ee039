"""A task that misbehaves on purpose, for the diagnostics' isolation test (loaded as a plugin):
bfc, except that the training set of seed 1 never comes and seed 2's raises."""

import time

from tasks import register_task
from tasks.bfc import BFCTask


@register_task("bfc_misbehaves")
class MisbehavingBFCTask(BFCTask):
    def sample(self, n, rng):
        if self.seed == 1:
            time.sleep(600)
        if self.seed == 2:
            raise RuntimeError("boom from a diagnostics plugin")
        return super().sample(n, rng)
