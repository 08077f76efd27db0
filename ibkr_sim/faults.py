"""Scripted misbehaviour: the next N matching requests fail, stall or lose their answer.

Tests of a client's recovery need the gateway to fail on cue. Each fault is armed for a
number of matching requests and then disarms itself. A filter ``path`` is an exact path
below ``/v1/api`` or an ``fnmatch`` pattern such as ``/iserver/account/*/orders``.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import TypeVar

from ibkr_sim.replies import Reply

__all__ = ["FaultPlan"]

_T = TypeVar("_T", bound="_Armed")


@dataclass
class _Armed:
    remaining: int
    method: str | None
    path: str | None

    def take(self, method: str, path: str) -> bool:
        """Consume one use if this fault applies to the request."""
        if self.remaining <= 0:
            return False
        if self.method is not None and self.method != method:
            return False
        if self.path is not None and not fnmatch.fnmatchcase(path, self.path):
            return False
        self.remaining -= 1
        return True


@dataclass
class _Failure(_Armed):
    reply: Reply


@dataclass
class _Delay(_Armed):
    seconds: float


class FaultPlan:
    """Armed faults, consumed in the order they were armed. Called under the gateway lock."""

    def __init__(self) -> None:
        self._failures: list[_Failure] = []
        self._delays: list[_Delay] = []
        self._drops: list[_Armed] = []

    def fail(self, times: int, reply: Reply, method: str | None, path: str | None) -> None:
        self._failures.append(_Failure(_count(times), _upper(method), path, reply))

    def delay(self, times: int, seconds: float, path: str | None) -> None:
        if seconds < 0:
            raise ValueError(f"delay must not be negative, got {seconds}")
        self._delays.append(_Delay(_count(times), None, path, seconds))

    def drop(self, times: int, path: str | None) -> None:
        self._drops.append(_Armed(_count(times), None, path))

    def failure_for(self, method: str, path: str) -> Reply | None:
        """The scripted answer replacing this request's processing, if one is armed."""
        found = _first(self._failures, method, path)
        return found.reply if found else None

    def delay_for(self, method: str, path: str) -> float:
        """Real seconds to stall this request before processing it (0 when none)."""
        found = _first(self._delays, method, path)
        return found.seconds if found else 0.0

    def drop_for(self, method: str, path: str) -> bool:
        """Whether to close the connection instead of sending this request's answer."""
        return _first(self._drops, method, path) is not None


def _first(armed: list[_T], method: str, path: str) -> _T | None:
    for fault in armed:
        if fault.take(method, path):
            armed[:] = [f for f in armed if f.remaining > 0]
            return fault
    return None


def _count(times: int) -> int:
    if times < 1:
        raise ValueError(f"a fault needs a positive number of requests, got {times}")
    return times


def _upper(method: str | None) -> str | None:
    return method.upper() if method is not None else None
