"""Reports: renderings of a run's outcomes, for people (terminal) and for machines (JSON, JUnit
XML, Markdown).

Every report reads the same :class:`pybench.session.Outcome` values plus a
:class:`RunInfo` describing the run; none re-runs or re-judges anything.
:func:`write_all` writes the files a command line asked for.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import PybenchError

if TYPE_CHECKING:
    from ..core.provenance import GitState, Revision
    from ..engine.outcome import Outcome

__all__ = ["ReportError", "RunInfo", "write_all", "write_text"]

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
"""The environment variable naming GitHub Actions' job-summary file; the Markdown is appended."""


def _utc_now() -> str:
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ReportError(PybenchError):
    """A report file that cannot be written."""


@dataclass(frozen=True)
class RunInfo:
    """What the reports say about the run as a whole."""

    command: str
    """``run``, ``update`` or ``compare``."""
    path: Path
    """The PATH benchmarks were collected from."""
    baseline: Path | None
    """The baseline file used; ``None`` for ``compare`` (BASE takes its place)."""
    n_records: int = 0
    """How many records the baseline file held when the run started."""
    strict: bool = False
    """Whether ``--strict`` was on."""
    git: GitState | None = None
    """The working tree's state (``None`` when not read); for ``compare``, HEAD's commit
    and whether HEAD is the working tree with uncommitted changes."""
    started: str = field(default_factory=lambda: _utc_now())
    """When the run started (UTC, ISO 8601): by default, when this value was made."""
    elapsed: float = 0.0
    """Seconds the run took."""
    error: str | None = None
    """The one-line error that stopped the run before any verdict, if any."""
    revisions: tuple[Revision, Revision] | None = None
    """``compare``: the ``(base, head)`` revisions (``None`` until they are resolved)."""
    bench_from: Revision | None = None
    """``compare --bench-from``: where both sides took the benchmark files from."""

    @property
    def compare(self) -> bool:
        """Whether the run is a ``pybench compare`` of two revisions."""
        return self.command == "compare"


def write_text(target: str | Path, text: str, *, what: str, append: bool = False) -> None:
    """Write ``text`` to ``target`` (``-``: stdout), creating missing folders.

    Raises:
        ReportError: naming the report and the file when it cannot be written.
    """
    if str(target) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a" if append else "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    except OSError as exc:
        raise ReportError(
            f"{path}: cannot write the {what} ({exc.strerror or exc}); choose another path"
        ) from None


def write_all(
    outcomes: Sequence[Outcome],
    info: RunInfo,
    *,
    json_path: str | Path | None = None,
    junit_path: str | Path | None = None,
    markdown_path: str | Path | None = None,
    html_path: str | Path | None = None,
    environ: Mapping[str, str] = os.environ,
) -> None:
    """Write every report asked for: ``--json`` (``-`` for stdout), ``--junit-xml``,
    ``--markdown``, ``--html``, and the Markdown appended to ``$GITHUB_STEP_SUMMARY``
    when it is set.

    Raises:
        ReportError: when a report file cannot be written.
    """
    writes: list[tuple[str | Path, str, str, bool]] = []  # target, what, text, append
    if json_path is not None:
        from . import json as json_report

        writes.append((json_path, "JSON report", json_report.render(outcomes, info), False))
    if junit_path is not None:
        from . import junit

        writes.append((junit_path, "JUnit XML report", junit.render(outcomes, info), False))
    summary = environ.get(STEP_SUMMARY_ENV)
    if markdown_path is not None or summary:
        from . import markdown

        text = markdown.render(outcomes, info)
        if markdown_path is not None:
            writes.append((markdown_path, "Markdown report", text, False))
        if summary:
            writes.append((summary, f"${STEP_SUMMARY_ENV} summary", text, True))
    if html_path is not None:
        from . import json as json_report

        page = html_page(json_report.document(outcomes, info), info.baseline)
        writes.append((html_path, "HTML report", page, False))
    for target, what, text, append in writes:
        write_text(target, text, what=what, append=append)


def html_page(document: Mapping[str, Any], baseline: Path | None) -> str:
    """The HTML report of a JSON ``document``, with the history of the ``baseline`` file.

    Raises:
        pybench.reports.html.HtmlError: if matplotlib is missing or the document is
            not a run report.
    """
    from ..sources.git import history
    from . import html

    entries = history(baseline) if baseline is not None and baseline.exists() else None
    names = [bench.get("name") for bench in document.get("benchmarks") or []]
    series = {name: html.history_series(entries, name) for name in names} if entries else {}
    return html.render(document, series)
