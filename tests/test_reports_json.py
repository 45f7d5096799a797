"""The JSON report: valid against its schema, every number present, user text kept as data."""

from __future__ import annotations

import dataclasses
import json
import math

import jsonschema
import numpy as np
import pytest

from pybench.engine import outcome as results
from pybench.engine.outcome import Status
from pybench.judging import adaptive
from pybench.reports import ReportError
from pybench.reports import json as json_report

from .conftest import NASTY_MESSAGE, NASTY_METRIC


def _document(outcomes, info):
    """The document as a reader sees it: the JSON text, parsed."""
    return json.loads(json_report.render(outcomes, info))

def _validate(doc: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(json_report.schema())
    jsonschema.Draft202012Validator(json_report.schema()).validate(doc)


def _strict_load(text: str) -> dict:
    def refuse(token: str) -> None:
        raise ValueError(f"{token} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_every_outcome_kind_validates_against_the_schema(zoo):
    text = json_report.render(zoo.outcomes, zoo.info)
    doc = _strict_load(text)
    _validate(doc)
    assert doc["format"] == json_report.FORMAT and doc["command"] == "run"
    assert doc["exit_code"] == 2 and doc["error"] is None
    assert doc["counts"] == {"NEW": 1, "PASS": 1, "FAIL": 2, "ERROR": 1}
    assert doc["git"] == {"commit": "abc1234", "dirty": True}
    assert doc["baseline"] == {"path": ".pybench/baselines.jsonl", "records": 4}
    statuses = {b["name"]: b["status"] for b in doc["benchmarks"]}
    assert statuses == {
        "bench_pass": "PASS",
        "bench_fail": "FAIL",
        "bench_diverged": "FAIL",
        "bench_error": "ERROR",
        "bench_new": "NEW",
    }


def _bench(doc: dict, name: str) -> dict:
    return next(b for b in doc["benchmarks"] if b["name"] == name)


def test_numbers_match_the_outcomes(zoo):
    doc = _document(zoo.outcomes, zoo.info)
    fail = _bench(doc, "bench_fail")
    outcome = zoo.by_name("bench_fail")
    stats = outcome.comparison.stats
    assert fail["file"] == "benchmarks/sub/bench_zoo.py"
    assert fail["seeds"] == list(outcome.seeds) and fail["n_seeds"] == 8
    assert fail["settings"]["alpha"] == 0.05 and fail["settings"]["min_effect"] is None
    assert fail["meta_p"] == stats.meta_p < 0.05
    assert fail["severity"] == stats.severity > 0 and fail["t_crit"] == stats.t_crit
    assert fail["n_perm"] == stats.n_perm and fail["exact"] is (stats.n_perm >= 2**8)
    times = outcome.timings.per_seed
    assert fail["time"]["wall"] == outcome.timings.wall
    assert fail["time"]["per_seed"] == {
        "min": min(times),
        "median": float(np.median(times)),
        "max": max(times),
    }
    first, second = fail["slots"]
    assert (first["step"], first["metric"], first["direction"]) == (1, NASTY_METRIC, "higher")
    assert (second["metric"], second["direction"]) == ("min:loss", "lower")
    row = stats.slots[0]
    assert first["baseline_mean"] == row.baseline_mean and first["current_std"] == row.current_std
    assert first["delta"] == row.effect_size < 0 and first["t"] == row.t_stat
    assert first["p"] == row.p_value and first["flagged"] is True
    assert first["diverged_seeds"] is None


def test_diverged_slot_names_its_seeds_and_has_no_current_numbers(zoo):
    doc = _document(zoo.outcomes, zoo.info)
    diverged = _bench(doc, "bench_diverged")
    acc, speed = diverged["slots"]
    outcome = zoo.by_name("bench_diverged")
    assert acc["metric"] == "acc" and acc["flagged"] is True
    assert acc["diverged_seeds"] == [s for s in outcome.seeds if s % 2]
    assert acc["current_mean"] is None and acc["p"] is None and acc["baseline_mean"] is not None
    assert speed["diverged_seeds"] is None and speed["p"] == 1.0
    assert diverged["n_flagged"] == 1 and diverged["n_slots"] == 2


def test_error_keeps_seed_message_and_traceback_as_data(zoo):
    text = json_report.render(zoo.outcomes, zoo.info)
    error = _bench(_strict_load(text), "bench_error")["error"]
    assert error["seed"] in zoo.by_name("bench_error").seeds
    assert "\n" not in error["message"] and "raised ValueError: line one" in error["message"]
    assert NASTY_MESSAGE in error["traceback"]  # newlines, ]]>, ESC and NUL survive exactly
    assert _bench(_strict_load(text), "bench_error")["slots"] == []


def test_new_says_a_baseline_was_saved(zoo):
    doc = _document(zoo.outcomes, zoo.info)
    new = _bench(doc, "bench_new")
    assert new["saved"] is True and new["replaced"] is False and new["meta_p"] is None
    [slot] = new["slots"]
    assert slot["metric"] == NASTY_METRIC and slot["baseline_mean"] is None
    values = zoo.by_name("bench_new").values[:, 0]
    assert slot["current_mean"] == pytest.approx(values.mean())
    assert slot["current_std"] == pytest.approx(values.std(ddof=1))
    assert _bench(doc, "bench_pass")["saved"] is False


def test_non_finite_numbers_become_null_not_invalid_json(zoo):
    outcome = zoo.by_name("bench_pass")
    stats = outcome.comparison.stats
    slot = dataclasses.replace(
        stats.slots[0], t_stat=math.nan, effect_size=math.inf, baseline_std=-math.inf
    )
    comparison = dataclasses.replace(
        outcome.comparison, stats=dataclasses.replace(stats, slots=[slot], severity=math.nan)
    )
    broken = dataclasses.replace(outcome, comparison=comparison)
    info = dataclasses.replace(zoo.info, elapsed=math.inf)
    doc = _strict_load(json_report.render([broken], info))
    _validate(doc)
    [row] = doc["benchmarks"][0]["slots"]
    assert row["t"] is None and row["delta"] is None and row["baseline_std"] is None
    assert doc["benchmarks"][0]["severity"] is None and doc["elapsed"] is None


def test_localisation_intervals_and_improvement_are_written(zoo):
    doc = _document(zoo.outcomes, zoo.info)
    fail = _bench(doc, "bench_fail")
    stats = zoo.by_name("bench_fail").comparison.stats
    for row, slot in zip(fail["slots"], stats.slots, strict=True):
        assert row["p_adj"] == slot.p_adj and row["flagged_adj"] is slot.flagged_adj
        assert (row["ci_low"], row["ci_high"]) == (slot.ci_low, slot.ci_high)
        assert (row["delta_low"], row["delta_high"]) == (slot.delta_low, slot.delta_high)
        assert row["delta_low"] <= row["delta"] <= row["delta_high"]
        assert row["improved"] is slot.improved is False
    assert fail["n_flagged_adj"] == stats.n_flagged_adj
    assert fail["improvement_p"] == stats.improvement_p and fail["improved"] is False
    assert fail["improvement_severity"] == stats.improvement_severity
    assert fail["n_improved"] == stats.n_improved == 0
    diverged = _bench(doc, "bench_diverged")["slots"][0]
    assert diverged["p_adj"] is None and diverged["ci_low"] is None
    assert _bench(doc, "bench_new")["improvement_p"] is None
    assert _bench(doc, "bench_pass")["dask"] is None  # not run on Dask


def test_a_run_stopped_before_any_verdict_is_still_a_document(zoo):
    info = dataclasses.replace(zoo.info, error="--bench nope: no such benchmark")
    doc = _strict_load(json_report.render([], info))
    _validate(doc)
    assert doc["exit_code"] == 2 and doc["error"].startswith("--bench nope")
    assert doc["benchmarks"] == [] and doc["counts"]["ERROR"] == 0


def test_schema_rejects_what_it_does_not_describe(zoo):
    doc = _document(zoo.outcomes, zoo.info)
    _bench(doc, "bench_pass")["slots"][0]["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        _validate(doc)
    doc = _document(zoo.outcomes, zoo.info)
    _bench(doc, "bench_pass")["status"] = Status.NEW.value.lower()
    with pytest.raises(jsonschema.ValidationError):
        _validate(doc)


def test_a_compare_document_names_both_revisions_and_the_one_sided_benchmarks(compare_zoo):
    outcomes, info = compare_zoo.outcomes, compare_zoo.info
    doc = _strict_load(json_report.render(outcomes, info))
    _validate(doc)
    assert doc["command"] == "compare" and doc["baseline"] is None
    assert list(doc)[list(doc).index("baseline") + 1] == "revisions"
    assert doc["revisions"] == {
        "base": {
            "name": "main",
            "label": "main (aaaaaaa)",
            "commit": "a" * 40,
            "working_tree": False,
            "dirty": False,
        },
        "head": {
            "name": "working tree",
            "label": "working tree (bbbbbbb, dirty)",
            "commit": "b" * 40,
            "working_tree": True,
            "dirty": True,
        },
        "bench_from": None,  # each side ran its own benchmark files
    }
    assert doc["counts"] == {"NEW": 1, "PASS": 1, "FAIL": 2, "ERROR": 1, "GONE": 1}
    assert doc["exit_code"] == 2  # from the ERROR; NEW and GONE count for nothing
    new, gone = _bench(doc, "bench_new"), doc["benchmarks"][-1]
    assert (new["status"], new["saved"], new["note"]) == ("NEW", False, results.ONLY_IN_HEAD)
    assert (gone["status"], gone["saved"], gone["note"]) == ("GONE", False, results.ONLY_IN_BASE)
    assert gone["n_seeds"] == 0 and gone["slots"] == [] and gone["time"]["per_seed"] is None
    assert _bench(doc, "bench_pass")["note"] is None


def test_run_documents_are_unchanged_and_the_schema_tells_the_commands_apart(zoo, compare_zoo):
    run = _document(zoo.outcomes, zoo.info)
    assert "revisions" not in run and "GONE" not in run["counts"]
    assert not any("note" in bench for bench in run["benchmarks"])
    compare = _document(compare_zoo.outcomes, compare_zoo.info)
    broken = [
        {**run, "revisions": compare["revisions"]},  # a run has no revisions
        {**run, "counts": {**run["counts"], "GONE": 0}},  # …and no GONE
        {**run, "baseline": None},  # …but a baseline file
        {**compare, "baseline": run["baseline"]},  # a compare has none
        {k: v for k, v in compare.items() if k != "revisions"},
        {**compare, "benchmarks": [{**compare["benchmarks"][0], "note": 1}]},
        {
            **compare,
            "benchmarks": [{k: v for k, v in compare["benchmarks"][0].items() if k != "note"}],
        },
        {**compare, "revisions": {"base": compare["revisions"]["base"]}},
    ]
    for doc in broken:
        with pytest.raises(jsonschema.ValidationError):
            _validate(doc)
    _validate({**compare, "revisions": None, "benchmarks": [], "error": "unknown revision"})


def test_an_adaptive_comparison_says_where_it_stopped(zoo):
    doc = _document(zoo.outcomes, zoo.info)
    assert all(b["adaptive"] is None for b in doc["benchmarks"])  # every seed ran as usual
    outcome = zoo.by_name("bench_pass")
    stopped = dataclasses.replace(
        outcome,
        seeds=outcome.seeds[:5],
        values=outcome.values[:5],
        baseline=outcome.baseline[:5],
        adaptive=results.AdaptiveTrace(5, 8, 1, adaptive.StopReason.FUTILITY, 0.0025),
    )
    doc = _document([stopped], zoo.info)
    _validate(doc)
    [bench] = doc["benchmarks"]
    assert bench["adaptive"] == {
        "seeds_run": 5,
        "seeds_stored": 8,
        "stopped_at_look": 1,
        "stop_reason": "futility",
        "look_alpha": 0.0025,
    }
    assert bench["n_seeds"] == 5 and bench["settings"]["adaptive"] is False


def test_captured_output_warnings_and_reused_seeds_are_in_the_document(zoo):
    error = zoo.by_name("bench_error")
    noisy = dataclasses.replace(
        error,
        error=dataclasses.replace(error.error, stdout="epoch 1\n", stderr="UserWarning: lr\n"),
    )
    new = dataclasses.replace(zoo.by_name("bench_new"), warnings=("not deterministic",), reused=3)
    outcomes = [noisy if o is error else new if o.name == "bench_new" else o for o in zoo.outcomes]
    doc = _document(outcomes, zoo.info)
    _validate(doc)
    assert _bench(doc, "bench_error")["error"]["stdout"] == "epoch 1\n"
    assert _bench(doc, "bench_error")["error"]["stderr"] == "UserWarning: lr\n"
    assert _bench(doc, "bench_new")["warnings"] == ["not deterministic"]
    assert _bench(doc, "bench_new")["reused"] == 3 and _bench(doc, "bench_pass")["reused"] == 0
    assert _bench(doc, "bench_new")["settings"]["check_determinism"] is True


@pytest.mark.parametrize("step", [2**63, -(2**63) - 1, 10**400, 1e300])
def test_a_step_no_baseline_could_hold_is_refused_in_one_line(zoo, tmp_path, step):
    doc = _document(zoo.outcomes, zoo.info)
    slots = _bench(doc, "bench_pass")["slots"]
    slots[0]["step"] = step
    with pytest.raises(jsonschema.ValidationError):
        _validate(doc)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ReportError, match=r"slots/0/step: (above|below) -?9223372036854775"):
        json_report.load(path)
    slots[0]["step"] = 2**63 - 1  # the largest step a baseline can hold still renders
    path.write_text(json.dumps(doc))
    assert json_report.load(path)["benchmarks"]
