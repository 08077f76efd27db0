"""The project's pytest settings: both the default run and ``-m slow`` end with a summary."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE = """
import pytest


def test_quick():
    assert True


@pytest.mark.slow
def test_long():
    assert True
"""


@pytest.mark.parametrize(("extra", "ran"), [([], "test_quick"), (["-m", "slow"], "test_long")])
def test_a_run_ends_with_its_summary_line(tmp_path: Path, extra: list[str], ran: str) -> None:
    sample = tmp_path / "test_sample.py"
    sample.write_text(SAMPLE, encoding="utf-8")
    done = subprocess.run(  # noqa: S603 (our interpreter, fixed argv)
        [sys.executable, "-m", "pytest", "-c", str(REPO / "pyproject.toml"),
         "--rootdir", str(tmp_path), str(sample), "-rA", *extra],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"=*\s*1 passed, 1 deselected in [\d.]+s\s*=*", last), last
    assert f"PASSED test_sample.py::{ran}" in done.stdout
