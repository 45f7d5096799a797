"""Numbers at the edges, by simulation: Δ interval coverage, plans that hold, false alarms.

Run from the repository root::

    uv run python perf/perf_trust.py [--reps R]

[1] Coverage of the 95 % interval of the relative change Δ (baseline mean 0.5,
    sd 1, paired correlation 0.99, true Δ = -10 %), Fieller's interval against
    the previous one (the paired-t interval of the difference divided by the
    baseline mean, as if that mean were known); and how often Δ is marked
    unreliable when the true baseline mean is 0.
[2] Plans: for curves of K correlated slots (30 stored seeds), the seeds
    :func:`pybench.judging.planning.plan` gives for a 2 % drop at power 0.8, and the
    rate at which the real verdict (:func:`pybench.stats.compare`, full flip
    budget) detects the drop at those seeds, drawing comparisons as the plan
    assumes; the same for the per-slot t-test plan (median slot) it replaces.
[3] False alarms of the verdict on unchanged code: fresh noise (no change) and
    a rounding-only edit, against alpha.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from pybench import relative, stats  # noqa: E402
from pybench._tdist import t_ppf  # noqa: E402
from pybench.judging import planning  # noqa: E402

ALPHA = 0.05


def coverage(reps: int) -> None:
    print("[1] 95% interval of Δ: coverage of the true Δ")
    print("    (baseline mean 0.5, sd 1, paired correlation 0.99)")
    print("    true Δ    n   Fieller   unbounded   previous (mean known)")
    rng = np.random.default_rng(0)
    for delta in (-0.1, -0.5):
        for n in (5, 10, 20, 30):
            base = rng.normal(0.5, 1.0, (n, reps))
            noise = rng.standard_normal((n, reps))
            cur = 0.5 * (1 + delta) + 0.99 * (base - 0.5) + math.sqrt(1 - 0.99**2) * noise
            diffs = cur - base
            low, high, bounded = relative.fieller(diffs, base, ALPHA)
            fieller = np.mean((low <= delta) & (high >= delta))
            half = -t_ppf(ALPHA / 2, n - 1) * diffs.std(axis=0, ddof=1) / math.sqrt(n)
            mean, denom = diffs.mean(axis=0), np.abs(base.mean(axis=0))
            old_low, old_high = (mean - half) / denom, (mean + half) / denom
            previous = np.mean((old_low <= delta) & (old_high >= delta))
            print(
                f"    {delta:+5.0%}   {n:3d}   {fieller:7.3f}   {1 - bounded.mean():9.3f}   "
                f"{previous:7.3f}"
            )
    base = rng.normal(0.0, 1.0, (10, reps))
    cur = base + rng.normal(-0.1, 0.1, (10, reps))
    _, _, bounded = relative.fieller(cur - base, base, ALPHA)
    print(f"    true baseline mean 0 (n=10): Δ unreliable in {1 - bounded.mean():.3f} of runs")


def _curves(k: int, n: int = 30, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    common = rng.normal(0.0, 1.0, (n, 1))
    return 1.0 + 0.05 * (0.7 * common + 0.3 * rng.normal(0.0, 1.0, (n, k)))


def _detection(base: np.ndarray, n: int, where: str, reps: int) -> float:
    rng = np.random.default_rng(99)
    k = base.shape[1]
    slots = [(s, "min:loss") for s in range(k)]
    rise = 0.02 * base.mean(axis=0)
    fails = 0
    for _ in range(reps):
        i, j = rng.integers(base.shape[0], size=n), rng.integers(base.shape[0], size=n)
        cur = base[j].copy()
        if where == "one":
            s = rng.integers(k)
            cur[:, s] += rise[s]
        else:
            cur += rise
        fails += not stats.compare(base[i], cur, slots, alpha=ALPHA).passed
    return fails / reps


def plans(reps: int) -> None:
    print("[2] plans for a 2% drop at power 0.8, 30 stored seeds")
    print("    (detection: the real verdict's FAIL rate at the planned seeds)")
    print("      K   drop in   planned seeds   detection   per-slot t-test plan   its detection")
    for k in (3, 10, 30):
        base = _curves(k, seed=k)
        slots = [(s, "min:loss") for s in range(k)]
        result = planning.plan("b", base, slots, alpha=ALPHA, effect=0.02, power=0.8)
        per_slot = [r.seeds_needed or 1000 for r in stats.power_plan(
            base, slots, alpha=ALPHA, effect=0.02, power=0.8
        )]  # fmt: skip
        old = int(np.median(per_slot))
        for where, n in (("one", result.seeds_one_slot), ("all", result.seeds_all_slots)):
            rate = _detection(base, n, where, reps) if n else float("nan")
            old_rate = _detection(base, old, where, reps)
            print(
                f"    {k:3d}   {where:7s}   {n!s:>13}   {rate:9.3f}   {old:20d}   {old_rate:13.3f}"
            )


def false_alarms(reps: int) -> None:
    print(f"[3] false alarms (FAIL rate, alpha={ALPHA}) on unchanged code, K=5, 12 seeds")
    rng = np.random.default_rng(5)
    slots = [(s, "acc") for s in range(5)]
    noise = rounding = 0
    for _ in range(reps):
        base = rng.normal(1.0, 0.1, (12, 5))
        noise += not stats.compare(base, rng.normal(1.0, 0.1, (12, 5)), slots).passed
        terms = rng.normal(1.0, 0.3, (12, 5, 20))
        a = terms.sum(axis=2) * (1 / 20)
        b = terms[:, :, ::-1].sum(axis=2) / 20
        rounding += not stats.compare(a, b, slots).passed
    print(f"    fresh noise: {noise / reps:.3f}   rounding-only edit: {rounding / reps:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=400)
    args = parser.parse_args()
    started = time.perf_counter()
    coverage(max(args.reps, 2000))
    plans(args.reps)
    false_alarms(args.reps)
    print(f"\n{time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
