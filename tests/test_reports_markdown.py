"""The Markdown report: tables that stay intact whatever the names and messages hold."""

from __future__ import annotations

import dataclasses

import pytest
from markdown_it import MarkdownIt

from pybench.reports import markdown

from .conftest import NASTY_METRIC

COLUMNS = ["benchmark", "status", "slots flagged", "meta-p", "worst slot", "Δ", "time"]


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


def _text(inline) -> str:
    """A cell's text as a reader sees it (``<br>`` read as a line break)."""
    parts = []
    for child in inline.children:
        if child.type == "html_inline" and child.content == "<br>":
            parts.append("\n")
        elif child.type in ("text", "code_inline", "html_inline"):
            parts.append(child.content)
        else:
            assert child.type == "softbreak", child.type
            parts.append("\n")
    return "".join(parts)


def _tables(source: str) -> list[list[list[str]]]:
    """Every table in ``source``: rows of cell texts, the header row first."""
    tables: list[list[list[str]]] = []
    tokens = _parser().parse(source)
    for i, token in enumerate(tokens):
        if token.type == "table_open":
            tables.append([])
        elif token.type == "tr_open":
            tables[-1].append([])
        elif token.type == "inline" and tokens[i - 1].type in ("th_open", "td_open"):
            tables[-1][-1].append(_text(token))
    return tables


def test_summary_table_has_one_intact_row_per_benchmark(zoo):
    source = markdown.render(zoo.outcomes, zoo.info)
    summary, *details = _tables(source)
    assert summary[0] == COLUMNS
    rows = {row[0]: row for row in summary[1:]}
    assert len(summary) == 1 + len(zoo.outcomes) and set(rows) == {o.name for o in zoo.outcomes}
    assert all(len(row) == len(COLUMNS) for row in summary)
    fail = rows["bench_fail"]
    assert fail[1].endswith("FAIL") and fail[2] == "2/2"
    assert fail[3] == f"{zoo.by_name('bench_fail').comparison.meta_p:.3f}"
    # the worst slot: the largest relative drop among the flagged ones
    slots = zoo.by_name("bench_fail").comparison.stats.slots
    worst = min((s for s in slots if s.flagged), key=lambda s: s.effect_size)
    assert fail[4] == f"{worst.metric} @ step {worst.step}"
    assert fail[5] == f"{worst.effect_size * 100:+.1f}%"
    assert rows["bench_diverged"][4] == "acc @ step 0" and rows["bench_diverged"][5] == "diverged"
    assert rows["bench_pass"][1].endswith("PASS") and rows["bench_pass"][3] == "1.000"
    assert rows["bench_new"][1].endswith("NEW") and rows["bench_new"][3] == "—"
    assert rows["bench_error"][1].endswith("ERROR")
    assert rows["bench_pass"][6] == f"{zoo.by_name('bench_pass').timings.wall:.2f}s"
    # a <details> table for each FAIL, none for PASS or NEW
    assert len(details) == 2
    assert source.count("<details>") == 3  # two FAILs and the ERROR


def test_fail_details_hold_the_per_slot_table(zoo):
    source = markdown.render(zoo.outcomes, zoo.info)
    _, fail_table, diverged_table = _tables(source)[:3]
    header = [
        "metric", "step", "baseline", "current", "Δ", "p (t-test)", "p_adj (flips, family-wise)",
        "Δ 95% CI",
    ]  # fmt: skip
    assert fail_table[0] == header
    assert all(len(row) == len(header) for table in (fail_table, diverged_table) for row in table)
    assert [row[0] for row in fail_table[1:]] == [NASTY_METRIC, "min:loss"]
    assert all(row[5].endswith("✗") for row in fail_table[1:])
    assert all(row[7].startswith("[-") and row[7].endswith("%]") for row in fail_table[1:])
    assert diverged_table[1][3] == "non-finite" and "diverged on" in diverged_table[1][7]


def test_error_details_keep_the_traceback_verbatim(zoo):
    tokens = _parser().parse(markdown.render(zoo.outcomes, zoo.info))
    fences = [t.content for t in tokens if t.type == "fence"]
    [traceback] = fences
    # verbatim but for control characters, which become visible stand-ins (␛, ␀)
    assert "line one\nline | two <b> & ]]> `tick` ␛[31mred␀" in traceback
    assert "\x1b" not in traceback
    assert traceback.startswith("Traceback (most recent call last)")


@pytest.mark.parametrize(
    "text",
    [
        "acc|top<1>",
        "a\\|b",
        "line one\nline | two",
        "crlf\r\nnext",
        "`tick` and ``double``",
        "<b>bold</b> & &amp; ]]>",
        "*stars* _under_ __dunder__ [link](http://x) ~~gone~~",
        "bench_snake_case",
        "  padded  ",
    ],
)
def test_any_text_is_one_literal_cell(text):
    source = f"| a | b |\n|--|--|\n| {markdown.cell(text)} | end |\n"
    [[header, row]] = _tables(source)
    assert header == ["a", "b"]
    assert row == [text.strip().replace("\r\n", "\n"), "end"]
    html = _parser().render(source)
    for tag in ("<em>", "<strong>", "<a ", "<b>", "<code>"):
        assert tag not in html


def test_names_are_readable_in_the_source():
    assert markdown.cell("bench_snake_case") == "bench_snake_case"
    assert markdown.cell("min:loss") == "min:loss"


def test_a_run_stopped_before_any_verdict_says_why(zoo):
    info = dataclasses.replace(zoo.info, error="--bench x|y: no such <benchmark>")
    source = markdown.render([], info)
    assert _tables(source) == []
    assert "--bench x|y: no such <benchmark>" in _parser().render(source).replace(
        "&lt;", "<"
    ).replace("&gt;", ">")


def test_update_runs_count_updated_baselines(zoo):
    info = dataclasses.replace(zoo.info, command="update")
    first = markdown.render([zoo.by_name("bench_new")], info).splitlines()[0]
    assert first.startswith("### pybench: 1 updated in ")


def test_a_compare_names_both_revisions_and_the_one_sided_benchmarks(compare_zoo):
    source = markdown.render(compare_zoo.outcomes, compare_zoo.info)
    lines = source.splitlines()
    assert (
        lines[0]
        == "### pybench: 2 failed, 1 passed, 1 only in HEAD, 1 only in BASE, 1 error in 1.5s"
    )
    assert lines[2] == (
        "Base <code>main (aaaaaaa)</code> → head <code>working tree (bbbbbbb, dirty)</code>."
    )
    table = _tables(source)[0]  # then the FAIL details
    statuses = {row[0]: row[1] for row in table[1:]}
    assert statuses["bench_new"] == "🆕 NEW (only in HEAD; nothing to compare)"
    assert statuses["bench_gone"] == "➖ GONE (only in BASE; nothing to compare)"
    assert statuses["bench_pass"] == "✅ PASS"
    unresolved = dataclasses.replace(compare_zoo.info, revisions=None, error="unknown revision")
    assert "Comparing two revisions of <code>benchmarks</code>" in markdown.render([], unresolved)
