"""Shipping a benchmark: what is packed, and importing it where the files do not exist."""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pybench.execution.bundle import BundleError, load, pack
from pybench.execution.evaluate import evaluate_seed
from pybench.sources.discover import DiscoveryError, module_name


def _write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def _folder(tmp_path: Path, tag: str) -> Path:
    """A benchmark folder whose helper names are unique to this test (they share sys.modules)."""
    folder = tmp_path / "benchmarks"
    _write(
        folder / f"bench_{tag}.py",
        f"""
        import os
        import numpy as np
        import {tag}_helpers

        def bench_{tag}(seed):
            import click  # imported inside the function: still an import of the file
            from {tag}_tools.scale import factor
            return {tag}_helpers.score(seed) * factor()

        def _never_called():
            from . import unused  # relative: not followed (a benchmark file has no package)
        """,
    )
    _write(
        folder / f"{tag}_helpers.py",
        f"""
        import {tag}_tools
        import yaml

        def score(seed):
            return seed + {tag}_tools.BASE
        """,
    )
    _write(folder / f"{tag}_tools" / "__init__.py", "BASE = 0.5\n")
    _write(folder / f"{tag}_tools" / "scale.py", "def factor():\n    return 2.0\n")
    _write(folder / f"{tag}_tools" / "__pycache__" / "junk.py", "raise SystemExit\n")
    _write(folder / "bench_other.py", "def bench_other(seed):\n    return 1.0\n")
    _write(folder / "unused.py", "X = 1\n")
    return folder


def test_pack_follows_imports_to_sibling_modules_and_packages(tmp_path):
    folder = _folder(tmp_path, "packa")
    bundle = pack(folder / "bench_packa.py")
    path = (folder / "bench_packa.py").resolve()
    assert bundle.main.module == module_name(path) and bundle.main.path == str(path)
    assert bundle.main.source == path.read_bytes()
    shipped = {(f.module, Path(f.path).relative_to(folder.resolve()).as_posix(), f.package)
               for f in bundle.helpers}  # fmt: skip
    assert shipped == {
        ("packa_helpers", "packa_helpers.py", False),
        ("packa_tools", "packa_tools/__init__.py", True),
        ("packa_tools.scale", "packa_tools/scale.py", False),
    }
    # installed packages imported by any shipped file; not the standard library, not siblings
    assert bundle.imports == ("click", "numpy", "yaml")


def test_digests_follow_the_sources(tmp_path):
    folder = _folder(tmp_path, "digest")
    first = pack(folder / "bench_digest.py")
    assert pack(folder / "bench_digest.py") == first
    (folder / "unused.py").write_text("X = 2\n")
    assert pack(folder / "bench_digest.py").digest == first.digest  # not shipped, not counted

    (folder / "digest_tools" / "scale.py").write_text("def factor():\n    return 3.0\n")
    helper_changed = pack(folder / "bench_digest.py")
    assert helper_changed.digest != first.digest
    assert helper_changed.file_digest == first.file_digest

    (folder / "bench_digest.py").write_text("def bench_digest(seed):\n    return 1.0\n")
    assert pack(folder / "bench_digest.py").file_digest != first.file_digest


def test_an_unreadable_file_is_a_clear_error(tmp_path):
    with pytest.raises(BundleError, match=r"bench_gone\.py: cannot read the benchmark file"):
        pack(tmp_path / "bench_gone.py")


_RUN_ELSEWHERE = """
import os, pickle, sys
from pybench.execution.bundle import load
bundle = pickle.load(open(sys.argv[1], "rb"))
func = load(bundle, sys.argv[2])
module = sys.modules[func.__module__]
helpers = sys.modules["away_helpers"]
print(func(3), module.__name__, module.__file__, helpers.__file__, sorted(os.listdir(".")))
"""


def test_a_fresh_process_runs_the_bundle_after_the_folder_is_gone(tmp_path):
    folder = _folder(tmp_path, "away")
    path = (folder / "bench_away.py").resolve()
    (tmp_path / "bundle.pickle").write_bytes(pickle.dumps(pack(path)))
    shutil.rmtree(folder)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", _RUN_ELSEWHERE, str(tmp_path / "bundle.pickle"), "bench_away"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    value, name, file, helper_file, listing = proc.stdout.split(" ", 4)
    assert float(value) == (3 + 0.5) * 2.0
    assert name == module_name(path)  # the module name discovery gives it
    assert file == str(path) and helper_file == str(path.parent / "away_helpers.py")
    assert listing.strip() == "[]"  # nothing written where it ran
    assert not folder.exists()


def test_a_new_version_of_a_helper_replaces_the_old_one(tmp_path):
    folder = _folder(tmp_path, "edit")
    first = load(pack(folder / "bench_edit.py"), "bench_edit")
    (folder / "edit_helpers.py").write_text(
        "import edit_tools\n\ndef score(seed):\n    return seed + 100 + edit_tools.BASE\n"
    )
    bundle = pack(folder / "bench_edit.py")
    shutil.rmtree(folder)  # everything comes from the bundle
    second = load(bundle, "bench_edit")
    assert (first(1), second(1)) == (3.0, 203.0)
    assert load(bundle, "bench_edit") is second  # cached per digest


def test_module_level_code_sees_the_forwarded_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("PYBENCH_T_VARIANT", raising=False)
    path = _write(
        tmp_path / "bench_variant.py",
        """
        import os
        VARIANT = os.environ.get("PYBENCH_T_VARIANT", "none")

        def bench_variant(seed):
            return {"a": 1.0, "b": 2.0, "none": 0.0}[VARIANT]
        """,
    )
    bundle = pack(path)
    assert load(bundle, "bench_variant", {"PYBENCH_T_VARIANT": "a"})(0) == 1.0
    assert load(bundle, "bench_variant", {"PYBENCH_T_VARIANT": "b"})(0) == 2.0
    assert load(bundle, "bench_variant")(0) == 0.0


def test_tracebacks_show_the_shipped_lines_and_import_errors_are_reported(tmp_path):
    path = _write(
        tmp_path / "bench_raises.py",
        """
        def bench_raises(seed):
            raise ValueError(f"bad {seed}")  # shipped line
        """,
    )
    bundle = pack(path)
    path.write_text("# the file on disk is another one now\n")
    outcome = evaluate_seed(load(bundle, "bench_raises"), 0, 7)
    assert outcome.failure is not None and outcome.failure.message == "raised ValueError: bad 7"
    assert f'File "{path.resolve()}", line 3, in bench_raises' in outcome.failure.traceback
    assert "# shipped line" in outcome.failure.traceback

    broken = pack(_write(tmp_path / "bench_syntax.py", "def bench_syntax(seed)\n    return 1\n"))
    with pytest.raises(DiscoveryError, match=r"bench_syntax\.py: importing the file failed: Syn"):
        load(broken, "bench_syntax")
    with pytest.raises(DiscoveryError, match="has no function 'bench_nope'"):
        load(bundle, "bench_nope")
