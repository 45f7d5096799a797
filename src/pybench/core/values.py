"""A seed's values as flat arrays: the slots in order and one float per slot.

:class:`SlotValues` is what :func:`pybench.core.normalize.normalize` returns. It is
a read-only ``Mapping[Slot, float]`` (so it compares equal to the dict it stands
for), held as three flat sequences in slot order (step, then metric): the steps
(``array('q')``), the metric names (a tuple of the benchmark's own strings) and the
values (``array('d')``, :attr:`SlotValues.floats`). A run of 100 000 slots then
costs one C array per seed
instead of 100 000 keyed Python objects; the collector, the journal and the
determinism check read the arrays (numpy views them without copying), and the
``(step, metric)`` tuples are built only if something asks for them by key.

Only the standard library is used here: worker processes import this module.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Mapping
from typing import Any

Slot = tuple[int, str]

__all__ = ["SlotValues", "as_slot_values"]


class SlotValues(Mapping[Slot, float]):
    """One seed's values, slots sorted by step then metric name.

    Args:
        steps: the step of each slot.
        metrics: the metric name of each slot.
        floats: the value of each slot.
    """

    __slots__ = ("steps", "metrics", "floats", "_index")

    def __init__(self, steps: array[int], metrics: tuple[str, ...], floats: array[float]):
        self.steps = steps
        self.metrics = metrics
        self.floats = floats
        self._index: dict[Slot, int] | None = None

    @classmethod
    def from_mapping(cls, mapping: Mapping[Slot, float]) -> SlotValues:
        """The values of ``{(step, metric): value}``, sorted."""
        pairs = sorted(mapping.items())
        return cls(
            array("q", [step for (step, _), _ in pairs]),
            tuple(metric for (_, metric), _ in pairs),
            array("d", [value for _, value in pairs]),
        )

    def same_slots(self, other: SlotValues) -> bool:
        """Whether ``other`` holds the same slots (in the same order, as both are sorted)."""
        return self.steps == other.steps and self.metrics == other.metrics

    def slots(self) -> list[Slot]:
        """The slots, sorted."""
        return list(zip(self.steps, self.metrics, strict=True))

    def __getitem__(self, slot: Slot) -> float:
        if self._index is None:
            slots = zip(self.steps, self.metrics, strict=True)
            self._index = {key: i for i, key in enumerate(slots)}
        return float(self.floats[self._index[slot]])

    def __iter__(self) -> Iterator[Slot]:
        return zip(self.steps, self.metrics, strict=True)

    def __len__(self) -> int:
        return len(self.floats)

    def __repr__(self) -> str:
        return f"SlotValues({dict(self.items())!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (SlotValues, (self.steps, self.metrics, self.floats))


def as_slot_values(values: Mapping[Slot, float]) -> SlotValues:
    """``values`` as :class:`SlotValues` (itself, when it is one already)."""
    if isinstance(values, SlotValues):
        return values
    return SlotValues.from_mapping(values)
