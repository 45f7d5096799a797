"""The result of one seed: its values, or why it produced none."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .normalize import Slot

__all__ = ["SeedFailure", "SeedOutcome"]


@dataclass(frozen=True)
class SeedFailure:
    """Why a seed produced no values: one summary line and the user's traceback."""

    message: str
    traceback: str = ""


@dataclass(frozen=True)
class SeedOutcome:
    """The result of one seed: ``values`` or ``failure`` (exactly one is set)."""

    index: int
    seed: int
    values: Mapping[Slot, float] | None = None
    """The normalized values (:class:`~pybench.core.values.SlotValues` from a seed run)."""
    failure: SeedFailure | None = None
    elapsed: float = field(default=0.0, compare=False)
    """Seconds the benchmark function took on this seed (not part of equality)."""
    stdout: str = field(default="", compare=False)
    """What the seed wrote to stdout, when captured (the end of it, if long)."""
    stderr: str = field(default="", compare=False)
    """What the seed wrote to stderr (warnings included), when captured."""
