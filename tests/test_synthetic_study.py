"""The synthetic example's Part 2 study (examples/synthetic/main.py), on few replications.

The full study (200 replications per case) is what the documentation quotes; here
its machinery runs on a handful of replications so that it cannot rot, and each
alternative test is checked against a straightforward reference.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from scipy import stats as sps

from pybench.stats import compare, t_critical

MAIN = Path(__file__).resolve().parent.parent / "examples" / "synthetic" / "main.py"

WALKTHROUGH = [
    {  # the walkthrough's table
        "global t-test (seed×step)": 0.405,
        "per-step t + binomial": 0.170,
        "sign-flip on count": 0.040,
        "sign-flip on severity (pybench)": 0.030,
    },
    dict.fromkeys(
        [
            "global t-test (seed×step)",
            "per-step t + binomial",
            "sign-flip on count",
            "sign-flip on severity (pybench)",
        ],
        1.0,
    ),
    {
        "global t-test (seed×step)": 0.225,
        "per-step t + binomial": 0.070,
        "sign-flip on count": 0.050,
        "sign-flip on severity (pybench)": 0.980,
    },
]


@pytest.fixture(scope="module")
def study() -> Iterator[ModuleType]:
    """examples/synthetic/main.py imported as a module (its environment defaults undone)."""
    saved = dict(os.environ)
    spec = importlib.util.spec_from_file_location("synthetic_study_main", MAIN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)
        os.environ.clear()
        os.environ.update(saved)


def _correlated_diffs(rng: np.random.Generator, n: int = 10, k: int = 40) -> np.ndarray:
    return rng.normal(0.0, 0.05, (n, k)) + rng.normal(0.0, 0.05, (n, 1))


# -- the alternatives against references ----------------------------------------------
def test_global_t_test_matches_scipy(study: ModuleType) -> None:
    rng = np.random.default_rng(1)
    decisions = []
    for shift in (0.0, -0.01, -0.03, 0.02):
        for _ in range(10):
            diffs = _correlated_diffs(rng) + shift
            expected = sps.ttest_1samp(diffs.ravel(), 0.0, alternative="less").pvalue < 0.05
            assert study.global_t_test(diffs, 0.05) == expected
            decisions.append(expected)
    assert any(decisions) and not all(decisions)


def test_per_step_binomial_matches_scipy(study: ModuleType) -> None:
    rng = np.random.default_rng(2)
    decisions = []
    for shift in (0.0, -0.01, -0.03):
        for _ in range(10):
            diffs = rng.normal(shift, 0.07, (10, 60))
            p_steps = sps.ttest_1samp(diffs, 0.0, axis=0, alternative="less").pvalue
            significant = int((p_steps < 0.05).sum())
            p = sps.binomtest(significant, 60, 0.05, alternative="greater").pvalue
            assert study.per_step_binomial(diffs, 0.05) == (p < 0.05)
            decisions.append(p < 0.05)
    assert any(decisions) and not all(decisions)


def _t_loop(signs: np.ndarray, diffs: np.ndarray) -> np.ndarray:
    """Permuted t statistics, one sign vector at a time (the slow, obvious way)."""
    n = diffs.shape[0]
    out = []
    for eps in signs:
        flipped = eps[:, None] * diffs
        out.append(flipped.mean(axis=0) / (flipped.std(axis=0, ddof=1) / np.sqrt(n)))
    return np.array(out)


def test_flagged_counts_match_a_loop_over_permutations(study: ModuleType) -> None:
    rng = np.random.default_rng(3)
    t_crit = t_critical(0.05, 10)
    for shift in (0.0, -0.02, -0.05):
        diffs = _correlated_diffs(rng) + shift
        signs = np.where(rng.random((300, 10)) < 0.5, 1.0, -1.0)
        expected = (_t_loop(signs, diffs) < t_crit).sum(axis=1)
        np.testing.assert_array_equal(study.flagged_counts(signs, diffs, t_crit), expected)


def test_sign_flip_count_p_matches_a_loop(study: ModuleType) -> None:
    rng = np.random.default_rng(4)
    t_crit = t_critical(0.05, 10)
    n_perm = 200
    for shift in (-0.01, -0.02, -0.04):
        diffs = rng.normal(shift, 0.07, (10, 30))
        observed = int((_t_loop(np.ones((1, 10)), diffs) < t_crit).sum())
        assert observed > 0
        signs = np.where(np.random.default_rng(9).random((n_perm, 10)) < 0.5, 1.0, -1.0)
        counts = (_t_loop(signs, diffs) < t_crit).sum(axis=1)
        expected = (np.count_nonzero(counts >= observed) + 1) / (n_perm + 1)
        got = study.sign_flip_count_p(diffs, t_crit, n_perm=n_perm, rng=np.random.default_rng(9))
        assert got == pytest.approx(expected, abs=0, rel=1e-12)


def test_count_p_is_one_when_nothing_is_flagged(study: ModuleType) -> None:
    diffs = np.random.default_rng(5).normal(0.05, 0.01, (10, 20))  # every step got better
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    assert study.sign_flip_count_p(diffs, t_critical(0.05, 10), n_perm=100, rng=rng) == 1.0
    assert rng.bit_generator.state == state  # no permutation drawn


def test_pybench_verdict_is_pybench_compare(study: ModuleType) -> None:
    """The study's verdict agrees with pybench's public compare() on the same curves."""
    rng = np.random.default_rng(6)
    verdicts = []
    for case in study.CASES:
        for _ in range(3):
            baseline, current = study.draw_pair(case, rng, 10)
            diffs = -(current - baseline)
            denom = study.effect_denominators(-baseline)
            rejected = study.pybench_rejects(
                diffs,
                denom,
                t_critical(0.05, 10),
                alpha=0.05,
                n_perm=800,
                rng=np.random.default_rng(11),
            )

            slots = [(step, "min:loss") for step in range(baseline.shape[1])]
            result = compare(
                baseline,
                current,
                slots,
                alpha=0.05,
                n_perm=800,
                rng=np.random.default_rng(11),
            )
            assert rejected == (not result.passed)
            verdicts.append(rejected)
    assert any(verdicts) and not all(verdicts)


# -- the study itself ----------------------------------------------------------------
def test_draw_pair_injects_each_regression(study: ModuleType) -> None:
    null, broad, local = study.CASES
    assert (null.n_steps, null.seed_sigma, null.shift) == (100, 0.05, 0.0)
    for case, expected in ((broad, 0.03), (local, 0.33)):
        rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
        baseline, current = study.draw_pair(case, rng_a, 10)
        no_shift = study.draw_pair(study.Case("", case.n_steps, 0.0, 0.0, False, True), rng_b, 10)
        np.testing.assert_array_equal(baseline, no_shift[0])
        lift = current - no_shift[1]
        if case.last_step_only:
            np.testing.assert_allclose(lift[:, -1], expected)
            np.testing.assert_array_equal(lift[:, :-1], 0.0)
        else:
            np.testing.assert_allclose(lift, expected)
    assert local.n_steps == 200


def test_study_on_few_replications(study: ModuleType) -> None:
    reps = 12
    null, broad, local = study.run_study(replications=reps)
    for rates in (null, broad, local):
        assert list(rates) == list(study.TESTS)
        for rate in rates.values():
            assert 0.0 <= rate <= 1.0
            assert (rate * reps) == pytest.approx(round(rate * reps))
    # Case 2 is easy for every test; in case 3 the severity beats every alternative.
    assert all(rate == 1.0 for rate in broad.values())
    severity = local[study.SEVERITY]
    assert severity >= 0.9
    assert all(local[name] < severity for name in study.TESTS if name != study.SEVERITY)
    # One generator for everything: the same seed gives the same rates.
    assert study.run_study(replications=reps) == [null, broad, local]


def test_main_prints_the_three_tables(
    study: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    code = study.main(["--replications", "4"])
    out = capsys.readouterr().out
    tables = out.strip().split("\n\n")
    assert len(tables) == 3
    for table, case in zip(tables, study.CASES, strict=True):
        lines = table.splitlines()
        assert lines[0] == case.title
        header = (
            "false-positive rate (target = 0.05)"
            if case.null
            else "detection rate (higher is better)"
        )
        assert lines[1] == f"{'test':<34}{header}"
        assert [line[:34].rstrip() for line in lines[2:]] == list(study.TESTS)
        for line in lines[2:]:
            value = line[34:]
            assert len(value) == 5 and 0.0 <= float(value) <= 1.0
    assert code in (0, 1)
    assert code == (
        1 if study.contrast_failures(study.run_study(replications=4), replications=4) else 0
    )


def test_contrast_holds_for_the_walkthrough_table(study: ModuleType) -> None:
    assert study.contrast_failures(WALKTHROUGH) == []


@pytest.mark.parametrize(
    ("case", "name", "rate", "needle"),
    [
        (0, "global t-test (seed×step)", 0.06, "case 1: global t-test"),
        (0, "per-step t + binomial", 0.05, "case 1: per-step t + binomial"),
        (0, "sign-flip on severity (pybench)", 0.15, "case 1: sign-flip on severity"),
        (0, "sign-flip on count", 0.12, "case 1: sign-flip on count"),
        (1, "sign-flip on severity (pybench)", 0.80, "case 2: sign-flip on severity"),
        (2, "sign-flip on severity (pybench)", 0.50, "case 3: sign-flip on severity"),
        (2, "sign-flip on count", 0.95, "case 3: sign-flip on count"),
        (2, "global t-test (seed×step)", 0.90, "case 3: global t-test"),
    ],
)
def test_contrast_breaks(study: ModuleType, case: int, name: str, rate: float, needle: str) -> None:
    results = [dict(rates) for rates in WALKTHROUGH]
    results[case][name] = rate
    failures = study.contrast_failures(results)
    assert len(failures) == 1 and failures[0].startswith(needle)
