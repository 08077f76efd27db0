"""The example workers are the reference's recipes, character for character."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
RECIPES = {
    "nlv_summary.py": ("Multi-account daily NLV summary", "Mean-reversion on AAPL"),
    "mean_reversion.py": ("Mean-reversion on AAPL with bracket exits", "Working-order ladder"),
    "order_ladder.py": ("Working-order ladder around current price", "Reference"),
}


REFERENCE = REPO / "docs" / "ctx-ibkr-reference.txt"
"""The ``ctx.ibkr`` reference, copied unchanged into the repository (README points to it)."""


def reference_text() -> str:
    return REFERENCE.read_text(encoding="utf-8")


def code_lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip().splitlines()]


@pytest.mark.parametrize("example", sorted(RECIPES))
def test_example_code_is_the_reference_recipe_unchanged(example: str) -> None:
    heading, next_heading = RECIPES[example]
    section = reference_text().split(f"\n{heading}\n", 1)[1].split(f"\n{next_heading}", 1)[0]
    recipe = section.split("python\n", 1)[1]
    ours = (REPO / "examples" / example).read_text(encoding="utf-8")
    code = ours[ours.index("\ndef setup(ctx):") :]
    assert code_lines(code) == code_lines(recipe)
