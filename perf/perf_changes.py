"""Change points by simulation: false alarms without change, detection of a step, and time.

Run from the repository root::

    uv run python perf/perf_changes.py [--replications 2000]

Each history has 30 commits whose means carry 1 % fresh noise per commit
(``1 + 0.01 * N(0, 1)``). It prints the share of histories with no change that
get a change point anyway (the target is at most 5 %), and for steps of
2 %, 3 % and 4 % at a commit drawn in 3..27 the share found at that commit
exactly and within ±1 (the target for 4 %: at least 90 % within ±1), then the
time to search 100 series of 1 000 commits.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pybench.history.changes import ALPHA, change_points

N = 30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=2000)
    args = parser.parse_args()
    reps = args.replications
    rng = np.random.default_rng(0)
    false = sum(bool(change_points(1 + 0.01 * rng.standard_normal(N))) for _ in range(reps))
    print(f"alpha per split {ALPHA}; {reps} histories of {N} commits, 1 % noise per commit")
    rate = false / reps
    print(f"  no change: histories with a false change point  {rate:6.3f}  (target <= 0.05)")
    for size in (0.02, 0.03, 0.04):
        exact = near = 0
        for _ in range(reps):
            at = int(rng.integers(3, N - 2))
            series = 1 + 0.01 * rng.standard_normal(N)
            series[at:] *= 1 + size
            found = [c.index for c in change_points(series)]
            exact += at in found
            near += any(abs(i - at) <= 1 for i in found)
        print(
            f"  {size:.0%} step: found at its commit {exact / reps:6.3f}, within ±1 "
            f"{near / reps:6.3f}" + ("  (target >= 0.90)" if size == 0.04 else "")
        )
    series = 1 + 0.01 * rng.standard_normal((100, 1000))
    started = time.perf_counter()
    for row in series:
        change_points(row)
    print(f"  100 series of 1 000 commits without change: {time.perf_counter() - started:.3f} s")


if __name__ == "__main__":
    main()
