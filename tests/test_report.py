"""The terminal report renders outcomes: lines, the -v table, the summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pybench import session
from pybench.backends import Pool
from pybench.compare import compare_run
from pybench.discover import Benchmark
from pybench.reports.terminal import Reporter, format_table, shape
from pybench.settings import Settings


def _comparison(metric: str = "min:loss"):
    rng = np.random.default_rng(3)
    slots = [(1, metric), (100, metric)]
    base = rng.normal(1.0, 0.05, size=(10, 2))
    cur = base + rng.normal(0.0, 0.01, size=(10, 2))
    cur[:, 1] += 0.5  # a loss that rises: worse
    return compare_run(slots, list(range(10)), base, cur, alpha=0.05, min_effect=None)


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
    jobs = session.plan(benches, {}, {}, base_seed=1)
    outcomes = session.run(jobs, pool=Pool(), on_event=reporter)
    reporter.summary(outcomes, 1.23)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "bench_long_name .......... NEW 1 metrics × 1 steps (baseline saved)"
    assert out[1].startswith("bench_b .................. ERROR seed ")
    assert "Traceback" in "\n".join(out) and 'raise ValueError("no")' in "\n".join(out)
    assert out[-2] == "─" * 62
    assert out[-1] == "0 failed, 0 passed, 1 new, 1 error in 1.2s"


@pytest.mark.parametrize("update", [False, True])
def test_summary_counts_come_from_the_outcomes(capsys, update):
    jobs = session.plan([_bench("bench_a", float)], {}, {}, update=update, base_seed=1)
    outcomes = session.run(jobs, pool=Pool())
    Reporter().summary(outcomes, 0.04, update=update)
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == ("1 updated in 0.0s" if update else "0 failed, 0 passed, 1 new in 0.0s")
