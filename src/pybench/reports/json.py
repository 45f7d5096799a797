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
import uuid
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..core.errors import EXIT_ERROR
from ..engine.outcome import Outcome, Status, exit_code
from ..stats import goodness_sign
from . import RunInfo
from .text import display_path

if TYPE_CHECKING:
    from ..core.provenance import Revision

__all__ = ["FORMAT", "document", "dumps", "load", "render", "schema"]

FORMAT = 1
"""The document's ``format`` version; it changes only when a field changes meaning or goes."""


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the document :func:`render` writes."""
    text = resources.files(__package__).joinpath("run.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def _number(value: Any) -> float | int | None:
    """A JSON number, or ``None`` for NaN and ±inf (and a missing value)."""
    if value.__class__ is float:  # the common case, first
        return value if math.isfinite(value) else None
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


class _Values:
    """The per-seed values of one side, with each column's finiteness checked once."""

    __slots__ = ("matrix", "finite")

    def __init__(self, matrix: Any):
        import numpy as np

        self.matrix = np.asarray(matrix, dtype=float)
        self.finite = np.isfinite(self.matrix).all(axis=0).tolist()

    def column(self, k: int) -> list[float | None]:
        """Column ``k`` as a list (``null`` for a non-finite value)."""
        values = self.matrix[:, k].tolist()
        if self.finite[k]:
            return values
        return [v if math.isfinite(v) else None for v in values]


_ABSENT = object()


class SlotRow(Mapping[str, Any]):
    """One slot of the document: its fields, and its per-seed values made when first read.

    A report with many slots keeps one small dict per slot; the values (the
    bulk of the document) are made only for the slots a report writes or draws.
    """

    __slots__ = ("_fields", "_sides", "_k")
    _VALUES = ("baseline_values", "current_values")

    def __init__(self, fields: dict[str, Any], sides: tuple[_Values | None, ...], k: int | None):
        self._fields, self._sides, self._k = fields, sides, k

    def _values(self, side: _Values | None) -> list[float | None] | None:
        return None if side is None or self._k is None else side.column(self._k)

    def _lookup(self, key: str) -> Any:
        """The field or the values under ``key``; ``_ABSENT`` if there is none."""
        value = self._fields.get(key, _ABSENT)  # (the fields never hold the values' keys)
        if value is _ABSENT and key in self._VALUES:
            return self._values(self._sides[self._VALUES.index(key)])
        return value

    def __getitem__(self, key: str) -> Any:
        value = self._lookup(key)
        if value is _ABSENT:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:  # (Mapping's goes through a KeyError)
        value = self._lookup(key)
        return default if value is _ABSENT else value

    def __contains__(self, key: object) -> bool:
        return key in self._VALUES or key in self._fields

    def __iter__(self) -> Iterator[str]:
        yield from self._fields
        yield from self._VALUES

    def __len__(self) -> int:
        return len(self._fields) + 2

    def plain(self) -> dict[str, Any]:
        """The row as a plain dict, values included."""
        base, cur = self._sides
        return {**self._fields, "baseline_values": self._values(base),
                "current_values": self._values(cur)}  # fmt: skip


def _with_values(outcome: Outcome, rows: list[dict[str, Any]]) -> list[SlotRow]:
    """``rows`` with the baseline's and this run's value on every seed, in seed order."""
    index = {slot: k for k, slot in enumerate(outcome.slots)}
    sides = tuple(None if m is None else _Values(m) for m in (outcome.baseline, outcome.values))
    slot_of = (index.get((row["step"], row["metric"])) for row in rows)
    return [SlotRow(row, sides, k) for row, k in zip(rows, slot_of, strict=True)]


def _compared_slots(outcome: Outcome) -> list[SlotRow]:
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
    return _with_values(outcome, rows)


def _new_slots(outcome: Outcome) -> list[SlotRow]:
    values = outcome.values
    if values is None:
        return []
    import numpy as np

    array = np.asarray(values, dtype=float)
    n = array.shape[0]
    means = array.mean(axis=0).tolist() if n else [math.nan] * array.shape[1]
    stds = array.std(axis=0, ddof=1).tolist() if n > 1 else [None] * array.shape[1]
    rows = [
        _slot(step, metric, current_mean=_number(means[k]), current_std=_number(stds[k]))
        for k, (step, metric) in enumerate(outcome.slots)
    ]
    return _with_values(outcome, rows)


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
        "family": _family(outcome),
        "rules_out": _rules_out(stats.rules_out if stats else None, result),
    }


def _rules_out(bound: Any, result: Any) -> dict[str, Any] | None:
    """The largest drop ruled out for every slot at once (``drop`` null when nothing is)."""
    if bound is None:
        return None
    return {
        "drop": _number(bound.drop),
        "level": bound.level,
        "n_slots": bound.n_slots,
        "step": bound.step,
        "metric": bound.metric,
        "crit": _number(bound.crit),
        "margin": result.margin,
        "equivalent": result.equivalent,
    }


def _family(outcome: Outcome) -> dict[str, Any] | None:
    """``--alpha-scope run``: the run's level, how many took part, the adjusted p-value."""
    family = outcome.family
    if family is None:
        return None
    return {
        "scope": "run",
        "alpha": family.alpha,
        "size": family.size,
        "p_adj": _number(family.p_adj),
        "adaptive": family.adaptive,
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


def _confirmation(outcome: Outcome) -> dict[str, Any] | None:
    """``--confirm``: the fresh seeds' verdict beside the stored seeds' one."""
    confirmation = outcome.confirmation
    if confirmation is None:
        return None
    return {
        "status": confirmation.status.value,
        "confirmed": confirmation.confirmed,
        "n_seeds": confirmation.n_seeds,
        "seeds": list(confirmation.seeds),
        "meta_p": _number(confirmation.meta_p),
        "commit": confirmation.commit,
    }


def _made_at(info: RunInfo, name: str) -> dict[str, Any] | None:
    """The commit and date the benchmark's stored baseline was made at (``None``: unknown)."""
    made = info.baselines.get(name)
    if made is None:
        return None
    return {"commit": made.commit, "dirty": made.dirty, "date": made.date}


def _benchmark(
    outcome: Outcome, info: RunInfo, history: Mapping[str, Any] | None
) -> dict[str, Any]:
    compare = info.compare
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
        "confirmation": _confirmation(outcome),
        "slots": slots,
    }
    if not compare:
        row["baseline_made"] = _made_at(info, outcome.name)
        row["history"] = (history or {}).get(outcome.name)
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
    bench = _revision(info.bench_from) if info.bench_from is not None else None
    return {"revisions": {"base": _revision(base), "head": _revision(head), "bench_from": bench}}


def document(
    outcomes: Sequence[Outcome], info: RunInfo, history: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The report as a JSON-ready dictionary (see ``run.schema.json``).

    ``history``: per benchmark, the baseline file's history
    (:func:`pybench.reports.history.series`), captured at run time.
    """
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
        "benchmarks": [_benchmark(outcome, info, history) for outcome in outcomes],
    }


def chunks(doc: Mapping[str, Any]) -> Iterator[str]:
    """``doc`` as JSON text in pieces: indented, but each slot on one line (strict: no NaN).

    Slots are written by the C encoder one line each, as they are made, so the
    text grows linearly with the number of slots, never sits in memory whole,
    and stays readable in a diff.
    """
    marker = f"\x00slots-{uuid.uuid4().hex}\x00"  # no text from user code can hold it
    benches = [
        {**bench, "slots": marker if bench.get("slots") else []}
        for bench in doc.get("benchmarks") or []
    ]
    text = json.dumps({**doc, "benchmarks": benches}, indent=2, allow_nan=False)
    parts = iter(text.split(json.dumps(marker)))
    yield next(parts)
    encode = json.JSONEncoder(allow_nan=False).encode  # one encoder for every line
    for bench in doc.get("benchmarks") or []:
        if not bench.get("slots"):
            continue
        separator = "[\n        "
        for row in bench["slots"]:
            plain = row.plain() if isinstance(row, SlotRow) else row
            yield separator + encode(plain)
            separator = ",\n        "
        yield "\n      ]" + next(parts)
    yield "\n"


def dumps(doc: Mapping[str, Any]) -> str:
    """``doc`` as JSON text (:func:`chunks`), ending in a newline."""
    return "".join(chunks(doc))


def render(outcomes: Sequence[Outcome], info: RunInfo) -> str:
    """The report as JSON text (strict: no NaN or Infinity), ending in a newline."""
    return dumps(document(outcomes, info))


MAX_BYTES = 2 * 1024**3
"""A report file larger than this is refused before it is read."""


def load(path: Path) -> dict[str, Any]:
    """Read and validate a JSON report written by ``--json``.

    Raises:
        ReportError: one line naming the file and what is wrong: unreadable, too
            large, not JSON (or NaN/Infinity tokens), nested too deeply, or the
            first place where it does not follow ``run.schema.json``.
    """
    from . import ReportError
    from .sanitize import clean
    from .validate import first_error

    hint = "write one with `pybench --json PATH`"
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ReportError(f"{path}: too large for a JSON report (over {MAX_BYTES} bytes)")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise ReportError(clean(f"{path}: cannot be read ({reason})")) from None
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ReportError(f"{path}: not a pybench run report (nested too deeply)") from None
    except ValueError as exc:
        raise ReportError(clean(f"{path}: not a JSON report ({exc}); {hint}")) from None
    error = first_error(document, schema())
    if error is not None:
        raise ReportError(clean(f"{path}: not a pybench run report ({error}); {hint}"))
    return document


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
