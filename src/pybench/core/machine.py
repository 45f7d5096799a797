"""The machine fingerprint: what a benchmark's numbers depend on besides the code.

A fingerprint is a plain JSON object, stored in each new baseline record (its
``machine`` field) and with every run in the history:

``cpu`` (model) and ``cpus`` (logical count), ``gpus`` (models, one per
device), ``gpu_driver`` and ``cuda`` (from ``nvidia-smi``, when it is on
``PATH``; torch is never imported), ``os`` (name and version), ``python``, and
``packages``: numpy and the installed packages the benchmark file (and the
sibling modules it imports) imports, with their versions.

:func:`differences` names what differs between two fingerprints, and
:func:`baseline_warning` turns that into the warning (or, under ``--strict``,
the error) of a run against a baseline made elsewhere. Fields a fingerprint
lacks (an older record, another tool) are not compared.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["LABELS", "Fingerprint", "baseline_warning", "differences", "machine_id", "validate"]

Fingerprint = dict[str, Any]
"""A JSON object with the fields ``cpu``, ``cpus``, ``gpus`` (a list), ``gpu_driver``,
``cuda``, ``os``, ``python`` and ``packages`` (name to version); any may be missing."""


LABELS = {
    "cpu": "CPU",
    "cpus": "CPUs",
    "gpus": "GPU",
    "gpu_driver": "GPU driver",
    "cuda": "CUDA",
    "os": "OS",
    "python": "Python",
}
"""The compared fields (besides ``packages``) and how messages name them."""


def machine_id(found: Mapping[str, Any]) -> str:
    """A short stable id of a fingerprint (16 hex digits of the SHA-256 of its JSON)."""
    import hashlib

    text = json.dumps(found, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _show(value: Any) -> str:
    if isinstance(value, list):
        return " + ".join(str(v) for v in value) if value else "none"
    return str(value)


def _gpus(side: Mapping[str, Any]) -> list[str] | None:
    """A fingerprint's GPUs: ``[]`` when a full fingerprint lists none, ``None`` if unknown."""
    if "gpus" in side:
        return list(side["gpus"])
    return [] if "cpu" in side else None


def differences(here: Mapping[str, Any], there: Mapping[str, Any]) -> list[str]:
    """What differs, one phrase each: ``GPU: A100 here, H100 in the baseline``.

    Fields missing from either side are not compared (a full fingerprint without
    ``gpus`` has none); the driver and CUDA are compared only when both sides
    have a GPU. A package is compared when both sides list it, and named when
    only the baseline has it.
    """
    found = []
    ours, theirs = _gpus(here), _gpus(there)
    both_gpu = bool(ours) and bool(theirs)
    for key, label in LABELS.items():
        if key == "gpus":
            if ours is not None and theirs is not None and ours != theirs:
                found.append(f"{label}: {_show(ours)} here, {_show(theirs)} in the baseline")
        elif key in here and key in there and here[key] != there[key]:
            if key in ("gpu_driver", "cuda") and not both_gpu:
                continue
            found.append(f"{label}: {_show(here[key])} here, {_show(there[key])} in the baseline")
    mine = here.get("packages") or {}
    recorded = there.get("packages") or {}
    for name in sorted(set(mine) | set(recorded)):
        if name in mine and name in recorded and mine[name] != recorded[name]:
            found.append(f"{name}: {mine[name]} here, {recorded[name]} in the baseline")
        elif name in recorded and name not in mine:
            found.append(f"{name}: not installed here, {recorded[name]} in the baseline")
    return found


def baseline_warning(
    name: str, recorded: Mapping[str, Any] | None, here: Fingerprint
) -> str | None:
    """The warning for a run of benchmark ``name`` here against a baseline made on
    ``recorded`` (``None`` when the baseline names no machine or the machines match)."""
    if not recorded:
        return None
    found = differences(here, recorded)
    if not found:
        return None
    return f"{name}: the baseline was made on another machine ({'; '.join(found)})"


def validate(value: Any) -> str | None:
    """Why ``value`` is not a fingerprint, or ``None`` if it is one (read from files)."""
    if not isinstance(value, dict):
        return "must be an object"
    for key, item in value.items():
        if not isinstance(key, str):
            return "keys must be strings"
        if key == "packages":
            if not isinstance(item, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in item.items()
            ):
                return "'packages' must map names to version strings"
        elif key == "gpus":
            if not isinstance(item, list) or not all(isinstance(g, str) for g in item):
                return "'gpus' must be a list of strings"
        elif key == "cpus":
            if not isinstance(item, int) or isinstance(item, bool) or item < 0:
                return "'cpus' must be a count"
        elif item is not None and not isinstance(item, (str, int, float, bool)):
            return f"field {key!r} must be a string"
    return None
