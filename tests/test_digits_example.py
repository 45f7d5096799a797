"""The digits example (examples/digits): a deterministic benchmark whose toggles really change it.

A full pybench run of it takes several seconds per verdict; here a handful of seeds
checks the two properties the walkthrough relies on: a seed always gives the same
scores, and the regression and improvement toggles move the scores the right way.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "examples" / "digits" / "benchmarks"
SEEDS = (0, 12345, 2**32 - 1)


@pytest.fixture(scope="module")
def bench_module() -> Iterator[ModuleType]:
    """examples/digits/benchmarks/bench_digits.py imported as a module."""
    spec = importlib.util.spec_from_file_location("digits_bench", BENCH / "bench_digits.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def _scores(module: ModuleType, seeds: tuple[int, ...], toggle: str | None = None) -> np.ndarray:
    """``(seeds, steps, [accuracy, loss])`` of the benchmark run with at most one toggle set."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        for var in ("DIGITS_REGRESS", "DIGITS_IMPROVE"):
            if var == toggle:
                monkeypatch.setenv(var, "1")
            else:
                monkeypatch.delenv(var, raising=False)
        curves = [module.bench_digits(seed) for seed in seeds]
    return np.array([[[r["accuracy"], r["min:loss"]] for r in curve] for curve in curves])


@pytest.fixture(scope="module")
def base(bench_module: ModuleType) -> np.ndarray:
    """The untouched benchmark's scores on ``SEEDS``."""
    return _scores(bench_module, SEEDS)


def test_curve_shape(bench_module: ModuleType) -> None:
    curve = bench_module.bench_digits(SEEDS[0])
    assert [r["step"] for r in curve] == [1, 5, 20]
    assert all(set(r) == {"step", "accuracy", "min:loss"} for r in curve)
    assert all(0.0 <= r["accuracy"] <= 1.0 and r["min:loss"] > 0.0 for r in curve)
    assert curve[-1]["accuracy"] > 0.9  # a real model that learns the digits
    assert curve[-1]["min:loss"] < curve[0]["min:loss"]


def test_same_seed_same_scores(bench_module: ModuleType, base: np.ndarray) -> None:
    again = _scores(bench_module, SEEDS[:2])
    assert np.array_equal(again, base[:2])
    # ... and the seed matters: another seed gives another split and another training run.
    assert not np.array_equal(base[0], base[1])


def test_regression_toggle_lowers_accuracy(bench_module: ModuleType, base: np.ndarray) -> None:
    regressed = _scores(bench_module, SEEDS, "DIGITS_REGRESS")
    assert np.all(regressed[:, :, 0] < base[:, :, 0])  # accuracy at every checkpoint
    assert np.all(regressed[:, :, 1] > base[:, :, 1])  # and a higher loss


def test_improvement_toggle_lowers_loss(bench_module: ModuleType, base: np.ndarray) -> None:
    improved = _scores(bench_module, SEEDS, "DIGITS_IMPROVE")
    assert np.all(improved[:, :, 1] < base[:, :, 1])
    assert np.all(improved[:, 0, 0] > base[:, 0, 0])  # learns faster: better after epoch 1
