"""Reports end to end: preflight, resilience, provenance, order, one number format, safety."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import time
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybench.reports import ReportError
from pybench.reports import html as html_report
from pybench.reports import json as json_report
from pybench.reports.validate import first_error
from pybench.storage.journal import FORMAT

CURVES = """
    import os

    def bench_a(seed, *, n_seeds=12):
        return {"acc": 0.9 + (seed % 7) / 100}

    def bench_z(seed, *, n_seeds=12):
        bump = float(os.environ.get("BUMP", 0))
        return [{"step": s, "min:loss": 1.0 / s + (seed % 5) / 50 + (bump if s == 3 else 0)}
                for s in (1, 2, 3)]
"""


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip()


def test_preflight_refuses_html_without_matplotlib_before_any_seed(
    project, write_bench, cli, monkeypatch
):
    write_bench("def bench_x(seed, *, n_seeds=8):\n    open(f'ran-{seed}', 'w')\n    return 1.0\n")
    real = __import__("importlib.util").util.find_spec
    monkeypatch.setattr(
        "importlib.util.find_spec", lambda name, *a: None if name == "matplotlib" else real(name)
    )
    result = cli("benchmarks", "--html", "r.html", "--json", "r.json")
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert "--html needs matplotlib" in line and "'html' extra" in line and "pip install" in line
    assert not list(project.glob("ran-*")) and not Path("r.json").exists()


def test_preflight_names_uv_in_a_uv_project(project, monkeypatch):
    from pybench.reports.preflight import install_command

    (project / "pyproject.toml").write_text('[project]\nname = "mine"\n')
    (project / "uv.lock").write_text("")
    assert install_command("html").startswith("uv add ") and "--extra html" in install_command(
        "html"
    )


@pytest.mark.parametrize("where", ["folder", "baseline"])
def test_preflight_refuses_an_unwritable_or_own_path(project, write_bench, cli, where):
    write_bench("def bench_x(seed):\n    open(f'ran-{seed}', 'w')\n    return 1.0\n")
    target = "benchmarks" if where == "folder" else ".pybench/baselines.jsonl"
    result = cli("benchmarks", "--json", target)
    assert result.exit_code == 2 and result.stderr.startswith("error: --json")
    assert not list(project.glob("ran-*"))


def test_every_other_report_is_written_when_the_html_fails(project, write_bench, cli, monkeypatch):
    write_bench(CURVES)
    assert cli("benchmarks", "--seed", "1").exit_code == 0

    def broken(document):
        raise html_report.HtmlError("the page could not be drawn")

    monkeypatch.setattr(html_report, "render", broken)
    result = cli("benchmarks", "--html", "r.html", "--json", "r.json", "--junit-xml", "r.xml",
                 "--markdown", "r.md")  # fmt: skip
    assert result.exit_code == 2 and "the page could not be drawn" in result.stderr
    assert all(Path(name).stat().st_size > 100 for name in ("r.json", "r.xml", "r.md"))
    assert not Path("r.html").exists()


def _regressed_run(project, write_bench, cli, monkeypatch, *extra: str):
    write_bench(CURVES)
    _git(project, "init", "-q")
    _git(project, "add", ".")
    _git(project, "commit", "-qm", "benchmarks")
    made = _git(project, "rev-parse", "--short", "HEAD")  # the code the baseline was made with
    assert cli("benchmarks", "--seed", "1").exit_code == 0
    _git(project, "add", ".")
    _git(project, "commit", "-qm", "baseline")
    (project / "notes.txt").write_text("x")
    _git(project, "add", ".")
    _git(project, "commit", "-qm", "later")
    monkeypatch.setenv("BUMP", "0.5")
    result = cli("benchmarks", "-v", "--alpha", "0.001", "--markdown", "r.md", "--html", "r.html",
                 "--json", "r.json", *extra)  # fmt: skip
    assert result.exit_code == 1, result.output
    return result, made, _git(project, "rev-parse", "--short", "HEAD")


def test_headers_order_and_one_p_string(project, write_bench, cli, monkeypatch):
    result, made, now = _regressed_run(project, write_bench, cli, monkeypatch)
    markdown, page = Path("r.md").read_text(), Path("r.html").read_text()
    # the baseline's own commit, and separately this run's
    assert f"made at commit <code>{made}</code>" in markdown
    assert f"This run: commit <code>{now}</code>" in markdown
    assert f"made at commit {made} on " in page and f"This run: commit {now}." in page
    assert made != now
    # FAIL first in the overview and the cards, each row linking to its card
    assert re.findall(r'<a href="#(\w+)">', page) == ["bench_z", "bench_a"]
    assert re.findall(r'<section class="bench" id="(\w+)"', page) == ["bench_z", "bench_a"]
    # the same p-value string everywhere (alpha 0.001: significant digits)
    meta = re.search(r"meta-p=(\S+)", result.stdout).group(1)
    assert meta not in ("0.000", "0") and f"meta-p={meta}" in page and f"| {meta} |" in markdown
    row = next(line for line in result.stdout.splitlines() if re.match(r"min:loss +3 ", line))
    p_value = row.split()[5]
    assert f"<td>{p_value}</td>" in page and f"| {p_value} ✗ |" in markdown


def test_report_command_renders_the_history_from_the_json_without_git(
    project, write_bench, cli, monkeypatch
):
    _regressed_run(project, write_bench, cli, monkeypatch)
    doc = json.loads(Path("r.json").read_text())
    bench = next(b for b in doc["benchmarks"] if b["name"] == "bench_z")
    assert [c["subject"] for c in bench["history"]["commits"]] == ["baseline"]
    commits = [{**bench["history"]["commits"][0], "commit": f"c{i}"} for i in range(3)]
    bench["history"] = {"commits": commits, "slots": [
        {"step": 3, "metric": "min:loss", "means": [0.5, 0.4, 0.45]}]}  # fmt: skip
    bench["baseline_made"]["commit"] = "from-json"
    Path("crafted.json").write_text(json.dumps(doc))

    def no_git(*args, **kwargs):
        raise AssertionError("pybench report ran a subprocess")

    monkeypatch.setattr(subprocess, "run", no_git)
    monkeypatch.setattr(subprocess, "Popen", no_git)
    result = cli("report", "crafted.json", "--html", "again.html")
    assert result.exit_code == 0, result.output
    page = Path("again.html").read_text()
    assert page.count('data-plot="history"') == 1 and "from-json" in page


def _crafted() -> dict:
    """A valid compare-free document with fields a hostile file could fill with markup."""
    return {
        "format": 1, "pybench": "0", "command": "run", "started": None, "elapsed": 1.0,
        "path": "p", "baseline": {"path": "b", "records": 1}, "strict": False,
        "git": {"commit": None, "dirty": None}, "exit_code": 1, "error": None,
        "counts": {"NEW": 0, "PASS": 0, "FAIL": 1, "ERROR": 0},
        "benchmarks": [{
            "name": "bench_x", "status": "FAIL", "file": "f.py",
            "settings": {"n_seeds": 2, "alpha": 0.05, "min_effect": None, "workers": 1,
                         "gpus": None, "env": []},
            "n_seeds": 2, "seeds": [1, 2], "time": {"wall": 1.0, "per_seed": None},
            "n_slots": 1, "n_flagged": 1, "n_flagged_adj": 1, "severity": 1.0, "meta_p": 0.01,
            "t_crit": -2.0, "n_perm": 4, "exact": True, "improvement_severity": 0.0,
            "improvement_p": 1.0, "improved": False, "n_improved": 0, "saved": False,
            "replaced": False, "error": None, "warnings": [], "reused": 0, "dask": None,
            "adaptive": {"seeds_run": 1, "seeds_stored": 2, "stopped_at_look": 1,
                         "stop_reason": "regression", "look_alpha": 0.01},
            "slots": [],
        }],
    }  # fmt: skip


INJECTED = '<meta http-equiv="refresh" content="0;url=https://example.org"><form action=x>'


@pytest.mark.parametrize(
    "field", ["n_flagged", "n_slots", "meta_p", "seeds_run", "stopped_at_look", "count", "wall"]
)
def test_crafted_fields_are_refused_by_report_and_escaped_by_the_page(project, cli, field):
    doc = _crafted()
    bench = doc["benchmarks"][0]
    target = {"seeds_run": bench["adaptive"], "stopped_at_look": bench["adaptive"],
              "count": doc["counts"], "wall": bench["time"]}.get(field, bench)  # fmt: skip
    target["FAIL" if field == "count" else field] = INJECTED
    Path("crafted.json").write_text(json.dumps(doc))
    result = cli("report", "crafted.json", "--html", "x.html")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "not a pybench run report" in result.stderr and not Path("x.html").exists()
    page = html_report.render(doc)  # even rendered directly, nothing is markup
    assert "<meta http-equiv=\"refresh\"" not in page and "<form" not in page


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
                    max_leaves=30))  # fmt: skip
def test_report_files_give_a_valid_document_or_one_line(tmp_path, value):
    path = tmp_path / "fuzz.json"
    path.write_text(json.dumps(value))
    try:
        doc = json_report.load(path)
    except ReportError as exc:
        assert "\n" not in str(exc)
    else:
        jsonschema.validate(doc, json_report.schema())


def test_the_validator_agrees_with_jsonschema():
    schema = json_report.schema()
    base = _crafted()
    mutations = [
        ("/", lambda d: d.pop("counts")),
        ("exit", lambda d: d.update(exit_code=7)),
        ("extra", lambda d: d.update(surprise=1)),
        ("bool", lambda d: d["benchmarks"][0].update(n_slots=True)),
        ("gone", lambda d: d["counts"].update(GONE=0)),
        ("fine", lambda d: None),
    ]
    for _, mutate in mutations:
        doc = copy.deepcopy(base)
        mutate(doc)
        expected = jsonschema.Draft202012Validator(schema).is_valid(doc)
        assert (first_error(doc, schema) is None) == expected, doc


def test_a_metric_name_that_is_not_unicode_text_is_a_clear_error(project, write_bench, cli):
    write_bench("def bench_x(seed, *, n_seeds=8):\n    return {'bad\\ud800name': 1.0}\n")
    result = cli("benchmarks", "--seed", "1", "--html", "r.html", "--markdown", "r.md")
    assert result.exit_code == 2
    assert "not valid Unicode text" in result.output and "Traceback" not in result.output
    assert "\ud800" not in Path("r.html").read_text() + Path("r.md").read_text()


@pytest.mark.parametrize("metric", ["$\\frac{a}{b}$ loss", "m" * 2000])
def test_strange_metric_names_render_everywhere(project, write_bench, cli, monkeypatch, metric):
    write_bench(
        "import os\n"
        f"M = {metric!r}\n"
        "def bench_x(seed, *, n_seeds=8):\n"
        "    return [{'step': s, M: s + (seed % 5) / 10 + float(os.environ.get('B', 0))}\n"
        "            for s in (1, 2)]\n"
    )
    assert cli("benchmarks", "--seed", "1").exit_code == 0
    monkeypatch.setenv("B", "-3")
    started = time.perf_counter()
    result = cli("benchmarks", "-v", "--html", "r.html", "--markdown", "r.md", "--json", "r.json")
    assert result.exit_code == 1, result.output
    assert time.perf_counter() - started < 30
    page, markdown = Path("r.html").read_text(), Path("r.md").read_text()
    assert len(page) < 1_000_000 and "\ud800" not in page + markdown
    if len(metric) == 2000:
        assert metric not in page and metric[:50] in page
        assert json.loads(Path("r.json").read_text())["benchmarks"][0]["slots"][0]["metric"] == (
            metric
        )


def test_control_characters_never_reach_the_terminal_or_markdown(project, write_bench, cli):
    write_bench(
        "def bench_x(seed, *, n_seeds=8):\n"
        "    return {'\\x1b]0;owned\\x07\\x1b[2Jacc': 1.0 + seed % 3}\n"
        "def bench_y(seed):\n"
        "    raise ValueError('\\x1b]8;;http://x\\x1b\\\\link\\x1b]8;;\\x1b\\\\')\n"
    )
    result = cli("benchmarks", "-v", "--markdown", "r.md")
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\x1b" not in Path("r.md").read_text()
    assert "␛]0;owned␇␛[2Jacc" in cli("show").stdout


def test_the_page_bounds_its_rows_and_says_what_it_left_out():
    doc = _crafted()
    bench = doc["benchmarks"][0]
    bench["adaptive"] = None
    rows = []
    for k in range(500):
        flagged = k in (7, 300)
        rows.append({"step": k, "metric": "acc", "direction": "higher", "delta": -0.5 if flagged
                     else 0.001 * k, "delta_reliable": True, "t": -9.0 if flagged else 1.0,
                     "p": 0.001 if flagged else 0.8, "flagged": flagged, "p_adj": 0.5,
                     "flagged_adj": False, "baseline_mean": 1.0, "current_mean": 1.0})  # fmt: skip
    bench.update(slots=rows, n_slots=500, n_flagged=2)
    page = html_report.render(doc)
    table = page.split("<table>")[1]
    assert table.count("<tr>") == html_report.MAX_ROWS + 1  # the header and MAX_ROWS slots
    first = re.findall(r"<tr><td>acc</td><td>(\d+)</td>", table)[:2]
    assert sorted(first) == ["300", "7"]  # flagged slots first
    assert f"{500 - html_report.MAX_ROWS} more slots not shown" in page


def test_show_history_is_a_bounded_table(project, write_bench, cli):
    metrics = ", ".join(f"'metric_{i}': seed % 3 + {i}" for i in range(12))
    write_bench(f"def bench_w(seed):\n    return [{{'step': s, {metrics}}} for s in range(5)]\n")
    _git(project, "init", "-q")
    assert cli("benchmarks").exit_code == 0
    _git(project, "add", ".")
    _git(project, "commit", "-qm", "first baseline with a long subject " + "x" * 80)
    lines = cli("show", "--history").stdout.splitlines()
    assert lines[0].startswith("bench_w  (+56 more slots; -v shows all)")
    assert max(len(line) for line in lines) <= 140
    wide = cli("show", "--history", "-v").stdout.splitlines()
    assert "metric_11@4" in wide[1] and "more slots" not in wide[0]


def test_a_curve_may_be_a_dict_of_steps(project, write_bench, cli):
    write_bench("def bench_d(seed):\n    return {1: {'min:loss': 0.9}, 10: {'min:loss': 0.3}}\n")
    result = cli("benchmarks")
    assert result.exit_code == 0 and "NEW 1 metrics × 2 steps" in result.stdout


def test_resume_says_why_a_journal_was_not_used(project, write_bench, cli):
    path = write_bench("def bench_r(seed, *, n_seeds=6):\n    return 1.0 + seed % 3\n")
    journal = project / ".pybench" / "journal"
    journal.mkdir(parents=True)
    header = {"journal": FORMAT, "bench": "bench_r", "fingerprint": "old code", "seeds": [1, 2]}
    (journal / "bench_r.jsonl").write_text(json.dumps(header) + "\n")
    path.write_text(path.read_text() + "\n# edited\n")
    result = cli("benchmarks", "--resume")
    assert "--resume did not use the journal: the code changed" in result.stderr


def test_markdown_tables_are_bounded_worst_first(tmp_path):
    import numpy as np

    from pybench.core.benchmark import Benchmark
    from pybench.core.settings import Settings
    from pybench.engine.outcome import Outcome, Status
    from pybench.judging.verdict import Criteria, Paired, compare_run
    from pybench.reports import RunInfo, markdown

    rng = np.random.default_rng(1)
    slots = [(s, "acc") for s in range(300)]
    base = rng.normal(1.0, 0.1, size=(12, 300))
    cur = base + rng.normal(0.0, 0.01, size=base.shape)
    cur[:, 250] -= 0.5  # the one regressed slot, far down the table
    result = compare_run(Paired(slots, list(range(12)), base, cur), Criteria(0.05))
    bench = Benchmark("bench_w", tmp_path / "b.py", lambda s: 0.0, Settings())
    outcome = Outcome(Status.FAIL, bench, Settings(), tuple(range(12)), tuple(slots), cur, base,
                      result)  # fmt: skip
    text = markdown.render([outcome], RunInfo("run", tmp_path, tmp_path / "b.jsonl"))
    rows = [line for line in text.splitlines() if line.startswith("| acc |")]
    assert len(rows) == markdown.MAX_ROWS and any(row.startswith("| acc | 250 |") for row in rows)
    assert f"{300 - markdown.MAX_ROWS} more slots not shown" in text
