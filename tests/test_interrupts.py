"""Ctrl-C owned by pybench: swallowed interrupts still stop, a second one exits at once."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pybench.execution import interrupts

from .conftest import REPO


def _swallowing_loop(log: list[str]) -> str:
    """What a training loop around tqdm does: catch Ctrl-C and return early."""
    try:
        signal.raise_signal(signal.SIGINT)
        time.sleep(5)
        log.append("not interrupted")
    except KeyboardInterrupt:
        log.append("caught")
    return "early result"


def test_a_swallowed_interrupt_is_raised_again_when_the_region_ends():
    log: list[str] = []
    result = None
    with pytest.raises(KeyboardInterrupt), interrupts.guard():
        with interrupts.interruptible():
            result = _swallowing_loop(log)
        log.append("after the region")  # never reached: the early result is discarded
    assert log == ["caught"]
    assert result == "early result"
    assert not interrupts.requested()  # the guard is gone


def test_outside_a_region_ctrl_c_waits_for_the_next_one():
    steps: list[str] = []
    with pytest.raises(KeyboardInterrupt), interrupts.guard():
        signal.raise_signal(signal.SIGINT)  # pybench's own code: finish what it does
        steps.append("saved a record")
        assert interrupts.requested()
        with interrupts.interruptible():
            steps.append("started another seed")  # refused: raises on entry
    assert steps == ["saved a record"]


def test_iterating_interruptibly_discards_the_item_in_flight():
    def seeds():
        yield 1
        signal.raise_signal(signal.SIGINT)  # arrives while the second seed runs
        yield 2
        yield 3

    got = []
    with pytest.raises(KeyboardInterrupt), interrupts.guard():
        for item in interrupts.interruptibly(seeds()):
            got.append(item)
    assert got == [1]


def test_the_guard_restores_the_previous_handler_and_is_a_no_op_without_signals():
    before = signal.getsignal(signal.SIGINT)
    with interrupts.guard():
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before
    with interrupts.interruptible():  # no guard: nothing to do
        pass
    interrupts.check()


SECOND_CTRL_C = textwrap.dedent(
    """
    import signal, sys, time
    from pathlib import Path
    from pybench.execution import interrupts

    def on_force():
        Path(sys.argv[1]).write_text("workers killed")

    with interrupts.guard(on_force=on_force):
        with interrupts.interruptible():
            announced = False
            while True:  # swallows every KeyboardInterrupt
                try:
                    if not announced:
                        announced = print("ready", flush=True) or True
                    time.sleep(0.05)
                except KeyboardInterrupt:
                    print("swallowed", flush=True)
    """
)


def _swallower(marker: Path) -> subprocess.Popen[str]:
    """:data:`SECOND_CTRL_C` started and ready (it writes ``marker`` on a forced exit)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SECOND_CTRL_C, str(marker)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_a_second_ctrl_c_kills_workers_and_exits_130_at_once(tmp_path):
    marker = tmp_path / "forced"
    proc = _swallower(marker)
    assert proc.stdout is not None
    proc.send_signal(signal.SIGINT)
    assert proc.stdout.readline().strip() == "swallowed"
    sent = time.monotonic()
    time.sleep(2 * interrupts.ECHO_SECONDS)  # a second press, not an echo
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert time.monotonic() - sent < 2
    assert marker.read_text() == "workers killed"
    assert "interrupted again: stopped at once" in err and "Traceback" not in err


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_stop_like_ctrl_c_with_their_own_exit_code(name):
    signum = getattr(signal, name)
    log: list[str] = []
    with pytest.raises(KeyboardInterrupt), interrupts.guard(), interrupts.interruptible():
        try:
            signal.raise_signal(signum)
            time.sleep(5)
        except KeyboardInterrupt:
            log.append("caught")  # swallowed, and raised again when the region ends
    assert log == ["caught"]
    assert interrupts.exit_code() == 128 + signum
    assert signal.getsignal(signum) is signal.SIG_DFL  # the previous handler is back


def test_a_second_sigterm_exits_143_at_once(tmp_path):
    marker = tmp_path / "forced"
    proc = _swallower(marker)
    assert proc.stdout is not None
    proc.send_signal(signal.SIGTERM)
    assert proc.stdout.readline().strip() == "swallowed"
    time.sleep(2 * interrupts.ECHO_SECONDS)  # a second press, not an echo
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 143
    assert marker.read_text() == "workers killed"


def test_the_same_signal_twice_at_once_is_one_stop(tmp_path):
    marker = tmp_path / "forced"
    proc = _swallower(marker)
    try:
        assert proc.stdout is not None
        proc.send_signal(signal.SIGTERM)  # what `uv run` forwards while the group also gets it
        proc.send_signal(signal.SIGTERM)
        assert proc.stdout.readline().strip() == "swallowed"  # one stop, not a forced exit
        assert not marker.exists()
    finally:
        proc.kill()
        proc.communicate(timeout=10)


@pytest.mark.parametrize(("name", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_stop_whose_interrupt_was_lost_before_the_run_stops_the_run_at_once(name, code):
    # Raised while an extension module is imported (numpy's random generators, the first
    # time seeds are drawn), the KeyboardInterrupt of a signal can be cleared by C code:
    # the run that follows must not go on as if no signal had come.
    signum = getattr(signal, name)
    with interrupts.terminating():
        try:
            signal.raise_signal(signum)
            time.sleep(5)
        except KeyboardInterrupt:
            pass  # what that C code does
        with pytest.raises(KeyboardInterrupt), interrupts.guard():
            interrupts.check()  # the run's first step
        assert interrupts.exit_code() == code
    with interrupts.terminating(), interrupts.guard():  # the next command starts afresh
        interrupts.check()
