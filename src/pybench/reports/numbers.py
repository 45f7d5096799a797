"""How every report prints a number: p-values, relative changes, intervals, mean±std, values.

One rule for the terminal, Markdown, JUnit XML, the HTML page and anything
else that shows pybench's numbers, so the same slot reads the same everywhere.
Pure functions of their arguments; no report formats a number any other way.

- p-values: three decimals (``0.000``, ``1.000``) as the walkthrough prints them;
  at a fine ``alpha`` (<= :data:`FINE_ALPHA`) three significant digits rounded
  down, so a value below alpha never prints as alpha or above it.
- relative changes: percent with one decimal (``-155.3%``, ``+0.0%``); from
  1 000 % on, whole percent; from 10 000 % on, three significant digits
  (``-5.27e+05%``), so a heavy-tailed interval stays short.
- mean±std: two decimals (``1.08±0.05``), more when the spread is smaller than
  0.01 so it never prints as ``0.00`` (``0.0012±0.0004``); three significant
  digits for values of 10^6 and more or below 10^-6; a spread below 10^-6 on a
  larger value in two significant digits (``1±1.2e-07``).
- other values: four significant digits (``0.1234``, ``1.235e+06``).
"""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, Decimal

__all__ = [
    "FINE_ALPHA",
    "interval",
    "level",
    "mean_std",
    "p_value",
    "percent",
    "seconds",
    "value",
]

FINE_ALPHA = 0.001
"""At or below this alpha, p-values are printed with three significant digits.

Three decimals cannot be read against such an alpha: a meta-p of 0.000244
would print as ``0.000``, and 0.000996 (a FAIL at alpha 0.001) as ``0.001``.
"""

_MAX_DECIMALS = 6
_NONE = "—"


def p_value(p: float | None, alpha: float | None = None) -> str:
    """A p-value (``0.000``; ``0.000244`` when ``alpha <= FINE_ALPHA``); ``—`` when missing."""
    if p is None:
        return _NONE
    if alpha is None or alpha > FINE_ALPHA or not math.isfinite(p):
        return f"{p:.3f}"
    if p == 0:
        return "0"
    exact = Decimal(repr(p))
    digits = exact.adjusted()  # the power of ten of the leading digit
    shown = exact.quantize(Decimal(1).scaleb(digits - 2), rounding=ROUND_FLOOR)
    if digits < -4:
        return f"{float(shown):.2e}"
    return f"{shown:f}"


def percent(fraction: float | None) -> str:
    """A relative change given as a fraction, in percent: ``-155.3%``, ``+0.0%``, ``+2417%``."""
    if fraction is None or not math.isfinite(fraction):
        return _NONE
    pct = fraction * 100 + 0.0  # an exact zero prints as +0.0%, never -0.0%
    if abs(pct) >= 10_000:
        return f"{pct:+.3g}%"
    if abs(pct) >= 1_000:
        return f"{pct:+.0f}%"
    return f"{pct:+.1f}%"


def interval(low: float | None, high: float | None) -> str:
    """A relative-change interval: ``[-12.1%, +3.4%]``."""
    return f"[{percent(low)}, {percent(high)}]"


def _decimals(std: float) -> int:
    """Two decimals, or as many as show the spread's leading digit (at most six)."""
    if std <= 0 or std >= 0.01:
        return 2
    return min(_MAX_DECIMALS, -math.floor(math.log10(std)))


def mean_std(mean: float | None, std: float | None) -> str:
    """``0.13±0.06``; the mean alone when the std is missing or not finite."""
    if mean is None or not math.isfinite(mean):
        return _NONE if mean is None else str(mean)
    spread = std if std is not None and math.isfinite(std) else None
    scale = max(abs(mean), spread or 0.0)
    tiny = scale != 0 and scale < 10.0**-_MAX_DECIMALS
    if scale >= 1e6 or tiny:
        return f"{mean:.3g}" + ("" if spread is None else f"±{spread:.2g}")
    if spread is not None and 0 < spread < 10.0**-_MAX_DECIMALS:
        return f"{mean:.7g}±{spread:.2g}"  # a spread too fine for fixed decimals
    if spread is None:
        return f"{mean:.2f}" if abs(mean) >= 0.01 or mean == 0 else f"{mean:.3g}"
    places = _decimals(spread)
    return f"{mean:.{places}f}±{spread:.{places}f}"


def value(number: float | None, digits: int = 4) -> str:
    """A plain value with ``digits`` significant digits: ``0.1234``, ``1.235e+06``."""
    if number is None:
        return _NONE
    return f"{number:.{digits}g}"


def level(alpha: float) -> str:
    """The confidence level of a ``1 - alpha`` interval: ``95%``."""
    return f"{(1.0 - alpha) * 100:g}%"


def seconds(elapsed: float) -> str:
    """``4.2s``, ``0.14s``, ``3.1ms``: a time with the digits that matter."""
    if elapsed >= 1:
        return f"{elapsed:.1f}s"
    if elapsed >= 0.01:
        return f"{elapsed:.2f}s"
    return f"{elapsed * 1000:.1f}ms"
