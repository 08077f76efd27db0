"""Every bad answer a gateway can give x every one of the 19 methods: nothing untyped.

A hostile gateway (``tests.hostile``: raw TLS on loopback) answers one method's endpoint
with one kind of bad answer -- empty, wrong shape, HTML, a login page, a redirect, 401,
5xx, 429 with an absurd ``Retry-After``, JSON nested past the stack, integers past
Python's limits, a gzip bomb, a connection cut after the status line or before any
answer, a short body, bytes trickled past the deadline -- while everything else answers
normally. For each pair the worker must see the gateway's JSON or an ``IbkrError``,
never anything else; an order is never placed twice, never reported as placed when it
is not, and every error of ``place_order`` names its cOID.

The default run takes one kind of each family (about 20 s); ``-m slow`` adds the
siblings, the gzip bomb and the trickling kinds (which cost real seconds each).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ibkr_api import IbkrClient, IbkrError
from ibkr_session import ManualClock, SessionManager
from ibkr_session.transport import Transport, order_question
from tests.conftest import MARKET_OPEN
from tests.hostile import ACCOUNT, BAD_ANSWERS, BadAnswer, HostileGateway, Request

ORDER_ID = 777_000_001
COID = "hostile-1"


@dataclass(frozen=True)
class Method:
    name: str
    call: Callable[[IbkrClient], Any]
    http: str
    path: str  # a regex of the method's own endpoint, relative to /v1/api

    def matches(self, request: Request) -> bool:
        return request.method == self.http and re.fullmatch(self.path, request.path) is not None


METHODS = (
    Method("tickle", lambda c: c.tickle(), "POST", "/tickle"),
    Method("auth_status", lambda c: c.auth_status(), "POST", "/iserver/auth/status"),
    Method("select_account", lambda c: c.select_account(ACCOUNT), "POST", "/iserver/account"),
    Method("get_accounts", lambda c: c.get_accounts(), "GET", "/portfolio/accounts"),
    Method("get_subaccounts", lambda c: c.get_subaccounts(), "GET", "/portfolio/subaccounts"),
    Method("get_summary", lambda c: c.get_summary(ACCOUNT), "GET", r"/portfolio/\w+/summary"),
    Method("get_ledger", lambda c: c.get_ledger(ACCOUNT), "GET", r"/portfolio/\w+/ledger"),
    Method(
        "get_positions", lambda c: c.get_positions(ACCOUNT), "GET", r"/portfolio/\w+/positions/\d+"
    ),
    Method(
        "get_market_snapshot",
        lambda c: c.get_market_snapshot([265598, 8314], ["31", "84"]),
        "GET",
        "/iserver/marketdata/snapshot",
    ),
    Method(
        "get_historical_data",
        lambda c: c.get_historical_data(265598),
        "GET",
        "/iserver/marketdata/history",
    ),
    Method("search_contract", lambda c: c.search_contract("AAPL"), "GET", "/iserver/secdef/search"),
    Method(
        "get_contract_details",
        lambda c: c.get_contract_details(265598),
        "GET",
        r"/iserver/contract/\d+/info",
    ),
    Method("get_orders", lambda c: c.get_orders(), "GET", "/iserver/account/orders"),
    Method(
        "get_filled_orders",
        lambda c: c.get_filled_orders(ACCOUNT),
        "GET",
        "/iserver/account/orders",
    ),
    Method(
        "place_order",
        lambda c: c.place_order(ACCOUNT, 265598, "BUY", 1, "LMT", 150.0, coid=COID),
        "POST",
        rf"/iserver/account/{ACCOUNT}/orders",
    ),
    Method(
        "modify_order",
        lambda c: c.modify_order(ACCOUNT, ORDER_ID, 265598, "BUY", 2, "LMT", 151.0),
        "POST",
        rf"/iserver/account/{ACCOUNT}/order/\d+",
    ),
    Method(
        "cancel_order",
        lambda c: c.cancel_order(ACCOUNT, ORDER_ID),
        "DELETE",
        rf"/iserver/account/{ACCOUNT}/order/\d+",
    ),
    Method("reply_to_order", lambda c: c.reply_to_order("q1"), "POST", r"/iserver/reply/\w+"),
    Method(
        "suppress_messages",
        lambda c: c.suppress_messages(["o163"]),
        "POST",
        "/iserver/questions/suppress",
    ),
)


def test_the_matrix_covers_the_nineteen_methods_of_the_reference() -> None:
    assert len({method.name for method in METHODS}) == 19


@pytest.fixture(scope="module")
def gateway() -> Iterator[HostileGateway]:
    with HostileGateway() as server:
        yield server


def make_client(url: str) -> IbkrClient:
    """A client on virtual time (retries and pacing cost nothing) with a short real
    deadline per request, so trickling answers end quickly."""
    clock = ManualClock(MARKET_OPEN)
    transport = Transport(url, clock=clock, timeout=2.0, connect_timeout=1.0, total_timeout=1.0)
    manager = SessionManager(url, clock=clock, transport=transport)
    return IbkrClient(session=manager, retry_attempts=2, rng=random.Random(11))


@dataclass
class Outcome:
    method: str
    result: Any = None
    error: BaseException | None = None


def run(gateway: HostileGateway, kind: BadAnswer, method: Method) -> Outcome:
    gateway.clear_faults()
    gateway.book.clear()
    gateway.placements.clear()
    gateway.requests.clear()
    gateway.book["existing"] = {
        "acct": ACCOUNT, "orderId": ORDER_ID, "conid": 265598, "side": "BUY",
        "totalSize": 1, "price": 150.0, "orderType": "LMT", "status": "Submitted",
        "order_ref": "existing",
    }  # fmt: skip
    gateway.fault(method.matches, kind.reply, acts=kind.acts)
    client = make_client(gateway.url)
    outcome = Outcome(method.name)
    try:
        outcome.result = method.call(client)
    except BaseException as exc:  # exactly what this suite inspects
        outcome.error = exc
    finally:
        client.session.close()
    return outcome


def problems(
    gateway: HostileGateway, kind: BadAnswer, method: Method, outcome: Outcome
) -> list[str]:
    """What a worker would notice as wrong in ``outcome``; empty when all is well."""
    found: list[str] = []
    error = outcome.error
    if error is not None and not isinstance(error, IbkrError):
        found.append(f"untyped {type(error).__name__}: {str(error)[:120]}")
    if method.name == "place_order":
        coids = [r.body["orders"][0]["cOID"] for r in gateway.requests if method.matches(r)]
        if set(coids) - {COID}:
            found.append(f"order sent under other cOIDs: {coids}")
        if len(gateway.placements) > 1:
            found.append(f"placed {len(gateway.placements)} times")
        if isinstance(error, IbkrError) and error.coid != COID:
            found.append(f"{type(error).__name__} without the cOID")
        result = outcome.result
        if error is None and order_question(result) is None:
            if not (isinstance(result, list) and result and "order_id" in result[0]):
                found.append(f"success without an order: {result!r:.80}")
            elif not gateway.placements:
                found.append("reported as placed, but nothing was placed")
    return found


FULL_RUN_ONLY = frozenset(
    {
        "a-number", "null", "empty-list", "error-not-a-string", "not-utf8", "nan-tokens",
        "nesting-500", "int-past-4300-digits", "brotli-unasked", "429-retry-after-garbage",
        "html-404", "gzip-bomb", "short-body-then-close",
    }
)  # fmt: skip
"""Kinds a sibling kind already exercises the same way (or that cost seconds): with
``-m slow``, so the default run stays a few seconds; every kind is covered there."""

FAST = [kind for kind in BAD_ANSWERS if not kind.slow and kind.name not in FULL_RUN_ONLY]
SLOW = [kind for kind in BAD_ANSWERS if kind.slow or kind.name in FULL_RUN_ONLY]


def check(gateway: HostileGateway, kind: BadAnswer) -> None:
    report = []
    for method in METHODS:
        outcome = run(gateway, kind, method)
        report += [f"{method.name}: {p}" for p in problems(gateway, kind, method, outcome)]
    assert report == []


@pytest.mark.parametrize("kind", FAST, ids=lambda kind: kind.name)
def test_every_method_meets_a_bad_answer_with_json_or_a_typed_error(
    gateway: HostileGateway, kind: BadAnswer
) -> None:
    check(gateway, kind)


@pytest.mark.slow
@pytest.mark.parametrize("kind", SLOW, ids=lambda kind: kind.name)
def test_every_method_meets_every_other_bad_answer_with_json_or_a_typed_error(
    gateway: HostileGateway, kind: BadAnswer
) -> None:
    check(gateway, kind)
