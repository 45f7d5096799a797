"""Discovery: import benchmark files by path and collect their ``bench_*`` functions."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from . import settings
from .errors import PybenchError
from .settings import KEYWORDS, Settings

__all__ = [
    "Benchmark",
    "DiscoveryError",
    "bench_name",
    "benchmarks_in",
    "discover",
    "load_benchmark",
    "select",
]


class DiscoveryError(PybenchError):
    """A path, a benchmark file or a benchmark's configuration that cannot be used."""


@dataclass(frozen=True)
class Benchmark:
    """One ``bench_*`` function and its configuration."""

    name: str
    path: Path
    func: Callable[[int], Any]
    defaults: Settings = Settings()
    """The settings its keyword arguments declare (before command-line overrides)."""


def _module_name(path: Path) -> str:
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"_pybench_{stem}_{digest}"


def _user_traceback(exc: BaseException, path: Path) -> str:
    """The last line of ``exc`` with the line of ``path`` where it surfaced, if any."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    where = f" (line {frames[-1].lineno})" if frames else ""
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return f"{last}{where}"


def load_module(path: Path) -> ModuleType:
    """Import the Python file at ``path`` as a fresh module, without writing bytecode.

    The file's folder is put on ``sys.path`` so it can import sibling modules.

    Raises:
        DiscoveryError: if importing the file raises.
    """
    path = path.resolve()
    name = _module_name(path)
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise DiscoveryError(f"{path}: cannot be imported as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    saved = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        # Compile the source ourselves: no cached bytecode is read or written, so an
        # edit made a moment ago is always seen.
        code = compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
        exec(code, module.__dict__)
    except Exception as exc:  # the user's code: any exception is theirs
        sys.modules.pop(name, None)
        raise DiscoveryError(
            f"{path}: importing the file failed: {_user_traceback(exc, path)}"
        ) from exc
    finally:
        sys.dont_write_bytecode = saved
    return module


def _config(name: str, func: Callable[..., Any]) -> Settings:
    """Read and check the keyword-only configuration defaults of a benchmark."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise DiscoveryError(f"{name}: cannot read its signature ({exc})") from exc
    params = list(signature.parameters.values())
    positional = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    if not positional:
        raise DiscoveryError(f"{name}: must take the seed as its first argument: def {name}(seed)")
    required = [
        p
        for p in params[1:]
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if required:
        raise DiscoveryError(
            f"{name}: argument {required[0].name!r} has no default; pybench passes only the seed,"
            " so give every other argument a default"
        )
    declared = {
        p.name: p.default for p in params if p.name in KEYWORDS and p.default is not p.empty
    }
    try:
        return settings.check(name, declared)
    except settings.SettingsError as exc:
        raise DiscoveryError(str(exc)) from None


def _benchmark_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    skip = {"__pycache__", ".git", ".venv", "venv", "node_modules", ".pybench"}
    return sorted(
        p
        for p in root.rglob("*.py")
        if not any(part in skip or part.startswith(".") for part in p.relative_to(root).parts[:-1])
    )


def load_benchmark(path: Path, name: str) -> Callable[[int], Any]:
    """Import ``path`` and return its function ``name`` (used by worker processes)."""
    func = getattr(load_module(path), name, None)
    if not callable(func):
        raise DiscoveryError(f"{path}: has no function {name!r}")
    return func


def benchmarks_in(path: Path) -> list[Benchmark]:
    """Import the Python file ``path`` and collect the ``bench_*`` functions it defines.

    A function imported from elsewhere is left to the file that defines it.

    Raises:
        DiscoveryError: if the file fails to import or a configuration is invalid.
    """
    module = load_module(path)
    found = []
    for attr, func in vars(module).items():
        if not attr.startswith("bench_") or not inspect.isfunction(func):
            continue
        if func.__module__ != module.__name__:
            continue  # imported from elsewhere, collected where it is defined
        found.append(
            Benchmark(name=attr, path=path.resolve(), func=func, defaults=_config(attr, func))
        )
    return found


def discover(root: Path) -> list[Benchmark]:
    """Collect every ``bench_*`` function defined in the Python files under ``root``.

    Args:
        root: a folder (searched recursively) or a single ``.py`` file.

    Returns:
        The benchmarks, sorted by name.

    Raises:
        DiscoveryError: if the path does not exist, a file fails to import, two
            files define the same name, a configuration is invalid, or nothing is found.
    """
    if not root.exists():
        raise DiscoveryError(
            f"{root}: no such file or folder; pass the folder holding your bench_*.py files"
        )
    if root.is_file() and root.suffix != ".py":
        raise DiscoveryError(f"{root}: not a Python file; pass a .py file or a folder")
    found: dict[str, Benchmark] = {}
    for path in _benchmark_files(root):
        for bench in benchmarks_in(path):
            if bench.name in found:
                raise DiscoveryError(
                    f"{bench.name}: defined in both {found[bench.name].path} and {path}; "
                    "rename one of them"
                )
            found[bench.name] = bench
    if not found:
        raise DiscoveryError(f"{root}: no bench_* functions found")
    return [found[name] for name in sorted(found)]


def bench_name(name: str) -> str:
    """The full benchmark name for ``name`` given as ``bench_x`` or just ``x``."""
    return name if name.startswith("bench_") else f"bench_{name}"


def select(benchmarks: list[Benchmark], names: tuple[str, ...]) -> list[Benchmark]:
    """Keep the benchmarks named in ``names`` (``bench_x`` or just ``x``); all when empty.

    Raises:
        DiscoveryError: if a name matches no benchmark.
    """
    if not names:
        return benchmarks
    by_name = {b.name: b for b in benchmarks}
    chosen: dict[str, Benchmark] = {}
    for name in names:
        key = name if name in by_name else bench_name(name)
        if key not in by_name:
            known = ", ".join(by_name)
            raise DiscoveryError(f"--bench {name}: no such benchmark (found: {known})")
        chosen[key] = by_name[key]
    return [chosen[name] for name in sorted(chosen)]
