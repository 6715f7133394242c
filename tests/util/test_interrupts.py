"""A signal whose exception is swallowed (it landed in a finaliser) still stops the run."""

import os
import signal

import pytest

from cmkt.util.interrupts import Interrupted, raise_if_stopped, signals_as_exceptions


class SignalledWhileCollected:
    """Its finaliser receives SIGINT: Python prints "Exception ignored in __del__" and carries on."""

    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)


def test_a_signal_lost_in_a_finaliser_is_raised_at_the_next_check():
    reached = []
    with pytest.raises(Interrupted) as stop:
        with signals_as_exceptions():
            item = SignalledWhileCollected()
            del item  # the Interrupted raised inside __del__ is swallowed here
            reached.append("after the lost signal")
            raise_if_stopped()
            reached.append("past the check")
    assert reached == ["after the lost signal"] and stop.value.exit_code == 130


def test_a_signal_lost_after_the_last_check_stops_the_block_at_its_end():
    with pytest.raises(Interrupted):
        with signals_as_exceptions():
            item = SignalledWhileCollected()
            del item
    raise_if_stopped()  # outside the block nothing is pending any more


def test_the_lost_signal_prints_no_exception_ignored_traceback():
    import subprocess
    import sys

    script = (
        "import os, signal\n"
        "from cmkt.util.interrupts import Interrupted, signals_as_exceptions\n"
        "class C:\n    def __del__(self):\n        os.kill(os.getpid(), signal.SIGTERM)\n"
        "try:\n    with signals_as_exceptions():\n        c = C()\n        del c\n"
        "except Interrupted as stop:\n    print(stop.exit_code)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "143" and "Traceback" not in done.stderr and "ignored" not in done.stderr, done.stderr
