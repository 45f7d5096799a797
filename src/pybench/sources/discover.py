"""Discovery: import benchmark files by path and collect their ``bench_*`` functions.

:func:`collect` is what a run uses: a file that fails to import, or a benchmark
whose keyword configuration is invalid, becomes a :class:`CollectionError`
(reported as an ERROR line) while the other files' benchmarks still run.
:func:`discover` is the strict form that raises on the first such error.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import inspect
import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from ..core import settings
from ..core.benchmark import Benchmark, bench_name
from ..core.errors import PybenchError
from ..core.settings import KEYWORDS, Settings
from ..core.tracebacks import one_line, user_traceback
from . import shadow

__all__ = [
    "Collection",
    "CollectionError",
    "DiscoveryError",
    "ImportFailedError",
    "NothingFoundError",
    "add_import_roots",
    "benchmarks_in",
    "collect",
    "discover",
    "files_to_import",
    "function_in",
    "load_benchmark",
    "select",
]


class DiscoveryError(PybenchError):
    """A path, a benchmark file or a benchmark's configuration that cannot be used."""


class NothingFoundError(DiscoveryError):
    """The path holds no ``bench_*`` function at all."""


class ImportFailedError(DiscoveryError):
    """Importing a benchmark file raised.

    Attributes:
        path: the file.
        summary: the exception in one line, with the file's line where it surfaced.
        detail: the traceback, without pybench's own frames.
    """

    def __init__(self, path: Path, summary: str, detail: str):
        super().__init__(f"{path}: importing the file failed: {summary}")
        self.path = path
        self.summary = summary
        self.detail = detail


def module_name(path: Path) -> str:
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"_pybench_{stem}_{digest}"


def summary(exc: BaseException, path: Path) -> str:
    """The last line of ``exc`` with the line of ``path`` where it surfaced, if any."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    where = f" (line {frames[-1].lineno})" if frames else ""
    if "shown_as" in type(exc).__dict__:  # pybench's stand-in (a refused os._exit)
        return f"{one_line(exc)}{where}"
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return f"{last}{where}"


def _import_hint(roots: Sequence[Path]) -> str:
    """What follows a ``ModuleNotFoundError``: the import rule for this file, and the fix."""
    return (
        f" (benchmarks import from their folder, then the project's src/ and root: {roots[-1]};"
        " install a package that lives elsewhere, e.g. `pip install -e .`)"
    )


def add_import_roots(path: Path) -> list[Path]:
    """Put the folders the file at ``path`` imports from first on ``sys.path`` (those not
    there yet), as :func:`load_module` does before importing it; the folders."""
    path = path.resolve()
    roots = [path.parent] if shadow.active() else shadow.import_roots(path)
    missing = [str(root) for root in roots if str(root) not in sys.path]
    sys.path[:0] = missing
    return roots


def load_module(path: Path) -> ModuleType:
    """Import the Python file at ``path`` as a fresh module, without writing bytecode.

    The folders of :data:`pybench.sources.shadow.IMPORT_RULE` go first on ``sys.path``
    (the file's folder, so it can import sibling modules, then the project's ``src/``
    and root), unless this process imports a checkout's code (:func:`shadow.active`),
    whose folders are then already first.

    Raises:
        ImportFailedError: if importing the file raises (or exits).
    """
    path = path.resolve()
    name = module_name(path)
    roots = add_import_roots(path)
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
    except (Exception, SystemExit) as exc:  # the user's code: any exception is theirs
        sys.modules.pop(name, None)
        said = summary(exc, path)
        if isinstance(exc, ModuleNotFoundError):
            said += _import_hint(roots)
        raise ImportFailedError(path, said, user_traceback(exc)) from exc
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


def function_in(module: ModuleType, path: Path, name: str) -> Callable[[int], Any]:
    """The function ``name`` of ``module``, imported from ``path`` (used by worker processes).

    Raises:
        DiscoveryError: the module has no such function.
    """
    func = getattr(module, name, None)
    if not callable(func):
        raise DiscoveryError(f"{path}: has no function {name!r}")
    return cast("Callable[[int], Any]", func)


def load_benchmark(path: Path, name: str) -> Callable[[int], Any]:
    """Import ``path`` and return its function ``name``."""
    return function_in(load_module(path), path, name)


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


@dataclass(frozen=True)
class CollectionError:
    """A file that failed to import, or a benchmark whose configuration is invalid."""

    path: Path
    """The file."""
    message: str
    """One line: what went wrong."""
    traceback: str = ""
    """The user's traceback, for a file that raised while importing."""
    name: str | None = None
    """The benchmark, for an invalid configuration; ``None`` for a file that failed to import."""
    stdout: str = ""
    """What importing the file printed, when it was captured."""
    stderr: str = ""

    @property
    def label(self) -> str:
        """What the report line names: the benchmark, or the file (relative when under the
        working directory)."""
        if self.name is not None:
            return self.name
        relative = os.path.relpath(self.path)
        return str(self.path) if relative.startswith("..") else relative


@dataclass(frozen=True)
class Collection:
    """What :func:`collect` found: benchmarks by name, and what could not be collected."""

    benchmarks: list[Benchmark]
    errors: list[CollectionError]


def _mentions(path: Path, names: set[str]) -> bool:
    """Could the file at ``path`` define one of ``names``? (A cheap look before importing it.)"""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True  # let the import report it
    return any(re.search(rf"\b{re.escape(name)}\b", text) for name in names)


_DEF = re.compile(r"^(?:async\s+)?def\s+(bench_\w+)", re.M)


def _defined_names(paths: list[Path]) -> list[str]:
    """The ``bench_*`` functions the files define at top level, read from their text."""
    names: set[str] = set()
    for path in paths:
        with contextlib.suppress(OSError):
            names.update(_DEF.findall(path.read_text(encoding="utf-8", errors="replace")))
    return sorted(names)


def _check_root(root: Path, shown: Callable[[Path], str] = str) -> None:
    if not root.exists():
        raise DiscoveryError(
            f"{shown(root)}: no such file or folder; pass the folder holding your bench_*.py files"
        )
    if root.is_file() and root.suffix != ".py":
        raise DiscoveryError(f"{shown(root)}: not a Python file; pass a .py file or a folder")


def _candidates(files: list[Path], wanted: set[str]) -> list[Path]:
    return [p for p in files if _mentions(p, wanted)] if wanted else files


def files_to_import(root: Path, names: Sequence[str] = ()) -> list[Path]:
    """The files :func:`collect` would import for ``names``, found without importing any.

    Resolved paths, as benchmarks carry them; empty when ``root`` does not exist.
    """
    try:
        _check_root(root)
    except DiscoveryError:
        return []  # collect() says why
    files = _candidates(_benchmark_files(root), {bench_name(n) for n in names})
    return [p.resolve() for p in files]


def collect(
    root: Path,
    names: Sequence[str] = (),
    *,
    shown: Callable[[Path], str] = str,
    quiet: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext,
) -> Collection:
    """Collect the ``bench_*`` functions under ``root``, keeping going past broken files.

    Args:
        root: a folder (searched recursively) or a single ``.py`` file.
        names: only these benchmarks (``bench_x`` or ``x``); only the files whose
            text mentions one of them are imported. All when empty.
        shown: how messages name a file.
        quiet: entered around each file's import; what it returns may carry the
            ``stdout`` and ``stderr`` the import printed (as
            :func:`pybench.execution.capture.capture` does), kept with a failed import.

    Returns:
        The benchmarks sorted by name, and one :class:`CollectionError` per file
        that failed to import and per benchmark with an invalid configuration.

    Raises:
        DiscoveryError: if the path does not exist, two files define the same
            name, a name in ``names`` is defined nowhere, or nothing is found.
    """
    _check_root(root, shown)
    given = {bench_name(n): n for n in names}
    wanted = set(given)
    files = _benchmark_files(root)
    candidates = _candidates(files, wanted)
    found: dict[str, Benchmark] = {}
    errors: list[CollectionError] = []
    for path in candidates:
        printed: Any = None
        try:
            with quiet() as printed:
                module = load_module(path)
        except ImportFailedError as exc:
            message = f"importing the file failed: {exc.summary}"
            out, err = (getattr(printed, name, "") or "" for name in ("stdout", "stderr"))
            errors.append(CollectionError(path.resolve(), message, exc.detail, None, out, err))
            continue
        for attr, func in vars(module).items():
            if not attr.startswith("bench_") or not inspect.isfunction(func):
                continue
            if func.__module__ != module.__name__ or (wanted and attr not in wanted):
                continue  # imported from elsewhere: collected where it is defined
            if attr in found:
                raise DiscoveryError(
                    f"{attr}: defined in both {shown(found[attr].path)} and {shown(path)};"
                    " rename one of them"
                )
            try:
                defaults = _config(attr, func)
            except DiscoveryError as exc:
                message = str(exc).removeprefix(f"{attr}: ")
                errors.append(CollectionError(path.resolve(), message, name=attr))
                continue
            found[attr] = Benchmark(name=attr, path=path.resolve(), func=func, defaults=defaults)
    seen = set(found) | {e.name for e in errors}
    missing = sorted(wanted - seen)
    if missing and not any(e.name is None for e in errors):  # not hidden in a broken file
        known = ", ".join(_defined_names(files)) or "none"
        raise DiscoveryError(f"--bench {given[missing[0]]}: no such benchmark (found: {known})")
    if not found and not errors:
        raise NothingFoundError(f"{root}: no bench_* functions found")
    return Collection([found[name] for name in sorted(found)], errors)


def discover(root: Path, *, shown: Callable[[Path], str] = str) -> list[Benchmark]:
    """Collect every ``bench_*`` function defined in the Python files under ``root``.

    Args:
        root: a folder (searched recursively) or a single ``.py`` file.
        shown: how messages name a file.

    Returns:
        The benchmarks, sorted by name.

    Raises:
        DiscoveryError: if the path does not exist, a file fails to import, two
            files define the same name, a configuration is invalid, or nothing is found.
    """
    collection = collect(root, shown=shown)
    if collection.errors:
        error = collection.errors[0]
        raise DiscoveryError(f"{error.name or shown(error.path)}: {error.message}")
    return collection.benchmarks


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
