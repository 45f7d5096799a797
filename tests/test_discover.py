"""Discovery: which functions are collected, their configuration, and import hygiene."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from pybench.sources.discover import DiscoveryError, collect, discover, select


def _write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def test_collects_defined_bench_functions_in_name_order(tmp_path):
    _write(tmp_path / "helpers.py", "def bench_helper(seed):\n    return 1.0\nOFFSET = 0.5\n")
    _write(
        tmp_path / "sub" / "bench_z.py",
        """
        import sys, os
        sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))
        from helpers import bench_helper, OFFSET   # imported: not collected again here
        def bench_zeta(seed):
            return OFFSET
        def not_a_bench(seed):
            return 0.0
        bench_value = 3
        """,
    )
    _write(tmp_path / "bench_a.py", "def bench_alpha(seed):\n    return 1.0\n")
    names = [b.name for b in discover(tmp_path)]
    assert names == ["bench_alpha", "bench_helper", "bench_zeta"]


def test_sibling_imports_and_single_file(tmp_path):
    _write(tmp_path / "util.py", "VALUE = 0.25\n")
    path = _write(
        tmp_path / "bench_x.py", "from util import VALUE\ndef bench_x(seed):\n    return VALUE\n"
    )
    [bench] = discover(path)
    assert bench.func(1) == 0.25


def test_config_keywords(tmp_path):
    _write(
        tmp_path / "bench_c.py",
        """
        def bench_c(seed, *, n_seeds=12, alpha=0.01, min_effect=0.02, workers=2, gpus=(0, 1)):
            return 1.0
        def bench_d(seed):
            return 1.0
        """,
    )
    c, d = discover(tmp_path)
    c, d = c.defaults, d.defaults
    assert (c.n_seeds, c.alpha, c.min_effect, c.workers, c.gpus) == (12, 0.01, 0.02, 2, (0, 1))
    assert (d.n_seeds, d.alpha, d.min_effect, d.workers, d.gpus) == (30, 0.05, None, 1, None)


@pytest.mark.parametrize(
    "signature, needle",
    [
        ("seed, *, n_seeds=1", "n_seeds=1"),
        ("seed, *, alpha=1.5", "alpha=1.5"),
        ("seed, *, min_effect=-0.1", "min_effect=-0.1"),
        ("seed, *, workers=0", "workers=0"),
        ("seed, *, gpus='0,1'", "gpus='0,1'"),
        ("seed, *, n_seeds=True", "n_seeds=True"),
        ("", "seed as its first argument"),
        ("seed, scale", "'scale' has no default"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, signature, needle):
    _write(tmp_path / "bench_bad.py", f"def bench_bad({signature}):\n    return 1.0\n")
    with pytest.raises(DiscoveryError, match="bench_bad") as info:
        discover(tmp_path)
    assert needle in str(info.value)


def test_duplicate_names_are_an_error(tmp_path):
    _write(tmp_path / "one.py", "def bench_same(seed):\n    return 1.0\n")
    _write(tmp_path / "two.py", "def bench_same(seed):\n    return 2.0\n")
    with pytest.raises(DiscoveryError, match="bench_same: defined in both"):
        discover(tmp_path)


def test_import_failures_name_the_file(tmp_path):
    _write(tmp_path / "bench_broken.py", "import definitely_not_a_module_xyz\n")
    with pytest.raises(DiscoveryError, match="bench_broken.py.*ModuleNotFoundError"):
        discover(tmp_path)
    _write(tmp_path / "bench_broken.py", "def bench_x(seed)\n    return 1\n")
    with pytest.raises(DiscoveryError, match=r"SyntaxError: .*\(line 1\)"):
        discover(tmp_path)


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(DiscoveryError, match="no such file or folder"):
        discover(tmp_path / "nope")
    with pytest.raises(DiscoveryError, match="no bench_\\* functions"):
        discover(tmp_path)


def test_no_bytecode_and_fresh_edits(tmp_path):
    _write(tmp_path / "helper_mod.py", "X = 1\n")
    path = _write(
        tmp_path / "bench_e.py", "import helper_mod\ndef bench_e(seed):\n    return 1.0\n"
    )
    [bench] = discover(tmp_path)
    assert bench.func(0) == 1.0
    # the same size and (likely) the same second: still the new code
    path.write_text("import helper_mod\ndef bench_e(seed):\n    return 2.0\n")
    [bench] = discover(tmp_path)
    assert bench.func(0) == 2.0
    assert not any(p.name == "__pycache__" for p in tmp_path.rglob("*")), os.listdir(tmp_path)


def test_select(tmp_path):
    _write(
        tmp_path / "b.py",
        "def bench_a(seed):\n    return 1.0\ndef bench_b(seed):\n    return 1.0\n",
    )
    benches = discover(tmp_path)
    assert [b.name for b in select(benches, ("b", "bench_a"))] == ["bench_a", "bench_b"]
    assert select(benches, ()) == benches
    with pytest.raises(DiscoveryError, match="--bench c: no such benchmark"):
        select(benches, ("c",))


# -- collection errors per file ----------------------------------------------------
def test_collect_keeps_going_past_broken_files_and_names_each(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "b" / "bench_good.py", "def bench_good(seed):\n    return 1.0\n")
    _write(tmp_path / "b" / "bench_missing.py", "import definitely_not_a_module_xyz\n")
    _write(tmp_path / "b" / "bench_syntax.py", "def bench_x(seed)\n    return 1\n")
    _write(
        tmp_path / "b" / "bench_raises.py",
        """
        def helper():
            raise RuntimeError("data set not found")

        helper()
        """,
    )
    _write(tmp_path / "b" / "bench_cfg.py", "def bench_cfg(seed, *, n_seeds=1):\n    return 1.0\n")
    found = collect(tmp_path / "b")
    assert [b.name for b in found.benchmarks] == ["bench_good"]
    errors = {e.label: e for e in found.errors}
    assert sorted(errors) == [
        "b/bench_missing.py",
        "b/bench_raises.py",
        "b/bench_syntax.py",
        "bench_cfg",
    ]
    missing = errors["b/bench_missing.py"]
    assert missing.message.startswith(
        "importing the file failed: ModuleNotFoundError: "
        "No module named 'definitely_not_a_module_xyz' (line 1) (benchmarks import from their"
        " folder, then the project's src/ and root: "
    )
    assert missing.message.endswith("lives elsewhere, e.g. `pip install -e .`)")
    assert missing.name is None and missing.path == (tmp_path / "b" / "bench_missing.py")
    raises = errors["b/bench_raises.py"]
    assert raises.message.endswith("RuntimeError: data set not found (line 3)")
    # the user's traceback, from their module down to the raise, without pybench's frames
    assert raises.traceback.startswith("Traceback (most recent call last):")
    assert "line 5, in <module>" in raises.traceback and "in helper" in raises.traceback
    assert "pybench" not in raises.traceback
    assert "SyntaxError" in errors["b/bench_syntax.py"].message
    assert errors["bench_cfg"].message == "n_seeds=1 must be an int >= 2"
    # the strict form still stops at the first
    with pytest.raises(DiscoveryError, match="bench_cfg: n_seeds=1"):
        discover(tmp_path / "b")


def test_bench_imports_only_the_files_that_can_define_it(tmp_path):
    _write(tmp_path / "bench_a.py", "def bench_a(seed):\n    return 1.0\n")
    _write(
        tmp_path / "bench_b.py",
        "from pathlib import Path\nPath(__file__).with_name('imported-b').touch()\n"
        "def bench_b(seed):\n    return 1.0\n",
    )
    _write(tmp_path / "bench_broken.py", "raise ImportError('no GPU here')\n")
    found = collect(tmp_path, ("a",))
    assert [b.name for b in found.benchmarks] == ["bench_a"] and found.errors == []
    assert not (tmp_path / "imported-b").exists()
    # a name that could be hidden in a broken file: the broken file is the report
    _write(tmp_path / "bench_c.py", "import nope\ndef bench_c(seed):\n    return 1.0\n")
    found = collect(tmp_path, ("bench_c",))
    assert found.benchmarks == [] and [e.label for e in found.errors] == [
        str(tmp_path / "bench_c.py")
    ]
    # a name defined nowhere: the known names come from the files' text
    with pytest.raises(DiscoveryError, match=r"--bench zz: no such benchmark \(found: bench_a, "):
        collect(tmp_path, ("zz",))
