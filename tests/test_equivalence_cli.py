"""``--equivalence`` and ``--alpha-scope run`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

BENCH = """
import os
import numpy as np

def bench_{name}(seed, *, n_seeds={n}):
    noise = float(os.environ.get("NOISE", "0.001"))
    if os.environ.get("FRESH"):  # the same code, another random stream
        seed = seed + 10_000
    rng = np.random.default_rng(seed)
    shift = float(os.environ.get("SHIFT_{upper}", "0"))
    return [{{"step": s, "acc": 0.5 + 0.01 * s + shift + noise * rng.standard_normal()}}
            for s in range(1, 6)]
"""


def _bench(write_bench, name: str, n: int) -> None:
    write_bench(BENCH.format(name=name, n=n, upper=name.upper()), f"bench_{name}.py")


def test_equivalence_passes_a_precise_no_change_and_fails_a_noisy_one(
    project, write_bench, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    _bench(write_bench, "same", 40)
    assert cli("run", "--seed", "1").exit_code == 0
    monkeypatch.setenv("FRESH", "1")
    result = cli("run", "--equivalence", "0.01", "--json", "r.json", "-v")
    assert result.exit_code == 0, result.output
    assert "PASS" in result.output and "rules out drops > " in result.output
    bound = json.loads(Path("r.json").read_text())["benchmarks"][0]["rules_out"]
    assert bound["margin"] == 0.01 and bound["equivalent"] is True
    assert 0.0 < bound["drop"] < 0.01 and bound["n_slots"] == 5 and bound["level"] == 0.95

    # Noise ten times larger: the run can no longer rule out a 1 % drop.
    monkeypatch.setenv("NOISE", "0.05")
    monkeypatch.delenv("FRESH")
    assert cli("update", "--yes", "--seed", "2").exit_code == 0
    monkeypatch.setenv("FRESH", "1")
    monkeypatch.setenv("PYBENCH_EQUIVALENCE", "0.01")
    result = cli("run", "--json", "r.json")
    assert result.exit_code == 1, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("bench_same"))
    assert "FAIL" in line and "cannot rule out a drop of 1%: bound " in line
    assert "meta-p=" in line  # the regression test itself found nothing
    bound = json.loads(Path("r.json").read_text())["benchmarks"][0]["rules_out"]
    assert bound["equivalent"] is False and bound["drop"] > 0.01
    assert f"at step {bound['step']} acc" in line

    # Without the margin the same run PASSes.
    monkeypatch.delenv("PYBENCH_EQUIVALENCE")
    assert cli("run").exit_code == 0


def test_alpha_scope_run_from_the_command_line(
    project, write_bench, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a", "b", "c"):
        _bench(write_bench, name, 20)
    assert cli("run", "--seed", "1").exit_code == 0
    monkeypatch.setenv("FRESH", "1")
    monkeypatch.setenv("SHIFT_B", "-0.01")  # ten standard deviations down
    result = cli("run", "--alpha-scope", "run", "--json", "r.json")
    assert result.exit_code == 1, result.output
    assert "family-wise α=0.05 over 3 benchmarks" in result.output
    fail = next(x for x in result.output.splitlines() if x.startswith("bench_b"))
    assert "FAIL" in fail and "run-adjusted p=" in fail
    doc = json.loads(Path("r.json").read_text())
    family = {b["name"]: b["family"] for b in doc["benchmarks"]}
    assert all(f["scope"] == "run" and f["size"] == 3 for f in family.values())
    statuses = {b["name"]: b["status"] for b in doc["benchmarks"]}
    assert statuses == {"bench_a": "PASS", "bench_b": "FAIL", "bench_c": "PASS"}

    # The environment variable does the same; the default scope says nothing of a family.
    monkeypatch.setenv("PYBENCH_ALPHA_SCOPE", "run")
    assert "family-wise" in cli("run").output
    monkeypatch.delenv("PYBENCH_ALPHA_SCOPE")
    result = cli("run")
    assert result.exit_code == 1 and "family-wise" not in result.output
