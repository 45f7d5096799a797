"""The cost of ``pybench bisect`` on a 9-commit repository: comparisons and seconds.

Run from the repository root::

    uv run python perf/perf_bisect.py

Builds a throw-away flat-layout git project of 9 commits with the tests' builder
(``tests/toyrepo.py``: commit 1 is GOOD, the regression is planted at commit 6,
commit 7 does not import), writes its
benchmark (8 seeds) in the working tree only, and runs the real command
``pybench bisect good main --bench flat --bench-from worktree --seed 5 --json -``
in a fresh process, three times. Prints the comparisons made against the bound
ceil(log2 8) + 2 = 5, the seconds of the whole command and of each step (a
step checks the commit out, discovers both sides, runs 8 seeds on each in
worker processes and removes the checkout), and the checkouts left behind.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pybench.judging.bisection import step_bound

RUNS = 3
N_COMMITS = 9
BAD_AT = 6
BROKEN_AT = 7
ENV = {
    **os.environ,
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from toyrepo import build_flat_repo  # noqa: E402 - the tests' flat-layout project


def main() -> int:
    pybench = Path(sys.executable).parent / "pybench"
    with tempfile.TemporaryDirectory(prefix="perf-bisect-") as folder:
        root = Path(folder) / "flat"
        hashes = build_flat_repo(root, N_COMMITS, bad_at=BAD_AT, broken_at=BROKEN_AT)
        temp = Path(folder) / "tmp"
        temp.mkdir()
        command = [str(pybench), "bisect", "good", "main", "--bench", "flat"]
        command += ["--bench-from", "worktree", "--seed", "5", "--json", "-"]
        walls, docs = [], []
        for _ in range(RUNS):
            started = time.perf_counter()
            proc = subprocess.run(
                command, cwd=root, capture_output=True, text=True, env={**ENV, "TMPDIR": str(temp)}
            )
            walls.append(time.perf_counter() - started)
            if proc.returncode != 0:
                print(proc.stdout, proc.stderr)
                return 1
            docs.append(json.loads(proc.stdout))
        doc = docs[-1]
        found = doc["first_bad"]["commit"] == hashes[BAD_AT - 1]
        steps = [len(d["steps"]) for d in docs]
        bound = step_bound(N_COMMITS - 1)
        per_step = [s["seconds"] for d in docs for s in d["steps"]]
        print(f"repository: {N_COMMITS} commits, regression at {BAD_AT}, commit {BROKEN_AT} broken")
        short = doc["first_bad"]["short"]
        print(f"  first bad commit found:   {'yes' if found else 'NO'} ({short})")
        judged = ", ".join(f"{s['position'] + 1}:{s['judgement']}" for s in doc["steps"])
        print(f"  comparisons:              {steps[-1]} (bound {bound})   [{judged}]")
        print(f"  whole command (median of {RUNS}): {statistics.median(walls):6.2f} s")
        print(f"  one comparison (median):  {statistics.median(per_step):6.2f} s")
        left = list(temp.iterdir())
        print(f"  checkouts left behind:    {len(left)}")
        ok = found and max(steps) <= bound and not left
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
