"""A hosted worker streams: ``ctx.ibkr.stream()`` in ``setup``, ``stream.latest(...)`` in
``tick``, on the host's runner and the simulator's clock."""

from __future__ import annotations

from ibkr_api import IbkrClient, QuoteEvent, Stream
from ibkr_host.host import WorkerContext
from ibkr_host.runner import run_worker
from ibkr_session import ManualClock
from ibkr_sim import SimulatedGateway

AAPL = 265598


class StreamingWorker:
    """What a user writes: subscribe once, read the merged quote on every tick."""

    def __init__(self) -> None:
        self.stream: Stream | None = None
        self.seen: list[float | None] = []

    def setup(self, ctx: WorkerContext) -> None:
        self.stream = ctx.ibkr.stream()
        self.stream.subscribe_quotes([AAPL], fields=("31", "84", "86"))
        for event in self.stream.events(timeout=5.0):
            if isinstance(event, QuoteEvent) and event.quote.last is not None:
                break

    def tick(self, ctx: WorkerContext) -> None:
        assert self.stream is not None
        quote = self.stream.latest(AAPL)
        self.seen.append(None if quote is None or quote.stale else quote.last)


def test_a_worker_subscribes_in_setup_and_reads_latest_in_tick(
    sim: SimulatedGateway, clock: ManualClock
) -> None:
    worker = StreamingWorker()
    with IbkrClient(sim.url, clock=clock, timeout=5.0) as ibkr:
        ctx = WorkerContext("streamer", client=ibkr)
        result = run_worker(worker, ctx, interval=5.0, ticks=12)
        assert worker.stream is not None
        worker.stream.close()
    assert result.failed == 0
    assert len(worker.seen) == 12
    assert all(last is not None and last > 0 for last in worker.seen)
