"""The HTML report: self-contained, escaped, and checked in a real headless browser."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from pybench.reports import html as html_report
from tests.browser import needs_chromium, watched_page
from tests.conftest import SYNTHETIC

EVIL = "<img src=x onerror=alert(1)>"

MIXED = f"""
    import math
    import os

    def bench_curve(seed, *, n_seeds=10):
        bump = float(os.environ.get("BUMP", 0))
        out = []
        for step in (1, 5, 10):
            loss = 1.0 / step + (seed % 13) / 200
            if step == 10:
                loss += bump
            out.append({{"step": step, "min:loss": loss, {EVIL!r}: 0.5 + (seed % 7) / 100}})
        return out

    def bench_single(seed, *, n_seeds=10):
        value = 0.8 + (seed % 11) / 100
        if os.environ.get("NAN") and seed % 3 == 0:
            value = math.nan
        return {{"accuracy": value}}

    def bench_broken(seed, *, n_seeds=10):
        if os.environ.get("BREAK"):
            raise ValueError("broken <b>&</b> ]]> |")
        return 1.0
"""


def _run_json(cli, *args: str) -> dict:
    result = cli("benchmarks", "--json", "run.json", *args)
    assert result.exit_code in (0, 1, 2), result.output
    return json.loads(Path("run.json").read_text())


@pytest.fixture
def mixed_report(project, write_bench, cli, monkeypatch) -> Path:
    """A run with NEW → then FAIL (curve), diverged single-step slot and an ERROR, as HTML."""
    write_bench(MIXED)
    assert cli("benchmarks", "--seed", "1").exit_code == 0
    monkeypatch.setenv("BUMP", "0.3")
    monkeypatch.setenv("NAN", "1")
    monkeypatch.setenv("BREAK", "1")
    result = cli("benchmarks", "--html", "report.html", "--json", "run.json", "-v")
    assert result.exit_code == 2, result.output
    return project / "report.html"


def test_page_is_self_contained_and_escapes_user_data(mixed_report):
    page = mixed_report.read_text()
    assert "<script" not in page.lower()
    assert EVIL not in page and html_report.html.escape(EVIL) in page
    assert "broken &lt;b&gt;&amp;&lt;/b&gt; ]]&gt; |" in page
    assert re.search(r"Content-Security-Policy\" content=\"default-src 'none'", page)
    # nothing is fetched: every image is inline and no stylesheet or font is linked
    assert not re.search(r"(src|href)=\"(?!data:|#)", page)
    assert len(page.encode()) < 2_000_000
    figures = re.findall(r'<figure data-plot="([^"]+)"', page)
    assert "curves" in figures and "differences" in figures
    assert "diverged: step 0 &#x27;accuracy&#x27; non-finite" in page
    assert "FAIL" in page and "ERROR" in page


def test_report_command_renders_a_saved_json_report(project, write_bench, cli):
    write_bench(MIXED)
    assert cli("benchmarks", "--seed", "1").exit_code == 0
    doc = _run_json(cli)
    assert doc["benchmarks"][0]["slots"][0]["baseline_values"]
    result = cli("report", "run.json", "--html", "again.html")
    assert result.exit_code == 0, result.output
    page = Path("again.html").read_text()
    assert page.count("<section") == 3 and "PASS" in page


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"format": 1}',
        "[1, 2]",
        "[" * 100_000 + "]" * 100_000,
        '{"format": NaN}',
        '"\\ud800"',
        "",
    ],
)
def test_report_command_refuses_what_is_not_a_run_report(project, cli, text):
    Path("bad.json").write_text(text)
    result = cli("report", "bad.json", "--html", "x.html")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: bad.json") and result.stderr.count("\n") == 1
    assert not Path("x.html").exists()


# -- in a real browser ------------------------------------------------------------------
@needs_chromium
def test_report_renders_in_headless_chromium(project, cli, tmp_path, monkeypatch):
    shutil.copytree(SYNTHETIC, project / "benchmarks", dirs_exist_ok=True)
    assert cli("benchmarks", "--seed", "1").exit_code == 0
    monkeypatch.setenv("PYBENCH_SYNTHETIC_REGRESS", "local")
    result = cli("benchmarks", "--html", "report.html", "-v")
    assert result.exit_code == 1, result.output
    with watched_page() as watched:
        page = watched.page
        page.goto((project / "report.html").as_uri())
        page.wait_for_load_state("load")
        images = page.locator("figure img")
        assert images.count() >= 2
        for i in range(images.count()):
            image = images.nth(i)
            size = image.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]")
            assert size[0] and size[1] > 100 and size[2] > 100, size
            shot = tmp_path / f"plot{i}.png"
            image.screenshot(path=str(shot))
            assert _not_blank(shot), f"plot {i} is blank"
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert watched.errors == []
    assert watched.requests == []


def _not_blank(png: Path) -> bool:
    """Whether a screenshot holds more than one colour (a drawn plot, not an empty box)."""
    import matplotlib.image

    pixels = matplotlib.image.imread(str(png))
    return float(pixels[..., :3].std()) > 0.02


def test_a_compare_page_shows_base_and_head_in_place_of_a_baseline(compare_zoo):
    from pybench.reports import json as json_report

    doc = json_report.document(compare_zoo.outcomes, compare_zoo.info)
    page = html_report.render(doc)
    assert "base main (aaaaaaa) → head working tree (bbbbbbb, dirty)" in page
    assert "Baseline" not in page
    assert page.count("<th>base</th><th>head</th>") == 3  # the PASS and the two FAILs
    gone = re.search(r'<section class="bench" id="bench_gone">.*?</section>', page).group()
    assert "not run" in gone and "(only in BASE; nothing to compare)" in gone
    new = re.search(r'<section class="bench" id="bench_new">.*?</section>', page).group()
    assert "(only in HEAD; nothing to compare)" in new and "baseline saved" not in new
    unresolved = {**doc, "revisions": None, "benchmarks": [], "error": "unknown revision 'x'"}
    assert "<p class=\"meta\">compare</p>" in html_report.render(unresolved)
    assert "error: unknown revision &#x27;x&#x27;" in html_report.render(unresolved)


@needs_chromium
def test_crafted_fields_stay_text_in_chromium(tmp_path):
    from tests.test_reports_cli import INJECTED, _crafted

    doc = _crafted()
    bench = doc["benchmarks"][0]
    for key in ("n_flagged", "n_slots", "meta_p", "n_seeds"):
        bench[key] = INJECTED
    bench["adaptive"]["seeds_run"] = INJECTED
    doc["counts"]["FAIL"] = INJECTED
    path = tmp_path / "crafted.html"
    path.write_text(html_report.render(doc))
    with watched_page() as watched:
        page = watched.page
        page.goto(path.as_uri())
        page.wait_for_timeout(1500)  # a meta refresh with delay 0 would have fired
        assert page.url == path.as_uri()
        assert page.locator("form").count() == 0
        assert page.locator("meta[http-equiv=refresh]").count() == 0
