"""``IbkrClient``: the 19 ``ctx.ibkr`` methods of the reference, kept alive.

Every method keeps the reference's name, parameters and defaults and returns the
gateway's JSON unchanged, so the reference's recipes run as written. What a method adds
happens around the request, never to the answer:

1. its arguments are validated first (``ibkr_api.validation``): bad input raises
   ``InvalidRequestError`` and nothing is sent;
2. the request goes through ``SessionManager.request`` (session guard, priming, pacing,
   error mapping), the one way to the network;
3. reads, tickles and cancels are retried on transient failures (``ibkr_api.retry``);
   orders are never resent blindly (``ibkr_api.orders``);
4. pre-flight placeholders are asked again, bounded (``ibkr_api.snapshot``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from ibkr_api import validation as v
from ibkr_api.orders import RESENDS, OrderDesk, new_coid
from ibkr_api.retry import CANCELS, READS
from ibkr_api.snapshot import GenerationMemory, SnapshotReader, ask_until
from ibkr_api.stream import Stream
from ibkr_session.errors import IbkrAPIError, InvalidRequestError
from ibkr_session.logs import get_logger
from ibkr_session.manager import SessionManager

__all__ = ["DEFAULT_GATEWAY_URL", "DEFAULT_SNAPSHOT_FIELDS", "IbkrClient"]

log = get_logger(__name__)

DEFAULT_GATEWAY_URL = "https://localhost:5000"

DEFAULT_SNAPSHOT_FIELDS = ("31", "84", "86", "88", "85", "7059", "87")
"""Last, bid, ask, bid size, ask size, last size, volume (the reference's table)."""

POSITIONS_PER_PAGE = 100
"""IBKR-FACTS §4: a positions page holds at most 100 rows; a shorter one is the last."""

MAX_POSITION_PAGES = 100
"""A gateway that never answers a short page still cannot keep a worker paging forever."""

_ORDERS_PATH = "/iserver/account/orders"


class IbkrClient:
    """The ``ctx.ibkr`` object: ``IbkrClient(gateway_url, **manager_options)`` or
    ``IbkrClient(session=SessionManager(...))``.

    ``manager_options`` go to the ``SessionManager`` the client then creates (and closes on
    ``close()``). A manager passed as ``session`` belongs to the caller and is left open;
    it brings its own URL and options, so giving others beside it is refused.

    Options of the client itself:
    ``auto_confirm``: order-question message ids (e.g. ``("o163", "o354")``) confirmed
    automatically, chains included; ``snapshot_attempts`` / ``snapshot_wait``: bound and
    pause of the snapshot pre-flight re-ask; ``orders_attempts`` / ``orders_wait``: the
    same for the live orders' first, possibly empty, answer; ``retry_attempts`` /
    ``retry_deadline``: bounds of every retry (seconds on the session clock); ``rng``:
    source of retry jitter (tests pass a seeded one).
    """

    def __init__(
        self,
        gateway_url: str = DEFAULT_GATEWAY_URL,
        *,
        session: SessionManager | None = None,
        auto_confirm: Iterable[str] = (),
        snapshot_attempts: int = 5,
        snapshot_wait: float = 0.5,
        orders_attempts: int = 2,
        orders_wait: float = 1.0,
        retry_attempts: int = 5,
        retry_deadline: float = 30.0,
        rng: random.Random | None = None,
        **manager_options: Any,
    ) -> None:
        _require_at_least(
            1,
            snapshot_attempts=snapshot_attempts,
            orders_attempts=orders_attempts,
            retry_attempts=retry_attempts,
        )
        _require_at_least(
            0, snapshot_wait=snapshot_wait, orders_wait=orders_wait, retry_deadline=retry_deadline
        )
        chosen = [auto_confirm] if isinstance(auto_confirm, str) else list(auto_confirm)
        confirm = (
            v.validate(v.SuppressMessagesArgs, message_ids=chosen).message_ids if chosen else []
        )
        if session is None:
            self._session = SessionManager(gateway_url, **manager_options)
            self._owns_session = True
        elif gateway_url != DEFAULT_GATEWAY_URL or manager_options:
            raise InvalidRequestError(
                "pass either session=... or gateway_url/manager options, not both",
                field="session",
            )
        else:
            self._session = session
            self._owns_session = False
        self._rng = rng
        self._reads = READS.with_limits(max_attempts=retry_attempts, deadline=retry_deadline)
        self._cancels = CANCELS.with_limits(
            max_attempts=min(CANCELS.max_attempts, retry_attempts), deadline=retry_deadline
        )
        self._primed: GenerationMemory[str] = GenerationMemory(self._generation)
        self._orders_attempts = orders_attempts
        self._orders_wait = orders_wait
        self._snapshots = SnapshotReader(
            lambda params: self._read("GET", "/iserver/marketdata/snapshot", params=params),
            clock=self._session.clock,
            generation=self._generation,
            attempts=snapshot_attempts,
            wait=snapshot_wait,
        )
        self._desk = OrderDesk(
            self._session,
            self._live_orders,
            resend=RESENDS.with_limits(max_attempts=RESENDS.max_attempts, deadline=retry_deadline),
            auto_confirm=confirm,
            rng=rng,
        )

    # -- life ----------------------------------------------------------------------------

    @property
    def session(self) -> SessionManager:
        """The ``SessionManager`` this client talks through."""
        return self._session

    def stream(self, **options: Any) -> Stream:
        """Quotes, orders, P&L and trades over the gateway's WebSocket, kept alive through
        every session event (``ibkr_api.stream``); ``options`` go to ``Stream``."""
        return Stream(self, **options)

    def close(self) -> None:
        """Close the session manager, if this client created it."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> IbkrClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"IbkrClient({self._session.gateway_url!r})"

    # -- session ---------------------------------------------------------------------------

    def tickle(self) -> Any:
        """``POST /tickle``: keep the session alive; returns the session's status."""
        return self._read("POST", "/tickle")

    def auth_status(self) -> Any:
        """``POST /iserver/auth/status``: is the brokerage session authenticated?"""
        return self._read("POST", "/iserver/auth/status")

    def select_account(self, account_id: str) -> Any:
        """``POST /iserver/account``; remembered, so it is re-selected after a re-login."""
        args = v.validate(v.SelectAccountArgs, account_id=account_id)
        return self._reads.run(
            self._session.clock,
            lambda: self._session.select_account(args.account_id),
            rng=self._rng,
        )

    # -- account & portfolio -------------------------------------------------------------

    def get_accounts(self) -> Any:
        """``GET /portfolio/accounts``: every account the user can see."""
        accounts = self._read("GET", "/portfolio/accounts")
        self._primed.remember({"portfolio"})
        return accounts

    def get_subaccounts(self) -> Any:
        """``GET /portfolio/subaccounts``: an advisor's managed accounts."""
        return self._read("GET", "/portfolio/subaccounts")

    def get_summary(self, account_id: str) -> Any:
        """``GET /portfolio/{account_id}/summary``."""
        args = v.validate(v.GetSummaryArgs, account_id=account_id)
        return self._portfolio(f"/portfolio/{args.account_id}/summary")

    def get_ledger(self, account_id: str) -> Any:
        """``GET /portfolio/{account_id}/ledger``: balances per currency and ``BASE``."""
        args = v.validate(v.GetLedgerArgs, account_id=account_id)
        return self._portfolio(f"/portfolio/{args.account_id}/ledger")

    def get_positions(self, account_id: str) -> list[Any]:
        """Every position: pages 0, 1, ... of ``GET /portfolio/{account_id}/positions/{page}``
        until a short or empty page, concatenated."""
        args = v.validate(v.GetPositionsArgs, account_id=account_id)
        positions: list[Any] = []
        for page in range(MAX_POSITION_PAGES):
            path = f"/portfolio/{args.account_id}/positions/{page}"
            rows = self._portfolio(path)
            if not isinstance(rows, list):
                raise IbkrAPIError(
                    "malformed", "positions page is not a list", path=path, body=rows
                )
            positions.extend(rows)
            if len(rows) < POSITIONS_PER_PAGE:
                return positions
        log.warning("ibkr.positions.too_many_pages", pages=MAX_POSITION_PAGES)
        return positions

    # -- market data -----------------------------------------------------------------------

    def get_market_snapshot(
        self, conids: int | str | Sequence[int | str], fields: Sequence[int | str] | None = None
    ) -> list[Any]:
        """``GET /iserver/marketdata/snapshot``: top of book for one conid or many.

        ``fields`` defaults to last, bid, ask, bid size, ask size, last size and volume.
        More than 100 conids are split into several requests, answers concatenated in
        order. The first snapshot of a conid in a brokerage session is a pre-flight without
        prices; it is asked again (a few times, briefly) so this call already has them.
        """
        args = v.validate(v.GetMarketSnapshotArgs, conids=conids, fields=fields)
        tags = args.fields if args.fields is not None else DEFAULT_SNAPSHOT_FIELDS
        return self._snapshots.read(args.conids, tags)

    def get_historical_data(
        self, conid: int | str, period: str = "1d", bar: str = "5min", outside_rth: bool = False
    ) -> Any:
        """``GET /iserver/marketdata/history``: OHLC bars (``data``: o, h, l, c, v, t)."""
        args = v.validate(
            v.GetHistoricalDataArgs, conid=conid, period=period, bar=bar, outside_rth=outside_rth
        )
        params = {
            "conid": str(args.conid),
            "period": args.period,
            "bar": args.bar,
            "outsideRth": _flag(args.outside_rth),
        }
        return self._read("GET", "/iserver/marketdata/history", params=params)

    # -- contracts -------------------------------------------------------------------------

    def search_contract(self, symbol: str, sec_type: str = "STK") -> Any:
        """``GET /iserver/secdef/search``: contracts for a symbol (``conid`` is a string)."""
        args = v.validate(v.SearchContractArgs, symbol=symbol, sec_type=sec_type)
        params = {"symbol": args.symbol, "secType": args.sec_type}
        return self._read("GET", "/iserver/secdef/search", params=params)

    def get_contract_details(self, conid: int | str) -> Any:
        """``GET /iserver/contract/{conid}/info``: symbology, exchanges, trading rules."""
        args = v.validate(v.GetContractDetailsArgs, conid=conid)
        return self._read("GET", f"/iserver/contract/{args.conid}/info")

    # -- orders ----------------------------------------------------------------------------

    def get_orders(self) -> Any:
        """``GET /iserver/account/orders``: the session's orders, any status."""
        return self._orders({})

    def get_filled_orders(self, account_id: str | None = None) -> Any:
        """The same list, filtered to filled orders by the gateway."""
        args = v.validate(v.GetFilledOrdersArgs, account_id=account_id)
        params = {"filters": "filled"}
        if args.account_id is not None:
            params["accountId"] = args.account_id
        return self._orders(params)

    def place_order(
        self,
        account_id: str,
        conid: int | str,
        side: str,
        quantity: float,
        order_type: str = "MKT",
        price: float | None = None,
        tif: str = "DAY",
        *,
        coid: str | None = None,
        aux_price: float | None = None,
        trailing_amt: float | None = None,
        trailing_type: str | None = None,
        outside_rth: bool = False,
    ) -> Any:
        """``POST /iserver/account/{account_id}/orders`` with one order.

        Returns the gateway's answer: ``[{"order_id", "order_status", ...}]``, or a
        question ``[{"id", "message", "messageIds", ...}]`` to answer with
        ``reply_to_order``. The order carries ``coid`` (generated when omitted) and is never
        sent twice; an order recovered after a lost answer comes back as
        ``[{"order_id", "order_status", "reconciled": True}]``.
        """
        args = v.validate(
            v.PlaceOrderArgs,
            account_id=account_id,
            conid=conid,
            side=side,
            quantity=quantity,
            order_type=order_type,
            price=price,
            tif=tif,
            coid=coid,
            aux_price=aux_price,
            trailing_amt=trailing_amt,
            trailing_type=trailing_type,
            outside_rth=outside_rth,
        )
        order = args.to_gateway()
        order.setdefault("cOID", new_coid(self._session.clock))
        return self._desk.place(args.account_id, order)

    def modify_order(
        self,
        account_id: str,
        order_id: str | int,
        conid: int | str,
        side: str,
        quantity: float,
        order_type: str = "LMT",
        price: float | None = None,
        tif: str = "DAY",
        *,
        aux_price: float | None = None,
        trailing_amt: float | None = None,
        trailing_type: str | None = None,
        outside_rth: bool = False,
    ) -> Any:
        """``POST /iserver/account/{account_id}/order/{order_id}`` with the complete
        replacement order (IBKR replaces, it does not patch). Same answers as
        ``place_order``."""
        args = v.validate(
            v.ModifyOrderArgs,
            account_id=account_id,
            order_id=order_id,
            conid=conid,
            side=side,
            quantity=quantity,
            order_type=order_type,
            price=price,
            tif=tif,
            aux_price=aux_price,
            trailing_amt=trailing_amt,
            trailing_type=trailing_type,
            outside_rth=outside_rth,
        )
        return self._desk.modify(args.account_id, args.order_id, args.to_gateway())

    def cancel_order(self, account_id: str, order_id: str | int) -> Any:
        """``DELETE /iserver/account/{account_id}/order/{order_id}``: an acknowledgement of
        receipt, not a confirmation (the order list tells when it is cancelled)."""
        args = v.validate(v.CancelOrderArgs, account_id=account_id, order_id=order_id)
        path = f"/iserver/account/{args.account_id}/order/{args.order_id}"
        return self._cancels.run(
            self._session.clock, lambda: self._session.request("DELETE", path), rng=self._rng
        )

    def reply_to_order(self, message_id: str, confirmed: bool = True) -> Any:
        """``POST /iserver/reply/{message_id}``: answer an order question. The answer may be
        the next question of a chain (answer that one too)."""
        args = v.validate(v.ReplyToOrderArgs, message_id=message_id, confirmed=confirmed)
        return self._desk.reply(args.message_id, args.confirmed)

    def suppress_messages(self, message_ids: Sequence[str]) -> Any:
        """``POST /iserver/questions/suppress``: skip these questions for the brokerage
        session; re-applied automatically after a re-login."""
        args = v.validate(v.SuppressMessagesArgs, message_ids=message_ids)
        answer = self._read(
            "POST", "/iserver/questions/suppress", json={"messageIds": args.message_ids}
        )
        self._session.remember_suppressed(args.message_ids)
        return answer

    # -- plumbing ------------------------------------------------------------------------------

    def _generation(self) -> int:
        return self._session.brokerage_generation

    def _read(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: object = None,
    ) -> Any:
        """One request that is safe to repeat, under the read retry policy."""
        return self._reads.run(
            self._session.clock,
            lambda: self._session.request(method, path, params=params, json=json),
            rng=self._rng,
        )

    def _portfolio(self, path: str) -> Any:
        """A ``/portfolio/{acct}/...`` read; IBKR wants ``/portfolio/accounts`` asked first
        in a session (IBKR-FACTS §4), so that is done once per brokerage session."""
        if self._primed.unknown({"portfolio"}):
            self.get_accounts()
        return self._read("GET", path)

    def _orders(self, params: Mapping[str, str]) -> Any:
        """The live orders; the first, possibly empty, answer of a session is asked again."""
        answer = ask_until(
            lambda: self._read("GET", _ORDERS_PATH, params=params),
            lambda orders: _lists_orders(orders) or not self._primed.unknown({"orders"}),
            attempts=self._orders_attempts,
            wait=self._orders_wait,
            clock=self._session.clock,
            what="orders",
        )
        self._primed.remember({"orders"})
        return answer

    def _live_orders(self) -> list[Mapping[str, Any]]:
        """The live orders as a list, for the order desk's lookups."""
        answer = self._orders({})
        orders = answer.get("orders") if isinstance(answer, dict) else None
        if not isinstance(orders, list):
            raise IbkrAPIError(
                "malformed", "orders answer has no list", path=_ORDERS_PATH, body=answer
            )
        return [order for order in orders if isinstance(order, dict)]


def _lists_orders(answer: Any) -> bool:
    return isinstance(answer, dict) and bool(answer.get("orders"))


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _require_at_least(minimum: float, **options: float) -> None:
    for name, value in options.items():
        if not value >= minimum:
            raise InvalidRequestError(
                f"{name} must be at least {minimum}, got {value!r}", field=name
            )
