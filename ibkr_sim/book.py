"""The simulated broker: accounts, the order book, order questions, fills, portfolio views.

Plain object, no HTTP, not thread-safe: the gateway calls it under its one lock and sends
the returned values as JSON (HTTP 200) unchanged. Methods that take an account raise
``UnknownAccountError`` (``.status`` 400, ``.body``) for an account the user lacks.

Public methods (what the HTTP side codes against):

- ``accounts_list() -> list`` — ``/portfolio/accounts`` (and ``/portfolio/subaccounts``).
- ``iserver_accounts(selected) -> dict`` — ``/iserver/accounts``.
- ``summary(acct) -> dict`` — ``/portfolio/{acct}/summary`` (timestamps in ms).
- ``ledger(acct) -> dict`` — ``/portfolio/{acct}/ledger`` (per currency + BASE, seconds).
- ``positions(acct, page) -> list`` — ``/portfolio/{acct}/positions/{page}`` (≤ 100).
- ``pnl() -> dict`` — ``/iserver/account/pnl/partitioned`` (empty the first time in a
  brokerage session).
- ``position(acct, conid)``, ``allocation(acct)`` — ``/portfolio/{acct}/position/{conid}``,
  ``/portfolio/{acct}/allocation``; ``performance(accts, period)``,
  ``transactions(accts, conids, currency, days)`` — ``/pa/*`` (``ibkr_sim.analysis``).
- ``preview(acct, orders) -> dict`` — what-if (``ibkr_sim.whatif``): nothing is placed.
- ``order_status(order_id) -> dict`` — one order of this brokerage session (else 503).
- ``alerts``, ``watchlists``, ``notifications`` — the user's alerts (checked against
  prices by ``process()``), watchlists and FYIs.
- ``trades(acct=None) -> list`` — ``/iserver/account/trades``.
- ``orders(acct=None, filters=None) -> dict`` — ``/iserver/account/orders``:
  ``{"orders": [...], "snapshot": true}``; ``filters`` like ``"filled"`` or
  ``"Submitted,PreSubmitted"``.
- ``place(acct, orders, suppressed) -> list | dict`` — ``POST .../orders``: a success list
  ``[{"order_id", "order_status", "encrypt_message"}]``, a question list
  ``[{"id", "message", "isSuppressed", "messageIds", "messageOptions"}]`` or a reject
  ``{"error": ...}`` (including a duplicate cOID seen in the last 24 h).
- ``reply(reply_id, confirmed) -> list | dict`` — ``POST /iserver/reply/{id}``: the next
  question, the success list or, when not confirmed, ``{"error": "Order not confirmed "}``
  (the spec's text, trailing space included); a dead id (ids are single-use) raises
  ``UnknownReplyError``, which the gateway answers with HTTP 400.
- ``cancel_pending_questions() -> None`` — another request arrived between a question and
  its reply: the pending order is dropped.
- ``modify(acct, order_id, order, suppressed=frozenset()) -> list | dict`` — like place.
- ``cancel(acct, order_id) -> dict`` — ``{"msg": "Request was submitted", ...}``; the order
  is cancelled by the next ``process()``. Unknown: ``{"error": "OrderID 1 doesn't exist"}``.
- ``process() -> None`` — let time act: fill resting orders the price path crossed since
  the last call, apply cancels, expire DAY orders at the close. Call it before answering.
- ``reset_session() -> None`` — the brokerage session ended: pending questions, market
  data subscriptions and the order cache are dropped; orders, positions and cash survive.
- ``orders_preflight() -> bool`` — whether this live-orders list is the session's first,
  which the gateway answers empty.
- Inspection: ``order(order_id)``, ``order_by_coid(coid)``, ``executions``,
  ``executions_by_coid()``, ``portfolio(acct)``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import random
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from ibkr_session.clock import Clock
from ibkr_sim.accounts import iserver_accounts, portfolio_accounts
from ibkr_sim.alerts import AlertBook
from ibkr_sim.analysis import performance, transactions
from ibkr_sim.executions import Execution
from ibkr_sim.market import Market
from ibkr_sim.notifications import Notifications
from ibkr_sim.orders import SimOrder
from ibkr_sim.portfolio import Portfolio
from ibkr_sim.questions import Question, questions_for
from ibkr_sim.refusal import Refusal, UnknownAccountError, UnknownReplyError
from ibkr_sim.secdefs import classification, trsrv_secdef_row
from ibkr_sim.tickets import OrderTicket, parse_ticket
from ibkr_sim.watchlists import Watchlists
from ibkr_sim.whatif import what_if

__all__ = ["Broker"]

COID_MEMORY = 86_400.0
"""How long a cOID stays registered (IBKR-FACTS §8: unique for 24 h)."""
MAX_TRADE_DAYS = 7
"""``/iserver/account/trades?days=`` looks back at most this many days (IBKR's spec)."""
_FIRST_ORDER_ID = 1_370_093_240
_NEW_YORK = ZoneInfo("America/New_York")
_REPLY_ID_SEED = 0x5EED
_NOT_CONFIRMED = "Order not confirmed "  # sic: IBKR's spec example ends with a space
Answer = list[dict[str, Any]] | dict[str, Any]


@dataclass
class _Pending:
    """Orders waiting for the answers to their questions."""

    account: str
    tickets: list[OrderTicket]
    questions: list[Question]
    modifies: int | None = None  # the order id a modify replaces


class Broker:
    """Orders, fills and money of the simulated user's accounts."""

    def __init__(
        self,
        clock: Clock,
        market: Market,
        *,
        accounts: Sequence[str] = ("U1234567",),
        cash: float = 1_000_000.0,
    ) -> None:
        if not accounts:
            raise ValueError("the simulated user needs at least one account")
        self._clock = clock
        self._market = market
        self._accounts = tuple(accounts)
        self._portfolios = {a: Portfolio(a, cash, market) for a in self._accounts}
        self._opening_cash = cash
        self.alerts = AlertBook()
        self.watchlists = Watchlists()
        self.notifications = Notifications(self._now())
        self._orders: dict[int, SimOrder] = {}
        self._by_coid: dict[str, SimOrder] = {}
        self._pending: dict[str, _Pending] = {}
        self._orders_listed = False
        self._executions: list[Execution] = []
        self._next_order_id = _FIRST_ORDER_ID
        self._session_orders: set[int] = set()
        self._status_requests = 0
        self._pnl_asked = False
        self._reply_ids = random.Random(_REPLY_ID_SEED)  # reproducible runs, unique ids

    # -- accounts and portfolio ------------------------------------------------------

    @property
    def accounts(self) -> tuple[str, ...]:
        return self._accounts

    def now(self) -> float:
        """The clock's reading as epoch seconds."""
        return self._now()

    def portfolio(self, acct: str) -> Portfolio:
        portfolio = self._portfolios.get(acct)
        if portfolio is None:
            raise UnknownAccountError(acct)
        return portfolio

    def accounts_list(self) -> list[dict[str, Any]]:
        return portfolio_accounts(self._accounts)

    def iserver_accounts(self, selected: str) -> dict[str, Any]:
        return iserver_accounts(self._accounts, selected)

    def summary(self, acct: str) -> dict[str, dict[str, Any]]:
        return self.portfolio(acct).summary(self._now())

    def ledger(self, acct: str) -> dict[str, dict[str, Any]]:
        return self.portfolio(acct).ledger(self._now())

    def positions(self, acct: str, page: int = 0) -> list[dict[str, Any]]:
        return self.portfolio(acct).positions_page(page)

    def position(self, acct: str, conid: int) -> list[dict[str, Any]]:
        """``/portfolio/{acct}/position/{conid}``: the position with its contract's
        details, or an empty list."""
        rows = [r for r in self.portfolio(acct).positions_page(0) if r["conid"] == conid]
        instrument = self._market.instrument(conid) if rows else None
        if instrument is None:
            return []
        details = trsrv_secdef_row(instrument)
        return [{**row, **details, "pageSize": 100} for row in rows]

    def allocation(self, acct: str) -> dict[str, Any]:
        """``/portfolio/{acct}/allocation``: long and short value by asset class, sector
        and group (cash counts under ``CASH`` and ``Others``)."""
        portfolio = self.portfolio(acct)
        answer: dict[str, dict[str, dict[str, float]]] = {
            view: {"long": {}, "short": {}} for view in ("assetClass", "sector", "group")
        }

        def add(view: str, key: str, value: float) -> None:
            side = answer[view]["long" if value >= 0 else "short"]
            side[key] = round(side.get(key, 0.0) + value, 2)

        for instrument, _, value in portfolio.marked_positions():
            sector, group, _, _ = classification(instrument)
            add("assetClass", instrument.sec_type, value)
            add("sector", sector, value)
            add("group", group, value)
        for currency, amount in portfolio.cash_balances().items():
            value = amount * portfolio.rate(currency)
            if value:
                for view in ("assetClass", "sector", "group"):
                    add(view, "CASH" if view == "assetClass" else "Others", value)
        return answer

    def performance(self, accounts: Sequence[str], period: str) -> dict[str, Any]:
        """``POST /pa/performance`` over ``accounts`` (consolidated)."""
        portfolios = [self.portfolio(a) for a in accounts]
        return performance(portfolios, self._opening_cash, period, self._now())

    def transactions(
        self, accounts: Sequence[str], conids: Sequence[int], currency: str, days: int
    ) -> dict[str, Any]:
        """``POST /pa/transactions``: the accounts' trades in ``conids``."""
        portfolios = [self.portfolio(a) for a in accounts]
        return transactions(self._executions, portfolios, conids, currency, days, self._now())

    def pnl(self) -> dict[str, Any]:
        """Empty on the first request of a brokerage session, as IBKR's spec says."""
        first, self._pnl_asked = not self._pnl_asked, True
        if first:
            return {"upnl": {}}
        return {"upnl": {f"{a}.Core": p.pnl_row() for a, p in self._portfolios.items()}}

    # -- orders ----------------------------------------------------------------------

    def place(
        self, acct: str, orders: Sequence[Mapping[str, object]], suppressed: Iterable[str]
    ) -> Answer:
        self.portfolio(acct)
        if not orders:
            return {"error": "Bad Request: no orders in the request"}
        tickets: list[OrderTicket] = []
        for order in orders:
            ticket = parse_ticket(order)
            if isinstance(ticket, str):
                return {"error": ticket}
            tickets.append(ticket)
        duplicate = self._duplicate_coid(tickets)
        if duplicate is not None:
            return {"error": duplicate}
        orphan = self._orphan(acct, tickets)
        if orphan is not None:
            return {"error": orphan}
        return self._ask_or_submit(_Pending(acct, tickets, self._questions(tickets, suppressed)))

    def preview(self, acct: str, orders: Sequence[Mapping[str, object]]) -> dict[str, Any]:
        """``POST .../orders/whatif``: the order's effect on the account; places nothing."""
        portfolio = self.portfolio(acct)
        if not orders:
            return {"error": "Bad Request: no orders in the request"}
        tickets: list[OrderTicket] = []
        for order in orders:
            ticket = parse_ticket(order)
            if isinstance(ticket, str):
                return {"error": ticket}
            tickets.append(ticket)
        entries = [t for t in tickets if t.parent_coid is None] or tickets[:1]
        prices = [self._preview_price(t) for t in entries]
        return what_if(
            portfolio,
            [
                (t.instrument, t.quantity if t.is_buy else -t.quantity, p)
                for t, p in zip(entries, prices, strict=True)
            ],
            has_market_data=all(self._market.has_market_data(t.conid) for t in entries),
        )

    def reply(self, reply_id: str, confirmed: bool) -> Answer:
        pending = self._pending.pop(reply_id, None)
        if pending is None:
            raise UnknownReplyError(reply_id)
        if not confirmed:
            return {"error": _NOT_CONFIRMED}
        return self._ask_or_submit(pending)

    def cancel_pending_questions(self) -> None:
        self._pending.clear()

    def modify(
        self,
        acct: str,
        order_id: int | str,
        order: Mapping[str, object],
        suppressed: Iterable[str] = frozenset(),
    ) -> Answer:
        self.portfolio(acct)
        existing = self._find(acct, order_id)
        if existing is None or not existing.live:
            return {"error": f"OrderID {order_id} doesn't exist"}
        ticket = parse_ticket({"conid": existing.ticket.conid, **order})
        if isinstance(ticket, str):
            return {"error": ticket}
        if ticket.conid != existing.ticket.conid:
            return {"error": f"OrderID {order_id}: the contract of an order cannot be modified"}
        ticket = dataclasses.replace(
            ticket,
            coid=existing.coid,
            parent_coid=existing.ticket.parent_coid,
            single_group=existing.ticket.single_group,
        )
        pending = _Pending(acct, [ticket], self._questions([ticket], suppressed), existing.order_id)
        return self._ask_or_submit(pending)

    def cancel(self, acct: str, order_id: int | str) -> dict[str, Any]:
        self.portfolio(acct)
        order = self._find(acct, order_id)
        if order is None:
            return {"error": f"OrderID {order_id} doesn't exist"}
        if order.live:
            order.cancel_requested = True
        return {
            "msg": "Request was submitted",
            "order_id": order.order_id,
            "conid": -1,
            "account": None,
        }

    def orders(self, acct: str | None = None, filters: str | None = None) -> dict[str, Any]:
        if acct is not None:
            self.portfolio(acct)
        wanted = _status_filter(filters)
        rows = [
            order.row()
            for order in sorted(self._orders.values(), key=lambda o: -o.order_id)
            if (acct is None or order.account == acct)
            and (wanted is None or order.status.lower() in wanted)
        ]
        return {"orders": rows, "snapshot": True}

    def trades(self, acct: str | None = None, days: int | None = None) -> list[dict[str, Any]]:
        """Today's executions (New York's day), or those of the last ``days`` days (≤ 7)."""
        if acct is not None:
            self.portfolio(acct)
        since = _day_start(self._now(), min(max(days or 1, 1), MAX_TRADE_DAYS) - 1)
        return [
            e.row()
            for e in self._executions
            if (acct is None or e.account == acct) and e.time >= since
        ]

    def order_status(self, order_id: int | str) -> dict[str, Any]:
        """``GET /iserver/account/order/status/{id}``: orders of this brokerage session only
        (and live ones); others are answered 503 as IBKR's spec says."""
        order = self.order(order_id)
        if order is None or not (order.live or order.order_id in self._session_orders):
            raise Refusal(f"Service Unavailable: no order {order_id} in this session", status=503)
        self._status_requests += 1
        return order.status_row(self._status_requests)

    def process(self) -> None:
        now = self._now()
        trades: dict[tuple[int, float], list[tuple[float, float]]] = {}
        groups_done: set[str] = set()
        for order in list(self._orders.values()):
            if not order.live or order.waiting:
                continue
            if order.oca_group is not None:
                if order.oca_group not in groups_done:
                    groups_done.add(order.oca_group)
                    self._work_group(order.oca_group, now)
                continue
            key = (order.ticket.conid, order.checked_until)
            if key not in trades:
                trades[key] = self._trades_since(*key, now)
            self._work(order, trades[key], now)
        self.alerts.check(self._market.last_or_none)

    def reset_session(self) -> None:
        self._pending.clear()
        self._market.reset_subscriptions()
        self._orders_listed = False
        self._pnl_asked = False
        self._session_orders.clear()

    def orders_preflight(self) -> bool:
        """True for the first live-orders list of a brokerage session, which the gateway
        answers empty while it builds its order cache (IBKR-FACTS §4); false afterwards."""
        first, self._orders_listed = not self._orders_listed, True
        return first

    # -- inspection ------------------------------------------------------------------

    def order(self, order_id: int | str) -> SimOrder | None:
        number = _order_number(order_id)
        return self._orders.get(number) if number is not None else None

    def order_by_coid(self, coid: str) -> SimOrder | None:
        return self._by_coid.get(coid)

    @property
    def executions(self) -> list[Execution]:
        return list(self._executions)

    def executions_by_coid(self) -> dict[str, list[Execution]]:
        """Fills grouped by cOID: a retried order must never show two."""
        grouped: dict[str, list[Execution]] = {}
        for execution in self._executions:
            if execution.coid is not None:
                grouped.setdefault(execution.coid, []).append(execution)
        return grouped

    # -- internals -------------------------------------------------------------------

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def _find(self, acct: str, order_id: int | str) -> SimOrder | None:
        order = self.order(order_id)
        return order if order is not None and order.account == acct else None

    def _questions(self, tickets: list[OrderTicket], suppressed: Iterable[str]) -> list[Question]:
        skip = set(suppressed)
        asked: dict[str, Question] = {}
        for ticket in tickets:
            last = self._market.price(ticket.conid)
            has_data = self._market.has_market_data(ticket.conid)
            for question in questions_for(ticket, last, has_data):
                if question.message_id not in skip:
                    asked.setdefault(question.message_id, question)
        return list(asked.values())

    def _ask_or_submit(self, pending: _Pending) -> Answer:
        if not pending.questions:
            return self._submit(pending)
        question = pending.questions.pop(0)
        reply_id = str(uuid.UUID(int=self._reply_ids.getrandbits(128), version=4))
        self._pending[reply_id] = pending
        return [
            {
                "id": reply_id,
                "message": [question.text],
                "isSuppressed": False,
                "messageIds": [question.message_id],
                "messageOptions": ["Yes", "No"],
            }
        ]

    def _submit(self, pending: _Pending) -> Answer:
        now = self._now()
        if pending.modifies is not None:
            order = self._orders[pending.modifies]
            if not order.live:
                return {"error": f"OrderID {order.order_id} doesn't exist"}
            order.replace(pending.tickets[0], now)
            order.checked_until = now
            if not order.waiting:  # a child still waiting for its parent keeps waiting
                self._start(order, now)
            return [_acknowledgement(order)]
        duplicate = self._duplicate_coid(pending.tickets)
        if duplicate is not None:
            return {"error": duplicate}
        orphan = self._orphan(pending.account, pending.tickets)
        if orphan is not None:
            return {"error": orphan}
        return [_acknowledgement(order) for order in self._book_group(pending, now)]

    def _book_group(self, pending: _Pending, now: float) -> list[SimOrder]:
        """Book a request's orders in order, linking children and OCA groups."""
        tickets = pending.tickets
        single_group = (
            f"oca-{self._next_order_id}" if any(t.single_group for t in tickets) else None
        )
        booked: list[SimOrder] = []
        by_coid: dict[str, SimOrder] = {}
        for ticket in tickets:
            parent = None
            if ticket.parent_coid is not None:
                parent = by_coid.get(ticket.parent_coid) or self._by_coid[ticket.parent_coid]
            group = single_group
            if group is None and parent is not None:
                group = f"bracket-{parent.order_id}"  # a bracket's exits cancel each other
            order = self._book(pending.account, ticket, now, parent=parent, oca_group=group)
            booked.append(order)
            if ticket.coid is not None:
                by_coid[ticket.coid] = order
        return booked

    def _orphan(self, acct: str, tickets: list[OrderTicket]) -> str | None:
        """The rejection of a child whose ``parentId`` names no earlier or live order."""
        earlier: set[str] = set()
        for ticket in tickets:
            parent = ticket.parent_coid
            if parent is not None and parent not in earlier:
                known = self._by_coid.get(parent)
                if known is None or known.account != acct or not known.live:
                    return f"Parent order {parent!r} not found: parentId must be a parent's cOID"
            if ticket.coid is not None:
                earlier.add(ticket.coid)
        return None

    def _book(
        self,
        acct: str,
        ticket: OrderTicket,
        now: float,
        *,
        parent: SimOrder | None = None,
        oca_group: str | None = None,
    ) -> SimOrder:
        hours = ticket.instrument.hours
        opens_at = None
        if ticket.tif == "OPG":
            opens_at = next(s.open for s in hours.sessions_forwards(now) if s.open > now)
        order = SimOrder(
            order_id=self._next_order_id,
            account=acct,
            ticket=ticket,
            placed_at=now,
            expires_at=hours.next_close(now) if ticket.tif == "DAY" else None,
            opens_at=opens_at,
            updated_at=now,
            checked_until=now,
            parent_id=parent.order_id if parent is not None else None,
            oca_group=oca_group,
            waiting=parent is not None and parent.status != "Filled",
        )
        self._next_order_id += 1
        self._orders[order.order_id] = order
        self._session_orders.add(order.order_id)
        if ticket.coid is not None:
            self._by_coid[ticket.coid] = order
        if oca_group is not None and any(
            o.oca_group == oca_group and o.status == "Filled" for o in self._orders.values()
        ):
            self._close(order, "Cancelled", now)  # its group was done before it arrived
        elif order.waiting:
            order.status = "PreSubmitted"
        else:
            self._start(order, now)
        return order

    def _preview_price(self, ticket: OrderTicket) -> float:
        """The price a what-if assumes: the limit, the stop, else the quote it would take."""
        if ticket.price is not None:
            return ticket.price
        if ticket.aux_price is not None:
            return ticket.aux_price
        bid, ask = self._market.bid_ask(ticket.conid, self._market.price(ticket.conid))
        return ask if ticket.is_buy else bid

    def _start(self, order: SimOrder, now: float) -> None:
        """Try the order against the current trade; IOC/FOK die if that fails."""
        trading = self._market.is_trading(order.ticket.conid)
        if trading and order.opens_at is None:
            last = self._market.price(order.ticket.conid)
            if self._try_execute(order, now, last):
                return
        if order.ticket.tif in ("IOC", "FOK"):
            self._close(order, "Cancelled", now)
            return
        order.status = order.status_now(trading)

    def _trades_since(self, conid: int, since: float, now: float) -> list[tuple[float, float]]:
        trades = self._market.prices_between(conid, since, now)
        if not trades and self._market.is_trading(conid):  # no time passed: the trade now
            trades = [(now, self._market.price(conid))]
        return trades

    def _work(self, order: SimOrder, trades: list[tuple[float, float]], now: float) -> None:
        """Feed one live order the trades since it was last checked, in time order."""
        if order.cancel_requested:
            self._close(order, "Cancelled", now)
            return
        conid = order.ticket.conid
        for t, last in trades:
            if order.expires_at is not None and t >= order.expires_at:
                break
            if order.opens_at is not None and t < order.opens_at:
                continue
            if self._try_execute(order, t, last) or order.opens_at is not None:
                break
        order.checked_until = now
        if not order.live:
            return
        expiry = order.expires_at if order.expires_at is not None else order.opens_at
        if expiry is not None and now >= expiry:
            self._close(order, "Cancelled", now)
        else:
            order.status = order.status_now(self._market.is_trading(conid))

    def _work_group(self, group: str, now: float) -> None:
        """Feed an OCA group's working orders the trades in time order: the first to fill
        cancels the rest (``_after_fill``)."""
        members = [o for o in self._orders.values() if o.oca_group == group and o.live]
        for order in members:
            if order.cancel_requested:
                self._close(order, "Cancelled", now)
        active = [o for o in members if o.live and not o.waiting]
        timeline = sorted(
            (t, index, last)
            for index, order in enumerate(active)
            for t, last in self._trades_since(order.ticket.conid, order.checked_until, now)
        )
        for t, index, last in timeline:
            order = active[index]
            if not order.live or (order.expires_at is not None and t >= order.expires_at):
                continue
            if order.opens_at is not None and t < order.opens_at:
                continue
            self._try_execute(order, t, last)
        for order in active:
            order.checked_until = now
            if not order.live:
                continue
            expiry = order.expires_at if order.expires_at is not None else order.opens_at
            if expiry is not None and now >= expiry:
                self._close(order, "Cancelled", now)
            else:
                order.status = order.status_now(self._market.is_trading(order.ticket.conid))

    def _after_fill(self, order: SimOrder, t: float) -> None:
        """A fill wakes the order's children and cancels the rest of its OCA group."""
        for other in list(self._orders.values()):
            if other.parent_id == order.order_id and other.waiting:
                other.waiting = False
                other.checked_until = t
                other.updated_at = t
                other.status = other.status_now(self._market.is_trading(other.ticket.conid))
            elif (
                order.oca_group is not None
                and other is not order
                and other.oca_group == order.oca_group
                and other.live
            ):
                self._close(other, "Cancelled", t)

    def _try_execute(self, order: SimOrder, t: float, last: float) -> bool:
        bid, ask = self._market.bid_ask(order.ticket.conid, last)
        price = order.execution_price(last, bid, ask)
        if price is None:
            return False
        ticket = order.ticket
        order.filled_quantity = ticket.quantity
        order.average_price = price
        self._close(order, "Filled", t)
        self.portfolio(order.account).apply_fill(
            ticket.instrument, ticket.is_buy, ticket.quantity, price
        )
        self._executions.append(
            Execution(
                execution_id=f"{len(self._executions) + 1:08x}.{order.order_id:08x}.01.01",
                order_id=order.order_id,
                account=order.account,
                instrument=ticket.instrument,
                buy=ticket.is_buy,
                quantity=ticket.quantity,
                price=price,
                time=t,
                coid=ticket.coid,
            )
        )
        self._after_fill(order, t)
        return True

    def _close(self, order: SimOrder, status: str, t: float) -> None:
        order.status = status
        order.updated_at = t
        order.cancel_requested = False
        order.waiting = False
        if status == "Cancelled":  # a parent that will never fill takes its children along
            for child in self._orders.values():
                if child.parent_id == order.order_id and child.live:
                    self._close(child, "Cancelled", t)

    def _duplicate_coid(self, tickets: list[OrderTicket]) -> str | None:
        now = self._now()
        seen: set[str] = set()
        for ticket in tickets:
            coid = ticket.coid
            if coid is None:
                continue
            prior = self._by_coid.get(coid)
            if coid in seen or (prior is not None and now - prior.placed_at < COID_MEMORY):
                return f"Order couldn't be submitted: Local order ID={coid} is already registered."
            seen.add(coid)
        return None


def _day_start(now: float, days_back: int) -> float:
    """Midnight New York ``days_back`` days before today, as a timestamp."""
    today = _dt.datetime.fromtimestamp(now, _NEW_YORK).date() - _dt.timedelta(days=days_back)
    return _dt.datetime.combine(today, _dt.time(), _NEW_YORK).timestamp()


def _acknowledgement(order: SimOrder) -> dict[str, Any]:
    return {"order_id": str(order.order_id), "order_status": order.status, "encrypt_message": "1"}


def _status_filter(filters: str | None) -> set[str] | None:
    """``"filled,pre_submitted"`` → ``{"filled", "presubmitted"}``; nothing → no filter."""
    if not filters:
        return None
    return {part.strip().replace("_", "").lower() for part in filters.split(",") if part.strip()}


def _order_number(order_id: int | str) -> int | None:
    if isinstance(order_id, int):
        return order_id
    return int(order_id) if order_id.strip().isdigit() else None
