"""Shipping: a benchmark file and the sibling modules it imports, packed for a remote worker.

:func:`pack` reads the benchmark file and, following its ``import`` statements
(with :mod:`ast`, nothing is executed), the ``.py`` modules and packages beside
it that it imports, directly or through each other. The resulting
:class:`Bundle` travels inside each Dask task. :func:`load` imports it on a
worker that has never seen the file: the benchmark runs under the same module
name as in discovery, its ``__file__`` is the path it had where pybench was
started, and ``import helpers`` finds the shipped ``helpers.py``. Nothing is
written to the worker's disk and nothing is read from the original path; a
worker keeps the imported function for each bundle digest.

Only what lives in the benchmark's folder travels. Installed packages are the
cluster's business: the workers run the same environment (image) as the client.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import linecache
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from ..core.errors import PybenchError
from ..sources.discover import DiscoveryError, module_name, summary
from .evaluate import environment

__all__ = ["Bundle", "BundleError", "ShippedFile", "load", "pack"]

_SKIP_DIRS = {"__pycache__", ".git", ".venv", "venv", "node_modules", ".pybench"}


class BundleError(PybenchError):
    """A benchmark file or one of its sibling modules that cannot be read for shipping."""


@dataclass(frozen=True)
class ShippedFile:
    """One Python source file as read on the client."""

    module: str
    """The name it is imported under (``helpers``, ``pkg.sub``; for the benchmark
    file itself, its discovery module name)."""
    path: str
    """Its absolute path on the client, which is also its ``__file__`` and the file
    name in tracebacks."""
    source: bytes
    """Its bytes."""
    package: bool = False
    """Whether it is a package's ``__init__.py``."""


@dataclass(frozen=True)
class Bundle:
    """A benchmark file, its sibling modules and the installed packages they import."""

    main: ShippedFile
    """The benchmark file."""
    helpers: tuple[ShippedFile, ...]
    """The sibling modules and packages it imports, in the order they were found."""
    imports: tuple[str, ...]
    """Top-level names of the non-standard-library packages imported by any of the
    files and not shipped (for the version check)."""
    file_digest: str
    """SHA-1 of the benchmark file's bytes."""
    digest: str
    """SHA-1 over the name, path and bytes of every shipped file, which workers
    cache the imported benchmark by."""


# -- the client side -------------------------------------------------------------
def _read(path: Path, bench_path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        what = "the benchmark file" if path == bench_path else f"its sibling module {path.name}"
        raise BundleError(
            f"{bench_path}: cannot read {what} to ship it to the workers ({exc.strerror or exc})"
        ) from None


def _top_level_imports(source: bytes, path: Path) -> set[str]:
    """Absolute ``import``s anywhere in the file, reduced to their first component."""
    try:
        tree = ast.parse(source, filename=str(path))
    except (SyntaxError, ValueError):
        return set()  # the import on the worker reports it, as discovery would
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    names.discard("__future__")
    return names


def _package_files(folder: Path, name: str) -> list[tuple[str, Path, bool]]:
    """Every module of the package at ``folder/name`` (sub-packages included)."""
    root = folder / name
    found = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if any(p in _SKIP_DIRS or p.startswith(".") for p in parts[:-1]):
            continue
        package = path.name == "__init__.py"
        dotted = [name, *parts[:-1]] + ([] if package else [path.stem])
        if all(p.isidentifier() for p in dotted):
            found.append((".".join(dotted), path, package))
    return found


def pack(path: Path) -> Bundle:
    """Read the benchmark file at ``path`` and the sibling modules it imports.

    A name imported by any shipped file is a sibling when ``NAME.py`` or
    ``NAME/__init__.py`` exists in the benchmark's folder (a package travels
    whole). Other benchmark files in the folder travel only if imported.

    Raises:
        BundleError: a file that cannot be read.
    """
    path = path.resolve()
    folder = path.parent
    source = _read(path, path)
    main = ShippedFile(module_name(path), str(path), source)
    helpers: list[ShippedFile] = []
    external: set[str] = set()
    queue = sorted(_top_level_imports(source, path))
    seen: set[str] = set()
    while queue:
        name = queue.pop(0)
        if name in seen:
            continue
        seen.add(name)
        module_file = folder / f"{name}.py"
        files: list[tuple[str, Path, bool]]
        if (folder / name / "__init__.py").is_file():
            files = _package_files(folder, name)
        elif module_file.is_file() and module_file != path:
            files = [(name, module_file, False)]
        else:
            external.add(name)
            continue
        for dotted, file, package in files:
            data = _read(file, path)
            helpers.append(ShippedFile(dotted, str(file), data, package))
            queue.extend(sorted(_top_level_imports(data, file) - seen))
    shipped = {f.module.partition(".")[0] for f in helpers}
    stdlib = sys.stdlib_module_names
    imports = tuple(sorted(n for n in external - shipped if n not in stdlib and n.isidentifier()))
    digest = hashlib.sha1()
    for f in (main, *helpers):
        for part in (f.module.encode(), f.path.encode(), f.source):
            digest.update(len(part).to_bytes(8, "little"))
            digest.update(part)
    return Bundle(
        main=main,
        helpers=tuple(helpers),
        imports=imports,
        file_digest=hashlib.sha1(source).hexdigest(),
        digest=digest.hexdigest(),
    )


# -- the worker side -------------------------------------------------------------
class _ShippedLoader(importlib.abc.InspectLoader):
    """Executes a shipped source under its client path; serves it to tracebacks and inspect."""

    def __init__(self, shipped: ShippedFile):
        self.shipped = shipped

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def get_source(self, fullname: str) -> str:
        return importlib.util.decode_source(self.shipped.source)

    def is_package(self, fullname: str) -> bool:
        return self.shipped.package

    def exec_module(self, module: ModuleType) -> None:
        _remember_lines(self.shipped)
        code = compile(self.shipped.source, self.shipped.path, "exec", dont_inherit=True)
        exec(code, module.__dict__)


def _spec(shipped: ShippedFile) -> importlib.machinery.ModuleSpec:
    spec = importlib.machinery.ModuleSpec(
        shipped.module, _ShippedLoader(shipped), origin=shipped.path, is_package=shipped.package
    )
    spec.has_location = True  # sets __file__ to the client's path
    if shipped.package:
        spec.submodule_search_locations = []  # sub-modules come from the bundle, never from disk
    return spec


class _ShippedFinder(importlib.abc.MetaPathFinder):
    """Finds the sibling modules of the bundles loaded in this process (the latest wins)."""

    def __init__(self) -> None:
        self.files: dict[str, ShippedFile] = {}

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        shipped = self.files.get(fullname)
        return None if shipped is None else _spec(shipped)


def _remember_lines(shipped: ShippedFile) -> None:
    """Put the shipped source in :mod:`linecache` so tracebacks show it without reading disk."""
    text = importlib.util.decode_source(shipped.source)
    # An mtime of None marks the entry as not backed by a file: checkcache() keeps it.
    linecache.cache[shipped.path] = (len(text), None, text.splitlines(True), shipped.path)


_FINDER = _ShippedFinder()
_LOCK = threading.RLock()
_LOADED: OrderedDict[tuple[str, str, frozenset[tuple[str, str | None]]], Callable[[int], Any]] = (
    OrderedDict()
)
_MAX_LOADED = 16


def _activate(bundle: Bundle) -> None:
    """Make ``bundle``'s sibling modules importable, dropping stale versions of them."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    for shipped in bundle.helpers:
        old = _FINDER.files.get(shipped.module)
        if old is not None and old != shipped:
            module = sys.modules.get(shipped.module)
            spec = getattr(module, "__spec__", None)
            if isinstance(getattr(spec, "loader", None), _ShippedLoader):
                del sys.modules[shipped.module]
        _FINDER.files[shipped.module] = shipped


def _import(bundle: Bundle) -> ModuleType:
    main = bundle.main
    spec = _spec(main)
    module = importlib.util.module_from_spec(spec)
    sys.modules[main.module] = module
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except Exception as exc:  # the user's code: any exception is theirs
        sys.modules.pop(main.module, None)
        raise DiscoveryError(
            f"{main.path}: importing the file failed: {summary(exc, Path(main.path))}"
        ) from exc
    return module


def load(
    bundle: Bundle, name: str, env: Mapping[str, str | None] | None = None
) -> Callable[[int], Any]:
    """Import ``bundle`` in this process (once per digest and environment); return ``name``.

    The module is imported with ``env`` applied, so module-level code sees the
    forwarded variables too.

    Raises:
        DiscoveryError: importing the file raised, or it has no function ``name``.
    """
    key = (bundle.digest, name, frozenset((env or {}).items()))
    with _LOCK:
        func = _LOADED.get(key)
        if func is not None:
            _LOADED.move_to_end(key)
            return func
        _activate(bundle)
        with environment(env):
            module = _import(bundle)
        func = getattr(module, name, None)
        if not callable(func):
            raise DiscoveryError(f"{bundle.main.path}: has no function {name!r}")
        _LOADED[key] = func
        while len(_LOADED) > _MAX_LOADED:
            _LOADED.popitem(last=False)
        return cast("Callable[[int], Any]", func)
