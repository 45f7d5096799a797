"""The history of a baseline file: the records it held at each commit that changed it."""

from __future__ import annotations

from dataclasses import dataclass

from .store import BaselineRecord

__all__ = ["HistoryEntry"]


@dataclass(frozen=True)
class HistoryEntry:
    """One commit that changed the baseline file, with the records it held."""

    commit: str
    date: str
    subject: str
    records: dict[str, BaselineRecord] | None
    error: str | None = None
