"""Portfolio Analyst: ``POST /pa/performance`` and ``POST /pa/transactions``.

The simulator keeps no daily NAV history, so performance is drawn as a straight line per
weekday from the accounts' opening cash (before the simulation's first trade) to their
net liquidation now; transactions are the simulator's executions. Shapes follow the
examples of IBKR's spec; several accounts are consolidated into one series.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

from ibkr_sim.executions import Execution
from ibkr_sim.hours import NEW_YORK
from ibkr_sim.portfolio import Portfolio
from ibkr_sim.refusal import Refusal

__all__ = ["PERIODS", "performance", "transactions"]

PERIODS = ("1D", "7D", "MTD", "1M", "3M", "6M", "12M", "YTD")
_PERIOD_DAYS = {"1D": 1, "7D": 7, "1M": 30, "3M": 91, "6M": 182, "12M": 365}


def performance(
    portfolios: Sequence[Portfolio], opening_cash: float, period: str, now: float
) -> dict[str, Any]:
    """The NAV, cumulative (``cps``) and monthly (``tpps``) returns over ``period``."""
    days = _weekdays(period, now)
    ids = [p.account_id for p in portfolios]
    start_nav = opening_cash * len(portfolios)
    end_nav = sum(p.totals().net_liquidation for p in portfolios)
    steps = max(len(days) - 1, 1)
    navs = [start_nav + (end_nav - start_nav) * i / steps for i in range(len(days))]
    cumulative = [round(nav / start_nav - 1, 4) for nav in navs]
    months = sorted({d.strftime("%Y%m") for d in days})
    monthly = []
    for month in months:
        inside = [nav for d, nav in zip(days, navs, strict=True) if d.strftime("%Y%m") == month]
        monthly.append(round(inside[-1] / inside[0] - 1, 4) if inside[0] else 0.0)
    dates = [d.strftime("%Y%m%d") for d in days]
    consolidated = "consolidated" if len(ids) > 1 else ids[0]
    first, last = dates[0], dates[-1]
    return {
        "currencyType": "base",
        "rc": 0,
        "nav": {
            "data": [
                {
                    "idType": "acctid",
                    "navs": [round(nav, 4) for nav in navs],
                    "start": first,
                    "end": last,
                    "id": consolidated,
                    "startNAV": {"date": first, "val": round(start_nav, 4)},
                    "baseCurrency": "USD",
                }
            ],
            "freq": "D",
            "dates": dates,
        },
        "nd": len(dates),
        "cps": {
            "data": [
                {"idType": "acctid", "start": first, "end": last, "returns": cumulative,
                 "id": consolidated, "baseCurrency": "USD"}
            ],
            "freq": "D",
            "dates": dates,
        },
        "tpps": {
            "data": [
                {"idType": "acctid", "start": first, "end": last, "returns": monthly,
                 "id": consolidated, "baseCurrency": "USD"}
            ],
            "freq": "M",
            "dates": months,
        },
        "id": "getPerformanceData",
        "included": ids,
        "pm": "TWR",
    }  # fmt: skip


def transactions(
    executions: Sequence[Execution],
    portfolios: Sequence[Portfolio],
    conids: Sequence[int],
    currency: str,
    days: int,
    now: float,
) -> dict[str, Any]:
    """The accounts' trades in ``conids`` over the last ``days`` days, and realized P&L."""
    since = now - days * 86_400
    accounts = {p.account_id for p in portfolios}
    wanted = set(conids)
    rows = []
    for execution in executions:
        if (
            execution.account not in accounts
            or execution.instrument.conid not in wanted
            or execution.time < since
        ):
            continue
        instrument = execution.instrument
        when = _dt.datetime.fromtimestamp(execution.time, NEW_YORK)
        signed = execution.quantity if execution.buy else -execution.quantity
        rows.append(
            {
                "date": when.strftime("%a %b %d 00:00:00 %Z %Y"),
                "cur": instrument.currency,
                "fxRate": 1,
                "pr": execution.price,
                "qty": signed,
                "acctid": execution.account,
                "amt": round(execution.quantity * execution.price * instrument.multiplier, 2),
                "conid": instrument.conid,
                "type": "Buy" if execution.buy else "Sell",
                "desc": instrument.company_name,
            }
        )
    today = _dt.datetime.fromtimestamp(now, NEW_YORK).strftime("%Y%m%d")
    pnl_rows = [
        {"date": today, "cur": currency, "fxRate": 1, "side": "G" if amount >= 0 else "L",
         "acctid": p.account_id, "amt": f"{amount:.4f}", "conid": str(conid)}
        for p in portfolios
        for conid, amount in p.realized_by_conid().items()
        if conid in wanted
    ]  # fmt: skip
    total = sum(float(row["amt"]) for row in pnl_rows)
    return {
        "rc": 0,
        "nd": days,
        "rpnl": {"data": pnl_rows, "amt": f"{total:.4f}"},
        "currency": currency,
        "from": int(since * 1000),
        "id": "getTransactions",
        "to": int(now * 1000),
        "includesRealTime": True,
        "transactions": rows,
    }


def _weekdays(period: str, now: float) -> list[_dt.date]:
    today = _dt.datetime.fromtimestamp(now, NEW_YORK).date()
    if period == "MTD":
        start = today.replace(day=1)
    elif period == "YTD":
        start = today.replace(month=1, day=1)
    elif period in _PERIOD_DAYS:
        start = today - _dt.timedelta(days=_PERIOD_DAYS[period])
    else:
        raise Refusal(f"Bad Request: period must be one of {', '.join(PERIODS)}")
    days = []
    day = start
    while day <= today:
        if day.weekday() < 5:
            days.append(day)
        day += _dt.timedelta(days=1)
    return days or [today]
