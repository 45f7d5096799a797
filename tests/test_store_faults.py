"""The baseline store under SIGKILL and concurrent writers (SPEC §5), through real processes."""

from __future__ import annotations

import fcntl
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pybench.engine.plan import sample_seeds
from pybench.storage import store

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

BENCH_FILE = textwrap.dedent(
    """
    import numpy as np


    def bench_slow(seed, *, n_seeds=30):
        rng = np.random.default_rng(seed)
        a = rng.standard_normal((60, 60))
        return [
            {"step": 1, "min:loss": float(np.linalg.norm(a))},
            {"step": 2, "min:loss": float(np.linalg.eigvalsh(a @ a.T)[-1]), "acc": float(a[0, 0])},
        ]


    def bench_fast(seed, *, n_seeds=6):
        return float(np.random.default_rng(seed).random())


    def bench_a(seed, *, n_seeds=6):
        return {"acc": float(np.random.default_rng(seed).random())}


    def bench_b(seed, *, n_seeds=6):
        return {"min:loss": float(np.random.default_rng(seed).random())}
    """
)

TEMP_NAME = re.compile(r"^\.baselines\.jsonl\..+\.tmp$")


_PYCACHE: list[Path] = []


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYBENCH_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if _PYCACHE:  # read-only use of the bytecode compiled by the warm-up below
        env["PYTHONPYCACHEPREFIX"] = str(_PYCACHE[0])
    return env


@pytest.fixture(scope="module", autouse=True)
def _warm_bytecode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Compile pybench, numpy, scipy... once into a private cache outside the user's tree.

    Every process below starts with PYTHONDONTWRITEBYTECODE=1; without cached
    bytecode each one would recompile its imports from source, which makes
    process lifetimes long and the test slow.
    """
    root = tmp_path_factory.mktemp("warm")
    cache = root / "pycache"
    (root / "benchmarks").mkdir()
    (root / "benchmarks" / "bench_fixture.py").write_text(BENCH_FILE, encoding="utf-8")
    env = _env()
    del env["PYTHONDONTWRITEBYTECODE"]
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    subprocess.run(
        [sys.executable, "-m", "pybench", "update", "benchmarks", "--yes", "--seed", "0"]
        + ["--bench", "a", "--baseline", str(root / "warm.jsonl")],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert not list((root / "benchmarks").rglob("__pycache__"))
    _PYCACHE.append(cache)
    yield
    _PYCACHE.clear()


@dataclass
class Project:
    root: Path
    benchmarks: Path
    baseline: Path

    def command(self, *args: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "pybench",
            "update",
            str(self.benchmarks),
            *args,
            "--yes",
            "--baseline",
            str(self.baseline),
        ]

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.command(*args),
            cwd=self.root,
            env=_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def leftovers(self) -> list[str]:
        """Files beside the baseline other than itself, its lock, .gitignore, journal/ and the
        history of runs."""
        name = self.baseline.name
        own = (name, name + ".lock", ".gitignore", "journal")  # journal/: kept for --resume
        own += ("history.db", "history.db-wal", "history.db-shm")
        return sorted(p.name for p in self.baseline.parent.iterdir() if p.name not in own)


@pytest.fixture
def proj(tmp_path: Path) -> Iterator[Project]:
    benchmarks = tmp_path / "benchmarks"
    benchmarks.mkdir()
    (benchmarks / "bench_fixture.py").write_text(BENCH_FILE, encoding="utf-8")
    baseline = tmp_path / ".pybench" / "baselines.jsonl"
    yield Project(tmp_path, benchmarks, baseline)
    assert not list(benchmarks.rglob("__pycache__"))


def _expected_seeds(name: str, n: int, seed: int) -> list[int]:
    return sample_seeds(n, base_seed=seed, name=name)


def _run(proj: Project, *args: str) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    started = time.perf_counter()
    proc = subprocess.run(
        proj.command(*args),
        cwd=proj.root,
        env=_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    elapsed = time.perf_counter() - started
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    return elapsed, proc


def _check_leftovers(proj: Project) -> list[str]:
    left = proj.leftovers()
    for name in left:
        assert TEMP_NAME.match(name), f"unexpected file beside the baseline: {name}"
    return left


def test_sigkill_during_update_never_corrupts_the_baseline(proj: Project) -> None:
    elapsed, proc = _run(proj, "--bench", "slow", "--bench", "fast", "--seed", "1")
    assert b"bench_slow" in proc.stdout and b"bench_fast" in proc.stdout
    records = store.load(proj.baseline)
    assert sorted(records) == ["bench_fast", "bench_slow"]
    fast = records["bench_fast"]
    current = records["bench_slow"]
    assert current.seeds == _expected_seeds("bench_slow", 30, 1)

    rng = random.Random(20260625)
    killed_early = 0
    for trial in range(20):
        seed = 100 + trial
        new_seeds = _expected_seeds("bench_slow", 30, seed)
        proc_ = proj.start("--bench", "slow", "--seed", str(seed))
        # spread the kill over the process lifetime, weighted towards its end
        # (where the write happens)
        fraction = rng.uniform(0.1, 1.0) if trial % 2 else rng.uniform(0.75, 1.1)
        time.sleep(elapsed * fraction)
        if proc_.poll() is None:
            killed_early += 1
        proc_.send_signal(signal.SIGKILL)
        proc_.communicate(timeout=30)
        assert proc_.returncode in (0, -signal.SIGKILL)

        records = store.load(proj.baseline)  # never truncated or unparsable
        assert sorted(records) == ["bench_fast", "bench_slow"], trial
        assert records["bench_fast"] == fast  # the other record is untouched
        slow = records["bench_slow"]
        assert slow.seeds in (current.seeds, new_seeds), trial
        if slow.seeds == current.seeds:
            assert slow == current  # the old record, whole
        else:
            assert slow.n == 30
            assert slow.slots() == [(1, "min:loss"), (2, "acc"), (2, "min:loss")]
        current = slow
        _check_leftovers(proj)

    assert killed_early >= 1  # some kills landed while the process was still running


SAVE_LOOP = textwrap.dedent(
    """
    import os
    import sys
    import time
    from pathlib import Path

    from pybench.storage import store

    real_fsync = os.fsync


    def slow_fsync(fd):  # a slow disk: widens the window between temp write and rename
        time.sleep(0.03)
        real_fsync(fd)


    os.fsync = slow_fsync
    path = Path(sys.argv[1])
    blob = "x" * (2 << 20)  # a big line, so that write() itself takes a while
    print("ready", flush=True)
    version = 0
    while True:
        version += 1
        n = 50 + version % 7
        seeds = [(version * 7919 + i) % 2**32 for i in range(n)]
        scores = {step: {"min:loss": [version + i / 7 + step for i in range(n)]} for step in (1, 2)}
        record = store.BaselineRecord(
            "bench_loop", seeds, scores, extra={"v": version, "blob": blob}
        )
        store.save(path, [record])
    """
)


def test_sigkill_during_save_loop_leaves_old_or_new_file(proj: Project) -> None:
    """Kill a process that does nothing but rewrite the file, often in mid-write."""
    keep = store.BaselineRecord("bench_keep", [1, 2, 3], {0: {"score": [0.5, -0.0, 5e-324]}})
    zzz = store.BaselineRecord("zzz_other", [4, 5], {7: {"acc": [1.0, 2.0]}}, extra={"x": [1]})
    store.save(proj.baseline, [keep, zzz])
    script = proj.root / "save_loop.py"
    script.write_text(SAVE_LOOP, encoding="utf-8")

    rng = random.Random(12345)
    versions: list[int] = []
    mid_write = 0
    for trial in range(20):
        before = set(proj.leftovers())
        proc = subprocess.Popen(
            [sys.executable, str(script), str(proj.baseline)],
            cwd=proj.root,
            env=_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, err.decode()

        records = store.load(proj.baseline)  # never truncated or unparsable
        assert set(records) >= {"bench_keep", "zzz_other"}, trial
        assert records["bench_keep"] == keep
        assert records["zzz_other"] == zzz
        if "bench_loop" in records:
            loop = records["bench_loop"]
            version = loop.extra["v"]
            assert loop.n == 50 + version % 7
            assert loop.slots() == [(1, "min:loss"), (2, "min:loss")]
            assert loop.scores[2]["min:loss"][-1] == version + (loop.n - 1) / 7 + 2
            assert loop.extra["blob"] == "x" * (2 << 20)
            versions.append(version)
        if set(_check_leftovers(proj)) - before:
            mid_write += 1  # killed between creating the temp file and the rename
    assert versions  # writes did complete
    assert mid_write >= 1, "no kill landed inside a write; the test lost its point"


def test_concurrent_updates_keep_both_records(proj: Project) -> None:
    store.save(
        proj.baseline,
        [
            store.BaselineRecord(name, list(range(1, 7)), {0: {"score": [0.5] * 6}})
            for name in ("bench_a", "bench_b", "bench_fast", "bench_slow")
        ],
    )
    before = store.load(proj.baseline)
    assert sorted(before) == ["bench_a", "bench_b", "bench_fast", "bench_slow"]

    for round_ in range(5):
        seed_a, seed_b = 1000 + 2 * round_, 1001 + 2 * round_
        procs = [
            proj.start("--bench", "a", "--seed", str(seed_a)),
            proj.start("--bench", "b", "--seed", str(seed_b)),
        ]
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, out.decode() + err.decode()

        after = store.load(proj.baseline)
        assert sorted(after) == ["bench_a", "bench_b", "bench_fast", "bench_slow"], round_
        assert after["bench_a"].seeds == _expected_seeds("bench_a", 6, seed_a)
        assert after["bench_b"].seeds == _expected_seeds("bench_b", 6, seed_b)
        assert after["bench_a"].seeds != before["bench_a"].seeds
        assert after["bench_b"].seeds != before["bench_b"].seeds
        assert after["bench_a"].slots() == [(0, "acc")]
        assert after["bench_b"].slots() == [(0, "min:loss")]
        assert after["bench_fast"] == before["bench_fast"]
        assert after["bench_slow"] == before["bench_slow"]
        assert proj.leftovers() == []
        before = after


def _waiting_for_lock(pid: int) -> bool | None:
    """Whether ``pid`` is blocked on an flock (``None``: cannot tell on this system)."""
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    return any("->" in line and "FLOCK" in line and f" {pid} " in line for line in lines)


def test_update_waits_for_the_lock_of_another_writer(proj: Project) -> None:
    old = store.BaselineRecord("bench_a", [1, 2, 3, 4, 5, 6], {0: {"acc": [0.5] * 6}})
    store.save(proj.baseline, [old])
    before = proj.baseline.read_bytes()
    lock = proj.baseline.with_name(proj.baseline.name + ".lock")
    with open(lock, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        proc = proj.start("--bench", "a", "--seed", "2")
        deadline = time.monotonic() + 30
        waiting = _waiting_for_lock(proc.pid)
        while waiting is False and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
            waiting = _waiting_for_lock(proc.pid)
        if waiting is None:  # no /proc/locks: give it ample time to reach the write
            time.sleep(5)
        assert proc.poll() is None, "update did not wait for the lock"
        assert waiting is not False
        assert proj.baseline.read_bytes() == before  # nothing written while we hold it
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out.decode() + err.decode()
    assert store.load(proj.baseline)["bench_a"].seeds == _expected_seeds("bench_a", 6, 2)
