"""The committed outputs of docs/history.md still show what the page says about them.

``docs/history_site/make.py`` produces them by running pybench over 24 commits (half a
minute); these checks only read the files.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
PAGE = DOCS / "history.md"
SHOTS = ("history-site-index.png", "history-site-bench.png")


def test_the_page_is_in_the_toctree_and_includes_its_outputs():
    page = PAGE.read_text()
    assert "\nhistory\n" in (DOCS / "index.md").read_text()
    assert "```{literalinclude} _static/history/history.txt" in page
    for shot in SHOTS:
        assert f"```{{figure}} _static/{shot}" in page
    assert "uv run python docs/history_site/make.py" in page


def test_the_screenshots_are_real_images():
    for shot in SHOTS:
        data = (DOCS / "_static" / shot).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
        width, height = struct.unpack(">II", data[16:24])
        assert width >= 800 and height >= 300


def test_the_history_output_shows_the_drop_as_the_page_says():
    command, *lines = (DOCS / "_static" / "history" / "history.txt").read_text().splitlines()
    assert command == "$ pybench history"
    assert lines[0] == "bench_train" and lines[-1] == "1 benchmark, 6 slots, 6 change points"
    changes = [line for line in lines if line.startswith("    change at ")]
    assert len(changes) == 6 and len({line.split()[2] for line in changes}) == 1
    assert all("worse" in line for line in changes)
    trends = [line for line in lines if line.startswith("  ") and "commits" in line]
    assert all(re.search(r"│", line) and line.endswith("24 commits") for line in trends)
    assert "/tmp" not in "\n".join(lines)
