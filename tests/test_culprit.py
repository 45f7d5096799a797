"""From a FAIL to the culprit: today's benchmarks on old revisions, bisect, one import rule."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pybench.judging.bisection import step_bound
from tests.toyrepo import FLAT_BENCH, build_flat_repo, git, worktrees

SCRIPTS = Path(sys.executable).parent


def _line(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(name + " "))


@pytest.fixture
def flat(tmp_path: Path, temp_root: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A flat-layout project of 9 commits (bad from commit 6, commit 7 does not import: the
    search meets it), its benchmark untracked; the working directory."""
    root = tmp_path / "flat"
    hashes = build_flat_repo(root, n_commits=9, bad_at=6, broken_at=7)
    monkeypatch.chdir(root)
    for var in ("PYBENCH_SEED", "PYBENCH_DASK"):
        monkeypatch.delenv(var, raising=False)
    return hashes


def _clean(root: Path, temp_root: Path) -> None:
    assert worktrees(root) == [str(root)]
    assert list(temp_root.iterdir()) == []


# -- compare --bench-from --------------------------------------------------------------
def test_compare_needs_the_benchmark_in_both_revisions_without_bench_from(flat, cli):
    result = cli("compare", "good", "HEAD~4")
    assert result.exit_code == 2
    assert "benchmarks: no such file or folder in good" in result.stderr
    assert "--bench-from worktree" in result.stderr


def test_compare_bench_from_worktree_a_noop_passes(flat, temp_root, cli, tmp_path):
    report = tmp_path / "run.json"
    result = cli("compare", "good", flat[2], "--bench-from", "worktree", "--json", str(report))
    assert result.exit_code == 0, result.output
    assert "PASS 1 metrics × 1 steps 0/1 slots flagged" in _line(result.stdout, "bench_flat")
    document = json.loads(report.read_text())
    assert document["revisions"]["bench_from"]["working_tree"] is True
    assert document["revisions"]["base"]["name"] == "good"
    _clean(Path.cwd(), temp_root)


def test_compare_bench_from_worktree_a_regression_fails(flat, temp_root, cli):
    result = cli("compare", "good", flat[5], "--bench-from", "worktree", "--seed", "3")
    assert result.exit_code == 1, result.output
    assert "FAIL 1 metrics × 1 steps 1/1 slots flagged" in _line(result.stdout, "bench_flat")
    assert "pybench update" not in result.output  # compare has no baseline to update
    _clean(Path.cwd(), temp_root)


def test_compare_bench_from_a_revision(flat, temp_root, cli, tmp_path):
    root = Path.cwd()
    git(root, "add", "benchmarks")
    git(root, "commit", "-q", "-m", "add the benchmark")
    (root / "benchmarks" / "bench_flat.py").unlink()  # gone from the working tree
    report = tmp_path / "run.json"
    args = ["good", flat[5], "--bench-from", "main", "--json", str(report)]
    result = cli("compare", *args)
    assert result.exit_code == 1, result.output
    bench_from = json.loads(report.read_text())["revisions"]["bench_from"]
    assert bench_from["name"] == "main" and bench_from["working_tree"] is False
    _clean(root, temp_root)


def test_compare_help_lists_only_what_it_honours(cli):
    result = cli("compare", "--help")
    assert "--dask" not in result.stdout and "--bench-from" in result.stdout


# -- bisect ----------------------------------------------------------------------------
def test_bisect_finds_the_commit_planted_at_6_of_9_skipping_one_that_fails_to_import(
    flat, temp_root, cli, tmp_path
):
    report = tmp_path / "bisect.json"
    args = ["good", "main", "--bench", "flat", "--bench-from", "worktree", "--seed", "5"]
    result = cli("bisect", *args, "--json", str(report))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("bisect flat: good good (") and "8 commits" in lines[0]
    assert lines[-1] == f"first bad commit: {flat[5]} change 6"
    document = json.loads(report.read_text())
    steps = document["steps"]
    assert len(steps) <= step_bound(8) == 5
    assert document["first_bad"]["commit"] == flat[5]
    by_commit = {step["commit"]: step for step in steps}
    assert by_commit[flat[8]]["judgement"] == "bad"  # BAD is confirmed first
    for step in steps:
        position = step["position"] + 1  # commit 1 is GOOD
        expected = "skip" if position == 7 else "bad" if position >= 6 else "good"
        assert step["judgement"] == expected, step
    assert any(step["judgement"] == "skip" for step in steps)
    skipped = next(step for step in steps if step["judgement"] == "skip")
    assert "flatpkg_missing_dependency" in skipped["reason"]
    assert sum("FAIL" in line for line in lines) == sum(s["judgement"] == "bad" for s in steps)
    _clean(Path.cwd(), temp_root)


def test_bisect_cannot_decide_when_bad_does_not_regress(flat, temp_root, cli):
    result = cli("bisect", "good", flat[3], "--bench", "flat", "--bench-from", "worktree")
    assert result.exit_code == 2
    assert "no first bad commit: BAD" in result.stdout and "does not regress" in result.stdout
    _clean(Path.cwd(), temp_root)


def test_bisect_refuses_good_after_bad(flat, temp_root, cli):
    result = cli("bisect", "main", "good", "--bench", "flat", "--bench-from", "worktree")
    assert result.exit_code == 2 and "is not an ancestor of BAD" in result.stderr
    assert result.stderr.count("\n") == 1


# -- one import rule ---------------------------------------------------------------------
@pytest.mark.parametrize("how", ["script", "module"])
def test_the_console_script_and_python_m_import_a_flat_layout_project(
    tmp_path: Path, how: str
) -> None:
    root = tmp_path / "proj"
    (root / "flatpkg").mkdir(parents=True)
    (root / "flatpkg" / "__init__.py").write_text("def value(seed):\n    return seed % 7\n")
    (root / "benchmarks").mkdir()
    (root / "benchmarks" / "bench_flat.py").write_text(FLAT_BENCH.replace("n_seeds=8", "n_seeds=5"))
    git(root, "init", "-q", "-b", "main")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    command = [str(SCRIPTS / "pybench")] if how == "script" else [sys.executable, "-m", "pybench"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYBENCH_SEED")}
    proc = subprocess.run(
        [*command, str(root / "benchmarks"), "--yes", "--seed", "1"],
        cwd=elsewhere,  # neither the project nor its benchmarks are the current directory
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "bench_flat" in proc.stdout and "NEW" in proc.stdout


def test_an_import_failure_names_the_rule(tmp_path: Path, cli, monkeypatch) -> None:
    root = tmp_path / "proj"
    (root / "benchmarks").mkdir(parents=True)
    (root / ".pybench").mkdir()
    (root / "benchmarks" / "bench_flat.py").write_text(FLAT_BENCH)
    monkeypatch.chdir(root)
    result = cli("benchmarks")
    assert result.exit_code == 2
    line = _line(result.stdout, "benchmarks/bench_flat.py")
    assert "No module named 'flatpkg'" in line
    assert f"then the project's src/ and root: {root}" in line and "pip install -e ." in line


# -- --confirm -------------------------------------------------------------------------
STORED_ONLY = '''\
STORED = {stored}


def value(seed):
    return (seed % 97) / 10.0 - (1.0 if seed in STORED else 0.0)
'''


@pytest.fixture
def baselined(tmp_path: Path, temp_root: Path, monkeypatch: pytest.MonkeyPatch, cli) -> Path:
    """A flat-layout project with its benchmark committed and a baseline made at that commit."""
    root = tmp_path / "flat"
    build_flat_repo(root, n_commits=1)
    git(root, "add", "benchmarks")
    git(root, "commit", "-q", "-m", "the benchmark")
    monkeypatch.chdir(root)
    monkeypatch.delenv("PYBENCH_SEED", raising=False)
    _forget()  # another test's flatpkg, imported by this process
    made = cli("benchmarks", "--yes", "--seed", "1")
    assert made.exit_code == 0 and "NEW" in made.stdout
    return root


def _forget() -> None:
    for name in [m for m in sys.modules if m.partition(".")[0] == "flatpkg"]:
        del sys.modules[name]


def _write_package(root: Path, source: str) -> None:
    """Change the working tree's package; forget the copy this process imported."""
    (root / "flatpkg" / "__init__.py").write_text(source)
    _forget()


def _stored_seeds(root: Path) -> list[int]:
    from pybench.storage import store

    return list(store.load(root / ".pybench" / "baselines.jsonl")["bench_flat"].seeds)


def test_confirm_clears_a_fail_only_the_stored_seeds_see(baselined, temp_root, cli, tmp_path):
    seeds = _stored_seeds(baselined)
    _write_package(baselined, STORED_ONLY.format(stored=set(seeds)))
    plain = cli("benchmarks")
    assert plain.exit_code == 1 and "FAIL" in _line(plain.stdout, "bench_flat")
    report = tmp_path / "run.json"
    result = cli("benchmarks", "--confirm", "--json", str(report))
    assert result.exit_code == 0, result.output
    line = _line(result.stdout, "bench_flat")
    assert "PASS 1 metrics × 1 steps 1/1 slots flagged" in line  # the stored seeds' verdict…
    assert "(not confirmed on 8 fresh seeds: meta-p=" in line  # …and the fresh seeds' one
    [bench] = json.loads(report.read_text())["benchmarks"]
    assert bench["status"] == "PASS" and bench["n_flagged"] == 1
    confirmation = bench["confirmation"]
    assert confirmation["status"] == "PASS" and confirmation["n_seeds"] == 8
    assert not set(confirmation["seeds"]) & set(seeds)
    assert confirmation["commit"] == git(baselined, "rev-parse", "--short", "HEAD")
    _clean(baselined, temp_root)


def test_confirm_confirms_a_real_regression(baselined, temp_root, cli):
    _write_package(baselined, "def value(seed):\n    return (seed % 97) / 10.0 - 1.0\n")
    result = cli("benchmarks", "--confirm")
    assert result.exit_code == 1, result.output
    line = _line(result.stdout, "bench_flat")
    assert "FAIL" in line and line.endswith("(confirmed on 8 fresh seeds)")
    _clean(baselined, temp_root)


def test_confirm_says_how_to_fetch_a_baseline_commit_missing_from_the_clone(baselined, cli):
    baseline = baselined / ".pybench" / "baselines.jsonl"
    short = git(baselined, "rev-parse", "--short", "HEAD")
    baseline.write_text(baseline.read_text().replace(f'"{short}"', '"0123abc"'))
    _write_package(baselined, "def value(seed):\n    return (seed % 97) / 10.0 - 1.0\n")
    result = cli("benchmarks", "--confirm")
    assert result.exit_code == 2
    line = _line(result.stdout, "bench_flat")
    assert "ERROR --confirm: the baseline's commit 0123abc is not in this clone" in line
    assert "fetch-depth: 0" in line


def test_the_pytest_plugin_confirms_too(baselined, temp_root):
    seeds = _stored_seeds(baselined)
    (baselined / "flatpkg" / "__init__.py").write_text(STORED_ONLY.format(stored=set(seeds)))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pybench", "-rA"]
    proc = subprocess.run(
        [*command, "--pybench-confirm", "benchmarks"],
        cwd=baselined,
        capture_output=True,
        text=True,
        env={**env, "TMPDIR": str(temp_root)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "not confirmed on 8 fresh seeds" in proc.stdout
