"""Ctrl-C and SIGTERM as an exception, so a long job can tidy up, say what it did and exit 130/143.

Python turns SIGINT into KeyboardInterrupt but lets SIGTERM (a scheduler's or `kill`'s stop) end
the process on the spot, leaving temporaries and no log. Inside `signals_as_exceptions()` both
raise `Interrupted` in the main thread, so `finally` blocks run (atomic writers remove their
temporary) and the caller can write its log and summary."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from typing import Iterator

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """A stop asked for by a signal; a BaseException like KeyboardInterrupt, so `except Exception` lets it through."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal number (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + self.signum


_received: list[int] = []  # the signals caught inside signals_as_exceptions()


def raise_if_stopped() -> None:
    """Raise Interrupted again for a signal whose exception was lost: one that lands while a finaliser runs
    (e.g. SoundFile.__del__) is printed as "Exception ignored" and swallowed. Long loops call this per item."""
    if _received:
        raise Interrupted(_received[-1])


@contextlib.contextmanager
def signals_as_exceptions() -> Iterator[None]:
    """Raise Interrupted on SIGINT or SIGTERM while the block runs (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, _frame):
        _received.append(signum)
        raise Interrupted(signum)

    def quiet(unraisable):  # the lost Interrupted is recorded and raised again: no "Exception ignored" traceback
        if not isinstance(unraisable.exc_value, Interrupted):
            previous_hook(unraisable)

    _received.clear()
    previous, previous_hook = {sig: signal.signal(sig, stop) for sig in HANDLED}, sys.unraisablehook
    sys.unraisablehook = quiet
    try:
        yield
        raise_if_stopped()  # a signal swallowed after the block's last check still stops the run
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sys.unraisablehook = previous_hook
        _received.clear()
