"""Order safety: every order trades at most once, whatever the network does to it.

The gateway has one idempotency key, the customer order id (``cOID``, echoed as
``order_ref`` in the live orders). So:

- every placed order carries a cOID, generated when the caller gives none and fixed once,
  before the first attempt;
- an order request is never resent blindly. After an *ambiguous* failure (the request may
  have reached the gateway: a read timeout or a dropped connection, a 5xx) the live orders
  are searched for the cOID. Found: its outcome is returned, shaped like a success reply::

      [{"order_id": "123456789", "order_status": "Submitted", "reconciled": True}]

  Surely absent: the order is resent under the *same* cOID, so should it exist after all
  the gateway refuses the copy instead of trading twice;
- that refusal (``DuplicateOrderError``: ``Local order ID=<cOID> is already registered``)
  is reconciled the same way, but only when the order found under the cOID is the order
  that was sent (conid, side, quantity, price). A *different* order holding the cOID (a
  caller reusing one) is never returned as the new order's success: the
  ``DuplicateOrderError`` is raised, carrying that order as ``existing``;
- an answer that is none of IBKR's order families (a success list, a question, an error)
  -- an empty 200, ``{}``, ``[]``, a connection closed after the status line, a body that
  cannot be read -- is ambiguous like a lost answer: the cOID is looked up;
- a failure of a request sent *before* the order (the guard's probe, the priming) is not
  the order's: the order surely did not leave, and it is sent again (same cOID);
- every error raised for a placement carries its cOID (``error.coid``);
- when nothing can be established, ``OrderOutcomeUnknownError`` (in a flavour that is also
  the original error's class) carries the cOID so the worker can look it up later.

Modifications follow the same rules with the order id as the key: the modify is resent
only while the order is still working and does not show the change yet. A reply to an
order question whose answer is lost is looked up by its order's key too, and never resent
(reply ids are single-use).

Order questions ("are you sure?") come back as the gateway gives them; the session sees
the question in the answer and keeps its keep-alive quiet until the reply, and an opt-in
``auto_confirm`` set of message ids (``o163``, ...) is confirmed automatically, chains
included, by id and never by message text. What a question is, is decided once
(``ibkr_session.transport.order_question``), for the session and the desk alike.
"""

from __future__ import annotations

import enum
import math
import random
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ibkr_api.models import parse_number
from ibkr_api.retry import TRANSIENT, RetryPolicy
from ibkr_api.snapshot import ask_until
from ibkr_session.clock import Clock
from ibkr_session.endpoints import endpoint
from ibkr_session.errors import (
    DuplicateOrderError,
    GatewayUnavailableError,
    GatewayUnreachableError,
    IbkrAPIError,
    IbkrError,
    UnreadableAnswerError,
)
from ibkr_session.logs import get_logger
from ibkr_session.transport import order_question

if TYPE_CHECKING:
    from ibkr_session.manager import SessionManager

__all__ = [
    "RESENDS",
    "OrderDesk",
    "OrderOutcomeUnknownError",
    "OrderUnconfirmedUnavailableError",
    "OrderUnconfirmedUnreachableError",
    "new_coid",
]

log = get_logger(__name__)

MAX_QUESTION_CHAIN = 10
"""Auto-confirmed questions in a row before the rest is left to the caller."""

DUPLICATE_LOOKUPS = 2
"""Live-order lookups for an order the gateway says exists but does not list yet."""

DUPLICATE_LOOKUP_WAIT = 1.0
"""Seconds between those lookups (the orders pacing adds its own 5 s on top)."""

MAX_OPEN_QUESTIONS = 64
"""Unanswered questions remembered (to reconcile a lost reply) before the oldest is dropped."""

_WORKING_STATUSES = frozenset({"PendingSubmit", "PreSubmitted", "Submitted"})

LiveOrders = Callable[[], Sequence[Mapping[str, Any]]]


def new_coid(clock: Clock) -> str:
    """A fresh cOID, unique for far longer than IBKR's 24 h, e.g.
    ``ibkr-20260105143000-3f9a1c2b7d4e`` (printable, 32 characters)."""
    return f"ibkr-{clock.now():%Y%m%d%H%M%S}-{secrets.token_hex(6)}"


class OrderOutcomeUnknownError(IbkrError):
    """An order request may or may not have reached IBKR, and looking did not tell.

    Raised as ``OrderUnconfirmedUnreachableError`` (also a ``GatewayUnreachableError``) or
    ``OrderUnconfirmedUnavailableError`` (also a ``GatewayUnavailableError``), so handlers
    of the original failure still catch it. ``coid`` (placements, and replies to their
    questions) or ``order_id`` (modifications) names the order to look for before trying
    again.
    """

    coid: str | None = None
    order_id: str | None = None


class OrderUnconfirmedUnreachableError(OrderOutcomeUnknownError, GatewayUnreachableError):
    """The connection broke after the order request may have left; outcome unknown."""


class OrderUnconfirmedUnavailableError(OrderOutcomeUnknownError, GatewayUnavailableError):
    """The gateway failed (5xx) or contradicted itself on an order; outcome unknown."""


def _outcome_unknown(cause: IbkrError, target: _Target) -> OrderOutcomeUnknownError:
    """The ``OrderOutcomeUnknownError`` flavour matching ``cause``, carrying the order key."""
    key = f"cOID={target.coid}" if target.coid is not None else f"order {target.order_id}"
    error: OrderOutcomeUnknownError
    if isinstance(cause, IbkrAPIError):
        error = OrderUnconfirmedUnavailableError(
            cause.code,
            f"outcome of {key} unknown ({cause.msg}); look it up before resending",
            method=cause.method,
            path=cause.path,
            body=cause.body,
        )
    else:
        error = OrderUnconfirmedUnreachableError(
            f"outcome of {key} unknown ({cause}); look it up before resending",
            maybe_sent=True,
        )
    error.coid = target.coid
    error.order_id = target.order_id
    return error


class _Lookup(enum.Enum):
    """What the live orders said, when they did not show the finished order."""

    RESEND = "resend"
    UNKNOWN = "unknown"


Verdict = Mapping[str, Any] | _Lookup
Judge = Callable[[Sequence[Mapping[str, Any]]], Verdict]


@dataclass(frozen=True)
class _Target:
    """The order a request is about, and how to recognise its outcome in the live orders.

    ``sent`` is the order as sent: a live order found under its cOID must match it.
    """

    coid: str | None
    order_id: str | None
    judge: Judge
    sent: Mapping[str, Any] | None = None


class _Resend(Exception):  # noqa: N818 - a control-flow signal, not an error for users
    """The order request surely did not take effect: send it again (same cOID)."""

    def __init__(self, cause: IbkrError) -> None:
        super().__init__(str(cause))
        self.cause = cause


_AMBIGUOUS: tuple[type[IbkrError], ...] = (*TRANSIENT, UnreadableAnswerError)
"""Failures after which an order request may or may not have taken effect."""

RESENDS = RetryPolicy("order-resend", (_Resend,), max_attempts=3)
"""Order resends: only after the request surely did not take effect."""


class OrderDesk:
    """Sends place/modify/reply requests for ``IbkrClient`` under the rules above."""

    def __init__(
        self,
        session: SessionManager,
        live_orders: LiveOrders,
        *,
        resend: RetryPolicy = RESENDS,
        auto_confirm: Iterable[str] = (),
        rng: random.Random | None = None,
    ) -> None:
        self._session = session
        self._live_orders = live_orders
        self._resend = resend
        self._auto_confirm = frozenset(auto_confirm)
        self._rng = rng
        self._asked: dict[str, _Target] = {}  # open question's reply id -> its order
        self._lock = threading.Lock()

    def place(self, account_id: str, order: Mapping[str, Any]) -> Any:
        """POST one order (which must carry its ``cOID``) wrapped as ``{"orders": [...]}``.

        Any error raised carries the cOID (``error.coid``), to look the order up later.
        """
        coid = str(order["cOID"])

        def judge(orders: Sequence[Mapping[str, Any]]) -> Verdict:
            found = _first(orders, "order_ref", coid)
            return found if found is not None else _Lookup.RESEND

        try:
            return self._submit(
                endpoint("place_order").path(account_id=account_id),
                {"orders": [dict(order)]},
                _Target(coid=coid, order_id=None, judge=judge, sent=order),
            )
        except IbkrError as exc:
            if exc.coid is None:
                exc.coid = coid
            raise

    def modify(self, account_id: str, order_id: str, order: Mapping[str, Any]) -> Any:
        """POST the complete, unwrapped replacement ``order`` for ``order_id``."""

        def judge(orders: Sequence[Mapping[str, Any]]) -> Verdict:
            found = _first(orders, "orderId", order_id)
            if found is None:
                return _Lookup.UNKNOWN
            if _shows_change(found, order):
                return found
            return _Lookup.RESEND if found.get("status") in _WORKING_STATUSES else _Lookup.UNKNOWN

        return self._submit(
            endpoint("modify_order").path(account_id=account_id, order_id=order_id),
            dict(order),
            _Target(coid=None, order_id=order_id, judge=judge),
        )

    def reply(self, reply_id: str, confirmed: bool) -> Any:
        """Answer a question; the answer may be the next question of the chain.

        A reply whose answer is lost is reconciled like an order (reply ids are single-use,
        so it is never resent): by the cOID of the order that asked the question.
        """
        with self._lock:
            target = self._asked.pop(reply_id, None)
        try:
            return self._settle(self._send_reply(reply_id, confirmed, target), target)
        except IbkrError as exc:
            if exc.coid is None and target is not None:
                exc.coid = target.coid
            raise

    def _submit(self, path: str, body: object, target: _Target) -> Any:
        def attempt() -> Any:
            try:
                answer = self._session.request("POST", path, json=body)
                if not _is_order_answer(answer):
                    raise _odd_answer(path, answer)
            except DuplicateOrderError as exc:
                if target.coid is None or exc.coid != target.coid:
                    raise
                log.warning("ibkr.order.duplicate_coid", coid=target.coid)
                return self._reconcile_duplicate(target, exc)
            except _AMBIGUOUS as exc:
                if not _may_have_acted(exc, path):
                    raise _Resend(exc) from exc
                verdict = self._look_up(target, exc)
                if verdict is _Lookup.RESEND:
                    raise _Resend(exc) from exc
                if verdict is _Lookup.UNKNOWN:
                    raise _outcome_unknown(exc, target) from exc
                return _reconciled(verdict, target, exc)
            return self._settle(answer, target)

        try:
            return self._resend.run(self._session.clock, attempt, rng=self._rng)
        except _Resend as exhausted:
            cause = exhausted.cause
            if _may_have_acted(cause, path):
                raise _outcome_unknown(cause, target) from cause
            if isinstance(cause, GatewayUnreachableError) and cause.maybe_sent:
                # What may have been sent was a request before the order, not the order.
                raise GatewayUnreachableError(
                    f"the order was not sent: {cause}",
                    maybe_sent=False,
                    method=cause.method,
                    path=cause.path,
                ) from cause
            raise cause from None

    def _look_up(self, target: _Target, cause: IbkrError) -> Verdict:
        """Judge the live orders; a failing lookup means the outcome is unknown."""
        # The failure's type, not its text: the text names the path, and with it the
        # account id, which is logged at debug only.
        log.warning(
            "ibkr.order.look_up",
            coid=target.coid,
            order_id=target.order_id,
            error=type(cause).__name__,
        )
        log.debug("ibkr.order.look_up_detail", coid=target.coid, error=str(cause))
        try:
            return target.judge(self._live_orders())
        except IbkrError as lookup_error:
            log.warning(
                "ibkr.order.lookup_failed", coid=target.coid, error=type(lookup_error).__name__
            )
            raise _outcome_unknown(cause, target) from cause

    def _reconcile_duplicate(self, target: _Target, cause: DuplicateOrderError) -> Any:
        """The gateway already has this cOID: return that order (if it is the one sent),
        never a second one."""
        verdict = ask_until(
            lambda: self._look_up(target, cause),
            lambda found: not isinstance(found, _Lookup),
            attempts=DUPLICATE_LOOKUPS,
            wait=DUPLICATE_LOOKUP_WAIT,
            clock=self._session.clock,
            what="duplicate-coid",
        )
        if isinstance(verdict, _Lookup):
            raise _outcome_unknown(cause, target) from cause
        return _reconciled(verdict, target, cause)

    def _settle(self, answer: Any, target: _Target | None) -> Any:
        """Auto-confirm the chosen questions, chains included; remember the rest's order.

        The session already holds its keep-alive for each question: it reads every order
        answer itself (``SessionManager._note_question``).
        """
        confirmed = 0
        while (question := order_question(answer)) is not None:
            reply_id, message_ids = question
            chosen = bool(message_ids) and set(message_ids) <= self._auto_confirm
            if not chosen or confirmed >= MAX_QUESTION_CHAIN:
                self._remember_question(reply_id, target)
                break
            log.info("ibkr.order.auto_confirm", reply_id=reply_id, message_ids=message_ids)
            confirmed += 1
            answer = self._send_reply(reply_id, True, target)
        return answer

    def _remember_question(self, reply_id: str, target: _Target | None) -> None:
        if target is None:
            return
        with self._lock:
            self._asked[reply_id] = target
            while len(self._asked) > MAX_OPEN_QUESTIONS:  # abandoned questions age out
                del self._asked[next(iter(self._asked))]

    def _send_reply(self, reply_id: str, confirmed: bool, target: _Target | None) -> Any:
        """Send a reply. No keep-alive bookkeeping here: the session holds its keep-alive
        while the answer is the chain's next question and releases it on any other answer
        or on a failure."""
        path = endpoint("reply").path(reply_id=reply_id)
        try:
            answer = self._session.request("POST", path, json={"confirmed": confirmed})
            if not _is_order_answer(answer):
                raise _odd_answer(path, answer)
            return answer
        except IbkrError as exc:
            ambiguous = isinstance(exc, _AMBIGUOUS)
            if not ambiguous or target is None or not _may_have_acted(exc, path):
                raise
            verdict = self._look_up(target, exc)
            if isinstance(verdict, _Lookup):
                raise _outcome_unknown(exc, target) from exc
            return _reconciled(verdict, target, exc)


def _may_have_acted(error: IbkrError, path: str) -> bool:
    """Whether the gateway may have executed the order request to ``path`` that failed
    with ``error``.

    A failure of another request (the guard's probe or priming, sent before the order)
    says the order never left: its path is not the order's.
    """
    failed_path = getattr(error, "path", "")
    if failed_path and failed_path.split("?", 1)[0] != path:
        return False
    if isinstance(error, GatewayUnreachableError):
        return error.maybe_sent
    return isinstance(error, GatewayUnavailableError | UnreadableAnswerError)


def _is_order_answer(answer: Any) -> bool:
    """One of IBKR's answers to place, modify and reply: a success list
    ``[{"order_id", ...}]`` or a question. (``{"error": ...}`` was raised already.)"""
    if order_question(answer) is not None:
        return True
    return (
        isinstance(answer, list)
        and bool(answer)
        and all(isinstance(item, dict) and "order_id" in item for item in answer)
    )


def _odd_answer(path: str, answer: Any) -> UnreadableAnswerError:
    shown = repr(answer)[:200] if not isinstance(answer, int) else "a number"
    return UnreadableAnswerError(
        200,
        f"not an order answer (success, question or error): {shown}",
        method="POST",
        path=path,
        body=answer,
    )


def _first(orders: Sequence[Mapping[str, Any]], key: str, value: str) -> Mapping[str, Any] | None:
    return next((order for order in orders if str(order.get(key)) == value), None)


def _same_order(live: Mapping[str, Any], sent: Mapping[str, Any]) -> bool:
    """Whether the live order is the order sent: conid, side, quantity and (when both say)
    price agree. A field the live list leaves out contradicts nothing."""
    conid, side = live.get("conid"), live.get("side")
    if conid is not None and str(conid) != str(sent.get("conid")):
        return False
    if side is not None and str(side)[:1].upper() != str(sent.get("side", ""))[:1].upper():
        return False
    for key, wanted in (("totalSize", sent.get("quantity")), ("price", sent.get("price"))):
        try:
            value = parse_number(live.get(key))
        except ValueError:
            value = None  # unreadable: says nothing either way
        if value is not None and wanted is not None and not math.isclose(value, float(wanted)):
            return False
    return True


def _shows_change(live: Mapping[str, Any], order: Mapping[str, Any]) -> bool:
    """Whether a live order already has the quantity and price a modify asked for."""
    wanted = {"totalSize": order.get("quantity"), "price": order.get("price")}
    return all(
        _same_number(live.get(key), value) for key, value in wanted.items() if value is not None
    )


def _same_number(live: Any, wanted: Any) -> bool:
    """Whether the gateway's number (``"1,300"``, ``2.0``, ...) equals ``wanted``."""
    try:
        number = parse_number(live)
    except ValueError:
        return False
    return number is not None and math.isclose(number, float(wanted))


def _reconciled(
    order: Mapping[str, Any], target: _Target, cause: IbkrError
) -> list[dict[str, Any]]:
    """The found order, shaped like the gateway's success reply and marked as recovered.

    An order found under the cOID that is not the one sent belongs to someone else's use
    of that cOID: ``DuplicateOrderError`` carrying it, never a success.
    """
    if target.coid is not None and target.sent is not None and not _same_order(order, target.sent):
        log.warning("ibkr.order.coid_reused", coid=target.coid, order_id=order.get("orderId"))
        raise DuplicateOrderError(
            cause.code if isinstance(cause, IbkrAPIError) else 200,
            f"cOID {target.coid} is already used by another order (order "
            f"{order.get('orderId')}: {order.get('side')} {order.get('totalSize')} of conid "
            f"{order.get('conid')}); nothing new was placed",
            coid=target.coid,
            existing=dict(order),
            method="POST",
            path=cause.path if isinstance(cause, IbkrAPIError) else "",
            body=cause.body if isinstance(cause, IbkrAPIError) else None,
        ) from cause
    log.warning(
        "ibkr.order.reconciled",
        coid=target.coid,
        order_id=order.get("orderId"),
        status=order.get("status"),
    )
    return [
        {
            "order_id": str(order.get("orderId")),
            "order_status": order.get("status"),
            "reconciled": True,
        }
    ]
