"""The transport against a hostile gateway (raw TLS on loopback): deadlines, sizes, stalls.

Each test meets one misbehaviour a real network or a broken gateway can produce and checks
what the caller sees: a typed error in bounded time and memory, and ``maybe_sent`` telling
the truth about whether an order may have reached the gateway.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator

import pytest

from ibkr_session import (
    GatewayUnavailableError,
    GatewayUnreachableError,
    ManualClock,
    NotAuthenticatedError,
)
from ibkr_session import transport as transport_module
from ibkr_session.errors import UnreadableAnswerError
from ibkr_session.transport import Transport
from tests.hostile import BAD_ANSWERS, HostileGateway, Reply

NOW = dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC)
PLACE = "/iserver/account/U1234567/orders"
ORDER = {"orders": [{"acctId": "U1234567", "conid": 265598, "side": "BUY", "cOID": "c1"}]}
KIND = {kind.name: kind for kind in BAD_ANSWERS}


@pytest.fixture
def gateway() -> Iterator[HostileGateway]:
    with HostileGateway() as server:
        yield server


def transport(url: str, **options: float) -> Transport:
    return Transport(url, clock=ManualClock(NOW), **options)  # type: ignore[arg-type]


def test_trickled_headers_end_at_the_total_deadline_not_when_the_server_likes(
    gateway: HostileGateway,
) -> None:
    # 4 bytes every 50 ms: each read returns in time, so no read timeout ever fires; the
    # whole answer would take ~7 s.
    padded = Reply(body=b"{}", headers={"X-Pad": "x" * 500}, trickle=(4, 0.05))
    gateway.fault("/portfolio/accounts", lambda: padded)
    started = time.monotonic()
    with pytest.raises(GatewayUnreachableError) as caught:
        transport(gateway.url, timeout=1.0, total_timeout=0.5).send("GET", "/portfolio/accounts")
    assert time.monotonic() - started < 2.0
    assert "total deadline" in str(caught.value)
    assert caught.value.maybe_sent is True


def test_a_trickled_order_answer_ends_at_the_deadline_as_maybe_sent(
    gateway: HostileGateway,
) -> None:
    gateway.fault(PLACE, lambda: Reply(body=b"[" + b"1," * 5000 + b"1]", trickle=(40, 0.05)))
    started = time.monotonic()
    with pytest.raises(GatewayUnreachableError) as caught:
        transport(gateway.url, timeout=1.0, total_timeout=0.5).send("POST", PLACE, json=ORDER)
    assert time.monotonic() - started < 2.0
    assert caught.value.maybe_sent is True  # the gateway got the order: look it up
    assert (caught.value.method, caught.value.path) == ("POST", PLACE)
    assert [r.path for r in gateway.requests] == [PLACE]


def test_the_default_total_deadline_is_connect_plus_read_timeout_plus_a_margin(
    gateway: HostileGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport_module, "DEADLINE_MARGIN", 0.3)  # 5 s in production
    gateway.fault(
        "/tickle", lambda: Reply(body=b"{}", headers={"X": "y" * 4000}, trickle=(8, 0.05))
    )
    started = time.monotonic()
    with pytest.raises(GatewayUnreachableError, match=r"total deadline of 0\.7 s"):
        transport(gateway.url, timeout=0.2, connect_timeout=0.2).send("POST", "/tickle")
    assert time.monotonic() - started < 0.7 + 1.0


def test_a_gzip_bomb_is_refused_at_the_answer_size_limit(gateway: HostileGateway) -> None:
    gateway.bad_answer(KIND["gzip-bomb"], "/portfolio/accounts")
    with pytest.raises(UnreadableAnswerError, match="max_answer_bytes") as caught:
        transport(gateway.url, max_answer_bytes=2**20).send("GET", "/portfolio/accounts")
    assert caught.value.code == 200


def test_an_answer_larger_than_the_limit_is_refused_before_it_fills_memory(
    gateway: HostileGateway,
) -> None:
    big = json.dumps(list(range(200_000))).encode()  # ~1.4 MB
    gateway.fault("/portfolio/accounts", lambda: Reply(body=big))
    gateway.fault("/portfolio/subaccounts", lambda: Reply(body=big, declare_length=False))
    small = transport(gateway.url, max_answer_bytes=2**20)
    with pytest.raises(UnreadableAnswerError, match="max_answer_bytes"):
        small.send("GET", "/portfolio/accounts")  # refused by its Content-Length
    with pytest.raises(UnreadableAnswerError, match="max_answer_bytes"):
        small.send("GET", "/portfolio/subaccounts")  # refused while reading
    assert transport(gateway.url).send("GET", "/portfolio/accounts") == list(range(200_000))


def test_an_oversized_error_answer_is_still_typed_by_its_status(gateway: HostileGateway) -> None:
    gateway.fault("/tickle", lambda: Reply(status=503, body=b"x" * 3 * 2**20))
    with pytest.raises(GatewayUnavailableError) as caught:
        transport(gateway.url, max_answer_bytes=2**20).send("POST", "/tickle")
    assert caught.value.code == 503


def test_a_compressed_good_answer_is_read_as_usual(gateway: HostileGateway) -> None:
    import gzip

    body = gzip.compress(json.dumps({"accounts": ["U1234567"]}).encode())
    gateway.fault(
        "/iserver/accounts", lambda: Reply(body=body, headers={"Content-Encoding": "gzip"})
    )
    answer = transport(gateway.url).send("GET", "/iserver/accounts")
    assert answer == {"accounts": ["U1234567"]}


def test_a_stalled_tls_handshake_means_the_order_was_not_sent() -> None:
    with HostileGateway(stall_handshake=True) as stalled:
        started = time.monotonic()
        with pytest.raises(GatewayUnreachableError) as caught:
            transport(stalled.url, timeout=0.3, connect_timeout=0.3).send("POST", PLACE, json=ORDER)
    assert time.monotonic() - started < 2.0
    assert caught.value.maybe_sent is False  # resending under the same cOID is safe


def test_a_trickled_tls_handshake_ends_at_the_total_deadline_as_not_sent() -> None:
    with HostileGateway(trickle_handshake=True) as trickling:
        started = time.monotonic()
        with pytest.raises(GatewayUnreachableError) as caught:
            transport(trickling.url, timeout=1.0, connect_timeout=1.0, total_timeout=0.5).send(
                "POST", PLACE, json=ORDER
            )
    assert time.monotonic() - started < 1.5
    assert caught.value.maybe_sent is False


def test_a_connection_cut_after_the_status_line_may_have_been_acted_on(
    gateway: HostileGateway,
) -> None:
    gateway.bad_answer(KIND["close-without-answer"], PLACE)
    with pytest.raises(GatewayUnreachableError) as caught:
        transport(gateway.url).send("POST", PLACE, json=ORDER)
    assert caught.value.maybe_sent is True
    assert gateway.book  # it was: the gateway booked the order before hanging up


def test_a_body_shorter_than_its_content_length_is_a_broken_connection(
    gateway: HostileGateway,
) -> None:
    gateway.bad_answer(KIND["short-body-then-close"], PLACE)
    with pytest.raises(GatewayUnreachableError) as caught:
        transport(gateway.url).send("POST", PLACE, json=ORDER)
    assert caught.value.maybe_sent is True


def test_a_login_page_or_a_redirect_to_it_means_log_in_again(gateway: HostileGateway) -> None:
    gateway.bad_answer(KIND["html-login-page"], "/portfolio/accounts")
    gateway.bad_answer(KIND["302-to-login"], "/portfolio/subaccounts")
    client = transport(gateway.url)
    for path in ("/portfolio/accounts", "/portfolio/subaccounts"):
        with pytest.raises(NotAuthenticatedError, match=f"log in at {gateway.url}"):
            client.send("GET", path)


def test_a_slow_but_complete_answer_within_the_deadline_is_read_and_the_connection_kept(
    gateway: HostileGateway,
) -> None:
    client = transport(gateway.url, total_timeout=2.0)
    assert client.send("GET", "/iserver/accounts")["accounts"] == ["U1234567"]
    slow = Reply(body=b'{"ok": true}', trickle=(32, 0.02))  # ~0.2 s in all
    gateway.fault("/tickle", lambda: slow, times=1)
    assert client.send("POST", "/tickle") == {"ok": True}
    for _ in range(3):  # the same connection, never cut by an earlier request's watch
        assert client.send("GET", "/iserver/accounts")["accounts"] == ["U1234567"]
    assert len(gateway.connections) == 1
