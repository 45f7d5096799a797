"""Checks made before any seed runs, so a report cannot fail only once the work is done.

:func:`preflight` takes the report options of a command line. For each path it
checks that the file could be written (not a folder, not pybench's own baseline,
lock or journal, its nearest existing folder writable); for ``--html`` it checks
that matplotlib imports, and when it does not, says how to install pybench's
``html`` extra in the user's setup (a uv project or pip).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

from . import ReportError

__all__ = ["install_command", "preflight"]

_WHAT = {
    "json_path": "--json",
    "junit_path": "--junit-xml",
    "markdown_path": "--markdown",
    "html_path": "--html",
}
_EXTRAS = {"html_path": ("matplotlib", "html")}


def _source() -> tuple[str, bool]:
    """Where pybench was installed from (a folder, a URL, or its name) and if editable."""
    from importlib import metadata

    try:
        text = metadata.distribution("pybench").read_text("direct_url.json")
    except (metadata.PackageNotFoundError, OSError):
        text = None
    try:
        info = json.loads(text) if text else {}
    except ValueError:
        info = {}
    url = info.get("url") if isinstance(info, dict) else None
    if not isinstance(url, str):
        return "pybench", False
    editable = bool((info.get("dir_info") or {}).get("editable"))
    if url.startswith("file://"):
        path = Path(unquote(urlparse(url).path))
        try:
            return os.path.relpath(path), editable
        except ValueError:
            return str(path), editable
    return url, editable


def _uv_project(start: Path) -> Path | None:
    """The nearest folder above ``start`` holding both ``pyproject.toml`` and ``uv.lock``."""
    for folder in (start, *start.parents):
        if (folder / "uv.lock").is_file() and (folder / "pyproject.toml").is_file():
            return folder
    return None


def install_command(extra: str, cwd: Path | None = None) -> str:
    """The command that installs pybench's ``extra`` for the project at ``cwd``."""
    here = (cwd or Path.cwd()).resolve()
    project = _uv_project(here)
    source, editable = _source()
    if project is not None:
        try:
            own = '"pybench"' in (project / "pyproject.toml").read_text(encoding="utf-8")[:2000]
        except OSError:
            own = False
        if own and (project / "src" / "pybench").is_dir():
            return f"uv sync --extra {extra}"
        return f"uv add {'--editable ' if editable else ''}{source} --extra {extra}"
    if "://" in source:
        target = f"'pybench[{extra}] @ {source}'"
    else:
        target = f"{'-e ' if editable else ''}'{source}[{extra}]'"
    return f"{Path(sys.executable).name} -m pip install {target}"


def _writable(option: str, target: Path, protected: Sequence[Path]) -> None:
    """Refuse a report path that cannot be written or would overwrite pybench's own files."""
    absolute = Path(os.path.abspath(target))
    flag = _WHAT[option]
    for own in protected:
        mine = Path(os.path.abspath(own))
        if absolute == mine or absolute.is_relative_to(mine) or (
            absolute.exists() and own.exists() and absolute.samefile(own)
        ):
            raise ReportError(
                f"{flag} {target}: is pybench's own file ({own.name}); choose another path"
            )
    if absolute.is_dir():
        raise ReportError(f"{flag} {target}: is a folder; give a file path")
    folder = absolute.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise ReportError(f"{flag} {target}: {folder} is not a folder; choose another path")
    if absolute.exists() and not os.access(absolute, os.W_OK):
        raise ReportError(f"{flag} {target}: cannot be written (permission denied)")
    if not absolute.exists() and not os.access(folder, os.W_OK | os.X_OK):
        raise ReportError(f"{flag} {target}: cannot create files in {folder} (permission denied)")


def _own_files(baseline: Path | None) -> list[Path]:
    """The baseline, its lock and its journal folder: files no report may overwrite."""
    if baseline is None:
        return []
    from ..storage.journal import Journal
    from ..storage.store import lock_path

    return [baseline, lock_path(baseline), Journal.beside(baseline).folder]


def preflight(options: Mapping[str, object], *, baseline: Path | None = None) -> None:
    """Check every report a command line asks for, before anything runs.

    Args:
        options: the command line's report options (``json_path``, ``junit_path``,
            ``markdown_path``, ``html_path``; ``None`` or missing: not asked for;
            ``-``: stdout).
        baseline: the run's baseline file: no report may overwrite it, its lock or
            a journal.

    Raises:
        ReportError: one line naming the option, the path and how to fix it.
    """
    for option in _WHAT:
        target = options.get(option)
        if target is None:
            continue
        if option in _EXTRAS:
            module, extra = _EXTRAS[option]
            if importlib.util.find_spec(module) is None:
                raise ReportError(
                    f"{_WHAT[option]} needs {module}, which is not installed; install "
                    f"pybench's '{extra}' extra: {install_command(extra)}"
                )
        if str(target) != "-":
            _writable(option, Path(str(target)), _own_files(baseline))
