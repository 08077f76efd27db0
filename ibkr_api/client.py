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

import math
import random
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, cast

from ibkr_api import validation as v
from ibkr_api import wider_args as w
from ibkr_api.groups import GROUP_RESENDS, GroupDesk
from ibkr_api.orders import RESENDS, OrderDesk, new_coid
from ibkr_api.retry import CANCELS, READS, RetryPolicy
from ibkr_api.shapes import (
    AccountSummaryAnswer,
    AlertAnswer,
    AlertRow,
    AllocationAnswer,
    AuthStatusAnswer,
    BrokerageAccountsAnswer,
    CancelAnswer,
    ContractDetailsAnswer,
    ContractRulesAnswer,
    ContractSearchRow,
    FutureRow,
    HistoryAnswer,
    LedgerEntryAnswer,
    LiveOrdersAnswer,
    LogoutAnswer,
    MessageAnswer,
    NotificationRow,
    OrderPreviewAnswer,
    OrderReplyItem,
    OrderStatusAnswer,
    PerformanceAnswer,
    PnlAnswer,
    PortfolioAccount,
    PortfolioPosition,
    ScannerParamsAnswer,
    ScannerRunAnswer,
    SecdefAnswer,
    SecdefInfoRow,
    SelectAccountAnswer,
    SnapshotRow,
    SsoValidateAnswer,
    StatusAnswer,
    StockRow,
    StrikesAnswer,
    SummaryValue,
    TickleAnswer,
    TradeRow,
    TradingScheduleRow,
    TransactionsAnswer,
    UnsubscribeAllAnswer,
    UnsubscribeAnswer,
    WatchlistAnswer,
    WatchlistsAnswer,
)
from ibkr_api.slow import SLOW_ROW_SECONDS, Cache, SlowRow
from ibkr_api.snapshot import GenerationMemory, SnapshotReader, ask_until
from ibkr_api.stream import Stream, StreamGap
from ibkr_session.endpoints import (
    DEFAULT_GATEWAY_URL,
    ENDPOINTS,
    PACING_ROWS,
    Kind,
    endpoint,
    endpoint_for,
)
from ibkr_session.errors import (
    GatewayUnreachableError,
    IbkrAPIError,
    InvalidRequestError,
    RateLimitedError,
    ResetWindowError,
)
from ibkr_session.hooks import Listeners
from ibkr_session.logs import get_logger
from ibkr_session.manager import SessionManager
from ibkr_session.pacing import PACING_REFUSAL

__all__ = ["DEFAULT_GATEWAY_URL", "DEFAULT_SNAPSHOT_FIELDS", "IbkrClient"]

log = get_logger(__name__)

DEFAULT_SNAPSHOT_FIELDS = ("31", "84", "86", "88", "85", "7059", "87")
"""Last, bid, ask, bid size, ask size, last size, volume (the reference's table)."""

POSITIONS_PER_PAGE = 100
"""IBKR-FACTS §4: a positions page holds at most 100 rows; a shorter one is the last."""

MAX_POSITION_PAGES = 100
"""A gateway that never answers a short page still cannot keep a worker paging forever."""

_ORDERS_PATH = "/iserver/account/orders"

_SLOW_ROWS = tuple(
    (row.pacing, row.method, row.template)
    for row in ENDPOINTS
    if row.pacing is not None and PACING_ROWS[row.pacing].per >= SLOW_ROW_SECONDS
)
"""The endpoints of the table on a slow pacing row (scanner params, ``/pa/*``): refused at
once when spent, never waited for (``ibkr_api.slow``)."""


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
        self._portfolio_priming = threading.Lock()
        self._streams: weakref.WeakSet[Stream] = weakref.WeakSet()
        self._gap_listeners: Listeners[StreamGap] = Listeners("on_stream_gap")
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
        self._groups = GroupDesk(
            self._desk,
            self._live_orders,
            resend=GROUP_RESENDS.with_limits(
                max_attempts=GROUP_RESENDS.max_attempts, deadline=retry_deadline
            ),
            rng=rng,
        )
        self._slow = {
            name: SlowRow(name, self._session.clock, path=path, method=method)
            for name, method, path in _SLOW_ROWS
        }
        self._scanner_params: Cache[Any] = Cache(
            self._session.clock, self._slow["scanner-params"].window
        )

    # -- life ----------------------------------------------------------------------------

    @property
    def session(self) -> SessionManager:
        """The ``SessionManager`` this client talks through."""
        return self._session

    def stream(self, **options: Any) -> Stream:
        """Quotes, orders, P&L and trades over the gateway's WebSocket, kept alive through
        every session event (``ibkr_api.stream``); ``options`` go to ``Stream``."""
        stream = Stream(self, **options)
        stream.on_gap(self._gap_listeners.tell)
        self._streams.add(stream)
        return stream

    def on_stream_gap(self, callback: Callable[[StreamGap], object]) -> Callable[[], None]:
        """Call ``callback(gap)`` when any stream of this client, now or later, ends a
        disturbance (``StreamGap``), on that stream's reader thread: what a host's metrics
        count without reaching into the worker. Keep it quick; returns a remover."""
        return self._gap_listeners.add(callback)

    def close(self) -> None:
        """Close this client's streams, and the session manager if this client created it."""
        for stream in list(self._streams):
            stream.close()
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

    def tickle(self) -> TickleAnswer:
        """``POST /tickle``: keep the session alive; returns the session's status."""
        return cast(TickleAnswer, self._read("POST", "/tickle"))

    def auth_status(self) -> AuthStatusAnswer:
        """``POST /iserver/auth/status``: is the brokerage session authenticated?"""
        return cast(AuthStatusAnswer, self._read("POST", "/iserver/auth/status"))

    def select_account(self, account_id: str) -> SelectAccountAnswer:
        """``POST /iserver/account``; remembered, so it is re-selected after a re-login."""
        args = v.validate(v.SelectAccountArgs, account_id=account_id)
        answer = self._reads.run(
            self._session.clock,
            lambda: self._session.select_account(args.account_id),
            rng=self._rng,
        )
        return cast(SelectAccountAnswer, answer)

    # -- account & portfolio -------------------------------------------------------------

    def get_accounts(self) -> list[PortfolioAccount]:
        """``GET /portfolio/accounts``: every account the user can see."""
        accounts = self._read("GET", "/portfolio/accounts")
        self._primed.remember({"portfolio"})
        return cast(list[PortfolioAccount], accounts)

    def get_subaccounts(self) -> list[PortfolioAccount]:
        """``GET /portfolio/subaccounts``: an advisor's managed accounts."""
        return cast(list[PortfolioAccount], self._read("GET", "/portfolio/subaccounts"))

    def get_summary(self, account_id: str) -> dict[str, SummaryValue]:
        """``GET /portfolio/{account_id}/summary``."""
        args = v.validate(v.GetSummaryArgs, account_id=account_id)
        return cast(
            dict[str, SummaryValue],
            self._portfolio(endpoint("summary").path(account_id=args.account_id)),
        )

    def get_ledger(self, account_id: str) -> dict[str, LedgerEntryAnswer]:
        """``GET /portfolio/{account_id}/ledger``: balances per currency and ``BASE``."""
        args = v.validate(v.GetLedgerArgs, account_id=account_id)
        return cast(
            dict[str, LedgerEntryAnswer],
            self._portfolio(endpoint("ledger").path(account_id=args.account_id)),
        )

    def get_positions(self, account_id: str) -> list[PortfolioPosition]:
        """Every position: pages 0, 1, ... of ``GET /portfolio/{account_id}/positions/{page}``
        until a short or empty page, concatenated."""
        args = v.validate(v.GetPositionsArgs, account_id=account_id)
        positions: list[Any] = []
        for page in range(MAX_POSITION_PAGES):
            path = endpoint("positions").path(account_id=args.account_id, page=page)
            rows = self._portfolio(path)
            if not isinstance(rows, list):
                raise IbkrAPIError(
                    "malformed", "positions page is not a list", path=path, body=rows
                )
            positions.extend(rows)
            if len(rows) < POSITIONS_PER_PAGE:
                return cast(list[PortfolioPosition], positions)
        log.warning("ibkr.positions.too_many_pages", pages=MAX_POSITION_PAGES)
        return cast(list[PortfolioPosition], positions)

    # -- market data -----------------------------------------------------------------------

    def get_market_snapshot(
        self, conids: int | str | Sequence[int | str], fields: Sequence[int | str] | None = None
    ) -> list[SnapshotRow]:
        """``GET /iserver/marketdata/snapshot``: top of book for one conid or many.

        ``fields`` defaults to last, bid, ask, bid size, ask size, last size and volume.
        More than 100 conids are split into several requests, answers concatenated in
        order. The first snapshot of a conid in a brokerage session is a pre-flight without
        prices; it is asked again (a few times, briefly) so this call already has them.
        """
        args = v.validate(v.GetMarketSnapshotArgs, conids=conids, fields=fields)
        tags = args.fields if args.fields is not None else DEFAULT_SNAPSHOT_FIELDS
        return cast(list[SnapshotRow], self._snapshots.read(args.conids, tags))

    def get_historical_data(
        self, conid: int | str, period: str = "1d", bar: str = "5min", outside_rth: bool = False
    ) -> HistoryAnswer:
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
        return cast(HistoryAnswer, self._read("GET", "/iserver/marketdata/history", params=params))

    # -- contracts -------------------------------------------------------------------------

    def search_contract(self, symbol: str, sec_type: str = "STK") -> list[ContractSearchRow]:
        """``GET /iserver/secdef/search``: contracts for a symbol (``conid`` is a string)."""
        args = v.validate(v.SearchContractArgs, symbol=symbol, sec_type=sec_type)
        params = {"symbol": args.symbol, "secType": args.sec_type}
        return cast(
            list[ContractSearchRow], self._read("GET", "/iserver/secdef/search", params=params)
        )

    def get_contract_details(self, conid: int | str) -> ContractDetailsAnswer:
        """``GET /iserver/contract/{conid}/info``: symbology, exchanges, trading rules."""
        args = v.validate(v.GetContractDetailsArgs, conid=conid)
        return cast(
            ContractDetailsAnswer,
            self._read("GET", endpoint("contract_info").path(conid=args.conid)),
        )

    # -- orders ----------------------------------------------------------------------------

    def get_orders(self) -> LiveOrdersAnswer:
        """``GET /iserver/account/orders``: the session's orders, any status."""
        return cast(LiveOrdersAnswer, self._orders({}))

    def get_filled_orders(self, account_id: str | None = None) -> LiveOrdersAnswer:
        """The same list, filtered to filled orders by the gateway."""
        args = v.validate(v.GetFilledOrdersArgs, account_id=account_id)
        params = {"filters": "filled"}
        if args.account_id is not None:
            params["accountId"] = args.account_id
        return cast(LiveOrdersAnswer, self._orders(params))

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
    ) -> list[OrderReplyItem]:
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
        return cast(list[OrderReplyItem], self._desk.place(args.account_id, order))

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
    ) -> list[OrderReplyItem]:
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
        return cast(
            list[OrderReplyItem],
            self._desk.modify(args.account_id, args.order_id, args.to_gateway()),
        )

    def cancel_order(self, account_id: str, order_id: str | int) -> CancelAnswer:
        """``DELETE /iserver/account/{account_id}/order/{order_id}``: an acknowledgement of
        receipt, not a confirmation (the order list tells when it is cancelled)."""
        args = v.validate(v.CancelOrderArgs, account_id=account_id, order_id=order_id)
        path = endpoint("cancel_order").path(account_id=args.account_id, order_id=args.order_id)
        return cast(CancelAnswer, self._read("DELETE", path, policy=self._cancels))

    def reply_to_order(self, message_id: str, confirmed: bool = True) -> list[OrderReplyItem]:
        """``POST /iserver/reply/{message_id}``: answer an order question. The answer may be
        the next question of a chain (answer that one too)."""
        args = v.validate(v.ReplyToOrderArgs, message_id=message_id, confirmed=confirmed)
        return cast(list[OrderReplyItem], self._desk.reply(args.message_id, args.confirmed))

    def suppress_messages(self, message_ids: Sequence[str]) -> StatusAnswer:
        """``POST /iserver/questions/suppress``: skip these questions for the brokerage
        session; re-applied automatically after a re-login."""
        args = v.validate(v.SuppressMessagesArgs, message_ids=message_ids)
        answer = self._read(
            "POST", "/iserver/questions/suppress", json={"messageIds": args.message_ids}
        )
        self._session.remember_suppressed(args.message_ids)
        return cast(StatusAnswer, answer)

    # -- the rest a bot needs (issue 13) ---------------------------------------------------
    #
    # Each method: arguments checked by ``ibkr_api.wider_args`` (nothing sent on bad
    # input), the path built from its row of ``ibkr_session.endpoints`` (``segment``
    # refuses any id IBKR never issues), one way to the network (``SessionManager.request``:
    # guard, pacing, typed errors), retried by the row's kind: reads under the read policy,
    # deletions like cancels, changes (create an alert, a watchlist) never; orders through
    # the order desk's cOID rules.

    def get_order_status(self, order_id: str | int) -> OrderStatusAnswer:
        """``GET /iserver/account/order/status/{order_id}``: one order's state (sizes and
        prices as strings; ``views.OrderStatus`` parses them)."""
        args = w.validate(w.GetOrderStatusArgs, order_id=order_id)
        path = endpoint("order_status").path(order_id=args.order_id)
        return cast(OrderStatusAnswer, self._read("GET", path))

    def get_trades(self, days: int | None = None, account_id: str | None = None) -> list[TradeRow]:
        """``GET /iserver/account/trades``: executions of today, or of the last ``days``
        (1-7). Paced at 1 per 5 s (the session waits for the row, never longer)."""
        args = w.validate(w.GetTradesArgs, days=days, account_id=account_id)
        params: dict[str, str] = {}
        if args.days is not None:
            params["days"] = str(args.days)
        if args.account_id is not None:
            params["accountId"] = args.account_id
        return cast(list[TradeRow], self._read("GET", endpoint("trades").path(), params=params))

    def get_pnl(self) -> PnlAnswer:
        """``GET /iserver/account/pnl/partitioned``: ``{"upnl": {"<acct>.Core": {dpl, upl,
        nl, el, mv, ...}}}`` (the first answer of a session can be empty). 1 per 5 s.
        ``views.pnl_rows(answer)`` gives numbers per account."""
        return cast(PnlAnswer, self._read("GET", endpoint("pnl").path()))

    def preview_order(
        self,
        account_id: str,
        conid: int | str,
        side: str,
        quantity: float,
        order_type: str = "MKT",
        price: float | None = None,
        tif: str = "DAY",
        *,
        aux_price: float | None = None,
        trailing_amt: float | None = None,
        trailing_type: str | None = None,
        outside_rth: bool = False,
    ) -> OrderPreviewAnswer:
        """``POST /iserver/account/{account_id}/orders/whatif``: the margin, commission and
        equity effect of ``place_order`` with the same arguments. Places nothing (no cOID
        is sent), so it is retried like a read."""
        args = w.validate(
            w.PreviewOrderArgs,
            account_id=account_id,
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
        path = endpoint("preview_order").path(account_id=args.account_id)
        return cast(
            OrderPreviewAnswer, self._read("POST", path, json={"orders": [args.to_gateway()]})
        )

    def place_orders(
        self, account_id: str, orders: Sequence[Mapping[str, Any]], *, oca: bool = False
    ) -> list[OrderReplyItem]:
        """``POST /iserver/account/{account_id}/orders`` with several legs in one request.

        Each leg is a dict of ``place_order``'s arguments (``conid``, ``side``,
        ``quantity``, ``order_type``, ``price``, ``tif``, ``aux_price``, ``coid``, ...)
        plus ``parent_coid``: the ``coid`` of an earlier leg it is attached to (a child
        order; sent as ``parentId``). Every leg carries its own cOID (generated when
        omitted). ``oca=True`` makes the legs one OCA group (``isSingleGroup``): the first
        to fill cancels the others.

        Returns the gateway's answer (one success row per leg, or a question to answer
        with ``reply_to_order``; ``auto_confirm`` works along the chain). After a lost
        answer every leg is looked up by its cOID and only missing legs are resent; see
        ``ibkr_api.groups``.
        """
        if not isinstance(oca, bool):
            raise InvalidRequestError(f"oca={oca!r}: must be True or False", field="oca")
        account, body = self._group_body(account_id, orders, oca=oca)
        return cast(list[OrderReplyItem], self._groups.place(account, body))

    def place_bracket_order(
        self,
        account_id: str,
        conid: int | str,
        side: str,
        quantity: float,
        price: float,
        take_profit: float,
        stop_loss: float,
        order_type: str = "LMT",
        tif: str = "GTC",
        *,
        coid: str | None = None,
        outside_rth: bool = False,
    ) -> list[OrderReplyItem]:
        """An entry and its two exits in one group: the entry (``LMT`` at ``price``, or
        ``STP`` triggered at ``price``), a take-profit limit at ``take_profit`` and a
        stop-loss stop at ``stop_loss`` on the other side, both children of the entry
        (``parentId`` = the entry's cOID), so they work only once it fills and the first
        exit to fill cancels the other. The exits' cOIDs are the entry's plus ``-tp`` /
        ``-sl``. Same answers and safety as ``place_orders``.
        """
        args = w.validate(
            w.PlaceBracketOrderArgs,
            account_id=account_id,
            conid=conid,
            side=side,
            quantity=quantity,
            price=price,
            take_profit=take_profit,
            stop_loss=stop_loss,
            order_type=order_type,
            tif=tif,
            coid=coid,
            outside_rth=outside_rth,
        )
        parent = args.coid if args.coid is not None else new_coid(self._session.clock)
        exit_side = "SELL" if args.side == "BUY" else "BUY"
        shared = {"conid": args.conid, "quantity": args.quantity, "tif": args.tif}
        legs: list[dict[str, Any]] = [
            {
                **shared,
                "side": args.side,
                "order_type": args.order_type,
                "price": args.price,
                "coid": parent,
                "outside_rth": args.outside_rth,
            },
            {
                **shared,
                "side": exit_side,
                "order_type": "LMT",
                "price": args.take_profit,
                "coid": _child_coid(parent, "tp"),
                "parent_coid": parent,
            },
            {
                **shared,
                "side": exit_side,
                "order_type": "STP",
                "price": args.stop_loss,
                "coid": _child_coid(parent, "sl"),
                "parent_coid": parent,
            },
        ]
        account, body = self._group_body(args.account_id, legs, oca=False)
        # IBKR's docs are read two ways for a STP order's trigger (``price``, or
        # ``auxPrice`` as for STOP_LIMIT); the stop-loss carries it in both, so either
        # reading triggers it at ``stop_loss``.
        body[2]["auxPrice"] = body[2]["price"]
        return cast(list[OrderReplyItem], self._groups.place(account, body))

    def _group_body(
        self, account_id: object, orders: object, *, oca: bool
    ) -> tuple[str, list[dict[str, Any]]]:
        """The legs checked and in the gateway's names, each with its cOID."""
        account, legs = w.check_legs(account_id, orders)
        body = []
        for leg in legs:
            order = leg.to_gateway()
            order.setdefault("cOID", new_coid(self._session.clock))
            if oca:
                order["isSingleGroup"] = True
            body.append(order)
        return account, body

    def reset_suppressed_messages(self) -> StatusAnswer:
        """``POST /iserver/questions/suppress/reset``: every question asks again; the
        suppressions ``suppress_messages`` remembered are no longer re-applied."""
        answer = self._read("POST", endpoint("suppress_reset").path())
        self._session.forget_suppressed()
        return cast(StatusAnswer, answer)

    # -- accounts and portfolio, wider ---------------------------------------------------

    def get_brokerage_accounts(self) -> BrokerageAccountsAnswer:
        """``GET /iserver/accounts``: the brokerage session's accounts, the selected one,
        its properties (``isPaper``, ...)."""
        return cast(
            BrokerageAccountsAnswer, self._read("GET", endpoint("brokerage_accounts").path())
        )

    def get_account_balances(
        self, account_id: str, page: str | None = None
    ) -> AccountSummaryAnswer:
        """``GET /iserver/account/{account_id}/summary``: balances, margins, buying power
        (numbers). ``page`` = ``"available_funds"``, ``"balances"``, ``"margins"`` or
        ``"market_value"`` reads that sub-page instead (strings per segment);
        ``views.AccountBalances`` parses the main page."""
        args = w.validate(w.GetAccountBalancesArgs, account_id=account_id, page=page)
        if args.page is None:
            path = endpoint("account_summary").path(account_id=args.account_id)
        else:
            path = endpoint("account_summary_page").path(account_id=args.account_id, page=args.page)
        return cast(AccountSummaryAnswer, self._read("GET", path))

    def get_position(self, account_id: str, conid: int | str) -> list[PortfolioPosition]:
        """``GET /portfolio/{account_id}/position/{conid}``: the position in one contract
        (a list, empty without one)."""
        args = w.validate(w.PositionArgs, account_id=account_id, conid=conid)
        path = endpoint("position").path(account_id=args.account_id, conid=args.conid)
        return cast(list[PortfolioPosition], self._portfolio(path))

    def invalidate_positions(self, account_id: str) -> MessageAnswer:
        """``POST /portfolio/{account_id}/positions/invalidate``: drop the gateway's cached
        positions so the next ``get_positions`` reads them fresh."""
        args = w.validate(w.AccountArgs, account_id=account_id)
        path = endpoint("invalidate_positions").path(account_id=args.account_id)
        return cast(MessageAnswer, self._read("POST", path))

    def get_allocation(self, account_id: str) -> AllocationAnswer:
        """``GET /portfolio/{account_id}/allocation``: long/short values by asset class,
        sector and group."""
        args = w.validate(w.AccountArgs, account_id=account_id)
        path = endpoint("allocation").path(account_id=args.account_id)
        return cast(AllocationAnswer, self._portfolio(path))

    # -- contracts, wider ---------------------------------------------------------------

    def search_stocks(self, symbols: str | Sequence[str]) -> dict[str, list[StockRow]]:
        """``GET /trsrv/stocks?symbols=AAPL,IBM``: ``{symbol: [{name, assetClass,
        contracts: [{conid, exchange, isUS}]}]}``."""
        args = w.validate(w.SearchSymbolsArgs, symbols=symbols)
        params = {"symbols": ",".join(args.symbols)}
        return cast(
            dict[str, list[StockRow]], self._read("GET", endpoint("stocks").path(), params=params)
        )

    def search_futures(
        self, symbols: str | Sequence[str], exchange: str | None = None
    ) -> dict[str, list[FutureRow]]:
        """``GET /trsrv/futures?symbols=ES,MES``: ``{symbol: [{conid, expirationDate,
        ...}]}`` (optionally on one ``exchange``)."""
        args = w.validate(w.SearchSymbolsArgs, symbols=symbols, exchange=exchange)
        params = {"symbols": ",".join(args.symbols)}
        if args.exchange is not None:
            params["exchange"] = args.exchange
        return cast(
            dict[str, list[FutureRow]], self._read("GET", endpoint("futures").path(), params=params)
        )

    def get_secdef(self, conids: int | str | Sequence[int | str]) -> SecdefAnswer:
        """``GET /trsrv/secdef?conids=...``: security definitions. IBKR takes at most 200
        conids per request: more are split, and the ``secdef`` lists joined in order."""
        args = w.validate(w.GetSecdefArgs, conids=conids)
        path = endpoint("secdef").path()
        merged: SecdefAnswer | None = None
        for start in range(0, len(args.conids), w.MAX_SECDEF_CONIDS):
            chunk = args.conids[start : start + w.MAX_SECDEF_CONIDS]
            answer = self._read("GET", path, params={"conids": ",".join(map(str, chunk))})
            if merged is None:
                merged = answer
                continue
            rows = answer.get("secdef") if isinstance(answer, dict) else None
            if not isinstance(merged, dict) or not isinstance(rows, list):
                raise IbkrAPIError("malformed", "secdef answer has no list", path=path, body=answer)
            merged.setdefault("secdef", []).extend(rows)
        return cast(SecdefAnswer, merged)

    def get_trading_schedule(
        self, asset_class: str, symbol: str, exchange: str | None = None
    ) -> list[TradingScheduleRow]:
        """``GET /trsrv/secdef/schedule``: trading hours per venue for about a month."""
        args = w.validate(
            w.GetTradingScheduleArgs, asset_class=asset_class, symbol=symbol, exchange=exchange
        )
        params = {"assetClass": args.asset_class, "symbol": args.symbol}
        if args.exchange is not None:
            params["exchange"] = args.exchange
        return cast(
            list[TradingScheduleRow], self._read("GET", endpoint("schedule").path(), params=params)
        )

    def get_option_strikes(
        self, conid: int | str, month: str, sec_type: str = "OPT", exchange: str = "SMART"
    ) -> StrikesAnswer:
        """``GET /iserver/secdef/strikes``: ``{"call": [...], "put": [...]}`` for the
        underlying ``conid`` and ``month`` (``"JAN25"``)."""
        args = w.validate(
            w.GetOptionStrikesArgs, conid=conid, month=month, sec_type=sec_type, exchange=exchange
        )
        params = {
            "conid": str(args.conid),
            "sectype": args.sec_type,
            "month": args.month,
            "exchange": args.exchange,
        }
        return cast(StrikesAnswer, self._read("GET", endpoint("strikes").path(), params=params))

    def get_secdef_info(
        self,
        conid: int | str,
        sec_type: str,
        month: str | None = None,
        strike: float | None = None,
        right: str | None = None,
        exchange: str | None = None,
    ) -> list[SecdefInfoRow]:
        """``GET /iserver/secdef/info``: the contracts (with their conids) for an
        underlying; options name ``month``, ``strike`` and ``right`` (``"C"``/``"P"``)."""
        args = w.validate(
            w.GetSecdefInfoArgs,
            conid=conid,
            sec_type=sec_type,
            month=month,
            strike=strike,
            right=right,
            exchange=exchange,
        )
        params = {"conid": str(args.conid), "sectype": args.sec_type}
        optional = {
            "month": args.month,
            "strike": None if args.strike is None else _number_text(args.strike),
            "right": args.right,
            "exchange": args.exchange,
        }
        params.update({key: value for key, value in optional.items() if value is not None})
        return cast(
            list[SecdefInfoRow], self._read("GET", endpoint("secdef_info").path(), params=params)
        )

    def get_option_chain(
        self,
        conid: int | str,
        month: str,
        exchange: str = "SMART",
        strikes_near: float | None = None,
        *,
        max_strikes: int = 10,
    ) -> list[SecdefInfoRow]:
        """The option contracts of ``month``: ``get_option_strikes``, then
        ``get_secdef_info`` for the call and the put of each chosen strike, rows joined
        (the gateway's rows, unchanged; ``views.OptionChainRow`` parses them).

        Bounded: only the ``max_strikes`` strikes (1-40, default 10) closest to
        ``strikes_near`` (a price, e.g. the underlying's last) are asked about; without
        it, the middle ``max_strikes`` of the list. That is at most ``2 * max_strikes + 1``
        requests, each paced by the session like any other.
        """
        args = w.validate(
            w.GetOptionChainArgs,
            conid=conid,
            month=month,
            exchange=exchange,
            strikes_near=strikes_near,
            max_strikes=max_strikes,
        )
        strikes: Any = self.get_option_strikes(args.conid, args.month, "OPT", args.exchange)
        if not isinstance(strikes, dict):
            raise IbkrAPIError("malformed", "strikes answer is not an object", body=strikes)
        by_right = {
            right: {float(s) for s in strikes.get(key) or [] if _is_number(s)}
            for right, key in (("C", "call"), ("P", "put"))
        }
        chosen = _choose_strikes(by_right["C"] | by_right["P"], args.strikes_near, args.max_strikes)
        rows: list[SecdefInfoRow] = []
        for strike in chosen:
            for right in ("C", "P"):
                if strike not in by_right[right]:
                    continue
                answer = self.get_secdef_info(
                    args.conid, "OPT", args.month, strike, right, args.exchange
                )
                rows.extend(answer if isinstance(answer, list) else [answer])
        return rows

    def get_contract_rules(self, conid: int | str, is_buy: bool = True) -> ContractRulesAnswer:
        """``POST /iserver/contract/rules``: order types, increments, size defaults for
        trading ``conid`` on one side."""
        args = w.validate(w.ContractRulesArgs, conid=conid, is_buy=is_buy)
        body = {"conid": args.conid, "isBuy": args.is_buy}
        return cast(
            ContractRulesAnswer, self._read("POST", endpoint("contract_rules").path(), json=body)
        )

    # -- market data, wider -------------------------------------------------------------

    def unsubscribe_market_data(
        self, conids: int | str | Sequence[int | str]
    ) -> list[UnsubscribeAnswer]:
        """``POST /iserver/marketdata/unsubscribe`` for each conid (the gateway takes one
        per request): frees market-data lines. One answer per conid, in order; the next
        snapshot of these conids is a pre-flight again, and is re-asked as such."""
        args = w.validate(w.UnsubscribeArgs, conids=conids)
        path = endpoint("unsubscribe").path()
        answers = []
        try:
            for conid in args.conids:
                answers.append(self._read("POST", path, json={"conid": conid}))
        finally:
            self._snapshots.forget(args.conids)
        return answers

    def unsubscribe_all_market_data(self) -> UnsubscribeAllAnswer:
        """``GET /iserver/marketdata/unsubscribeall``: ``{"unsubscribed": true}``; every
        later snapshot starts with a pre-flight again."""
        try:
            return cast(UnsubscribeAllAnswer, self._read("GET", endpoint("unsubscribe_all").path()))
        finally:
            self._snapshots.forget()

    def get_scanner_params(self) -> ScannerParamsAnswer:
        """``GET /iserver/scanner/params``: scan types, instruments, filters, locations.

        IBKR allows this once per 15 minutes, so the answer is cached for that long (a
        copy each call). When the cache is empty and the row is still spent (a failed
        attempt), ``RateLimitedError`` says how long to wait (``retry_after``); nothing is
        sent and nothing blocks.
        """
        cached = self._scanner_params.get()
        if cached is not None:
            return cast(ScannerParamsAnswer, cached)
        answer = self._slow_call(
            self._slow["scanner-params"], "GET", endpoint("scanner_params").path()
        )
        self._scanner_params.put(answer)
        return cast(ScannerParamsAnswer, answer)

    def run_scanner(
        self,
        instrument: str,
        scan_type: str,
        location: str,
        filters: Sequence[Mapping[str, Any] | tuple[str, Any]] = (),
    ) -> ScannerRunAnswer:
        """``POST /iserver/scanner/run``: the contracts of a market scan, e.g.
        ``run_scanner("STK", "TOP_PERC_GAIN", "STK.US.MAJOR", [("priceAbove", 5)])``.
        Paced at 1/s by the session (a second call within the second waits for it)."""
        args = w.validate(
            w.RunScannerArgs,
            instrument=instrument,
            scan_type=scan_type,
            location=location,
            filters=filters,
        )
        body = {
            "instrument": args.instrument,
            "type": args.scan_type,
            "location": args.location,
            "filter": list(args.filters),
        }
        return cast(ScannerRunAnswer, self._read("POST", endpoint("scanner_run").path(), json=body))

    # -- alerts and watchlists ------------------------------------------------------------

    def get_alerts(self, account_id: str) -> list[AlertRow]:
        """``GET /iserver/account/{account_id}/alerts``."""
        args = w.validate(w.AccountArgs, account_id=account_id)
        return cast(
            list[AlertRow], self._read("GET", endpoint("alerts").path(account_id=args.account_id))
        )

    def create_alert(
        self,
        account_id: str,
        name: str,
        message: str,
        conditions: Sequence[Mapping[str, Any]],
        *,
        repeatable: bool = False,
        outside_rth: bool = False,
        tif: str = "GTC",
        email: str | None = None,
        expire_time: str | None = None,
        send_message: bool = False,
        show_popup: bool = False,
    ) -> AlertAnswer:
        """``POST /iserver/account/{account_id}/alert``: ``conditions`` are IBKR's
        condition objects (``{"conidex": "265598@SMART", "type": 1, "operator": ">=",
        "triggerMethod": "0", "value": "200", "logicBind": "n"}``), sent as given.

        Creating twice makes two alerts, so this is sent once and never retried: after a
        ``GatewayUnreachableError`` with ``maybe_sent``, check ``get_alerts`` first.
        """
        args = w.validate(
            w.CreateAlertArgs,
            account_id=account_id,
            name=name,
            message=message,
            conditions=conditions,
            repeatable=repeatable,
            outside_rth=outside_rth,
            tif=tif,
            email=email,
            expire_time=expire_time,
            send_message=send_message,
            show_popup=show_popup,
        )
        path = endpoint("create_alert").path(account_id=args.account_id)
        return cast(AlertAnswer, self._session.request("POST", path, json=args.to_gateway()))

    def delete_alert(self, account_id: str, alert_id: str | int) -> AlertAnswer:
        """``DELETE /iserver/account/{account_id}/alert/{alert_id}``; retried like a
        cancel (deleting twice is harmless)."""
        args = w.validate(w.AlertIdArgs, account_id=account_id, alert_id=alert_id)
        path = endpoint("delete_alert").path(account_id=args.account_id, alert_id=args.alert_id)
        return cast(AlertAnswer, self._read("DELETE", path, json={}, policy=self._cancels))

    def get_watchlists(self) -> WatchlistsAnswer:
        """``GET /iserver/watchlists?SC=USER_WATCHLIST``: the user's watchlists."""
        params = {"SC": "USER_WATCHLIST"}
        return cast(
            WatchlistsAnswer, self._read("GET", endpoint("watchlists").path(), params=params)
        )

    def create_watchlist(
        self, watchlist_id: str | int, name: str, conids: Sequence[int | str]
    ) -> WatchlistAnswer:
        """``POST /iserver/watchlist``: a watchlist with a numeric ``watchlist_id`` you
        choose, holding ``conids``. Sent once, never retried (see ``create_alert``)."""
        args = w.validate(
            w.CreateWatchlistArgs, watchlist_id=watchlist_id, name=name, conids=conids
        )
        body = {"id": args.watchlist_id, "name": args.name, "rows": [{"C": c} for c in args.conids]}
        return cast(
            WatchlistAnswer,
            self._session.request("POST", endpoint("create_watchlist").path(), json=body),
        )

    def delete_watchlist(self, watchlist_id: str | int) -> WatchlistAnswer:
        """``DELETE /iserver/watchlist?id=...``; retried like a cancel."""
        args = w.validate(w.WatchlistIdArgs, watchlist_id=watchlist_id)
        path = endpoint("delete_watchlist").path()
        return cast(
            WatchlistAnswer,
            self._read("DELETE", path, params={"id": args.watchlist_id}, policy=self._cancels),
        )

    # -- portfolio analyst, notifications, session --------------------------------------

    def get_performance(
        self, account_ids: str | Sequence[str], period: str = "1M"
    ) -> PerformanceAnswer:
        """``POST /pa/performance``: NAV and returns over ``period`` (``1D 7D MTD 1M 3M 6M
        12M YTD``).

        IBKR allows one request per 15 minutes: a call inside that time raises
        ``RateLimitedError`` at once, ``retry_after`` = seconds until the next is allowed,
        nothing sent (keep the last answer). Sent once per call, never retried.
        """
        args = w.validate(w.GetPerformanceArgs, account_ids=account_ids, period=period)
        body = {"acctIds": args.account_ids, "period": args.period}
        return cast(
            PerformanceAnswer,
            self._slow_call(
                self._slow["pa-performance"], "POST", endpoint("performance").path(), json=body
            ),
        )

    def get_transactions(
        self,
        account_ids: str | Sequence[str],
        conids: int | str | Sequence[int | str],
        currency: str = "USD",
        days: int = 90,
    ) -> TransactionsAnswer:
        """``POST /pa/transactions``: trades, dividends, fees in ``conids`` over ``days``.
        One request per 15 minutes: like ``get_performance``, a call inside that time
        raises ``RateLimitedError`` with ``retry_after``, nothing sent."""
        args = w.validate(
            w.GetTransactionsArgs,
            account_ids=account_ids,
            conids=conids,
            currency=currency,
            days=days,
        )
        body = {
            "acctIds": args.account_ids,
            "conids": args.conids,
            "currency": args.currency,
            "days": args.days,
        }
        return cast(
            TransactionsAnswer,
            self._slow_call(
                self._slow["pa-transactions"], "POST", endpoint("transactions").path(), json=body
            ),
        )

    def get_notifications(self, limit: int = 10) -> list[NotificationRow]:
        """``GET /fyi/notifications?max=limit``: IBKR's FYI notifications, newest first.
        Paced at 1/s."""
        args = w.validate(w.NotificationsArgs, limit=limit)
        params = {"max": str(args.limit)}
        return cast(
            list[NotificationRow],
            self._read("GET", endpoint("notifications").path(), params=params),
        )

    def validate_sso(self) -> SsoValidateAnswer:
        """``GET /sso/validate``: the SSO session's user and expiry. Paced at 1 per
        minute: a second call within the minute waits for it."""
        return cast(SsoValidateAnswer, self._read("GET", endpoint("validate_sso").path()))

    def logout(self) -> LogoutAnswer:
        """``POST /logout``: ends the gateway session; only a human login (2FA) brings it
        back. Sent once, never retried."""
        return cast(LogoutAnswer, self._session.request("POST", endpoint("logout").path()))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int | float | bool] | None = None,
        json: object = None,
    ) -> Any:
        """Any other endpoint of the Web API, e.g. ``request("GET", "/fyi/unreadnumber")``.

        ``path`` is relative to ``/v1/api`` (no query string: use ``params``). The call
        gets what the named methods get: the session guard for ``/iserver/*``, pacing by
        the endpoint table's row (an unknown path: the gateway's 10/s), typed errors.
        Retries follow the row's kind: reads (any GET, and known safe POSTs) retry on
        transient failures, deletions like cancels, anything else (orders included) is
        sent once. The slow rows (``/pa/*``, scanner params) raise ``RateLimitedError``
        with ``retry_after`` instead of waiting. Orders sent here get no cOID and no
        lookup after a lost answer: use ``place_order`` / ``place_orders`` for those.
        """
        args = w.validate(w.RequestArgs, method=method, path=path, params=params, json_body=json)
        row = endpoint_for(args.method, args.path)
        slow = self._slow.get(row.pacing or "")
        if slow is not None:
            return self._slow_call(
                slow, args.method, args.path, params=args.params, json=args.json_body
            )
        if row.kind is Kind.READ or (row.kind is Kind.SESSION and args.method == "GET"):
            return self._read(args.method, args.path, params=args.params, json=args.json_body)
        if row.kind is Kind.CANCEL:
            return self._read(
                args.method,
                args.path,
                params=args.params,
                json=args.json_body,
                policy=self._cancels,
            )
        return self._session.request(
            args.method, args.path, params=args.params, json=args.json_body
        )

    # -- plumbing of the wider methods --------------------------------------------------

    def _slow_call(
        self,
        row: SlowRow,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: object = None,
    ) -> Any:
        """One request on a 15-minute row: refused at once when the row is spent, sent
        once (a retry would only meet the spent row), counted unless surely never sent."""
        row.take()
        try:
            answer = self._session.request(method, path, params=params, json=json)
        except (InvalidRequestError, ResetWindowError):
            row.unsent()
            raise
        except GatewayUnreachableError as exc:
            if exc.maybe_sent:
                row.sent()
            else:
                row.unsent()
            raise
        except RateLimitedError as exc:
            if exc.code == PACING_REFUSAL:  # the session's pacer refused: nothing was sent
                row.unsent()
            else:
                row.sent()
            raise
        except BaseException:
            row.sent()
            raise
        row.sent()
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
        policy: RetryPolicy | None = None,
    ) -> Any:
        """One request that is safe to repeat, under ``policy`` (the read policy unless
        told; deletions pass the cancel policy: doing one twice is harmless)."""
        return (policy or self._reads).run(
            self._session.clock,
            lambda: self._session.request(method, path, params=params, json=json),
            rng=self._rng,
        )

    def _portfolio(self, path: str) -> Any:
        """A ``/portfolio/{acct}/...`` read; IBKR wants ``/portfolio/accounts`` asked first
        in a session (IBKR-FACTS §4), so that is done once per brokerage session: by one
        thread, while the others wait for it (the list's budget is 1 per 5 s)."""
        if self._primed.unknown({"portfolio"}):
            with self._portfolio_priming:
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


def _child_coid(parent: str, suffix: str) -> str:
    """A bracket exit's cOID: the entry's plus ``-tp`` / ``-sl`` (shortened to fit 64)."""
    room = v.MAX_COID_LENGTH - len(suffix) - 1
    return f"{parent[:room]}-{suffix}"


def _number_text(value: float) -> str:
    """A strike as IBKR writes it in a query: ``150``, ``152.5``."""
    return f"{float(value):.6f}".rstrip("0").rstrip(".")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _choose_strikes(strikes: set[float], near: float | None, most: int) -> list[float]:
    """The ``most`` strikes closest to ``near`` (the middle ones without it), ascending."""
    ordered = sorted(strikes)
    if near is None:
        start = max(0, min(len(ordered) // 2 - most // 2, len(ordered) - most))
        return ordered[start : start + most]
    return sorted(sorted(ordered, key=lambda strike: (abs(strike - near), strike))[:most])
