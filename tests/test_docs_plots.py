"""Every documentation plot script runs headless and writes a real PNG.

The scripts need matplotlib, which lives in the ``docs`` dependency group only, so
each runs in a subprocess under ``uv run --group docs`` with the Agg backend.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PLOTS = REPO / "docs" / "plots"
STATIC = REPO / "docs" / "_static"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

SCRIPTS = {  # script -> (figure it writes, its size in pixels at 150 dpi)
    "sample_curves.py": ("sample_curves.png", (900, 525)),
    "regimes.py": ("regimes.png", (1350, 480)),
    "rejection_rates.py": ("rejection_rates.png", (1350, 600)),
    "power.py": ("power.png", (900, 525)),
}


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_every_plot_script_is_covered() -> None:
    assert sorted(p.name for p in PLOTS.glob("*.py")) == sorted(SCRIPTS)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_plot_script_writes_png(script: str, tmp_path: Path) -> None:
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv is needed to run the plot scripts in the docs dependency group"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    env.pop("DISPLAY", None)
    out = tmp_path / "figures"
    proc = subprocess.run(
        [uv, "run", "--group", "docs", "python", str(PLOTS / script), str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    name, size = SCRIPTS[script]
    png = out / name
    assert png.is_file()
    assert png.stat().st_size > 20_000  # a drawn figure, not an empty canvas
    assert _png_size(png) == size
    assert [p.name for p in out.iterdir()] == [name]


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_committed_figure_exists(script: str) -> None:
    """The docs use the committed figures; each script's output is there."""
    name, size = SCRIPTS[script]
    assert _png_size(STATIC / name) == size
