"""Hostile journals: whatever a journal file holds, reading it gives a valid result or nothing."""

from __future__ import annotations

import base64
import json
import math
import struct
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybench.core.benchmark import Benchmark
from pybench.core.seeds import SeedOutcome
from pybench.storage.journal import FORMAT, Journal, Resumable

SEEDS = (11, 22, 33)


def _journal(tmp_path: Path) -> tuple[Journal, str]:
    bench_file = tmp_path / "bench_x.py"
    bench_file.write_text("def bench_x(seed):\n    return 1.0\n")
    journal = Journal(tmp_path / "journal")
    bench = Benchmark(name="bench_x", path=bench_file, func=lambda seed: 1.0)
    return journal, journal.fingerprint(bench)


def _header(fingerprint: str, seeds: object = SEEDS) -> str:
    seeds = list(seeds) if isinstance(seeds, tuple) else seeds
    head = {"journal": FORMAT, "bench": "bench_x", "fingerprint": fingerprint, "seeds": seeds}
    return json.dumps(head)


def _check_valid(found: Resumable | None) -> None:
    """``None``, or outcomes that fit the seeds: distinct rows, numbers as floats."""
    if found is None:
        return
    assert all(isinstance(s, int) for s in found.seeds)
    rows = [o.index for o in found.outcomes]
    assert rows == sorted(set(rows))
    for outcome in found.outcomes:
        assert isinstance(outcome, SeedOutcome)
        assert found.seeds[outcome.index] == outcome.seed
        assert outcome.values
        assert math.isfinite(outcome.elapsed) and outcome.elapsed >= 0
        for (step, metric), value in outcome.values.items():
            assert isinstance(step, int) and isinstance(metric, str) and isinstance(value, float)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
def _b64(values: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}d", *values)).decode()


FLOATS = st.lists(st.floats(), max_size=3).map(_b64)
LAYOUT = st.fixed_dictionaries(
    {
        "layout": st.integers(0, 2) | JSON,
        "slots": st.lists(st.tuples(st.integers(0, 3) | JSON, st.text(max_size=3) | JSON))
        | JSON,
    }
)
ENTRY = st.fixed_dictionaries(
    {
        "index": st.integers(-2, 4) | JSON,
        "seed": st.sampled_from(SEEDS) | JSON,
        "layout": st.integers(0, 2) | JSON,
        "values": FLOATS | st.text(max_size=12) | JSON,
        "elapsed": st.floats() | JSON,
    }
)
LINE = (
    ENTRY.map(json.dumps)
    | LAYOUT.map(json.dumps)
    | JSON.map(json.dumps)
    | st.text(max_size=60)
    | st.integers(1, 5000).map(lambda depth: "[" * depth + "]" * depth)
    | st.just('{"layout": 1, "slots": [[' + "9" * 400 + ', "m"]]}')
)


FIXTURE = [HealthCheck.function_scoped_fixture]


@settings(max_examples=300, deadline=None, suppress_health_check=FIXTURE)
@given(lines=st.lists(LINE, max_size=6), good_header=st.booleans(), header=JSON)
def test_any_journal_reads_as_valid_or_nothing(
    tmp_path: Path, lines: list[str], good_header: bool, header: object
) -> None:
    journal, fingerprint = _journal(tmp_path)
    journal.folder.mkdir(exist_ok=True)
    first = _header(fingerprint) if good_header else json.dumps(header)
    journal.path("bench_x").write_text("\n".join([first, *lines]) + "\n", encoding="utf-8")
    _check_valid(journal.read("bench_x", fingerprint))
    assert journal.finished("bench_x") >= 0


@settings(max_examples=200, deadline=None, suppress_health_check=FIXTURE)
@given(data=st.binary(max_size=300))
def test_any_bytes_read_as_valid_or_nothing(tmp_path: Path, data: bytes) -> None:
    journal, fingerprint = _journal(tmp_path)
    journal.folder.mkdir(exist_ok=True)
    journal.path("bench_x").write_bytes(_header(fingerprint).encode() + b"\n" + data)
    _check_valid(journal.read("bench_x", fingerprint))


def test_deeply_nested_header_or_line_is_ignored(tmp_path: Path) -> None:
    journal, fingerprint = _journal(tmp_path)
    journal.folder.mkdir()
    deep = "[" * 100_000 + "]" * 100_000
    journal.path("bench_x").write_text(deep + "\n", encoding="utf-8")
    assert journal.read("bench_x", fingerprint) is None
    layout = json.dumps({"layout": 1, "slots": [[0, "m"]]})
    good = json.dumps({"index": 1, "seed": 22, "layout": 1, "values": _b64([0.5]), "elapsed": 0.1})
    journal.path("bench_x").write_text(
        f"{_header(fingerprint)}\n{deep}\n{layout}\n{good}\n", encoding="utf-8"
    )
    found = journal.read("bench_x", fingerprint)
    assert found is not None and [o.index for o in found.outcomes] == [1]


def test_values_must_match_a_layout_read_before_them(tmp_path: Path) -> None:
    journal, fingerprint = _journal(tmp_path)
    journal.folder.mkdir()
    two = _b64([0.25, -1.5])
    rows = [
        {"index": 0, "seed": 11, "layout": 1, "values": two, "elapsed": 0.1},  # no layout yet
        {"layout": 1, "slots": [[0, "m"], [1, "m"]]},
        {"layout": 2, "slots": [[1, "m"], [0, "m"]]},  # not sorted: ignored
        {"layout": 3, "slots": [[0, "m"], [0, "m"]]},  # a slot twice: ignored
        {"layout": 4, "slots": [[2**70, "m"]]},  # a step past 64 bits: ignored
        {"index": 0, "seed": 11, "layout": 2, "values": two, "elapsed": 0.1},
        {"index": 0, "seed": 11, "layout": 1, "values": _b64([0.25]), "elapsed": 0.1},  # short
        {"index": 0, "seed": 11, "layout": 1, "values": "not base64!", "elapsed": 0.1},
        {"index": 1, "seed": 22, "layout": 4, "values": _b64([1.0]), "elapsed": 0.1},
        {"index": 2, "seed": 33, "layout": 1, "values": two, "elapsed": 0.1},
    ]
    text = "\n".join([_header(fingerprint), *map(json.dumps, rows)]) + "\n"
    journal.path("bench_x").write_text(text, encoding="utf-8")
    found = journal.read("bench_x", fingerprint)
    assert found is not None
    assert [(o.index, dict(o.values)) for o in found.outcomes] == [
        (2, {(0, "m"): 0.25, (1, "m"): -1.5})
    ]


def test_a_journal_of_another_format_is_not_resumed(tmp_path: Path) -> None:
    journal, fingerprint = _journal(tmp_path)
    journal.folder.mkdir()
    old = {"journal": 1, "bench": "bench_x", "fingerprint": fingerprint, "seeds": [11]}
    line = {"index": 0, "seed": 11, "values": [[0, "m", 0.5]], "elapsed": 0.1}
    text = f"{json.dumps(old)}\n{json.dumps(line)}\n"
    journal.path("bench_x").write_text(text, encoding="utf-8")
    assert journal.read("bench_x", fingerprint) is None
    assert journal.unused("bench_x", fingerprint, [11]) == (
        "it was written by another version of pybench"
    )


def test_resumed_seeds_with_other_slots_are_that_benchmarks_error(project, write_bench, cli):
    from pybench.app.runs import journal_for
    from pybench.core.values import SlotValues

    path = write_bench("def bench_a(seed, n_seeds=6):\n    return {'x': seed % 5 + 1.0}\n")
    write_bench("def bench_b(seed, n_seeds=6):\n    return seed % 7 + 1.0\n", "bench_b.py")
    journal = journal_for(project / ".pybench" / "baselines.jsonl")
    fingerprint = journal.fingerprint(Benchmark(name="bench_a", path=path, func=lambda s: 1.0))
    seeds = [5, 6, 7, 8, 9, 10]

    def outcome(index: int, metric: str) -> SeedOutcome:
        values = SlotValues.from_mapping({(0, metric): 1.0})
        return SeedOutcome(index, seeds[index], values=values, elapsed=0.1)

    journal.start("bench_a", fingerprint, seeds, [outcome(0, "x"), outcome(1, "y")]).close()
    result = cli("benchmarks", "--resume")
    assert result.exit_code == 2
    assert "bench_a" in result.stdout and "ERROR" in result.stdout
    assert "different slots" in result.stdout
    assert "run without --resume to start over" in result.stdout
    assert "bench_b" in result.stdout and "NEW" in result.stdout


def test_a_seed_time_that_no_run_could_take_is_ignored(tmp_path: Path) -> None:
    journal, fingerprint = _journal(tmp_path)
    journal.folder.mkdir()
    layout = json.dumps({"layout": 1, "slots": [[0, "m"]]})
    rows = [
        json.dumps({"index": i, "seed": seed, "layout": 1, "values": _b64([0.5]), "elapsed": t})
        for i, (seed, t) in enumerate(zip(SEEDS, [math.nan, -1.0, 0.25], strict=True))
    ]
    journal.path("bench_x").write_text(
        "\n".join([_header(fingerprint), layout, *rows]) + "\n", encoding="utf-8"
    )
    found = journal.read("bench_x", fingerprint)
    assert found is not None and [(o.index, o.elapsed) for o in found.outcomes] == [(2, 0.25)]


def test_seeds_no_baseline_could_store_make_the_journal_unusable(tmp_path: Path) -> None:
    journal, fingerprint = _journal(tmp_path)
    journal.folder.mkdir()
    for seeds in ([], [-1, 22], [11, 2**70], [11, 11], "11", [11, 1.5]):
        journal.path("bench_x").write_text(_header(fingerprint, seeds) + "\n", encoding="utf-8")
        assert journal.read("bench_x", fingerprint) is None
        assert journal.unused("bench_x", fingerprint, SEEDS) == "it cannot be read"
    text = _header(fingerprint).replace("33]", "Infinity]")  # json reads a float infinity
    journal.path("bench_x").write_text(text + "\n", encoding="utf-8")
    assert journal.unused("bench_x", fingerprint, SEEDS) == "it cannot be read"


def test_a_header_longer_than_a_line_may_be_cannot_be_read(tmp_path: Path, monkeypatch) -> None:
    from pybench.storage import journal as module

    journal, fingerprint = _journal(tmp_path)
    journal.folder.mkdir()
    header = _header(fingerprint)
    journal.path("bench_x").write_text(header + "\n", encoding="utf-8")
    assert journal.unused("bench_x", fingerprint, SEEDS) is None
    monkeypatch.setattr(module, "MAX_LINE_CHARS", len(header) - 1)
    assert journal.read("bench_x", fingerprint) is None
    assert journal.unused("bench_x", fingerprint, SEEDS) == "it cannot be read"
