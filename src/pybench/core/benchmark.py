"""A benchmark: one ``bench_*`` function, the file it is defined in, and its settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .settings import Settings

__all__ = ["Benchmark", "bench_name"]


@dataclass(frozen=True)
class Benchmark:
    """One ``bench_*`` function and its configuration."""

    name: str
    path: Path
    func: Callable[[int], Any]
    defaults: Settings = Settings()
    """The settings its keyword arguments declare (before command-line overrides)."""


def bench_name(name: str) -> str:
    """The full benchmark name for ``name`` given as ``bench_x`` or just ``x``."""
    return name if name.startswith("bench_") else f"bench_{name}"
