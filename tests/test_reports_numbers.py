"""One number format and one sanitiser for every report."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pybench.reports import numbers
from pybench.reports.sanitize import NAME_LIMIT, clean, shorten


@pytest.mark.parametrize(
    ("mean", "std", "shown"),
    [
        (1.08, 0.05, "1.08±0.05"),  # the walkthrough's rows
        (0.13, 0.06, "0.13±0.06"),
        (0.0245, 0.0088, "0.025±0.009"),  # never 0.02±0.01 / 0.00±0.00 for a small spread
        (0.0012, 0.0004, "0.0012±0.0004"),
        (342.96, 1860.04, "342.96±1860.04"),
        (2.5e7, 1.2e6, "2.5e+07±1.2e+06"),
        (3e-9, 1e-9, "3e-09±1e-09"),
        (1.0, math.nan, "1.00"),
        (None, None, "—"),
    ],
)
def test_mean_std(mean, std, shown):
    assert numbers.mean_std(mean, std) == shown


@pytest.mark.parametrize(
    ("fraction", "shown"),
    [
        (-1.553, "-155.3%"),
        (0.0, "+0.0%"),
        (-5271.069, "-5.27e+05%"),
        (24.17, "+2417%"),
        (None, "—"),
        (math.inf, "—"),
    ],
)
def test_percent(fraction, shown):
    assert numbers.percent(fraction) == shown


def test_interval_and_p_value():
    assert numbers.interval(-0.773, -0.669) == "[-77.3%, -66.9%]"
    assert numbers.p_value(0.0002441, 0.05) == "0.000"
    assert numbers.p_value(1 / 4096, 0.001) == "0.000244"
    assert numbers.p_value(None) == "—"


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12),
       st.floats(min_value=1e-12, max_value=1e12))  # fmt: skip
def test_the_spread_never_prints_as_zero(mean, std):
    text = numbers.mean_std(mean, std)
    spread = text.split("±")[1]
    assert float(spread) > 0, text


def test_clean_replaces_every_control_character_visibly():
    assert clean("\x1b]0;title\x07\x1b[2J") == "␛]0;title␇␛[2J"
    assert clean("a\nb\tc") == "a␊b␉c"
    assert clean("a\nb\tc", lines=True) == "a\nb\tc"
    assert clean("x\ud800y\u202ez\x85\x7f") == "x\ufffdy\ufffdz\ufffd␡"


@given(st.text())
def test_clean_output_is_printable_and_encodable(text):
    out = clean(text)
    out.encode("utf-8")
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in out)


def test_shorten():
    long = "m" * 2000
    assert len(shorten(long)) == NAME_LIMIT and shorten(long).endswith("…")
    assert shorten("acc") == "acc"


def test_an_exact_zero_is_never_printed_negative() -> None:
    from pybench.reports.numbers import interval, percent

    assert percent(-0.0) == "+0.0%"
    assert interval(-0.0, 0.0) == "[+0.0%, +0.0%]"
    assert percent(-0.0004) == "-0.0%"  # a real (tiny) drop keeps its sign
