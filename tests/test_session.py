"""The run stage: plans, outcomes and exit codes, without the command line."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from pybench.core.benchmark import Benchmark
from pybench.core.errors import EXIT_ERROR, EXIT_OK, EXIT_REGRESSION
from pybench.core.provenance import GitState
from pybench.core.settings import Settings
from pybench.engine import loop
from pybench.engine import outcome as results
from pybench.engine import plan as planning
from pybench.engine.outcome import Status
from pybench.execution.backends import Pool, open_pool
from pybench.judging import adaptive
from pybench.sources.code import CodeSource, Pairing
from pybench.storage.store import BaselineRecord


def _bench(func, name: str = "bench_t", **defaults) -> Benchmark:
    return Benchmark(name=name, path=Path(f"{name}.py"), func=func, defaults=Settings(**defaults))


def _curve(seed: int) -> list[dict]:
    return [{"step": 1, "acc": 0.5 + (seed % 7) / 100}, {"step": 2, "acc": 0.6 + (seed % 5) / 50}]


def test_plan_resolves_settings_once_and_samples_seeds():
    bench = _bench(_curve, n_seeds=6, alpha=0.1)
    [job] = planning.plan([bench], {}, {"alpha": 0.2, "min_effect": None}, base_seed=3)
    assert job.settings == Settings(n_seeds=6, alpha=0.2)
    assert len(job.seeds) == 6 and job.baseline is None
    again = planning.plan([bench], {}, {}, base_seed=3)[0]
    assert again.seeds == job.seeds and again.settings.alpha == 0.1


def test_plan_reuses_stored_seeds_unless_updating():
    bench = _bench(_curve, n_seeds=6)
    record = BaselineRecord(bench="bench_t", seeds=[1, 2, 3, 4, 5], scores={0: {"x": [1.0] * 5}})
    [job] = planning.plan([bench], {"bench_t": record}, {})
    assert job.seeds == (1, 2, 3, 4, 5) and job.baseline is record
    [fresh] = planning.plan([bench], {"bench_t": record}, {"n_seeds": 8}, update=True)
    assert fresh.baseline is None and len(fresh.seeds) == 8 and fresh.update


def test_plan_refuses_an_unreachable_alpha_before_running():
    calls = []
    bench = _bench(lambda s: calls.append(s) or 1.0, n_seeds=4)
    with pytest.raises(planning.UnreachableAlphaError, match="at least 5 seeds"):
        planning.plan([bench], {}, {})
    assert calls == []


def _run(jobs, **kwargs):
    events: list[results.Event] = []
    outcomes = loop.run(jobs, pool=Pool(), on_event=events.append, **kwargs)
    return outcomes, events


def test_new_then_pass_then_fail_outcomes_are_plain_values():
    bench = _bench(_curve, n_seeds=8)
    jobs = planning.plan([bench], {}, {}, base_seed=1)
    (new,), events = _run(jobs, git=GitState("abc1234", False))
    assert new.status is Status.NEW and new.record is not None and not new.replaces
    assert new.record.git_commit == "abc1234" and new.record.timestamp.endswith("Z")
    assert new.slots == ((1, "acc"), (2, "acc")) and new.values.shape == (8, 2)
    assert len(new.timings.per_seed) == 8 and new.timings.wall >= sum(new.timings.per_seed)
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["BenchStarted"] + ["SeedDone"] * 8 + ["BenchFinished"]
    assert events[-1].outcome is new
    with pytest.raises(dataclasses.FrozenInstanceError):
        new.status = Status.FAIL  # type: ignore[misc]
    with pytest.raises(ValueError):
        new.values[0, 0] = 1.0  # the matrix is read-only too

    stored = {"bench_t": new.record}
    (passed,), _ = _run(planning.plan([bench], stored, {}))
    assert passed.status is Status.PASS and passed.record is None
    assert passed.comparison.meta_p == 1.0
    np.testing.assert_array_equal(passed.baseline, new.values)

    worse = _bench(lambda s: [{**r, "acc": r["acc"] - 0.2} for r in _curve(s)], n_seeds=8)
    (failed,), _ = _run(planning.plan([worse], stored, {}))
    assert failed.status is Status.FAIL and failed.comparison.n_flagged == 2
    assert results.exit_code([new, passed]) == EXIT_OK
    assert results.exit_code([passed, failed]) == EXIT_REGRESSION


def test_error_outcome_names_the_seed_and_keeps_going():
    def boom(seed):
        raise RuntimeError(f"bad {seed}")

    jobs = planning.plan([_bench(boom, "bench_a"), _bench(_curve, "bench_b")], {}, {}, base_seed=2)
    (error, ok), _ = _run(jobs)
    assert error.status is Status.ERROR and error.record is None and error.values is None
    assert error.error.seed == jobs[0].seeds[0]
    assert (
        error.error.message
        == f"seed {error.error.seed} raised RuntimeError: bad {error.error.seed}"
    )
    assert "raise RuntimeError" in error.error.traceback
    assert ok.status is Status.NEW
    assert results.exit_code([ok, error]) == EXIT_ERROR


def test_update_outcome_replaces():
    bench = _bench(_curve, n_seeds=5)
    (outcome,), _ = _run(planning.plan([bench], {}, {}, update=True, base_seed=4))
    assert outcome.status is Status.NEW and outcome.replaces


# -- two revisions -----------------------------------------------------------
_SOURCES = (CodeSource(side="base"), CodeSource(side="head"))


def test_plan_pairs_samples_fresh_seeds_and_says_how_to_reach_alpha():
    bench = _bench(_curve, n_seeds=6, alpha=0.1)
    pairing = Pairing(pairs=[(bench, bench)], only_base=[], only_head=[])
    [job] = planning.plan_pairs(pairing, _SOURCES, {"n_seeds": 7}, base_seed=3)
    assert job.baseline is None and len(job.seeds) == 7 and job.settings.alpha == 0.1
    assert job.paired and not job.makes_baseline
    again = planning.plan_pairs(pairing, _SOURCES, {"n_seeds": 7}, base_seed=3)
    assert again[0].seeds == job.seeds
    short = _bench(_curve, n_seeds=4)
    with pytest.raises(planning.UnreachableAlphaError, match=r"\(--n-seeds 5 or n_seeds=5\)"):
        planning.plan_pairs(Pairing([(short, short)], [], []), _SOURCES, {})


def test_compare_judges_head_against_base_in_the_one_loop(toy_repo):
    from pybench.sources import code, revisions

    root = toy_repo.root
    base_rev, head_rev = revisions.resolve(root, "v1"), revisions.resolve(root, "main")
    with (
        code.open_tree(root, base_rev, Path("benchmarks"), "base") as base_tree,
        code.open_tree(root, head_rev, Path("benchmarks"), "head") as head_tree,
    ):
        [base] = code.discover_tree(base_tree)
        [head] = code.discover_tree(head_tree)
        pairing = Pairing(pairs=[(base, head)], only_base=[], only_head=[])
        jobs = planning.plan_pairs(pairing, (base_tree, head_tree), {}, base_seed=1)
        events: list[results.Event] = []
        with open_pool() as pool:
            [outcome] = loop.run(jobs, pool=pool, on_event=events.append)
    assert outcome.status is Status.FAIL and outcome.record is None
    assert outcome.slots == ((0, "min:cost"), (0, "value"))
    assert outcome.baseline is not None and outcome.values is not None
    np.testing.assert_array_equal(outcome.values - outcome.baseline, [[0.0, -1.0]] * 6)
    assert outcome.comparison is not None and outcome.comparison.n_flagged == 1
    assert outcome.bench.path == root / "benchmarks" / outcome.bench.path.name
    assert isinstance(events[0], results.BenchStarted) and events[0].total == 12
    assert sum(isinstance(e, results.SeedDone) for e in events) == 12
    assert isinstance(events[-1], results.BenchFinished) and events[-1].outcome is outcome


def test_strict_refuses_a_missing_baseline_without_running_it():
    calls = []
    bench = _bench(lambda s: calls.append(s) or 1.0, "bench_x", n_seeds=4)  # alpha unreachable
    stored = _bench(_curve, "bench_y", n_seeds=6)
    record = BaselineRecord(
        "bench_y", [1, 2, 3, 4, 5, 6], {1: {"acc": [0.5] * 6}, 2: {"acc": [0.6] * 6}}
    )
    jobs = planning.plan(
        [bench, stored],
        {"bench_y": record},
        {},
        strict=True,
        baseline_file="ci/b.jsonl",
        update_command="pybench update benchmarks/x --baseline ci/b.jsonl",
    )
    assert not jobs[0].makes_baseline and jobs[0].seeds == () and not jobs[1].makes_baseline
    (refused, compared), events = _run(jobs)
    assert calls == [] and refused.status is Status.ERROR and refused.record is None
    assert refused.error.message == (
        "--strict: no stored baseline in ci/b.jsonl; make one with "
        "`pybench update benchmarks/x --baseline ci/b.jsonl --bench bench_x` and commit it"
    )
    assert compared.status in (Status.PASS, Status.FAIL)
    assert [type(e).__name__ for e in events if getattr(e, "name", None) == "bench_x"] == []
    assert results.exit_code([refused, compared]) == EXIT_ERROR
    # update makes baselines on purpose: strict does not apply
    [job] = planning.plan([stored], {}, {}, update=True, strict=True, base_seed=1)
    assert job.makes_baseline and job.refused is None


def test_hints_name_the_update_command_given():
    bench = _bench(_curve, n_seeds=4)
    with pytest.raises(planning.UnreachableAlphaError, match="then `pybench update b --bench"):
        planning.plan([bench], {}, {}, update_command="pybench update b")
    record = BaselineRecord("bench_t", [1, 2, 3, 4, 5, 6], {1: {"other": [0.5] * 6}})
    jobs = planning.plan(
        [_bench(_curve)], {"bench_t": record}, {}, update_command="pybench update b"
    )
    (outcome,), _ = _run(jobs)
    assert (
        "re-run `pybench update b --bench bench_t` to reset its baseline" in outcome.error.message
    )


class _MismatchedPool(Pool):
    """A local pool that reports the workers running another numpy (as a Dask pool would)."""

    def version_mismatches(self, bench):
        from pybench.execution.versions import VersionMismatch

        return [VersionMismatch("numpy", "tcp://10.0.0.2:4000", "2.1.0", "1.26.4")]


@pytest.mark.parametrize("strict", [False, True])
def test_version_mismatch_is_a_warning_or_under_strict_an_error(strict):
    calls: list[int] = []
    bench = _bench(lambda s: calls.append(s) or 1.0, n_seeds=6)
    record = BaselineRecord(
        bench="bench_t", seeds=[1, 2, 3, 4, 5, 6], scores={0: {"score": [1.0] * 6}}
    )
    jobs = planning.plan([bench], {"bench_t": record}, {}, strict=strict)
    [outcome] = loop.run(jobs, pool=_MismatchedPool())
    assert [str(m) for m in outcome.version_mismatches] == [
        "numpy is 2.1.0 here but 1.26.4 on worker tcp://10.0.0.2:4000"
    ]
    if strict:
        assert outcome.status is Status.ERROR and calls == []
        assert outcome.error.message.startswith("--strict: numpy is 2.1.0 here but 1.26.4")
    else:
        assert outcome.status is Status.PASS and len(calls) == 6


def test_plan_pairs_orders_by_name_and_marks_the_one_sided():
    both = (_bench(_curve, "bench_b", n_seeds=6), _bench(_curve, "bench_b", n_seeds=8))
    added = _bench(_curve, "bench_c", n_seeds=6, alpha=0.1)
    removed = _bench(_curve, "bench_a", n_seeds=4)  # unreachable alpha: never checked, never run
    pairing = Pairing(pairs=[both], only_base=[removed], only_head=[added])
    jobs = planning.plan_pairs(pairing, _SOURCES, {"min_effect": 0.01}, base_seed=2)
    assert [(job.bench.name, job.only_in) for job in jobs] == [
        ("bench_a", "base"),
        ("bench_b", None),
        ("bench_c", "head"),
    ]
    assert jobs[0].seeds == () and jobs[0].bench is removed
    assert jobs[1].bench is both[1] and len(jobs[1].seeds) == 8  # HEAD's settings
    assert jobs[2].settings == Settings(n_seeds=6, alpha=0.1, min_effect=0.01)
    assert all(job.baseline is None and not job.update for job in jobs)
    with pytest.raises(planning.UnreachableAlphaError, match="bench_c"):
        planning.plan_pairs(
            Pairing([], [], [_bench(_curve, "bench_c", n_seeds=4)]), _SOURCES, {}, base_seed=2
        )


# -- adaptive comparisons -------------------------------------------------------------
def _noisy(seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"step": s, "min:loss": 1.0 / s + rng.normal(0.0, 0.05)} for s in (1, 2, 3)]


def _stored(bench: Benchmark) -> dict[str, BaselineRecord]:
    (new,), _ = _run(planning.plan([bench], {}, {}, base_seed=5))
    return {bench.name: new.record}


def test_adaptive_comparison_stops_early_and_says_where():
    calls: list[int] = []
    bench = _bench(lambda s: calls.append(s) or _noisy(s), n_seeds=30)
    stored = _stored(bench)
    assert len(calls) == 31  # a new baseline runs every seed (plus the determinism check)
    calls.clear()
    (same,), events = _run(planning.plan([bench], stored, {"adaptive": True}))
    assert same.status is Status.PASS and same.stopped_early
    assert (same.seeds_run, same.seeds_stored, same.stopped_at_look) == (10, 30, 1)
    assert same.stop_reason is adaptive.StopReason.FUTILITY and same.look_alpha == 0.001
    assert calls == list(stored["bench_t"].seeds[:10])  # in stored order, nothing more
    assert same.seeds == tuple(calls) and same.values.shape == same.baseline.shape == (10, 3)
    assert same.comparison.meta_p == 1.0 and len(same.timings.per_seed) == 10
    assert [type(e).__name__ for e in events] == ["BenchStarted"] + ["SeedDone"] * 10 + [
        "BenchFinished"
    ]
    assert events[0].total == 30

    worse = _bench(lambda s: [{**r, "min:loss": r["min:loss"] + 0.3} for r in _noisy(s)])
    (failed,), _ = _run(planning.plan([worse], stored, {"adaptive": True}))
    assert failed.status is Status.FAIL and failed.seeds_run == 10
    assert failed.stop_reason is adaptive.StopReason.REGRESSION
    assert failed.look_alpha == adaptive.schedule(30, 0.05)[0].alpha
    assert results.exit_code([failed]) == EXIT_REGRESSION


def test_adaptive_comparison_runs_on_when_uncertain():
    shifted = _bench(lambda s: [{**r, "min:loss": r["min:loss"] + 0.02} for r in _noisy(s + 1)])
    stored = _stored(_bench(_noisy, n_seeds=30))
    (outcome,), _ = _run(planning.plan([shifted], stored, {"adaptive": True}))
    looks = adaptive.schedule(30, 0.05)
    assert outcome.seeds_run in [look.n for look in looks] and outcome.seeds_run > 10
    assert outcome.stopped_at_look == [look.n for look in looks].index(outcome.seeds_run) + 1
    assert outcome.values.shape == (outcome.seeds_run, 3)
    np.testing.assert_array_equal(
        outcome.baseline, stored["bench_t"].matrix(list(outcome.slots))[: outcome.seeds_run]
    )


def test_without_adaptive_every_seed_runs():
    bench = _bench(_noisy, n_seeds=30)
    stored = _stored(bench)
    (outcome,), _ = _run(planning.plan([bench], stored, {}))
    assert outcome.status is Status.PASS and outcome.values.shape == (30, 3)
    assert outcome.seeds_run is None and outcome.stop_reason is None and not outcome.stopped_early


def test_adaptive_error_in_a_later_stage_is_an_error():
    stored = _stored(_bench(_noisy, n_seeds=30))
    late = set(stored["bench_t"].seeds[10:])

    def flaky(seed):  # the first ten seeds as in the test above: the first look runs on
        if seed in late:
            raise RuntimeError("late")
        return [{**r, "min:loss": r["min:loss"] + 0.02} for r in _noisy(seed + 1)]

    (outcome,), _ = _run(planning.plan([_bench(flaky)], stored, {"adaptive": True}))
    assert outcome.status is Status.ERROR and outcome.error.seed in late
    assert "raised RuntimeError: late" in outcome.error.message


# -- determinism, timings, collection errors, resume -----------------------------
def test_a_new_baseline_warns_when_its_first_seed_is_not_deterministic():
    calls = []

    def drifting(seed):  # depends on how often it was called, not only on its seed
        calls.append(seed)
        return [{"step": 1, "acc": 0.5}, {"step": 2, "acc": 0.5 + len(calls) / 1000}]

    jobs = planning.plan([_bench(drifting, n_seeds=6)], {}, {}, base_seed=5)
    (outcome,), _ = _run(jobs)
    assert outcome.status is Status.NEW and len(calls) == 7  # one extra seed
    assert calls[-1] == calls[0] == jobs[0].seeds[0]
    [warning] = outcome.warnings
    assert warning.startswith(f"bench_t: seed {calls[0]} gave step 2 'acc' = 0.501, then 0.507 ")
    assert "deterministic function of its seed" in warning
    assert "check_determinism=False" in warning
    # the stored values are the first run's, not the re-run's
    assert outcome.record.scores[2]["acc"][0] == 0.501


def test_determinism_check_passes_quietly_and_can_be_turned_off():
    calls = []
    (outcome,), _ = _run(planning.plan([_bench(_curve, n_seeds=6)], {}, {}, base_seed=5))
    assert outcome.warnings == ()

    def counting(seed):
        calls.append(seed)
        return float(len(calls))

    off = _bench(counting, n_seeds=6, check_determinism=False)
    (outcome,), _ = _run(planning.plan([off], {}, {}, base_seed=5))
    assert outcome.warnings == () and len(calls) == 6
    (outcome,), _ = _run(planning.plan([off], {}, {"check_determinism": True}, base_seed=5))
    assert len(outcome.warnings) == 1 and len(calls) == 13
    stored = {"bench_t": outcome.record}
    calls.clear()
    (compared,), _ = _run(planning.plan([_bench(counting, n_seeds=6)], stored, {}))
    assert len(calls) == 6 and compared.warnings == ()  # a comparison never re-runs


def test_timings_give_the_wall_time_and_the_median_seed():
    def slow_first(seed):
        import time

        time.sleep(0.05 if seed == jobs[0].seeds[0] else 0.0)
        return 1.0

    jobs = planning.plan([_bench(slow_first, n_seeds=5)], {}, {}, base_seed=1)
    (outcome,), _ = _run(jobs)
    timings = outcome.timings
    assert len(timings.per_seed) == 5 and timings.per_seed[0] >= 0.05
    assert timings.median == sorted(timings.per_seed)[2] < 0.05
    assert timings.wall >= sum(timings.per_seed) + 0.05  # the determinism re-run counts too


def test_collection_errors_become_error_outcomes_reported_first(tmp_path):
    from pybench.sources.discover import CollectionError

    broken = CollectionError(
        tmp_path / "bench_broken.py",
        "importing the file failed: ModuleNotFoundError: No module named 'nope' (line 1)",
        "Traceback (most recent call last):\n  ...",
    )
    jobs = planning.plan([_bench(_curve, n_seeds=5)], {}, {}, base_seed=1)
    outcomes, events = _run(jobs, not_collected=[broken])
    first, ok = outcomes
    assert first.status is Status.ERROR and first.name == str(tmp_path / "bench_broken.py")
    assert first.error.message.startswith("importing the file failed: ModuleNotFoundError")
    assert first.error.traceback.startswith("Traceback") and first.seeds == ()
    assert events[0] == results.BenchFinished(first)
    assert ok.status is Status.NEW
    assert results.exit_code(outcomes) == EXIT_ERROR


def test_resume_reuses_journaled_seeds_of_the_same_code(tmp_path):
    from pybench.storage.journal import Journal

    calls = []

    def counted(seed):
        calls.append(seed)
        if len(calls) == 4 and not resumed:
            raise KeyboardInterrupt  # the run is stopped during its fourth seed
        return [{"step": 1, "acc": (seed % 97) / 97}]

    path = tmp_path / "bench_t.py"
    path.write_text("# the benchmark's file: part of the code's fingerprint\n")
    bench = Benchmark("bench_t", path, counted, Settings(n_seeds=6))
    journal = Journal(tmp_path / "journal")
    resumed = False
    jobs = planning.plan([bench], {}, {}, journal=journal)
    with pytest.raises(KeyboardInterrupt):
        _run(jobs, journal=journal)
    assert len(calls) == 4 and journal.path("bench_t").exists()

    original = path.read_text()
    path.write_text("# edited: a different fingerprint\n")
    [stale] = planning.plan([bench], {}, {}, journal=journal, resume=True)
    assert stale.reused == () and stale.seeds != jobs[0].seeds
    path.write_text(original)

    resumed = True
    calls.clear()
    [job] = planning.plan([bench], {}, {}, journal=journal, resume=True)
    assert job.seeds == jobs[0].seeds  # a new baseline's seeds come from the journal
    assert [o.seed for o in job.reused] == list(job.seeds[:3])
    (outcome,), events = _run([job], journal=journal)
    assert calls == [*job.seeds[3:], job.seeds[0]]  # the rest, then the determinism check
    assert outcome.status is Status.NEW and outcome.reused == 3
    assert [e.done for e in events if isinstance(e, results.SeedDone)] == [1, 2, 3, 4, 5, 6]
    want = [[(s % 97) / 97] for s in job.seeds]
    np.testing.assert_array_equal(outcome.values, want)
    assert not journal.path("bench_t").exists()  # a verdict removes the journal


def test_an_adaptive_comparison_journals_its_stages_and_resumes(tmp_path):
    from pybench.storage.journal import Journal

    path = tmp_path / "bench_t.py"
    path.write_text("# the benchmark's file\n")
    calls: list[int] = []
    stop_at: list[int] = [12]  # the 12th call is interrupted (the second stage)

    def shifted(seed):
        calls.append(seed)
        if len(calls) == stop_at[0]:
            raise KeyboardInterrupt
        return [{**r, "min:loss": r["min:loss"] + 0.02} for r in _noisy(seed + 1)]

    stored = _stored(Benchmark("bench_t", path, _noisy, Settings(n_seeds=30)))
    bench = Benchmark("bench_t", path, shifted, Settings(n_seeds=30, adaptive=True))
    journal = Journal(tmp_path / "journal")
    with pytest.raises(KeyboardInterrupt):
        _run(planning.plan([bench], stored, {}, journal=journal), journal=journal)
    seeds = stored["bench_t"].seeds
    assert calls == seeds[:12]
    calls.clear()
    stop_at[0] = 0
    [job] = planning.plan([bench], stored, {}, journal=journal, resume=True)
    assert [o.seed for o in job.reused] == seeds[:11]
    (outcome,), _ = _run([job], journal=journal)
    uninterrupted = planning.plan([bench], stored, {})
    resumed_calls, calls[:] = list(calls), []
    (reference,), _ = _run(uninterrupted)
    assert outcome.reused == 11 and resumed_calls == seeds[11 : outcome.seeds_run]
    assert (outcome.seeds_run, outcome.status) == (reference.seeds_run, reference.status)
    np.testing.assert_array_equal(outcome.values, reference.values)
    assert outcome.comparison.meta_p == reference.comparison.meta_p
    assert not journal.path("bench_t").exists()
