"""``WorkerContext``: the ``ctx`` the reference's recipes are written against."""

from __future__ import annotations

import datetime as _dt
import json
import pydoc
from pathlib import Path
from typing import Any

import pytest

from ibkr_host.host import NO_CLIENT_MESSAGE, WorkerContext, WorkerState
from ibkr_session.clock import ManualClock
from tests.logcapture import capture_logs


def test_ibkr_without_a_client_raises_the_references_exact_error() -> None:
    ctx = WorkerContext("nlv")
    with pytest.raises(RuntimeError) as raised:
        ctx.ibkr  # noqa: B018
    assert str(raised.value) == (
        "No trading block connected. Connect an IBKR block to this worker."
    )
    assert str(raised.value) == NO_CLIENT_MESSAGE
    assert not ctx.connected


def test_attach_and_detach_switch_what_ibkr_returns(client: Any) -> None:
    ctx = WorkerContext("w")
    ctx.attach(client)
    assert ctx.ibkr is client
    assert ctx.detach() is client
    with pytest.raises(RuntimeError, match="No trading block connected"):
        ctx.ibkr  # noqa: B018


def test_constructor_client_and_its_clock_are_used(client: Any, clock: ManualClock) -> None:
    ctx = WorkerContext("w", client=client)
    assert ctx.ibkr is client
    assert ctx.clock is clock


def test_log_levels_including_warn_are_bound_with_the_worker_name() -> None:
    ctx = WorkerContext("ladder")
    with capture_logs() as events:
        ctx.log.debug("d")
        ctx.log.info("i", conid=265598)
        ctx.log.warn("w")
        ctx.log.warning("w2")
        ctx.log.error("e")
    assert [(e["event"], e["log_level"]) for e in events] == [
        ("d", "debug"),
        ("i", "info"),
        ("w", "warning"),
        ("w2", "warning"),
        ("e", "error"),
    ]
    assert {e["worker"] for e in events} == {"ladder"}
    assert events[1]["conid"] == 265598


def test_state_survives_a_restart_with_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "state" / "mean_reversion.json"
    first = WorkerContext("w", state=path)
    first.state.set("aapl_conid", 265598)
    first.state.set("levels", (1.5, 2.5))
    restarted = WorkerContext("w", state=path)
    assert restarted.state.get("aapl_conid") == 265598
    assert restarted.state.get("levels") == [1.5, 2.5]
    assert first.state.get("levels") == [1.5, 2.5]  # reads back as it will after a restart
    assert restarted.state.get("missing", "dflt") == "dflt"
    assert json.loads(path.read_text()) == {"aapl_conid": 265598, "levels": [1.5, 2.5]}
    assert [p.name for p in path.parent.iterdir()] == ["mean_reversion.json"]  # no temp


@pytest.mark.parametrize("bad", [object(), {1, 2}, float("nan"), b"bytes", _dt.date(2026, 1, 5)])
def test_state_refuses_non_json_values_and_keeps_the_file(tmp_path: Path, bad: object) -> None:
    path = tmp_path / "s.json"
    state = WorkerState(path)
    state.set("ok", 1)
    with pytest.raises(TypeError, match=r"ctx.state.set\('k', ...\).*cannot be stored"):
        state.set("k", bad)
    assert state.get("k") is None
    assert json.loads(path.read_text()) == {"ok": 1}


def test_state_refuses_non_string_keys() -> None:
    with pytest.raises(TypeError, match="keys are strings"):
        WorkerState().set(1, "x")  # type: ignore[arg-type]


def test_state_in_memory_writes_nothing(tmp_path: Path) -> None:
    state = WorkerState()
    state.set("k", {"a": [1, None, True]})
    assert state.as_dict() == {"k": {"a": [1, None, True]}}
    assert state.path is None
    assert list(tmp_path.iterdir()) == []


def test_corrupt_state_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text("{half")
    with pytest.raises(ValueError, match="not valid JSON"):
        WorkerState(path)
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        WorkerState(path)


def test_monitor_keeps_series_on_the_client_clock(client: Any, clock: ManualClock) -> None:
    ctx = WorkerContext("nlv", client=client)
    with capture_logs() as events:
        ctx.monitor.metric("ibkr_total_nlv", 1_000_000)
        clock.advance(60)
        ctx.monitor.metric("ibkr_total_nlv", 1_000_250.5)
    series = ctx.monitor.series("ibkr_total_nlv")
    assert [p.value for p in series] == [1_000_000.0, 1_000_250.5]
    assert series[1].time - series[0].time == _dt.timedelta(seconds=60)
    assert ctx.monitor.names() == ["ibkr_total_nlv"]
    assert ctx.monitor.series("other") == []
    assert [(e["event"], e["metric"], e["value"]) for e in events] == [
        ("metric", "ibkr_total_nlv", 1_000_000.0),
        ("metric", "ibkr_total_nlv", 1_000_250.5),
    ]


@pytest.mark.parametrize("bad", ["12", None, True, float("inf")])
def test_monitor_refuses_non_numbers(bad: Any) -> None:
    ctx = WorkerContext("w")
    with pytest.raises((TypeError, ValueError), match="metric 'm'"):
        ctx.monitor.metric("m", bad)
    assert ctx.monitor.series("m") == []


def test_help_lists_what_a_worker_gets() -> None:
    text = pydoc.render_doc(WorkerContext, renderer=pydoc.plaintext)
    for attribute in ("ibkr:", "log:", "state:", "monitor:", "No trading block connected"):
        assert attribute in text
    assert "docs/worker.md" in text
