"""Capturing a seed's output at the file-descriptor level: Python, C and subprocesses."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import warnings

from pybench.execution import capture


def _noisy() -> None:
    print("from print")
    sys.stderr.write("from sys.stderr\n")
    os.write(1, b"from fd 1\n")
    os.write(2, b"from fd 2\n")
    libc = ctypes.CDLL(None)
    libc.printf(b"from C printf\n")  # buffered in the C library, flushed by the capture
    subprocess.run([sys.executable, "-c", "print('from a subprocess')"], check=True)
    warnings.warn("from warnings", UserWarning, stacklevel=1)


def test_fd_level_capture_catches_python_c_and_subprocess_output(capfd):
    with capture.capture() as out:
        _noisy()
    assert out.stdout.splitlines() == [
        "from print",
        "from fd 1",
        "from C printf",
        "from a subprocess",
    ]
    lines = out.stderr.splitlines()
    assert lines[:2] == ["from sys.stderr", "from fd 2"]
    assert any("UserWarning: from warnings" in line for line in lines[2:])
    leaked = capfd.readouterr()
    assert "from" not in leaked.out and "from" not in leaked.err
    print("after")  # descriptors and sys streams are back
    assert capfd.readouterr().out == "after\n"


def test_disabled_capture_lets_output_through(capfd):
    with capture.capture(enabled=False) as out:
        print("visible")
        os.write(2, b"also visible\n")
    assert out.stdout == out.stderr == ""
    seen = capfd.readouterr()
    assert seen.out == "visible\n" and seen.err == "also visible\n"


def test_restored_even_when_the_block_raises(capfd):
    saved = sys.stdout, sys.stderr
    try:
        with capture.capture() as out:
            print("before the error")
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert (sys.stdout, sys.stderr) == saved
    assert out.stdout == "before the error\n"
    print("after")
    assert capfd.readouterr().out == "after\n"


def test_long_output_keeps_its_end(capfd):
    with capture.capture() as out:
        for i in range(40_000):
            print(f"line {i}")
    assert out.stdout.endswith("line 39999\n")
    assert out.stdout.startswith("[… ") and "only the last" in out.stdout.splitlines()[0]
    assert len(out.stdout) < capture.MAX_CHARS + 200


def test_a_thread_that_prints_after_the_block_neither_crashes_nor_leaks_into_the_capture(
    tmp_path,
):
    script = tmp_path / "late.py"
    script.write_text(
        "import sys, threading, time\n"
        "from pybench.execution import capture\n"
        "def chatter(stream):\n"
        "    for i in range(20000):\n"
        "        stream.write(f'late {i}\\n')\n"
        "with capture.capture() as out:\n"
        "    t = threading.Thread(target=chatter, args=(sys.stdout,), daemon=True)\n"
        "    t.start()\n"
        "    time.sleep(0.001)\n"
        "t.join()\n"
        "sys.__stdout__.write('survived\\n')\n"
    )
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr  # the thread's late writes go nowhere, quietly
    assert done.stdout.endswith("survived\n")
    assert "late" not in done.stdout


def test_many_captures_leave_no_descriptor_open(capfd):
    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    with capture.capture() as first:
        print("warm")
    before = open_fds()
    for i in range(200):
        with capture.capture() as got:
            print(f"seed {i}")
        assert got.stdout == f"seed {i}\n"
    assert first.stdout == "warm\n"
    assert open_fds() == before  # the null device is opened once, nothing else is kept


def test_a_closed_null_device_descriptor_is_opened_again(capfd):
    with capture.capture():
        print("one")
    fd = capture._NULL[0][0]
    os.close(fd)  # as a benchmark closing descriptors it does not own might
    other = os.open("/proc/self/cmdline", os.O_RDONLY)  # likely takes the freed number
    try:
        with capture.capture() as got:
            print("two")
        assert got.stdout == "two\n"
        assert capture._NULL[0][0] != other  # not the file that took the old number
    finally:
        os.close(other)


def test_a_block_that_closes_the_low_descriptors_gets_the_terminal_back():
    script = (
        "import os\n"
        "from pybench.execution import capture\n"
        "with capture.capture() as got:\n"
        "    print('captured', flush=True)\n"
        "    os.closerange(0, 51)\n"
        "print('after', repr(got.stdout))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "after 'captured\\n'\n"


def test_without_memfd_a_temporary_file_captures_the_same(capfd, monkeypatch):
    monkeypatch.delattr(os, "memfd_create", raising=False)
    before = len(os.listdir("/proc/self/fd"))
    with capture.capture() as out:
        print("é to stdout")
        os.write(2, b"raw to fd 2\n")
        for i in range(30_000):
            print(f"line {i}")
    assert out.stderr == "raw to fd 2\n"
    assert out.stdout.endswith("line 29999\n") and "only the last" in out.stdout.splitlines()[0]
    assert len(os.listdir("/proc/self/fd")) == before  # the temporary files are gone
    print("after")
    assert capfd.readouterr().out == "after\n"


def test_the_capture_keeps_its_descriptors_out_of_the_low_numbers(capfd, monkeypatch):
    made: list[int] = []
    scratch = capture._scratch
    monkeypatch.setattr(capture, "_scratch", lambda: made.append(scratch()) or made[-1])
    with capture.capture() as out:
        print("kept")
    assert len(made) == 2 and all(fd >= capture._KEPT_FROM for fd in made)
    assert out.stdout == "kept\n"
