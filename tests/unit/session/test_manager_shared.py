"""Managers of one gateway sharing a coordinator: one tickler, one recovery, one priming.

Two managers in one process share a ``Coordinator`` over a ``MemoryStore``, as processes
share one over a file or Redis (tests/integration/coordination runs those).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import requests

from ibkr_session import ManualClock, SessionManager, SessionState
from ibkr_session.coordination import Coordinator, MemoryStore, Wait
from ibkr_session.errors import GatewayUnreachableError, NotAuthenticatedError, RateLimitedError
from tests.unit.session.session_fakes import URL, FakeGateway, auth_body

S = SessionState
Make = Callable[..., SessionManager]


@pytest.fixture
def shared() -> Coordinator:
    return Coordinator(MemoryStore(), namespace=URL)


@pytest.fixture
def peer(make_manager: Make, shared: Coordinator) -> Make:
    """A manager of the gateway sharing ``shared``'s store, as another process would."""

    def make(**options: object) -> SessionManager:
        return make_manager(coordination=Coordinator(shared.store, namespace=URL), **options)

    return make


def test_a_disconnected_spell_does_not_start_a_new_brokerage_generation(
    make_manager: Make, gateway: FakeGateway
) -> None:
    gateway.serve_session()
    gateway.on("GET", "/iserver/account/orders", {"orders": []})
    manager = make_manager()
    manager.request("GET", "/iserver/account/orders")
    assert manager.brokerage_generation == 1
    gateway.mock.replace(
        "POST", URL + "/v1/api/iserver/auth/status", body=requests.ConnectionError("refused")
    )
    assert manager.refresh() is S.DISCONNECTED
    gateway.mock.replace("POST", URL + "/v1/api/iserver/auth/status", json=auth_body())
    gateway.forget()
    manager.request("GET", "/iserver/account/orders")
    assert manager.state is S.AUTHENTICATED
    assert manager.brokerage_generation == 1  # the gateway's session lived on
    assert "GET /iserver/accounts" not in gateway.sent()  # so no re-priming


def test_only_one_manager_of_a_gateway_tickles(peer: Make, gateway: FakeGateway) -> None:
    gateway.serve_session()
    first = peer()
    second = peer()
    first.keepalive()
    second.keepalive()
    assert gateway.sent() == ["POST /tickle"]


def test_a_stopped_tickler_hands_the_keepalive_to_another_manager_at_once(
    peer: Make, gateway: FakeGateway, clock: ManualClock
) -> None:
    gateway.serve_session()
    first = peer()
    second = peer()
    first.keepalive()
    first.stop()  # releases the lease
    clock.advance(2)  # /tickle's own row: 1/s for the whole gateway
    second.keepalive()
    assert gateway.sent() == ["POST /tickle", "POST /tickle"]


def test_a_dead_ticklers_lease_runs_out_and_another_manager_takes_over(
    peer: Make, gateway: FakeGateway, clock: ManualClock
) -> None:
    gateway.serve_session()
    first = peer(tickle_interval=60.0)
    second = peer(tickle_interval=60.0)
    first.keepalive()
    clock.advance(61)
    second.keepalive()  # the holder's lease (2 intervals) still runs
    assert gateway.sent() == ["POST /tickle"]
    clock.advance(60)  # the first manager died: nobody renewed its lease
    second.keepalive()
    assert gateway.sent() == ["POST /tickle", "POST /tickle"]


def test_managers_sharing_a_gateway_prime_once_per_generation(
    peer: Make, gateway: FakeGateway
) -> None:
    gateway.serve_session()
    gateway.on("GET", "/iserver/account/orders", {"orders": []})
    first = peer()
    second = peer()
    first.request("GET", "/iserver/account/orders")
    second.request("GET", "/iserver/account/orders")
    assert gateway.sent().count("GET /iserver/accounts") == 1
    assert first.brokerage_generation == second.brokerage_generation == 1


def test_a_429_puts_every_manager_of_the_gateway_in_the_box(
    peer: Make, gateway: FakeGateway
) -> None:
    gateway.serve_session()
    gateway.on("GET", "/portfolio/accounts", {"error": "slow down"}, status=429)
    first = peer()
    second = peer()
    with pytest.raises(RateLimitedError):
        first.request("GET", "/portfolio/accounts")
    gateway.forget()
    with pytest.raises(RateLimitedError, match="nothing was sent"):
        second.request("GET", "/portfolio/U1234567/ledger")  # 60 s box > 30 s max wait
    assert gateway.sent() == []


def test_a_probe_that_fails_before_an_order_reports_the_order_as_not_sent(
    make_manager: Make, gateway: FakeGateway
) -> None:
    gateway.on("POST", "/iserver/auth/status", body=requests.ReadTimeout("probe answer lost"))
    manager = make_manager()
    with pytest.raises(GatewayUnreachableError) as failure:
        manager.request("POST", "/iserver/account/U1234567/orders", json={"orders": []})
    assert failure.value.maybe_sent is False
    assert gateway.sent() == ["POST /iserver/auth/status"]


def test_listeners_may_use_the_session_they_listen_to(
    make_manager: Make, gateway: FakeGateway
) -> None:
    """Listeners run after the lock is released: reading state there cannot deadlock."""
    gateway.serve_session()
    manager = make_manager()
    seen: list[S] = []
    manager.on_transition(lambda old, new, reason: seen.append(manager.state))
    manager.refresh()
    assert seen == [S.AUTHENTICATED]


def test_a_peers_recovery_is_heard_without_recovering_or_priming_again(
    peer: Make, gateway: FakeGateway
) -> None:
    gateway.serve_session()
    gateway.on("GET", "/iserver/account/orders", {"orders": []})
    first = peer()
    second = peer()
    first.request("GET", "/iserver/account/orders")
    second.request("GET", "/iserver/account/orders")
    status = URL + "/v1/api/iserver/auth/status"
    gateway.mock.replace("POST", status, json=auth_body(authenticated=False))
    first.refresh()  # the brokerage session died; the first manager heals it
    gateway.mock.replace("POST", status, json=auth_body())
    first.request("GET", "/iserver/account/orders")
    assert first.brokerage_generation == 2
    gateway.forget()
    second.request("GET", "/iserver/account/orders")  # carries the news
    second.request("GET", "/iserver/account/orders")
    assert second.brokerage_generation == 2
    assert "POST /iserver/auth/ssodh/init" not in gateway.sent()
    assert "GET /iserver/accounts" not in gateway.sent()  # primed once, by the first


def test_a_competing_login_one_manager_saw_is_known_to_the_others(
    peer: Make, gateway: FakeGateway, clock: ManualClock
) -> None:
    gateway.serve_session()
    gateway.on("GET", "/portfolio/U1234567/ledger", {})
    first = peer()
    second = peer()
    first.refresh()
    second.refresh()
    status = URL + "/v1/api/iserver/auth/status"
    gateway.mock.replace("POST", status, json=auth_body(competing=True))
    clock.advance(2)
    assert first.refresh() is S.COMPETING
    second.request("GET", "/portfolio/U1234567/ledger")
    assert second.state is S.COMPETING  # its next /iserver call probes before sending


def test_workers_with_different_accounts_select_theirs_before_account_bound_calls(
    peer: Make, gateway: FakeGateway
) -> None:
    gateway.serve_session()
    gateway.on("GET", "/iserver/account/orders", {"orders": []})
    first = peer()
    second = peer(account_id="U7654321")
    first.request("GET", "/iserver/account/orders")
    gateway.forget()
    second.request("GET", "/iserver/account/orders")
    first.request("GET", "/iserver/account/orders")
    first.request("GET", "/iserver/account/orders")
    selects = [
        gateway.body(index)["acctId"]
        for index, sent in enumerate(gateway.sent())
        if sent == "POST /iserver/account"
    ]
    assert selects == ["U7654321", "U1234567"]  # each switch once, not per call


def test_another_accounts_call_in_flight_holds_a_switch_until_its_answer(
    peer: Make, gateway: FakeGateway, shared: Coordinator, clock: ManualClock
) -> None:
    gateway.serve_session()
    gateway.on("GET", "/iserver/account/orders", {"orders": []})
    first = peer()
    second = peer(account_id="U7654321")
    first.request("GET", "/iserver/account/orders")
    second.refresh()
    other = Coordinator(shared.store, namespace=URL)
    use = other.use_account("U1234567", clock.now().timestamp())  # first's call, in flight
    assert not isinstance(use, Wait)
    done = threading.Event()
    worker = threading.Thread(
        target=lambda: (second.request("GET", "/iserver/account/orders"), done.set())
    )
    gateway.forget()
    worker.start()
    assert not done.wait(0.3)  # the switch to U7654321 waits for the answer
    assert "POST /iserver/account" not in gateway.sent()
    other.done_with_account(use[1])
    assert done.wait(5)
    worker.join(5)
    assert gateway.sent()[-2:] == ["POST /iserver/account", "GET /iserver/account/orders"]


def test_every_request_is_told_to_request_listeners_with_its_outcome(
    make_manager: Make, gateway: FakeGateway
) -> None:
    from ibkr_session.manager import RequestRecord

    gateway.serve_session()
    gateway.on("GET", "/portfolio/accounts", {"error": "slow down"}, status=429)
    manager = make_manager()
    heard: list[RequestRecord] = []
    manager.on_request(heard.append)
    manager.refresh()
    with pytest.raises(RateLimitedError):
        manager.request("GET", "/portfolio/accounts")
    with pytest.raises(RateLimitedError):
        manager.request("GET", "/portfolio/U1234567/ledger")  # the box: our pacer refuses
    assert [(r.endpoint, r.family, r.outcome) for r in heard] == [
        ("auth_status", "session", "ok"),
        ("accounts", "read", "rate_limited"),
        ("ledger", "read", "paced_out"),
    ]


def test_managers_of_one_gateway_alert_once_per_incident(
    peer: Make, gateway: FakeGateway, clock: ManualClock
) -> None:
    for _ in range(2):
        gateway.on("POST", "/tickle", {"error": "no session"})
    gateway.on("POST", "/tickle", {"session": "s", "iserver": {"authStatus": auth_body()}})
    fleet = [peer(), peer()]
    heard: list[tuple[int, str, str]] = []
    for index, manager in enumerate(fleet):
        manager.on_alert(lambda alert, i=index: heard.append((i, alert.status, alert.kind)))
    for manager in fleet:  # both meet the missing login; the fleet says so once
        with pytest.raises(NotAuthenticatedError):
            manager.request("POST", "/tickle")
        clock.advance(2)
    for manager in fleet:  # both see it end; the first one says so
        manager.request("POST", "/tickle")
        clock.advance(2)
    late = peer()  # starts while nothing is open: nothing to say
    late.on_alert(lambda alert: heard.append((2, alert.status, alert.kind)))
    for manager in (*fleet, late):
        assert manager.alerts.flush(timeout=10)
    assert heard == [(0, "raised", "login_required"), (0, "resolved", "login_required")]
    assert all(manager.alerts.open_incidents == {} for manager in (*fleet, late))


def test_a_manager_that_starts_during_an_incident_announces_its_end(
    peer: Make, shared: Coordinator, gateway: FakeGateway
) -> None:
    gateway.serve_session()
    shared.open_incident("login_required", "no session: log in")  # a worker that died
    heard: list[tuple[str, str]] = []
    manager = peer()
    manager.on_alert(lambda alert: heard.append((alert.status, alert.kind)))
    manager.refresh()
    assert manager.alerts.flush(timeout=10)
    assert heard == [("resolved", "login_required")]
    assert shared.incidents() == {}
