"""The digits benchmark: a small MLP on scikit-learn's 8x8 digits, scored after epochs 1, 5, 20.

Environment variables turn a real change of the training recipe on:

* ``DIGITS_REGRESS=1`` trains with a learning rate ten times smaller, so the
  model learns far more slowly: a regression at every checkpoint.
* ``DIGITS_IMPROVE=1`` widens the hidden layer from 32 to 128 units: the model
  learns faster and ends more accurate, an improvement.
"""

import os

from digits import train_curve

_CHECKPOINTS = (1, 5, 20)
_HIDDEN = 32
_LEARNING_RATE = 5e-3


def bench_digits(seed: int, *, n_seeds: int = 30) -> list[dict]:
    hidden, learning_rate = _HIDDEN, _LEARNING_RATE
    if os.environ.get("DIGITS_REGRESS") == "1":
        learning_rate /= 10
    if os.environ.get("DIGITS_IMPROVE") == "1":
        hidden *= 4
    return train_curve(seed, checkpoints=_CHECKPOINTS, hidden=hidden, learning_rate=learning_rate)
