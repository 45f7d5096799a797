"""The JUnit XML report: well-formed whatever user code says, one test case per benchmark."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Skipped

from pybench.reports import junit

from .conftest import NASTY_MESSAGE, NASTY_METRIC


def _parse(tmp_path: Path, text: str) -> JUnitXml:
    path = tmp_path / "report.xml"
    path.write_text(text, encoding="utf-8")
    return JUnitXml.fromfile(str(path))


def _cases(xml: JUnitXml) -> dict:
    [suite] = list(xml)
    return {case.name: case for case in suite}


def test_counts_and_one_case_per_benchmark(zoo, tmp_path):
    xml = _parse(tmp_path, junit.render(zoo.outcomes, zoo.info))
    [suite] = list(xml)
    assert suite.name == "pybench"
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (5, 2, 1, 0)
    cases = _cases(xml)
    assert set(cases) == {o.name for o in zoo.outcomes}
    for outcome in zoo.outcomes:
        case = cases[outcome.name]
        assert case.classname == "benchmarks.sub.bench_zoo"
        assert abs(case.time - outcome.timings.wall) < 1e-3


def test_outcomes_map_to_results(zoo, tmp_path):
    cases = _cases(_parse(tmp_path, junit.render(zoo.outcomes, zoo.info)))
    assert cases["bench_pass"].is_passed and cases["bench_new"].is_passed
    assert "baseline saved" in cases["bench_new"].system_out
    [failure] = cases["bench_fail"].result
    assert isinstance(failure, Failure)
    assert failure.message.startswith("2/2 slots flagged, meta-p=")
    table = failure.text.splitlines()
    assert table[0].split() == ["metric", "step", "baseline", "current", "Δ", "p", "p_adj"] + [
        "Δ",
        "95%",
        "CI",
    ]
    assert table[1].startswith(NASTY_METRIC + " ") and " ✗ " in table[1]  # text intact
    [diverged] = cases["bench_diverged"].result
    assert isinstance(diverged, Failure) and "1 slot diverged" in diverged.message
    n_odd = sum(seed % 2 for seed in zoo.by_name("bench_diverged").seeds)
    assert f"diverged on {n_odd}/8 seeds" in diverged.text
    [error] = cases["bench_error"].result
    assert isinstance(error, Error)
    assert error.message.startswith("seed ") and "\n" not in error.message
    assert "Traceback (most recent call last)" in error.text


def test_user_text_is_escaped_and_forbidden_characters_are_replaced(zoo):
    text = junit.render(zoo.outcomes, zoo.info)
    root = ET.fromstring(text.encode("utf-8"))  # well-formed, or this raises
    error = root.find(".//testcase[@name='bench_error']/error")
    assert error is not None
    kept = NASTY_MESSAGE.replace("\x1b", "\ufffd").replace("\x00", "\ufffd")
    assert kept in error.text  # <, &, ]]>, | and the newline come back exactly
    assert "\x1b" not in text and "\x00" not in text
    failure = root.find(".//testcase[@name='bench_fail']/failure")
    assert NASTY_METRIC in failure.text


def test_xml_safe_replaces_exactly_the_forbidden_characters():
    allowed = "tab\tnewline\ncr\r é ✓ 😀 \ue000"
    assert junit.xml_safe(allowed) == allowed
    assert junit.xml_safe("a\x00b\x08c\x0bd\x1fe\ufffef") == "a\ufffdb\ufffdc\ufffdd\ufffde\ufffdf"


def test_classname_is_the_file_path_with_dots(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert junit.classname(tmp_path / "benchmarks" / "bench_a.py", tmp_path) == "benchmarks.bench_a"
    outside = tmp_path.parent / "elsewhere"
    path = outside / "sub" / "bench_b.py"
    assert junit.classname(path, outside) == "sub.bench_b"  # relative to PATH
    assert junit.classname(path, outside / "sub" / "bench_b.py") == "bench_b"


def test_a_run_stopped_before_any_verdict_is_one_error(zoo, tmp_path):
    info = dataclasses.replace(zoo.info, error="no/such/dir: no such file <or> folder")
    cases = _cases(_parse(tmp_path, junit.render([], info)))
    [error] = cases["pybench"].result
    assert isinstance(error, Error) and error.message == "no/such/dir: no such file <or> folder"


def test_a_compare_names_both_revisions_and_skips_what_head_removed(compare_zoo, tmp_path):
    xml = _parse(tmp_path, junit.render(compare_zoo.outcomes, compare_zoo.info))
    [suite] = list(xml)
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (6, 2, 1, 1)
    properties = {p.name: p.value for p in suite.properties()}
    assert properties == {
        "path": "benchmarks",
        "base": "main (aaaaaaa)",
        "base_commit": "a" * 40,
        "head": "working tree (bbbbbbb, dirty)",
        "head_commit": "b" * 40,
        "head_dirty": "true",
        "git_commit": "bbbbbbb",
        "git_dirty": "true",
    }
    cases = _cases(xml)
    [skipped] = cases["bench_gone"].result
    assert isinstance(skipped, Skipped) and skipped.message == "only in BASE; nothing to compare"
    assert cases["bench_new"].is_passed
    assert cases["bench_new"].system_out == (
        "1 metrics × 1 steps on 8 seeds: only in HEAD; nothing to compare"
    )


def test_an_error_carries_the_seed_output(zoo, tmp_path):
    error = zoo.by_name("bench_error")
    noisy = dataclasses.replace(
        error,
        error=dataclasses.replace(error.error, stdout="epoch 1\n", stderr="UserWarning: lr\n"),
    )
    outcomes = [noisy if o is error else o for o in zoo.outcomes]
    root = ET.fromstring(junit.render(outcomes, zoo.info))
    case = next(c for c in root.iter("testcase") if c.get("name") == "bench_error")
    assert case.find("system-out").text == "epoch 1\n"
    assert case.find("system-err").text == "UserWarning: lr\n"
    clean = ET.fromstring(junit.render(zoo.outcomes, zoo.info))
    case = next(c for c in clean.iter("testcase") if c.get("name") == "bench_error")
    assert case.find("system-out") is None and case.find("system-err") is None
