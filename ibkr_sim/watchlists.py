"""The user's watchlists: ``/iserver/watchlists``, ``/iserver/watchlist`` (GET one, POST
to create or replace, DELETE by ``id``). They are stored at IBKR, not in the brokerage
session, so they survive re-authentication. Shapes follow IBKR's spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ibkr_sim.instruments import find_instrument
from ibkr_sim.refusal import Refusal

__all__ = ["Watchlists"]


@dataclass
class _Watchlist:
    watchlist_id: str
    name: str
    rows: list[dict[str, Any]]
    modified: float


class Watchlists:
    """The user's watchlists by id."""

    def __init__(self) -> None:
        self._lists: dict[str, _Watchlist] = {}

    def all(self) -> dict[str, Any]:
        return {
            "data": {
                "scanners_only": False,
                "show_scanners": False,
                "bulk_delete": False,
                "user_lists": [
                    {
                        "is_open": False,
                        "read_only": False,
                        "name": w.name,
                        "modified": int(w.modified * 1000),
                        "id": w.watchlist_id,
                        "type": "watchlist",
                    }
                    for w in self._lists.values()
                ],
            },
            "action": "content",
            "MID": "1",
        }

    def one(self, watchlist_id: str) -> dict[str, Any]:
        found = self._find(watchlist_id)
        instruments = []
        for row in found.rows:
            if "C" not in row:
                continue  # a header ("H") or separator row
            conid = int(row["C"])
            instrument = find_instrument(conid)
            instruments.append(
                {
                    "ST": instrument.sec_type if instrument else "STK",
                    "C": str(conid),
                    "conid": conid,
                    "name": instrument.company_name if instrument else "",
                    "fullName": instrument.local_symbol if instrument else "",
                    "assetClass": instrument.sec_type if instrument else "STK",
                    "ticker": instrument.symbol if instrument else "",
                    "chineseName": "",
                }
            )
        return {**self._head(found), "instruments": instruments}

    def create(self, body: Mapping[str, object], now: float) -> dict[str, Any]:
        """Create (or replace) the watchlist ``id``; rows are ``{"C": conid}`` or
        ``{"H": header}``."""
        watchlist_id = str(body.get("id") or "")
        name = body.get("name")
        rows = body.get("rows")
        if not watchlist_id.isdigit():
            raise Refusal("Bad Request: id must be a number, digits 0-9 only")
        if not isinstance(name, str) or not name:
            raise Refusal("Bad Request: name is required")
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise Refusal('Bad Request: rows must be a list like [{"C": 265598}]')
        checked: list[dict[str, Any]] = []
        for row in rows:
            if "C" in row:
                if not str(row["C"]).strip().isdigit():
                    raise Refusal(f"Bad Request: C must be a conid, got {row['C']!r}")
                checked.append({"C": int(str(row["C"]))})
            elif "H" in row:
                checked.append({"H": str(row["H"])})
            else:
                raise Refusal(f"Bad Request: unknown watchlist row {row!r}")
        created = _Watchlist(watchlist_id, name, checked, now)
        self._lists[watchlist_id] = created
        return {**self._head(created), "instruments": []}

    def delete(self, watchlist_id: str) -> dict[str, Any]:
        found = self._find(watchlist_id)
        del self._lists[found.watchlist_id]
        return {"data": {"deleted": found.watchlist_id}, "action": "context", "MID": "2"}

    def _find(self, watchlist_id: str) -> _Watchlist:
        found = self._lists.get(watchlist_id)
        if found is None:
            raise Refusal(f"Bad Request: watchlist {watchlist_id!r} not found")
        return found

    @staticmethod
    def _head(watchlist: _Watchlist) -> dict[str, Any]:
        return {
            "id": watchlist.watchlist_id,
            "hash": str(int(watchlist.modified * 1000)),
            "name": watchlist.name,
            "readOnly": False,
        }
