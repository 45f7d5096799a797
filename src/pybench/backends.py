"""Execution back-ends: where a benchmark's seeds run.

:func:`open_pool` is entered once per pybench run; its :meth:`Pool.backend_for`
hands out a :class:`pybench.run.Backend` for each benchmark.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .discover import Benchmark
from .run import Backend, SerialBackend

__all__ = ["Pool", "open_pool"]


class Pool:
    """Hands out the back-end each benchmark runs on."""

    def backend_for(
        self, bench: Benchmark, *, workers: int, gpus: tuple[int, ...] | None
    ) -> Backend:
        return SerialBackend()


@contextlib.contextmanager
def open_pool(*, dask: str | None = None) -> Iterator[Pool]:
    """The back-ends of one run (serial only for now)."""
    yield Pool()
