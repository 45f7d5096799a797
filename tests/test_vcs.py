"""Git provenance: the commit, the dirty flag, and the baseline file's history."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pybench.sources.git import git_state, history
from pybench.storage.store import BaselineRecord, save


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("x = 1\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "first")
    return tmp_path


def test_outside_git_has_no_state(tmp_path):
    assert git_state(tmp_path).commit is None and git_state(tmp_path).dirty is None
    assert history(tmp_path / "b.jsonl") is None


def test_clean_and_dirty(repo):
    state = git_state(repo)
    assert (
        state.dirty is False and state.commit == _git(repo, "rev-parse", "--short", "HEAD").strip()
    )
    (repo / "a.py").write_text("x = 2\n")
    assert git_state(repo).dirty is True


def test_baseline_file_itself_does_not_make_the_tree_dirty(repo):
    path = repo / "ci" / "baselines.jsonl"  # outside .pybench/: only `ignore` excludes it
    save(path, [BaselineRecord("bench_a", [1, 2], {0: {"s": [1.0, 2.0]}})])
    _git(repo, "add", "ci/baselines.jsonl")
    _git(repo, "commit", "-qm", "baseline")
    save(path, [BaselineRecord("bench_a", [1, 2], {0: {"s": [1.5, 2.0]}})])
    # the lock file and the .gitignore beside it are untracked, yet do not count either
    assert git_state(repo, ignore=path).dirty is False
    assert git_state(repo).dirty is True
    assert git_state(repo).changed == ("ci/baselines.jsonl",)


def test_pybench_folder_never_makes_the_tree_dirty(repo):
    path = repo / ".pybench" / "baselines.jsonl"
    save(path, [BaselineRecord("bench_a", [1, 2], {0: {"s": [1.0, 2.0]}})])
    (repo / ".pybench" / "notes.txt").write_text("scratch\n")
    assert git_state(repo).dirty is False
    _git(repo, "add", ".pybench")
    _git(repo, "commit", "-qm", "baseline")
    save(path, [BaselineRecord("bench_a", [1, 2], {0: {"s": [1.5, 2.0]}})])
    assert git_state(repo).dirty is False


def test_untracked_files_make_the_tree_dirty_unless_ignored(repo):
    (repo / "new_model.py").write_text("y = 1\n")
    (repo / "data").mkdir()
    (repo / "data" / "cache.bin").write_text("0")
    (repo / ".gitignore").write_text("data/\n")
    state = git_state(repo)
    assert state.dirty is True and state.changed == ()
    assert set(state.untracked) == {"new_model.py", ".gitignore"}  # data/ is ignored
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "more")
    assert git_state(repo).dirty is False


def test_renamed_and_oddly_named_paths_are_read_whole(repo):
    _git(repo, "mv", "a.py", "b c.py")
    (repo / "ünï\tcode.py").write_text("z = 1\n")
    state = git_state(repo)
    assert state.changed == ("b c.py",)
    assert state.untracked == ("ünï\tcode.py",)


def test_history_lists_each_commit_with_its_records(repo):
    path = repo / ".pybench" / "baselines.jsonl"
    for i, subject in enumerate(["one", "two"]):
        save(path, [BaselineRecord("bench_a", [1, 2], {0: {"s": [float(i), 2.0]}})])
        _git(repo, "add", ".pybench/baselines.jsonl")
        _git(repo, "commit", "-qm", subject)
    path.write_text("{broken\n")
    _git(repo, "commit", "-qam", "broken")
    entries = history(path)
    assert [e.subject for e in entries] == ["broken", "two", "one"]
    assert entries[0].records is None and "not valid JSON" in entries[0].error
    assert entries[1].records["bench_a"].scores[0]["s"] == [1.0, 2.0]
    assert entries[2].records["bench_a"].scores[0]["s"] == [0.0, 2.0]
