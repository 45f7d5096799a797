"""How the user's exceptions are shown: pybench's own frames left out, one-line summaries."""

from __future__ import annotations

import traceback

__all__ = ["one_line", "user_traceback"]


def user_traceback(exc: BaseException) -> str:
    """Format ``exc`` from the first frame outside pybench (the user's code and below)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_globals.get("__name__", "").startswith("pybench."):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb)).rstrip()


def one_line(exc: BaseException) -> str:
    """``ValueError: first line of the message`` (notes and further lines left to the traceback)."""
    cls = type(exc)
    name = cls.__qualname__
    if cls.__module__ not in ("builtins", "__main__"):
        name = f"{cls.__module__}.{name}"
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return name
    return f"{name}: {lines[0]}" + (" …" if len(lines) > 1 else "")
