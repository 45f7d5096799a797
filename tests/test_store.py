"""The baseline store (SPEC §5): exact round trips, tolerant reading, refusing bad files."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybench.storage import store
from pybench.storage.store import FORMAT_VERSION, BaselineRecord, StoreError

# -- helpers -----------------------------------------------------------------


def _record(
    bench: str = "bench_a",
    seeds: list[int] | None = None,
    scores: dict[int, dict[str, list[float]]] | None = None,
    **kwargs: Any,
) -> BaselineRecord:
    seeds = [11, 22, 33] if seeds is None else seeds
    if scores is None:
        scores = {0: {"score": [0.5 + i for i in range(len(seeds))]}}
    return BaselineRecord(bench=bench, seeds=seeds, scores=scores, **kwargs)


def _bits(values: list[float]) -> list[str]:
    """Bit-exact view of floats (``-0.0`` differs from ``0.0``)."""
    return [float.hex(v) for v in values]


def _assert_same(got: BaselineRecord, want: BaselineRecord) -> None:
    assert got.bench == want.bench
    assert got.seeds == want.seeds
    assert all(type(s) is int for s in got.seeds)
    assert got.n == len(want.seeds)
    assert got.timestamp == want.timestamp
    assert got.git_commit == want.git_commit
    assert got.git_dirty is want.git_dirty
    assert got.extra == want.extra
    assert set(got.scores) == set(want.scores)
    for step, metrics in want.scores.items():
        assert set(got.scores[step]) == set(metrics)
        for metric, values in metrics.items():
            stored = got.scores[step][metric]
            assert all(type(v) is float for v in stored)
            assert _bits(stored) == _bits([float(v) for v in values]), (step, metric)


def _spec_line(bench: str = "bench_synthetic", **override: Any) -> dict[str, Any]:
    """A record with exactly the fields SPEC §5 lists (no ``format``)."""
    obj: dict[str, Any] = {
        "bench": bench,
        "timestamp": "2026-06-25T14:26:16Z",
        "git_commit": "55efb67",
        "git_dirty": False,
        "seeds": [1244206722, 7, 4294967295],
        "n": 3,
        "scores": {
            "1": {"min:loss": [1.11, 1.05, 1.2]},
            "30": {"min:loss": [0.5, 0.45, 0.52]},
            "100": {"min:loss": [0.13, 0.12, 0.15], "accuracy": [0.9, 0.91, 0.89]},
        },
    }
    obj.update(override)
    return obj


def _leftovers(folder: Path, name: str) -> list[str]:
    """Files in ``folder`` other than the baseline and its lock."""
    return sorted(p.name for p in folder.iterdir() if p.name not in (name, name + ".lock"))


# -- round trips -------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=True)
names = st.text(max_size=12)
json_scalar = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | finite | names
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def records(draw: st.DrawFn, bench: str | None = None) -> BaselineRecord:
    n = draw(st.integers(1, 6))
    seeds = draw(st.lists(st.integers(0, 2**32 - 1), min_size=n, max_size=n, unique=True))
    steps = draw(st.lists(st.integers(-(2**63), 2**63), min_size=1, max_size=3, unique=True))
    metric_names = names | st.sampled_from(["min:loss", "max:acc", 'quo"te', "new\nline", "min:"])
    scores = {
        step: draw(
            st.dictionaries(
                metric_names, st.lists(finite, min_size=n, max_size=n), min_size=1, max_size=3
            )
        )
        for step in steps
    }
    extra = draw(
        st.dictionaries(names.filter(lambda k: k not in store._KNOWN), json_value, max_size=2)
    )
    return BaselineRecord(
        bench=bench if bench is not None else draw(st.text(min_size=1, max_size=12)),
        seeds=seeds,
        scores=scores,
        timestamp=draw(st.none() | names),
        git_commit=draw(st.none() | names),
        git_dirty=draw(st.none() | st.booleans()),
        extra=extra,
    )


@settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.lists(records(), min_size=1, max_size=4, unique_by=lambda r: r.bench))
def test_save_then_load_is_exact(recs: list[BaselineRecord]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "baselines.jsonl"
        store.save(path, recs)
        loaded = store.load(path)
        assert sorted(loaded) == sorted(r.bench for r in recs)
        for rec in recs:
            _assert_same(loaded[rec.bench], rec)
        # one line per benchmark, sorted by name
        lines = path.read_text(encoding="utf-8").split("\n")
        assert lines[-1] == ""
        assert [json.loads(line)["bench"] for line in lines[:-1]] == sorted(r.bench for r in recs)
        # a second save of what was loaded changes nothing
        before = path.read_bytes()
        store.save(path, loaded.values())
        assert path.read_bytes() == before


@settings(max_examples=200, deadline=None, derandomize=True)
@given(records())
def test_to_json_then_parse_is_exact(rec: BaselineRecord) -> None:
    line = rec.to_json()
    assert "\n" not in line
    parsed = store.parse(line + "\n", "mem")
    _assert_same(parsed[rec.bench], rec)


EDGE_FLOATS = [
    0.0,
    -0.0,
    5e-324,  # smallest subnormal
    -5e-324,
    2.225073858507201e-308,  # largest subnormal
    2.2250738585072014e-308,  # smallest normal
    1.7976931348623157e308,  # largest finite
    -1.7976931348623157e308,
    0.1,
    1 / 3,
    2.0**53 + 2,
    1e-300,
    123456789.12345679,
]


def test_edge_floats_round_trip_bit_exact(tmp_path: Path) -> None:
    n = len(EDGE_FLOATS)
    rec = _record(
        seeds=list(range(n)),
        scores={-5: {"min:loss": EDGE_FLOATS}, 0: {"x": list(reversed(EDGE_FLOATS))}},
    )
    path = tmp_path / "b.jsonl"
    store.save(path, [rec])
    _assert_same(store.load(path)["bench_a"], rec)


def test_seed_bounds_and_int_values_round_trip(tmp_path: Path) -> None:
    rec = _record(seeds=[0, 2**32 - 1], scores={0: {"a": [3, -7]}})  # ints become floats
    path = tmp_path / "b.jsonl"
    store.save(path, [rec])
    got = store.load(path)["bench_a"]
    assert got.seeds == [0, 2**32 - 1]
    assert got.scores == {0: {"a": [3.0, -7.0]}}
    assert all(type(v) is float for v in got.scores[0]["a"])


# -- layout of the file ------------------------------------------------------


def test_records_sorted_by_name_one_per_line(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    store.save(path, [_record("bench_m"), _record("bench_c")])
    store.save(path, [_record("bench_z"), _record("bench_a")])
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["bench"] for line in lines] == [
        "bench_a",
        "bench_c",
        "bench_m",
        "bench_z",
    ]
    assert path.read_text(encoding="utf-8").endswith("}\n")


def test_steps_are_json_strings_in_numeric_order(tmp_path: Path) -> None:
    rec = _record(
        seeds=[1, 2],
        scores={100: {"b": [1.0, 2.0], "a": [3.0, 4.0]}, 1: {"m": [0.0, 0.0]}, 30: {"m": [1, 1]}},
    )
    path = tmp_path / "b.jsonl"
    store.save(path, [rec])
    obj = json.loads(path.read_text(encoding="utf-8"))
    assert list(obj["scores"]) == ["1", "30", "100"]
    assert list(obj["scores"]["100"]) == ["a", "b"]
    assert obj["n"] == 2


def test_format_field_is_written(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    store.save(path, [_record()])
    obj = json.loads(path.read_text(encoding="utf-8"))
    assert obj["format"] == FORMAT_VERSION
    assert {"bench", "timestamp", "git_commit", "git_dirty", "seeds", "n", "scores"} <= set(obj)


def test_save_keeps_other_benchmarks_and_replaces_same_name(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    old_b = _record("bench_b", seeds=[5, 6], scores={0: {"s": [1.0, 2.0]}})
    store.save(path, [_record("bench_a"), old_b])
    new_a = _record("bench_a", seeds=[9, 8, 7, 6], scores={3: {"min:l": [0.1, 0.2, 0.3, 0.4]}})
    store.save(path, [new_a])
    loaded = store.load(path)
    assert sorted(loaded) == ["bench_a", "bench_b"]
    _assert_same(loaded["bench_a"], new_a)
    _assert_same(loaded["bench_b"], old_b)


def test_save_nothing_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "b.jsonl"
    store.save(path, [])
    assert not path.exists()


def test_save_creates_parent_folder(tmp_path: Path) -> None:
    path = tmp_path / ".pybench" / "deep" / "baselines.jsonl"
    store.save(path, [_record()])
    assert list(store.load(path)) == ["bench_a"]


def test_missing_file_loads_as_empty(tmp_path: Path) -> None:
    assert store.load(tmp_path / "nope.jsonl") == {}


def test_blank_lines_and_crlf_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    a = json.dumps(_spec_line("bench_a"))
    b = json.dumps(_spec_line("bench_b"))
    path.write_bytes(f"\n{a}\r\n\r\n{b}\r\n".encode())
    assert sorted(store.load(path)) == ["bench_a", "bench_b"]


def test_save_keeps_file_permissions(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    store.save(path, [_record("bench_a")])
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    path.chmod(0o640)
    store.save(path, [_record("bench_b")])
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


# -- files written by other tools ----------------------------------------------


def test_file_with_only_spec_fields_loads(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    obj = _spec_line()
    assert "format" not in obj
    path.write_text(json.dumps(obj) + "\n", encoding="utf-8")
    rec = store.load(path)["bench_synthetic"]
    assert rec.seeds == [1244206722, 7, 4294967295]
    assert rec.n == 3
    assert rec.timestamp == "2026-06-25T14:26:16Z"
    assert rec.git_commit == "55efb67"
    assert rec.git_dirty is False
    assert rec.extra == {}
    assert rec.scores == {
        1: {"min:loss": [1.11, 1.05, 1.2]},
        30: {"min:loss": [0.5, 0.45, 0.52]},
        100: {"min:loss": [0.13, 0.12, 0.15], "accuracy": [0.9, 0.91, 0.89]},
    }
    assert rec.slots() == [(1, "min:loss"), (30, "min:loss"), (100, "accuracy"), (100, "min:loss")]


def test_minimal_record_without_optional_fields_loads(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text('{"bench": "bench_x", "seeds": [3, 4], "scores": {"0": {"s": [1, 2.5]}}}\n')
    rec = store.load(path)["bench_x"]
    assert (rec.timestamp, rec.git_commit, rec.git_dirty) == (None, None, None)
    assert rec.scores == {0: {"s": [1.0, 2.5]}}


def test_file_written_by_a_tool_without_ascii_escaping_loads(tmp_path: Path) -> None:
    """JSON lets strings hold U+2028, U+0085, U+001C... raw; they are not line breaks in JSONL."""
    odd = ["para\u2029graph", "line\u2028sep", "next\x85line", "file\x1csep", "größe", "損失"]
    obj = _spec_line(
        scores={"0": {name: [1.0, 2.0, 3.0] for name in odd}}, note="unicode \u2028 note"
    )
    path = tmp_path / "b.jsonl"
    path.write_text(json.dumps(obj, ensure_ascii=False) + "\n", encoding="utf-8")
    rec = store.load(path)["bench_synthetic"]
    assert sorted(rec.scores[0]) == sorted(odd)
    assert rec.extra == {"note": "unicode \u2028 note"}


def test_unknown_fields_are_tolerated_and_kept_on_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    extra = {"comment": "hand-edited", "tool": {"name": "other", "version": [1, 2]}, "x": None}
    path.write_text(json.dumps(_spec_line("bench_a", **extra)) + "\n", encoding="utf-8")
    assert store.load(path)["bench_a"].extra == extra
    store.save(path, [_record("bench_b")])  # rewrite the file around it
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = json.loads(lines[0])
    assert kept["bench"] == "bench_a"
    for key, value in extra.items():
        assert kept[key] == value
    assert store.load(path)["bench_a"].extra == extra


def test_older_format_loads(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text(json.dumps(_spec_line(format=FORMAT_VERSION)) + "\n", encoding="utf-8")
    assert "bench_synthetic" in store.load(path)


def test_newer_format_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    good = json.dumps(_spec_line("bench_a"))
    newer = json.dumps(_spec_line("bench_b", format=FORMAT_VERSION + 1))
    path.write_text(f"{good}\n{newer}\n", encoding="utf-8")
    with pytest.raises(StoreError) as info:
        store.load(path)
    message = str(info.value)
    assert f"{path}:2" in message
    assert "newer" in message
    assert "upgrade" in message
    store.save(path, [_record("bench_c")])
    assert newer + "\n" in path.read_text(encoding="utf-8")  # kept as it was


# -- unreadable files -------------------------------------------------------------


def _dump(**override: Any) -> str:
    obj = _spec_line("bench_bad")
    obj.update(override)
    return json.dumps(obj)


def _without(key: str) -> str:
    obj = _spec_line("bench_bad")
    del obj[key]
    return json.dumps(obj)


BAD_LINES: dict[str, str] = {
    "not json": '{"bench": "bench_bad", "seeds": [1',
    "plain text": "hello",
    "not an object": "[1, 2, 3]",
    "missing seeds": _without("seeds"),
    "missing scores": _without("scores"),
    "missing bench": _without("bench"),
    "bench not a string": _dump(bench=3),
    "bench empty": _dump(bench=""),
    "seeds not a list": _dump(seeds="1,2,3"),
    "seeds empty": _dump(seeds=[], n=0),
    "seed is a float": _dump(seeds=[1.5, 2, 3]),
    "seed is a bool": _dump(seeds=[True, 2, 3]),
    "seed negative": _dump(seeds=[-1, 2, 3]),
    "seed too large": _dump(seeds=[2**32, 2, 3]),
    "seed is a string": _dump(seeds=["1", 2, 3]),
    "n mismatch": _dump(n=4),
    "n not an int": _dump(n="3"),
    "scores not an object": _dump(scores=[1, 2, 3]),
    "scores empty": _dump(scores={}),
    "step not an int": _dump(scores={"one": {"m": [1.0, 2.0, 3.0]}}),
    "step maps to a list": _dump(scores={"1": [1.0, 2.0, 3.0]}),
    "step with no metrics": _dump(scores={"1": {}}),
    "values not a list": _dump(scores={"1": {"m": 1.0}}),
    "too few values": _dump(scores={"1": {"m": [1.0, 2.0]}}),
    "too many values": _dump(scores={"1": {"m": [1.0, 2.0, 3.0, 4.0]}}),
    "string value": _dump(scores={"1": {"m": [1.0, "2", 3.0]}}),
    "null value": _dump(scores={"1": {"m": [1.0, None, 3.0]}}),
    "bool value": _dump(scores={"1": {"m": [1.0, True, 3.0]}}),
    "nested value": _dump(scores={"1": {"m": [1.0, [2.0], 3.0]}}),
    "NaN literal": _dump(scores={"1": {"m": [1.0, 2.0, 3.0]}}).replace("2.0", "NaN"),
    "Infinity literal": _dump(scores={"1": {"m": [1.0, 2.0, 3.0]}}).replace("2.0", "Infinity"),
    "-Infinity literal": _dump(scores={"1": {"m": [1.0, 2.0, 3.0]}}).replace("2.0", "-Infinity"),
    "overflowing float": _dump(scores={"1": {"m": [1.0, 2.0, 3.0]}}).replace("2.0", "1e400"),
    "overflowing int": _dump(scores={"1": {"m": [1.0, 2.0, 3.0]}}).replace("2.0", "9" * 400),
    "duplicate step": _dump(scores={"1": {"m": [1.0, 2.0, 3.0]}, "01": {"m": [4.0, 5.0, 6.0]}}),
    "timestamp not a string": _dump(timestamp=20260625),
    "git_commit not a string": _dump(git_commit=55),
    "git_dirty not a bool": _dump(git_dirty="no"),
    "format not an int": _dump(format="1"),
    "duplicate bench": json.dumps(_spec_line("bench_ok")),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_unreadable_line_names_file_and_line(tmp_path: Path, case: str) -> None:
    path = tmp_path / "baselines.jsonl"
    good = json.dumps(_spec_line("bench_ok"))
    # line 1 good, line 2 blank, line 3 bad: the number counts physical lines
    text = f"{good}\n\n{BAD_LINES[case]}\n"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(StoreError) as info:
        store.load(path)
    message = str(info.value)
    assert f"{path}:3" in message, message
    assert "\n" not in message
    with pytest.raises(StoreError) as info2:
        store.parse(text, "some/name.jsonl")
    assert "some/name.jsonl:3" in str(info2.value)

    # a save keeps every line it could not read, as it was, and adds its own record
    before = path.read_text(encoding="utf-8")
    store.save(path, [_record("bench_new")])
    after = path.read_text(encoding="utf-8")
    assert BAD_LINES[case] + "\n" in after
    assert good + "\n" in after
    assert _leftovers(tmp_path, path.name) == []
    assert len(after.splitlines()) == len([x for x in before.split("\n") if x.strip()]) + 1


def test_error_messages_name_what_is_wrong(tmp_path: Path) -> None:
    def message(line: str) -> str:
        with pytest.raises(StoreError) as info:
            store.parse(line, "f.jsonl")
        return str(info.value)

    assert "'seeds'" in message(BAD_LINES["missing seeds"])
    assert "'scores'" in message(BAD_LINES["missing scores"])
    assert "'bench'" in message(BAD_LINES["missing bench"])
    assert "'n'" in message(BAD_LINES["n mismatch"])
    assert "'m'" in message(BAD_LINES["too few values"])
    assert "not valid JSON" in message(BAD_LINES["NaN literal"])
    assert "twice" in message(json.dumps(_spec_line()) + "\n" + json.dumps(_spec_line()))


def test_undecodable_file_is_an_error_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_bytes(json.dumps(_spec_line()).encode() + b"\n\xff\xfe garbage\n")
    with pytest.raises(StoreError) as info:
        store.load(path)
    assert str(path) in str(info.value)
    before = path.read_bytes()
    with pytest.raises(StoreError):
        store.save(path, [_record()])
    assert path.read_bytes() == before


# -- failures while writing --------------------------------------------------------


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), RuntimeError("boom")])
def test_failed_rename_leaves_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    path = tmp_path / "b.jsonl"
    store.save(path, [_record("bench_a"), _record("bench_b")])
    before = path.read_bytes()

    def broken_replace(src: Any, dst: Any) -> None:
        assert Path(src).exists()  # the temp file was fully written first
        raise error

    monkeypatch.setattr(os, "replace", broken_replace)
    expected = StoreError if isinstance(error, OSError) else type(error)
    with pytest.raises(expected) as info:
        store.save(path, [_record("bench_a", seeds=[1, 2], scores={0: {"s": [0.0, 1.0]}})])
    if expected is StoreError:
        assert str(path) in str(info.value)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _leftovers(tmp_path, path.name) == []
    assert sorted(store.load(path)) == ["bench_a", "bench_b"]


def test_failed_fsync_leaves_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "b.jsonl"
    store.save(path, [_record("bench_a")])
    before = path.read_bytes()

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(StoreError):
        store.save(path, [_record("bench_b")])
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _leftovers(tmp_path, path.name) == []


def test_first_write_failure_creates_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "b.jsonl"

    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(StoreError):
        store.save(path, [_record()])
    monkeypatch.undo()
    assert not path.exists()
    assert _leftovers(tmp_path, path.name) == []


# -- where the baseline lives --------------------------------------------------
def test_find_baseline_walks_up_to_the_nearest_pybench_folder(tmp_path, monkeypatch) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "proj" / ".pybench").mkdir(parents=True)
    deep = tmp_path / "proj" / "benchmarks" / "sub"
    deep.mkdir(parents=True)
    (deep / "bench_a.py").write_text("")
    monkeypatch.chdir(deep)
    found = tmp_path / "proj" / ".pybench" / "baselines.jsonl"
    assert store.find_baseline(Path(".")) == found  # above the cwd: absolute
    assert store.find_baseline(deep / "bench_a.py") == found  # a file: start at its folder
    monkeypatch.chdir(tmp_path / "proj")
    assert store.find_baseline(Path("benchmarks/sub")) == Path(".pybench/baselines.jsonl")
    assert store.find_baseline(Path("no/such/dir")) == Path(".pybench/baselines.jsonl")


def test_find_baseline_defaults_to_the_git_root_then_the_cwd(tmp_path, monkeypatch) -> None:
    repo = tmp_path / "repo"
    (repo / "benchmarks").mkdir(parents=True)
    (repo / ".git").write_text("gitdir: elsewhere\n")  # a worktree's .git is a file
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert store.find_baseline(repo / "benchmarks") == repo / ".pybench" / "baselines.jsonl"
    outside = tmp_path / "plain" / "benchmarks"
    outside.mkdir(parents=True)
    assert store.find_baseline(outside) == Path(".pybench/baselines.jsonl")


def test_find_baseline_does_not_leave_the_repository(tmp_path, monkeypatch) -> None:
    (tmp_path / ".pybench").mkdir()  # belongs to an enclosing project
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "benchmarks").mkdir()
    monkeypatch.chdir(repo)
    assert store.find_baseline(Path("benchmarks")) == Path(".pybench/baselines.jsonl")


def test_new_pybench_folder_gets_a_gitignore_for_the_lock(tmp_path: Path) -> None:
    path = tmp_path / ".pybench" / "baselines.jsonl"
    store.save(path, [_record()])
    ignore = (tmp_path / ".pybench" / ".gitignore").read_text().splitlines()
    assert "baselines.jsonl.lock" in ignore and "baselines.jsonl" not in ignore
    assert (tmp_path / ".pybench" / "baselines.jsonl.lock").exists()


def test_existing_folder_and_other_folders_get_no_gitignore(tmp_path: Path) -> None:
    mine = tmp_path / ".pybench"
    mine.mkdir()
    (mine / ".gitignore").write_text("# mine\n")
    store.save(mine / "baselines.jsonl", [_record()])
    assert (mine / ".gitignore").read_text() == "# mine\n"
    existing = tmp_path / "plain"
    existing.mkdir()
    store.save(existing / "b.jsonl", [_record()])
    store.save(tmp_path / "ci" / "b.jsonl", [_record()])
    assert not (existing / ".gitignore").exists() and not (tmp_path / "ci" / ".gitignore").exists()


def test_lock_file_stays_out_of_git_add(tmp_path: Path) -> None:
    import subprocess

    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    store.save(tmp_path / ".pybench" / "baselines.jsonl", [_record()])
    subprocess.run(["git", "add", ".pybench"], cwd=tmp_path, check=True)
    staged = subprocess.run(
        ["git", "diff", "--cached", "--name-only"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert staged == [".pybench/.gitignore", ".pybench/baselines.jsonl"]


@pytest.mark.parametrize("marker", ["<<<<<<< HEAD", "=======", ">>>>>>> feature", "||||||| base"])
def test_merge_conflict_markers_are_named_as_such(tmp_path: Path, marker: str) -> None:
    good = _record().to_json()
    path = tmp_path / "b.jsonl"
    text = f"{good}\n{marker}\n{good}\n"
    path.write_text(text)
    with pytest.raises(StoreError) as caught:
        store.load(path)
    message = str(caught.value)
    assert f"{path}:2:" in message and "merge-conflict" in message
    assert "resolve the conflict" in message and "not valid JSON" not in message
    with pytest.raises(StoreError):
        store.save(path, [_record("bench_b")])
    assert path.read_text() == text


def test_marker_like_text_inside_a_record_is_not_a_conflict(tmp_path: Path) -> None:
    rec = _record(scores={0: {"=======": [1.0, 2.0, 3.0]}})
    path = tmp_path / "b.jsonl"
    store.save(path, [rec])
    assert store.load(path)["bench_a"].scores == rec.scores
