"""The command line, driven end to end: the walkthrough's cases, errors, prompts, show."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pybench.storage import store

from .conftest import REPO, SYNTHETIC
from .toyrepo import worktrees

SUMMARY = re.compile(
    r"^(\d+) failed, (\d+) passed, (\d+) new(?:, (\d+) errors?)? in \d+\.\ds$", re.M
)
COMPARE_SUMMARY = re.compile(
    r"^(\d+) failed, (\d+) passed(?:, (\d+) only in HEAD)?(?:, (\d+) only in BASE)?"
    r"(?:, (\d+) errors?)? in \d+\.\ds$",
    re.M,
)
RULE = "─" * 62


def _line(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(name + " "))


# -- the walkthrough ----------------------------------------------------------
@pytest.fixture
def synthetic(project: Path) -> str:
    """The synthetic example's benchmark file copied into the project; returns its folder.

    A copy, because the baseline of benchmarks inside this repository would be
    saved at the repository's root.
    """
    shutil.copy(SYNTHETIC / "bench_synthetic.py", project / "benchmarks")
    return "benchmarks"


def test_walkthrough_part1(project, cli, monkeypatch, synthetic):
    base = synthetic
    # Seeds are sampled at random; pin them so the resampled case (a pure-noise
    # comparison, which flags a slot now and then) is deterministic.
    first = cli(base, "--seed", "1")
    assert first.exit_code == 0, first.output
    assert _line(first.stdout, "bench_synthetic") == (
        "bench_synthetic .......... NEW 1 metrics × 3 steps (baseline saved)"
    )
    assert RULE in first.stdout
    assert SUMMARY.search(first.stdout).groups()[:3] == ("0", "0", "1")
    saved = store.load(project / ".pybench" / "baselines.jsonl")["bench_synthetic"]
    assert saved.n == 30 and sorted(saved.scores) == [1, 30, 100]

    case1 = cli(base)
    assert case1.exit_code == 0
    assert _line(case1.stdout, "bench_synthetic") == (
        "bench_synthetic .......... PASS 1 metrics × 3 steps 0/3 slots flagged meta-p=1.000"
    )
    assert SUMMARY.search(case1.stdout).groups()[:3] == ("0", "1", "0")

    monkeypatch.setenv("PYBENCH_SYNTHETIC_RESAMPLE", "1")
    case2 = cli(base)
    assert case2.exit_code == 0
    assert "PASS 1 metrics × 3 steps 0/3 slots flagged meta-p=1.000" in case2.stdout
    monkeypatch.delenv("PYBENCH_SYNTHETIC_RESAMPLE")

    monkeypatch.setenv("PYBENCH_SYNTHETIC_REGRESS", "global")
    case3 = cli(base)
    assert case3.exit_code == 1
    assert "FAIL 1 metrics × 3 steps 3/3 slots flagged meta-p=0.000" in case3.stdout
    assert SUMMARY.search(case3.stdout).groups()[:3] == ("1", "0", "0")

    monkeypatch.setenv("PYBENCH_SYNTHETIC_REGRESS", "local")
    case4 = cli(base, "-v")
    assert case4.exit_code == 1
    assert "FAIL 1 metrics × 3 steps 1/3 slots flagged meta-p=0.000" in case4.stdout
    lines = case4.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("metric"))
    # The walkthrough's columns come first, unchanged; p_adj and the interval follow.
    assert lines[header].split() == [
        "metric", "step", "baseline", "current", "Δ", "p", "p_adj", "Δ", "95%", "CI",
    ]  # fmt: skip
    rows = [line.split() for line in lines[header + 1 : header + 4]]
    assert [r[1] for r in rows] == ["1", "30", "100"]
    assert [r[6] == "✗" for r in rows] == [False, False, True]
    assert rows[0][4] == "+0.0%" and rows[0][5] == "1.000" and rows[0][6] == "1.000"
    assert rows[2][4].startswith("-") and rows[2][5] == "0.000"
    # A constant spike: the interval of Δ still has the baseline mean's uncertainty.
    assert rows[2][7:9] == ["0.000", "‼"]
    low, high = (float(cell.strip("[],%")) for cell in rows[2][9:11])
    assert low < float(rows[2][4].rstrip("%")) < high
    assert lines[header + 4] == "sign flips: 4096 (Monte-Carlo)"
    # the file was not touched by comparisons
    assert store.load(project / ".pybench" / "baselines.jsonl")["bench_synthetic"] == saved


def test_piped_output_is_plain(project, cli, synthetic):
    result = cli(synthetic)
    assert "\x1b[" not in result.output and "\r" not in result.output


def test_colours_on_a_terminal(project, cli, monkeypatch, synthetic):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    result = cli(synthetic)
    assert re.search(r"\x1b\[[0-9;]*mNEW", result.stdout)


def test_python_dash_m(project):
    proc = subprocess.run(
        [sys.executable, "-m", "pybench", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and "pybench" in proc.stdout and "update" in proc.stdout


# -- options ---------------------------------------------------------------
BENCH_PAIR = """
    def bench_a(seed, *, n_seeds=8):
        return float(seed % 97)

    def bench_b(seed, *, n_seeds=8):
        return {"accuracy": (seed % 89) / 89.0, "min:loss": (seed % 13) / 13.0}
"""


def test_bench_selects_and_update_keeps_others(project, write_bench, cli):
    write_bench(BENCH_PAIR)
    assert cli("benchmarks").exit_code == 0
    path = project / ".pybench" / "baselines.jsonl"
    before = store.load(path)
    result = cli("update", "benchmarks", "--bench", "a", "--yes", "--seed", "5")
    assert result.exit_code == 0, result.output
    assert "bench_a" in result.stdout and "bench_b" not in result.stdout
    after = store.load(path)
    assert after["bench_b"] == before["bench_b"]
    assert after["bench_a"].seeds != before["bench_a"].seeds
    assert [json.loads(line)["bench"] for line in path.read_text().splitlines()] == [
        "bench_a",
        "bench_b",
    ]


def test_seed_makes_sampling_reproducible(project, write_bench, cli, monkeypatch):
    write_bench(BENCH_PAIR)
    cli("benchmarks", "--seed", "7", "--baseline", "one.jsonl")
    monkeypatch.setenv("PYBENCH_SEED", "7")
    cli("benchmarks", "--baseline", "two.jsonl")
    one, two = store.load(Path("one.jsonl")), store.load(Path("two.jsonl"))
    assert one["bench_a"].seeds == two["bench_a"].seeds
    assert one["bench_a"].seeds != one["bench_b"].seeds


def test_alpha_and_min_effect_flags(project, write_bench, cli, monkeypatch):
    write_bench(
        """
        import os
        def bench_drop(seed, *, n_seeds=12):
            base = 1.0 + (seed % 1000) / 1e5
            if os.environ.get("DROP"):  # a ~1% drop, not the same on every seed
                base -= 0.01 + ((seed // 7) % 3) * 1e-4
            return base
        """
    )
    assert cli("benchmarks").exit_code == 0
    monkeypatch.setenv("DROP", "1")
    assert cli("benchmarks").exit_code == 1  # a ~1% drop is a regression
    gated = cli("benchmarks", "--min-effect", "0.05")
    assert gated.exit_code == 0 and "0/1 slots flagged" in gated.stdout
    assert "meta-p=1.000" in gated.stdout


STOPPED = re.compile(r" \(stopped after (\d+)/30 seeds\)$")


def test_adaptive_stops_early_on_a_clear_verdict(project, cli, monkeypatch, synthetic):
    base = synthetic
    new = cli(base, "--seed", "1", "--adaptive")
    assert new.exit_code == 0 and "NEW" in new.stdout and "stopped" not in new.stdout
    saved = store.load(project / ".pybench" / "baselines.jsonl")["bench_synthetic"]
    assert saved.n == 30  # a new baseline runs every seed

    same = cli(base, "--adaptive")  # every difference is zero
    assert same.exit_code == 0
    line = _line(same.stdout, "bench_synthetic")
    stopped = STOPPED.search(line)
    assert stopped and int(stopped.group(1)) < 30
    assert line[: stopped.start()] == (
        "bench_synthetic .......... PASS 1 metrics × 3 steps 0/3 slots flagged meta-p=1.000"
    )

    monkeypatch.setenv("PYBENCH_SYNTHETIC_REGRESS", "global")
    worse = cli(base, "--adaptive", "--junit-xml", "j.xml", "--markdown", "m.md")
    assert worse.exit_code == 1
    # the machine-readable twins say what was spent, and why it stopped
    spent = re.compile(r"stopped after \d+/30 seeds at look \d \(regression\)")
    assert spent.search(Path("j.xml").read_text()) and spent.search(Path("m.md").read_text())
    line = _line(worse.stdout, "bench_synthetic")
    stopped = STOPPED.search(line)
    assert stopped and int(stopped.group(1)) < 30
    assert "FAIL 1 metrics × 3 steps 3/3 slots flagged" in line
    assert SUMMARY.search(worse.stdout).groups()[:3] == ("1", "0", "0")

    plain = cli(base)  # without the flag: every seed, nothing appended
    assert plain.exit_code == 1 and "stopped" not in plain.stdout
    assert "FAIL 1 metrics × 3 steps 3/3 slots flagged meta-p=0.000" in plain.stdout
    assert store.load(project / ".pybench" / "baselines.jsonl")["bench_synthetic"] == saved


def test_adaptive_keyword_and_parallel_stages_run_only_what_is_needed(
    project, write_bench, cli, monkeypatch
):
    write_bench(
        """
        import os
        from pathlib import Path
        def bench_log(seed, *, n_seeds=30, workers=2, adaptive=True, check_determinism=False):
            with open("calls.log", "a") as log:
                log.write(f"{seed}\\n")
            return 0.5 + (seed % 97) / 1000 - (0.2 if os.environ.get("WORSE") else 0.0)
        """
    )
    assert cli("benchmarks").exit_code == 0
    assert len(Path("calls.log").read_text().split()) == 30  # the baseline: every seed
    Path("calls.log").unlink()
    monkeypatch.setenv("WORSE", "1")
    worse = cli("benchmarks")
    assert worse.exit_code == 1
    stopped = STOPPED.search(_line(worse.stdout, "bench_log"))
    ran = Path("calls.log").read_text().split()
    assert stopped and len(ran) == int(stopped.group(1)) < 30
    seeds = store.load(Path(".pybench/baselines.jsonl"))["bench_log"].seeds
    assert sorted(map(int, ran)) == sorted(seeds[: len(ran)])  # the first stored seeds


def test_bad_adaptive_keyword_is_an_error(project, write_bench, cli):
    write_bench(
        """
        def bench_x(seed, *, adaptive="yes"):
            return 1.0
        """
    )
    result = cli("benchmarks")
    assert result.exit_code == 2  # an ERROR for that benchmark, as for any bad keyword
    assert "ERROR adaptive='yes' must be True or False" in _line(result.stdout, "bench_x")


# -- exit code 2, before any seed runs ----------------------------------------
def test_missing_path(project, cli):
    result = cli("no/such/dir")
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "no/such/dir" in result.stderr and "no such file" in result.stderr


def test_unknown_bench(project, write_bench, cli):
    write_bench(BENCH_PAIR)
    result = cli("benchmarks", "--bench", "nope")
    assert result.exit_code == 2
    assert "--bench nope" in result.stderr and "bench_a" in result.stderr


def test_unreachable_alpha_refused_before_any_seed(project, write_bench, cli):
    write_bench(
        """
        from pathlib import Path
        def bench_few(seed, *, n_seeds=4):
            Path("ran").touch()
            return 1.0
        """
    )
    result = cli("benchmarks")
    assert result.exit_code == 2
    assert "bench_few" in result.stderr and "at least 5 seeds" in result.stderr
    assert not Path("ran").exists() and not Path(".pybench").exists()
    tight = cli("benchmarks", "--alpha", "0.001")
    assert tight.exit_code == 2 and "at least 10 seeds" in tight.stderr


def test_bad_option_values(project, write_bench, cli):
    write_bench(BENCH_PAIR)
    for args in (("--alpha", "1.5"), ("--min-effect", "-1"), ("--no-such-flag",), ("--env", "A=1")):
        result = cli("benchmarks", *args)
        assert result.exit_code == 2
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
        assert "pybench run --help" in result.stderr
    gpus = cli("benchmarks", "--gpus", "a,b")
    assert gpus.exit_code == 2 and "--gpus" in gpus.stderr
    env = cli("benchmarks", "--env", "MODEL=big")
    assert "'MODEL=big' must be a variable name, not an assignment" in env.stderr


def test_wrong_shape_is_an_error(project, write_bench, cli):
    write_bench(BENCH_PAIR)
    write_bench(
        """
        def bench_shape(seed, *, n_seeds=6):
            return "0.9"
        """,
        name="bench_shape.py",
    )
    result = cli("benchmarks")
    assert result.exit_code == 2
    line = _line(result.stdout, "bench_shape")
    assert "ERROR" in line and "returned a str" in line and re.search(r"seed \d+", line)
    assert "Traceback" not in result.output
    assert SUMMARY.search(result.stdout).groups() == ("0", "0", "2", "1")
    saved = store.load(project / ".pybench" / "baselines.jsonl")
    assert set(saved) == {"bench_a", "bench_b"}


def test_slots_no_longer_match(project, write_bench, cli):
    path = write_bench(
        "def bench_x(seed, *, n_seeds=6):\n    return {'acc': 0.5 + seed % 7 / 100}\n"
    )
    assert cli("benchmarks").exit_code == 0
    path.write_text(
        "def bench_x(seed, *, n_seeds=6):\n    return {'accuracy': 0.5 + seed % 7 / 100}\n"
    )
    result = cli("benchmarks")
    assert result.exit_code == 2
    line = _line(result.stdout, "bench_x")
    assert "ERROR" in line and "'acc'" in line and "'accuracy'" in line
    assert "pybench update --bench bench_x" in line


def test_unreadable_record_is_an_error_of_its_own_and_is_kept(project, write_bench, cli):
    write_bench(BENCH_PAIR)
    path = project / ".pybench" / "baselines.jsonl"
    path.parent.mkdir()
    path.write_text('{"bench": "bench_a", "seeds": [1, 2]\n')
    result = cli("benchmarks")
    assert result.exit_code == 2
    line = _line(result.stdout, "bench_a")
    assert "ERROR" in line and ".pybench/baselines.jsonl:1" in line
    assert "NEW" in _line(result.stdout, "bench_b")  # the other benchmark still runs
    lines = path.read_text().splitlines()
    assert lines[0] == '{"bench": "bench_a", "seeds": [1, 2]'  # never dropped or rewritten
    assert '"bench": "bench_b"' in lines[1]


# -- foreign files, show, history ----------------------------------------------
def test_file_with_only_spec_fields_loads_and_compares(project, write_bench, cli):
    write_bench("def bench_f(seed):\n    return [{'step': 1, 'min:loss': seed / 1000.0}]\n")
    seeds = list(range(10, 40))
    record = {
        "bench": "bench_f",
        "timestamp": "2026-06-25T14:26:16Z",
        "git_commit": "55efb67",
        "git_dirty": False,
        "seeds": seeds,
        "n": len(seeds),
        "scores": {"1": {"min:loss": [s / 1000.0 for s in seeds]}},
    }
    path = project / ".pybench" / "baselines.jsonl"
    path.parent.mkdir()
    path.write_text(json.dumps(record) + "\n")
    result = cli("benchmarks")
    assert result.exit_code == 0, result.output
    assert "PASS 1 metrics × 1 steps 0/1 slots flagged meta-p=1.000" in result.stdout
    shown = cli("show")
    assert shown.exit_code == 0
    assert "bench_f" in shown.stdout and "55efb67" in shown.stdout and "30 seeds" in shown.stdout
    assert "0.025±0.009" in shown.stdout  # mean of 10..39 / 1000 = 0.0245, std 0.0088


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def test_show_history(project, write_bench, cli):
    write_bench(BENCH_PAIR)
    _git(project, "init", "-q")
    _git(project, "add", "benchmarks")
    _git(project, "commit", "-qm", "benchmarks")
    assert cli("benchmarks").exit_code == 0
    _git(project, "add", ".pybench/baselines.jsonl")
    _git(project, "commit", "-qm", "first baseline")
    assert cli("update", "benchmarks", "--bench", "a", "--yes").exit_code == 0
    _git(project, "commit", "-qam", "new baseline for a")
    _git(project, "commit", "-q", "--allow-empty", "-m", "unrelated")
    result = cli("show", "--history")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    # a table per benchmark: its name, the titles, one row per commit (newest first)
    assert lines[0] == "bench_a" and lines[1].split()[:4] == ["commit", "date", "seeds", "score@0"]
    assert "new baseline for a" in lines[2] and "first baseline" in lines[3]
    assert lines[4] == "bench_b" and len(lines) == 8
    record = store.load(project / ".pybench" / "baselines.jsonl")["bench_a"]
    assert record.git_commit is not None and record.git_dirty is False


# -- prompts ------------------------------------------------------------------
def _dirty_project(project: Path, write_bench) -> None:
    """Commit the benchmarks to a new git repository, then edit them uncommitted."""
    path = write_bench(BENCH_PAIR)
    _git(project, "init", "-q")
    _git(project, "add", "benchmarks")
    _git(project, "commit", "-qm", "benchmarks")
    path.write_text(path.read_text() + "\n# edited\n")


def test_update_without_terminal_never_waits(project, write_bench, cli):
    write_bench(BENCH_PAIR)
    cli("benchmarks")
    result = cli("update", "benchmarks")
    assert result.exit_code == 2
    assert "--yes" in result.stderr


def test_dirty_tree_prompts_on_a_terminal(project, write_bench, cli, monkeypatch):
    _dirty_project(project, write_bench)
    monkeypatch.setattr("pybench.app.prompts.interactive", lambda: True)
    refused = cli("benchmarks", input="n\n")
    assert refused.exit_code == 2 and "nothing was saved" in refused.stderr
    assert not (project / ".pybench" / "baselines.jsonl").exists()
    accepted = cli("benchmarks", input="y\n")
    assert accepted.exit_code == 0
    assert store.load(project / ".pybench" / "baselines.jsonl")["bench_a"].git_dirty is True


def test_dirty_tree_without_terminal_warns_and_proceeds(project, write_bench, cli):
    _dirty_project(project, write_bench)
    result = cli("benchmarks")
    assert result.exit_code == 0
    assert "warning" in result.stderr and "uncommitted" in result.stderr


# -- Ctrl-C -------------------------------------------------------------------
def test_ctrl_c_exits_130_and_writes_nothing(project, write_bench):
    write_bench(
        """
        import time
        from pathlib import Path
        def bench_slow(seed, *, n_seeds=6):
            Path("started").touch()
            time.sleep(30)
            return 1.0
        """
    )
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pybench", "benchmarks"],
        cwd=project,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 30
    while not (project / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (project / "started").exists()
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert time.monotonic() - sent < 5
    assert "interrupted" in err and "Traceback" not in err
    assert not (project / ".pybench" / "baselines.jsonl").exists()


def test_help_is_fast_to_import():
    code = (
        "import sys; from pybench import cli; "
        "print('scipy.stats' in sys.modules, 'numpy' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.stdout.split() == ["False", "False"]


# -- faults: raising benchmarks, non-finite values -----------------------------
RAISING = """
    import os
    def bench_boom(seed, *, n_seeds=6):
        if os.environ.get("BOOM") and seed % 2 == 0 or os.environ.get("BOOM") == "all":
            raise ValueError(f"exploded on {seed}")
        return 1.0 + (seed % 11) / 100
"""


def test_raising_benchmark_is_an_error_and_others_run(project, write_bench, cli, monkeypatch):
    write_bench(BENCH_PAIR)
    write_bench(RAISING, name="bench_boom.py")
    monkeypatch.setenv("BOOM", "all")
    result = cli("benchmarks")
    assert result.exit_code == 2
    line = _line(result.stdout, "bench_boom")
    assert re.search(r"ERROR seed \d+ raised ValueError: exploded on \d+$", line)
    assert "Traceback" not in result.output
    assert "NEW" in _line(result.stdout, "bench_a") and "NEW" in _line(result.stdout, "bench_b")
    assert SUMMARY.search(result.stdout).groups() == ("0", "0", "2", "1")
    assert set(store.load(project / ".pybench" / "baselines.jsonl")) == {"bench_a", "bench_b"}
    verbose = cli("benchmarks", "-v")
    assert "Traceback (most recent call last)" in verbose.stdout
    assert 'raise ValueError(f"exploded on {seed}")' in verbose.stdout
    assert "pybench/" not in verbose.stdout  # only the user's frames


def test_raising_during_comparison_is_an_error(project, write_bench, cli, monkeypatch):
    write_bench(RAISING, name="bench_boom.py")
    assert cli("benchmarks").exit_code == 0
    monkeypatch.setenv("BOOM", "all")  # every seed: no luck of the draw
    result = cli("benchmarks")
    assert result.exit_code == 2
    assert "ERROR seed" in _line(result.stdout, "bench_boom")


NONFINITE = """
    import os
    def bench_nan(seed, *, n_seeds=8):
        bad = os.environ.get("NONFINITE")
        loss = 0.5 + (seed % 17) / 100
        if bad and seed % 4 == 0:
            loss = float(bad)
        return [{"step": 1, "min:loss": 1.0 + (seed % 13) / 100}, {"step": 2, "min:loss": loss}]
"""


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_refused_for_a_new_baseline(project, write_bench, cli, monkeypatch, value):
    write_bench(NONFINITE)
    monkeypatch.setenv("NONFINITE", value)
    result = cli("benchmarks", "--seed", "3")
    assert result.exit_code == 2
    line = _line(result.stdout, "bench_nan")
    assert "ERROR" in line and "step 2 'min:loss'" in line and re.search(r"seeds? \d+", line)
    assert "finite" in line
    assert not (project / ".pybench" / "baselines.jsonl").exists()


def test_divergence_fails_and_is_shown_plainly(project, write_bench, cli, monkeypatch):
    write_bench(NONFINITE)
    assert cli("benchmarks", "--seed", "3").exit_code == 0
    seeds = store.load(project / ".pybench" / "baselines.jsonl")["bench_nan"].seeds
    n_bad = sum(1 for s in seeds if s % 4 == 0)
    assert n_bad > 0
    monkeypatch.setenv("NONFINITE", "nan")
    result = cli("benchmarks", "-v")
    assert result.exit_code == 1
    line = _line(result.stdout, "bench_nan")
    assert "FAIL" in line and "1/2 slots flagged" in line and "meta-p=1.000" in line
    bad_seeds = [s for s in seeds if s % 4 == 0]
    named = ", ".join(str(s) for s in bad_seeds[:3]) + (", …" if n_bad > 3 else "")
    assert line.endswith(f"diverged: step 2 'min:loss' non-finite on {n_bad}/8 seeds ({named})")
    assert "nan%" not in result.stdout and "±nan" not in result.stdout
    table = [r for r in result.stdout.splitlines() if r.startswith("min:loss")]
    assert len(table) == 2 and "1.000" in table[0] and "non-finite" in table[1]
    assert table[1].endswith(f"diverged on {n_bad}/8 seeds ({named})")


# -- statistics beyond the verdict ------------------------------------------------
SCALED = """
    import os
    def bench_scaled(seed, *, n_seeds={n}):
        return 1.0 + (seed % 1009) / 20000 - float(os.environ.get("DROP", 0))
"""


def test_tiny_alpha_is_reachable_with_enough_flips(project, write_bench, cli, monkeypatch):
    """Regression test: 20 seeds at alpha=1e-4 printed PASS for an 85 % drop."""
    write_bench(SCALED.replace("{n}", "20"))
    assert cli("benchmarks", "--alpha", "0.0001", "--seed", "2").exit_code == 0
    monkeypatch.setenv("DROP", "0.85")
    result = cli("benchmarks", "--alpha", "0.0001", "-v")
    assert result.exit_code == 1
    # 1/200001, printed with three significant digits (rounded down) at such an alpha
    assert "FAIL 1 metrics × 1 steps 1/1 slots flagged meta-p=4.99e-06" in result.stdout
    assert "sign flips: 200000 (Monte-Carlo)" in result.stdout.splitlines()
    header = next(line for line in result.stdout.splitlines() if line.startswith("metric"))
    assert header.split()[-3:] == ["Δ", "99.99%", "CI"]


def test_alpha_beyond_the_flip_limit_is_refused(project, write_bench, cli):
    write_bench(SCALED.replace("{n}", "40"))
    result = cli("benchmarks", "--alpha", "1e-9")
    assert result.exit_code == 2
    assert "alpha=1e-09" in result.stderr and "alpha >= 2e-07" in result.stderr
    assert not (project / ".pybench").exists()


def test_verbose_shows_the_table_for_a_pass(project, write_bench, cli):
    write_bench(SCALED.replace("{n}", "8"))
    assert cli("benchmarks", "--seed", "4").exit_code == 0
    result = cli("benchmarks", "-v")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert "PASS 1 metrics × 1 steps 0/1 slots flagged meta-p=1.000" in lines[0]
    assert lines[1].split()[:7] == ["metric", "step", "baseline", "current", "Δ", "p", "p_adj"]
    assert lines[2].split()[4:] == ["+0.0%", "1.000", "1.000", "[+0.0%,", "+0.0%]"]
    assert lines[3] == "sign flips: 256 (exact)"
    assert "improved" not in result.stdout
    assert "p_adj" not in cli("benchmarks").stdout  # only with -v


def test_improvement_is_noted_and_passes(project, write_bench, cli, monkeypatch):
    write_bench(SCALED.replace("{n}", "10"))
    assert cli("benchmarks", "--seed", "4").exit_code == 0
    monkeypatch.setenv("DROP", "-0.1")  # a rise: better
    result = cli("benchmarks")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].endswith("PASS 1 metrics × 1 steps 0/1 slots flagged meta-p=1.000")
    assert lines[1] == (
        "  improved: meta-p=0.001, 1/1 slots better; "
        "raise the bar with pybench update --bench bench_scaled"
    )
    assert SUMMARY.search(result.stdout).groups()[:3] == ("0", "1", "0")
    monkeypatch.setenv("DROP", "0.1")  # the same change the other way fails, with no note
    worse = cli("benchmarks")
    assert worse.exit_code == 1 and "improved" not in worse.stdout


PLAN_BENCH = """
    def bench_plan(seed, *, n_seeds=20, alpha=0.01):
        import numpy as np
        rng = np.random.default_rng(seed)
        return {"acc": 0.8 + rng.normal(0, 0.01), "min:loss": 1.0 + rng.normal(0, 0.5)}

    def bench_other(seed, *, n_seeds=6):
        return 1.0
"""


def test_plan_reads_the_baseline_noise(project, write_bench, cli):
    from pybench import stats

    write_bench(PLAN_BENCH)
    assert cli("benchmarks", "--bench", "plan", "--seed", "3").exit_code == 0
    result = cli("plan", "--effect", "0.05", "--power", "0.9")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "bench_other  no baseline to plan from: run `pybench` first"
    assert lines[1] == "bench_plan  20 seeds, alpha=0.01, power=0.9, target drop 5%"
    assert lines[2].split() == [
        "metric", "step", "baseline", "σ_d", "detectable", "drop", "(20", "seeds)", "seeds",
        "for", "-5%",
    ]  # fmt: skip
    record = store.load(project / ".pybench" / "baselines.jsonl")["bench_plan"]
    acc, loss = stats.power_plan(
        record.matrix(), record.slots(), alpha=0.01, effect=0.05, power=0.9
    )
    assert lines[3].split()[4:] == [f"-{acc.detectable * 100:.1f}%", str(acc.seeds_needed)]
    assert acc.seeds_needed <= 20 < loss.detectable * 100
    assert lines[4].split()[4:] == [f"-{loss.detectable * 100:.1f}%", ">", "1000", "(too", "noisy)"]
    assert lines[5].startswith("  verdict simulated on the baseline's seeds: a 5% drop in one slot")
    assert "σ_d ≈ √2·σ" in lines[6] and "noncentral t" in lines[6]


def test_plan_without_baselines_is_an_error(project, write_bench, cli):
    write_bench(PLAN_BENCH)
    result = cli("plan", "--bench", "plan")
    assert result.exit_code == 2
    assert "no stored baseline" in result.stderr and "run `pybench` first" in result.stderr
    bad = cli("plan", "--power", "1.5")
    assert bad.exit_code == 2 and "--power" in bad.stderr


# -- compare: two git revisions ------------------------------------------------
@pytest.fixture
def in_toy_repo(toy_repo, monkeypatch):
    """The toy git project as the working directory, with no pybench variables set."""
    monkeypatch.chdir(toy_repo.root)
    for var in ("PYBENCH_SEED", "PYBENCH_DASK"):
        monkeypatch.delenv(var, raising=False)
    return toy_repo


def _no_checkout_left(root, temp_root):
    assert worktrees(root) == [str(root)]
    assert list(temp_root.iterdir()) == []


def test_compare_noop_change_passes(in_toy_repo, temp_root, cli):
    result = cli("compare", "v1", "HEAD~1", "--seed", "1")
    assert result.exit_code == 0
    short = in_toy_repo.base[:7]
    assert (
        result.stdout.splitlines()[0] == f"base v1 ({short}) → head HEAD~1 ({in_toy_repo.noop[:7]})"
    )
    line = _line(result.stdout, "bench_toy")
    assert "PASS 2 metrics × 1 steps 0/2 slots flagged meta-p=1.000" in line
    assert result.stdout.splitlines()[-1].startswith("0 failed, 1 passed in ")
    assert not SUMMARY.search(result.stdout)  # no "new" count: nothing is saved by compare
    assert not (in_toy_repo.root / ".pybench").exists()
    _no_checkout_left(in_toy_repo.root, temp_root)


def test_compare_regression_fails_with_the_slot_flagged(in_toy_repo, temp_root, cli):
    result = cli("compare", "v1", "main", "-v", "--n-seeds", "8")
    assert result.exit_code == 1
    line = _line(result.stdout, "bench_toy")
    assert "FAIL 2 metrics × 1 steps 1/2 slots flagged" in line
    rows = {r.split()[0]: r for r in result.stdout.splitlines() if r.startswith(("value", "min:"))}
    assert "0.000 ✗" in rows["value"] and "✗" not in rows["min:cost"]
    assert COMPARE_SUMMARY.search(result.stdout).groups() == ("1", "0", None, None, None)
    assert not (in_toy_repo.root / ".pybench").exists()
    _no_checkout_left(in_toy_repo.root, temp_root)


def test_compare_against_the_dirty_working_tree(in_toy_repo, temp_root, cli):
    from tests.toyrepo import BENCH, PACKAGE, git

    root = in_toy_repo.root
    (root / "src" / "toypkg" / "__init__.py").write_text(
        PACKAGE
    )  # undo the regression, uncommitted
    (root / "benchmarks" / "bench_extra.py").write_text(BENCH.replace("bench_toy", "bench_extra"))
    result = cli("compare", "v1")
    assert result.exit_code == 0
    short = in_toy_repo.regression[:7]
    assert result.stdout.splitlines()[0].endswith(f"→ head working tree ({short}, dirty)")
    assert "PASS" in _line(result.stdout, "bench_toy")
    assert _line(result.stdout, "bench_extra").endswith(
        "NEW 2 metrics × 1 steps (only in HEAD; nothing to compare)"
    )
    assert result.stderr == ""
    _no_checkout_left(root, temp_root)
    (root / "src" / "toypkg" / "__init__.py").unlink()  # the working tree itself is untouched…
    assert (root / "benchmarks" / "bench_extra.py").exists()  # …and so are untracked files
    git(root, "checkout", "--", "src/toypkg/__init__.py")
    result = cli("compare", "v1", "--bench", "extra")
    assert result.exit_code == 0  # nothing to compare is not a failure
    assert COMPARE_SUMMARY.search(result.stdout).groups() == ("0", "0", "1", None, None)
    assert not (root / ".pybench").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "unknown revision 'nope'"),
        (["v1", "--path", "missing"], "missing: no such file or folder in v1"),
        (["v1", "--bench", "other"], "--bench other: no such benchmark in either revision"),
        (["v1", "--dask", "local:2"], "No such option '--dask'"),
        (["v1", "--env", "A=1"], "'A=1' must be a variable name, not an assignment"),
        (["v1", "--alpha", "0.001"], "use at least 10 seeds (--n-seeds 10 or n_seeds=10)"),
    ],
)
def test_compare_errors_are_one_line(in_toy_repo, temp_root, cli, args, message):
    result = cli("compare", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr
    _no_checkout_left(in_toy_repo.root, temp_root)


def test_compare_ignores_pybench_dask_from_the_environment(
    in_toy_repo, temp_root, cli, monkeypatch
):
    monkeypatch.setenv("PYBENCH_DASK", "local:2")
    result = cli("compare", "v1", "HEAD~1")
    assert result.exit_code == 0 and "PASS" in _line(result.stdout, "bench_toy")


def test_compare_ctrl_c_leaves_no_checkout(in_toy_repo, temp_root):
    from tests.toyrepo import PACKAGE, commit_package, git

    root = in_toy_repo.root
    (root / "benchmarks" / "bench_slow.py").write_text(
        "import time\nfrom pathlib import Path\n\n\n"
        "def bench_slow(seed, *, n_seeds=6):\n"
        "    Path('started').touch()\n    time.sleep(30)\n    return 1.0\n"
    )
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "a slow benchmark")
    commit_package(root, PACKAGE, "undo the regression")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": str(temp_root)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pybench", "compare", "HEAD~1", "--bench", "slow"],
        cwd=root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 30
    while not (root / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (root / "started").exists()
    assert len(worktrees(root)) == 2  # HEAD~1 checked out; the working tree is used as it is
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    _no_checkout_left(root, temp_root)


def test_compare_seed_failing_on_one_side_names_it(in_toy_repo, temp_root, cli):
    from tests.toyrepo import PACKAGE

    root = in_toy_repo.root
    (root / "src" / "toypkg" / "__init__.py").write_text(
        PACKAGE + "\n\nvalue_ok = value\n\n\ndef value(seed):\n"
        "    if seed % 2:\n        raise ValueError('odd seed')\n    return value_ok(seed)\n"
    )
    result = cli("compare", "v1", "--seed", "5", "-v")
    assert result.exit_code == 2
    line = _line(result.stdout, "bench_toy")
    assert re.search(
        r"ERROR head working tree \(\w+, dirty\): seed \d+ raised ValueError: odd seed$", line
    )
    assert "raise ValueError('odd seed')" in result.stdout  # the user's traceback with -v
    _no_checkout_left(root, temp_root)


BENCH_EXTRA = "def bench_extra(seed, *, n_seeds=6):\n    return {'score': 1.0 + seed % 4}\n"


def _one_sided(toy_repo, *, package: str, extra: str = BENCH_EXTRA) -> str:
    """Commit a ``bench_gone`` on top of the toy project, then (uncommitted) remove it, add
    ``bench_extra`` with ``extra`` as its body and write ``package``; the new commit's hash."""
    from tests.toyrepo import BENCH, git

    root = toy_repo.root
    (root / "benchmarks" / "bench_gone.py").write_text(BENCH.replace("bench_toy", "bench_gone"))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "a benchmark that HEAD removes")
    (root / "benchmarks" / "bench_gone.py").unlink()
    (root / "benchmarks" / "bench_extra.py").write_text(extra)
    (root / "src" / "toypkg" / "__init__.py").write_text(package)
    return git(root, "rev-parse", "HEAD")


def test_compare_reports_benchmarks_only_one_revision_has(in_toy_repo, temp_root, cli, monkeypatch):
    from junitparser import Failure, JUnitXml, Skipped

    from tests.toyrepo import REGRESSION, expected

    root = in_toy_repo.root
    base = _one_sided(in_toy_repo, package=REGRESSION.replace("- 1.0", "- 2.0"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(root / "summary.md"))
    result = cli(
        "compare", "HEAD", "--seed", "3", "--json", "-", "--junit-xml", "out/pybench.xml",
        "--html", "out/pybench.html",
    )  # fmt: skip
    assert result.exit_code == 1  # bench_toy regressed; the one-sided benchmarks change nothing
    head_label = f"working tree ({base[:7]}, dirty)"
    # the terminal report goes to stderr, the JSON document to stdout
    assert result.stderr.splitlines()[0] == f"base HEAD ({base[:7]}) → head {head_label}"
    assert _line(result.stderr, "bench_gone").endswith("GONE (only in BASE; nothing to compare)")
    assert "NEW 1 metrics × 1 steps (only in HEAD" in _line(result.stderr, "bench_extra")
    assert "FAIL 2 metrics × 1 steps 1/2 slots flagged" in _line(result.stderr, "bench_toy")
    assert COMPARE_SUMMARY.search(result.stderr).groups() == ("1", "0", "1", "1", None)
    doc = _valid(_strict_json(result.stdout))
    assert (doc["command"], doc["baseline"], doc["exit_code"]) == ("compare", None, 1)
    assert doc["counts"] == {"NEW": 1, "PASS": 0, "FAIL": 1, "ERROR": 0, "GONE": 1}
    assert doc["revisions"]["base"] == {
        "name": "HEAD", "label": f"HEAD ({base[:7]})", "commit": base, "working_tree": False,
        "dirty": False,
    }  # fmt: skip
    assert doc["revisions"]["head"] == {
        "name": "working tree", "label": head_label, "commit": base, "working_tree": True,
        "dirty": True,
    }  # fmt: skip
    assert doc["git"] == {"commit": base[:7], "dirty": True}
    benches = {b["name"]: b for b in doc["benchmarks"]}
    assert list(benches) == ["bench_extra", "bench_gone", "bench_toy"]
    assert [benches[n]["status"] for n in benches] == ["NEW", "GONE", "FAIL"]
    assert benches["bench_extra"]["note"] == "only in HEAD; nothing to compare"
    assert benches["bench_gone"]["note"] == "only in BASE; nothing to compare"
    assert benches["bench_toy"]["note"] is None
    assert not any(b["saved"] for b in benches.values())
    assert benches["bench_gone"]["file"] == "benchmarks/bench_gone.py"  # not the checkout's
    assert benches["bench_gone"]["n_seeds"] == 0 and benches["bench_gone"]["slots"] == []
    extra = benches["bench_extra"]["slots"][0]
    assert extra["baseline_values"] is None
    assert extra["current_values"] == [1.0 + s % 4 for s in benches["bench_extra"]["seeds"]]
    value = next(row for row in benches["bench_toy"]["slots"] if row["metric"] == "value")
    seeds = benches["bench_toy"]["seeds"]
    assert value["baseline_values"] == pytest.approx([expected(s) - 1.0 for s in seeds])  # BASE
    assert value["current_values"] == pytest.approx([expected(s) - 2.0 for s in seeds])  # HEAD
    [suite] = list(JUnitXml.fromfile(str(root / "out" / "pybench.xml")))
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (3, 1, 0, 1)
    cases = {case.name: case for case in suite}
    [skipped] = cases["bench_gone"].result
    assert isinstance(skipped, Skipped) and skipped.message == "only in BASE; nothing to compare"
    assert cases["bench_extra"].is_passed and "only in HEAD" in cases["bench_extra"].system_out
    assert isinstance(cases["bench_toy"].result[0], Failure)
    properties = {p.name: p.value for p in suite.properties()}
    assert properties["base_commit"] == base and properties["head"] == head_label
    assert "baseline" not in properties
    page = (root / "out" / "pybench.html").read_text()
    assert f"base HEAD ({base[:7]}) → head {head_label}" in page
    assert "<th>base</th><th>head</th>" in page and "only in BASE; nothing to compare" in page
    summary = (root / "summary.md").read_text()
    assert summary.startswith("### pybench: 1 failed, 0 passed, 1 only in HEAD, 1 only in BASE")
    assert f"Base <code>HEAD ({base[:7]})</code> → head <code>{head_label}</code>" in summary
    Path("run.json").write_text(result.stdout)  # the saved document renders on its own
    assert cli("report", "run.json", "--html", "again.html").exit_code == 0
    assert f"→ head {head_label}" in Path("again.html").read_text()
    assert not (root / ".pybench").exists()
    _no_checkout_left(root, temp_root)


def test_compare_one_sided_benchmarks_keep_the_exit_code(in_toy_repo, temp_root, cli):
    from junitparser import Error, JUnitXml

    from tests.toyrepo import REGRESSION

    nan_on_odd = (
        "def bench_extra(seed, *, n_seeds=6):\n    return float('nan') if seed % 2 else 1.0\n"
    )
    _one_sided(in_toy_repo, package=REGRESSION, extra=nan_on_odd)
    result = cli("compare", "HEAD", "--seed", "3", "--bench", "toy", "--bench", "gone")
    assert result.exit_code == 0  # a removed benchmark is not a failure
    assert COMPARE_SUMMARY.search(result.stdout).groups() == ("0", "1", None, "1", None)
    result = cli("compare", "HEAD", "--seed", "3", "--junit-xml", "j.xml")
    assert result.exit_code == 2  # HEAD's new benchmark returns NaN: it could never be compared
    line = _line(result.stdout, "bench_extra")
    assert re.search(
        r"ERROR head working tree \(\w+, dirty\): step 0 'score' is NaN on seeds? "
        r".*; it must be finite to be compared once both revisions have it$",
        line,
    ), line
    assert "PASS" in _line(result.stdout, "bench_toy") and "GONE" in _line(
        result.stdout, "bench_gone"
    )
    assert COMPARE_SUMMARY.search(result.stdout).groups() == ("0", "1", None, "1", "1")
    [suite] = list(JUnitXml.fromfile("j.xml"))
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (3, 0, 1, 1)
    assert isinstance({c.name: c for c in suite}["bench_extra"].result[0], Error)
    _no_checkout_left(in_toy_repo.root, temp_root)


def test_compare_error_before_any_verdict_is_written_to_the_reports(in_toy_repo, temp_root, cli):
    result = cli(
        "compare", "nope", "--json", "r.json", "--junit-xml", "r.xml", "--markdown", "r.md"
    )
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    doc = _valid(_strict_json(Path("r.json").read_text()))
    assert (doc["command"], doc["exit_code"], doc["revisions"]) == ("compare", 2, None)
    assert "unknown revision 'nope'" in doc["error"] and doc["benchmarks"] == []
    assert "unknown revision 'nope'" in Path("r.xml").read_text()
    assert "unknown revision" in Path("r.md").read_text()
    _no_checkout_left(in_toy_repo.root, temp_root)


# -- CI: machine-readable reports, --strict, where the baseline lives -----------
def _strict_json(text: str) -> dict:
    def refuse(token: str) -> None:
        raise ValueError(f"{token} is not JSON")

    return json.loads(text, parse_constant=refuse)


def _valid(doc: dict) -> dict:
    import jsonschema

    from pybench.reports.json import schema

    jsonschema.Draft202012Validator(schema()).validate(doc)
    return doc


def test_json_on_stdout_moves_the_report_to_stderr(project, write_bench, cli):
    write_bench(BENCH_PAIR)
    result = cli("benchmarks", "--json", "-", "--seed", "1")
    assert result.exit_code == 0
    doc = _valid(_strict_json(result.stdout))
    assert [b["status"] for b in doc["benchmarks"]] == ["NEW", "NEW"]
    assert doc["baseline"] == {"path": ".pybench/baselines.jsonl", "records": 0}
    assert "NEW" in _line(result.stderr, "bench_a") and SUMMARY.search(result.stderr)
    again = cli("benchmarks", "--json", "-")
    doc = _valid(_strict_json(again.stdout))
    assert [b["status"] for b in doc["benchmarks"]] == ["PASS", "PASS"]
    assert doc["exit_code"] == again.exit_code == 0 and doc["baseline"]["records"] == 2
    assert (
        doc["benchmarks"][0]["seeds"]
        == store.load(Path(".pybench/baselines.jsonl"))["bench_a"].seeds
    )


def test_report_files_and_the_step_summary(project, write_bench, cli, monkeypatch):
    from junitparser import JUnitXml

    write_bench(BENCH_PAIR)
    summary = project / "summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    for _ in range(2):
        result = cli("benchmarks", "--junit-xml", "out/junit.xml", "--markdown", "out/summary.md")
        assert result.exit_code == 0
    text = summary.read_text()
    assert text.startswith("# earlier step\n") and text.count("### pybench:") == 2
    assert text.endswith((project / "out" / "summary.md").read_text())
    assert "### pybench: 0 failed, 2 passed, 0 new" in text
    [suite] = list(JUnitXml.fromfile(str(project / "out" / "junit.xml")))
    assert (suite.tests, suite.failures, suite.errors) == (2, 0, 0)
    assert {case.classname for case in suite} == {"benchmarks.bench_test"}


def test_a_failed_run_is_failed_in_every_report(project, write_bench, cli, monkeypatch):
    from junitparser import Failure, JUnitXml

    write_bench(RAISING, name="bench_boom.py")
    write_bench(
        """
        import os
        def bench_drop(seed, *, n_seeds=10):
            return 1.0 + (seed % 7) / 100 - (0.1 if os.environ.get("DROP") else 0.0)
        """
    )
    # BOOM=1 raises on even seeds only: fixed seeds (two of bench_boom's six are even), so
    # the ERROR is not left to the draw (all six odd, a PASS, once in 64 runs)
    assert cli("benchmarks", "--seed", "1").exit_code == 0
    monkeypatch.setenv("DROP", "1")
    monkeypatch.setenv("BOOM", "1")
    result = cli("benchmarks", "--json", "r.json", "--junit-xml", "r.xml", "--markdown", "r.md")
    assert result.exit_code == 2
    doc = _valid(_strict_json(Path("r.json").read_text()))
    assert doc["exit_code"] == 2 and doc["counts"] == {"NEW": 0, "PASS": 0, "FAIL": 1, "ERROR": 1}
    cases = {case.name: case for case in next(iter(JUnitXml.fromfile("r.xml")))}
    assert isinstance(cases["bench_drop"].result[0], Failure)
    assert "exploded on" in cases["bench_boom"].result[0].message
    assert "<details><summary><code>bench_drop</code> FAIL" in Path("r.md").read_text()


def test_an_error_before_any_verdict_still_writes_the_reports(project, write_bench, cli):
    write_bench(BENCH_PAIR)
    result = cli("benchmarks", "--bench", "nope", "--json", "r.json", "--junit-xml", "r.xml")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    doc = _valid(_strict_json(Path("r.json").read_text()))
    assert "--bench nope" in doc["error"] and doc["benchmarks"] == [] and doc["exit_code"] == 2
    assert "--bench nope" in Path("r.xml").read_text()


def test_unwritable_report_is_a_clear_error(project, write_bench, cli):
    write_bench(BENCH_PAIR)
    Path("taken").write_text("")
    result = cli("benchmarks", "--junit-xml", "taken/r.xml")
    assert result.exit_code == 2
    # refused before any benchmark runs
    assert result.stderr.splitlines()[-1].startswith("error: --junit-xml taken/r.xml: ")
    assert "not a folder" in result.stderr and not Path(".pybench").exists()


STRICT_BENCH = """
    from pathlib import Path
    def bench_s(seed, *, n_seeds=6):
        Path("ran").touch()
        return 1.0 + seed % 5
"""


@pytest.mark.parametrize("how", ["flag", "env"])
def test_strict_without_a_baseline_is_an_error_and_writes_nothing(
    project, write_bench, cli, monkeypatch, how
):
    write_bench(STRICT_BENCH)
    args = ["benchmarks", "--json", "r.json"]
    if how == "flag":
        args.append("--strict")
    else:
        monkeypatch.setenv("PYBENCH_STRICT", "1")
    result = cli(*args)
    assert result.exit_code == 2
    line = _line(result.stdout, "bench_s")
    assert "ERROR --strict: no stored baseline in .pybench/baselines.jsonl" in line
    assert "`pybench update --bench bench_s`" in line
    assert not Path("ran").exists() and not Path(".pybench").exists()
    doc = _valid(_strict_json(Path("r.json").read_text()))
    assert doc["strict"] is True and doc["benchmarks"][0]["error"]["seed"] is None


def test_strict_with_a_baseline_compares_and_new_benchmarks_fail(project, write_bench, cli):
    write_bench(STRICT_BENCH)
    assert cli("benchmarks").exit_code == 0
    path = project / ".pybench" / "baselines.jsonl"
    before = path.read_bytes()
    assert cli("benchmarks", "--strict").exit_code == 0
    write_bench(BENCH_PAIR, name="bench_more.py")
    result = cli("benchmarks", "--strict")
    assert result.exit_code == 2
    assert "PASS" in _line(result.stdout, "bench_s") and "ERROR" in _line(result.stdout, "bench_a")
    assert path.read_bytes() == before


def test_run_from_a_subdirectory_uses_the_projects_baseline(project, write_bench, cli, monkeypatch):
    write_bench(BENCH_PAIR)
    first = cli("benchmarks")
    assert first.exit_code == 0
    assert first.stderr.splitlines()[0] == "baseline: .pybench/baselines.jsonl (not created yet)"
    monkeypatch.chdir(project / "benchmarks")
    result = cli(".", "--strict")
    assert result.exit_code == 0, result.output
    assert "PASS" in _line(result.stdout, "bench_a")
    root = project / ".pybench" / "baselines.jsonl"
    assert result.stderr.splitlines()[0] == f"baseline: {root} (2 records)"
    assert "baseline:" not in result.stdout
    assert not (project / "benchmarks" / ".pybench").exists()
    assert "bench_a" in cli("show").stdout  # show searches from the current directory up


def test_a_new_baseline_goes_to_the_git_root(project, write_bench, cli, monkeypatch):
    write_bench(BENCH_PAIR)
    _git(project, "init", "-q")
    (project / "benchmarks" / "deeper").mkdir()
    monkeypatch.chdir(project / "benchmarks" / "deeper")
    assert cli("..").exit_code == 0
    assert set(store.load(project / ".pybench" / "baselines.jsonl")) == {"bench_a", "bench_b"}
    assert not (project / "benchmarks" / "deeper" / ".pybench").exists()


def test_baseline_option_still_overrides(project, write_bench, cli):
    write_bench(BENCH_PAIR)
    (project / ".pybench").mkdir()
    result = cli("benchmarks", "--baseline", "ci/b.jsonl")
    assert result.exit_code == 0 and set(store.load(Path("ci/b.jsonl"))) == {"bench_a", "bench_b"}
    assert result.stderr.splitlines()[0] == "baseline: ci/b.jsonl (not created yet)"
    assert not (project / ".pybench" / "baselines.jsonl").exists()


def test_help_lists_the_run_options(cli):
    result = cli("--help")
    assert result.exit_code == 0
    text = result.stdout
    assert "Run options" in text and text.index("Commands:") < text.index("Run options")
    for option in ("--alpha", "--min-effect", "-v, --verbose", "--workers", "--json", "--strict"):
        assert option in text


def test_a_tight_alpha_prints_enough_digits(project, write_bench, cli, monkeypatch):
    write_bench(
        """
        import os
        def bench_tight(seed, *, n_seeds=12):
            drop = 0.2 + (seed % 3) / 1000 if os.environ.get("DROP") else 0.0
            return 1.0 + (seed % 7) / 100 - drop
        """
    )
    assert cli("benchmarks", "--alpha", "0.001").exit_code == 0
    monkeypatch.setenv("DROP", "1")
    result = cli("benchmarks", "--alpha", "0.001", "-v")
    assert result.exit_code == 1
    line = _line(result.stdout, "bench_tight")
    assert line.endswith("meta-p=0.000244")  # 1/4096: every sign vector enumerated
    [row] = [r for r in result.stdout.splitlines() if r.startswith("score")]
    cells = row.split()  # score 0 base current Δ p ✗ p_adj ‼ [low, high]
    p, p_adj = cells[5], cells[7]
    assert cells[6] == "✗" and cells[8] == "‼"
    assert float(p) < 0.001 and float(p_adj) < 0.001
    assert {p, p_adj}.isdisjoint({"0.000", "0.001"})


def test_hints_name_a_custom_path_and_baseline(project, cli):
    suite = project / "suite"
    suite.mkdir()
    bench = suite / "bench_x.py"
    bench.write_text("def bench_x(seed, *, n_seeds=6):\n    return {'acc': seed % 7 / 100}\n")
    assert cli("suite", "--baseline", "b.jsonl").exit_code == 0
    bench.write_text("def bench_x(seed, *, n_seeds=6):\n    return {'auc': seed % 7 / 100}\n")
    result = cli("suite", "--baseline", "b.jsonl")
    assert result.exit_code == 2
    assert "`pybench update suite --baseline b.jsonl --bench bench_x`" in result.stdout


def test_merge_conflict_in_the_baseline_is_named(project, write_bench, cli):
    write_bench(BENCH_PAIR)
    assert cli("benchmarks").exit_code == 0
    path = project / ".pybench" / "baselines.jsonl"
    first, second = path.read_text().splitlines()
    path.write_text(f"<<<<<<< HEAD\n{first}\n=======\n{first}\n>>>>>>> other\n{second}\n")
    result = cli("benchmarks")
    assert result.exit_code == 2
    assert ".pybench/baselines.jsonl:1: git merge-conflict marker" in result.stderr
    assert "resolve the conflict" in result.stderr and "not valid JSON" not in result.stderr


def test_untracked_files_make_a_new_baseline_dirty(project, write_bench, cli):
    write_bench(BENCH_PAIR)
    _git(project, "init", "-q")
    _git(project, "add", "benchmarks")
    _git(project, "commit", "-qm", "benchmarks")
    clean = cli("benchmarks", "--bench", "a")
    assert clean.exit_code == 0 and "warning" not in clean.stderr  # .pybench/ does not count
    (project / "helper.py").write_text("x = 1\n")
    result = cli("benchmarks", "--bench", "b")
    assert result.exit_code == 0
    assert "warning" in result.stderr and "helper.py (untracked)" in result.stderr
    records = store.load(project / ".pybench" / "baselines.jsonl")
    assert records["bench_a"].git_dirty is False and records["bench_b"].git_dirty is True


def test_update_json_says_the_baseline_was_replaced(project, write_bench, cli):
    write_bench(BENCH_PAIR)
    cli("benchmarks")
    result = cli("update", "benchmarks", "--bench", "a", "--yes", "--json", "-")
    doc = _valid(_strict_json(result.stdout))
    assert doc["command"] == "update"
    [bench] = doc["benchmarks"]
    assert bench["status"] == "NEW" and bench["saved"] and bench["replaced"]


# -- running real ML code -----------------------------------------------------------
def _spawn(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``python -m pybench ARGS`` as a real process in the project (for signals)."""
    return subprocess.Popen(
        [sys.executable, "-m", "pybench", *args],
        cwd=project,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})},
    )


def _wait_for_file(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert path.exists(), f"{path} never appeared"


def _running(project: Path) -> set[int]:
    """The seeds of ``SWALLOWING`` that reached their long loop."""
    folder = project / "calls"
    if not folder.exists():
        return set()
    return {int((folder / p.stem).read_text()) for p in folder.glob("*.running")}


def _called(project: Path) -> set[int]:
    """Every seed ``SWALLOWING`` was called on."""
    return {int(p.read_text()) for p in (project / "calls").iterdir() if p.suffix == ""}


def _journal_seeds(project: Path, name: str) -> set[int]:
    path = project / ".pybench" / "journal" / f"{name}.jsonl"
    lines = path.read_text().splitlines()
    entries = [json.loads(line) for line in lines[1:]]
    return {entry["seed"] for entry in entries if "slots" not in entry}  # not the slots' lines


SWALLOWING = """
    import os
    import time
    from pathlib import Path

    def _call_number(seed):
        \"\"\"The order of this call among all calls, in any process (calls/N holds the seed).\"\"\"
        calls = Path("calls")
        calls.mkdir(exist_ok=True)
        n = 0
        while True:
            try:
                fd = os.open(calls / str(n), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                n += 1
                continue
            os.write(fd, str(seed).encode())
            os.close(fd)
            return n

    def bench_x(seed, *, n_seeds=6):
        n = _call_number(seed)
        if n >= 2:  # from the third call on: a long training loop
            for _ in range(600):
                try:
                    Path(f"calls/{n}.running").touch()
                    time.sleep(0.05)
                except KeyboardInterrupt:  # as sklearn's MLP, Lightning, Keras and tqdm loops do
                    Path("swallowed").touch()
                    break
        return float(seed % 7)
"""

QUICK = """
    def bench_a(seed, *, n_seeds=6):
        return float(seed % 5)
"""


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_in_a_benchmark_that_swallows_it_still_stops(project, write_bench, workers):
    write_bench(SWALLOWING, "bench_x.py")
    write_bench(QUICK, "bench_a.py")
    proc = _spawn(project, "benchmarks", "--workers", workers, "--seed", "2")
    deadline = time.monotonic() + 30
    while len(_running(project)) < int(workers) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(_running(project)) == int(workers)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        "interrupted: saved the baselines of bench_a (finished before the interrupt); "
        "nothing else was saved; the seeds that bench_x finished are kept for `--resume`"
    )
    assert set(store.load(project / ".pybench" / "baselines.jsonl")) == {"bench_a"}
    running = _running(project)
    finished = _called(project) - running
    assert running and len(finished) == 2
    assert _journal_seeds(project, "bench_x") == finished  # the interrupted seeds: never stored
    if workers == "1":  # in-process, the benchmark really did catch it and return a value
        assert (project / "swallowed").exists()


def test_a_second_ctrl_c_kills_stubborn_workers_and_exits_at_once(project, write_bench):
    write_bench(
        """
        import os, signal, time
        from pathlib import Path

        def bench_stubborn(seed, *, n_seeds=6):
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # will not stop when asked
            Path("pids").mkdir(exist_ok=True)
            (Path("pids") / str(os.getpid())).touch()
            time.sleep(60)
            return 1.0
        """
    )
    proc = _spawn(project, "benchmarks", "--workers", "2")
    pids = project / "pids"
    deadline = time.monotonic() + 30
    while (not pids.exists() or len(list(pids.iterdir())) < 2) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pids.exists(), proc.communicate(timeout=10)
    workers = [int(p.name) for p in pids.iterdir()]
    assert len(workers) == 2
    proc.send_signal(signal.SIGINT)  # pybench asks the workers to stop; they ignore it
    time.sleep(0.3)
    assert proc.poll() is None
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130 and time.monotonic() - sent < 1.5
    assert "interrupted again: stopped at once" in err and "Traceback" not in err
    deadline = time.monotonic() + 5
    while any(_pid_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_pid_alive(pid) for pid in workers)


def _pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_broken_files_are_error_lines_and_the_rest_still_runs(project, write_bench, cli):
    write_bench(QUICK, "bench_a.py")
    write_bench("import definitely_not_installed_xyz\n", "bench_missing.py")
    write_bench("def bench_s(seed)\n    return 1.0\n", "bench_syntax.py")
    result = cli("benchmarks")
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert lines[0].startswith(
        "benchmarks/bench_missing.py ... ERROR importing the file failed: ModuleNotFoundError: "
        "No module named 'definitely_not_installed_xyz' (line 1) (benchmarks import from"
    )
    assert re.match(
        r"benchmarks/bench_syntax\.py \.\.\. ERROR importing the file failed: SyntaxError: .* "
        r"\(line 1\)$",
        lines[1],
    )
    assert _line(result.stdout, "bench_a") == (
        "bench_a .......... NEW 1 metrics × 1 steps (baseline saved)"
    )
    assert SUMMARY.search(result.stdout).groups() == ("0", "0", "1", "2")
    assert "Traceback" not in result.output
    verbose = cli("benchmarks", "-v")
    assert "Traceback (most recent call last)" in verbose.stdout
    assert "import definitely_not_installed_xyz" in verbose.stdout
    # --bench imports only the files that can define the benchmark: the broken ones are skipped
    chosen = cli("benchmarks", "--bench", "a")
    assert chosen.exit_code == 0 and "ERROR" not in chosen.stdout


NOISY = """
    import os, subprocess, sys, warnings

    def bench_noisy(seed, *, n_seeds=6):
        print(f"epoch 1 of seed {seed}")
        os.write(2, b"native library says hello\\n")
        subprocess.run([sys.executable, "-c", "print('from a data loader')"], check=True)
        warnings.warn("lr schedule is deprecated")
        if os.environ.get("NOISY_FAIL"):
            raise RuntimeError("diverged")
        return float(seed % 3)
"""


@pytest.mark.parametrize("workers", ["1", "2"])
def test_seed_output_is_captured_and_shown_under_an_error(
    project, write_bench, cli, monkeypatch, workers
):
    write_bench(NOISY)
    ok = cli("benchmarks", "--workers", workers)
    assert ok.exit_code == 0 and "epoch" not in ok.output and "hello" not in ok.output
    monkeypatch.setenv("NOISY_FAIL", "1")
    quiet = cli("benchmarks", "--workers", workers)
    assert quiet.exit_code == 2 and "epoch" not in quiet.output
    result = cli("benchmarks", "--workers", workers, "-v")
    seed = re.search(r"ERROR seed (\d+) raised RuntimeError: diverged", result.stdout).group(1)
    out = result.stdout
    assert (
        f"----- captured stdout (seed {seed}) -----\nepoch 1 of seed {seed}\nfrom a data loader\n"
    ) in out
    captured_err = out.split(f"----- captured stderr (seed {seed}) -----\n")[1]
    assert captured_err.startswith("native library says hello\n")
    assert "UserWarning: lr schedule is deprecated" in captured_err


def test_capture_no_lets_output_through(project, write_bench):
    write_bench(NOISY)
    for flag in ("-s", "--capture=no"):
        proc = _spawn(project, "benchmarks", flag, "--baseline", f"b{flag}.jsonl")
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out.count("epoch 1 of seed") == 7 and out.count("from a data loader") == 7
        assert "native library says hello" in err and "lr schedule is deprecated" in err


SLOW_THIRD = """
    import os
    import time
    from pathlib import Path

    def bench_slow(seed, *, n_seeds=6, timeout=1.5):
        calls = Path("calls")
        calls.mkdir(exist_ok=True)
        n = 0
        while True:  # this call's number among all calls, in any process
            try:
                os.close(os.open(calls / str(n), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                break
            except FileExistsError:
                n += 1
        if n == 2:
            time.sleep(60)  # a hung third seed
        return float(seed % 3)
"""


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_seed_past_its_timeout_is_an_error_and_the_others_run(project, write_bench, cli, workers):
    write_bench(SLOW_THIRD, "bench_slow.py")
    write_bench(QUICK, "bench_a.py")
    # the keyword (1.5 s) in a serial run; the flag overrides it with workers
    flag, limit = ([], "1.5s") if workers == "1" else (["--timeout", "1"], "1s")
    started = time.monotonic()
    result = cli("benchmarks", "--workers", workers, *flag)
    assert time.monotonic() - started < 20
    assert result.exit_code == 2
    line = _line(result.stdout, "bench_slow")
    assert re.search(
        rf"ERROR seed \d+ ran past the per-seed timeout of {re.escape(limit)} and was stopped "
        r"\(its worker process was killed\); raise `timeout` \(or --timeout\) if a seed needs "
        r"longer$",
        line,
    )
    if workers == "1":  # the benchmark stopped at its timed-out seed
        assert len(list((project / "calls").iterdir())) == 3
    assert "NEW" in _line(result.stdout, "bench_a")


def test_a_non_deterministic_benchmark_is_warned_about_when_its_baseline_is_made(
    project, write_bench, cli
):
    write_bench(
        """
        import random

        def bench_unseeded(seed, *, n_seeds=6):
            return {"accuracy": 0.9 + random.random() / 100}  # ignores its seed
        """
    )
    result = cli("benchmarks")
    assert result.exit_code == 0
    [warning] = [line for line in result.stderr.splitlines() if "bench_unseeded" in line]
    assert re.match(
        r"warning: bench_unseeded: seed \d+ gave step 0 'accuracy' = 0\.9\d+, then 0\.9\d+ when "
        r"run a second time; pairing runs with the baseline seed for seed needs "
        r"bench_unseeded\(seed\) to be a deterministic function of its seed",
        warning,
    )
    assert "bench_unseeded" not in result.stdout.replace(_line(result.stdout, "bench_unseeded"), "")
    off = cli("update", "benchmarks", "--yes", "--no-check-determinism")
    assert off.exit_code == 0 and "warning" not in off.stderr


def test_verbose_gives_each_benchmark_its_time(project, write_bench, cli):
    write_bench(BENCH_PAIR)
    result = cli("benchmarks", "-v")
    # on stderr: the report's stdout lines stay as they are
    times = [line for line in result.stderr.splitlines() if line.startswith("bench_")]
    assert len(times) == 2
    for name, line in zip(("bench_a", "bench_b"), times, strict=True):
        assert re.fullmatch(
            rf"{name}: 8 seeds in \d+\.\d+m?s \(median \d+\.\d+m?s per seed\)", line
        )
    assert "seeds in" not in result.stdout
    assert "seeds in" not in cli("benchmarks").output
