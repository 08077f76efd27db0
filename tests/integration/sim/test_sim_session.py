"""The session model as a client meets it: login state, priming, account selection,
idle expiry with ssodh/init recovery, competing logins and take-over."""

from __future__ import annotations

from collections.abc import Callable

from ibkr_session.clock import ManualClock
from ibkr_sim import SimulatedGateway
from tests.integration.sim.conftest import ACCOUNT, Api

SNAPSHOT = "/iserver/marketdata/snapshot"  # one of the endpoints that need priming
QUOTE = {"conids": "265598", "fields": "31"}


def test_starts_logged_in_but_not_primed(api: Api) -> None:
    status = api.post("/iserver/auth/status").json()
    assert (status["authenticated"], status["connected"], status["competing"]) == (
        True,
        True,
        False,
    )
    refused = api.get(SNAPSHOT, params=QUOTE)
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "Bad Request: Please query /accounts first",
        "statusCode": 400,
    }
    api.prime()
    assert api.get(SNAPSHOT, params=QUOTE).status_code == 200


def test_without_sso_everything_is_401_empty_but_tickle(
    make_gateway: Callable[..., SimulatedGateway],
) -> None:
    api = Api(make_gateway(logged_in=False))
    for method, path in [
        ("GET", "/iserver/accounts"),
        ("POST", "/iserver/auth/status"),
        ("GET", "/portfolio/accounts"),
        ("GET", "/sso/validate"),
    ]:
        answer = api.request(method, path)
        assert answer.status_code == 401, path
        assert answer.content == b""
        assert answer.headers["Content-Type"].startswith("text/plain")
    tickle = api.post("/tickle")
    assert (tickle.status_code, tickle.json()) == (200, {"error": "no session"})


def test_login_and_logout_are_controlled_from_python(
    make_gateway: Callable[..., SimulatedGateway],
) -> None:
    gateway = make_gateway(logged_in=False)
    api = Api(gateway)
    gateway.login()
    assert api.post("/tickle").json()["iserver"]["authStatus"]["authenticated"] is True
    assert api.post("/logout").json() == {"status": True}
    assert api.get("/iserver/accounts").status_code == 401


def test_unknown_route_is_an_html_404(api: Api) -> None:
    for path in ["/iserver/nonsense", "/portfolio"]:
        answer = api.get(path)
        assert answer.status_code == 404
        assert answer.headers["Content-Type"].startswith("text/html")
        assert "404" in answer.text
    outside = api.http.get(api.base.removesuffix("/v1/api") + "/index.html", timeout=5)
    assert outside.status_code == 404


def test_account_selection_answers(api: Api) -> None:
    api.prime()
    assert api.post("/iserver/account", json={"acctId": ACCOUNT}).json() == {
        "success": "Account already set"
    }
    invalid = api.post("/iserver/account", json={"acctId": "U0000000"})
    assert (invalid.status_code, invalid.json()) == (500, {"error": "Invalid account ID"})


def test_switching_between_accounts(make_gateway: Callable[..., SimulatedGateway]) -> None:
    api = Api(make_gateway(accounts=(ACCOUNT, "U7654321")))
    api.prime()
    assert api.post("/iserver/account", json={"acctId": "U7654321"}).json() == {
        "set": True,
        "acctId": "U7654321",
    }
    assert api.get("/iserver/accounts").json()["selectedAccount"] == "U7654321"


def test_idle_timeout_drops_the_brokerage_session_until_ssodh_init(
    api: Api, clock: ManualClock
) -> None:
    api.prime()
    clock.advance(359)
    assert api.post("/tickle").status_code == 200  # activity renews the idle window
    clock.advance(359)
    assert api.post("/iserver/auth/status").json()["authenticated"] is True
    clock.advance(361)
    status = api.post("/iserver/auth/status").json()
    assert (status["authenticated"], status["connected"]) == (False, True)
    assert api.get(SNAPSHOT, params=QUOTE).status_code == 401
    assert api.get("/portfolio/accounts").status_code == 200  # the SSO session lives on

    assert api.post("/iserver/auth/ssodh/init").status_code == 500  # publish missing
    assert api.post("/iserver/auth/ssodh/init", json={"publish": False}).status_code == 500
    init = api.post("/iserver/auth/ssodh/init", json={"publish": True, "compete": False})
    assert init.json()["authenticated"] is True
    assert api.get(SNAPSHOT, params=QUOTE).status_code == 400  # priming again
    api.prime()
    assert api.get(SNAPSHOT, params=QUOTE).status_code == 200


def test_expire_brokerage_forces_the_idle_expiry(gateway: SimulatedGateway, api: Api) -> None:
    gateway.expire_brokerage()
    assert api.post("/tickle").json()["iserver"]["authStatus"]["authenticated"] is False
    assert api.post("/iserver/reauthenticate").json() == {"message": "triggered"}
    assert api.post("/iserver/auth/status").json()["authenticated"] is True


def test_competing_login_blocks_iserver_until_take_over(
    gateway: SimulatedGateway, api: Api
) -> None:
    api.prime()
    gateway.start_competing()
    status = api.get("/iserver/auth/status").json()
    assert (status["competing"], status["authenticated"]) == (True, False)
    assert api.post("/tickle").json()["collission"] is True
    blocked = api.get("/iserver/accounts")
    assert (blocked.status_code, blocked.json()) == (
        400,
        {"error": "Bad Request: no bridge", "statusCode": 400},
    )
    polite = api.post("/iserver/auth/ssodh/init", json={"publish": True, "compete": False})
    assert polite.json()["competing"] is True

    taken = api.post("/iserver/auth/ssodh/init", json={"publish": True, "compete": True})
    assert (taken.json()["competing"], taken.json()["authenticated"]) == (False, True)
    gateway.stop_competing()  # moot: the other platform was already kicked out
    api.prime()
    assert api.get(SNAPSHOT, params=QUOTE).status_code == 200


def test_competitor_leaving_still_needs_ssodh_init(gateway: SimulatedGateway, api: Api) -> None:
    gateway.start_competing()
    gateway.stop_competing()
    status = api.post("/iserver/auth/status").json()
    assert (status["competing"], status["authenticated"]) == (False, False)
    api.post("/iserver/auth/ssodh/init", json={"publish": "true"})
    assert api.post("/iserver/auth/status").json()["authenticated"] is True


def test_every_request_is_recorded(api: Api, gateway: SimulatedGateway, clock: ManualClock) -> None:
    api.post("/tickle")
    clock.advance(1)
    api.get("/iserver/marketdata/snapshot", params={"conids": "265598", "fields": "31"})
    api.get("/nowhere")
    log = gateway.requests
    assert [(r.method, r.path, r.status) for r in log] == [
        ("POST", "/tickle", 200),
        ("GET", "/iserver/marketdata/snapshot", 400),
        ("GET", "/nowhere", 404),
    ]
    assert log[1].query == {"conids": "265598", "fields": "31"}
    assert log[1].time == log[0].time.replace(second=1)


def test_a_new_login_replaces_the_brokerage_session(gateway: SimulatedGateway, api: Api) -> None:
    api.prime()
    api.get(SNAPSHOT, params=QUOTE)  # the pre-flight
    assert "31" in api.get(SNAPSHOT, params=QUOTE).json()[0]
    gateway.login()
    assert api.get(SNAPSHOT, params=QUOTE).status_code == 400  # unprimed again
    api.prime()
    assert api.get(SNAPSHOT, params=QUOTE).json() == [{"conid": 265598, "conidEx": "265598"}]
