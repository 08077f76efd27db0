"""The simulator's WebSocket as a client meets it: real ``wss://`` on loopback, the
``websockets`` sync client, IBKR's messages, and the dark periods of the session.

Time is the ManualClock. An ``ech+hb`` answer is the simulator's barrier: whatever the
clock made due before the echo was asked for arrives before the echo, so "nothing came"
is checked without waiting on a real timer.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from ibkr_session.clock import ManualClock
from ibkr_sim import SimulatedGateway
from ibkr_sim.streams import THREAD_PREFIX
from tests.integration.sim.conftest import ACCOUNT, Api

AAPL = 265598
IBM = 8314
ORDERS = f"/iserver/account/{ACCOUNT}/orders"
RESET_START = dt.datetime(2026, 1, 6, 6, 0, tzinfo=dt.UTC)  # 01:00 New York in winter

Message = dict[str, Any]


class Feed:
    """One open WebSocket, read as IBKR's JSON messages."""

    def __init__(self, ws: ClientConnection, clock: ManualClock) -> None:
        self.ws = ws
        self.clock = clock

    def send(self, text: str) -> None:
        self.ws.send(text)

    def next(self, timeout: float = 5.0) -> Message:
        message: Message = json.loads(self.ws.recv(timeout=timeout))
        return message

    def until(self, wanted: Callable[[Message], bool], timeout: float = 5.0) -> Message:
        """Read until a message that is ``wanted`` (any others are skipped)."""
        while True:
            message = self.next(timeout)
            if wanted(message):
                return message

    def sync(self) -> list[Message]:
        """Everything the gateway sends before it echoes an ``ech+hb`` asked for now."""
        self.send("ech+hb")
        seen: list[Message] = []
        while (message := self.next()) != {"topic": "ech+hb", "alive": True}:
            seen.append(message)
        return seen

    def ask(self, text: str) -> list[Message]:
        """Send a command; what the gateway sent until it was handled (its answer too)."""
        self.send(text)
        return self.sync()

    def advance(self, seconds: float) -> list[Message]:
        """Move the clock, then return what the gateway sent because of it."""
        self.clock.advance(seconds)
        return self.sync()


def ws_url(gateway: SimulatedGateway) -> str:
    return gateway.url.replace("https://", "wss://", 1) + "/v1/api/ws"


def trusting(gateway: SimulatedGateway) -> ssl.SSLContext:
    """A client context that trusts the simulator's self-signed certificate."""
    return ssl.create_default_context(cadata=gateway.certificate_pem.decode())


def session_cookie(api: Api) -> str:
    session = api.post("/tickle").json()["session"]
    return json.dumps({"session": session}, separators=(",", ":"))


@contextmanager
def stream(gateway: SimulatedGateway, api: Api, clock: ManualClock) -> Iterator[Feed]:
    """Connect with the session cookie and read the greeting (hello, act, sts)."""
    headers = {"Cookie": f"api={session_cookie(api)}"}
    with connect(ws_url(gateway), ssl=trusting(gateway), additional_headers=headers) as ws:
        feed = Feed(ws, clock)
        assert feed.next()["topic"] == "system"
        greeting = [feed.next(), feed.next()]
        assert [m["topic"] for m in greeting] == ["act", "sts"]
        yield feed


def topics(messages: list[Message]) -> list[str]:
    return [m["topic"] for m in messages]


def by_topic(messages: list[Message], topic: str) -> list[Message]:
    return [m for m in messages if m["topic"] == topic]


def quotes_of(messages: list[Message], conid: int = AAPL) -> list[Message]:
    return [m for m in messages if m["topic"] == f"smd+{conid}"]


def subscribe_quotes(feed: Feed, conid: int, fields: list[str]) -> dict[str, Any]:
    """Subscribe and merge until every field has arrived; the merged quote."""
    feed.send(f"smd+{conid}+{json.dumps({'fields': fields})}")
    merged: dict[str, Any] = {}
    while not all(tag in merged for tag in fields):
        merged.update(feed.until(lambda m: m["topic"] == f"smd+{conid}"))
    return merged


def reauthenticate(api: Api) -> None:
    answer = api.post("/iserver/auth/ssodh/init", json={"publish": True, "compete": False})
    assert answer.json()["authenticated"] is True


# -- the handshake ---------------------------------------------------------------------------


def test_the_socket_needs_the_session_cookie_from_tickle(
    gateway: SimulatedGateway, api: Api, clock: ManualClock
) -> None:
    wrong = {"Cookie": 'api={"session":"not-this-one"}'}
    for headers in ({}, wrong):
        with pytest.raises(InvalidStatus) as refused:
            connect(ws_url(gateway), ssl=trusting(gateway), additional_headers=headers)
        assert refused.value.response.status_code == 401
    cookie = {"Cookie": f"api={session_cookie(api)}"}
    with connect(ws_url(gateway), ssl=trusting(gateway), additional_headers=cookie) as ws:
        hello = json.loads(ws.recv(timeout=5))
    assert hello["topic"] == "system"
    assert hello["success"] == "simuser1"
    handshakes = [(r.method, r.status) for r in gateway.requests if r.path == "/ws"]
    assert handshakes == [("GET", 401), ("GET", 401), ("GET", 101)]


def test_the_socket_lives_on_the_api_path_only(gateway: SimulatedGateway, api: Api) -> None:
    cookie = {"Cookie": f"api={session_cookie(api)}"}
    with pytest.raises(InvalidStatus) as refused:
        connect(
            gateway.url.replace("https", "wss") + "/ws",
            ssl=trusting(gateway),
            additional_headers=cookie,
        )
    assert refused.value.response.status_code == 404


def test_a_scripted_failure_refuses_the_next_handshake(
    gateway: SimulatedGateway, api: Api, clock: ManualClock
) -> None:
    gateway.fail_next(1, 503, path="/ws")
    cookie = {"Cookie": f"api={session_cookie(api)}"}
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(gateway), ssl=trusting(gateway), additional_headers=cookie)
    assert refused.value.response.status_code == 503
    with stream(gateway, api, clock) as feed:  # the fault is spent
        assert topics(feed.advance(10)) == ["system"]


def test_after_logout_the_old_cookie_is_refused(gateway: SimulatedGateway, api: Api) -> None:
    cookie = {"Cookie": f"api={session_cookie(api)}"}
    gateway.logout()
    gateway.login()
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(gateway), ssl=trusting(gateway), additional_headers=cookie)
    assert refused.value.response.status_code == 401


def test_greeting_tells_the_user_accounts_and_session(gateway: SimulatedGateway, api: Api) -> None:
    cookie = {"Cookie": f"api={session_cookie(api)}"}
    with connect(ws_url(gateway), ssl=trusting(gateway), additional_headers=cookie) as ws:
        hello, accounts, status = (json.loads(ws.recv(timeout=5)) for _ in range(3))
    assert hello == {"topic": "system", "success": "simuser1", "isFT": False, "isPaper": False}
    assert accounts["args"]["selectedAccount"] == ACCOUNT
    assert status["topic"] == "sts"
    assert status["args"]["authenticated"] is True
    assert status["args"]["competing"] is False


# -- heartbeats and keep-alive -----------------------------------------------------------------


def test_heartbeats_come_every_ten_seconds_of_the_clock(
    gateway: SimulatedGateway, api: Api, clock: ManualClock
) -> None:
    with stream(gateway, api, clock) as feed:
        assert feed.advance(9.5) == []
        beat = feed.advance(0.5)
        assert beat == [{"topic": "system", "hb": int(clock.now().timestamp() * 1000)}]
        assert feed.advance(5) == []
        assert topics(feed.advance(5)) == ["system"]
        # an hour's jump is one step: one heartbeat, not 360 (and the idle expiry's sts)
        assert topics(feed.advance(3600)) == ["system", "sts"]


def test_tic_is_answered_and_keeps_the_session_alive(
    gateway: SimulatedGateway, api: Api, clock: ManualClock
) -> None:
    with stream(gateway, api, clock) as feed:
        for _ in range(10):  # ten minutes: well past the idle timeout of six
            clock.advance(60)
            feed.send("tic")
            answer = feed.until(lambda m: m["topic"] == "tic")
            assert answer["alive"] is True
            assert answer["lastAccessed"] == int(clock.now().timestamp() * 1000)
        assert gateway.authenticated
        sent = [f.json() for f in gateway.stream_log if f.direction == "sent"]
        assert [m["topic"] for m in sent if m is not None].count("sts") == 1  # the greeting's


def test_without_tic_or_requests_the_brokerage_session_expires_and_sts_says_so(
    gateway: SimulatedGateway, api: Api, clock: ManualClock
) -> None:
    with stream(gateway, api, clock) as feed:
        subscribe_quotes(feed, AAPL, ["31"])
        [status] = [m for m in feed.advance(361) if m["topic"] == "sts"]
        assert status["args"]["authenticated"] is False
        assert status["args"]["competing"] is False
        assert not gateway.authenticated
        assert quotes_of(feed.advance(120)) == []  # dark


# -- market data ---------------------------------------------------------------------------------


def test_quotes_arrive_as_strings_and_then_only_changed_fields(
    gateway: SimulatedGateway, api: Api, clock: ManualClock
) -> None:
    fields = ["31", "84", "86", "7059", "87"]
    with stream(gateway, api, clock) as feed:
        feed.send(f"smd+{AAPL}+{json.dumps({'fields': fields})}")
        first = feed.until(lambda m: m["topic"] == f"smd+{AAPL}")
        assert first["conid"] == AAPL
        assert not set(fields) & set(first)  # the pre-flight: no fields yet
        merged = {**first, **feed.until(lambda m: m["topic"] == f"smd+{AAPL}")}
        assert all(isinstance(merged[tag], str) for tag in fields)
        assert merged["server_id"].startswith("q")
        before = dict(merged)

        updates = quotes_of(feed.advance(60))
        assert len(updates) == 1
        update = updates[0]
        changed = {tag for tag in fields if tag in update}
        assert changed  # a minute moves the market ...
        assert all(update[tag] != before[tag] for tag in changed)  # ... and only news is sent
        assert update["_updated"] == int(clock.now().timestamp() * 1000)
        merged.update(update)

        api.prime()
        [snapshot] = api.get(
            "/iserver/marketdata/snapshot", params={"conids": str(AAPL), "fields": ",".join(fields)}
        ).json()
        assert {tag: snapshot[tag] for tag in fields} == {tag: merged[tag] for tag in fields}


def test_a_price_set_now_streams_without_the_clock_moving(
    gateway: SimulatedGateway, api: Api, clock: ManualClock
) -> None:
    with stream(gateway, api, clock) as feed:
        subscribe_quotes(feed, AAPL, ["31"])
        gateway.set_price(AAPL, 200.0)
        update = feed.until(lambda m: m["topic"] == f"smd+{AAPL}")
        assert update["31"] == "200.00"


def test_unsubscribed_quotes_stop(gateway: SimulatedGateway, api: Api, clock: ManualClock) -> None:
    with stream(gateway, api, clock) as feed:
        subscribe_quotes(feed, AAPL, ["31", "84"])
        subscribe_quotes(feed, IBM, ["31", "84"])
        feed.ask(f"umd+{AAPL}+{{}}")
        later = feed.advance(300)
        assert quotes_of(later, AAPL) == []
        assert quotes_of(later, IBM) != []


def test_each_quote_subscription_ends_silently_after_fifteen_minutes(
    gateway: SimulatedGateway, api: Api, clock: ManualClock
) -> None:
    with stream(gateway, api, clock) as feed:
        subscribe_quotes(feed, AAPL, ["31", "84", "86", "7762"])
        for _ in range(14):
            feed.send("tic")  # keep the session itself alive
            assert quotes_of(feed.advance(60)) != []
        feed.send("tic")
        assert quotes_of(feed.advance(60)) == []  # 15 minutes: gone, and nothing said so
        for _ in range(3):
            feed.send("tic")
            silent = feed.advance(60)
            assert quotes_of(silent) == []
            assert "system" in topics(silent)  # the socket itself is alive
        renewed = subscribe_quotes(feed, AAPL, ["31", "84", "86", "7762"])
        assert set(renewed) >= {"31", "84", "86", "7762"}  # asked again: every field again
        assert quotes_of(feed.advance(60)) != []


# -- orders, P&L, trades -------------------------------------------------------------------------


def buy(coid: str, **terms: object) -> dict[str, object]:
    return {"acctId": ACCOUNT, "conid": AAPL, "side": "BUY", "tif": "DAY", "cOID": coid, **terms}


def place_and_confirm(api: Api, order: dict[str, object]) -> str:
    answer = api.post(ORDERS, json={"orders": [order]}).json()
    while "id" in answer[0]:
        answer = api.post(f"/iserver/reply/{answer[0]['id']}", json={"confirmed": True}).json()
    return str(answer[0]["order_id"])


def test_an_order_placed_by_rest_is_seen_filling_through_sor(
    gateway: SimulatedGateway, api: Api, clock: ManualClock
) -> None:
    with stream(gateway, api, clock) as feed:
        last = float(subscribe_quotes(feed, AAPL, ["31"])["31"])
        feed.send("sor+{}")
        assert feed.until(lambda m: m["topic"] == "sor") == {"topic": "sor", "args": []}
        feed.send("spl+{}")
        assert f"{ACCOUNT}.Core" in feed.until(lambda m: m["topic"] == "spl")["args"]
        assert by_topic(feed.ask('str+{"realtimeUpdatesOnly":true}'), "str") == []

        api.prime()
        limit = round(last - 2.0, 2)
        order = buy("stream-1", quantity=10, orderType="LMT", price=limit)
        order_id = place_and_confirm(api, order)
        [working] = by_topic(feed.sync(), "sor")
        assert [(o["orderId"], o["order_ref"], o["status"]) for o in working["args"]] == [
            (int(order_id), "stream-1", "Submitted")
        ]

        gateway.set_price(AAPL, limit - 1.0)
        news = feed.sync()
        [orders] = by_topic(news, "sor")
        [filled] = orders["args"]
        assert filled["status"] == "Filled"
        assert filled["order_ref"] == "stream-1"
        assert filled["side"] == "BUY"
        assert (filled["filledQuantity"], filled["remainingQuantity"]) == (10, 0)
        assert float(filled["avgPrice"]) <= limit
        [trades] = by_topic(news, "str")
        assert [(t["order_ref"], t["size"]) for t in trades["args"]] == [("stream-1", 10)]
        [pnl] = by_topic(news, "spl")
        row = pnl["args"][f"{ACCOUNT}.Core"]
        assert row["rowType"] == 1
        assert {"dpl", "upl", "nl"} <= set(row)

        assert "sor" not in topics(feed.advance(60))  # a filled order says it once
        assert gateway.executions_by_coid() == {"stream-1": 1}


def test_sor_starts_with_the_days_orders(
    gateway: SimulatedGateway, api: Api, clock: ManualClock
) -> None:
    api.prime()
    api.get("/iserver/marketdata/snapshot", params={"conids": str(AAPL), "fields": "31"})
    order = buy("before", quantity=1, orderType="MKT")
    place_and_confirm(api, order)
    with stream(gateway, api, clock) as feed:
        feed.send("sor+{}")
        first = feed.until(lambda m: m["topic"] == "sor")["args"]
        assert [(o["order_ref"], o["status"]) for o in first] == [("before", "Filled")]
        feed.ask("uor+{}")
        place_and_confirm(api, {**order, "cOID": "after"})
        assert "sor" not in topics(feed.sync())


# -- dark periods --------------------------------------------------------------------------------


def assert_dark_then_back(feed: Feed, api: Api, gateway: SimulatedGateway) -> None:
    """No data while dark (asking again changes nothing); after ssodh/init no "restored"
    message, and data only after subscribing again."""
    feed.send(f'smd+{AAPL}+{{"fields":["31"]}}')
    dark = feed.advance(120)
    assert quotes_of(dark) == []
    assert "system" in topics(dark)  # heartbeats go on: the socket is open
    reauthenticate(api)
    back = feed.advance(60)
    assert quotes_of(back) == []  # the subscription died with the session
    assert "sts" not in topics(back)  # and nothing says the session is back
    assert "31" in subscribe_quotes(feed, AAPL, ["31"])


def test_expired_brokerage_session_goes_dark_with_sts(
    gateway: SimulatedGateway, api: Api, clock: ManualClock
) -> None:
    with stream(gateway, api, clock) as feed:
        subscribe_quotes(feed, AAPL, ["31"])
        feed.send("sor+{}")
        gateway.expire_brokerage()
        status = feed.until(lambda m: m["topic"] == "sts")
        assert status["args"]["authenticated"] is False
        assert status["args"]["competing"] is False
        assert_dark_then_back(feed, api, gateway)


def test_a_competing_login_goes_dark_with_sts(
    gateway: SimulatedGateway, api: Api, clock: ManualClock
) -> None:
    with stream(gateway, api, clock) as feed:
        subscribe_quotes(feed, AAPL, ["31"])
        gateway.start_competing()
        status = feed.until(lambda m: m["topic"] == "sts")
        assert (status["args"]["authenticated"], status["args"]["competing"]) == (False, True)
        feed.send(f'smd+{AAPL}+{{"fields":["31"]}}')
        assert quotes_of(feed.advance(120)) == []
        gateway.stop_competing()
        assert_dark_then_back(feed, api, gateway)


def test_the_nightly_reset_goes_dark_with_sts(
    make_gateway: Callable[..., SimulatedGateway], clock: ManualClock
) -> None:
    clock.set(RESET_START - dt.timedelta(minutes=1))
    gateway = make_gateway(reset_minutes=5)
    api = Api(gateway)
    with stream(gateway, api, clock) as feed:
        subscribe_quotes(feed, AAPL, ["31"])
        status = [m for m in feed.advance(61) if m["topic"] == "sts"]
        assert [s["args"]["authenticated"] for s in status] == [False]
        feed.send("tic")
        assert quotes_of(feed.advance(60)) == []
        assert api.post("/iserver/auth/ssodh/init", json={"publish": True}).status_code == 503
        feed.send("tic")
        feed.advance(240)  # the window is over
        assert_dark_then_back(feed, api, gateway)


# -- faults ----------------------------------------------------------------------------------------


def test_drop_streams_cuts_every_socket_without_a_goodbye(
    gateway: SimulatedGateway, api: Api, clock: ManualClock
) -> None:
    with stream(gateway, api, clock) as one, stream(gateway, api, clock) as two:
        assert gateway.open_streams == 2
        assert gateway.drop_streams() == 2
        for feed in (one, two):
            with pytest.raises(ConnectionClosedError) as closed:
                feed.next()
            assert closed.value.rcvd is None  # no close frame: dropped, not closed
        assert gateway.open_streams == 0
    with stream(gateway, api, clock) as again:  # a new connection is served
        assert topics(again.advance(10)) == ["system"]


def test_a_gateway_going_down_cuts_the_streams_and_up_serves_new_ones(
    gateway: SimulatedGateway, api: Api, clock: ManualClock
) -> None:
    with stream(gateway, api, clock) as feed:
        gateway.down()
        with pytest.raises(ConnectionClosedError):
            read_until_closed(feed)
    gateway.up()
    with stream(gateway, api, clock) as again:
        assert "31" in subscribe_quotes(again, AAPL, ["31"])


def test_silence_streams_keeps_the_socket_open_but_mute(
    gateway: SimulatedGateway, api: Api, clock: ManualClock
) -> None:
    with stream(gateway, api, clock) as feed:
        subscribe_quotes(feed, AAPL, ["31", "7762"])
        assert gateway.silence_streams(60) == 1
        clock.advance(30)
        feed.send("ech+hb")
        with pytest.raises(TimeoutError):
            feed.next(timeout=0.3)  # no heartbeat, no quote, no echo: a half-open socket
        assert gateway.open_streams == 1
        with stream(gateway, api, clock) as fresh:  # a new socket is not muted
            assert topics(fresh.advance(10)) == ["system"]
        clock.advance(20)  # 60 s in all: it speaks again
        resumed = feed.sync()
        assert "system" in topics(resumed)
        assert quotes_of(resumed) != []


def stream_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]


def read_until_closed(feed: Feed) -> None:
    while True:
        feed.next()


def test_stop_closes_the_streams(
    make_gateway: Callable[..., SimulatedGateway], clock: ManualClock
) -> None:
    gateway = make_gateway()
    api = Api(gateway)
    with stream(gateway, api, clock) as feed:
        assert len(stream_threads()) == 1
        gateway.stop()
        with pytest.raises(ConnectionClosed):
            read_until_closed(feed)
        assert gateway.open_streams == 0
    assert stream_threads() == []  # stop waited for the stream's thread
