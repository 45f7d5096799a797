"""The JSON report (``--json PATH``): one document per run holding every number of every outcome.

The document follows ``run.schema.json`` (shipped beside this module; see
:func:`schema`). Names and messages from user code are plain JSON strings;
a number that is not finite (NaN, ±inf) is written as ``null``, so the output
is always strict JSON.

A ``pybench compare`` document says ``"command": "compare"``, has ``"baseline":
null`` and a ``revisions`` object (BASE and HEAD) instead, counts ``GONE``
benchmarks and gives every benchmark a ``note``; the per-slot ``baseline_*``
numbers are BASE's and the ``current_*`` ones HEAD's. Run and update documents
have none of these fields.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..errors import EXIT_ERROR
from ..session import Outcome, Status, exit_code
from ..stats import goodness_sign
from . import RunInfo
from .text import display_path

if TYPE_CHECKING:
    from ..revisions import Revision

__all__ = ["FORMAT", "document", "render", "schema"]

FORMAT = 1
"""The document's ``format`` version; it changes only when a field changes meaning or goes."""


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the document :func:`render` writes."""
    text = resources.files(__package__).joinpath("run.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def _number(value: Any) -> float | int | None:
    """A JSON number, or ``None`` for NaN and ±inf (and a missing value)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("a bool is not a number here")
    if isinstance(value, int):
        return value
    value = float(value)
    return value if math.isfinite(value) else None


def _plain(value: Any) -> Any:
    """Settings values as JSON: tuples become lists, non-finite floats ``null``."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, float):
        return _number(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def _direction(metric: str) -> str:
    return "lower" if goodness_sign(metric) < 0 else "higher"


def _slot(step: int, metric: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "step": step,
        "metric": metric,
        "direction": _direction(metric),
        "baseline_mean": None,
        "baseline_std": None,
        "current_mean": None,
        "current_std": None,
        "delta": None,
        "delta_reliable": None,
        "t": None,
        "p": None,
        "flagged": False,
        "p_adj": None,
        "flagged_adj": False,
        "ci_low": None,
        "ci_high": None,
        "delta_low": None,
        "delta_high": None,
        "improved": False,
        "diverged_seeds": None,
    }
    row.update(fields)
    return row


def _column(matrix: Any, slots: Sequence[tuple[int, str]], step: int, metric: str) -> Any:
    """The per-seed values of one slot (``null`` for a non-finite one), or ``None``."""
    if matrix is None:
        return None
    k = list(slots).index((step, metric))
    return [_number(v) for v in matrix[:, k].tolist()]


def _per_seed(outcome: Outcome, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with the baseline's and this run's value on every seed, in seed order."""
    step, metric = row["step"], row["metric"]
    row["baseline_values"] = _column(outcome.baseline, outcome.slots, step, metric)
    row["current_values"] = _column(outcome.values, outcome.slots, step, metric)
    return row


def _compared_slots(outcome: Outcome) -> list[dict[str, Any]]:
    result = outcome.comparison
    assert result is not None
    rows = []
    for slot in result.stats.slots if result.stats else []:
        row = _slot(
            slot.step,
            slot.metric,
            baseline_mean=_number(slot.baseline_mean),
            baseline_std=_number(slot.baseline_std),
            current_mean=_number(slot.current_mean),
            current_std=_number(slot.current_std),
            delta=_number(slot.effect_size),
            delta_reliable=slot.effect_reliable,
            t=_number(slot.t_stat),
            p=_number(slot.p_value),
            flagged=slot.flagged,
            p_adj=_number(slot.p_adj),
            flagged_adj=slot.flagged_adj,
            ci_low=_number(slot.ci_low),
            ci_high=_number(slot.ci_high),
            delta_low=_number(slot.delta_low),
            delta_high=_number(slot.delta_high),
            improved=slot.improved,
        )
        rows.append(row)
    for div in result.diverged:
        rows.append(
            _slot(
                div.step,
                div.metric,
                baseline_mean=_number(div.baseline_mean),
                baseline_std=_number(div.baseline_std),
                flagged=True,
                diverged_seeds=list(div.seeds),
            )
        )
    rows.sort(key=lambda row: (row["step"], row["metric"]))
    return [_per_seed(outcome, row) for row in rows]


def _new_slots(outcome: Outcome) -> list[dict[str, Any]]:
    values = outcome.values
    if values is None:
        return []
    n = values.shape[0]
    rows = []
    for k, (step, metric) in enumerate(outcome.slots):
        column = [float(v) for v in values[:, k]]
        mean = math.fsum(column) / n
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in column) / (n - 1)) if n > 1 else None
        row = _slot(step, metric, current_mean=_number(mean), current_std=_number(std))
        rows.append(_per_seed(outcome, row))
    return rows


def _timings(outcome: Outcome) -> dict[str, Any]:
    per_seed = outcome.timings.per_seed
    spread = None
    if per_seed:
        spread = {
            "min": _number(min(per_seed)),
            "median": _number(statistics.median(per_seed)),
            "max": _number(max(per_seed)),
        }
    return {"wall": _number(outcome.timings.wall), "per_seed": spread}


def _verdict(outcome: Outcome) -> dict[str, Any]:
    result = outcome.comparison
    stats = result.stats if result else None
    return {
        "n_slots": result.n_slots if result else len(outcome.slots),
        "n_flagged": result.n_flagged if result else None,
        "n_flagged_adj": stats.n_flagged_adj if stats else None,
        "severity": _number(stats.severity) if stats else None,
        "meta_p": _number(stats.meta_p) if stats else None,
        "t_crit": _number(stats.t_crit) if stats else None,
        "n_perm": stats.n_perm if stats else None,
        "exact": stats.exact if stats else None,
        "improvement_severity": _number(stats.improvement_severity) if stats else None,
        "improvement_p": _number(stats.improvement_p) if stats else None,
        "improved": (stats.improved and result.passed) if stats and result else None,
        "n_improved": stats.n_improved if stats else None,
    }


def _dask(outcome: Outcome) -> dict[str, Any] | None:
    """Version differences with Dask workers and what the cluster did (``None`` off Dask)."""
    notes = outcome.cluster
    if notes is None and not outcome.version_mismatches:
        return None
    mismatches = [
        {"package": m.package, "worker": m.worker, "here": m.client, "there": m.remote}
        for m in outcome.version_mismatches
    ]
    return {
        "version_mismatches": mismatches,
        "rescheduled": notes.rescheduled if notes else 0,
        "log": list(notes.log) if notes else [],
    }


def _adaptive(outcome: Outcome) -> dict[str, Any] | None:
    """Where an adaptive comparison stopped and why (``None`` when every seed ran as usual)."""
    if outcome.seeds_run is None:
        return None
    reason = outcome.stop_reason
    return {
        "seeds_run": outcome.seeds_run,
        "seeds_stored": outcome.seeds_stored,
        "stopped_at_look": outcome.stopped_at_look,
        "stop_reason": None if reason is None else reason.value,
        "look_alpha": _number(outcome.look_alpha),
    }


def _benchmark(outcome: Outcome, compare: bool) -> dict[str, Any]:
    error = outcome.error
    if outcome.status in (Status.PASS, Status.FAIL):
        slots = _compared_slots(outcome)
    else:
        slots = _new_slots(outcome)
    saved = outcome.status is Status.NEW and not compare
    row = {
        "name": outcome.name,
        "status": outcome.status.value,
        "file": display_path(outcome.bench.path),
        "settings": _plain(dataclasses.asdict(outcome.settings)),
        "n_seeds": len(outcome.seeds),
        "seeds": list(outcome.seeds),
        "time": _timings(outcome),
        **_verdict(outcome),
        "saved": saved,
        "replaced": saved and outcome.replaces,
        "error": (
            None
            if error is None
            else {
                "seed": error.seed,
                "message": error.message,
                "traceback": error.traceback,
                "stdout": error.stdout,
                "stderr": error.stderr,
            }
        ),
        "warnings": list(outcome.warnings),
        "reused": outcome.reused,
        "dask": _dask(outcome),
        "adaptive": _adaptive(outcome),
        "slots": slots,
    }
    if compare:
        row["note"] = outcome.note
    return row


def _revision(revision: Revision) -> dict[str, Any]:
    return {
        "name": revision.name,
        "label": revision.label,
        "commit": revision.commit,
        "working_tree": not revision.is_checkout,
        "dirty": bool(revision.dirty) if not revision.is_checkout else False,
    }


def _revisions(info: RunInfo) -> dict[str, Any]:
    """A ``compare`` document's ``revisions`` field, which takes the baseline file's place."""
    if not info.compare:
        return {}
    if info.revisions is None:
        return {"revisions": None}
    base, head = info.revisions
    return {"revisions": {"base": _revision(base), "head": _revision(head)}}


def document(outcomes: Sequence[Outcome], info: RunInfo) -> dict[str, Any]:
    """The report as a JSON-ready dictionary (see ``run.schema.json``)."""
    compare = info.compare
    counts = {status.value: 0 for status in Status if compare or status is not Status.GONE}
    for outcome in outcomes:
        counts[outcome.status.value] += 1
    git = info.git
    return {
        "format": FORMAT,
        "pybench": __version__,
        "command": info.command,
        "started": info.started or None,
        "elapsed": _number(info.elapsed),
        "path": display_path(info.path),
        "baseline": (
            None
            if info.baseline is None
            else {"path": display_path(info.baseline), "records": info.n_records}
        ),
        **_revisions(info),
        "strict": info.strict,
        "git": {
            "commit": git.commit if git else None,
            "dirty": git.dirty if git else None,
        },
        "exit_code": EXIT_ERROR if info.error else exit_code(outcomes),
        "error": info.error,
        "counts": counts,
        "benchmarks": [_benchmark(outcome, compare) for outcome in outcomes],
    }


def render(outcomes: Sequence[Outcome], info: RunInfo) -> str:
    """The report as JSON text (strict: no NaN or Infinity), ending in a newline."""
    return json.dumps(document(outcomes, info), indent=2, allow_nan=False) + "\n"
