"""How the user's exceptions are shown: pybench's own frames left out, one-line summaries."""

from __future__ import annotations

import traceback

__all__ = ["one_line", "user_traceback", "valid_text"]


def user_traceback(exc: BaseException) -> str:
    """Format ``exc`` from the first frame outside pybench (the user's code and below)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_globals.get("__name__", "").startswith("pybench."):
        tb = tb.tb_next
    try:
        return valid_text("".join(traceback.format_exception(type(exc), exc, tb)).rstrip())
    except Exception:  # a hostile exception (its __str__ raises, deep chains...)
        return f"{_name(exc)}: {_text(exc)}"


def _text(exc: BaseException) -> str:
    """``str(exc)``, or a note saying it could not be had; never raises."""
    try:
        text = str(exc)
    except Exception as inner:  # an exception whose __str__ raises is still reported
        try:
            return f"<the message could not be read: {type(inner).__name__}>"
        except Exception:  # pragma: no cover - a metaclass that raises on __name__
            return "<the message could not be read>"
    return valid_text(text) if isinstance(text, str) else ""


def valid_text(text: str) -> str:
    """``text`` with lone surrogates (which no file or terminal can take) written as escapes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _name(exc: BaseException) -> str:
    cls = type(exc)
    shown = cls.__dict__.get("shown_as")  # pybench's own stand-in for a builtin exception
    if isinstance(shown, str):
        return shown
    name = cls.__qualname__
    if cls.__module__ not in ("builtins", "__main__"):
        name = f"{cls.__module__}.{name}"
    return name


def one_line(exc: BaseException) -> str:
    """``ValueError: first line of the message`` (notes and further lines left to the traceback)."""
    name = _name(exc)
    lines = [line.strip() for line in _text(exc).splitlines() if line.strip()]
    if not lines:
        return name
    return f"{name}: {lines[0]}" + (" …" if len(lines) > 1 else "")
