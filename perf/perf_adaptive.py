"""Adaptive seeds on the synthetic example: seeds spent, and verdicts against the full run.

Run from the repository root::

    uv run python perf/perf_adaptive.py [--replications R] [--n-perm P] [--sweep]

Each case draws paired (baseline, current) loss curves for 30 stored seeds with
the synthetic example's sampler (``draw_pair`` of ``examples/synthetic/main.py``:
a fresh curve per seed on both sides, so no difference is zero), then judges
them twice with pybench's own functions: the full run (``stats.compare`` on all
30 seeds at alpha) and the adaptive design (``adaptive.decisions``, stopping at
the first look that decides). It prints each verdict's FAIL rate and the mean
fraction of the stored seeds the adaptive design ran.

The cases: the walkthrough's three Monte-Carlo regimes (Part 2: a null with
correlated steps, a global and a local regression) at 30 seeds, then marginal
versions built to sit near 80 % power on the full run, on 100-200 steps and on
the 3 checkpoints of the command-line benchmark. With ``--sweep`` it also
prints the futility rule's trade-off (seeds spent on the nulls against power
lost on the marginal cases) over a few values of ``adaptive.OPTIMISM``.

For speed the sign-flip budget is ``--n-perm`` (default 1000, the run stage
uses 4096): a smaller budget gives valid, coarser p-values, so it moves rates
by a little and the error control not at all.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from pybench import stats  # noqa: E402
from pybench.judging import adaptive  # noqa: E402
from pybench.judging.verdict import Criteria, Paired  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
N_SEEDS = 30
ALPHA = 0.05


def _study():
    """examples/synthetic/main.py, imported as a module (for ``Case``, ``CASES``, ``draw_pair``)."""
    path = ROOT / "examples" / "synthetic" / "main.py"
    spec = importlib.util.spec_from_file_location("synthetic_main", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


STUDY = _study()


@dataclass(frozen=True)
class Row:
    name: str
    case: object
    null: bool


@dataclass(frozen=True)
class NormalCase:
    """Independent standard-normal slots; ``shift`` (in standard deviations of a paired
    difference) lowers the goodness of the first slot (``local``) or of every slot."""

    n_steps: int
    shift: float
    local: bool


def draw(case, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Baseline and current ``(30, steps)`` loss values of one replication."""
    if not isinstance(case, NormalCase):
        return STUDY.draw_pair(case, rng, N_SEEDS)
    baseline = 10.0 + rng.standard_normal((N_SEEDS, case.n_steps))
    current = 10.0 + rng.standard_normal((N_SEEDS, case.n_steps))
    rise = case.shift * math.sqrt(2.0)  # a paired difference has standard deviation sqrt(2)
    if case.local:
        current[:, 0] += rise
    else:
        current += rise
    return baseline, current


def cases() -> list[Row]:
    case1, case2, case3 = STUDY.CASES
    cli = dict(n_steps=3, seed_sigma=0.0)
    return [
        Row("null: 100 correlated steps (case 1)", case1, True),
        Row("global: +0.03 on 100 steps (case 2)", case2, False),
        Row("local: +0.33 on 1 of 200 steps (case 3)", case3, False),
        Row(
            "marginal global: +0.0065 on 100 steps",
            STUDY.Case("", 100, 0.0, 0.0065, False, False),
            False,
        ),
        Row(
            "marginal local: +0.095 on 1 of 200 steps",
            STUDY.Case("", 200, 0.0, 0.095, True, False),
            False,
        ),
        Row(
            "null: 3 checkpoints",
            STUDY.Case("", shift=0.0, last_step_only=False, null=True, **cli),
            True,
        ),
        Row(
            "marginal global: +0.025 on 3 checkpoints",
            STUDY.Case("", shift=0.025, last_step_only=False, null=False, **cli),
            False,
        ),
        Row(
            "marginal local: +0.04 on 1 of 3 checkpoints",
            STUDY.Case("", shift=0.04, last_step_only=True, null=False, **cli),
            False,
        ),
        Row("null: 1 normal slot", NormalCase(1, 0.0, False), True),
        Row("marginal: 0.5 SD on 1 normal slot", NormalCase(1, 0.5, False), False),
        Row("null: 20 normal slots", NormalCase(20, 0.0, False), True),
        Row("marginal local: 0.8 SD on 1 of 20 slots", NormalCase(20, 0.8, True), False),
    ]


def replicate(case, rng, n_perm: int, optimisms: tuple[float, ...]):
    """One draw: the full run's FAIL, and (FAIL, seeds run) of the adaptive design per optimism."""
    baseline, current = draw(case, rng)
    slots = [(step, "min:loss") for step in range(case.n_steps)]
    paired = Paired(slots, list(range(N_SEEDS)), baseline, current)
    criteria = Criteria(ALPHA, n_perm=n_perm)
    full = stats.compare(baseline, current, slots, alpha=ALPHA, n_perm=n_perm)
    looks = adaptive.schedule(N_SEEDS, ALPHA)
    verdicts = []
    for optimism in optimisms:
        for decision in adaptive.decisions(looks, paired, criteria, optimism=optimism):
            if decision.stop:
                break
        verdicts.append((not decision.passed, decision.n))
    return not full.passed, verdicts


def run_case(row: Row, replications: int, n_perm: int, optimisms: tuple[float, ...], seed: int):
    rng = np.random.default_rng(seed)
    full = 0
    fails = np.zeros(len(optimisms))
    spent = np.zeros(len(optimisms))
    for _ in range(replications):
        full_fail, verdicts = replicate(row.case, rng, n_perm, optimisms)
        full += full_fail
        for i, (fail, n) in enumerate(verdicts):
            fails[i] += fail
            spent[i] += n / N_SEEDS
    return full / replications, fails / replications, spent / replications


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=300)
    parser.add_argument("--n-perm", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sweep", action="store_true", help="also vary adaptive.OPTIMISM")
    args = parser.parse_args(argv)
    optimisms = (adaptive.OPTIMISM,)
    if args.sweep:
        optimisms = tuple(sorted({1.0, 2.0, 2.5, adaptive.OPTIMISM}))
    looks = adaptive.schedule(N_SEEDS, ALPHA)
    print(
        f"{N_SEEDS} stored seeds, alpha={ALPHA}: looks after "
        + ", ".join(f"{look.n} (FAIL if meta-p < {look.alpha:.4g})" for look in looks)
    )
    print(
        f"{args.replications} replications per case, {args.n_perm} sign flips, "
        f"futility optimism {adaptive.OPTIMISM}\n"
    )
    width = 46
    print(f"{'case':<{width}}{'full run':>10}{'adaptive':>10}{'seeds run':>11}")
    started = time.perf_counter()
    results = {}
    for i, row in enumerate(cases()):
        full, fails, spent = run_case(row, args.replications, args.n_perm, optimisms, args.seed + i)
        results[row.name] = (row, full, fails, spent)
        at = optimisms.index(adaptive.OPTIMISM)
        print(f"{row.name:<{width}}{full:>10.3f}{fails[at]:>10.3f}{spent[at]:>10.0%}")
    print("\n(rates are FAIL rates: false alarms on the nulls, detection on the regressions;")
    print(" 'seeds run' is the mean share of the 30 stored seeds the adaptive design ran)")
    if args.sweep:
        print("\nfutility trade-off: share of seeds run on each null, detection lost on each")
        print("marginal case (full run minus adaptive), by optimism")
        for j, optimism in enumerate(optimisms):
            nulls = " ".join(f"{r[3][j]:.0%}" for r in results.values() if r[0].null)
            lost = " ".join(
                f"{r[1] - r[2][j]:+.3f}" for name, r in results.items() if "marginal" in name
            )
            print(f"  optimism {optimism:<5g} nulls: {nulls:<10} lost: {lost}")
    print(f"\n{time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
