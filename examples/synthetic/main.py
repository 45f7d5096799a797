"""Part 2 of the synthetic example: pybench's verdict against three simpler tests.

Three regimes are replayed as Monte-Carlo experiments, each on paired
(baseline, current) loss curves drawn with :func:`synthetic.sample_loss_curves`:

1. no regression, but a per-seed offset correlates the steps within a seed;
2. a global regression: every step's loss rises by 0.03;
3. a local regression: only the last of 200 steps rises, by 0.33.

Four tests judge every replication:

* global t-test: a one-sided one-sample t-test on all seed x step differences
  pooled, as if they were independent;
* per-step t + binomial: a one-sided paired t-test per step, then a one-sided
  binomial test of the number of significant steps against Binomial(K, alpha);
* sign-flip on count: the within-seed sign-flip permutation of the number of
  flagged steps (keeps the dependence between steps, drops each step's magnitude);
* sign-flip on severity: pybench's own verdict, computed by the very functions
  the CLI runs, :func:`pybench.stats._severity` and
  :func:`pybench.stats._sign_flip_meta_p`.

Only the first three are written out here. The script prints the rejection rate
of every test in every case and exits 1 unless the qualitative contrast holds:
in case 1 the two naive tests reject far more often than alpha while both
permutation tests stay at about alpha; in case 2 every test detects more than
85 % of the time; in case 3 only the severity test does.

Run it with ``uv run --package synthetic python examples/synthetic/main.py``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

# The study multiplies small (800 x 10) by (10 x K) matrices a few thousand times:
# BLAS threads only add overhead there, and much of it on a busy machine.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the thread settings, which numpy reads on import)
from scipy.special import bdtrc, stdtr  # noqa: E402
from synthetic import sample_loss_curves  # noqa: E402

from pybench.stats import (  # noqa: E402
    _severity,
    _sign_flip_meta_p,
    effect_denominators,
    t_critical,
)

N_SEEDS = 10
ALPHA = 0.05
N_PERM = 800
REPLICATIONS = 200
RNG_SEED = 0
CURVE = {"amp": 1.0, "tau": 30.0, "floor": 0.10, "noise": 0.05}
POWER_BAR = 0.85
"""A test "detects" a regression when its detection rate is above this."""

TESTS = (
    "global t-test (seed×step)",
    "per-step t + binomial",
    "sign-flip on count",
    "sign-flip on severity (pybench)",
)
NAIVE = TESTS[:2]
PERMUTATION = TESTS[2:]
SEVERITY = TESTS[3]


@dataclass(frozen=True)
class Case:
    """One regime: how the curves are drawn and what regression is injected."""

    title: str
    n_steps: int
    seed_sigma: float
    shift: float
    """Loss added to the current curves (every step, or the last one only)."""
    last_step_only: bool
    null: bool
    """True when there is no regression, so rejection rates are false-positive rates."""


CASES = (
    Case(
        "Case 1 — no regression, but the steps within a seed correlate",
        n_steps=100,
        seed_sigma=0.05,
        shift=0.0,
        last_step_only=False,
        null=True,
    ),
    Case(
        "Case 2 — a global regression: every checkpoint's loss rises a little",
        n_steps=100,
        seed_sigma=0.0,
        shift=0.03,
        last_step_only=False,
        null=False,
    ),
    Case(
        "Case 3 — a local regression: one checkpoint spikes, the rest unchanged",
        n_steps=200,
        seed_sigma=0.0,
        shift=0.33,
        last_step_only=True,
        null=False,
    ),
)


# -- the three alternative tests (not part of pybench) -----------------------
def global_t_test(diffs: np.ndarray, alpha: float) -> bool:
    """Pool every (seed, step) difference as if independent; one-sided t-test for a drop."""
    pooled = diffs.ravel()
    n = pooled.size
    t = pooled.mean() / (pooled.std(ddof=1) / math.sqrt(n))
    return bool(stdtr(n - 1, t) < alpha)


def per_step_binomial(diffs: np.ndarray, alpha: float) -> bool:
    """Per-step one-sided paired t-tests, then a binomial test of how many came out significant.

    The binomial null ``Binomial(K, alpha)`` assumes the K per-step rejections are
    independent.
    """
    n, k = diffs.shape
    t = diffs.mean(axis=0) / (diffs.std(axis=0, ddof=1) / math.sqrt(n))
    significant = int(np.count_nonzero(stdtr(n - 1, t) < alpha))
    if significant == 0:
        return False  # P(X >= 0) = 1
    return bool(bdtrc(significant - 1, k, alpha) < alpha)  # P(X >= significant)


def flag_thresholds(diffs: np.ndarray, t_crit: float) -> np.ndarray:
    """Per-slot thresholds on the column sum below which a (sign-flipped) slot is flagged.

    Flipping whole rows leaves each column's sum of squares ``SS`` unchanged, and
    for a fixed ``SS`` the t statistic is increasing in the column sum ``s``. So
    ``t < t_crit`` (with ``t_crit < 0``) is exactly
    ``s < -sqrt(n * t_crit**2 * SS / (n - 1 + t_crit**2))``.
    """
    n = diffs.shape[0]
    sum_sq = np.einsum("ij,ij->j", diffs, diffs)
    return -np.sqrt(n * t_crit**2 * sum_sq / (n - 1 + t_crit**2))


def flagged_counts(signs: np.ndarray, diffs: np.ndarray, t_crit: float) -> np.ndarray:
    """Number of slots with ``t < t_crit`` for every sign vector (row) of ``signs``.

    A matrix product gives the permuted column sums of a block of sign vectors at
    once; each is compared with its slot's fixed threshold (:func:`flag_thresholds`).
    Blocks of 128 sign vectors keep the work arrays small.
    """
    thresholds = flag_thresholds(diffs, t_crit)
    return np.concatenate(
        [
            np.count_nonzero(signs[start : start + 128] @ diffs < thresholds, axis=-1)
            for start in range(0, len(signs), 128)
        ]
    )


def sign_flip_count_p(
    diffs: np.ndarray, t_crit: float, *, n_perm: int, rng: np.random.Generator
) -> float:
    """Within-seed sign-flip permutation p-value of the number of flagged slots.

    ``p = (#{count_perm >= count_obs} + 1) / (n_perm + 1)``, and 1 when nothing is
    flagged. Signs are drawn as pybench draws them: ``rng.random((n_perm, n)) < 0.5``.
    """
    n = diffs.shape[0]
    observed = int(flagged_counts(np.ones((1, n)), diffs, t_crit)[0])
    if observed == 0:
        return 1.0
    signs = np.where(rng.random((n_perm, n)) < 0.5, 1.0, -1.0)
    hits = int(np.count_nonzero(flagged_counts(signs, diffs, t_crit) >= observed))
    return (hits + 1) / (n_perm + 1)


# -- pybench's verdict, by pybench's own functions ----------------------------
def pybench_rejects(
    diffs: np.ndarray,
    denom: np.ndarray,
    t_crit: float,
    *,
    alpha: float,
    n_perm: int,
    rng: np.random.Generator,
) -> bool:
    """pybench's FAIL: the sign-flip meta p-value of the severity is below alpha."""
    observed = _severity(diffs, denom, min_effect=None, t_crit=t_crit)
    meta_p = _sign_flip_meta_p(
        diffs, denom, observed, min_effect=None, t_crit=t_crit, n_perm=n_perm, rng=rng
    )
    return meta_p < alpha


# -- the study ---------------------------------------------------------------
def draw_pair(case: Case, rng: np.random.Generator, n_seeds: int) -> tuple[np.ndarray, np.ndarray]:
    """Baseline and current loss curves of one replication, each ``(n_seeds, n_steps)``."""
    kw = dict(n_seeds=n_seeds, n_steps=case.n_steps, seed_sigma=case.seed_sigma, **CURVE)
    baseline = sample_loss_curves(rng, **kw)
    current = sample_loss_curves(rng, **kw)
    if case.last_step_only:
        current[:, -1] += case.shift
    else:
        current += case.shift
    return baseline, current


def run_case(
    case: Case,
    rng: np.random.Generator,
    *,
    replications: int = REPLICATIONS,
    n_seeds: int = N_SEEDS,
    alpha: float = ALPHA,
    n_perm: int = N_PERM,
) -> dict[str, float]:
    """Rejection rate of each test over ``replications`` draws of ``case``."""
    t_crit = t_critical(alpha, n_seeds)
    rejections = dict.fromkeys(TESTS, 0)
    for _ in range(replications):
        baseline, current = draw_pair(case, rng, n_seeds)
        diffs = -(current - baseline)  # goodness differences: loss is lower-is-better
        denom = effect_denominators(-baseline)
        verdicts = (
            global_t_test(diffs, alpha),
            per_step_binomial(diffs, alpha),
            sign_flip_count_p(diffs, t_crit, n_perm=n_perm, rng=rng) < alpha,
            pybench_rejects(diffs, denom, t_crit, alpha=alpha, n_perm=n_perm, rng=rng),
        )
        for name, rejected in zip(TESTS, verdicts, strict=True):
            rejections[name] += bool(rejected)
    return {name: count / replications for name, count in rejections.items()}


def run_study(
    *,
    replications: int = REPLICATIONS,
    seed: int = RNG_SEED,
    n_seeds: int = N_SEEDS,
    alpha: float = ALPHA,
    n_perm: int = N_PERM,
) -> list[dict[str, float]]:
    """Rates of every test in every case, all drawn from one generator ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    return [
        run_case(case, rng, replications=replications, n_seeds=n_seeds, alpha=alpha, n_perm=n_perm)
        for case in CASES
    ]


def format_table(case: Case, rates: dict[str, float], alpha: float = ALPHA) -> str:
    """One case's table, as the walkthrough prints it."""
    header = (
        f"false-positive rate (target = {alpha:g})"
        if case.null
        else "detection rate (higher is better)"
    )
    width = max(len(name) for name in TESTS) + 3
    lines = [case.title, f"{'test':<{width}}{header}"]
    lines += [f"{name:<{width}}{rates[name]:.3f}" for name in TESTS]
    return "\n".join(lines)


def contrast_failures(
    results: Sequence[dict[str, float]], *, alpha: float = ALPHA, replications: int = REPLICATIONS
) -> list[str]:
    """What breaks the qualitative contrast (an empty list when it holds).

    Case 1: both naive tests reject at more than twice alpha, both permutation
    tests at most alpha plus three binomial standard errors. Case 2: every test
    detects above 0.85. Case 3: only the severity test does.
    """
    slack = 3.0 * math.sqrt(alpha * (1.0 - alpha) / replications)
    null, broad, local = results
    failures = []
    for name in NAIVE:
        if not null[name] > 2.0 * alpha:
            failures.append(f"case 1: {name} at {null[name]:.3f}, not far above alpha={alpha:g}")
    for name in PERMUTATION:
        if not null[name] <= alpha + slack:
            failures.append(
                f"case 1: {name} at {null[name]:.3f}, above alpha={alpha:g} + {slack:.3f}"
            )
    for name in TESTS:
        if not broad[name] > POWER_BAR:
            failures.append(f"case 2: {name} detects {broad[name]:.3f}, not above {POWER_BAR}")
    for name in TESTS:
        if (local[name] > POWER_BAR) != (name == SEVERITY):
            failures.append(
                f"case 3: {name} detects {local[name]:.3f}; only the severity test "
                f"should be above {POWER_BAR}"
            )
    return failures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=REPLICATIONS)
    parser.add_argument("--seed", type=int, default=RNG_SEED)
    args = parser.parse_args(argv)
    results = run_study(replications=args.replications, seed=args.seed)
    print(
        "\n\n".join(format_table(case, rates) for case, rates in zip(CASES, results, strict=True))
    )
    failures = contrast_failures(results, replications=args.replications)
    for failure in failures:
        print(f"contrast broken: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
