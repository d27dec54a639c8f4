"""The import contract of docs/ARCHITECTURE.md holds, and no module imports itself back.

The contract lives in pyproject.toml (``[tool.importlinter]``, checked here through
import-linter's own entry point); the cycle check covers every import, including those
under ``TYPE_CHECKING``, which the contract leaves out.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]


def test_the_import_contract_holds(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)
    assert lint_imports() == 0, capsys.readouterr().out


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every import cycle, as one list of modules each (depth-first search)."""
    found, state = [], {}
    for start in sorted(graph.modules):
        stack = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        path, state[start] = [start], "open"
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = "done"
            elif state.get(child) == "open":
                found.append(path[path.index(child):] + [child])
            elif child not in state:
                state[child] = "open"
                path.append(child)
                stack.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
    return found


def test_no_import_cycles() -> None:
    assert cycles(grimp.build_graph(*PACKAGES, exclude_type_checking_imports=False)) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for a, b in (("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")):
        graph.add_import(importer=a, imported=b)
    assert cycles(graph) == [["p.a", "p.b", "p.c", "p.a"]]
