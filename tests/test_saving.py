"""Saving new baselines in batches, the saver's kept lines, and seed values held as arrays."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pybench.core.benchmark import Benchmark
from pybench.core.errors import PybenchError
from pybench.core.normalize import _checked, normalize
from pybench.core.seeds import SeedOutcome
from pybench.core.settings import Settings
from pybench.core.values import SlotValues
from pybench.engine import loop
from pybench.engine import plan as planning
from pybench.engine.outcome import BenchFinished, Status
from pybench.execution.backends import open_pool
from pybench.storage import store
from pybench.storage.journal import Journal, _Reader, _Writer


def _curve(seed: int) -> list[dict]:
    return [{"step": 1, "acc": (seed % 7) / 7}, {"step": 2, "acc": (seed % 5) / 5}]


def _jobs(tmp_path: Path, journal: Journal, count: int = 3) -> list[planning.Job]:
    benches = []
    for i in range(count):
        path = tmp_path / f"bench_{i}.py"
        path.write_text(f"# {i}\n")
        benches.append(Benchmark(f"bench_{i}", path, _curve, Settings(n_seeds=6)))
    return planning.plan(benches, {}, {}, journal=journal, base_seed=1)


def _run(jobs, journal, save, monkeypatch, ratio: float):
    monkeypatch.setattr(loop, "SAVE_RATIO", ratio)
    events: list = []

    def on_event(event) -> None:
        if isinstance(event, BenchFinished):
            events.append(("finished", event.outcome.bench.name))

    def saving(records) -> None:
        events.append(("save", [r.bench for r in records]))
        save(records)

    with open_pool() as pool:
        outcomes = loop.run(jobs, pool=pool, on_event=on_event, journal=journal, save=saving)
    return outcomes, events


def test_baselines_wait_and_are_reported_only_once_saved(tmp_path, monkeypatch):
    journal = Journal(tmp_path / "journal")
    saved: list[str] = []
    outcomes, events = _run(
        _jobs(tmp_path, journal), journal, lambda r: saved.extend(x.bench for x in r),
        monkeypatch, ratio=1e9,
    )
    assert [o.status for o in outcomes] == [Status.NEW] * 3
    assert events == [  # the first at once; the others wait for the end of the run, in order
        ("save", ["bench_0"]),
        ("finished", "bench_0"),
        ("save", ["bench_1", "bench_2"]),
        ("finished", "bench_1"),
        ("finished", "bench_2"),
    ]
    assert not journal.folder.exists()  # every journal went once its baseline was saved


def test_every_baseline_saved_at_once_when_saving_is_cheap(tmp_path, monkeypatch):
    journal = Journal(tmp_path / "journal")
    _, events = _run(_jobs(tmp_path, journal), journal, lambda r: None, monkeypatch, ratio=0)
    assert [e for e in events if e[0] == "save"] == [("save", [f"bench_{i}"]) for i in range(3)]


def test_a_batch_that_cannot_be_saved_makes_each_of_its_benchmarks_an_error(
    tmp_path, monkeypatch
):
    journal = Journal(tmp_path / "journal")

    def failing(records) -> None:
        if len(records) > 1:
            raise store.StoreError("disk full")

    outcomes, _ = _run(_jobs(tmp_path, journal), journal, failing, monkeypatch, ratio=1e9)
    assert [o.status for o in outcomes] == [Status.NEW, Status.ERROR, Status.ERROR]
    assert all("could not be saved: disk full" in o.error.message for o in outcomes[1:])
    assert sorted(p.name for p in journal.folder.iterdir()) == ["bench_1.jsonl", "bench_2.jsonl"]


def test_ctrl_c_saves_what_finished_before_it(tmp_path, monkeypatch):
    journal = Journal(tmp_path / "journal")
    jobs = _jobs(tmp_path, journal, count=2)

    def stopped(seed: int) -> float:
        raise KeyboardInterrupt

    bench = Benchmark("bench_z", tmp_path / "bench_0.py", stopped, Settings(n_seeds=6))
    jobs += planning.plan([bench], {}, {}, journal=journal, base_seed=1)
    saved: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        _run(jobs, journal, lambda r: saved.extend(x.bench for x in r), monkeypatch, ratio=1e9)
    assert saved == ["bench_0", "bench_1"]


def test_the_saver_reads_the_file_again_only_if_another_process_changed_it(tmp_path):
    path = tmp_path / "baselines.jsonl"
    saver = store.Saver(path)
    record = store.BaselineRecord("bench_a", [1, 2], {0: {"score": [0.5, 0.25]}})
    saver.save([record])
    other = store.BaselineRecord("bench_b", [3, 4], {1: {"acc": [1.0, 2.0]}})
    store.save(path, [other])  # another writer
    saver.save([store.BaselineRecord("bench_c", [5, 6], {0: {"score": [1.5, 0.1]}})])
    assert sorted(store.load(path)) == ["bench_a", "bench_b", "bench_c"]
    with open(path, "a", encoding="utf-8") as handle:  # an edit in place
        handle.write(other.to_json().replace("bench_b", "bench_d") + "\n")
    saver.save([record])
    assert sorted(store.load(path)) == ["bench_a", "bench_b", "bench_c", "bench_d"]


def test_a_failed_save_is_a_store_error(tmp_path):
    (tmp_path / "baselines.jsonl.lock").mkdir()
    with pytest.raises(PybenchError, match="lock"):
        store.Saver(tmp_path / "baselines.jsonl").save(
            [store.BaselineRecord("bench_a", [1], {0: {"score": [0.5]}})]
        )


# -- values as arrays ------------------------------------------------------------------
_names = st.sampled_from(["acc", "min:loss", "b", "max:z", "é"])
_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**70), 2**70)
)
_records = st.lists(
    st.tuples(st.integers(-(2**64), 2**64), st.dictionaries(_names, _numbers, min_size=1)),
    min_size=1,
    max_size=6,
)


@given(_records)
def test_the_fast_curve_path_agrees_with_the_checked_one(records):
    curve = [{"step": step, **metrics} for step, metrics in records]
    try:
        want = _checked(curve)
    except PybenchError as exc:
        with pytest.raises(type(exc), match="."):
            normalize(curve)
        return
    got = normalize(curve)
    assert isinstance(got, SlotValues)
    assert got.slots() == sorted(want)
    for slot, value in want.items():  # the same floats, NaN included
        assert got[slot] == value or (got[slot] != got[slot] and value != value)
    assert pickle.loads(pickle.dumps(got)).same_slots(got)


def test_slot_values_act_as_the_mapping_they_stand_for():
    values = normalize([{"step": 2, "b": 1, "a": 2.5}, {"step": 1, "a": -0.0}])
    assert values == {(1, "a"): -0.0, (2, "a"): 2.5, (2, "b"): 1.0}
    assert values[(2, "b")] == 1.0 and list(values) == [(1, "a"), (2, "a"), (2, "b")]
    assert normalize(0.5) == {(0, "score"): 0.5}


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 1e308, -0.0, 5e-324])
def test_journal_lines_give_back_every_value_bit_for_bit(bad):
    values = normalize([{"step": s, "a": s / 3, "min:b": -s * 1e-7} for s in range(1, 4)])
    special = normalize([{"step": 1, "a": bad, "min:b": 0.1}])
    writer, reader = _Writer(), _Reader([7])
    lines = []
    for outcome_values in (values, values, special, values):
        text = writer.lines(SeedOutcome(0, 7, values=outcome_values, elapsed=0.25))
        lines += text.splitlines()
        *layouts, line = text.splitlines()
        assert all(reader.line(layout) is None for layout in layouts)
        back = reader.line(line)
        assert back is not None and back.seed == 7 and back.elapsed == 0.25
        assert list(back.values) == list(outcome_values)  # the slots, in order
        got = np.array(back.values.floats)
        want = np.array(list(outcome_values.values()))
        assert got.tobytes() == want.tobytes()  # NaN, -0.0 and subnormals included
    assert len(lines) == 4 + 3  # a layout line each time the slots change


def test_a_record_from_a_matrix_writes_what_it_was_given():
    rng = np.random.default_rng(3)
    values = rng.normal(size=(4, 3)) * 10.0 ** rng.integers(-30, 30, size=(4, 3))
    slots = [(0, "a"), (0, "b"), (5, "a")]
    record = store.BaselineRecord.from_matrix("bench_m", [1, 2, 3, 4], slots, values)
    again = store.parse(record.to_json() + "\n", "f")["bench_m"]
    np.testing.assert_array_equal(again.matrix(slots), values)
