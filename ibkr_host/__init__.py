"""Hosting workers: ``ctx`` (``WorkerContext``), ``run_worker``, ``load_worker``, ``ibkr``.

A worker module (``setup(ctx)`` once, ``tick(ctx)`` on an interval) is hosted here, on top
of the library: ``ibkr_host`` imports ``ibkr_api`` (the client) and ``ibkr_sim`` (the
demo's and ``ibkr sim``'s gateway); neither of them imports ``ibkr_host``. The ``ibkr``
command is ``ibkr_host.cli:main`` (also ``python -m ibkr_host``).
"""

from ibkr_host.host import WorkerContext, WorkerState
from ibkr_host.runner import RunResult, WorkerLoadError, load_worker, run_worker

__all__ = [
    "RunResult",
    "WorkerContext",
    "WorkerLoadError",
    "WorkerState",
    "load_worker",
    "run_worker",
]
