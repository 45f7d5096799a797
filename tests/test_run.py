"""Running seeds: row order, slot consistency, finiteness, seed sampling."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from pybench.core.benchmark import Benchmark
from pybench.core.seeds import SeedOutcome
from pybench.engine.collect import BenchmarkError, check_finite, run_seeds
from pybench.engine.plan import sample_seeds
from pybench.execution.evaluate import SerialBackend, evaluate_seed
from pybench.storage.store import BaselineRecord


def _bench(func) -> Benchmark:
    return Benchmark(name="bench_t", path=Path("bench_t.py"), func=func)


class ReversedBackend:
    """Finishes seeds last-first, as a parallel back-end may."""

    def map_seeds(self, bench: Benchmark, seeds: Sequence[int]) -> Iterator[SeedOutcome]:
        for index in reversed(range(len(seeds))):
            yield evaluate_seed(bench.func, index, seeds[index])

    def close(self) -> None:
        pass


def test_rows_follow_seed_order_whatever_the_finishing_order():
    def curve(seed):
        return [{"step": 2, "acc": seed / 10}, {"step": 1, "acc": seed / 100, "min:loss": 1.0}]

    ticks = []
    serial = run_seeds(_bench(curve), [3, 1, 2], backend=SerialBackend())
    shuffled = run_seeds(
        _bench(curve), [3, 1, 2], backend=ReversedBackend(), on_outcome=ticks.append
    )
    assert serial.slots == [(1, "acc"), (1, "min:loss"), (2, "acc")]
    assert np.array_equal(serial.values, shuffled.values) and len(ticks) == 3
    assert serial.values[:, 2].tolist() == [0.3, 0.1, 0.2]
    record = BaselineRecord.from_matrix("bench_t", serial.seeds, serial.slots, serial.values)
    assert record.scores == {
        1: {"acc": [0.03, 0.01, 0.02], "min:loss": [1.0] * 3},
        2: {"acc": [0.3, 0.1, 0.2]},
    }
    assert np.array_equal(record.matrix(serial.slots), serial.values)
    assert len(serial.seed_times) == 3 and all(t >= 0 for t in serial.seed_times)


def test_a_later_seed_with_other_slots_is_an_error():
    def fickle(seed):
        return {"acc": 1.0} if seed != 7 else {"acc": 1.0, "extra": 2.0}

    with pytest.raises(
        BenchmarkError, match=r"seed 7 returned different slots from seed 5 \(new step 0 'extra'\)"
    ):
        run_seeds(_bench(fickle), [5, 6, 7, 8], backend=SerialBackend())


def test_expected_slots_ask_for_a_reset():
    with pytest.raises(
        BenchmarkError,
        match=r"seed 1 returned different slots from the baseline \(missing step 0 'b'\)$",
    ) as info:
        run_seeds(
            _bench(lambda s: {"a": 1.0}),
            [1, 2],
            backend=SerialBackend(),
            expected=[(0, "a"), (0, "b")],
        )
    assert info.value.seed == 1 and info.value.reset


def test_raising_seed_stops_the_run_with_its_seed_and_traceback():
    calls = []

    def boom(seed):
        calls.append(seed)
        if seed == 2:
            raise RuntimeError("no GPU")
        return 1.0

    with pytest.raises(BenchmarkError, match="seed 2 raised RuntimeError: no GPU") as info:
        run_seeds(_bench(boom), [1, 2, 3], backend=SerialBackend())
    assert calls == [1, 2]  # the serial run stops at the first failure
    assert "Traceback" in info.value.detail and 'raise RuntimeError("no GPU")' in info.value.detail


def test_check_finite_names_slot_and_seeds():
    result = run_seeds(
        _bench(lambda s: {"acc": math.inf if s % 2 else 1.0}),
        [1, 2, 3, 5, 7],
        backend=SerialBackend(),
    )
    assert result.non_finite() == {(0, "acc"): [1, 3, 5, 7]}
    with pytest.raises(BenchmarkError, match=r"step 0 'acc' is \+inf on seeds 1, 3, 5 and 1 more"):
        check_finite("bench_t", result)
    finite = run_seeds(_bench(lambda s: 1.0), [1, 2], backend=SerialBackend())
    check_finite("bench_t", finite)


def test_sample_seeds():
    a = sample_seeds(50, base_seed=3, name="bench_a")
    assert a == sample_seeds(50, base_seed=3, name="bench_a")
    assert a != sample_seeds(50, base_seed=3, name="bench_b")
    assert len(set(a)) == 50 and all(0 <= s < 2**32 and isinstance(s, int) for s in a)
    assert sample_seeds(5, base_seed=None, name="x") != sample_seeds(5, base_seed=None, name="x")


def test_forwarded_environment_is_set_for_the_call_and_restored(monkeypatch):
    monkeypatch.setenv("PYBENCH_T_KEPT", "outside")
    monkeypatch.setenv("PYBENCH_T_UNSET", "outside")
    monkeypatch.delenv("PYBENCH_T_NEW", raising=False)
    seen = {}

    def bench(seed):
        seen.update(
            {k: os.environ.get(k) for k in ("PYBENCH_T_KEPT", "PYBENCH_T_UNSET", "PYBENCH_T_NEW")}
        )
        os.environ["PYBENCH_T_NEW"] = "changed by the benchmark"
        if seed == 2:
            raise RuntimeError("boom")
        return 1.0

    env = {"PYBENCH_T_KEPT": "forwarded", "PYBENCH_T_UNSET": None, "PYBENCH_T_NEW": "new"}
    for seed in (1, 2):
        outcome = evaluate_seed(bench, 0, seed, env)
        assert (outcome.failure is None) == (seed == 1)
        assert seen == {
            "PYBENCH_T_KEPT": "forwarded",
            "PYBENCH_T_UNSET": None,
            "PYBENCH_T_NEW": "new",
        }
        assert os.environ["PYBENCH_T_KEPT"] == "outside"
        assert os.environ["PYBENCH_T_UNSET"] == "outside"
        assert "PYBENCH_T_NEW" not in os.environ  # the call's change to a forwarded name is undone

    assert evaluate_seed(bench, 0, 1).values == {(0, "score"): 1.0}  # no env: nothing touched
    assert os.environ.pop("PYBENCH_T_NEW") == "changed by the benchmark"
