"""Every HTTP answer and every ``requests`` failure becomes JSON or one typed error."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import requests
import responses
from urllib3.exceptions import NewConnectionError, ProtocolError

from ibkr_session import (
    GatewayUnavailableError,
    GatewayUnreachableError,
    IbkrAPIError,
    InvalidRequestError,
    ManualClock,
    NotAuthenticatedError,
    OrderRejectedError,
    RateLimitedError,
)
from ibkr_session.endpoints import endpoint_for
from ibkr_session.transport import Transport, interpret

URL = "https://localhost:5000"
NOW = dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC)
JSON = {"Content-Type": "application/json; charset=utf-8"}


def answer(
    status: int,
    body: Any = None,
    *,
    path: str = "/iserver/accounts",
    method: str = "GET",
    **headers: str,
) -> Any:
    if isinstance(body, str):
        content = body.encode()
    else:
        content = b"" if body is None else json.dumps(body).encode()
    return interpret(method, path, status, {**JSON, **headers}, content, gateway_url=URL, now=NOW)


def test_good_json_is_returned_unchanged_and_an_empty_2xx_is_none() -> None:
    assert answer(200, {"accounts": ["U1234567"]}) == {"accounts": ["U1234567"]}
    assert answer(200, [1, 2]) == [1, 2]
    assert answer(200) is None


def test_401_with_empty_text_tells_the_user_where_to_log_in() -> None:
    with pytest.raises(NotAuthenticatedError) as caught:
        interpret(
            "GET",
            "/portfolio/accounts",
            401,
            {"Content-Type": "text/plain"},
            b"",
            gateway_url=URL,
            now=NOW,
        )
    assert caught.value.code == 401
    assert f"log in at {URL}" in str(caught.value)


def test_400_error_body_keeps_the_gateways_message() -> None:
    body = {"error": "Bad Request: accountId is not valid: X", "statusCode": 400}
    with pytest.raises(IbkrAPIError) as caught:
        answer(400, body)
    assert type(caught.value) is IbkrAPIError
    assert (caught.value.code, caught.value.msg, caught.value.body) == (400, body["error"], body)


def test_400_no_bridge_means_not_authenticated() -> None:
    with pytest.raises(NotAuthenticatedError, match="no bridge"):
        answer(400, {"error": "Bad Request: no bridge", "statusCode": 400})


@pytest.mark.parametrize(
    ("status", "body"), [(503, None), (500, {"error": "Internal"}), (502, "x")]
)
def test_5xx_is_gateway_unavailable(status: int, body: Any) -> None:
    with pytest.raises(GatewayUnavailableError) as caught:
        answer(status, body)
    assert caught.value.code == status


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ({}, 60.0),
        ({"Retry-After": "12"}, 12.0),
        ({"Retry-After": "Mon, 05 Jan 2026 15:00:30 GMT"}, 30.0),
    ],
)
def test_429_carries_retry_after_default_60_s(headers: dict[str, str], retry_after: float) -> None:
    with pytest.raises(RateLimitedError) as caught:
        answer(429, "Too Many Requests", **headers)
    assert caught.value.retry_after == retry_after


def test_html_404_is_an_api_error_with_code_404() -> None:
    page = "<html><body><h1>404 Not Found</h1></body></html>"
    with pytest.raises(IbkrAPIError) as caught:
        interpret(
            "GET",
            "/iserver/nope",
            404,
            {"Content-Type": "text/html"},
            page.encode(),
            gateway_url=URL,
            now=NOW,
        )
    assert caught.value.code == 404
    assert "HTML" in caught.value.msg


@pytest.mark.parametrize(
    "path",
    [
        "/iserver/account/U1234567/orders",
        "/iserver/account/U1234567/order/123",
        "/iserver/reply/abc",
    ],
)
def test_200_error_on_order_paths_is_an_order_rejection(path: str) -> None:
    text = "Order couldn't be submitted: Local order ID=c1 is already registered."
    with pytest.raises(OrderRejectedError) as caught:
        answer(200, {"error": text}, path=path, method="POST")
    assert caught.value.msg == text


def test_order_path_recognition_leaves_the_orders_list_alone() -> None:
    assert not endpoint_for("GET", "/iserver/account/orders").kind.is_order_flow
    assert not endpoint_for("GET", "/iserver/account/order/status/123").kind.is_order_flow
    assert endpoint_for("DELETE", "/iserver/account/DU1/order/99").kind.is_order_flow
    assert endpoint_for("POST", "/iserver/account/DU1/order/99").kind.is_order_flow


def test_200_no_session_on_tickle_is_not_authenticated() -> None:
    with pytest.raises(NotAuthenticatedError, match="log in at"):
        answer(200, {"error": "no session"}, path="/tickle")


def test_200_error_elsewhere_is_a_plain_api_error() -> None:
    with pytest.raises(IbkrAPIError) as caught:
        answer(200, {"error": "Chart data unavailable"}, path="/iserver/marketdata/history")
    assert type(caught.value) is IbkrAPIError


@pytest.mark.parametrize(
    ("body", "headers"),
    [('{"accounts": ["U1', JSON), ("<html>login</html>", {"Content-Type": "text/html"})],
    ids=["truncated-json", "html-on-json-path"],
)
def test_malformed_bodies_are_typed_errors_never_json_decode_errors(
    body: str, headers: dict[str, str]
) -> None:
    with pytest.raises(IbkrAPIError) as caught:
        interpret("GET", "/iserver/accounts", 200, headers, body.encode(), gateway_url=URL, now=NOW)
    assert not isinstance(caught.value, json.JSONDecodeError)
    assert caught.value.body == body


# -- the transport itself, with `responses` --------------------------------------------------


@pytest.fixture
def transport() -> Transport:
    return Transport(URL + "/", clock=ManualClock(NOW), timeout=7.0, connect_timeout=2.0)


@responses.activate
def test_send_builds_the_api_url_and_gateway_query_values(transport: Transport) -> None:
    responses.get(URL + "/v1/api/iserver/marketdata/history", json={"data": []})
    result = transport.send(
        "GET",
        "/iserver/marketdata/history",
        params={"conid": 265598, "outsideRth": False, "x": None},
    )
    assert result == {"data": []}
    sent = responses.calls[0].request
    assert sent.url == URL + "/v1/api/iserver/marketdata/history?conid=265598&outsideRth=false"


@pytest.mark.parametrize("given", [URL, URL + "/", URL + "/v1/api", URL + "/v1/api/"])
def test_base_url_forms_all_reach_v1_api(given: str) -> None:
    transport = Transport(given, clock=ManualClock())
    assert transport.gateway_url == URL
    assert transport.address.api_base == URL + "/v1/api"


@pytest.mark.parametrize(
    "bad", ["http://localhost:5000", "localhost:5000", "https://localhost:5000/x", ""]
)
def test_bad_gateway_urls_are_refused_before_anything_is_sent(bad: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        Transport(bad, clock=ManualClock())
    assert caught.value.field == "gateway_url"


@pytest.mark.parametrize(
    ("failure", "maybe_sent"),
    [
        (requests.exceptions.ConnectTimeout("connect timed out"), False),
        (requests.exceptions.SSLError("Fingerprints did not match"), False),
        (
            requests.exceptions.ConnectionError(
                NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
            ),
            False,
        ),
        (requests.exceptions.ReadTimeout("read timed out"), True),
        (requests.exceptions.ConnectionError(ProtocolError("Connection aborted")), True),
    ],
    ids=["connect-timeout", "tls", "refused", "read-timeout", "dropped"],
)
def test_requests_failures_become_unreachable_with_maybe_sent(
    transport: Transport, failure: Exception, maybe_sent: bool
) -> None:
    with responses.RequestsMock() as mock:
        mock.post(URL + "/v1/api/iserver/account/U1/orders", body=failure)
        with pytest.raises(GatewayUnreachableError) as caught:
            transport.send("POST", "/iserver/account/U1/orders", json={"orders": []})
    assert caught.value.maybe_sent is maybe_sent
    assert caught.value.__cause__ is failure


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), True])
def test_timeouts_must_be_positive(bad: float) -> None:
    with pytest.raises(InvalidRequestError):
        Transport(URL, clock=ManualClock(), timeout=bad)
