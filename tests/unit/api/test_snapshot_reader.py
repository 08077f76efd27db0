"""Properties of the snapshot reader against a model of the gateway's pre-flight."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ibkr_api.snapshot import MAX_CONIDS_PER_SNAPSHOT, SnapshotReader
from ibkr_session import ManualClock


class PreflightGateway:
    """Answers a conid's first snapshot of a session with a placeholder, later with prices."""

    def __init__(self) -> None:
        self.generation = 1
        self.streaming: set[int] = set()
        self.requests: list[list[int]] = []

    def snapshot(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        conids = [int(c) for c in params["conids"].split(",")]
        fields = params["fields"].split(",")
        self.requests.append(conids)
        rows = []
        for conid in conids:
            row: dict[str, Any] = {"conid": conid, "conidEx": str(conid)}
            if conid in self.streaming:
                row.update({field: "1.0" for field in fields})
            rows.append(row)
        self.streaming.update(conids)
        return rows

    def new_session(self) -> None:
        self.generation += 1
        self.streaming.clear()


@settings(max_examples=60, deadline=None)
@given(
    conids=st.lists(st.integers(1, 400), min_size=1, max_size=350),
    warm=st.sets(st.integers(1, 400)),
)
def test_every_conid_comes_back_priced_in_order_within_the_request_limits(
    conids: list[int], warm: set[int]
) -> None:
    gateway = PreflightGateway()
    gateway.streaming.update(warm)
    reader = SnapshotReader(
        gateway.snapshot, clock=ManualClock(), generation=lambda: gateway.generation
    )

    rows = reader.read(conids, ["31", "84"])

    assert [row["conid"] for row in rows] == conids
    assert all("31" in row and "84" in row for row in rows)
    assert all(len(request) <= MAX_CONIDS_PER_SNAPSHOT for request in gateway.requests)
    chunks = -(-len(conids) // MAX_CONIDS_PER_SNAPSHOT)
    assert len(gateway.requests) <= 2 * chunks


def test_a_new_brokerage_session_repeats_the_pre_flight() -> None:
    gateway = PreflightGateway()
    reader = SnapshotReader(
        gateway.snapshot, clock=ManualClock(), generation=lambda: gateway.generation
    )
    reader.read([265598], ["31"])
    reader.read([265598], ["31"])
    assert len(gateway.requests) == 3

    gateway.new_session()

    assert reader.read([265598], ["31"])[0]["31"] == "1.0"
    assert len(gateway.requests) == 5
