"""The import rules of docs/development.md ("What each part may import"), checked on the source.

Every ``import`` statement counts, also the lazy ones inside functions: a rule is about
what a part depends on, not about when the dependency is loaded.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports_of(path: Path) -> set[str]:
    """Every module (and ``module:name`` for ``from module import name``) that ``path`` imports."""
    module = _module_name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}:{alias.name}" for alias in node.names)
    return found


@cache
def import_graph() -> dict[str, set[str]]:
    """``{module: imported modules and names}`` for every module of dustsim and analysis."""
    return {_module_name(p): _imports_of(p) for package in ("dustsim", "analysis")
            for p in sorted((ROOT / package).rglob("*.py"))}


def _within(name: str, *packages: str) -> bool:
    module = name.split(":")[0]
    return any(module == p or module.startswith(p + ".") for p in packages)


def _violations(importers: tuple[str, ...], forbidden: tuple[str, ...], exempt: tuple[str, ...] = ()) -> list[str]:
    return sorted(f"{module} imports {target}" for module, targets in import_graph().items()
                  if _within(module, *importers) and not _within(module, *exempt)
                  for target in targets if _within(target, *forbidden))


def test_the_graph_sees_every_module_and_resolves_relative_imports():
    graph = import_graph()
    assert {"dustsim", "dustsim.kernels.euler", "dustsim.cli", "analysis.trajectory"} <= set(graph)
    assert "dustsim.errors" in graph["dustsim.io"]  # written ``from .errors import ...``
    assert "dustsim.kernels" in graph["dustsim.physics.potentials"]  # written ``from ..kernels import ...``


def test_the_core_never_imports_analysis():
    assert _violations(("dustsim",), ("analysis",), exempt=("dustsim.cli",)) == []


def test_kernels_import_only_numba_numpy_and_each_other():
    allowed = ("dustsim.kernels", "numba", "numpy", "llvmlite", "__future__", "math", "typing", "collections")
    bad = sorted(f"{m} imports {t}" for m, ts in import_graph().items() if _within(m, "dustsim.kernels")
                 for t in ts if not _within(t, *allowed))
    assert bad == []


@pytest.mark.parametrize("library", ["torch"])
def test_only_the_model_cli_and_analysis_use_torch(library):
    assert _violations(("dustsim",), (library,), exempt=("dustsim.model", "dustsim.cli")) == []


def test_only_the_cli_uses_click():
    assert _violations(("dustsim", "analysis"), ("click",), exempt=("dustsim.cli",)) == []


def test_analysis_uses_only_public_dustsim_modules_and_names():
    bad = []
    for module, targets in import_graph().items():
        if not _within(module, "analysis"):
            continue
        for target in targets:
            name, _, member = target.partition(":")
            if not _within(name, "dustsim"):
                continue
            if _within(name, "dustsim.kernels", "dustsim.cli") or any(p.startswith("_") for p in name.split(".")) \
                    or member.startswith("_"):
                bad.append(f"{module} imports {target}")
    assert bad == []


def test_private_names_are_not_imported_across_analysis_modules():
    bad = sorted(f"{m} imports {t}" for m, ts in import_graph().items() if _within(m, "analysis")
                 for t in ts if ":" in t and _within(t, "analysis") and t.partition(":")[2].startswith("_")
                 and t.partition(":")[0] != m)
    assert bad == []
