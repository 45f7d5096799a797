"""The committed outputs of docs/real-model.md still show what the page says about them.

``docs/real_model/lifecycle.py`` produces them by running pybench on the digits
example (minutes); these checks only read the files, so a regenerated output that
no longer matches the prose, or a page that no longer includes an output, fails here.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
PAGE = DOCS / "real-model.md"
OUTPUTS = DOCS / "_static" / "real-model"
SCREENSHOT = DOCS / "_static" / "real-model-report.png"
SCRIPT = DOCS / "real_model" / "lifecycle.py"
REGENERATE = "uv run python docs/real_model/lifecycle.py"
HEADER = ["metric", "step", "baseline", "current", "Δ", "p", "p_adj", "Δ 95% CI"]
SLOTS = [(m, s) for s in ("1", "5", "20") for m in ("accuracy", "min:loss")]


def _output(name: str) -> tuple[str, list[str]]:
    """The command (without ``$``) and the output lines of one step."""
    command, *lines = (OUTPUTS / f"{name}.txt").read_text().splitlines()
    assert command.startswith("$ pybench") or re.match(r"\$ [A-Z_]+=1 pybench", command)
    return command[2:], lines


def _table(lines: list[str]) -> list[list[str]]:
    """The rows of the ``-v`` table, split on its column gaps, after checking its header."""
    start = next(i for i, line in enumerate(lines) if line.startswith("metric "))
    assert re.split(r"\s{2,}", lines[start]) == HEADER
    rows = [re.split(r"\s{2,}", line) for line in lines[start + 1 : start + 1 + len(SLOTS)]]
    assert [(row[0], row[1]) for row in rows] == SLOTS
    assert all(len(row) == len(HEADER) for row in rows), rows
    assert lines[start + 1 + len(SLOTS)] == "sign flips: 4096 (Monte-Carlo)"
    return rows


def _mean(cell: str) -> float:
    return float(cell.split("±")[0])


def test_the_page_includes_every_output_and_is_in_the_toctree():
    page = PAGE.read_text()
    included = re.findall(r"```\{literalinclude\} _static/real-model/(\S+)", page)
    assert included == sorted(p.name for p in OUTPUTS.glob("*.txt"))
    assert "```{figure} _static/real-model-report.png" in page
    assert "\nreal-model\n" in (DOCS / "index.md").read_text()
    assert REGENERATE in page and REGENERATE in SCRIPT.read_text()


def test_outputs_read_as_run_in_the_project_folder():
    for path in OUTPUTS.glob("*.txt"):
        text = path.read_text()
        assert "/tmp" not in text and "pybench-real-model-" not in text, path.name
        assert "\x1b[" not in text and "Traceback" not in text, path.name


def test_baseline_is_new():
    command, lines = _output("01-baseline")
    assert command == "pybench --seed 1"
    assert lines[0] == "baseline: .pybench/baselines.jsonl (not created yet)"
    assert "NEW 2 metrics × 3 steps (baseline saved)" in lines[1]
    assert lines[-1].startswith("0 failed, 0 passed, 1 new in ")


def test_regression_fails_on_every_slot_with_the_table():
    command, lines = _output("02-regression")
    assert command.startswith("DIGITS_REGRESS=1 pybench -v") and "--html report.html" in command
    assert re.search(r"FAIL 2 metrics × 3 steps 6/6 slots flagged meta-p=0\.000$", lines[1])
    rows = _table(lines)
    for metric, step, _, _, delta, p, p_adj, interval in rows:
        assert p.endswith(" ✗") and p_adj.endswith(" ‼"), (metric, step)
        low, high = (float(x) for x in re.findall(r"[-+]\d+\.\d+", interval))
        assert low <= float(delta.rstrip("%")) <= high < 0
    loss_20 = rows[SLOTS.index(("min:loss", "20"))]
    # the page quotes these: the loss at epoch 20 rose from about 0.15 to 1.27, Δ below -700 %
    assert (loss_20[2][:4], loss_20[3][:4]) == ("0.15", "1.27")
    assert float(loss_20[4].rstrip("%")) < -700
    assert lines[-1].startswith("1 failed, 0 passed, 0 new in ")


def test_fix_passes_exactly():
    command, lines = _output("03-fixed")
    assert command == "pybench"
    assert re.search(r"PASS 2 metrics × 3 steps 0/6 slots flagged meta-p=1\.000$", lines[1])
    assert lines[-1].startswith("0 failed, 1 passed, 0 new in ")


def test_improvement_passes_with_the_note_that_suggests_update():
    command, lines = _output("04-improvement")
    assert command == "DIGITS_IMPROVE=1 pybench -v"
    assert "PASS 2 metrics × 3 steps 0/6 slots flagged" in lines[1]
    assert re.fullmatch(
        r"  improved: meta-p=0\.000, 6/6 slots better; raise the bar with "
        r"pybench update --bench bench_digits",
        lines[2],
    )
    rows = _table(lines)
    for metric, step, _, _, delta, p, _, interval in rows:
        assert p == "1.000" and delta.startswith("+"), (metric, step)
        assert float(re.findall(r"[-+]\d+\.\d+", interval)[0]) > 0
    # compared with the same stored baseline as the regression
    assert [row[2] for row in rows] == [row[2] for row in _table(_output("02-regression")[1])]


def test_update_saves_the_new_baseline():
    command, lines = _output("04-update")
    assert command.startswith("DIGITS_IMPROVE=1 pybench update --bench bench_digits --yes")
    assert "SAVED 2 metrics × 3 steps (baseline updated)" in lines[1]
    assert not any(line.startswith("warning:") for line in lines)  # a clean tree
    assert lines[-1].startswith("1 updated in ")


def _history() -> list[tuple[str, dict[str, float]]]:
    command, lines = _output("05-history")
    assert command == "pybench show --history"
    assert len(lines) == 2, lines
    parsed = []
    for line in lines:
        match = re.fullmatch(
            r"[0-9a-f]{7,}  \d{4}-\d\d-\d\d  (.+?)  \|  bench_digits\[n=30\] (.+)", line
        )
        assert match, line
        means = dict(pair.split("=") for pair in match[2].split())
        parsed.append((match[1], {slot: float(value) for slot, value in means.items()}))
    return parsed


def test_history_has_two_commits_and_the_bar_went_up():
    (newest, raised), (oldest, first) = _history()
    assert oldest == "Save the digits baseline"
    assert newest.startswith("Widen the digits model to 128 hidden units")
    assert raised["accuracy@20"] > first["accuracy@20"]
    assert raised["min:loss@20"] < first["min:loss@20"]


def test_first_baseline_in_history_is_the_one_the_regression_met():
    first = _history()[1][1]
    for metric, step, baseline, *_ in _table(_output("02-regression")[1]):
        # the table rounds to two decimals, the history to four significant digits
        assert abs(first[f"{metric}@{step}"] - _mean(baseline)) <= 0.0051, (metric, step)


def test_screenshot_is_a_real_png():
    data = SCREENSHOT.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1200 and 600 <= height <= 1400, (width, height)
    assert len(data) > 20_000  # a drawn page, not a blank one
