"""Where the packages' log records go while a host command runs.

The library only logs (``ibkr_session.logs``: stdlib ``logging`` records, quiet until an
application configures logging). A host is such an application: the ``ibkr`` command shows
the records on stderr at the level of ``-v``/``-q``; the demo turns them into its timeline.
Both attach a handler to the four package loggers for the duration of the command and put
everything back afterwards, so an in-process caller (a test, a notebook) keeps its own
logging set-up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["LOGGERS", "WORKER_LOGGER", "ConsoleFormatter", "routed_logs"]

LOGGERS = ("ibkr_session", "ibkr_api", "ibkr_sim", "ibkr_host")
"""Every module of the four packages logs under one of these names."""

WORKER_LOGGER = "ibkr_host.worker"
"""``ctx.log``: the worker's own lines, shown even under ``-q``."""


class ConsoleFormatter(logging.Formatter):
    """``2026-06-15 10:30:00 [info    ] worker.ready setup_attempts=1``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s [%(levelname)-8s] %(message)s", "%Y-%m-%d %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        level = record.levelname
        return line.replace(f"[{level:<8}]", f"[{level.lower():<8}]", 1)


@contextmanager
def routed_logs(
    handler: logging.Handler,
    level: int,
    *,
    worker_level: int | None = None,
    exclusive: bool = False,
) -> Iterator[None]:
    """Send the packages' records from ``level`` on to ``handler`` inside the block.

    ``worker_level``: the level of ``ctx.log`` lines (default ``level``). ``exclusive``:
    the records go to ``handler`` only (not to other handlers of these loggers, nor up to
    the root logger) — the demo prints its own story, nothing else.
    """
    names = (*LOGGERS, WORKER_LOGGER)
    loggers = [logging.getLogger(name) for name in names]
    saved = [(logger.level, logger.propagate, list(logger.handlers)) for logger in loggers]
    for name, logger in zip(names, loggers, strict=True):
        is_worker = name == WORKER_LOGGER
        logger.setLevel(worker_level if is_worker and worker_level is not None else level)
        if exclusive:
            logger.propagate = is_worker  # the worker's records reach the package handler
            for old in list(logger.handlers):
                logger.removeHandler(old)
        if not is_worker:
            logger.addHandler(handler)
    try:
        yield
    finally:
        for logger, (old_level, propagate, handlers) in zip(loggers, saved, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(old_level)
            logger.propagate = propagate
            for old in handlers:
                if old not in logger.handlers:
                    logger.addHandler(old)
