"""Order endpoints: place (single orders and groups), what-if, modify, cancel, reply,
suppress, order status, live orders, trades and P&L.

Rejections come back as HTTP 200 ``{"error": ...}`` like the real gateway's; a reply id
that is unknown (or was invalidated by a request in between) is the one order answer
sent as HTTP 400, as observed (IBKR-FACTS §4): the ``Broker`` raises
``UnknownReplyError`` for it. Question suppressions belong to the
brokerage session (``SessionModel``) and are handed to the ``Broker`` with each order.
"""

from __future__ import annotations

from collections.abc import Mapping

from ibkr_sim.book import Broker
from ibkr_sim.replies import Reply, json_reply
from ibkr_sim.routing import Access, Call, Route, bad_request, parse_bool
from ibkr_sim.session_model import SessionModel

__all__ = ["MAX_SUPPRESSED_IDS", "OrderEndpoints"]

MAX_SUPPRESSED_IDS = 51
REPLY_PATH = "/iserver/reply/{reply_id}"


class OrderEndpoints:
    """Answers of the order endpoints, from the ``Broker`` and the session's suppressions."""

    def __init__(self, broker: Broker, session: SessionModel) -> None:
        self._broker = broker
        self._session = session

    def routes(self) -> list[Route]:
        brokerage = Access.BROKERAGE
        listing, placing = "/iserver/account/orders", "/iserver/account/{acct}/orders"
        order = "/iserver/account/{acct}/order/{order_id}"
        return [
            Route("GET", listing, self.live_orders, brokerage, needs_priming=True),
            Route("POST", placing, self.place, brokerage, needs_priming=True),
            Route("POST", placing + "/whatif", self.preview, brokerage, needs_priming=True),
            Route("GET", "/iserver/account/order/status/{order_id}", self.status, brokerage),
            Route("POST", order, self.modify, brokerage, needs_priming=True),
            Route("DELETE", order, self.cancel, brokerage),
            Route("POST", REPLY_PATH, self.reply, brokerage, answers_question=True),
            Route("POST", "/iserver/questions/suppress", self.suppress, brokerage),
            Route("POST", "/iserver/questions/suppress/reset", self.reset_suppressed, brokerage),
            Route("GET", "/iserver/account/trades", self.trades, brokerage),
            Route(
                "GET", "/iserver/account/pnl/partitioned", self.pnl, brokerage, needs_priming=True
            ),
        ]

    def live_orders(self, call: Call) -> Reply:
        """Empty while the gateway builds its order cache: on the first list of a brokerage
        session (a pre-flight, like the first snapshot) and when ``force=true`` clears it."""
        if self._broker.orders_preflight() or call.query_bool("force"):
            return json_reply({"orders": [], "snapshot": False})
        answer = self._broker.orders(call.query("accountId") or None, call.query("filters"))
        return json_reply(answer)

    def place(self, call: Call) -> Reply:
        """The body is ``{"orders": [...]}`` or, as the spec also shows, a bare array. Several
        orders form a group: children name their parent's cOID in ``parentId``, and
        ``isSingleGroup`` makes them one OCA group."""
        orders = _orders(call)
        answer = self._broker.place(call.params["acct"], orders, self._session.suppressed)
        return json_reply(answer)

    def preview(self, call: Call) -> Reply:
        """What-if: the effect on equity, margin and position; nothing is placed."""
        return json_reply(self._broker.preview(call.params["acct"], _orders(call)))

    def status(self, call: Call) -> Reply:
        return json_reply(self._broker.order_status(call.params["order_id"]))

    def modify(self, call: Call) -> Reply:
        """The body is one order object, unwrapped, with all of the original's fields."""
        order: Mapping[str, object] = call.json_object()
        answer = self._broker.modify(
            call.params["acct"], call.params["order_id"], order, self._session.suppressed
        )
        return json_reply(answer)

    def cancel(self, call: Call) -> Reply:
        return json_reply(self._broker.cancel(call.params["acct"], call.params["order_id"]))

    def reply(self, call: Call) -> Reply:
        body = call.json_object()
        confirmed = parse_bool(body.get("confirmed"), "confirmed", default=False)
        return json_reply(self._broker.reply(call.params["reply_id"], confirmed))

    def suppress(self, call: Call) -> Reply:
        ids = call.json_object().get("messageIds")
        if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
            raise bad_request('expected {"messageIds": ["o163", ...]}')
        if len(ids) > MAX_SUPPRESSED_IDS:
            raise bad_request(f"at most {MAX_SUPPRESSED_IDS} messageIds per request")
        self._session.suppressed.update(ids)
        return json_reply({"status": "submitted"})

    def reset_suppressed(self, call: Call) -> Reply:
        self._session.suppressed.clear()
        return json_reply({"status": "submitted"})

    def trades(self, call: Call) -> Reply:
        days = call.query("days")
        if days is not None and not days.strip().isdigit():
            raise bad_request(f"days must be a whole number, got {days!r}")
        answer = self._broker.trades(call.query("accountId") or None, int(days) if days else None)
        return json_reply(answer)

    def pnl(self, call: Call) -> Reply:
        return json_reply(self._broker.pnl())


def _orders(call: Call) -> list[dict[str, object]]:
    payload = call.json()
    orders = payload.get("orders") if isinstance(payload, dict) else payload
    if not isinstance(orders, list) or not all(isinstance(o, dict) for o in orders):
        raise bad_request('expected {"orders": [order objects]}')
    return orders
