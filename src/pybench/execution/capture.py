"""Capturing what a seed prints: its stdout, its stderr and its Python warnings.

Capture is at the file-descriptor level, like pytest's ``--capture=fd``: while
a seed runs, descriptors 1 and 2 point at anonymous files (in memory on Linux,
temporary files elsewhere), so output written by
C extensions and by subprocesses the benchmark starts is caught as well as
``print``. ``sys.stdout`` and ``sys.stderr`` are replaced too, for when they are
objects without a descriptor of their own (as under a test runner). Python
warnings are printed to the captured stderr, whoever else was showing them.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = ["MAX_CHARS", "Captured", "capture"]

MAX_CHARS = 64_000
"""The most characters kept of each stream (the end of it: where an error shows)."""


@dataclass
class Captured:
    """The text a seed wrote; filled in when the :func:`capture` block ends."""

    stdout: str = ""
    stderr: str = ""


_fflush: Callable[[Any], Any] | None = None


def _flush_c_stdio() -> None:
    """Flush the C library's ``stdout`` buffer, which native code writes through."""
    global _fflush
    if _fflush is None:
        try:
            import ctypes

            _fflush = ctypes.CDLL(None).fflush
        except (OSError, AttributeError, ImportError):  # no C library to ask
            _fflush = lambda stream: None  # noqa: E731
    with contextlib.suppress(Exception):
        _fflush(None)


def _flush(stream: Any) -> None:
    with contextlib.suppress(Exception):
        stream.flush()


def _read_tail(fd: int) -> str:
    try:
        return _tail(fd)
    except (OSError, ValueError):  # the seed closed or replaced the file's descriptor
        return ""


def _read(fd: int, start: int, size: int) -> bytes:
    os.lseek(fd, start, os.SEEK_SET)
    parts = []
    while size > 0:
        chunk = os.read(fd, size)
        if not chunk:
            break
        parts.append(chunk)
        size -= len(chunk)
    return b"".join(parts)


def _tail(fd: int) -> str:
    size = os.fstat(fd).st_size
    limit = MAX_CHARS * 4  # UTF-8 needs at most four bytes a character
    start = max(0, size - limit)
    text = _read(fd, start, size - start).decode("utf-8", errors="replace")
    if len(text) > MAX_CHARS or size > limit:
        return (
            f"[… {size} bytes in all: only the last {MAX_CHARS} characters are kept …]\n"
            + (text[-MAX_CHARS:])
        )
    return text


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    with contextlib.suppress(Exception):
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _retire(stream: IO[str]) -> None:
    """Send later writes to ``stream`` nowhere, without closing it.

    A thread the seed started may still hold the stream and print after the
    seed ended; closing it under that thread can crash the interpreter. Its
    descriptor is pointed at the null device instead, and the stream is closed
    by the garbage collector once nobody holds it.
    """
    with contextlib.suppress(OSError, ValueError):
        os.dup2(_null(), stream.fileno())


_NULL: list[tuple[int, int, int]] = []
"""The null device's descriptor, device and inode: opened once per process (a seed's
streams are retired onto it), opened again if that descriptor no longer is it."""


def _null() -> int:
    if _NULL:
        fd, dev, ino = _NULL[0]
        with contextlib.suppress(OSError):
            info = os.fstat(fd)
            if (info.st_dev, info.st_ino) == (dev, ino):
                return fd
        _NULL.clear()
    fd = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    info = os.fstat(fd)
    _NULL.append((fd, info.st_dev, info.st_ino))
    return fd


_KEPT_FROM = 256
"""The descriptors the capture keeps for itself (the terminal's, the anonymous files) are
moved at or above this number, out of the way of a seed that closes the low ones."""


def _high_copy(fd: int) -> int:
    """A new descriptor on ``fd``'s file, from ``_KEPT_FROM`` on where free (close-on-exec).

    Raises:
        OSError: ``fd`` is not open.
    """
    if fcntl is not None:
        with contextlib.suppress(OSError):
            return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, _KEPT_FROM)
        os.fstat(fd)  # no free descriptor up there (a low limit on open files): is fd open?
    return os.dup(fd)


def _scratch() -> int:
    """A descriptor on an anonymous file for one stream: in memory where the system offers
    one (``memfd``, a few times cheaper to make than a temporary file: seeds can be many and
    quick), else a temporary file; kept from ``_KEPT_FROM`` on."""
    if hasattr(os, "memfd_create"):
        with contextlib.suppress(OSError):
            fd = os.memfd_create("pybench-capture", os.MFD_CLOEXEC)
            return _moved_up(fd)
    with tempfile.TemporaryFile() as file:  # (already unlinked: the copy keeps it alive)
        return _moved_up(os.dup(file.fileno()))


def _moved_up(fd: int) -> int:
    """``fd`` moved to a descriptor from ``_KEPT_FROM`` on; ``fd`` itself where that fails."""
    try:
        high = _high_copy(fd)
    except OSError:
        return fd
    os.close(fd)
    return high


@contextlib.contextmanager
def capture(enabled: bool = True) -> Iterator[Captured]:
    """Capture what the block writes to stdout and stderr (nothing when not ``enabled``)."""
    result = Captured()
    if not enabled:
        yield result
        return
    _flush(sys.stdout)
    _flush(sys.stderr)
    _flush_c_stdio()
    files = (_scratch(), _scratch())
    saved_fds: list[int | None] = []
    saved_streams = (sys.stdout, sys.stderr)
    streams: list[IO[str]] = []
    try:
        for fd, file in zip((1, 2), files, strict=True):
            try:
                saved_fds.append(_high_copy(fd))
            except OSError:  # that descriptor is closed: capture at the sys level only
                saved_fds.append(None)
            else:
                os.dup2(file, fd)
            # A second descriptor on the same open file shares its offset, so
            # writes through sys.stdout and through fd 1 stay in order.
            streams.append(
                open(  # noqa: SIM115 - closed in the finally below
                    os.dup(file), "w", encoding="utf-8", errors="replace", buffering=1
                )
            )
        sys.stdout, sys.stderr = streams
        with warnings.catch_warnings():  # the filters stay; only where warnings go changes
            warnings.showwarning = _show_warning
            yield result
    finally:
        for stream in streams:
            _flush(stream)
        _flush_c_stdio()
        sys.stdout, sys.stderr = saved_streams
        for fd, saved in zip((1, 2), saved_fds, strict=False):
            if saved is not None:
                with contextlib.suppress(OSError):  # only a seed closing it makes dup2 fail
                    os.dup2(saved, fd)
                    os.close(saved)
        for stream in streams:
            _retire(stream)
        texts = []
        for file in files:
            texts.append(_read_tail(file))
            with contextlib.suppress(OSError):
                os.close(file)
        result.stdout, result.stderr = texts
