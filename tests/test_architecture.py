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
    return {
        _module_name(p): _imports_of(p)
        for package in ("dustsim", "analysis")
        for p in sorted((ROOT / package).rglob("*.py"))
    }


def _within(name: str, *packages: str) -> bool:
    module = name.split(":")[0]
    return any(module == p or module.startswith(p + ".") for p in packages)


def _violations(importers: tuple[str, ...], forbidden: tuple[str, ...], exempt: tuple[str, ...] = ()) -> list[str]:
    return sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if _within(module, *importers) and not _within(module, *exempt)
        for target in targets
        if _within(target, *forbidden)
    )


def test_the_graph_sees_every_module_and_resolves_relative_imports():
    graph = import_graph()
    assert {"dustsim", "dustsim.kernels.euler", "dustsim.cli", "analysis.trajectory"} <= set(graph)
    assert "dustsim.errors" in graph["dustsim.io"]  # written ``from .errors import ...``
    assert "dustsim.kernels" in graph["dustsim.physics.potentials"]  # written ``from ..kernels import ...``


def test_the_core_never_imports_analysis():
    assert _violations(("dustsim",), ("analysis",), exempt=("dustsim.cli",)) == []


#: the per-potential definitions own their Numba force (one definition per potential), so the
#: kernels read them; the definitions in turn may use only what kernels may use
DEFINITIONS = ("dustsim.physics.potential_defs", "dustsim.physics.pair_defs")
KERNEL_SAFE = (
    "dustsim.kernels",
    "numba",
    "numpy",
    "llvmlite",
    "__future__",
    "math",
    "typing",
    "collections",
    "dataclasses",
    "hashlib",
    "linecache",
    "importlib",
    "pkgutil",
    "dustsim.errors",
    *DEFINITIONS,
)


def test_kernels_import_only_numba_numpy_and_each_other():
    bad = sorted(
        f"{m} imports {t}"
        for m, ts in import_graph().items()
        if _within(m, "dustsim.kernels")
        for t in ts
        if not _within(t.split(":")[0], *KERNEL_SAFE)
        and t != "dustsim.physics:pair_defs"
        and t != "dustsim.physics:potential_defs"
        and t != "dustsim.physics"
    )
    assert bad == []


def test_potential_definitions_import_only_what_kernels_may():
    bad = sorted(
        f"{m} imports {t}"
        for m, ts in import_graph().items()
        if _within(m, *DEFINITIONS)
        for t in ts
        if not _within(t.split(":")[0], *KERNEL_SAFE, "torch")
    )
    assert bad == []


@pytest.mark.parametrize("library", ["torch"])
def test_only_the_model_cli_and_analysis_use_torch(library):
    # a potential's definition owns its torch force (imported lazily, for the score model's drift)
    exempt = ("dustsim.model", "dustsim.cli", "dustsim.physics.potentials", *DEFINITIONS)
    assert _violations(("dustsim",), (library,), exempt=exempt) == []


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
            if (
                _within(name, "dustsim.kernels", "dustsim.cli")
                or any(p.startswith("_") for p in name.split("."))
                or member.startswith("_")
            ):
                bad.append(f"{module} imports {target}")
    assert bad == []


def test_private_names_are_not_imported_across_analysis_modules():
    bad = sorted(
        f"{m} imports {t}"
        for m, ts in import_graph().items()
        if _within(m, "analysis")
        for t in ts
        if ":" in t and _within(t, "analysis") and t.partition(":")[2].startswith("_") and t.partition(":")[0] != m
    )
    assert bad == []


#: the parts of dustsim (docs/development.md, "The parts"), by module prefix
PARTS = {
    "contract": (
        "dustsim.errors",
        "dustsim.config",
        "dustsim.schema",
        "dustsim.io",
        "dustsim.faults",
        "dustsim.preflight",
        "dustsim._version",
        "dustsim.spec",
        "dustsim.streams",
    ),
    "resolution": ("dustsim.run_info",),
    "laws": ("dustsim.processes", "dustsim.artifacts", "dustsim.mixture", "dustsim.stepping"),
    "physics": ("dustsim.physics",),
    "schedule_theory": ("dustsim.schedule_theory",),
    "engines": ("dustsim.simulation", "dustsim.sweep"),
    "kernels": ("dustsim.kernels",),
    "model": ("dustsim.model",),
    "quantum": ("dustsim.quantum",),
    "cli": ("dustsim.cli", "dustsim.__main__"),
}
#: what each part may import of dustsim (the table "What each part may import")
MAY_IMPORT = {
    # the schema's recorded-config accessors and GaussianMixture.from_trajectory delegate to the one reader
    "contract": {"contract"} | {"dustsim.processes", "dustsim.stepping", "dustsim.run_info"},
    "resolution": {"contract", "laws", "physics", "resolution"},
    "laws": {"contract", "laws", "dustsim.run_info"},
    "physics": {"contract", "laws", "kernels", "physics"},
    "schedule_theory": {"contract", "laws", "schedule_theory"},
    "engines": {"contract", "resolution", "laws", "physics", "schedule_theory", "kernels", "engines"},
    "kernels": {"kernels"},
    "model": set(PARTS) - {"cli"},
    "quantum": {"contract", "resolution", "laws", "physics", "quantum"},
    "cli": set(PARTS),
}
#: imports that break the table today, each to be removed (listed in docs/development.md)
KNOWN_EXCEPTIONS = {("dustsim.physics.fokker_planck", "dustsim.simulation")}


def _part(name: str) -> str | None:
    for part, prefixes in PARTS.items():
        if _within(name, *prefixes):
            return part
    return None


def test_every_dustsim_module_belongs_to_a_part():
    assert [m for m in import_graph() if _within(m, "dustsim") and m != "dustsim" and _part(m) is None] == []


def test_each_part_imports_only_the_parts_above_it():
    bad = []
    for module, targets in import_graph().items():
        part = _part(module)
        if part is None:  # the package facade (lazy exports) and analysis
            continue
        for target in targets:
            name = target.split(":")[0]
            other = _part(name)
            if (
                other is None
                or other in MAY_IMPORT[part]
                or name in MAY_IMPORT[part]
                or (part == "kernels" and _within(name, *DEFINITIONS, "dustsim.errors"))
                or name == "dustsim.physics"
            ):
                continue
            if (module, name) not in KNOWN_EXCEPTIONS:
                bad.append(f"{module} ({part}) imports {name} ({other})")
    assert sorted(set(bad)) == []


def test_import_analysis_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, analysis, analysis.plotting, analysis.schedule_study; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["False"]
