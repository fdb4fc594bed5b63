"""The top-level ``dustsim`` namespace: lazy exports and a light import."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import dustsim


def test_lazy_exports_survive_importing_every_submodule():
    # A lazily exported function must not be shadowed by a submodule of the same name:
    # importing ``dustsim.<name>`` binds the module as an attribute of the package.
    for info in pkgutil.walk_packages(dustsim.__path__, prefix="dustsim."):
        if info.name.startswith("dustsim.cli") or info.name == "dustsim.__main__":
            continue
        importlib.import_module(info.name)
    for name in dustsim.__all__:
        value = getattr(dustsim, name)
        assert not isinstance(value, type(dustsim)), f"dustsim.{name} is a module, not the export"
    assert callable(dustsim.fokker_planck)


def test_import_dustsim_does_not_import_torch_or_xarray():
    code = "import sys, dustsim; print('torch' in sys.modules, 'xarray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
