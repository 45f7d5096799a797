"""Hostile baseline files and paths: one bad record costs only its own benchmark, and
pybench writes only regular files, never through a lock that is a link."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybench.storage import store
from pybench.storage.store import BaselineRecord, StoreError


def _record(bench: str, seeds: tuple[int, ...] = (1, 2, 3)) -> BaselineRecord:
    return BaselineRecord(
        bench=bench, seeds=list(seeds), scores={0: {"m": [0.5 + s for s in range(len(seeds))]}}
    )


def _line(bench: str) -> str:
    return _record(bench).to_json()


def test_nan_token_in_one_record_costs_only_that_benchmark(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    bad = _line("bench_b").replace("1.5", "NaN")
    path.write_text(f"{_line('bench_a')}\n{bad}\n{_line('bench_c')}\n", encoding="utf-8")
    got = store.read(path)
    assert sorted(got) == ["bench_a", "bench_c"]
    assert list(got.unusable) == ["bench_b"]
    assert f"{path}:2" in got.unusable["bench_b"]
    assert "NaN" in got.unusable["bench_b"]
    with pytest.raises(StoreError, match=":2: "):
        store.load(path)  # the strict reader still names the line


def test_save_never_drops_or_rewrites_a_record_it_could_not_read(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    bad = _line("bench_b").replace("1.5", "NaN")
    path.write_text(f"{_line('bench_a')}\n{bad}\nnot json at all\n", encoding="utf-8")
    store.save(path, [_record("bench_a", (7, 8, 9)), _record("bench_d")])
    text = path.read_text(encoding="utf-8")
    assert bad + "\n" in text
    assert "not json at all\n" in text
    again = store.read(path)
    assert again["bench_a"].seeds == [7, 8, 9]
    assert "bench_d" in again
    # replacing the unusable record itself is how a user repairs it
    store.save(path, [_record("bench_b")])
    assert store.read(path)["bench_b"].seeds == [1, 2, 3]


def test_two_records_of_one_benchmark_keep_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    first, second = _line("bench_a"), _record("bench_a", (4, 5, 6)).to_json()
    path.write_text(f"{first}\n{second}\n", encoding="utf-8")
    got = store.read(path)
    assert "bench_a" not in got and "twice" in got.unusable["bench_a"]
    store.save(path, [_record("bench_z")])
    text = path.read_text(encoding="utf-8")
    assert first in text and second in text


def test_repeated_seeds_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text(_record("bench_a", (3, 4, 3)).to_json() + "\n", encoding="utf-8")
    reason = store.read(path).unusable["bench_a"]
    assert "seed 3 is listed more than once" in reason


def test_deeply_nested_json_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    deep = '{"bench": "bench_a", "seeds": [1], "scores": ' + "[" * 200_000 + "]" * 200_000 + "}"
    path.write_text(deep + "\n" + _line("bench_b") + "\n", encoding="utf-8")
    got = store.read(path)
    assert "bench_b" in got
    assert "nested too deeply" in got.unusable["bench_a"]
    assert "\n" not in got.unusable["bench_a"]


def test_symlinked_baseline_is_updated_through_the_link(tmp_path: Path) -> None:
    shared = tmp_path / "shared" / "baselines.jsonl"
    shared.parent.mkdir()
    shared.write_text(_line("bench_a") + "\n", encoding="utf-8")
    link = tmp_path / "project" / ".pybench" / "baselines.jsonl"
    link.parent.mkdir(parents=True)
    link.symlink_to(shared)
    store.save(link, [_record("bench_b")])
    assert link.is_symlink()
    assert sorted(store.load(shared)) == ["bench_a", "bench_b"]
    assert not list(link.parent.glob("*.tmp"))


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_baseline_that_is_not_a_regular_file_is_refused(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "b.jsonl"
    if kind == "folder":
        path.mkdir()
    else:
        os.mkfifo(path)
    with pytest.raises(StoreError, match="regular file|folder") as info:
        store.save(path, [_record("bench_a")])
    assert "\n" not in str(info.value)
    with pytest.raises(StoreError):
        store.read(path)  # reading a FIFO would block; it is refused instead
    assert path.is_dir() if kind == "folder" else path.is_fifo()


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="needs /dev/null")
def test_dev_null_is_never_replaced() -> None:
    with pytest.raises(StoreError, match="not a regular file"):
        store.save(Path("/dev/null"), [_record("bench_a")])
    assert Path("/dev/null").is_char_device()


def test_a_lock_file_that_is_a_link_is_not_followed(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    target = tmp_path / "elsewhere"
    store.lock_path(path).symlink_to(target)
    with pytest.raises(StoreError, match="symbolic link"):
        store.save(path, [_record("bench_a")])
    assert not target.exists()
    assert not path.exists()


lines = st.one_of(
    st.text(max_size=80),
    st.builds(json.dumps, st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
            st.sampled_from(["bench", "seeds", "scores", "n", "format", "x"]), inner, max_size=4
        ),
        max_leaves=12,
    )),
    st.builds(_line, st.text(min_size=1, max_size=8)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines, max_size=6))
def test_any_text_reads_as_records_or_one_line_errors(content: list[str]) -> None:
    text = "\n".join(content)
    try:
        got = store.parse_lenient(text, "f.jsonl")
    except StoreError as exc:  # only a merge-conflict marker fails the whole file
        assert "\n" not in str(exc) and "conflict" in str(exc)
        return
    for record in got.values():
        assert isinstance(record, BaselineRecord)
    for reason in got.problems():
        assert reason.startswith("f.jsonl:") and "\n" not in reason


def test_messages_never_carry_control_characters() -> None:
    line = json.dumps({"bench": "bench_\x1b]0;owned\x07\ud800", "seeds": [1, 1], "scores": {}})
    got = store.parse_lenient(line, "f.jsonl")
    (reason,) = got.problems()
    assert "\x1b" not in reason and "\x07" not in reason and "\ud800" not in reason
    assert "\\x1b" in reason


def test_show_lists_the_usable_records_and_names_the_unusable_one(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from pybench.cli import main

    path = tmp_path / "b.jsonl"
    bad = _line("bench_b").replace("1.5", "NaN")
    path.write_text(f"{_line('bench_a')}\n{bad}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["show", "--baseline", str(path)])
    assert result.exit_code == 2
    assert "bench_a" in result.stdout
    assert "b.jsonl:2" in result.stderr and "Traceback" not in result.output
