"""The synthetic benchmark: one noisy loss curve per seed, read at three checkpoints.

Environment variables drive the walkthrough:

* ``PYBENCH_SYNTHETIC_REGRESS=global`` lifts every checkpoint by 0.05;
  ``PYBENCH_SYNTHETIC_REGRESS=local`` spikes the last checkpoint by 0.20.
* ``PYBENCH_SYNTHETIC_RESAMPLE=1`` deterministically remaps each seed to a
  different curve, so the scores no longer equal the baseline's.
"""

import os

import numpy as np
from synthetic import sample_loss_curves

_CHECKPOINTS = (1, 30, 100)


def bench_synthetic(seed: int, *, n_seeds: int = 30) -> list[dict]:
    if os.environ.get("PYBENCH_SYNTHETIC_RESAMPLE"):
        seed = int(np.random.default_rng(seed).integers(2**32))  # different curve
    rng = np.random.default_rng(seed)
    curve = sample_loss_curves(
        rng,
        n_seeds=1,
        n_steps=max(_CHECKPOINTS) + 1,
        amp=1.0,
        tau=30.0,
        floor=0.10,
        noise=0.05,
    )[0]
    losses = {s: float(curve[s]) for s in _CHECKPOINTS}
    regress = os.environ.get("PYBENCH_SYNTHETIC_REGRESS")
    if regress == "global":
        losses = {s: v + 0.05 for s, v in losses.items()}
    elif regress == "local":
        losses[_CHECKPOINTS[-1]] += 0.20
    return [{"step": s, "min:loss": losses[s]} for s in _CHECKPOINTS]
