"""The JUnit XML report (``--junit-xml PATH``): one test case per benchmark, for CI dashboards.

``<testsuites>`` holds one ``<testsuite name="pybench">``; each benchmark is a
``<testcase>`` whose ``classname`` is its file's path (relative to the working
directory, else to PATH) with dots, whose ``name`` is the benchmark and whose
``time`` is its wall time. FAIL carries a ``<failure>`` holding the per-slot
table, ERROR an ``<error>`` holding the traceback (and the failing seed's captured
output in ``<system-out>`` and ``<system-err>``), NEW passes with a
``<system-out>`` saying the baseline was saved.

For ``pybench compare`` the suite's properties name the two revisions instead
of a baseline file; a benchmark only HEAD has passes (NEW, its ``<system-out>``
says so) and one only BASE has is ``<skipped>`` (GONE: nothing ran).

Text from user code is escaped by ``xml.etree``; characters XML 1.0 cannot
hold at all (most control characters) are replaced with U+FFFD.
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from ..engine.outcome import Outcome, Status
from . import RunInfo
from .terminal import format_table
from .text import display_path, early_stop, format_p, shape

__all__ = ["classname", "render", "xml_safe"]

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 forbids replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def classname(path: Path, root: Path) -> str:
    """``benchmarks.sub.bench_x`` for ``benchmarks/sub/bench_x.py``.

    The path is taken relative to the working directory, else to ``root``
    (PATH, or its folder when PATH is a file), else the file's name alone.
    """
    path = path.resolve()
    base = root.resolve()
    if base.is_file() or base.suffix == ".py":
        base = base.parent
    relative = Path(path.name)
    for folder in (Path.cwd().resolve(), base):
        if path.is_relative_to(folder):
            relative = path.relative_to(folder)
            break
    return ".".join(relative.with_suffix("").parts)


def _set(element: ET.Element, **attributes: str) -> None:
    for key, value in attributes.items():
        element.set(key, xml_safe(value))


def _text(element: ET.Element, text: str) -> None:
    element.text = xml_safe(text)


def _failure_message(outcome: Outcome) -> str:
    result = outcome.comparison
    assert result is not None
    parts = [f"{result.n_flagged}/{result.n_slots} slots flagged"]
    if result.meta_p is not None:
        alpha = outcome.settings.alpha
        parts.append(f"meta-p={format_p(result.meta_p, alpha)} (alpha {alpha:g})")
    if outcome.family is not None:
        family = outcome.family
        parts.append(
            f"run-adjusted p={format_p(family.p_adj, family.alpha)} "
            f"(family-wise alpha {family.alpha:g} over {family.size} benchmarks)"
        )
    if result.diverged:
        n = len(result.diverged)
        parts.append(f"{n} slot{'s' * (n != 1)} diverged (non-finite values)")
    return ", ".join(parts)


def _case(parent: ET.Element, outcome: Outcome, info: RunInfo) -> None:
    case = ET.SubElement(parent, "testcase")
    _set(
        case,
        classname=classname(outcome.bench.path, info.path),
        name=outcome.name,
        time=f"{outcome.timings.wall:.3f}",
        file=display_path(outcome.bench.path),
    )
    if outcome.status is Status.FAIL:
        failure = ET.SubElement(case, "failure")
        _set(failure, message=_failure_message(outcome), type="regression")
        assert outcome.comparison is not None
        _text(failure, "\n".join(format_table(outcome.comparison, outcome.settings.alpha)))
    elif outcome.status is Status.ERROR:
        assert outcome.error is not None
        error = ET.SubElement(case, "error")
        _set(error, message=outcome.error.message, type="error")
        _text(error, outcome.error.traceback or outcome.error.message)
        for tag, captured in (
            ("system-out", outcome.error.stdout),
            ("system-err", outcome.error.stderr),
        ):
            if captured:  # what the failing seed printed, as pytest reports it
                _text(ET.SubElement(case, tag), captured)
    elif outcome.status is Status.GONE:
        _set(ET.SubElement(case, "skipped"), message=outcome.note or "not run")
    elif outcome.status is Status.NEW:
        if outcome.note is not None or info.baseline is None:
            note = outcome.note or "nothing saved"
        else:
            verb = "updated" if outcome.replaces else "saved"
            note = f"baseline {verb} in {display_path(info.baseline)}"
        out = ET.SubElement(case, "system-out")
        _text(out, f"{shape(outcome.slots)} on {len(outcome.seeds)} seeds: {note}")
    else:
        result = outcome.comparison
        assert result is not None
        alpha = outcome.settings.alpha
        meta = "" if result.meta_p is None else f" meta-p={format_p(result.meta_p, alpha)}"
        out = ET.SubElement(case, "system-out")
        _text(out, f"{result.n_flagged}/{result.n_slots} slots flagged{meta}")
    stopped = early_stop(outcome)
    if stopped is not None:
        found = case.find("system-out")
        if found is None:
            _text(ET.SubElement(case, "system-out"), stopped)
        else:
            _text(found, f"{found.text}; {stopped}")


def _provenance(info: RunInfo) -> dict[str, str]:
    """The suite's properties: what the run compared against, and where."""
    provenance = {}
    if info.baseline is not None:
        provenance["baseline"] = display_path(info.baseline)
    provenance["path"] = display_path(info.path)
    if info.baseline is not None:
        provenance["strict"] = str(info.strict).lower()
    for side, revision in zip(("base", "head"), info.revisions or (), strict=False):
        provenance[side] = revision.label
        if revision.commit is not None:
            provenance[f"{side}_commit"] = revision.commit
        if not revision.is_checkout:
            provenance[f"{side}_dirty"] = str(bool(revision.dirty)).lower()
    if info.git is not None and info.git.commit is not None:
        provenance["git_commit"] = info.git.commit
        provenance["git_dirty"] = str(info.git.dirty).lower()
    return provenance


def render(outcomes: Sequence[Outcome], info: RunInfo) -> str:
    """The report as a JUnit XML document (UTF-8, with an XML declaration)."""
    failures = sum(o.status is Status.FAIL for o in outcomes)
    errors = sum(o.status is Status.ERROR for o in outcomes) + (1 if info.error else 0)
    skipped = sum(o.status is Status.GONE for o in outcomes)
    tests = len(outcomes) + (1 if info.error else 0)
    counts = {
        "tests": str(tests),
        "failures": str(failures),
        "errors": str(errors),
        "skipped": str(skipped),
        "time": f"{info.elapsed:.3f}",
    }
    root = ET.Element("testsuites")
    _set(root, name="pybench", **counts)
    suite = ET.SubElement(root, "testsuite")
    _set(suite, name="pybench", **counts, timestamp=info.started, hostname=socket.gethostname())
    properties = ET.SubElement(suite, "properties")
    for key, value in _provenance(info).items():
        _set(ET.SubElement(properties, "property"), name=key, value=value)
    if info.error:
        case = ET.SubElement(suite, "testcase")
        _set(case, classname="pybench", name="pybench", time="0.000")
        error = ET.SubElement(case, "error")
        _set(error, message=info.error, type="error")
        _text(error, info.error)
    for outcome in outcomes:
        _case(suite, outcome, info)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
