"""The terminal report renders outcomes: lines, the -v table, the summary."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from pybench.core.benchmark import Benchmark
from pybench.core.settings import Settings
from pybench.engine import loop
from pybench.engine import outcome as results
from pybench.engine import plan as planning
from pybench.execution.backends import Pool
from pybench.judging.verdict import Criteria, Paired, compare_run
from pybench.reports.terminal import (
    Reporter,
    format_flips,
    format_table,
    shape,
    summary_text,
    timing_line,
)


def _comparison(metric: str = "min:loss"):
    rng = np.random.default_rng(3)
    slots = [(1, metric), (100, metric)]
    base = rng.normal(1.0, 0.05, size=(10, 2))
    cur = base + rng.normal(0.0, 0.01, size=(10, 2))
    cur[:, 1] += 0.5  # a loss that rises: worse
    return compare_run(Paired(slots, list(range(10)), base, cur), Criteria(0.05))


def test_table_columns_line_up_and_mark_flagged_slots():
    header, first, second = format_table(_comparison())
    assert header.split() == [
        "metric", "step", "baseline", "current", "Δ", "p", "p_adj", "Δ", "95%", "CI",
    ]  # fmt: skip
    # every column starts where its header does; step is right-aligned under its title
    for title in ("baseline", "current", "Δ", "p", "p_adj", "Δ 95% CI"):
        at = (header + " ").index(f" {title} ") + 1
        assert first[at] != " " and second[at] != " " and first[at - 1] == " "
    assert first.index("1 ") + 1 == header.index("step") + len("step")
    assert "✗" not in first and " ✗ " in second
    assert "‼" not in first and " ‼ " in second
    assert all(line == line.rstrip() for line in (header, first, second))


def test_table_keeps_markup_like_names_as_text():
    [_, row, _] = format_table(_comparison("[bold]acc[/]"))
    assert row.startswith("[bold]acc[/]")


def test_shape():
    assert shape([(1, "a"), (30, "a"), (100, "a")]) == "1 metrics × 3 steps"


def _bench(name, func, n_seeds=6):
    return Benchmark(name, Path(f"{name}.py"), func, Settings(n_seeds=n_seeds))


def test_reporter_prints_each_outcome_as_it_finishes_and_the_summary(capsys):
    def boom(seed):
        raise ValueError("no")

    benches = [_bench("bench_long_name", lambda s: 1.0 + s % 3), _bench("bench_b", boom)]
    reporter = Reporter(verbose=True, names=[b.name for b in benches])
    jobs = planning.plan(benches, {}, {}, base_seed=1)
    outcomes = loop.run(jobs, pool=Pool(), on_event=reporter)
    reporter.summary(outcomes, 1.23)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "bench_long_name .......... NEW 1 metrics × 1 steps (baseline saved)"
    assert out[1].startswith("bench_b .................. ERROR seed ")
    assert "Traceback" in "\n".join(out) and 'raise ValueError("no")' in "\n".join(out)
    assert out[-2] == "─" * 62
    assert out[-1] == "0 failed, 0 passed, 1 new, 1 error in 1.2s"


@pytest.mark.parametrize("update", [False, True])
def test_summary_counts_come_from_the_outcomes(capsys, update):
    jobs = planning.plan([_bench("bench_a", float)], {}, {}, update=update, base_seed=1)
    outcomes = loop.run(jobs, pool=Pool())
    Reporter().summary(outcomes, 0.04, update=update)
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == ("1 updated in 0.0s" if update else "0 failed, 0 passed, 1 new in 0.0s")


# -- the worked example of docs/how-it-works.md ------------------------------------
DOCS = Path(__file__).resolve().parent.parent / "docs" / "how-it-works.md"
EXAMPLE_SLOTS = [(10, "acc"), (20, "acc"), (30, "acc")]
EXAMPLE_BASE = np.array(
    [
        [0.701, 0.69, 0.711, 0.663, 0.714, 0.709, 0.697, 0.67],
        [0.827, 0.794, 0.799, 0.831, 0.797, 0.816, 0.814, 0.808],
        [0.874, 0.839, 0.865, 0.848, 0.842, 0.846, 0.833, 0.837],
    ]
).T
EXAMPLE_CUR = np.array(
    [
        [0.678, 0.676, 0.722, 0.668, 0.721, 0.699, 0.71, 0.66],
        [0.805, 0.764, 0.784, 0.828, 0.798, 0.808, 0.787, 0.775],
        [0.838, 0.809, 0.826, 0.814, 0.81, 0.819, 0.795, 0.809],
    ]
).T


def _docs_block(first: str) -> list[str]:
    """The lines of the docs' code block from the line ``first`` to the closing fence."""
    lines = DOCS.read_text(encoding="utf-8").splitlines()
    start = lines.index(first)
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("```"))
    return lines[start:end]


def _example_outcome(status, base, cur):
    seeds = tuple(range(8))
    comparison = compare_run(Paired(EXAMPLE_SLOTS, seeds, base, cur), Criteria(0.05))
    bench = _bench("bench_acc", float)
    return results.Outcome(
        status, bench, bench.defaults, seeds, tuple(EXAMPLE_SLOTS), comparison=comparison
    )


def test_docs_worked_example_table_is_pybench_output(capsys):
    outcome = _example_outcome(results.Status.FAIL, EXAMPLE_BASE, EXAMPLE_CUR)
    assert not outcome.comparison.passed
    Reporter(verbose=True, names=["bench_acc"]).outcome(outcome)
    assert capsys.readouterr().out.splitlines() == _docs_block("$ pybench -v")[1:]


def test_docs_improvement_note_is_pybench_output(capsys):
    outcome = _example_outcome(results.Status.PASS, EXAMPLE_CUR, EXAMPLE_BASE)  # swapped
    assert outcome.comparison.passed and outcome.comparison.stats.improved
    Reporter(names=["bench_acc"]).outcome(outcome)
    out = capsys.readouterr().out.splitlines()
    assert out == _docs_block(out[0])


def test_docs_plan_is_pybench_output(capsys):
    from pybench import stats

    rows = stats.power_plan(EXAMPLE_BASE, EXAMPLE_SLOTS, alpha=0.05, effect=0.02, power=0.8)
    Reporter().plan("bench_acc", 8, 0.05, 0.02, 0.8, rows)
    block = _docs_block("$ pybench plan --effect 0.02 --power 0.8")[1:]
    assert capsys.readouterr().out.splitlines() == block


def test_table_shows_intervals_and_marks():
    result = _comparison()
    [_, first, second] = format_table(result)
    slot = result.stats.slots[1]
    assert slot.flagged and slot.flagged_adj
    lo, hi = f"{slot.delta_low * 100:+.1f}%", f"{slot.delta_high * 100:+.1f}%"
    assert second.endswith(f"{slot.p_adj:.3f} ‼  [{lo}, {hi}]")
    assert format_flips(result) == "sign flips: 1024 (exact)"


def test_cluster_notes_and_version_warnings(capsys):
    from dataclasses import replace

    from pybench.execution.dask import ClusterNotes
    from pybench.execution.versions import VersionMismatch

    [outcome] = loop.run(planning.plan([_bench("bench_a", float)], {}, {}, base_seed=1),
                            pool=Pool())  # fmt: skip
    outcome = replace(
        outcome,
        version_mismatches=(VersionMismatch("numpy", "tcp://10.0.0.7:4000", "2.1.0", "1.26.4"),),
        cluster=ClusterNotes(2, ("distributed.client - WARNING - Couldn't gather 1 keys",)),
    )
    for verbose in (False, True):
        Reporter(verbose=verbose, names=["bench_a"]).outcome(outcome)
        captured = capsys.readouterr()
        warning, *rest = captured.err.splitlines()
        assert warning == (
            "warning: bench_a: numpy is 2.1.0 here but 1.26.4 on worker tcp://10.0.0.7:4000"
        )
        assert rest == ([timing_line(outcome)] if verbose else [])  # -v: the time, on stderr
        lines = captured.out.splitlines()
        assert lines[0].startswith("bench_a .......... NEW")
        assert lines[1] == "  note: 2 seeds rescheduled after a Dask worker was lost"
        dask_lines = ["  dask: distributed.client - WARNING - Couldn't gather 1 keys"]
        assert lines[2:] == (dask_lines if verbose else [])

    Reporter(verbose=True, names=["bench_a"]).outcome(
        replace(outcome, version_mismatches=(), cluster=ClusterNotes())
    )
    assert capsys.readouterr() == (f"{outcome.name} .......... NEW 1 metrics × 1 steps"
                                   " (baseline saved)\n", timing_line(outcome) + "\n")  # fmt: skip


def test_compare_lines_and_summary_count_the_benchmarks_one_revision_lacks(capsys):
    jobs = planning.plan([_bench("bench_a", float), _bench("bench_b", float)], {}, {}, base_seed=1)
    made = loop.run(jobs, pool=Pool())
    new = dataclasses.replace(made[0], record=None, note=results.ONLY_IN_HEAD)
    gone = results.Outcome(
        results.Status.GONE, made[1].bench, made[1].settings, (), note=results.ONLY_IN_BASE
    )
    reporter = Reporter(names=["bench_a", "bench_b"])
    reporter.revisions("main (1a2b3c4)", "working tree (5d6e7f8, dirty)")
    for outcome in (new, gone):
        reporter.outcome(outcome)
    reporter.summary([new, gone], 2.04, command="compare")
    assert capsys.readouterr().out.splitlines() == [
        "base main (1a2b3c4) → head working tree (5d6e7f8, dirty)",
        "bench_a .......... NEW 1 metrics × 1 steps (only in HEAD; nothing to compare)",
        "bench_b .......... GONE (only in BASE; nothing to compare)",
        "─" * 62,
        "0 failed, 0 passed, 1 only in HEAD, 1 only in BASE in 2.0s",
    ]
    assert summary_text([], "compare") == "0 failed, 0 passed"
    assert summary_text([new, new], "run") == "0 failed, 0 passed, 2 new"


def test_timing_line_and_durations():
    from dataclasses import replace

    from pybench.reports.terminal import duration

    assert [duration(s) for s in (4.24, 0.142, 0.0031)] == ["4.2s", "0.14s", "3.1ms"]
    [outcome] = loop.run(planning.plan([_bench("bench_a", float)], {}, {}, base_seed=1),
                            pool=Pool())  # fmt: skip
    timed = replace(outcome, timings=results.Timings(4.24, (0.1, 0.3, 0.2)), reused=2)
    assert timing_line(timed) == (
        "bench_a: 3 seeds in 4.2s (median 0.20s per seed, 2 of them reused)"
    )
    assert timing_line(replace(outcome, timings=results.Timings(1.5))) == "bench_a: 1.5s"
