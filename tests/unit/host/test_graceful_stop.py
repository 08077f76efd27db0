"""Ctrl-C and SIGTERM in ``ibkr run``: the first asks for a stop, the second aborts.

The signals are real (``signal.raise_signal`` in this process); what is checked is where
the stopping happens: not in the handler, which runs wherever the main thread happens to
be (inside ``stop.wait``, holding the event's own lock, or mid-write to stderr).
"""

from __future__ import annotations

import signal
import threading

import pytest

from ibkr_host.cli import _graceful_stop


class WhoSet(threading.Event):
    """An event that notes the thread that set it."""

    setter: threading.Thread | None = None

    def set(self) -> None:
        self.setter = threading.current_thread()
        super().set()


def test_the_first_signal_stops_from_the_watcher_and_the_second_aborts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stop = WhoSet()
    before = signal.getsignal(signal.SIGTERM)
    with _graceful_stop(stop, message="stopping now"):
        signal.raise_signal(signal.SIGTERM)
        assert stop.wait(10)
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert stop.setter is not None
    assert stop.setter is not threading.main_thread()  # never inside the handler
    assert "stopping now" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) == before  # handlers given back
