"""``ibkr demo``: a trading day and night of the mean-reversion recipe, in fast forward.

The simulated gateway runs in-process on a ``ManualClock`` shared with the client, so a
24-hour run takes seconds while every request is real HTTPS on loopback. The recipe
(``examples/mean_reversion.py``, unchanged) ticks every virtual minute from 09:00 New
York on a Monday, and a script makes the gateway misbehave the way real ones do: an idle
expiry, price swings the recipe trades on, a fat-finger question, a competing login and
the nightly reset, plus a silent and a dropped WebSocket. Beside the worker the demo
reads ``client.stream()`` (quotes of AAPL and MSFT, orders, trades: ``demo_stream``),
moving the clock in steps the stream can follow, so the story shows each ``StreamGap``
(one per disturbance), the quotes refilled after it and every fill delivered, the one
the recipe made while the stream was silent included. The output is the story
(``Timeline``) and a summary whose last lines say whether the library kept its promises:
every trouble recovered, one stream gap per disturbance, every fill delivered by the
stream once, no duplicate execution, no 429. It claims only what happened: a run without
any trouble says "no disturbance in this run", not that troubles were recovered.
"""

from __future__ import annotations

import datetime as _dt
import logging
import random
import sys
import time
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ibkr_api.client import IbkrClient
from ibkr_api.models import OrderReply
from ibkr_api.stream import StreamGap
from ibkr_host.demo_stream import STREAM_OPTIONS, StreamFills, StreamWatch
from ibkr_host.host import WorkerContext
from ibkr_host.logsetup import routed_logs
from ibkr_host.runner import WorkerRunner, load_worker
from ibkr_host.timeline import StateDurations, Timeline, format_duration, render_table
from ibkr_session.clock import ManualClock
from ibkr_session.logs import event_of
from ibkr_session.schedule import ResetSchedule
from ibkr_session.state import SessionState
from ibkr_sim.gateway import SimulatedGateway

__all__ = [
    "DEMO_START",
    "DemoOutcome",
    "Trouble",
    "competing_login",
    "default_script",
    "dropped_stream",
    "fat_finger",
    "idle_expiry",
    "price_move",
    "run_demo",
    "silent_stream",
]

DEMO_START = _dt.datetime(2026, 6, 15, 13, 0, tzinfo=_dt.UTC)
"""Monday 15 June 2026, 09:00 New York (EDT): a summer night shows "01:10 EDT"."""

CONIDS = {"AAPL": 265598, "MSFT": 272093}
TICK_SECONDS = 60.0
AUTO_CONFIRM = ("o354",)
"""The recipe trades on history bars; an order placed while the brokerage session has no
market-data subscription for the contract (the demo's stream makes one, which dies with
each brokerage session until the stream subscribes again) meets "no market data" (o354),
and the recipe answers questions only on its BUY branch."""
_HERE = Path(__file__).resolve().parent
_RECIPE_NAME = Path("examples") / "mean_reversion.py"
# A wheel carries examples/ inside the package; a checkout (editable install) beside it.
RECIPE = _HERE / _RECIPE_NAME if (_HERE / _RECIPE_NAME).is_file() else _HERE.parent / _RECIPE_NAME


@dataclass(frozen=True)
class Trouble:
    """Something the script does to the world ``after`` the demo's start.

    ``breaks`` names the session trouble it causes (``None`` for market moves): the demo
    then expects the session to be AUTHENTICATED again later and reports how long it took.
    ``cuts_stream``: a trouble of the WebSocket alone (the session stays up). Either is a
    disturbance, for which the demo expects one ``StreamGap``.
    """

    after: _dt.timedelta
    label: str
    act: Callable[[DemoWorld], object]
    breaks: str | None = None
    cuts_stream: bool = False


@dataclass
class DemoOutcome:
    """The figures of the closing summary, and whether the acceptance checks passed."""

    ticks: int = 0
    orders: int = 0
    fills: int = 0
    duplicates: int = 0
    rate_limited: int = 0
    questions_answered: int = 0
    recovered: dict[str, float] = field(default_factory=dict)
    net_liquidation: tuple[str, str] = ("", "")
    wall_seconds: float = 0.0
    state_seconds: dict[str, float] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    disturbances: int = 0
    """Session troubles (scripted, or the nightly reset; overlapping ones count once) and
    troubles of the stream alone: each one a gap of the stream, once it is open."""
    stream_gaps: list[StreamGap] = field(default_factory=list)
    fills_delivered: int = 0
    """Of ``fills`` (the book's executions), those the stream delivered."""
    fills_in_gaps: int = 0
    """Of ``fills``, those made while the stream was in a gap."""
    quote_updates: int = 0
    quotes_conflated: int = 0

    @property
    def disturbed(self) -> bool:
        return self.disturbances > 0

    @property
    def passed(self) -> bool:
        return all(self.checks.values())


@dataclass
class DemoWorld:
    """Everything a scripted trouble may touch."""

    clock: ManualClock
    sim: SimulatedGateway
    ctx: WorkerContext
    timeline: Timeline
    episodes: Episodes
    auto_replies: set[str]
    question_asked: bool = False


def default_script() -> list[Trouble]:
    """The day from 09:00: an expiry, a question, a competing login, a dip and a rally;
    the night: a dropped WebSocket after the nightly reset.

    The recipe needs 20 of today's 15-minute bars, so it can trade from about 14:30 on:
    the dip comes at 14:20 and the rally before the 16:00 close. The WebSocket goes silent
    as the dip comes, so the recipe's BUY fills while the stream is down.
    """
    return [
        idle_expiry(_hm(2, 30)),
        fat_finger(_hm(3, 0)),
        *competing_login(_hm(4, 10), minutes=10),
        silent_stream(_hm(5, 20), minutes=2),
        price_move(_hm(5, 20), "AAPL", 0.97),
        price_move(_hm(6, 15), "AAPL", 1.06),
        dropped_stream(_hm(18, 0)),
    ]


def price_move(after: _dt.timedelta, symbol: str, factor: float) -> Trouble:
    """The price of ``symbol`` jumps by ``factor`` (the recipe trades on such swings)."""
    conid = CONIDS[symbol]

    def move(world: DemoWorld) -> None:
        world.sim.set_price(conid, world.sim.market.price(conid) * factor)

    verb = "drops" if factor < 1 else "rallies"
    return Trouble(after, f"{symbol} {verb} {abs(factor - 1):.0%}", move)


def idle_expiry(after: _dt.timedelta) -> Trouble:
    """IBKR ends the brokerage session as if it had idled out."""
    return Trouble(
        after, "the brokerage session idles out", lambda w: w.sim.expire_brokerage(), "idle expiry"
    )


def competing_login(after: _dt.timedelta, *, minutes: float) -> list[Trouble]:
    """The user opens TWS for ``minutes``: our session is competing meanwhile."""
    return [
        Trouble(
            after,
            "the user logs in to TWS: competing login",
            lambda w: w.sim.start_competing(),
            "competing login",
        ),
        Trouble(
            after + _dt.timedelta(minutes=minutes),
            "the user closes TWS",
            lambda w: w.sim.stop_competing(),
        ),
    ]


def silent_stream(after: _dt.timedelta, *, minutes: float) -> Trouble:
    """The WebSocket turns into a black hole for ``minutes`` (a half-open connection):
    nothing arrives, not even the heartbeat. The demo's clock moves in 30-s steps, so a
    silence shorter than that passes unnoticed."""
    return Trouble(
        after,
        f"the WebSocket goes silent for {minutes:g} min",
        lambda w: w.sim.silence_streams(minutes * 60),
        cuts_stream=True,
    )


def dropped_stream(after: _dt.timedelta) -> Trouble:
    """The gateway cuts every WebSocket without a closing handshake."""
    return Trouble(
        after, "the gateway drops the WebSocket", lambda w: w.sim.drop_streams(), cuts_stream=True
    )


def fat_finger(after: _dt.timedelta) -> Trouble:
    """A second worker action: a 600-share MSFT order meets the size question (o383).

    The worker answers it with the reference's fat-finger pattern; o451 (value) was
    suppressed by the recipe's setup, o354 (no market data) is auto-confirmed by the
    demo's client.
    """

    def place(world: DemoWorld) -> None:
        ctx = world.ctx
        world.question_asked = True
        account = ctx.state.get("account")
        r = ctx.ibkr.place_order(account, CONIDS["MSFT"], "BUY", 600, "MKT")
        reply = OrderReply.from_json(r)  # the library's one question rule
        if reply.kind == "question" and reply.question_id is not None:
            ctx.log.warn(f"IBKR: {' '.join(reply.messages)}")
            ctx.ibkr.reply_to_order(str(reply.question_id), confirmed=True)

    return Trouble(after, "a second worker action: BUY 600 MSFT MKT", place)


def run_demo(
    *,
    hours: float = 24.0,
    seed: int = 7,
    out: TextIO | None = sys.stdout,
    script: list[Trouble] | None = None,
    start: _dt.datetime = DEMO_START,
) -> DemoOutcome:
    """Run the demo and print its timeline and summary to ``out``."""
    began = time.monotonic()
    clock = ManualClock(start)
    troubles = sorted(script if script is not None else default_script(), key=_after)
    timeline = Timeline(ResetSchedule().zone, out)
    with (
        _logs_into(timeline, clock) as auto_replies,
        SimulatedGateway(clock, seed=seed) as sim,
        IbkrClient(sim.url, clock=clock, auto_confirm=AUTO_CONFIRM) as client,
    ):
        session = client.session
        episodes = Episodes(timeline)
        ctx = WorkerContext("mean_reversion", client=client)
        world = DemoWorld(clock, sim, ctx, timeline, episodes, auto_replies)
        durations = StateDurations(session.state.name, start)
        session.on_transition(_on_transition(world, durations))
        outcome = _play(world, troubles, hours, seed)
        outcome.state_seconds = durations.totals(clock.now())
    outcome.wall_seconds = time.monotonic() - began
    timeline.write("")
    timeline.write(render_table(_summary_rows(outcome), title="Summary"))
    return outcome


def _play(world: DemoWorld, troubles: list[Trouble], hours: float, seed: int) -> DemoOutcome:
    clock, timeline, session = world.clock, world.timeline, world.ctx.ibkr.session
    start = clock.now()
    end = start + _dt.timedelta(hours=hours)
    timeline.write(
        f"ibkr demo: examples/mean_reversion.py against a simulated gateway, "
        f"{hours:g} h from {timeline.stamp(start)}, one tick per virtual minute"
    )
    runner = WorkerRunner(load_worker(RECIPE), world.ctx, clock=clock)
    runner.setup()
    account = str(world.ctx.state.get("account"))
    nlv_start = _net_liquidation(world.ctx, account)
    observer = _SimObserver(world)
    pending = list(troubles)
    next_hour = start + _dt.timedelta(hours=1)
    due = start
    with world.ctx.ibkr.stream(rng=random.Random(seed), **STREAM_OPTIONS) as stream:
        watch = StreamWatch(stream, session, timeline, CONIDS)
        watch.catch_up()
        unwatched = world.episodes.disturbances  # met before the stream opened: no gaps
        while clock.now() < end:
            while pending and start + pending[0].after <= clock.now():
                _apply(world, pending.pop(0))
            runner.tick()
            observer.collect()
            # On the minute: a tick's own waits (pacing) do not push the next one later;
            # one that overran skips the missed minutes, as run_worker does.
            due = max(due + _dt.timedelta(seconds=TICK_SECONDS), clock.now())
            watch.pass_time(runner.wait, (due - clock.now()).total_seconds())
            if clock.now() >= next_hour:
                next_hour += _dt.timedelta(hours=1)
                timeline.write(
                    f"  .. {timeline.stamp(clock.now())}  {runner.result.ticks} ticks, "
                    f"{observer.orders} orders, {observer.fills} fills, "
                    f"{len(watch.gaps)} stream gaps, {session.state.name}"
                )
        executions = world.sim.book.executions
        watch.settle(executions)
    fills = watch.fills(executions)
    nlv_end = _net_liquidation(world.ctx, account)
    reset_start, _ = session.schedule.next_window(start)
    return DemoOutcome(
        ticks=runner.result.ticks,
        orders=observer.orders,
        fills=observer.fills,
        duplicates=observer.duplicates(),
        rate_limited=observer.rate_limited,
        questions_answered=observer.replies,
        recovered=dict(world.episodes.healed),
        disturbances=world.episodes.disturbances,
        stream_gaps=list(watch.gaps),
        fills_delivered=fills.delivered,
        fills_in_gaps=fills.in_gaps,
        quote_updates=watch.quote_updates,
        quotes_conflated=watch.conflated,
        net_liquidation=(nlv_start, nlv_end),
        checks=_checks(world, observer, crossed_reset=reset_start < end)
        | _stream_checks(watch, fills, world.episodes.disturbances - unwatched),
    )


def _checks(world: DemoWorld, observer: _SimObserver, *, crossed_reset: bool) -> dict[str, bool]:
    """The acceptance lines of the summary; the reset and question ones only if met."""
    checks: dict[str, bool] = {}
    if world.episodes.open or world.episodes.healed:  # claim only recoveries that happened
        checks["every trouble recovered"] = not world.episodes.open
    if crossed_reset:
        checks["nightly reset recovered"] = "nightly reset" in world.episodes.healed
    if world.question_asked:
        checks["question answered"] = observer.replies > 0
    checks["no duplicate executions"] = observer.duplicates() == 0
    checks["no 429 answers"] = observer.rate_limited == 0
    return checks


def _stream_checks(watch: StreamWatch, fills: StreamFills, disturbances: int) -> dict[str, bool]:
    """One gap per disturbance the stream met (and none without one), the stream live at
    the end, every fill delivered once."""
    gaps = "one stream gap per disturbance" if disturbances else "no stream gap"
    return {
        gaps: len(watch.gaps) == disturbances and not watch.in_gap,
        "stream delivered every fill once": fills.once,
    }


def _apply(world: DemoWorld, trouble: Trouble) -> None:
    world.timeline.add(world.clock.now(), "trouble", trouble.label)
    if trouble.breaks is not None:
        world.episodes.opened(trouble.breaks, world.clock.now())
    if trouble.cuts_stream:
        world.episodes.stream_cut()
    trouble.act(world)


def _summary_rows(outcome: DemoOutcome) -> list[tuple[str, str]]:
    rows = [
        ("ticks", str(outcome.ticks)),
        ("orders", str(outcome.orders)),
        ("fills", str(outcome.fills)),
        ("questions answered", str(outcome.questions_answered)),
        ("duplicates", str(outcome.duplicates)),
        ("429 answers", str(outcome.rate_limited)),
        *(
            (f"recovered {name}", f"after {format_duration(took)}")
            for name, took in outcome.recovered.items()
        ),
        *([] if outcome.disturbed else [("disturbances", "no disturbance in this run")]),
        ("stream gaps", _gaps_row(outcome.stream_gaps)),
        ("fills delivered by the stream", _fills_row(outcome)),
        (
            "stream quote updates",
            f"{outcome.quote_updates:,} ({outcome.quotes_conflated:,} conflated)",
        ),
        ("net liquidation", " -> ".join(outcome.net_liquidation)),
    ]
    rows += [
        (f"time {state}", format_duration(seconds))
        for state, seconds in sorted(outcome.state_seconds.items(), key=lambda i: -i[1])
        if seconds >= 1
    ]
    rows += [(check, "yes" if ok else "NO") for check, ok in outcome.checks.items()]
    rows.append(("wall time", f"{outcome.wall_seconds:.1f} s"))
    return rows


def _gaps_row(gaps: list[StreamGap]) -> str:
    """How many, and the longest: the reasons are on the timeline."""
    if not gaps:
        return "none"
    longest = max(gap.seconds for gap in gaps)
    return f"{len(gaps)} (the longest {format_duration(longest)})"


def _fills_row(outcome: DemoOutcome) -> str:
    during = f" ({outcome.fills_in_gaps} made during a gap)" if outcome.fills_in_gaps else ""
    return f"{outcome.fills_delivered} of {outcome.fills}{during}"


# -- scripted trouble ----------------------------------------------------------------------


def _hm(hours: int, minutes: int) -> _dt.timedelta:
    return _dt.timedelta(hours=hours, minutes=minutes)


def _after(trouble: Trouble) -> _dt.timedelta:
    return trouble.after


# -- watching ------------------------------------------------------------------------------


class Episodes:
    """Session troubles still open, how long each one took to heal, and how many
    disturbances there were (each should be one ``StreamGap``)."""

    def __init__(self, timeline: Timeline) -> None:
        self._timeline = timeline
        self.open: dict[str, _dt.datetime] = {}
        self.healed: dict[str, float] = {}
        self.disturbances = 0

    def opened(self, name: str, at: _dt.datetime) -> None:
        """A session trouble; one that starts while another is open is the same spell."""
        if not self.open:
            self.disturbances += 1
        self.open.setdefault(name, at)

    def stream_cut(self) -> None:
        """A trouble of the stream alone; during a session spell the stream is cut already."""
        if not self.open:
            self.disturbances += 1

    def authenticated(self, at: _dt.datetime) -> None:
        for name, since in sorted(self.open.items(), key=lambda item: item[1]):
            took = (at - since).total_seconds()
            self.healed[name] = took
            self._timeline.add(at, "recovered", f"{name}, after {format_duration(took)}")
        self.open.clear()


def _on_transition(
    world: DemoWorld, durations: StateDurations
) -> Callable[[SessionState, SessionState, str], None]:
    """Every transition goes on the timeline; AUTHENTICATED again heals open troubles."""

    def changed(old: SessionState, new: SessionState, reason: str) -> None:
        now = world.clock.now()
        durations.change(new.name, now)
        world.timeline.add(now, "session", f"{old.name} -> {new.name}  ({reason})")
        if new is SessionState.RESET_WINDOW:
            world.episodes.opened("nightly reset", now)
        elif new is SessionState.AUTHENTICATED:
            world.episodes.authenticated(now)

    return changed


_REPLY = "/iserver/reply/"


class _SimObserver:
    """What the simulator saw since the last look: new orders and fills, replies, 429s.

    Read between ticks, when no request is in flight, so the book is quiet.
    """

    def __init__(self, world: DemoWorld) -> None:
        self._world = world
        self._seen_requests = 0
        self._seen_orders: set[str] = set()
        self._seen_fills: set[str] = set()
        self.replies = 0
        self.rate_limited = 0

    @property
    def orders(self) -> int:
        return len(self._seen_orders)

    @property
    def fills(self) -> int:
        return len(self._seen_fills)

    def collect(self) -> None:
        sim, timeline = self._world.sim, self._world.timeline
        requests = sim.requests
        for request in requests[self._seen_requests :]:
            self.rate_limited += request.status == 429
            if request.method == "POST" and request.path.startswith(_REPLY):
                self.replies += 1
                reply_id = request.path.removeprefix(_REPLY)
                if reply_id not in self._world.auto_replies:
                    timeline.add(
                        request.time, "question", f"answered by the worker (reply {reply_id[:8]})"
                    )
        self._seen_requests = len(requests)
        sim.executions_by_coid()  # brings the book's fills up to now
        rows: list[dict[str, Any]] = sim.book.orders()["orders"]
        for row in sorted(rows, key=lambda r: int(r["orderId"])):
            order_id = str(row["orderId"])
            if order_id not in self._seen_orders:
                self._seen_orders.add(order_id)
                timeline.add(
                    self._world.clock.now(),
                    "order",
                    f"#{order_id} {row['side']} {row['totalSize']:g} {row['ticker']} "
                    f"{row['orderType']} ({row['status']})",
                )
        for execution in sim.book.executions:
            if execution.execution_id not in self._seen_fills:
                self._seen_fills.add(execution.execution_id)
                side = "bought" if execution.buy else "sold"
                timeline.add(
                    _dt.datetime.fromtimestamp(execution.time, _dt.UTC),
                    "fill",
                    f"#{execution.order_id} {side} {execution.quantity:g} "
                    f"{execution.instrument.symbol} @ {execution.price:,.2f}",
                )

    def duplicates(self) -> int:
        """cOIDs with more than one fill: an order that traded twice."""
        return sum(1 for fills in self._world.sim.executions_by_coid().values() if fills > 1)


def _net_liquidation(ctx: WorkerContext, account: str) -> str:
    ledger = ctx.ibkr.get_ledger(account)
    usd = ledger.get("USD", {}) if isinstance(ledger, dict) else {}
    return f"${float(usd.get('netliquidationvalue', 0)):,.2f}"


@contextmanager
def _logs_into(timeline: Timeline, clock: ManualClock) -> Iterator[set[str]]:
    """Route the packages' log records to the timeline (worker lines, recoveries, warnings).

    Only to the timeline: during the demo no other handler prints them. Yields the reply
    ids the client auto-confirmed, so the observer can tell them from the questions the
    worker answered itself.
    """
    auto_replies: set[str] = set()
    handler = _TimelineHandler(timeline, clock, auto_replies)
    with routed_logs(handler, logging.DEBUG, exclusive=True):
        yield auto_replies


class _TimelineHandler(logging.Handler):
    def __init__(self, timeline: Timeline, clock: ManualClock, auto_replies: set[str]) -> None:
        super().__init__(logging.DEBUG)
        self._timeline = timeline
        self._clock = clock
        self._auto_replies = auto_replies

    def emit(self, record: logging.LogRecord) -> None:
        event = event_of(record) or {"event": record.getMessage()}
        if event.get("event") == "ibkr.order.auto_confirm":
            self._auto_replies.add(str(event["reply_id"]))
        line = _timeline_line(record.levelname.lower(), event, record)
        if line is not None:
            self._timeline.add(self._clock.now(), *line)


def _timeline_line(
    level: str, event: MutableMapping[str, Any], record: logging.LogRecord | None = None
) -> tuple[str, str] | None:
    name = str(event.get("event", ""))
    if name == "worker.paused":
        return "waiting", str(event["reason"])
    if name == "ibkr.order.auto_confirm":
        asked = ", ".join(event.get("message_ids") or ())
        return (
            "question",
            f"{asked} auto-confirmed by the client (reply {str(event['reply_id'])[:8]})",
        )
    if name == "stream.gap_started":
        return "stream", f"gap begins: {event.get('reason')}"
    if name == "worker.resumed":
        return "resumed", "ticks work again"
    if name == "worker.tick_failed":
        error = record.exc_info[1] if record is not None and record.exc_info else None
        return "error", f"tick {event.get('tick')} raised {error!r}"
    if name == "session.recovering":
        return "recovery", "ssodh/init: a new brokerage session"
    if name == "session.primed":
        account = event.get("account_id")
        return "recovery", "/iserver/accounts primed" + (f", {account} selected" if account else "")
    if "worker" in event and not name.startswith("worker.") and name != "metric":
        return "worker", name
    if level in ("warning", "error", "critical") and not name.startswith("worker."):
        return "warning", f"{name} {_fields(event)}"
    return None


def _fields(event: MutableMapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in event.items() if k != "event")
