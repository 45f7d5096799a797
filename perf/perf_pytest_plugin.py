"""What the pytest plugin costs a pytest run that does not ask for ``--pybench``.

Run from the repository root::

    uv run python perf/perf_pytest_plugin.py

In a temporary project holding one ordinary test file, it prints:

- the modules of pybench, numpy, rich and click loaded by ``pytest --co -q``
  (expected: ``pybench`` and ``pybench.pytest_plugin`` only);
- the import time of ``pybench.pytest_plugin`` after ``import pytest``, from
  ``python -X importtime`` (pytest loads plugins through ``importlib``, which
  ``-X importtime`` does not report, so the import is timed on its own),
  median of 5;
- the wall time of ``pytest --co -q`` with the plugin and with ``-p no:pybench``,
  interleaved, median of 5, and their difference (run on an idle machine: the
  difference is far below the run-to-run noise of a loaded one).

Each figure is measured "as is" and "bytecode cached" (``PYTHONDONTWRITEBYTECODE``
unset, ``PYTHONPYCACHEPREFIX`` in a temporary folder, warmed once), as in
``perf_cli.py``.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
REPEATS = 5

CONFTEST = """
import sys
WATCHED = ("pybench", "numpy", "rich", "click")
def pytest_unconfigure(config):
    names = sorted(m for m in sys.modules if m.split(".")[0] in WATCHED)
    print("LOADED", ",".join(names))
"""


def _environments(tmp: Path) -> dict[str, dict[str, str]]:
    as_is = dict(os.environ)
    as_is.pop("PYTEST_ADDOPTS", None)
    cached = dict(as_is)
    cached.pop("PYTHONDONTWRITEBYTECODE", None)
    cached["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    return {"as is": as_is, "bytecode cached": cached}


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(
        [str(PYTHON), *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return elapsed, proc.stdout + proc.stderr


def _import_us(cwd: Path, env: dict[str, str]) -> float:
    """Cumulative import time of the plugin module, in microseconds."""
    _, out = _run(
        ["-X", "importtime", "-c", "import pytest; import pybench.pytest_plugin"], cwd, env
    )
    line = next(row for row in out.splitlines() if row.endswith("| pybench.pytest_plugin"))
    return float(re.split(r"\s*\|\s*", line.split(":", 1)[1])[1])


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        project = tmp / "project"
        project.mkdir()
        (project / "test_one.py").write_text("def test_one():\n    pass\n")
        (project / "conftest.py").write_text(CONFTEST)
        collect = ["-m", "pytest", "--co", "-q", "-s", "-p", "no:cacheprovider"]
        for label, env in _environments(tmp).items():
            _run(collect, project, env)  # warm the bytecode cache
            _, out = _run(collect, project, env)
            loaded = next(row for row in out.splitlines() if row.startswith("LOADED"))
            imports = statistics.median(_import_us(project, env) for _ in range(REPEATS))
            with_plugin, without = [], []
            for _ in range(REPEATS):
                with_plugin.append(_run(collect, project, env)[0])
                without.append(_run([*collect, "-p", "no:pybench"], project, env)[0])
            on, off = statistics.median(with_plugin), statistics.median(without)
            print(f"[{label}]")
            print(f"  modules loaded by pytest --co: {loaded.removeprefix('LOADED ')}")
            print(f"  import of pybench.pytest_plugin after pytest: {imports / 1000:.2f} ms")
            print(
                f"  pytest --co -q: {on * 1000:.0f} ms with the plugin, {off * 1000:.0f} ms "
                f"with -p no:pybench, difference {(on - off) * 1000:+.0f} ms "
                f"(median of {REPEATS})"
            )


if __name__ == "__main__":
    main()
