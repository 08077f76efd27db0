"""Multi-leg orders (brackets, OCA groups, parent/child): every leg trades at most once.

One POST ``/iserver/account/{acct}/orders`` carries the whole group, ``{"orders": [leg,
...]}``; every leg carries its own ``cOID`` (children name their parent's in
``parentId``). The single-order rules of ``ibkr_api.orders`` hold for the group:

- the group is never resent blindly. After an *ambiguous* failure (the request may have
  reached the gateway) the live orders are searched **leg by leg** by cOID:

  * every leg found: their outcomes are returned, one row per leg, shaped like the
    gateway's success rows and marked ``reconciled``::

        [{"order_id": "1", "order_status": "Submitted", "reconciled": True, "coid": "c-1"},
         ...]

  * no leg found: the group is resent under the *same* cOIDs, so should it exist after
    all, the gateway refuses the copy instead of trading twice;
  * some legs found: only the missing legs are resent (same cOIDs), never the found ones;
    the answer then lists the resend's answer first (a question stays ``answer[0]``), then
    the found legs (reconciled);

- a "``Local order ID=<cOID> is already registered``" refusal is reconciled the same way;
- when nothing can be established, ``OrderOutcomeUnknownError`` (also the original
  error's class) carries the parent's cOID, and its message lists every leg's.

Order questions come back as the gateway gives them; the order desk's ``auto_confirm``
answers the chosen ``messageIds`` along the whole chain, and a question left to the
caller is answered with ``reply_to_order`` as for one order (a lost reply is reconciled by
the group's first leg).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ibkr_api.orders import (
    _AMBIGUOUS,
    DUPLICATE_LOOKUP_WAIT,
    DUPLICATE_LOOKUPS,
    LiveOrders,
    OrderDesk,
    OrderOutcomeUnknownError,
    Verdict,
    _first,
    _is_order_answer,
    _Lookup,
    _may_have_acted,
    _odd_answer,
    _outcome_unknown,
    _same_order,
    _Target,
)
from ibkr_api.retry import RetryPolicy
from ibkr_api.snapshot import ask_until
from ibkr_session.endpoints import endpoint
from ibkr_session.errors import DuplicateOrderError, IbkrAPIError, IbkrError
from ibkr_session.logs import get_logger

__all__ = ["GROUP_RESENDS", "GroupDesk"]

log = get_logger(__name__)


class _ResendGroup(Exception):  # noqa: N818 - a control-flow signal, not an error for users
    """The legs in ``legs`` surely did not take effect: send them again (same cOIDs)."""

    def __init__(self, cause: IbkrError, legs: list[dict[str, Any]]) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.legs = legs


GROUP_RESENDS = RetryPolicy("group-resend", (_ResendGroup,), max_attempts=3)
"""Group resends: only legs that surely did not take effect, under their own cOIDs."""


class GroupDesk:
    """Sends ``place_orders`` groups for ``IbkrClient`` under the rules above."""

    def __init__(
        self,
        desk: OrderDesk,
        live_orders: LiveOrders,
        *,
        resend: RetryPolicy = GROUP_RESENDS,
        rng: random.Random | None = None,
    ) -> None:
        self._desk = desk
        self._session = desk._session
        self._live_orders = live_orders
        self._resend = resend
        self._rng = rng

    def place(self, account_id: str, legs: Sequence[Mapping[str, Any]]) -> Any:
        """POST the legs (each carrying its ``cOID``) as one group; see the module doc."""
        path = endpoint("place_order").path(account_id=account_id)
        all_legs = [dict(leg) for leg in legs]
        coids = [str(leg["cOID"]) for leg in all_legs]
        target = _Target(coid=coids[0], order_id=None, judge=_judge_first(coids[0]))
        found_before: list[dict[str, Any]] = []
        pending = list(all_legs)

        def attempt() -> Any:
            try:
                answer = self._session.request("POST", path, json={"orders": pending})
                if not _is_order_answer(answer):
                    raise _odd_answer(path, answer)
            except DuplicateOrderError as exc:
                if exc.coid not in {str(leg["cOID"]) for leg in pending}:
                    raise
                log.warning("ibkr.group.duplicate_coid", coid=exc.coid)
                return self._after_ambiguity(exc, pending, found_before, lookups=DUPLICATE_LOOKUPS)
            except _AMBIGUOUS as exc:
                if not _may_have_acted(exc, path):
                    raise _ResendGroup(exc, pending) from exc
                return self._after_ambiguity(exc, pending, found_before, lookups=1)
            settled = self._desk._settle(answer, target)
            if found_before and isinstance(settled, list):
                # The resend's answer first: a question stays ``answer[0]``, as recipes read it.
                return [*settled, *found_before]
            return settled

        def run() -> Any:
            nonlocal pending
            try:
                return attempt()
            except _ResendGroup as resend:
                pending = resend.legs
                raise

        try:
            return self._resend.run(self._session.clock, run, rng=self._rng)
        except _ResendGroup as exhausted:
            cause = exhausted.cause
            if _may_have_acted(cause, path):
                raise _group_unknown(cause, target, coids) from cause
            raise cause from None
        except IbkrError as exc:
            if exc.coid is None:
                exc.coid = coids[0]
            raise

    def _after_ambiguity(
        self,
        cause: IbkrError,
        pending: list[dict[str, Any]],
        found_before: list[dict[str, Any]],
        *,
        lookups: int,
    ) -> Any:
        """Look every pending leg up by cOID; return them all, or resend the missing."""
        coids = [str(leg["cOID"]) for leg in pending]
        log.warning("ibkr.group.look_up", coids=coids, error=str(cause))

        def look() -> dict[str, Mapping[str, Any]]:
            try:
                live = self._live_orders()
            except IbkrError as lookup_error:
                log.warning("ibkr.group.lookup_failed", coids=coids, error=str(lookup_error))
                raise _group_unknown(cause, _target_of(coids), coids) from cause
            return {coid: row for coid in coids if (row := _first(live, "order_ref", coid))}

        found = ask_until(
            look,
            lambda rows: len(rows) == len(coids),
            attempts=lookups,
            wait=DUPLICATE_LOOKUP_WAIT,
            clock=self._session.clock,
            what="group-legs",
        )
        for leg in pending:
            coid = str(leg["cOID"])
            if coid in found and not _same_order(found[coid], leg):
                raise _reused(coid, found[coid], cause)
        rows = [_reconciled_leg(coid, found[coid]) for coid in coids if coid in found]
        found_before.extend(rows)
        missing = [leg for leg in pending if str(leg["cOID"]) not in found]
        if not missing:
            return list(found_before)
        if isinstance(cause, DuplicateOrderError):
            # The gateway says a leg exists but the list does not show it (yet).
            raise _group_unknown(cause, _target_of(coids), coids) from cause
        log.warning("ibkr.group.resend_missing", coids=[leg["cOID"] for leg in missing])
        raise _ResendGroup(cause, missing)


def _judge_first(coid: str) -> Callable[[Sequence[Mapping[str, Any]]], Verdict]:
    def judge(orders: Sequence[Mapping[str, Any]]) -> Verdict:
        found = _first(orders, "order_ref", coid)
        return found if found is not None else _Lookup.UNKNOWN

    return judge


def _target_of(coids: Sequence[str]) -> _Target:
    return _Target(coid=coids[0], order_id=None, judge=_judge_first(coids[0]))


def _reused(coid: str, order: Mapping[str, Any], cause: IbkrError) -> DuplicateOrderError:
    """A leg's cOID is held by a different order (a caller reusing one): never taken for
    the leg's success."""
    log.warning("ibkr.group.coid_reused", coid=coid, order_id=order.get("orderId"))
    error = DuplicateOrderError(
        cause.code if isinstance(cause, IbkrAPIError) else 200,
        f"cOID {coid} is already used by another order (order {order.get('orderId')}); "
        "nothing of this group was resent",
        coid=coid,
        existing=dict(order),
        method="POST",
        path=cause.path if isinstance(cause, IbkrAPIError) else "",
    )
    error.__cause__ = cause
    return error


def _reconciled_leg(coid: str, order: Mapping[str, Any]) -> dict[str, Any]:
    log.warning(
        "ibkr.group.reconciled",
        coid=coid,
        order_id=order.get("orderId"),
        status=order.get("status"),
    )
    return {
        "order_id": str(order.get("orderId")),
        "order_status": order.get("status"),
        "reconciled": True,
        "coid": coid,
    }


def _group_unknown(
    cause: IbkrError, target: _Target, coids: Sequence[str]
) -> OrderOutcomeUnknownError:
    """The outcome-unknown error for a group: ``coid`` the first leg's, ``coids`` all."""
    error = _outcome_unknown(cause, target)
    setattr(error, "coids", list(coids))  # noqa: B010 - an attribute only groups carry
    log.warning("ibkr.group.outcome_unknown", coids=list(coids), error=str(cause))
    return error
