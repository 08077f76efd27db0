"""Bad input, both ways: a worker's wrong arguments and a gateway's malformed answers.

Arguments: for each of the 19 methods, one argument at a time is replaced by a value no
gateway could accept (wrong type, empty, a ``/`` that would address another endpoint,
a non-finite number, ...); the call must raise ``InvalidRequestError`` and send nothing.
Any arguments at all (hypothesis' wildest) must end in ``InvalidRequestError`` or a sent
request, never another exception.

Answers: every method meets every kind of malformed answer on its own endpoint (the
session's probe and priming answer normally, so the method's own reading is reached):
truncated JSON, HTML, an empty body, JSON of the wrong type or shape. The worker must see
the JSON or a typed ``IbkrError``, never ``KeyError``/``TypeError``/``JSONDecodeError``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ibkr_api.client import IbkrClient
from ibkr_api.validation import BAR_SIZES, ORDER_TYPES, SEC_TYPES, SIDES, TIFS
from ibkr_session.clock import ManualClock
from ibkr_session.errors import IbkrError, InvalidRequestError

BASE = "https://localhost:5000/v1/api"
ACCOUNT = "U1234567"
ANY_URL = re.compile(re.escape(BASE) + r"/.*")
HTTP_METHODS = ("GET", "POST", "DELETE")


class UnexpectedRequestError(AssertionError):
    """Raised by the mocked gateway: a request left although it should not have."""


# -- what each method is called with when it is called right --------------------------

VALID: dict[str, dict[str, Any]] = {
    "tickle": {},
    "auth_status": {},
    "select_account": {"account_id": ACCOUNT},
    "get_accounts": {},
    "get_subaccounts": {},
    "get_summary": {"account_id": ACCOUNT},
    "get_ledger": {"account_id": ACCOUNT},
    "get_positions": {"account_id": ACCOUNT},
    "get_market_snapshot": {"conids": [265598], "fields": ["31", "84"]},
    "get_historical_data": {"conid": 265598, "period": "1d", "bar": "5min", "outside_rth": False},
    "search_contract": {"symbol": "AAPL", "sec_type": "STK"},
    "get_contract_details": {"conid": 265598},
    "get_orders": {},
    "get_filled_orders": {"account_id": ACCOUNT},
    "place_order": {
        "account_id": ACCOUNT,
        "conid": 265598,
        "side": "BUY",
        "quantity": 10,
        "order_type": "LMT",
        "price": 150.0,
        "tif": "DAY",
        "coid": "bad-input-1",
    },
    "modify_order": {
        "account_id": ACCOUNT,
        "order_id": "1234",
        "conid": 265598,
        "side": "BUY",
        "quantity": 10,
        "order_type": "LMT",
        "price": 150.0,
        "tif": "DAY",
    },
    "cancel_order": {"account_id": ACCOUNT, "order_id": "1234"},
    "reply_to_order": {"message_id": "a1b2c3", "confirmed": True},
    "suppress_messages": {"message_ids": ["o163", "o451"]},
}
assert len(VALID) == 19, "the reference has 19 methods"

TARGET: dict[str, tuple[str, str]] = {
    "tickle": ("POST", "/tickle"),
    "auth_status": ("POST", "/iserver/auth/status"),
    "select_account": ("POST", "/iserver/account"),
    "get_accounts": ("GET", "/portfolio/accounts"),
    "get_subaccounts": ("GET", "/portfolio/subaccounts"),
    "get_summary": ("GET", f"/portfolio/{ACCOUNT}/summary"),
    "get_ledger": ("GET", f"/portfolio/{ACCOUNT}/ledger"),
    "get_positions": ("GET", f"/portfolio/{ACCOUNT}/positions/0"),
    "get_market_snapshot": ("GET", "/iserver/marketdata/snapshot"),
    "get_historical_data": ("GET", "/iserver/marketdata/history"),
    "search_contract": ("GET", "/iserver/secdef/search"),
    "get_contract_details": ("GET", "/iserver/contract/265598/info"),
    "get_orders": ("GET", "/iserver/account/orders"),
    "get_filled_orders": ("GET", "/iserver/account/orders"),
    "place_order": ("POST", f"/iserver/account/{ACCOUNT}/orders"),
    "modify_order": ("POST", f"/iserver/account/{ACCOUNT}/order/1234"),
    "cancel_order": ("DELETE", f"/iserver/account/{ACCOUNT}/order/1234"),
    "reply_to_order": ("POST", "/iserver/reply/a1b2c3"),
    "suppress_messages": ("POST", "/iserver/questions/suppress"),
}
"""The request that carries each method's own answer."""

# -- values no gateway could accept, by the kind of argument ----------------------------

_text = st.text(max_size=12)
_unsafe_char = st.sampled_from(["/", "\\", "?", "#", "%", " ", "\n", "\t", "\x00", "\x7f"])
_unsafe_segment = st.one_of(
    st.builds(lambda a, c, b: a + c + b, _text, _unsafe_char, _text),
    st.sampled_from(["", ".", ".."]),
)
_non_text = st.one_of(
    st.none(),
    st.floats(allow_nan=True),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(_text, st.integers(), max_size=2),
    st.binary(max_size=4),
)
_bad_number = st.one_of(
    st.integers(max_value=0),
    st.floats(max_value=0.0),
    st.sampled_from([float("nan"), float("inf"), float("-inf")]),
    st.booleans(),
    _text,
    st.none(),
)
_bad_bool = st.one_of(st.integers(), _text, st.none(), st.floats())


def _not_in(choices: set[str]) -> st.SearchStrategy[object]:
    words = _text.filter(lambda value: value.upper() not in choices)
    return st.one_of(words, st.integers(), st.none(), st.booleans())


BAD: dict[str, st.SearchStrategy[object]] = {
    "account_id": st.one_of(_unsafe_segment, _non_text, st.integers(), st.booleans()),
    "order_id": st.one_of(_unsafe_segment, _non_text, st.booleans()),
    "message_id": st.one_of(_unsafe_segment, _non_text, st.integers(), st.booleans()),
    "conid": st.one_of(
        st.integers(max_value=0),
        st.booleans(),
        _text.filter(lambda value: not (value.isascii() and value.isdigit())),
        _non_text,
    ),
    "conids": st.one_of(
        st.just([]),
        st.lists(st.integers(max_value=0), min_size=1, max_size=3),
        st.lists(st.just("AAPL"), min_size=1, max_size=2),
        st.booleans(),
        st.none(),
    ),
    "fields": st.one_of(
        st.just([]),
        st.lists(st.sampled_from(["last", "-1", "3 1", ""]), min_size=1, max_size=3),
        st.lists(st.just("31"), min_size=51, max_size=55),
        st.integers(),
        _text,
    ),
    "side": _not_in(set(SIDES)),
    "quantity": _bad_number,
    "order_type": _not_in(set(ORDER_TYPES)),
    "price": _bad_number,
    "tif": _not_in(set(TIFS)),
    "coid": st.one_of(
        st.just(""),
        st.text(min_size=65, max_size=80, alphabet="abc"),
        st.text(min_size=1, max_size=5).filter(lambda v: not (v.isascii() and v.isprintable())),
        st.integers(),
    ),
    "period": st.one_of(
        st.sampled_from(["0d", "1001d", "31min", "9h", "d", "1", "1 d", "-1d", "1D"]),
        st.integers(),
        st.none(),
    ),
    "bar": _not_in({size.upper() for size in BAR_SIZES}),
    "outside_rth": _bad_bool,
    "confirmed": _bad_bool,
    "symbol": st.one_of(st.sampled_from(["", "   ", "AA\x00PL", "A\nB"]), st.integers(), st.none()),
    "sec_type": _not_in(set(SEC_TYPES)),
    "message_ids": st.one_of(
        st.just([]),
        st.lists(st.sampled_from(["O163", "163", "o-163", "", "o 1"]), min_size=1, max_size=3),
        st.lists(st.just("o163"), min_size=52, max_size=55),
        st.integers(),
        st.none(),
    ),
}

OPTIONAL = {("get_filled_orders", "account_id")}
"""Arguments for which ``None`` is the documented default, hence no bad value."""

WITH_ARGUMENTS = sorted(name for name, kwargs in VALID.items() if kwargs)


# -- a gateway that answers the session's own requests and one target as told ---------


@dataclass
class FakeGateway:
    """``responses`` standing in for the gateway: normal session answers, and the
    ``target`` request answered with ``body`` (or refused with ``UnexpectedRequestError``)."""

    mock: responses.RequestsMock
    target: tuple[str, str] | None = None
    body: tuple[str, bytes] | None = None
    refuse_all: bool = False
    sent: int = 0

    def reply(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        self.sent += 1
        method, path = str(request.method), urlsplit(str(request.url)).path[len("/v1/api") :]
        if self.refuse_all:
            raise UnexpectedRequestError(f"{method} {path} was sent")
        if (method, path) == self.target and self.body is not None:
            content_type, content = self.body
            return 200, {"Content-Type": content_type}, content
        return 200, {"Content-Type": "application/json"}, json.dumps(_normal(method, path)).encode()


def _normal(method: str, path: str) -> Any:
    """What a healthy gateway answers the requests the session sends on its own."""
    status = {"authenticated": True, "competing": False, "connected": True, "message": ""}
    if path == "/tickle":
        return {"session": "abc", "iserver": {"authStatus": status}}
    if path.startswith("/iserver/auth/"):
        return status
    if path == "/iserver/accounts":
        return {"accounts": [ACCOUNT], "selectedAccount": ACCOUNT}
    if path == "/portfolio/accounts":
        return [{"id": ACCOUNT, "accountId": ACCOUNT}]
    if path == "/iserver/account/orders":
        return {"orders": [], "snapshot": True}
    return {}


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeGateway(mock)
        for method in HTTP_METHODS:
            mock.add_callback(method, ANY_URL, callback=fake.reply)
        yield fake


@pytest.fixture
def ibkr(gateway: FakeGateway, clock: ManualClock) -> Iterator[IbkrClient]:
    with IbkrClient(clock=clock, timeout=5.0) as client:
        yield client


def _call(client: IbkrClient, method: str, kwargs: dict[str, Any]) -> Any:
    call: Callable[..., Any] = getattr(client, method)
    return call(**kwargs)


def _leaked(client: IbkrClient, method: str, kwargs: dict[str, Any]) -> Exception | None:
    """The untyped exception the call let through, if any (typed ones are expected)."""
    try:
        _call(client, method, kwargs)
    except IbkrError:
        return None
    except Exception as exc:
        return exc
    return None


# -- arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", WITH_ARGUMENTS)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_a_bad_argument_is_refused_before_anything_is_sent(
    method: str, data: st.DataObject, gateway: FakeGateway, ibkr: IbkrClient
) -> None:
    kwargs = dict(VALID[method])
    name = data.draw(st.sampled_from(sorted(kwargs)), label="argument")
    bad = BAD[name]
    if (method, name) in OPTIONAL:
        bad = bad.filter(lambda value: value is not None)
    kwargs[name] = data.draw(bad, label=name)
    gateway.refuse_all = True
    sent_before = gateway.sent

    with pytest.raises(InvalidRequestError):
        _call(ibkr, method, kwargs)

    assert gateway.sent == sent_before


def test_a_limit_order_without_a_price_is_refused_before_anything_is_sent(
    gateway: FakeGateway, ibkr: IbkrClient
) -> None:
    gateway.refuse_all = True
    for method in ("place_order", "modify_order"):
        kwargs = dict(VALID[method])
        del kwargs["price"]
        with pytest.raises(InvalidRequestError) as caught:
            _call(ibkr, method, kwargs)
        assert caught.value.field == "price"
    assert gateway.sent == 0


_anything = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)


@pytest.mark.parametrize("method", WITH_ARGUMENTS)
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_arguments_are_refused_or_sent_never_a_crash(
    method: str, data: st.DataObject, gateway: FakeGateway, ibkr: IbkrClient
) -> None:
    kwargs = {name: data.draw(_anything, label=name) for name in VALID[method]}
    gateway.refuse_all = True
    sent_before = gateway.sent

    with pytest.raises((InvalidRequestError, UnexpectedRequestError)) as caught:
        _call(ibkr, method, kwargs)

    if isinstance(caught.value, InvalidRequestError):
        assert gateway.sent == sent_before


# -- answers -------------------------------------------------------------------------------

JSON = "application/json"
UNREADABLE: dict[str, tuple[str, bytes]] = {
    "truncated JSON": (JSON, b'{"orders": [{"orderId": 12'),
    "HTML error page": ("text/html", b"<html><body><h1>Error 500</h1></body></html>"),
    "HTML labelled JSON": (JSON, b"<!DOCTYPE html><html></html>"),
    "garbage bytes": (JSON, b"\xff\xfe\x00\x01not json"),
}
"""Bodies no method can return: each must become a typed ``IbkrError``."""

WRONG_SHAPES: dict[str, tuple[str, bytes]] = {
    "empty body": (JSON, b""),
    "number": (JSON, b"42"),
    "string": (JSON, b'"ok"'),
    "null": (JSON, b"null"),
    "list of numbers": (JSON, b"[1, 2, 3]"),
    "list of nulls": (JSON, b"[null]"),
    "empty list": (JSON, b"[]"),
    "empty object": (JSON, b"{}"),
    "object of wrong types": (
        JSON,
        b'{"orders": 5, "data": "x", "accounts": null, "authenticated": "yes"}',
    ),
    "rows of wrong types": (
        JSON,
        b'[{"conid": null, "31": 5, "id": 7, "message": 3, "order_id": [], "orderId": {}}]',
    ),
    "question with no ids": (JSON, b'[{"id": "r1", "message": ["sure?"], "messageIds": null}]'),
    "question whose ids are a number": (
        JSON,
        b'[{"id": "r1", "message": ["sure?"], "messageIds": 9}]',
    ),
}
"""Readable JSON of the wrong shape: the JSON back unchanged, or a typed ``IbkrError``."""


@pytest.mark.parametrize("kind", sorted(UNREADABLE))
@pytest.mark.parametrize("method", sorted(VALID))
def test_an_unreadable_answer_is_a_typed_error(
    method: str, kind: str, gateway: FakeGateway, ibkr: IbkrClient
) -> None:
    gateway.target, gateway.body = TARGET[method], UNREADABLE[kind]

    with pytest.raises(IbkrError):
        _call(ibkr, method, VALID[method])


@pytest.mark.parametrize("kind", sorted(WRONG_SHAPES))
@pytest.mark.parametrize("method", sorted(VALID))
def test_an_answer_of_the_wrong_shape_never_leaks_an_untyped_error(
    method: str, kind: str, gateway: FakeGateway, ibkr: IbkrClient
) -> None:
    gateway.target, gateway.body = TARGET[method], WRONG_SHAPES[kind]

    leaked = _leaked(ibkr, method, VALID[method])

    assert leaked is None, f"{method} leaked {leaked!r} on {kind}"


_json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text()),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=10,
)
_keys = st.sampled_from(
    ["conid", "31", "84", "id", "message", "messageIds", "orders", "orderId", "order_ref",
     "status", "data", "accounts", "authenticated", "competing", "error", "iserver"]
)  # fmt: skip
_shaped = st.one_of(
    _json_value,
    st.lists(st.dictionaries(_keys, _json_value, max_size=5), max_size=3),
    st.dictionaries(_keys, _json_value, max_size=5),
)


@pytest.mark.parametrize("method", sorted(VALID))
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(answer=_shaped)
def test_any_json_answer_is_returned_or_a_typed_error(
    method: str, answer: Any, gateway: FakeGateway, ibkr: IbkrClient
) -> None:
    gateway.target, gateway.body = TARGET[method], (JSON, json.dumps(answer).encode())

    leaked = _leaked(ibkr, method, VALID[method])

    assert leaked is None, f"{method} leaked {leaked!r} on {answer!r}"
