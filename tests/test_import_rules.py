"""Imports point one way: ``ibkr_host → ibkr_api → ibkr_session``, ``ibkr_host → ibkr_sim``.

``ibkr_session`` and ``ibkr_api`` never import ``ibkr_sim`` or ``ibkr_host``; ``ibkr_sim``
imports nothing of the client but the clock (and the quiet loggers), so the simulator and
the client cannot share one misunderstanding. Checked two ways: every ``import`` statement
of every module (an AST walk, including imports inside functions and under
``TYPE_CHECKING``), and what a real interpreter has loaded after importing each package.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
OURS = ("ibkr_session", "ibkr_api", "ibkr_sim", "ibkr_host")

ALLOWED: dict[str, tuple[str, ...]] = {
    "ibkr_session": ("ibkr_session",),
    "ibkr_api": ("ibkr_api", "ibkr_session"),
    "ibkr_sim": ("ibkr_sim", "ibkr_session.clock", "ibkr_session.logs"),
    "ibkr_host": OURS,
}
"""Which of our modules each package may import (a name or anything under it)."""


@dataclass(frozen=True)
class Violation:
    file: str
    line: int
    imported: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} imports {self.imported}"


def imported_modules(
    root: Path, source: str, module: str, *, is_package: bool
) -> list[tuple[int, str]]:
    """Every one of our modules an ``import`` statement loads, as absolute names.

    ``from ibkr_session import clock`` loads the submodule ``ibkr_session.clock`` (checked
    as that); ``from ibkr_session import Clock`` takes a name of ``ibkr_session`` itself.
    """
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.append((node.lineno, submodule if _is_module(root, submodule) else target))
    return found


def _is_module(root: Path, name: str) -> bool:
    path = root.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _allowed(imported: str, allowed: tuple[str, ...]) -> bool:
    return any(imported == name or imported.startswith(f"{name}.") for name in allowed)


def violations(root: Path) -> list[Violation]:
    """Imports of our packages under ``root`` that break the rules of ``ALLOWED``."""
    found: list[Violation] = []
    for top, allowed in ALLOWED.items():
        for path in sorted((root / top).rglob("*.py")):
            relative = path.relative_to(root).with_suffix("")
            is_package = relative.name == "__init__"
            module = ".".join(relative.parts[:-1] if is_package else relative.parts)
            source = path.read_text(encoding="utf-8")
            for line, name in imported_modules(root, source, module, is_package=is_package):
                if name.split(".")[0] in OURS and not _allowed(name, allowed):
                    found.append(Violation(str(path.relative_to(root)), line, name))
    return found


def test_every_package_imports_only_what_it_may() -> None:
    assert [str(v) for v in violations(REPO)] == []


def _write(root: Path, name: str, text: str) -> None:
    path = root.joinpath(*name.split("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("file", "line", "imported"),
    [
        ("ibkr_api/client.py", "from ibkr_sim.gateway import SimulatedGateway", "ibkr_sim.gateway"),
        ("ibkr_session/manager.py", "import ibkr_host", "ibkr_host"),
        ("ibkr_sim/gateway.py", "from ibkr_session.manager import X", "ibkr_session.manager"),
        ("ibkr_sim/gateway.py", "from ibkr_api import IbkrClient", "ibkr_api"),
        ("ibkr_api/client.py", "def f():\n    from ibkr_host import cli", "ibkr_host"),
        (
            "ibkr_session/core/rules.py",
            "if TYPE_CHECKING:\n    from ibkr_api import client",
            "ibkr_api",
        ),
    ],
)
def test_a_forbidden_import_is_reported_with_its_file_and_line(
    tmp_path: Path, file: str, line: str, imported: str
) -> None:
    for package in OURS:
        _write(tmp_path, f"{package}/__init__.py", "")
    _write(tmp_path, "ibkr_session/clock.py", "")
    _write(tmp_path, "ibkr_session/manager.py", "")
    _write(tmp_path, "ibkr_session/core/__init__.py", "")
    _write(tmp_path, "ibkr_host/cli.py", "")
    _write(tmp_path, "ibkr_sim/gateway.py", "from ibkr_session.clock import Clock\n")
    _write(tmp_path, file, f"import os\n{line}\n")
    found = violations(tmp_path)
    assert [v.file for v in found] == [file]
    assert found[0].line == line.count("\n") + 2
    assert found[0].imported.startswith(imported)


def test_allowed_imports_pass(tmp_path: Path) -> None:
    for package in OURS:
        _write(tmp_path, f"{package}/__init__.py", "")
    _write(tmp_path, "ibkr_session/clock.py", "")
    _write(tmp_path, "ibkr_sim/gateway.py", "from ibkr_session.clock import Clock\n")
    _write(tmp_path, "ibkr_sim/log.py", "from ibkr_session.logs import get_logger\n")
    _write(tmp_path, "ibkr_sim/rel.py", "from . import gateway\n")
    _write(tmp_path, "ibkr_api/client.py", "from ibkr_session import clock\n")
    _write(tmp_path, "ibkr_host/cli.py", "import ibkr_sim\nfrom ibkr_api import client\n")
    assert violations(tmp_path) == []


@pytest.mark.parametrize(
    ("package", "never"),
    [
        ("ibkr_session", ("ibkr_api", "ibkr_sim", "ibkr_host")),
        ("ibkr_api", ("ibkr_sim", "ibkr_host")),
        ("ibkr_sim", ("ibkr_api", "ibkr_host")),
    ],
)
def test_importing_a_package_loads_none_of_the_packages_above_it(
    package: str, never: tuple[str, ...]
) -> None:
    check = (
        f"import {package}, sys; "
        f"print([m for m in sys.modules if m.split('.')[0] in {list(never)!r}])"
    )
    loaded = subprocess.run(  # noqa: S603 (our interpreter, fixed argv)
        [sys.executable, "-c", check], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert loaded.stdout.strip() == "[]"
