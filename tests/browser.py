"""Headless Chromium for the tests that look at a page as a person would."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium on PATH (install Debian's 'chromium' package; .ci/run does)",
)


@dataclass
class Watched:
    """A page, and what it reported: script errors and requests that left the file."""

    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@contextlib.contextmanager
def watched_page() -> Iterator[Watched]:
    """A fresh page in headless Chromium that records console errors, page errors and every
    request to anything but a ``file:`` or ``data:`` address."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            watched = Watched(page)
            page.on("console", lambda m: _console(watched, m))
            page.on("pageerror", lambda exc: watched.errors.append(str(exc)))
            page.on("request", lambda r: _request(watched, r.url))
            yield watched
        finally:
            browser.close()


def _console(watched: Watched, message: Any) -> None:
    if message.type == "error":
        watched.errors.append(message.text)


def _request(watched: Watched, url: str) -> None:
    if not url.startswith(("file:", "data:")):
        watched.requests.append(url)
