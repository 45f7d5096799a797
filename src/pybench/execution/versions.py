"""Versions: what a benchmark depends on, here and on remote workers, and where they differ.

:func:`package_versions` runs in any process (the client, or a Dask worker via
``client.run``) and reads versions from the installed distributions' metadata
without importing anything; :func:`mismatches` compares the client's with each
worker's.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import itertools
import platform
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["ALWAYS_CHECKED", "NOT_INSTALLED", "VersionMismatch", "mismatches", "package_versions"]

PYTHON = "Python"
ALWAYS_CHECKED = (PYTHON, "numpy", "pybench")
"""Checked for every benchmark, whatever it imports."""

NOT_INSTALLED = "not installed"
UNKNOWN = "unknown version"


@dataclass(frozen=True)
class VersionMismatch:
    """One package whose version on a worker differs from the client's."""

    package: str
    worker: str
    client: str
    remote: str

    def __str__(self) -> str:
        return f"{self.package} is {self.client} here but {self.remote} on worker {self.worker}"


@lru_cache(maxsize=1)
def _distributions() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _providers(name: str) -> Iterator[str]:
    """The distributions that provide import name ``name`` (reading them all: only if asked)."""
    yield from _distributions().get(name, ())


def _version(name: str) -> str:
    if name == PYTHON:
        return platform.python_version()
    # A distribution named like it (found without reading every installed one, and the
    # only link to an editable install, which lists no files); else the distribution
    # that provides the import name (sklearn -> scikit-learn).
    for dist in itertools.chain([name], _providers(name)):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        found = False
    return UNKNOWN if found else NOT_INSTALLED


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """``{name: version}`` for Python, numpy, pybench and each top-level import name.

    A name is looked up as a distribution of the same name, else through the
    distribution that provides it (``sklearn`` -> scikit-learn); one importable
    without metadata is ``"unknown version"``, one that cannot be found
    ``"not installed"``. Nothing is imported.
    """
    wanted = list(dict.fromkeys([*ALWAYS_CHECKED, *names]))
    return {name: _version(name) for name in wanted}


def mismatches(
    client: Mapping[str, str], workers: Mapping[str, Mapping[str, str]]
) -> list[VersionMismatch]:
    """Every package whose version on a worker differs from ``client``'s, by package then worker."""
    found = [
        VersionMismatch(package, worker, version, remote[package])
        for worker, remote in workers.items()
        for package, version in client.items()
        if package in remote and remote[package] != version
    ]
    order = {name: i for i, name in enumerate(client)}
    return sorted(found, key=lambda m: (order[m.package], m.worker))
