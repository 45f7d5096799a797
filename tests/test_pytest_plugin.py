"""The pytest plugin, driven through pytest itself (``pytester``): ``pytest --pybench``."""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

import pybench.engine.loop  # noqa: F401

# The stages a --pybench run imports, imported here first: an in-process pytester run
# drops the modules it imported when it ends, and numpy cannot be imported twice.
import pybench.execution.backends  # noqa: F401
import pybench.reports.terminal  # noqa: F401
import pybench.sources.git  # noqa: F401
from pybench import cli
from pybench import pytest_plugin as plugin
from pybench.app import prompts
from pybench.storage import store

pytest_plugins = ["pytester"]

MODEL = """
    import os

    def _noise(seed, k):
        return ((seed * 2654435761 + k * 40503) % 1000) / 1000

    def bench_accuracy(seed, *, n_seeds=8):
        drop = {"accuracy": 0.2, "improve": -0.2}.get(os.environ.get("REGRESS", ""), 0.0)
        return {"accuracy": 0.8 + 0.05 * _noise(seed, 1) - drop}

    def bench_loss(seed, *, n_seeds=8):
        loss = [1.0 + 0.1 * _noise(seed, s) for s in (1, 2, 3)]
        if os.environ.get("REGRESS") == "loss":
            loss[2] += 0.5
        if os.environ.get("DIVERGE"):
            loss[2] = float("nan")
        return [{"step": s, "min:loss": v} for s, v in zip((1, 2, 3), loss)]
"""

RAISING = """
    def _helper(seed):
        raise ValueError(f"exploded on {seed}")

    def bench_boom(seed, *, n_seeds=8):
        return _helper(seed)
"""


@pytest.fixture
def bench_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester folder (the working directory) with ``benchmarks/bench_model.py``."""
    for var in ("PYBENCH_SEED", "PYBENCH_DASK", "REGRESS", "DIVERGE"):
        monkeypatch.delenv(var, raising=False)
    # hypothesis's plugin re-imports hypothesis in every in-process run: seconds each
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest -p no:cacheprovider")
    write(pytester, "benchmarks/bench_model.py", MODEL)
    return pytester


def write(pytester: pytest.Pytester, name: str, source: str) -> Path:
    path = pytester.path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def baseline(pytester: pytest.Pytester) -> Path:
    return pytester.path / ".pybench" / "baselines.jsonl"


def junit(pytester: pytest.Pytester, *args: str) -> dict[str, ET.Element]:
    """Run ``pytest --pybench`` with ``--junitxml`` and return the testcases by name."""
    xml = pytester.path / "report.xml"
    pytester.runpytest("--pybench", f"--junitxml={xml}", *args)
    return {case.get("name"): case for case in ET.parse(xml).iter("testcase")}


def properties(case: ET.Element) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in case.iter("property")}


# -- activation -----------------------------------------------------------------
def test_the_plugin_is_registered_but_inactive_in_this_test_run(request):
    assert request.config.pluginmanager.has_plugin("pybench")
    assert plugin._STASH not in request.config.stash
    assert not any(isinstance(item, plugin.BenchItem) for item in request.session.items)


def test_without_pybench_nothing_is_collected_or_imported(bench_project):
    write(bench_project, "benchmarks/bench_broken.py", "raise ImportError('imported anyway')\n")
    write(bench_project, "tests/test_ok.py", "def test_ok():\n    assert True\n")
    result = bench_project.runpytest()
    result.assert_outcomes(passed=1)
    explicit = bench_project.runpytest("benchmarks")
    assert explicit.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert "imported anyway" not in explicit.stdout.str()
    assert not baseline(bench_project).exists()


def test_pybench_flags_need_pybench(bench_project):
    result = bench_project.runpytest("--pybench-update")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--pybench-update only applies with --pybench" in result.stderr.str()


def test_loading_the_plugin_imports_nothing_heavy(pytester):
    """A fresh interpreter, the plugin found through its entry point: no numpy, rich or stages."""
    pytester.makeconftest(
        """
        import json, sys
        def pytest_unconfigure(config):
            names = sorted(m for m in sys.modules if m.split(".")[0] in
                           ("pybench", "numpy", "rich", "click"))
            (config.rootpath / "modules.json").write_text(json.dumps(names))
        """
    )
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess("--co", "-q")
    assert result.ret == pytest.ExitCode.OK
    loaded = json.loads((pytester.path / "modules.json").read_text())
    # the settings table (plain dataclasses) renders the options; nothing else is loaded
    assert loaded == [
        "pybench",
        "pybench.core",
        "pybench.core.errors",
        "pybench.core.settings",
        "pybench.pytest_plugin",
    ]


# -- collection -------------------------------------------------------------------
def test_one_item_per_benchmark_with_pytest_node_ids(bench_project):
    write(
        bench_project,
        "benchmarks/bench_more.py",
        """
        from bench_model import bench_accuracy  # collected where it is defined

        def bench_other(seed, *, n_seeds=8):
            return 1.0

        def not_a_benchmark(seed):
            return 0.0
        """,
    )
    write(bench_project, "benchmarks/helpers.py", "def bench_hidden(seed):\n    return 1.0\n")
    result = bench_project.runpytest("--pybench", "--co", "-q", "benchmarks")
    ids = [line for line in result.stdout.lines if "::" in line]
    assert ids == [
        "benchmarks/bench_model.py::bench_accuracy",
        "benchmarks/bench_model.py::bench_loss",
        "benchmarks/bench_more.py::bench_other",
    ]
    assert not baseline(bench_project).exists()  # collecting runs nothing


def test_default_path_is_benchmarks_or_the_ini_option(bench_project):
    default = bench_project.runpytest("--pybench", "--co", "-q")
    assert "benchmarks/bench_model.py::bench_loss" in default.stdout.str()
    write(bench_project, "suite/bench_s.py", "def bench_s(seed, *, n_seeds=8):\n    return 1.0\n")
    bench_project.makeini("[pytest]\npybench_paths = suite\n")
    configured = bench_project.runpytest("--pybench", "--co", "-q")
    assert [line for line in configured.stdout.lines if "::" in line] == [
        "suite/bench_s.py::bench_s"
    ]
    bench_project.makeini("[pytest]\npybench_paths = nowhere\n")
    missing = bench_project.runpytest("--pybench")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    assert "nowhere: no such folder (pybench_paths)" in missing.stderr.str()


def test_a_broken_benchmark_file_is_a_collection_error(bench_project):
    write(bench_project, "benchmarks/bench_broken.py", "import not_a_module_anywhere\n")
    result = bench_project.runpytest("--pybench")
    assert result.ret == pytest.ExitCode.INTERRUPTED  # pytest stops on collection errors
    out = result.stdout.str()
    assert "ERROR collecting benchmarks/bench_broken.py" in out
    assert "No module named 'not_a_module_anywhere' (line 1)" in out
    assert "import not_a_module_anywhere" in out  # the user's traceback, not pybench's
    assert "discover.py" not in out


def test_a_name_defined_in_two_files_is_refused(bench_project):
    write(bench_project, "benchmarks/bench_twice.py", "def bench_loss(seed):\n    return 1.0\n")
    result = bench_project.runpytest("--pybench")
    assert "bench_loss: defined in both" in result.stdout.str()
    assert not baseline(bench_project).exists()


def test_k_deselect_and_markers_select_benchmarks(bench_project):
    write(
        bench_project,
        "benchmarks/bench_marked.py",
        """
        import pytest

        @pytest.mark.skip(reason="not today")
        def bench_skipped(seed, *, n_seeds=8):
            return 1.0
        """,
    )
    one = bench_project.runpytest("--pybench", "-k", "accuracy")
    one.assert_outcomes(passed=1, deselected=2)
    assert set(store.load(baseline(bench_project))) == {"bench_accuracy"}
    other = bench_project.runpytest(
        "--pybench", "--deselect", "benchmarks/bench_model.py::bench_accuracy"
    )
    other.assert_outcomes(passed=1, skipped=1)
    by_marker = bench_project.runpytest("--pybench", "-m", "not pybench")
    by_marker.assert_outcomes(deselected=3)


# -- verdicts ---------------------------------------------------------------------
def test_new_then_pass(bench_project):
    first = bench_project.runpytest("--pybench", "-v", "-rA", "--pybench-seed", "4")
    first.assert_outcomes(passed=2)
    first.stdout.fnmatch_lines(
        [
            "benchmarks/bench_model.py::bench_accuracy NEW*",
            "benchmarks/bench_model.py::bench_loss NEW*",
            "*Captured pybench call*",
            "bench_accuracy NEW 1 metrics × 1 steps (baseline saved)",
            "8 seeds; written to .pybench/baselines.jsonl at session end",
            "pybench: saved the baselines of bench_accuracy, bench_loss in "
            ".pybench/baselines.jsonl",
        ]
    )
    records = store.load(baseline(bench_project))
    assert sorted(records) == ["bench_accuracy", "bench_loss"]
    assert records["bench_loss"].n == 8 and records["bench_loss"].slots()[2] == (3, "min:loss")
    saved = baseline(bench_project).read_bytes()

    second = bench_project.runpytest("--pybench", "-v", "-rA")
    second.assert_outcomes(passed=2)
    second.stdout.fnmatch_lines(
        [
            "pybench: baseline .pybench/baselines.jsonl (2 records)",
            "benchmarks/bench_model.py::bench_accuracy PASSED*",
            "bench_loss PASS 1 metrics × 3 steps 0/3 slots flagged meta-p=1.000",
        ]
    )
    assert "pybench: saved" not in second.stdout.str()
    assert baseline(bench_project).read_bytes() == saved  # a comparison writes nothing
    quiet = bench_project.runpytest("--pybench", "-q", "-rA")  # no header: read all the same
    quiet.stdout.fnmatch_lines(["bench_accuracy PASS *"])
    assert baseline(bench_project).read_bytes() == saved


def test_a_regression_fails_with_the_slot_table(bench_project, monkeypatch):
    bench_project.runpytest("--pybench").assert_outcomes(passed=2)
    saved = baseline(bench_project).read_bytes()
    monkeypatch.setenv("REGRESS", "loss")
    result = bench_project.runpytest("--pybench")
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*_ bench_loss _*",
            "FAIL 1 metrics × 3 steps 1/3 slots flagged meta-p=0.*",
            "",
            "metric    step  baseline   current    Δ * p * p_adj *",
            "min:loss     1  1.0*±0.0*  1.0*±0.0*  +0.0% *1.000 *",
            "min:loss     3  1.0*±0.0*  1.5*±0.0*  -4*% *0.000 ✗ *",
            "sign flips: 256 (exact)",  # 2**8 sign vectors, as `pybench -v` says
            "FAILED benchmarks/bench_model.py::bench_loss - FAIL 1 metrics × 3 steps*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert baseline(bench_project).read_bytes() == saved
    brief = bench_project.runpytest("--pybench", "--tb=line")
    brief.stdout.fnmatch_lines(["*/bench_model.py:11: FAIL 1 metrics × 3 steps 1/3 slots*"])
    assert "metric    step" not in brief.stdout.str()


def test_an_improvement_passes_with_the_commands_note(bench_project, monkeypatch):
    bench_project.runpytest("--pybench").assert_outcomes(passed=2)
    monkeypatch.setenv("REGRESS", "improve")
    result = bench_project.runpytest("--pybench", "-rA", "-k", "accuracy")
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(
        [
            "bench_accuracy PASS 1 metrics × 1 steps 0/1 slots flagged meta-p=1.000",
            "improved: meta-p=0.00*, 1/1 slots better; raise the bar with "
            "pybench update benchmarks/bench_model.py --bench bench_accuracy",
        ]
    )


def test_a_diverged_slot_fails_naming_it(bench_project, monkeypatch):
    bench_project.runpytest("--pybench").assert_outcomes(passed=2)
    monkeypatch.setenv("DIVERGE", "1")
    result = bench_project.runpytest("--pybench", "-k", "loss")
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(
        [
            "FAIL 1 metrics × 3 steps 1/3 slots flagged meta-p=1.000 "
            "diverged: step 3 'min:loss' non-finite on 8/8 seeds (*, …)",
            "min:loss     3  1.0*±0.0*  non-finite  — *— ✗ *diverged on 8/8 seeds (*)",
        ]
    )


def test_a_raising_benchmark_fails_with_its_own_traceback(bench_project):
    write(bench_project, "benchmarks/bench_boom.py", RAISING)
    result = bench_project.runpytest("--pybench")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ bench_boom _*",
            "ERROR seed * raised ValueError: exploded on *",
            "Traceback (most recent call last):",
            '  File "*bench_boom.py", line 6, in bench_boom',
            '  File "*bench_boom.py", line 3, in _helper',
            '    raise ValueError(f"exploded on {seed}")',
            "ValueError: exploded on *",
        ]
    )
    out = result.stdout.str()
    assert not re.search(r"pybench/\w+\.py", out)  # none of pybench's frames
    assert set(store.load(baseline(bench_project))) == {"bench_accuracy", "bench_loss"}


def test_exitfirst_saves_only_what_ran_to_new(bench_project):
    write(bench_project, "benchmarks/bench_nboom.py", RAISING)  # runs after bench_model.py
    write(bench_project, "benchmarks/bench_zafter.py", "def bench_after(seed):\n    return 1.0\n")
    result = bench_project.runpytest("--pybench", "-x")
    result.assert_outcomes(passed=2, failed=1)
    assert set(store.load(baseline(bench_project))) == {"bench_accuracy", "bench_loss"}


def test_junitxml_has_one_testcase_per_benchmark(bench_project, monkeypatch):
    write(bench_project, "benchmarks/bench_boom.py", RAISING)
    first = junit(bench_project)
    assert sorted(first) == ["bench_accuracy", "bench_boom", "bench_loss"]
    assert properties(first["bench_accuracy"]) == {"pybench_status": "NEW"}
    assert first["bench_accuracy"].find("failure") is None
    boom = first["bench_boom"].find("failure")
    assert boom is not None and boom.get("message").startswith("ERROR seed ")
    assert "Traceback" in boom.text

    monkeypatch.setenv("REGRESS", "accuracy")
    second = junit(bench_project, "-k", "not boom")
    failure = second["bench_accuracy"].find("failure")
    assert failure is not None
    assert failure.get("message").startswith("FAIL 1 metrics × 1 steps 1/1 slots flagged")
    assert "metric" in failure.text and "✗" in failure.text
    assert properties(second["bench_accuracy"])["pybench_status"] == "FAIL"
    assert second["bench_loss"].find("failure") is None
    assert properties(second["bench_loss"]) == {"pybench_status": "PASS", "pybench_meta_p": "1"}


# -- the same verdicts as the command --------------------------------------------
def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli.main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout


def test_verdicts_equal_the_cli_on_the_same_baseline_and_seeds(bench_project, monkeypatch):
    code, _ = _cli("benchmarks", "--seed", "11", "--baseline", "cli.jsonl")
    assert code == 0
    bench_project.runpytest(
        "--pybench", "--pybench-seed", "11", "--pybench-baseline", "plugin.jsonl"
    ).assert_outcomes(passed=2)
    made_by_cli = store.load(bench_project.path / "cli.jsonl")
    made_by_plugin = store.load(bench_project.path / "plugin.jsonl")
    for name in ("bench_accuracy", "bench_loss"):  # the same seeds and values
        assert made_by_plugin[name].seeds == made_by_cli[name].seeds
        assert made_by_plugin[name].scores == made_by_cli[name].scores

    for regress in ("", "loss", "accuracy"):
        monkeypatch.setenv("REGRESS", regress)
        code, out = _cli("benchmarks", "--baseline", "cli.jsonl", "--alpha", "0.1")
        cases = junit(bench_project, "--pybench-baseline", "cli.jsonl", "--pybench-alpha", "0.1")
        for name, case in cases.items():
            line = next(row for row in out.splitlines() if row.startswith(name + " "))
            verdict = re.search(r" (PASS|FAIL) .* meta-p=(\d\.\d{3})", line)
            assert verdict is not None, line
            props = properties(case)
            assert props["pybench_status"] == verdict[1]
            assert f"{float(props['pybench_meta_p']):.3f}" == verdict[2]
            assert (case.find("failure") is not None) == (verdict[1] == "FAIL")
        assert code == (1 if regress else 0)


def test_adaptive_flag_stops_an_unchanged_rerun_early(bench_project):
    write(
        bench_project,
        "benchmarks/bench_many.py",
        """
        def bench_many(seed, *, n_seeds=30):
            return 0.5 + ((seed * 2654435761) % 1000) / 1e4
        """,
    )
    bench_project.runpytest("--pybench", "-k", "many").assert_outcomes(passed=1, deselected=2)
    result = bench_project.runpytest("--pybench", "--pybench-adaptive", "-k", "many", "-rA")
    result.assert_outcomes(passed=1, deselected=2)
    result.stdout.fnmatch_lines(["bench_many PASS * meta-p=1.000 (stopped after 10/30 seeds)"])


def test_settings_flags_mirror_the_cli(bench_project):
    from pybench.core.settings import TABLE

    assert {s.name for s in TABLE if s.keyword and s.pytest} == set(cli.SETTING_OPTIONS)
    result = bench_project.runpytest("--pybench", "--pybench-alpha", "0.001", "-k", "accuracy")
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(
        ["bench_accuracy: alpha=0.001 can never be reached with 8 seeds*use at least 10 seeds*"]
    )
    assert "Traceback" not in result.stdout.str()
    bad = bench_project.runpytest("--pybench", "--pybench-workers", "0")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "--pybench-workers: expected an int >= 1, got '0'" in bad.stderr.str()
    bad_env = bench_project.runpytest("--pybench", "--pybench-env", "MODEL=big")
    assert bad_env.ret == pytest.ExitCode.USAGE_ERROR
    assert "--pybench-env: 'MODEL=big' must be a variable name, not an assignment" in (
        bad_env.stderr.str()
    )
    more = bench_project.runpytest("--pybench", "--pybench-n-seeds", "12", "--pybench-workers", "2")
    more.assert_outcomes(passed=2)
    assert store.load(baseline(bench_project))["bench_loss"].n == 12


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pybench-dask", "local:0"], "--dask local:0: expected local:N with N >= 1"),
        (
            ["--pybench-dask", "local:1", "--pybench-gpus", "0"],
            "--pybench-gpus cannot be combined with --pybench-dask",
        ),
    ],
)
def test_backend_problems_are_usage_errors_before_anything_runs(bench_project, args, message):
    result = bench_project.runpytest("--pybench", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert not baseline(bench_project).exists()


def test_the_baseline_is_found_as_the_cli_finds_it(bench_project):
    project = bench_project.path / "project"
    (project / ".pybench").mkdir(parents=True)
    (bench_project.path / "benchmarks").rename(project / "benchmarks")
    made = bench_project.runpytest("--pybench", "project/benchmarks")
    made.assert_outcomes(passed=2)
    made.stdout.fnmatch_lines(
        [
            "pybench: baseline project/.pybench/baselines.jsonl (not created yet)",
            "pybench: saved the baselines of * in project/.pybench/baselines.jsonl",
        ]
    )
    assert not baseline(bench_project).exists()
    code, out = _cli("project/benchmarks")  # the command finds and compares with the same file
    assert code == 0 and "PASS" in out and "NEW" not in out
    again = bench_project.runpytest("--pybench", "project/benchmarks", "-k", "loss")
    again.stdout.fnmatch_lines(["pybench: baseline project/.pybench/baselines.jsonl (2 records)"])


def test_strict_refuses_to_make_baselines(bench_project):
    result = bench_project.runpytest("--pybench", "--pybench-strict", "-k", "loss")
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(
        [
            "ERROR --strict: no stored baseline in .pybench/baselines.jsonl; make one with "
            "`pybench update benchmarks/bench_model.py --bench bench_loss` and commit it"
        ]
    )
    assert not baseline(bench_project).exists()


def test_unreadable_baseline_is_a_usage_error_and_kept(bench_project):
    path = baseline(bench_project)
    path.parent.mkdir()
    path.write_text("{not json\n")
    result = bench_project.runpytest("--pybench")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "baselines.jsonl:1: not valid JSON" in result.stderr.str()
    assert path.read_text() == "{not json\n"


# -- re-baselining ------------------------------------------------------------------
def test_update_refused_without_a_terminal_unless_yes(bench_project):
    bench_project.runpytest("--pybench").assert_outcomes(passed=2)
    before = store.load(baseline(bench_project))
    refused = bench_project.runpytest("--pybench", "--pybench-update")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        "--pybench-update would overwrite the stored baseline of bench_accuracy, bench_loss; "
        "pass --pybench-yes to confirm" in refused.stderr.str()
    )
    updated = bench_project.runpytest(
        "--pybench", "--pybench-update", "--pybench-yes", "-v", "-k", "loss"
    )
    updated.assert_outcomes(passed=1, deselected=1)
    updated.stdout.fnmatch_lines(["*::bench_loss SAVED*", "pybench: updated the baselines of*"])
    after = store.load(baseline(bench_project))
    assert after["bench_loss"].seeds != before["bench_loss"].seeds  # fresh seeds
    assert after["bench_accuracy"] == before["bench_accuracy"]  # not selected: kept


def test_update_asks_on_a_terminal(bench_project, monkeypatch):
    bench_project.runpytest("--pybench").assert_outcomes(passed=2)
    asked = []
    monkeypatch.setattr(prompts, "interactive", lambda: True)
    monkeypatch.setattr(prompts, "confirm", lambda question: asked.append(question) or False)
    refused = bench_project.runpytest("--pybench", "--pybench-update", "-k", "accuracy")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    assert asked == ["Overwrite the stored baseline of bench_accuracy?"]
    assert "aborted; nothing was saved" in refused.stderr.str()


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True)


def test_a_dirty_tree_is_recorded_and_warned_about(bench_project):
    _git(bench_project.path, "init", "-q")
    _git(bench_project.path, "add", "benchmarks")
    _git(bench_project.path, "commit", "-qm", "benchmarks")
    (bench_project.path / "benchmarks" / "bench_model.py").write_text(
        textwrap.dedent(MODEL) + "\n# edited\n"
    )
    result = bench_project.runpytest("--pybench")
    result.assert_outcomes(passed=2)
    assert "pybench: warning: the git working tree has uncommitted changes" in result.stdout.str()
    assert store.load(baseline(bench_project))["bench_loss"].git_dirty is True


def test_alpha_scope_run_judges_the_collected_benchmarks_as_one_family(bench_project, monkeypatch):
    bench_project.runpytest("--pybench").assert_outcomes(passed=2)
    monkeypatch.setenv("REGRESS", "loss")
    result = bench_project.runpytest("--pybench", "--pybench-alpha-scope", "run", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "FAIL 1 metrics × 3 steps 1/3 slots flagged meta-p=0.0* run-adjusted p=0.0*",
            "bench_accuracy PASS 1 metrics × 1 steps 0/1 slots flagged meta-p=* run-adjusted p=*",
        ]
    )
    monkeypatch.setenv("PYBENCH_ALPHA_SCOPE", "run")
    monkeypatch.setenv("PYBENCH_EQUIVALENCE", "0.01")
    result = bench_project.runpytest("--pybench", "-k", "loss")
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(
        ["FAIL * run-adjusted p=0.0* (cannot rule out a drop of 1%: bound 4*% at step 3 min:loss)"]
    )
