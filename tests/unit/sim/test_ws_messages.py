"""The WebSocket's text messages: how the simulator reads what clients send, and the
shapes it answers with (IBKR-FACTS §3a)."""

from __future__ import annotations

import json
import urllib.parse

import pytest

from ibkr_sim import ws_messages as msg
from ibkr_sim.ws_messages import Command, parse_command, session_cookie


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('smd+265598+{"fields":["31","84"]}', Command("smd", 265598, {"fields": ["31", "84"]})),
        ("umd+265598+{}", Command("umd", 265598, {})),
        ("sor+{}", Command("sor")),
        ("uor+{}", Command("uor")),
        ("spl+{}", Command("spl")),
        ('str+{"days":2}', Command("str", None, {"days": 2})),
        ("utr", Command("utr")),
        ("tic", Command("tic")),
        ("ech+hb", Command("ech", None, {"echo": "hb"})),
    ],
)
def test_client_commands_are_read(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "topic"),
    [("smd+AAPL+{}", "smd"), ("smd+265598+{not json", "smd"), ("hello there", "hello there")],
)
def test_garbage_is_read_leniently_and_never_raises(text: str, topic: str) -> None:
    command = parse_command(text)
    assert command.topic == topic
    assert command.args == {}


def test_a_quote_subscription_with_a_bad_conid_has_none() -> None:
    assert parse_command("smd+AAPL+{}").conid is None


def test_the_session_cookie_is_found_raw_encoded_or_among_others() -> None:
    raw = 'api={"session":"abc123"}'
    encoded = "api=" + urllib.parse.quote('{"session":"abc123"}')
    assert session_cookie([raw]) == "abc123"
    assert session_cookie([encoded]) == "abc123"
    assert session_cookie([f"x=1; {raw}; y=2"]) == "abc123"
    assert session_cookie(["other=1", raw]) == "abc123"


@pytest.mark.parametrize(
    "headers", [[], ["x=1"], ["api=abc123"], ['api={"token":"abc"}'], ['api={"session":1}']]
)
def test_no_session_cookie_without_the_json_form(headers: list[str]) -> None:
    assert session_cookie(headers) is None


def test_answers_are_compact_json_with_a_topic() -> None:
    text = msg.encode(msg.heartbeat(1_767_625_200_000))
    assert text == '{"topic":"system","hb":1767625200000}'
    quote = msg.market_data(265598, {"conid": 265598, "31": "245.09", "_updated": 1})
    assert quote == {"topic": "smd+265598", "conid": 265598, "31": "245.09", "_updated": 1}
    pnl = msg.pnl({"U1.Core": {"rowType": 1, "dpl": 1.5, "upl": 2.0, "nl": 10.0}})
    assert json.loads(msg.encode(pnl)) == {
        "topic": "spl",
        "args": {"U1.Core": {"rowType": 1, "dpl": 1.5, "upl": 2.0, "nl": 10.0}},
    }


def test_status_carries_the_session_flags() -> None:
    status = msg.status(
        authenticated=False, competing=True, connected=True, server_info={"serverName": "S1"}
    )
    assert status["topic"] == "sts"
    assert status["args"]["authenticated"] is False
    assert status["args"]["competing"] is True
    assert status["args"]["serverName"] == "S1"
