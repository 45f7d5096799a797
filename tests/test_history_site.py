"""``pybench site``: static pages that escape what the store holds, checked in headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from pybench.history.site import page_name
from pybench.history.stores import open_store
from tests.browser import needs_chromium, watched_page
from tests.historydata import result, run_entry, step_history

EVIL = "bench_<img src=x onerror=alert(1)>"
SLOTS = ((1, "accuracy"), (10, "accuracy"), (10, "min:loss"))


@pytest.fixture
def site(tmp_path: Path, cli, project) -> Path:
    """A site of two benchmarks over 30 commits: a 4 % drop at commit 18, a new GPU from 24."""
    db = tmp_path / "history.db"
    with open_store(db) as store:
        for run in step_history(30, step_at=18, benches=("bench_a", "bench_b"), slots=SLOTS,
                                machine_at=24):
            store.append(run)
        store.append(run_entry(30, [result(EVIL, [(0, "m<b>")], np.ones((3, 1)))]))
    done = cli("site", str(tmp_path / "site"), "--history", str(db))
    assert done.exit_code == 0, done.output
    assert "site: " in done.stdout and "(3 benchmarks)" in done.stdout
    return tmp_path / "site"


def test_pages_are_self_contained_and_escape_the_store(site):
    index = (site / "index.html").read_text()
    pages = sorted(p.name for p in site.glob("*.html"))
    assert pages == sorted(["index.html", *(page_name(n) for n in ("bench_a", "bench_b", EVIL))])
    for name in pages:
        page = (site / name).read_text()
        assert "<script" not in page.lower()
        assert re.search(r"Content-Security-Policy\" content=\"default-src 'none'", page)
        assert not re.search(r"(src|href)=\"(?!data:|#|bench-|index\.html)", page)
        assert EVIL not in page
    assert EVIL not in index and "bench_&lt;img src=x onerror=alert(1)&gt;" in index
    evil_page = (site / page_name(EVIL)).read_text()
    assert "m&lt;b&gt;" in evil_page and "m<b>" not in evil_page
    a_page = (site / page_name("bench_a")).read_text()
    assert a_page.count('data-plot="metric:') == 2  # accuracy and min:loss
    assert "-4." in a_page and "(worse)" in a_page and "(better)" in a_page
    assert "NVIDIA H100" in a_page  # the second machine is listed


@needs_chromium
def test_the_site_works_offline_in_headless_chromium(site):
    loaded = 0
    with watched_page() as watched:
        page = watched.page
        page.goto((site / "index.html").as_uri())
        links = [a.get_attribute("href") for a in page.locator("td a").all()]
        assert len(links) == 3
        for target in [None, *links]:
            if target is not None:
                page.goto((site / "index.html").as_uri())
                page.click(f'a[href="{target}"]')
            page.wait_for_load_state("load")
            images = page.locator("img[data-plot]")
            assert images.count() >= 1
            for i in range(images.count()):
                size = images.nth(i).evaluate(
                    "img => [img.complete, img.naturalWidth, img.naturalHeight]"
                )
                assert size[0] and size[1] > 50 and size[2] > 20, size
                loaded += 1
    assert watched.errors == [] and watched.requests == []
    assert loaded == 3 + 2 + 2 + 1  # 3 thumbnails, 2 metric plots each for a and b, 1 for evil


def test_a_metric_name_with_dollars_is_drawn_as_text(tmp_path: Path, cli, project) -> None:
    db = tmp_path / "history.db"
    with open_store(db) as store:
        for run in step_history(6, step_at=3, benches=("bench_m",), slots=((0, "$x$ $$"),)):
            store.append(run)
    done = cli("site", str(tmp_path / "site"), "--history", str(db))
    assert done.exit_code == 0, done.output  # never parsed as mathtext
    assert "$x$ $$" in (tmp_path / "site" / page_name("bench_m")).read_text()


def test_an_unknown_url_scheme_is_refused_not_made_a_file(tmp_path: Path, monkeypatch) -> None:
    from pybench.history.stores import HistoryError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(HistoryError, match="unknown history URL scheme 'mysql'"):
        open_store("mysql://user:secret@host/db")
    assert list(tmp_path.iterdir()) == []
