"""The simulator's pacing table: every row of IBKR-FACTS §3 is a budget of its own."""

from __future__ import annotations

import pytest

from ibkr_sim.pacing import ServerPacing


def admitted(pacing: ServerPacing, method: str, path: str, now: float) -> bool:
    return pacing.admit(method, path, now).admitted


def test_accounts_and_subaccounts_have_separate_budgets() -> None:
    pacing = ServerPacing(penalty_seconds=600.0)
    assert admitted(pacing, "GET", "/portfolio/accounts", 0.0)
    assert admitted(pacing, "GET", "/portfolio/subaccounts", 0.3)
    assert admitted(pacing, "POST", "/iserver/auth/status", 0.5)  # no penalty box followed


def test_a_second_accounts_list_within_five_seconds_is_refused() -> None:
    pacing = ServerPacing(penalty_seconds=600.0)
    assert admitted(pacing, "GET", "/portfolio/subaccounts", 0.0)
    assert not admitted(pacing, "GET", "/portfolio/subaccounts", 4.9)


@pytest.mark.parametrize(
    ("method", "path", "seconds"),
    [
        ("GET", "/iserver/account/trades", 5.0),
        ("GET", "/iserver/account/pnl/partitioned", 5.0),
        ("GET", "/iserver/scanner/params", 900.0),
        ("POST", "/iserver/scanner/run", 1.0),
        ("POST", "/pa/performance", 900.0),
        ("POST", "/pa/summary", 900.0),
        ("POST", "/pa/transactions", 900.0),
        ("GET", "/fyi/notifications", 1.0),
        ("GET", "/sso/validate", 60.0),
    ],
)
def test_each_row_admits_one_request_per_window(method: str, path: str, seconds: float) -> None:
    pacing = ServerPacing(penalty_seconds=0.0)
    assert admitted(pacing, method, path, 0.0)
    assert not admitted(pacing, method, path, seconds * 0.99)
    assert admitted(pacing, method, path, seconds * 1.01)


def test_every_fyi_path_has_its_own_budget() -> None:
    pacing = ServerPacing(penalty_seconds=600.0)
    for index, path in enumerate(["/fyi/unreadnumber", "/fyi/settings", "/fyi/notifications"]):
        assert admitted(pacing, "GET", path, index * 0.1), path
    assert not admitted(pacing, "GET", "/fyi/settings", 0.5)


def test_the_pa_rows_do_not_share_a_budget() -> None:
    pacing = ServerPacing(penalty_seconds=600.0)
    assert admitted(pacing, "POST", "/pa/performance", 0.0)
    assert admitted(pacing, "POST", "/pa/transactions", 0.2)
    assert admitted(pacing, "POST", "/pa/summary", 0.4)
