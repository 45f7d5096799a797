"""Speed and memory of the vectorised sign-flip null against the per-permutation loop.

Run from the repository root::

    uv run python perf/perf_stats.py

The slow loop lives in ``tests/reference.py`` (test-only); it is imported here
by path. Figures are medians of several repeats on this machine.

Sections [4] and [5] measure what :func:`pybench.stats.compare` adds to the
verdict: adjusted p-values, intervals and the improvement test come from the
same sign vectors in the same pass, and together must cost at most twice the
verdict alone (``t_critical`` + ``_severity`` + ``_sign_flip_meta_p``).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from reference import meta_p_ref  # noqa: E402

from pybench import stats  # noqa: E402

ALPHA = 0.05


def _case(n: int, k: int, shift: float, seed: int = 0):
    """Standard-normal differences with the first tenth of the slots (at least one) shifted.

    The shift is chosen so that the severity is positive and meta_p moderate:
    the whole null is computed, with no shortcut for ``T == 0``.
    """
    rng = np.random.default_rng(seed)
    diffs = rng.standard_normal((n, k))
    diffs[:, : max(1, k // 10)] -= shift
    denom = np.ones(k)
    t_crit = stats.t_critical(ALPHA, n)
    observed = stats._severity(diffs, denom, min_effect=None, t_crit=t_crit)
    return diffs, denom, observed, t_crit


def _fast(diffs, denom, observed, t_crit, n_perm, seed=1):
    return stats._sign_flip_meta_p(
        diffs,
        denom,
        observed,
        min_effect=None,
        t_crit=t_crit,
        n_perm=n_perm,
        rng=np.random.default_rng(seed),
    )


def _slow(diffs, denom, observed, t_crit, n_perm, seed=1):
    return meta_p_ref(
        diffs,
        denom,
        observed,
        min_effect=None,
        t_crit=t_crit,
        n_perm=n_perm,
        rng=np.random.default_rng(seed),
    )


def _median_time(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def speed_small() -> bool:
    n, k, n_perm = 30, 3, 4096
    diffs, denom, observed, t_crit = _case(n, k, 0.45)
    _fast(diffs, denom, observed, t_crit, n_perm)  # warm-up
    t_fast, p_fast = _median_time(lambda: _fast(diffs, denom, observed, t_crit, n_perm), 9)
    t_slow, p_slow = _median_time(lambda: _slow(diffs, denom, observed, t_crit, n_perm), 3)
    ratio = t_slow / t_fast
    ok = ratio >= 50
    print(f"[1] n={n} seeds, K={k} slots, {n_perm} Monte-Carlo permutations")
    print(f"    vectorised  : {t_fast * 1e3:9.2f} ms  (median of 9)   meta_p = {p_fast:.6f}")
    print(f"    loop        : {t_slow * 1e3:9.2f} ms  (median of 3)   meta_p = {p_slow:.6f}")
    print(f"    same p-value: {p_fast == p_slow}")
    print(f"    speed-up    : {ratio:9.1f}x   target >= 50x   {_verdict(ok)}")
    return ok and p_fast == p_slow


def speed_large() -> bool:
    n, k, n_perm, subset = 50, 2000, 4096, 200
    diffs, denom, observed, t_crit = _case(n, k, 0.05)
    _fast(diffs, denom, observed, t_crit, n_perm)  # warm-up
    t_fast, p_fast = _median_time(lambda: _fast(diffs, denom, observed, t_crit, n_perm), 5)
    t_sub, _ = _median_time(lambda: _slow(diffs, denom, observed, t_crit, subset), 3)
    t_slow = t_sub / subset * n_perm
    ratio = t_slow / t_fast
    ok = ratio >= 5
    print(f"[2] n={n} seeds, K={k} slots, {n_perm} Monte-Carlo permutations")
    print(f"    vectorised  : {t_fast * 1e3:9.2f} ms  (median of 5)   meta_p = {p_fast:.6f}")
    print(
        f"    loop        : {t_slow * 1e3:9.2f} ms  (estimated: {subset} permutations took "
        f"{t_sub * 1e3:.1f} ms, median of 3, scaled x{n_perm / subset:.2f} per permutation)"
    )
    print(f"    speed-up    : {ratio:9.1f}x   target >= 5x    {_verdict(ok)}")
    return ok


def memory() -> bool:
    n, k, n_perm = 30, 20_000, 4096
    diffs, denom, observed, t_crit = _case(n, k, 0.05)
    inputs_mb = (diffs.nbytes + denom.nbytes) / 2**20
    tracemalloc.start()
    tracemalloc.reset_peak()
    before, _ = tracemalloc.get_traced_memory()
    start = time.perf_counter()
    p = _fast(diffs, denom, observed, t_crit, n_perm)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    extra_mb = (peak - before) / 2**20
    ok = extra_mb < 200
    print(f"[3] n={n} seeds, K={k} slots, {n_perm} Monte-Carlo permutations")
    print(f"    inputs      : {inputs_mb:9.1f} MB (not counted)")
    print(
        f"    extra memory: {extra_mb:9.1f} MB peak (tracemalloc, numpy buffers included)   "
        f"target < 200 MB   {_verdict(ok)}"
    )
    print(
        f"    time        : {elapsed * 1e3:9.1f} ms (one run, under tracemalloc)   meta_p = {p:.6f}"
    )
    return ok


def exact_info() -> None:
    n, k = 12, 3
    diffs, denom, observed, t_crit = _case(n, k, 0.8)
    t_fast, p_fast = _median_time(lambda: _fast(diffs, denom, observed, t_crit, 4096), 9)
    t_slow, p_slow = _median_time(lambda: _slow(diffs, denom, observed, t_crit, 4096), 3)
    print(f"[i] exact enumeration, n={n}, K={k} (2**{n} = 4096 sign vectors; for information)")
    print(
        f"    vectorised {t_fast * 1e3:.2f} ms, loop {t_slow * 1e3:.1f} ms, "
        f"{t_slow / t_fast:.0f}x; meta_p {p_fast:.6f} vs {p_slow:.6f} (same: {p_fast == p_slow})"
    )


def _verdict_alone(diffs, alpha, n_perm):
    """What decides PASS/FAIL: the critical value, the severity and its meta p-value."""
    n, k = diffs.shape
    denom = np.ones(k)
    t_crit = stats.t_critical(alpha, n)
    observed = stats._severity(diffs, denom, min_effect=None, t_crit=t_crit)
    return stats._sign_flip_meta_p(
        diffs,
        denom,
        observed,
        min_effect=None,
        t_crit=t_crit,
        n_perm=n_perm,
        rng=np.random.default_rng(1),
    )


def _everything(diffs, alpha, n_perm):
    """``stats.compare``: the verdict plus p_adj, intervals and the improvement test."""
    n, k = diffs.shape
    slots = [(step, "score") for step in range(k)]
    base = np.ones((n, k))
    return stats.compare(
        base, base + diffs, slots, alpha=alpha, n_perm=n_perm, rng=np.random.default_rng(1)
    )


def beyond_the_verdict() -> bool:
    ok = True
    print("[4] the whole comparison against the verdict alone (same flips, one pass)")
    for n, k, shift, repeats in ((30, 3, 0.45, 15), (50, 2000, 0.05, 3)):
        diffs, _, _, _ = _case(n, k, shift)
        n_perm = stats.n_permutations(ALPHA)
        _verdict_alone(diffs, ALPHA, n_perm), _everything(diffs, ALPHA, n_perm)  # warm-up
        t_alone, p_alone = _median_time(
            lambda d=diffs, b=n_perm: _verdict_alone(d, ALPHA, b), repeats
        )
        t_all, result = _median_time(lambda d=diffs, b=n_perm: _everything(d, ALPHA, b), repeats)
        ratio = t_all / t_alone
        same = result.meta_p == p_alone
        ok &= ratio <= 2.0 and same
        print(
            f"    n={n:3d} K={k:5d} {n_perm} flips: verdict {t_alone * 1e3:8.2f} ms, "
            f"everything {t_all * 1e3:8.2f} ms (median of {repeats})   ratio {ratio:4.2f}x   "
            f"target <= 2x   same meta_p: {same}   {_verdict(ratio <= 2.0 and same)}"
        )
    return ok


def tiny_alpha_and_memory() -> bool:
    n, k, alpha = 20, 3, 1e-4
    diffs, _, _, _ = _case(n, k, 1.5)
    n_perm = stats.n_permutations(alpha)
    elapsed, result = _median_time(lambda: _everything(diffs, alpha, n_perm), 3)
    print(f"[5] alpha={alpha:g}, n={n}, K={k}: {result.n_perm} Monte-Carlo flips")
    print(
        f"    everything  : {elapsed * 1e3:9.1f} ms (median of 3)   meta_p = {result.meta_p:.2e} "
        f"(smallest possible {1 / (n_perm + 1):.2e})"
    )
    n, k = 30, 20_000
    diffs, _, _, _ = _case(n, k, 0.05)
    inputs_mb = 2 * diffs.nbytes / 2**20
    tracemalloc.start()
    tracemalloc.reset_peak()
    before, _ = tracemalloc.get_traced_memory()
    start = time.perf_counter()
    _everything(diffs, ALPHA, stats.n_permutations(ALPHA))
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    extra_mb = (peak - before) / 2**20
    ok = extra_mb < 200
    print(f"    n={n}, K={k}, everything: {elapsed * 1e3:.0f} ms (one run, under tracemalloc)")
    print(
        f"    extra memory: {extra_mb:9.1f} MB peak (inputs {inputs_mb:.1f} MB included)   "
        f"target < 200 MB   {_verdict(ok)}"
    )
    return ok


def main() -> int:
    print(
        f"pybench.stats sign-flip null (numpy {np.__version__}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})"
    )
    results = [speed_small(), speed_large(), memory()]
    exact_info()
    results += [beyond_the_verdict(), tiny_alpha_and_memory()]
    print("all targets met" if all(results) else "SOME TARGETS MISSED")
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
