"""Fixtures shared by every test directory."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_REPO_ROOT = Path(__file__).resolve().parent.parent


def recorded_dir() -> Path:
    """Where IBKR's recorded responses live: ``shared/`` sits beside the repository."""
    override = os.environ.get("IBKR_SHARED_DIR")
    shared = Path(override) if override else _REPO_ROOT.parent / "shared"
    return shared / "reference" / "recorded"


@pytest.fixture
def recorded() -> Callable[[str], dict[str, Any]]:
    """Load one recording by file stem, e.g. ``recorded("Session__POST-tickle")``.

    Returns the whole ``{"Request": ..., "Response": ...}`` document.
    """
    base = recorded_dir()
    if not base.is_dir():
        pytest.fail(f"recorded responses not found at {base} (set IBKR_SHARED_DIR)")

    def load(stem: str) -> dict[str, Any]:
        document: dict[str, Any] = json.loads((base / f"{stem}.json").read_text())
        return document

    return load
