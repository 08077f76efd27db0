"""The gateway is lenient the way the real one is, and strict where IBKR is."""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Iterator

import pytest

from ibkr_sim import SimulatedGateway
from tests.integration.sim.conftest import Api

HISTORY = "/iserver/marketdata/history"


def _raw_request(gateway: SimulatedGateway, method: str, path: str) -> tuple[int, bytes]:
    """A request with no body and no Content-Length, over TLS verified against the
    gateway's own certificate."""
    context = ssl.create_default_context(cadata=gateway.certificate_pem.decode())
    host, port = gateway.url.removeprefix("https://").rsplit(":", 1)
    connection = http.client.HTTPSConnection(host, int(port), context=context, timeout=5)
    try:
        connection.putrequest(method, "/v1/api" + path)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/iserver/auth/status"), ("POST", "/tickle"), ("POST", "/iserver/reauthenticate")],
)
def test_body_less_posts_without_content_length(
    gateway: SimulatedGateway, method: str, path: str
) -> None:
    status, body = _raw_request(gateway, method, path)
    assert status == 200
    assert isinstance(json.loads(body), dict)


def test_chunked_json_body(api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"publish": tr'
        yield b'ue, "compete": false}'

    answer = api.post("/iserver/auth/ssodh/init", data=chunks())
    assert answer.json()["authenticated"] is True


@pytest.mark.parametrize("flag", ["true", "True", "false", "False"])
def test_query_booleans_in_either_case(api: Api, flag: str) -> None:
    api.prime()
    answer = api.get(HISTORY, params={"conid": "265598", "bar": "1h", "outsideRth": flag})
    assert answer.json()["outsideRth"] is (flag.lower() == "true")


def test_bad_input_gets_ibkr_errors(api: Api) -> None:
    api.prime()
    cases = [
        api.get(HISTORY, params={"conid": "265598", "bar": "1h", "outsideRth": "maybe"}),
        api.get(HISTORY, params={"conid": "AAPL", "bar": "1h"}),
        api.get("/iserver/marketdata/snapshot", params={"fields": "31"}),
        api.get(
            "/iserver/marketdata/snapshot",
            params={"conids": ",".join(str(n) for n in range(1, 102)), "fields": "31"},
        ),
        api.post("/iserver/auth/ssodh/init", data=b"{not json"),
        api.get("/iserver/secdef/search"),
    ]
    for answer in cases:
        assert answer.status_code == 400, answer.url
        body = answer.json()
        assert body["statusCode"] == 400
        assert body["error"].startswith("Bad Request: ")


def test_search_answers_get_and_post_alike(api: Api) -> None:
    by_get = api.get("/iserver/secdef/search", params={"symbol": "AAPL"}).json()
    by_post = api.post("/iserver/secdef/search", json={"symbol": "AAPL"}).json()
    assert by_get == by_post
    assert by_get[0]["conid"] == "265598"
