"""Price alerts of the brokerage accounts: ``/iserver/account/{acct}/alerts``, ``.../alert``
(create, or modify with ``orderId``), ``DELETE .../alert/{id}`` (0: all of them).

IBKR keeps alerts as a kind of order, so an alert's id is an ``order_id``. The simulator
evaluates price conditions (``type`` 1: the last trade of ``conidex`` compared with
``value`` by ``>=`` or ``<=``) whenever time is let act: a met alert is triggered and,
unless repeatable, deactivated. Other condition types are stored and never trigger.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ibkr_sim.refusal import Refusal

__all__ = ["Alert", "AlertBook"]

_FIRST_ALERT_ID = 1_408_549_184


@dataclass
class Alert:
    """One alert as the user sent it, plus its state."""

    alert_id: int
    account: str
    name: str
    created_at: float
    repeatable: bool
    conditions: list[dict[str, Any]] = field(default_factory=list)
    active: bool = True
    triggered: bool = False
    message: str = ""
    tif: str = "GTC"
    email: str = ""

    def row(self) -> dict[str, Any]:
        """The alert as ``GET /iserver/account/{acct}/alerts`` lists it (spec)."""
        when = _dt.datetime.fromtimestamp(self.created_at, _dt.UTC)
        return {
            "order_id": self.alert_id,
            "account": self.account,
            "alert_name": self.name,
            "alert_active": 1 if self.active else 0,
            "order_time": when.strftime("%Y%m%d-%H:%M:%S"),
            "alert_triggered": self.triggered,
            "alert_repeatable": 1 if self.repeatable else 0,
        }


class AlertBook:
    """Every account's alerts; ``check`` evaluates them against a price source."""

    def __init__(self) -> None:
        self._alerts: dict[int, Alert] = {}
        self._next_id = _FIRST_ALERT_ID

    def list(self, account: str) -> list[dict[str, Any]]:
        return [a.row() for a in self._alerts.values() if a.account == account]

    def details(self, alert_id: str) -> dict[str, Any]:
        """``GET /iserver/account/alert/{id}?type=Q``: one alert in full (spec shape)."""
        alert = self._alerts.get(_number(alert_id))
        if alert is None:
            raise Refusal(f"Bad Request: alert {alert_id} not found")
        return {
            "account": alert.account,
            "order_id": alert.alert_id,
            "alert_name": alert.name,
            "tif": alert.tif,
            "expire_time": None,
            "alert_active": 1 if alert.active else 0,
            "alert_repeatable": 1 if alert.repeatable else 0,
            "alert_email": alert.email,
            "alert_send_message": 1,
            "alert_message": alert.message,
            "alert_show_popup": 1,
            "alert_play_audio": None,
            "order_status": "Submitted" if alert.active else "Inactive",
            "alert_triggered": alert.triggered,
            "fg_color": "#FFFFFF",
            "bg_color": "#0000CC",
            "order_not_editable": False,
            "itws_orders_only": 0,
            "alert_mta_currency": None,
            "alert_mta_defaults": None,
            "tool_id": None,
            "time_zone": None,
            "alert_default_type": None,
            "condition_size": len(alert.conditions),
            "condition_outside_rth": 0,
            "conditions": [
                {
                    "condition_type": int(str(c.get("type", 1)) or 1),
                    "conidex": str(c.get("conidex", "")),
                    "contract_description_1": str(c.get("conidex", "")).split("@")[0],
                    "condition_operator": str(c.get("operator", "")),
                    "condition_trigger_method": str(c.get("triggerMethod", "0")),
                    "condition_value": str(c.get("value", "")),
                    "condition_logic_bind": str(c.get("logicBind", "n")),
                    "condition_time_zone": None,
                }
                for c in alert.conditions
            ],
        }

    def save(self, account: str, body: Mapping[str, object], now: float) -> dict[str, Any]:
        """Create an alert, or modify the one ``orderId`` names."""
        if not body:
            raise Refusal("Bad Request: body can't be empty")
        name = body.get("alertName")
        if not isinstance(name, str) or not name:
            raise Refusal("Bad Request: alertName is required")
        conditions = body.get("conditions") or []
        if not isinstance(conditions, list) or not all(isinstance(c, dict) for c in conditions):
            raise Refusal("Bad Request: conditions must be a list of objects")
        existing = body.get("orderId")
        if existing not in (None, "", 0, "0"):
            alert = self._alerts.get(_number(existing))
            if alert is None or alert.account != account:
                raise Refusal(f"Bad Request: alert {existing} not found")
        else:
            alert = Alert(self._next_id, account, name, now, repeatable=False)
            self._next_id += 1
            self._alerts[alert.alert_id] = alert
        alert.name = name
        alert.repeatable = str(body.get("alertRepeatable", 0)) == "1"
        alert.conditions = [dict(c) for c in conditions]
        alert.message = str(body.get("alertMessage") or "")
        alert.tif = str(body.get("tif") or "GTC")
        alert.email = str(body.get("email") or "")
        alert.active = True
        alert.triggered = False
        return {
            "request_id": None,
            "order_id": alert.alert_id,
            "success": True,
            "text": "Submitted",
            "order_status": None,
            "warning_message": None,
        }

    def delete(self, account: str, alert_id: str) -> dict[str, Any]:
        """Delete one alert, or all of the account's with id 0."""
        number = _number(alert_id)
        if number == 0:
            for key in [k for k, a in self._alerts.items() if a.account == account]:
                del self._alerts[key]
        else:
            alert = self._alerts.get(number)
            if alert is None or alert.account != account:
                raise Refusal(f"Bad Request: alert {alert_id} not found")
            del self._alerts[number]
        return {
            "request_id": None,
            "order_id": number,
            "success": True,
            "text": "Request was submitted",
            "failure_list": None,
        }

    def check(self, price_of: Callable[[int], float | None]) -> None:
        """Trigger the active alerts whose price conditions hold now."""
        for alert in self._alerts.values():
            if (
                alert.active
                and alert.conditions
                and all(_holds(c, price_of) for c in alert.conditions)
            ):
                alert.triggered = True
                alert.active = alert.repeatable


def _holds(condition: Mapping[str, Any], price_of: Callable[[int], float | None]) -> bool:
    if str(condition.get("type", "")) != "1":
        return False
    conid_text = str(condition.get("conidex", "")).split("@")[0]
    try:
        conid, value = int(conid_text), float(str(condition.get("value", "")))
    except ValueError:
        return False
    last = price_of(conid)
    if last is None:
        return False
    operator = condition.get("operator")
    if operator == ">=":
        return last >= value
    if operator == "<=":
        return last <= value
    return False


def _number(raw: object) -> int:
    text = str(raw).strip()
    if not text.isdigit():
        raise Refusal(f"Bad Request: alert id must be a number, got {raw!r}")
    return int(text)
