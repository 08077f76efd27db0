"""The brokerage session's account summary: ``/iserver/account/{acct}/summary`` and its
sub-pages (``balances``, ``margins``, ``market_value``, ``available_funds``), from a
``Portfolio``. Shapes follow the examples of IBKR's spec: the summary has numbers, the
sub-pages strings like ``"1,288,301 USD"`` per segment (``total``, ``securities``,
``commodities``, ``Crypto at Paxos``). The simulator has no commodities segment (futures
are counted with the securities) and no crypto.
"""

from __future__ import annotations

from typing import Any

from ibkr_sim.portfolio import Portfolio

__all__ = ["SUMMARY_PAGES", "account_summary", "summary_page"]

_LEVERAGE = 4.0
_TOTAL = "Total (in USD)"
SUMMARY_PAGES = ("available_funds", "balances", "margins", "market_value")
_TOTAL_ONLY = frozenset({"leverage", "Lk Ahd Nxt Chng", "day_trades_left", "buying_power"})


def account_summary(portfolio: Portfolio) -> dict[str, Any]:
    """``GET /iserver/account/{acct}/summary``."""
    totals = portfolio.totals()
    balances = [
        {"currency": ccy, "balance": round(amount, 2), "settledCash": round(amount, 2)}
        for ccy, amount in portfolio.cash_balances().items()
    ]
    balances.append(
        {"currency": _TOTAL, "balance": round(totals.cash, 2), "settledCash": round(totals.cash, 2)}
    )
    return {
        "accountType": "",
        "status": "",
        "balance": round(totals.cash, 2),
        "SMA": round(totals.available, 2),
        "buyingPower": round(totals.available * _LEVERAGE, 2),
        "availableFunds": round(totals.available, 2),
        "excessLiquidity": round(totals.available, 2),
        "netLiquidationValue": round(totals.net_liquidation, 2),
        "equityWithLoanValue": round(totals.net_liquidation, 2),
        "regTLoan": 0.0,
        "securitiesGVP": round(totals.gross, 2),
        "totalCashValue": round(totals.cash, 2),
        "accruedInterest": 0.0,
        "regTMargin": 0.0,
        "initialMargin": round(totals.margin, 2),
        "maintenanceMargin": round(totals.margin, 2),
        "cashBalances": balances,
    }


def summary_page(portfolio: Portfolio, page: str, now: float) -> dict[str, Any]:
    """One sub-page of the summary (``page`` in ``SUMMARY_PAGES``)."""
    if page == "market_value":
        return _market_value(portfolio, now)
    totals = portfolio.totals()
    if page == "balances":
        figures = {
            "net_liquidation": totals.net_liquidation,
            "Nt Lqdtn Uncrtnty": 0.0,
            "equity_with_loan": totals.net_liquidation,
            "Prvs Dy Eqty Wth Ln Vl": totals.net_liquidation - totals.daily,
            "Rg T Eqty Wth Ln Vl": totals.net_liquidation,
            "sec_gross_pos_val": totals.gross,
            "cash": totals.cash,
            "MTD Interest": 0.0,
            "Pndng Dbt Crd Chrgs": 0.0,
        }
    elif page == "margins":
        figures = {
            "RegT Margin": totals.margin,
            "current_initial": totals.margin,
            "Prdctd Pst-xpry Mrgn @ Opn": 0.0,
            "current_maint": totals.margin,
            "projected_liquidity_inital_margin": totals.margin,
            "Prjctd Lk Ahd Mntnnc Mrgn": totals.margin,
            "projected_overnight_initial_margin": totals.margin,
            "Prjctd Ovrnght Mntnnc Mrgn": totals.margin,
        }
    else:
        figures = {
            "current_available": totals.available,
            "current_excess": totals.available,
            "Prdctd Pst-xpry Excss": 0.0,
            "SMA": totals.available,
            "Lk Ahd Avlbl Fnds": totals.available,
            "Lk Ahd Excss Lqdty": totals.available,
            "overnight_available": totals.available,
            "overnight_excess": totals.available,
            "buying_power": totals.available * _LEVERAGE,
        }
    total = {key: _usd(value) for key, value in figures.items()}
    if page == "available_funds":
        nl = totals.net_liquidation
        total["leverage"] = f"{totals.gross / nl:.2f}" if nl else "n/a"
        total["Lk Ahd Nxt Chng"] = "@ 16:00:00"
        total["day_trades_left"] = "Unlimited"
    empty = {key: "0 USD" for key in total if key not in _TOTAL_ONLY}
    return {
        "total": total,
        "Crypto at Paxos": dict(empty),
        "commodities": dict(empty),
        "securities": {k: v for k, v in total.items() if k != "buying_power"},
    }


def _market_value(portfolio: Portfolio, now: float) -> dict[str, Any]:
    ledger = portfolio.ledger(now)
    answer: dict[str, Any] = {}
    for currency, entry in ledger.items():
        name = _TOTAL if currency == "BASE" else currency
        answer[name] = {
            "total_cash": _number(entry["cashbalance"]),
            "settled_cash": _number(entry["settledcash"]),
            "MTD Interest": "0",
            "stock": _number(entry["stockmarketvalue"]),
            "options": _number(entry["stockoptionmarketvalue"]),
            "futures": _number(entry["futuremarketvalue"]),
            "future_options": "0",
            "funds": "0",
            "dividends_receivable": "0",
            "mutual_funds": "0",
            "money_market": "0",
            "bonds": "0",
            "Govt Bonds": "0",
            "t_bills": "0",
            "warrants": "0",
            "issuer_option": "0",
            "commodity": "0",
            "Notional CFD": "0",
            "cfd": "0",
            "Cryptocurrency": "0",
            "net_liquidation": _number(entry["netliquidationvalue"]),
            "unrealized_pnl": _number(entry["unrealizedpnl"]),
            "realized_pnl": _number(entry["realizedpnl"]),
            "Exchange Rate": f"{float(entry['exchangerate']):.2f}"
            if currency in ("USD", "BASE")
            else f"{float(entry['exchangerate']):.7g}",
        }
    return answer


def _number(value: float) -> str:
    return f"{value:,.0f}"


def _usd(value: float) -> str:
    return f"{value:,.0f} USD"
