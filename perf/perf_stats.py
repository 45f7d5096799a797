"""Speed and memory of the sign-flip engine, against the per-permutation loop and older code.

Run from the repository root::

    uv run python perf/perf_stats.py [--old REV] [--skip-cli]

The slow loop lives in ``tests/reference.py`` (test-only); it is imported here
by path. Figures are medians of several repeats on this machine.

Sections [4] and [5] measure what :func:`pybench.stats.compare` adds to the
verdict: adjusted p-values, intervals and the improvement test come from the
same sign vectors in the same pass, and together must cost at most twice the
verdict alone (``t_critical`` + ``_severity`` + ``_sign_flip_meta_p``).

Sections [6] to [8] compare with an older revision in the same run (``--old``,
default: where this branch left ``main``, ``git merge-base HEAD main``): its
``stats.py`` and ``_tdist.py`` are written to a temporary folder and imported as
``pybench_old``. [6] times the engine alone at n = 30 and K = 3 ... 20 000,
old and new, verdict alone and every statistic (interleaved, best of 5, wall
and CPU time); [7] the peak memory of a 20 000-seed comparison; [8] a whole
``pybench`` run comparing 20 metrics x 500 steps x 30 seeds (10 000 slots)
with the old and the new source tree (``git archive``), medians of 3.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from reference import meta_p_ref  # noqa: E402

from pybench import _signflip, stats  # noqa: E402

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
    elapsed, extra_mb = _traced(lambda: _everything(diffs, ALPHA, stats.n_permutations(ALPHA)))
    ok = extra_mb < 200
    print(f"    n={n}, K={k}, everything: {elapsed * 1e3:.0f} ms (one run, under tracemalloc)")
    print(
        f"    extra memory: {extra_mb:9.1f} MB peak (inputs {inputs_mb:.1f} MB included)   "
        f"target < 200 MB   {_verdict(ok)}"
    )
    return ok


# -- against older code ------------------------------------------------------------------------
def _traced(fn) -> tuple[float, float]:
    """Seconds ``fn()`` takes under tracemalloc, and the MB its peak adds."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    before, _ = tracemalloc.get_traced_memory()
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, (peak - before) / 2**20


def _old_revision(requested: str | None) -> str:
    if requested:
        return requested
    out = subprocess.run(
        ["git", "merge-base", "HEAD", "main"], cwd=ROOT, capture_output=True, text=True
    )
    return out.stdout.strip() or "HEAD"


def _import_old(revision: str, folder: Path):
    """``pybench.stats`` of ``revision`` as the module ``pybench_old.stats``."""
    package = folder / "pybench_old"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in ("stats.py", "_tdist.py", "_signflip.py", "relative.py"):  # those it has
        shown = subprocess.run(
            ["git", "show", f"{revision}:src/pybench/{name}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if shown.returncode == 0:
            (package / name).write_text(shown.stdout)
    sys.path.insert(0, str(folder))
    return importlib.import_module("pybench_old.stats")


def _best(fn, repeats: int) -> tuple[float, float, object]:
    """Best wall and CPU seconds of ``repeats`` calls, and the last result."""
    wall = cpu = float("inf")
    result = None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        result = fn()
        wall = min(wall, time.perf_counter() - w)
        cpu = min(cpu, time.process_time() - c)
    return wall, cpu, result


def _engine_case(n: int, k: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    diffs = rng.standard_normal((n, k))
    diffs[:, : max(1, k // 10)] -= 0.45 if k < 10 else 0.05
    return diffs


def engine_against_old(old) -> bool:
    print("[6] the engine alone, n=30, 4096 Monte-Carlo flips (best of 5, interleaved; ms)")
    print("        K   old verdict  old every   new verdict  new every   every/verdict  old/new")
    ok = True
    for k in (3, 200, 2_000, 10_000, 20_000):
        diffs = _engine_case(30, k)
        b = stats.n_permutations(ALPHA)
        runs = {
            ("old", False): lambda m=old, d=diffs, b=b: _verdict_alone_with(m, d, b),
            ("old", True): lambda m=old, d=diffs, b=b: _everything_with(m, d, b),
            ("new", False): lambda m=stats, d=diffs, b=b: _verdict_alone_with(m, d, b),
            ("new", True): lambda m=stats, d=diffs, b=b: _everything_with(m, d, b),
        }
        best = {key: (float("inf"), float("inf"), None) for key in runs}
        for _ in range(5):
            for key, fn in runs.items():
                w, c, r = _best(fn, 1)
                best[key] = (min(best[key][0], w), min(best[key][1], c), r)
        p_values = {key: v[2] for key, v in best.items()}
        same = len({float(p) for p in p_values.values()}) == 1
        ratio = best[("new", True)][0] / best[("new", False)][0]
        speedup = best[("old", True)][0] / best[("new", True)][0]
        cells = "  ".join(
            f"{best[key][0] * 1e3:8.1f}/{best[key][1] * 1e3:<6.0f}" for key in runs
        )
        target = k == 10_000
        ok &= same and (not target or ratio <= 3.0)
        mark = f"target <= 3x {_verdict(ratio <= 3.0)}" if target else ""
        print(f"   {k:6d}  {cells}   {ratio:5.2f}x  {speedup:5.2f}x  same p: {same} {mark}")
    print("   (each cell: wall / CPU ms; ratios on wall time)")
    return ok


def bound_cost() -> bool:
    print("[6b] the simultaneous bound's share, n=30, K=10 000, 4096 flips (best of 5, "
          "interleaved; ms)")
    diffs = _engine_case(30, 10_000)
    data = stats._prepare(diffs, np.ones(diffs.shape[1]), None)
    t_crit = stats.t_critical(ALPHA, 30)

    def null(extras, bound):
        return _signflip.sign_flip_null(
            data, t_crit=t_crit, n_perm=4096, rng=np.random.default_rng(1), extras=extras,
            bound_alpha=bound,
        )  # fmt: skip

    runs = {
        "verdict alone": lambda: null(False, None),
        "every statistic but the bound": lambda: null(True, None),
        "every statistic and the bound": lambda: null(True, ALPHA),
    }
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(5):  # interleaved, so a burst of load hits every variant alike
        for key, fn in runs.items():
            best[key] = min(best[key], _best(fn, 1)[0])
    base = best["verdict alone"]
    for key, wall in best.items():
        print(f"    {key:31s} {wall * 1e3:8.1f}   {wall / base:4.2f}x")
    ratio = best["every statistic and the bound"] / base
    print(f"    the bound adds {(ratio - best['every statistic but the bound'] / base):4.2f}x of "
          f"the verdict; all together {ratio:4.2f}x   target <= 3x   {_verdict(ratio <= 3.0)}")
    return ratio <= 3.0


def _verdict_alone_with(module, diffs, n_perm):
    n, k = diffs.shape
    denom = np.ones(k)
    t_crit = module.t_critical(ALPHA, n)
    observed = module._severity(diffs, denom, min_effect=None, t_crit=t_crit)
    return module._sign_flip_meta_p(
        diffs, denom, observed, min_effect=None, t_crit=t_crit, n_perm=n_perm,
        rng=np.random.default_rng(1),
    )  # fmt: skip


def _everything_with(module, diffs, n_perm):
    n, k = diffs.shape
    base = np.ones((n, k))
    slots = [(step, "score") for step in range(k)]
    return module.compare(
        base, base + diffs, slots, alpha=ALPHA, n_perm=n_perm, rng=np.random.default_rng(1)
    ).meta_p


def many_seeds_memory(old) -> bool:
    print("[7] 20 000 seeds, K=3, every statistic: extra memory (tracemalloc peak)")
    diffs = _engine_case(20_000, 3)
    ok = True
    for name, module in (("old", old), ("new", stats)):
        elapsed, extra = _traced(
            lambda m=module: _everything_with(m, diffs, stats.n_permutations(ALPHA))
        )
        mark = f"target < 200 MB {_verdict(extra < 200)}" if name == "new" else ""
        ok &= name == "old" or extra < 200
        print(f"    {name}: {extra:7.1f} MB, {elapsed:6.2f} s   {mark}")
    return ok


WIDE_BENCH = """
import os
import numpy as np

def bench_wide(seed: int, *, n_seeds: int = 30) -> list[dict]:
    rng = np.random.default_rng(seed + 1000 * int(os.environ.get("PERF_RESAMPLE", "0")))
    values = 1.0 + 0.1 * rng.standard_normal((500, 20))
    return [
        {"step": step, **{f"m{j}": float(values[step, j]) for j in range(20)}}
        for step in range(500)
    ]
"""


def _pybench_run(src: Path, folder: Path, baseline: Path, resample: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(src), "PERF_RESAMPLE": resample}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pybench", str(folder), "--baseline", str(baseline)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"pybench failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def wide_compare_run(revision: str, tmp: Path) -> bool:
    print("[8] pybench comparing 20 metrics x 500 steps x 30 seeds (10 000 slots), medians of 3")
    old_src = tmp / "old-tree"
    old_src.mkdir()
    archive = subprocess.run(
        ["git", "archive", revision, "src/pybench"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(old_src)], input=archive, check=True)
    bench = tmp / "wide"
    bench.mkdir()
    (bench / "bench_wide.py").write_text(WIDE_BENCH)
    times: dict[str, list[float]] = {"old": [], "new": []}
    trees = {"old": old_src / "src", "new": ROOT / "src"}
    for name, src in trees.items():
        _pybench_run(src, bench, tmp / f"{name}.jsonl", "0")  # the baseline
    for _ in range(3):
        for name, src in trees.items():
            times[name].append(_pybench_run(src, bench, tmp / f"{name}.jsonl", "1"))
    old_s, new_s = statistics.median(times["old"]), statistics.median(times["new"])
    print(f"    old {old_s:6.2f} s   new {new_s:6.2f} s   old/new {old_s / new_s:4.2f}x   "
          f"(target >= 2.5x for the whole run; the statistics are one part of it)")
    return True


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--old", help="the revision to compare with (default: merge-base)")
    parser.add_argument("--skip-cli", action="store_true", help="skip section [8]")
    parser.add_argument("--only-old", action="store_true", help="run sections [6]-[8] only")
    args = parser.parse_args()
    print(
        f"pybench.stats sign-flip null (numpy {np.__version__}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})"
    )
    results = []
    if not args.only_old:
        results += [speed_small(), speed_large(), memory()]
        exact_info()
        results += [beyond_the_verdict(), tiny_alpha_and_memory()]
    revision = _old_revision(args.old)
    print(f"-- against {revision[:12]} --")
    with tempfile.TemporaryDirectory(prefix="pybench-perf-") as name:
        old = _import_old(revision, Path(name))
        results += [engine_against_old(old), bound_cost(), many_seeds_memory(old)]
        if not args.skip_cli:
            results.append(wide_compare_run(revision, Path(name)))
    print("all targets met" if all(results) else "SOME TARGETS MISSED")
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
