"""Answers no gateway should give, read by ``interpret``: each is a typed error or sane JSON."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ibkr_session import IbkrAPIError, NotAuthenticatedError, RateLimitedError
from ibkr_session.errors import UnreadableAnswerError
from ibkr_session.transport import MAX_RETRY_AFTER, interpret

URL = "https://localhost:5000"
NOW = dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC)
JSON = {"Content-Type": "application/json"}


def read(status: int, content: bytes, *, path: str = "/portfolio/accounts", **headers: str) -> Any:
    return interpret("GET", path, status, {**JSON, **headers}, content, gateway_url=URL, now=NOW)


@pytest.mark.parametrize("depth", [200_000, 500, 65], ids=["past-the-stack", "500", "65"])
def test_json_nested_deeper_than_any_ibkr_answer_is_unreadable_not_a_recursion_error(
    depth: int,
) -> None:
    with pytest.raises(UnreadableAnswerError, match="nested deeper") as caught:
        read(200, b"[" * depth + b"]" * depth)
    assert caught.value.code == 200
    assert len(str(caught.value)) < 1000  # the body is not pasted into the message


def test_ordinary_nesting_and_many_brackets_are_fine() -> None:
    rows = b"[" + b",".join(b'{"conid": 1, "sections": [{"a": [1]}]}' for _ in range(500)) + b"]"
    assert len(read(200, rows)) == 500
    assert read(200, b"[" * 64 + b"]" * 64) is not None


def test_deep_nesting_in_an_error_status_is_still_typed_by_the_status() -> None:
    with pytest.raises(IbkrAPIError) as caught:
        read(400, b"[" * 100_000 + b"]" * 100_000)
    assert caught.value.code == 400


def test_an_integer_past_pythons_digit_limit_is_malformed_json() -> None:
    with pytest.raises(UnreadableAnswerError):
        read(200, b'{"conid": ' + b"9" * 5000 + b"}")


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("1e308", MAX_RETRY_AFTER),
        ("86400", MAX_RETRY_AFTER),
        ("9" * 400, MAX_RETRY_AFTER),
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER),
        ("-5", 0.0),
        ("nan", 60.0),
        ("-1e999, soon", 60.0),
        ("Mon, 99 Foo 2026 99:99:99 GMT", 60.0),
        ("120", 120.0),
    ],
)
def test_retry_after_is_clamped_to_what_ibkrs_penalty_box_can_mean(
    header: str, seconds: float
) -> None:
    with pytest.raises(RateLimitedError) as caught:
        read(429, b"", **{"Retry-After": header})
    assert caught.value.retry_after == seconds
    assert MAX_RETRY_AFTER == 900.0  # IBKR's box: 10-15 minutes


def test_an_html_login_page_in_a_200_means_log_in_at_the_gateway() -> None:
    page = b"<html><title>Client Portal Login</title><form action='/sso/Login'></form></html>"
    with pytest.raises(NotAuthenticatedError, match=f"log in at {URL}"):
        read(200, page, **{"Content-Type": "text/html"})


def test_other_html_in_a_200_is_unreadable_not_a_session_verdict() -> None:
    with pytest.raises(UnreadableAnswerError) as caught:
        read(200, b"<html><body>Maintenance</body></html>", **{"Content-Type": "text/html"})
    assert not isinstance(caught.value, NotAuthenticatedError)


@pytest.mark.parametrize("status", [301, 302, 303, 307])
def test_a_redirect_to_the_login_page_means_log_in_at_the_gateway(status: int) -> None:
    with pytest.raises(NotAuthenticatedError, match=f"log in at {URL}"):
        read(status, b"", Location="https://localhost:5000/sso/Login?forwardTo=22&RL=1")


def test_a_redirect_elsewhere_is_an_api_error_without_the_query() -> None:
    with pytest.raises(IbkrAPIError) as caught:
        read(302, b"", Location="/v1/api/elsewhere?token=secret")
    assert not isinstance(caught.value, NotAuthenticatedError)
    assert caught.value.code == 302
    assert "secret" not in str(caught.value)
