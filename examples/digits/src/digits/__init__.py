"""The digits example's model: a small MLP on scikit-learn's bundled 8x8 digits.

Everything random (the train/test split, the weight initialisation and the order
of the mini-batches) comes from one seed, so a training run is a deterministic
function of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

__all__ = ["TEST_FRACTION", "load_data", "train_curve"]

TEST_FRACTION = 0.3
"""Share of the 1797 images held out for testing (stratified by digit)."""


@lru_cache(maxsize=1)
def load_data() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 digit images as ``(n, 64)`` pixels scaled to [0, 1], and their labels."""
    digits = load_digits()
    return digits.data / 16.0, digits.target


def train_curve(
    seed: int,
    *,
    checkpoints: Sequence[int],
    hidden: int,
    learning_rate: float,
    batch_size: int = 128,
) -> list[dict[str, float]]:
    """Train an MLP one epoch at a time and score it on held-out digits at each checkpoint.

    Args:
        seed: drives the split, the initial weights and the shuffling, in [0, 2**32).
        checkpoints: epochs (1-based, increasing) after which the model is scored.
        hidden: width of the single hidden layer.
        learning_rate: Adam's initial learning rate.
        batch_size: mini-batch size.

    Returns:
        One dict per checkpoint: ``step`` (the epoch), ``accuracy`` on the test set
        (higher is better) and ``min:loss``, the test log loss (lower is better).
    """
    split_seed, model_seed = np.random.SeedSequence(seed).generate_state(2)
    x, y = load_data()
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_FRACTION, stratify=y, random_state=int(split_seed)
    )
    model = MLPClassifier(
        hidden_layer_sizes=(hidden,),
        learning_rate_init=learning_rate,
        batch_size=batch_size,
        # An instance, not an int: scikit-learn re-reads ``random_state`` on every
        # partial_fit, and an int would replay the same shuffle each epoch.
        random_state=np.random.RandomState(model_seed),
    )
    classes = np.unique(y)
    records = []
    wanted = set(checkpoints)
    # The matrices are small: BLAS threads would only add overhead (and contention).
    with threadpool_limits(limits=1):
        for epoch in range(1, max(checkpoints) + 1):
            model.partial_fit(x_train, y_train, classes=classes)
            if epoch in wanted:
                proba = model.predict_proba(x_test)
                records.append(
                    {
                        "step": epoch,
                        "accuracy": float(np.mean(classes[proba.argmax(axis=1)] == y_test)),
                        "min:loss": float(log_loss(y_test, proba, labels=classes)),
                    }
                )
    return records
