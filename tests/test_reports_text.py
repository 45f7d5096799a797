"""The pieces every report shares, above all how p-values are printed against alpha."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybench.reports.text import FINE_ALPHA, display_path, format_p


@pytest.mark.parametrize(
    ("value", "alpha", "shown"),
    [
        (0.0002441, 0.05, "0.000"),  # three decimals, as the walkthrough prints
        (1.0, 0.05, "1.000"),
        (0.0496, 0.01, "0.050"),
        (1 / 4096, 0.001, "0.000244"),
        (1 / 4097, 0.001, "0.000244"),
        (0.000996, 0.001, "0.000996"),
        (0.0009999, 0.001, "0.000999"),  # rounded down: below alpha never prints as alpha
        (0.001, 0.001, "0.00100"),
        (0.0123456, 0.001, "0.0123"),
        (1.0, 0.001, "1.00"),
        (2.44e-05, 0.0001, "2.44e-05"),
        (0.0, 0.001, "0"),
    ],
)
def test_format_p(value, alpha, shown):
    assert format_p(value, alpha) == shown


@pytest.mark.parametrize("value", [1e-7, 3.3e-5, 0.00024, 0.000999999, 0.00099, 0.0009])
def test_a_p_value_below_a_fine_alpha_never_prints_as_alpha_or_above(value):
    assert float(format_p(value, FINE_ALPHA)) < FINE_ALPHA
    assert float(format_p(value, FINE_ALPHA)) == pytest.approx(value, rel=0.01)


def test_display_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert display_path(Path("a/b.jsonl")) == "a/b.jsonl"
    assert display_path(tmp_path / "c") == "c"
    assert display_path(tmp_path.parent / "x") == str((tmp_path.parent / "x").resolve())
