"""The synthetic example's shared loss-curve sampler."""

from __future__ import annotations

import numpy as np

__all__ = ["sample_loss_curves"]


def sample_loss_curves(
    rng: np.random.Generator,
    *,
    n_seeds: int,
    n_steps: int,
    amp: float,
    tau: float,
    floor: float,
    noise: float,
    seed_sigma: float = 0.0,
) -> np.ndarray:
    """Draw ``(n_seeds, n_steps)`` noisy losses around ``amp * exp(-step / tau) + floor``.

    Args:
        rng: the generator every draw comes from.
        n_seeds: number of curves (rows).
        n_steps: number of steps per curve (columns).
        amp: amplitude of the exponential decay.
        tau: decay time constant, in steps.
        floor: the loss the curve decays towards.
        noise: standard deviation of the independent per-(seed, step) noise.
        seed_sigma: standard deviation of a per-seed offset shared by every step
            of a curve; it correlates the steps within a curve the way a real
            training run's steps are correlated.

    Returns:
        The sampled curves, shape ``(n_seeds, n_steps)``.
    """
    steps = np.arange(n_steps)
    mean_curve = amp * np.exp(-steps / tau) + floor
    curves = mean_curve + rng.normal(0.0, noise, size=(n_seeds, n_steps))
    if seed_sigma:
        curves = curves + rng.normal(0.0, seed_sigma, size=(n_seeds, 1))
    return curves
