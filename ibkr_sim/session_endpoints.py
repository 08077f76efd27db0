"""Endpoints about the sessions themselves: tickle, auth status, ssodh/init, priming,
account selection, logout and SSO validation.

Shapes follow the recorded responses (``Session__*``, ``Accounts__*``) and IBKR-FACTS §1;
``/tickle`` adds the fields a local gateway sends (``ssoExpires``, ``collission``,
``userId``).
"""

from __future__ import annotations

import datetime as _dt

from ibkr_sim.book import Broker
from ibkr_sim.replies import Reply, error_reply, json_reply
from ibkr_sim.routing import Access, Call, Route, parse_bool
from ibkr_sim.session_model import AccountSelection, SessionModel

__all__ = ["SessionEndpoints"]

_USER_ID = 12345678
_USER_NAME = "simuser1"


class SessionEndpoints:
    """Answers of the session endpoints, reading and driving the ``SessionModel``."""

    def __init__(self, session: SessionModel, broker: Broker) -> None:
        self._session = session
        self._broker = broker

    def routes(self) -> list[Route]:
        auth = Access.BROKERAGE_AUTH
        return [
            Route("POST", "/tickle", self.tickle, Access.TICKLE),
            Route("POST", "/iserver/auth/status", self.auth_status, auth),
            Route("GET", "/iserver/auth/status", self.auth_status, auth),
            Route("POST", "/iserver/auth/ssodh/init", self.ssodh_init, auth),
            Route("POST", "/iserver/reauthenticate", self.reauthenticate, auth),
            Route("GET", "/iserver/accounts", self.iserver_accounts, Access.BROKERAGE),
            Route("POST", "/iserver/account", self.select_account, Access.BROKERAGE),
            Route("POST", "/logout", self.logout, Access.SSO),
            Route("GET", "/sso/validate", self.sso_validate, Access.SSO),
        ]

    def tickle(self, call: Call) -> Reply:
        status = self._session.auth_status(with_fail=False)
        return json_reply(
            {
                "session": self._session.sso_session_id,
                "ssoExpires": self._session.sso_expires_ms(),
                "collission": self._session.competing,
                "userId": _USER_ID,
                "hmds": {"error": "no bridge"},
                "iserver": {"authStatus": status},
            }
        )

    def auth_status(self, call: Call) -> Reply:
        return json_reply(self._session.auth_status())

    def ssodh_init(self, call: Call) -> Reply:
        body = call.json_object()
        if not parse_bool(body.get("publish"), "publish", default=False):
            return error_reply(500, "publish must be true", with_status_code=False)
        self._session.init_brokerage(
            compete=parse_bool(body.get("compete"), "compete", default=False)
        )
        return json_reply(self._session.auth_status(with_fail=False))

    def reauthenticate(self, call: Call) -> Reply:
        """Deprecated by IBKR but still served: it triggers an ssodh/init."""
        self._session.init_brokerage(compete=False)
        return json_reply({"message": "triggered"})

    def iserver_accounts(self, call: Call) -> Reply:
        """Priming: after this, orders, order lists and snapshots are served."""
        self._session.prime()
        return json_reply(self._broker.iserver_accounts(self._session.selected_account))

    def select_account(self, call: Call) -> Reply:
        account_id = str(call.json_object().get("acctId", ""))
        outcome = self._session.select_account(account_id)
        if outcome is AccountSelection.INVALID:
            return error_reply(500, "Invalid account ID", with_status_code=False)
        if outcome is AccountSelection.ALREADY_SET:
            return json_reply({"success": "Account already set"})
        return json_reply({"set": True, "acctId": account_id})

    def logout(self, call: Call) -> Reply:
        self._session.logout()
        return json_reply({"status": True})

    def sso_validate(self, call: Call) -> Reply:
        return json_reply(
            {
                "USER_ID": _USER_ID,
                "USER_NAME": _USER_NAME,
                "RESULT": True,
                "AUTH_TIME": _epoch_ms(self._session.sso_login_at),
                "SF_ENABLED": False,
                "IS_FREE_TRIAL": False,
                "CREDENTIAL": _USER_NAME,
                "IP": "127.0.0.1",
                "EXPIRES": self._session.sso_expires_ms(),
                "QUALIFIED_FOR_MOBILE_AUTH": None,
                "LANDING_APP": "UNIVERSAL",
                "IS_MASTER": False,
                "lastAccessed": _epoch_ms(self._session.last_request_at),
                "LOGIN_TYPE": 2,
                "PAPER_USER_NAME": _USER_NAME,
                "features": {"env": "PROD", "realtime": True, "optionChains": True},
                "region": "NJ",
            }
        )


def _epoch_ms(when: _dt.datetime) -> int:
    return int(when.timestamp() * 1000)
