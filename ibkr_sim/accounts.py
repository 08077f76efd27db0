"""The account lists: ``/portfolio/accounts`` and ``/iserver/accounts``, recorded shapes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["iserver_accounts", "portfolio_accounts"]

_OPENED_MS = 1769922000000
_ASSET_TYPES = (
    "STK,CFD,OPT,FOP,WAR,FUT,BAG,PDC,CASH,IND,BOND,BILL,FUND,SLB,News,CMDTY,IOPT,ICU,ICS,"
    "PHYSS,CRYPTO"
)


def portfolio_accounts(accounts: Sequence[str]) -> list[dict[str, Any]]:
    """``GET /portfolio/accounts`` (and, same shape, ``/portfolio/subaccounts``)."""
    return [
        {
            "id": account,
            "PrepaidCrypto-Z": False,
            "PrepaidCrypto-P": False,
            "brokerageAccess": True,
            "accountId": account,
            "accountVan": account,
            "accountTitle": "Simulated Trader",
            "displayName": "Simulated Trader",
            "accountAlias": None,
            "accountStatus": _OPENED_MS,
            "currency": "USD",
            "type": "DEMO",
            "tradingType": "STKNOPT",
            "businessType": "INDEPENDENT",
            "category": "",
            "ibEntity": "IBLLC-US",
            "faclient": False,
            "clearingStatus": "O",
            "covestor": False,
            "noClientTrading": False,
            "trackVirtualFXPortfolio": False,
            "acctCustType": "INDIVIDUAL",
            "parent": {
                "mmc": [],
                "accountId": "",
                "isMParent": False,
                "isMChild": False,
                "isMultiplex": False,
            },
            "desc": account,
        }
        for account in accounts
    ]


def iserver_accounts(accounts: Sequence[str], selected: str) -> dict[str, Any]:
    """``GET /iserver/accounts``: the brokerage session's accounts and the selected one."""
    return {
        "accounts": list(accounts),
        "acctProps": {
            account: {
                "hasChildAccounts": False,
                "supportsCashQty": True,
                "liteUnderPro": False,
                "noFXConv": False,
                "isProp": False,
                "supportsFractions": True,
                "allowCustomerTime": False,
                "autoFx": False,
            }
            for account in accounts
        },
        "aliases": {account: account for account in accounts},
        "allowFeatures": {
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
            "allowedAssetTypes": _ASSET_TYPES,
            "restrictTradeSubscription": False,
            "showUkUserLabels": False,
            "sideBySide": True,
        },
        "chartPeriods": {
            **{key: ["*"] for key in ("STK", "CFD", "WAR", "IOPT", "FUT", "CASH", "IND")},
            **{key: ["*"] for key in ("BOND", "FUND", "CMDTY", "PHYSS", "CRYPTO")},
            "OPT": ["2h", "1d", "2d", "1w", "1m"],
            "FOP": ["2h", "1d", "2d", "1w", "1m"],
        },
        "groups": [],
        "profiles": [],
        "selectedAccount": selected,
        "serverInfo": {
            "serverName": "SimServer01",
            "serverVersion": "Build 10.44.1d, simulated",
        },
        "sessionId": "sim-session",
        "isFT": False,
        "isPaper": True,
    }
