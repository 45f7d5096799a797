"""Text from files and user code made safe to show on a terminal or in Markdown.

Metric names, error messages, commit subjects and baseline file content are
data. Written raw, an escape sequence in one could set the window title, clear
the screen, hide text or plant a link; a lone surrogate cannot even be encoded.
:func:`clean` is the one place that neutralises them, for every report;
:func:`shorten` keeps a long name from taking over a line (the JSON report keeps
every name whole).
"""

from __future__ import annotations

import re

__all__ = ["NAME_LIMIT", "clean", "shorten"]

NAME_LIMIT = 60
"""Names longer than this are cut for display (:func:`shorten`)."""

# C0 controls, DEL, C1 controls, bidirectional overrides and isolates, lone surrogates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_KEPT_IN_BLOCKS = "\n\t"


def _picture(char: str) -> str:
    """The visible stand-in of one unsafe character: ``␛`` for ESC, U+FFFD for the rest."""
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: ␀ … ␟
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"


def clean(text: object, *, lines: bool = False) -> str:
    """``text`` with every control character replaced by a visible stand-in.

    ESC becomes ``␛``, other C0 controls their Control Picture, DEL ``␡``, C1
    controls, bidirectional overrides and lone surrogates U+FFFD. With
    ``lines`` (tracebacks, captured output) newlines and tabs are kept;
    otherwise the result is one line.
    """
    string = text if isinstance(text, str) else str(text)
    if lines:
        string = string.replace("\r\n", "\n")

    def replace(match: re.Match[str]) -> str:
        char = match.group()
        return char if lines and char in _KEPT_IN_BLOCKS else _picture(char)

    return _UNSAFE.sub(replace, string)


def shorten(text: str, limit: int = NAME_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, the cut marked with ``…`` (and cleaned)."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return clean(text)
