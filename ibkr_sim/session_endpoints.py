"""Endpoints about the sessions themselves: tickle, auth status, ssodh/init, priming,
account selection, logout and SSO validation.

Shapes follow the recorded responses (``Session__*``, ``Accounts__*``) and IBKR-FACTS §1;
``/tickle`` adds the fields a local gateway sends (``ssoExpires``, ``collission``,
``userId``).
"""

from __future__ import annotations

import datetime as _dt

from ibkr_sim.replies import Reply, error_reply, json_reply
from ibkr_sim.routing import Access, Call, Route, parse_bool
from ibkr_sim.session_model import AccountSelection, SessionModel

__all__ = ["NO_SESSION", "SessionEndpoints"]

NO_SESSION: dict[str, object] = {"error": "no session"}
_USER_ID = 12345678
_USER_NAME = "simuser1"

_ACCOUNT_PROPS: dict[str, object] = {
    "hasChildAccounts": False,
    "supportsCashQty": True,
    "liteUnderPro": False,
    "noFXConv": False,
    "isProp": False,
    "supportsFractions": True,
    "allowCustomerTime": False,
    "autoFx": False,
}
_ALLOW_FEATURES: dict[str, object] = {
    "showGFIS": True,
    "showEUCostReport": False,
    "allowEventContract": False,
    "allowFXConv": True,
    "allowFinancialLens": False,
    "allowMTA": True,
    "allowTypeAhead": True,
    "allowEventTrading": False,
    "snapshotRefreshTimeout": 30,
    "liteUser": False,
    "showWebNews": True,
    "research": True,
    "debugPnl": True,
    "showTaxOpt": True,
    "showImpactDashboard": True,
    "allowDynAccount": False,
    "allowCrypto": False,
    "allowFA": False,
    "allowLiteUnderPro": False,
    "allowedAssetTypes": "STK,CFD,OPT,FOP,WAR,FUT,BAG,PDC,CASH,IND,BOND,BILL,FUND,SLB,News,CMDTY",
    "restrictTradeSubscription": False,
    "showUkUserLabels": False,
    "sideBySide": True,
}
_CHART_PERIODS: dict[str, list[str]] = {
    "STK": ["*"],
    "CFD": ["*"],
    "OPT": ["2h", "1d", "2d", "1w", "1m"],
    "FOP": ["2h", "1d", "2d", "1w", "1m"],
    "WAR": ["*"],
    "IOPT": ["*"],
    "FUT": ["*"],
    "CASH": ["*"],
    "IND": ["*"],
    "BOND": ["*"],
    "FUND": ["*"],
    "CMDTY": ["*"],
    "PHYSS": ["*"],
    "CRYPTO": ["*"],
}


class SessionEndpoints:
    """Answers of the session endpoints, reading and driving the ``SessionModel``."""

    def __init__(self, session: SessionModel) -> None:
        self._session = session

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
        self._session.prime()
        accounts = list(self._session.accounts)
        return json_reply(
            {
                "accounts": accounts,
                "acctProps": {account: dict(_ACCOUNT_PROPS) for account in accounts},
                "aliases": {account: account for account in accounts},
                "allowFeatures": dict(_ALLOW_FEATURES),
                "chartPeriods": {kind: list(periods) for kind, periods in _CHART_PERIODS.items()},
                "groups": [],
                "profiles": [],
                "selectedAccount": self._session.selected_account,
                "serverInfo": self._session.server_info,
                "sessionId": self._session.sso_session_id,
                "isFT": False,
                "isPaper": True,
            }
        )

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
