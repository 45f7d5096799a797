"""Import shadowing: make a process import a tree's code ahead of any installed copy of it.

Only pure-Python code under a tree's source roots is taken from that tree;
compiled extensions, dependencies and installed packages come from the current
environment (see the "Comparing two revisions" page of the docs).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

from ..storage.store import BASELINE_DIR, project_home

__all__ = ["IMPORT_RULE", "active", "import_roots", "roots_in", "shadow_imports", "source_roots"]


IMPORT_RULE = (
    "benchmarks import from their file's folder, then the project's src/ when it has one,"
    " then the project's root (the nearest folder above them holding .pybench/, else the"
    " git repository's root)"
)
"""The one rule every entry point follows (``pybench``, ``python -m pybench``, the pytest
plugin, both sides of ``pybench compare``), as error messages state it."""


def roots_in(home: Path, bench_folder: Path) -> list[Path]:
    """The import folders of a project whose root is ``home``: the benchmarks' folder, then
    ``home/src`` when it is a folder, then ``home`` (each once, in ``sys.path`` order)."""
    roots = [bench_folder]
    if (home / "src").is_dir():
        roots.append(home / "src")
    roots.append(home)
    return list(dict.fromkeys(roots))


def _folder(target: Path) -> Path:
    return target if target.is_dir() else target.parent


def import_roots(path: Path) -> list[Path]:
    """The folders a benchmark at ``path`` (a file or folder of the working tree) imports
    from (:data:`IMPORT_RULE`); outside git with no ``.pybench/``, the project's root is
    the current directory, as for the baseline file."""
    target = Path(os.path.abspath(path))
    home = project_home(target) or Path.cwd()
    return roots_in(home, _folder(target))


def source_roots(tree: Path, path: Path, bench: Path | None = None) -> list[Path]:
    """The folders a checkout's code is imported from, in ``sys.path`` order (:data:`IMPORT_RULE`).

    The project's root is the nearest folder from ``tree / path`` up to ``tree`` that
    holds ``.pybench/``, else ``tree`` itself.

    Args:
        tree: the root of a checkout (or of the working tree).
        path: the benchmarks, relative to ``tree`` (or absolute inside it).
        bench: where the benchmark files are taken from when not from ``tree``
            (``--bench-from``); its folder comes first.
    """
    target = tree / path
    home = tree
    for folder in (_folder(target), *_folder(target).parents):
        if folder == tree or tree not in folder.parents:
            break
        if (folder / BASELINE_DIR).is_dir():
            home = folder
            break
    return roots_in(home, _folder(bench if bench is not None else target))


def active() -> bool:
    """Whether this process imports a checkout's code ahead of everything
    (:func:`shadow_imports` is in force): the working tree's folders are then not added."""
    return any(isinstance(finder, _SourceFinder) for finder in sys.meta_path)


def _protected_names() -> set[str]:
    """Modules a tree must never take over: the standard library and pybench itself."""
    names = set(sys.builtin_module_names) | {__name__.partition(".")[0]}
    names |= set(getattr(sys, "stdlib_module_names", ()))
    return names


def _top_level_names(roots: Sequence[str]) -> set[str]:
    """Names of the packages (folders with ``__init__.py``) and modules directly under ``roots``."""
    suffixes = tuple(importlib.machinery.all_suffixes())
    names: set[str] = set()
    for root in roots:
        try:
            entries = list(os.scandir(root))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir():
                if os.path.isfile(os.path.join(entry.path, "__init__.py")):
                    names.add(entry.name)
            elif entry.name.endswith(suffixes):
                names.add(entry.name.split(".", 1)[0])
    protected = _protected_names()
    return {n for n in names if n.isidentifier() and not n.startswith("__") and n not in protected}


class _SourceFinder:
    """A ``sys.meta_path`` finder, put first, that imports the given names from the given roots.

    It outranks the import hooks some editable installs place in
    ``sys.meta_path``; a name or submodule not found under the roots falls
    through to the usual finders.
    """

    def __init__(self, roots: list[str], names: set[str]):
        self.roots = roots
        self.names = names

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] not in self.names:
            return None
        search = self.roots if "." not in fullname else path
        if search is None:
            return None
        return importlib.machinery.PathFinder.find_spec(fullname, list(search), target)

    def invalidate_caches(self) -> None:
        pass


def _imported_from(module: ModuleType | None, roots: Sequence[str]) -> bool:
    """Does ``module`` (a namespace package too) live under one of ``roots``?

    pybench's own benchmark modules (``_pybench_*``) are kept, as discovery keeps them.
    """
    if module is None or getattr(module, "__name__", "").startswith("_pybench_"):
        return False
    where = [getattr(module, "__file__", None) or ""]
    with contextlib.suppress(TypeError):
        where += list(getattr(module, "__path__", None) or ())
    prefixes = tuple(os.path.join(root, "") for root in roots)
    return any(isinstance(w, str) and w.startswith(prefixes) for w in where)


def shadow_imports(roots: Sequence[Path | str]) -> Callable[[], None]:
    """Make this process import the code under ``roots`` ahead of any other copy of it.

    ``roots`` go first on ``sys.path``; every package or module directly under
    them is forgotten if already imported and is from now on imported from
    ``roots`` by a finder placed first in ``sys.meta_path`` (so it also wins over
    the import hooks of editable installs). The standard library and pybench
    itself are never taken over.

    Returns:
        A function that undoes all of it, forgetting every module imported from
        ``roots`` meanwhile (used around discovery in the parent process;
        worker processes never undo it).
    """
    root_strs = [os.fspath(r) for r in roots]
    names = _top_level_names(root_strs)
    saved_path = list(sys.path)
    before = set(sys.modules)
    saved_modules = {k: m for k, m in sys.modules.items() if k.partition(".")[0] in names}
    for key in saved_modules:
        del sys.modules[key]
    sys.path[:] = root_strs + [p for p in sys.path if p not in root_strs]
    finder = _SourceFinder(root_strs, names)
    sys.meta_path.insert(0, finder)
    importlib.invalidate_caches()

    def restore() -> None:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(finder)
        for key in [
            k
            for k, module in list(sys.modules.items())
            if k.partition(".")[0] in names
            or (k not in before and _imported_from(module, root_strs))
        ]:
            del sys.modules[key]
        sys.modules.update(saved_modules)
        sys.path[:] = saved_path
        importlib.invalidate_caches()

    return restore
