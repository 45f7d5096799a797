"""Numbers at the edges, end to end: rounding edits pass, --rtol, refusals of alpha."""

from __future__ import annotations

from pathlib import Path

BENCH = '''
import os
import numpy as np

def bench_mean(seed: int, *, n_seeds: int = {n_seeds}{extra}) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for step in range(7):
        xs = [float(v) for v in rng.normal(1.0, 0.3, 40)]
        if os.environ.get("PYBENCH_TEST_EDIT") == "reorder":
            value = sum(xs) / len(xs)
        elif os.environ.get("PYBENCH_TEST_EDIT") == "worse":
            value = sum(xs) / len(xs) * 1.05
        else:
            value = sum(xs) * (1 / len(xs))
        rows.append({{"step": step, "min:loss": value}})
    return rows
'''


def _write(project: Path, extra: str = "", n_seeds: int = 12) -> None:
    text = BENCH.format(extra=extra, n_seeds=n_seeds)
    (project / "benchmarks" / "bench_mean.py").write_text(text)


def test_a_rounding_edit_passes_end_to_end(project, cli, monkeypatch):
    _write(project)
    assert cli("benchmarks", "--seed", "3").exit_code == 0
    monkeypatch.setenv("PYBENCH_TEST_EDIT", "reorder")
    result = cli("benchmarks")
    assert result.exit_code == 0, result.output
    assert "PASS 1 metrics × 7 steps 0/7 slots flagged meta-p=1.000" in result.stdout
    monkeypatch.setenv("PYBENCH_TEST_EDIT", "worse")
    assert cli("benchmarks").exit_code == 1
    # With rtol = 0 only exactly equal values are ties: the rounding edit is judged as noise.
    monkeypatch.setenv("PYBENCH_TEST_EDIT", "reorder")
    strict = cli("benchmarks", "--rtol", "0")
    assert strict.exit_code in (0, 1) and "slots flagged" in strict.stdout


def test_alpha_above_one_half_is_refused(project, cli):
    _write(project)
    result = cli("benchmarks", "--alpha", "0.7")
    assert result.exit_code == 2
    assert "0.7" in result.output and "0.5" in result.output


def test_the_alpha_keyword_above_one_half_is_refused(project, cli):
    _write(project, extra=", alpha: float = 0.6")
    result = cli("benchmarks")
    assert result.exit_code == 2
    assert "bench_mean ... ERROR alpha=0.6 must be a number in (0, 0.5]" in result.output


def test_an_alpha_whose_flips_take_too_long_is_one_line(project, cli, monkeypatch):
    _write(project, n_seeds=30)
    made = cli("benchmarks")
    assert made.exit_code == 0, made.output
    result = cli("benchmarks", "--alpha", "2e-7")
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if "bench_mean: alpha=2e-07" in line]
    assert len(errors) == 1 and "larger alpha" in errors[0]
    assert "Traceback" not in result.output
