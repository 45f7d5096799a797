"""The binary search for the first bad commit, on made-up verdicts."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pybench.judging.bisection import Judgement, bisect, step_bound

COMMITS = [f"c{i}" for i in range(1, 10)]  # nine commits after GOOD


def _judge(first_bad: int, skip: frozenset[int] = frozenset()):
    calls: list[str] = []

    def judge(commit: str) -> Judgement:
        calls.append(commit)
        index = int(commit[1:])
        if index in skip:
            return Judgement.SKIP
        return Judgement.BAD if index >= first_bad else Judgement.GOOD

    return judge, calls


def test_a_regression_at_commit_6_of_9_is_found_within_the_bound() -> None:
    judge, calls = _judge(6)
    found = bisect(COMMITS, judge)
    assert found.first_bad == "c6"
    assert len(found.steps) <= math.ceil(math.log2(9)) + 2
    assert calls[0] == "c9"  # BAD is confirmed first
    assert [s.commit for s in found.steps] == calls


@pytest.mark.parametrize("broken", [2, 3, 4, 7, 8])
def test_a_commit_that_cannot_be_judged_is_stepped_around(broken: int) -> None:
    judge, calls = _judge(6, frozenset({broken}))
    found = bisect(COMMITS, judge)
    assert found.first_bad == "c6", found
    assert len(found.steps) <= step_bound(9)


def test_when_only_skipped_commits_separate_good_and_bad_it_cannot_decide() -> None:
    judge, _ = _judge(6, frozenset({5}))
    found = bisect(COMMITS, judge, max_steps=20)
    assert found.first_bad is None
    assert "1 commit(s) before c6 could not be judged" in found.reason
    assert found.candidates == ["c5", "c6"]
    judge, _ = _judge(6, frozenset({5, 4}))
    found = bisect(["c4", "c5", "c6"], judge, max_steps=20)
    assert found.first_bad is None
    assert found.candidates == ["c4", "c5", "c6"]


def test_bad_that_does_not_regress_is_said_so() -> None:
    judge, calls = _judge(100)
    found = bisect(COMMITS, judge)
    assert found.first_bad is None and "does not regress" in found.reason
    assert calls == ["c9"]


def test_bad_that_cannot_be_judged_is_said_so() -> None:
    judge, _ = _judge(1, frozenset({9}))
    found = bisect(COMMITS, judge)
    assert found.first_bad is None and "could not be judged" in found.reason


def test_no_commits() -> None:
    found = bisect([], lambda c: Judgement.BAD)
    assert found.first_bad is None and found.steps == []


@given(st.integers(1, 200), st.data())
def test_any_single_change_is_found_within_the_bound(n: int, data: st.DataObject) -> None:
    first = data.draw(st.integers(1, n))
    commits = [f"c{i}" for i in range(1, n + 1)]
    judge, _ = _judge(first)
    found = bisect(commits, judge)
    assert found.first_bad == f"c{first}"
    assert len(found.steps) <= step_bound(n)
    assert len(found.steps) <= math.ceil(math.log2(n)) + 2 if n > 1 else len(found.steps) <= 2


def test_the_budget_stops_the_search_and_says_so() -> None:
    judge, _ = _judge(6, frozenset(range(1, 6)))
    found = bisect(COMMITS, judge, max_steps=3)
    assert found.first_bad is None and "stopped after 3 comparisons" in found.reason
    assert len(found.steps) == 3


def test_commits_may_be_any_value_and_messages_name_them_by_str() -> None:
    class Tagged:
        def __init__(self, number: int) -> None:
            self.number = number

        def __str__(self) -> str:
            return f"t{self.number}"

    commits = [Tagged(i) for i in range(1, 6)]
    found = bisect(commits, lambda c: Judgement.BAD if c.number >= 3 else Judgement.GOOD)
    assert found.first_bad is commits[2]
    assert all(step.commit is commits[step.index] for step in found.steps)
    unjudged = bisect(commits, lambda c: Judgement.SKIP)
    assert unjudged.first_bad is None and unjudged.reason == "BAD (t5) could not be judged"
