"""Lazy packages (agent/core/lazy.py): each package re-exports the names it always did, loads a
submodule only when one of its names is read, and tells type checkers the same names."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from segmint.agent.core.lazy import LazyPackage

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [f"segmint.agent.{p.name}" for p in sorted((ROOT / "agent").iterdir())
            if (p / "__init__.py").exists() and p.name != "cli"] + ["segmint.embeddings"]


def _type_checking_imports(package: str) -> dict[str, str]:
    """name -> submodule, from the `if TYPE_CHECKING:` imports of the package's __init__.py."""
    path = Path(importlib.import_module(package).__file__ or "")
    names: dict[str, str] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module, ast.unparse(imp)
                assert imp.module.startswith(package + "."), imp.module
                names.update({a.name: imp.module[len(package) + 1:] for a in imp.names})
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_resolves_from_the_module_type_checkers_see(package: str) -> None:
    pkg = importlib.import_module(package)
    assert isinstance(pkg, LazyPackage)
    where = _type_checking_imports(package)
    assert sorted(where) == sorted(pkg.__all__) == sorted(pkg._exports)
    for name in pkg.__all__:
        value = getattr(pkg, name)
        assert pkg._exports[name] == where[name]
        module = importlib.import_module(f"{package}.{where[name]}")
        assert value is getattr(module, name), name
        assert name in dir(pkg)
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        pkg.not_a_name  # noqa: B018


def test_importing_packages_runs_none_of_their_modules() -> None:
    code = ("import sys\n" + "".join(f"import {p}\n" for p in PACKAGES)
            + "print(sorted(m for m in sys.modules if m.startswith(('segmint.agent.', "
            f"'segmint.embeddings.')) and m not in {PACKAGES!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # Only the helper itself loads (every package imports it); no package's own modules.
    assert out.strip() == "['segmint.agent.core.lazy']"


def test_a_function_keeps_its_name_when_its_module_loads_first() -> None:
    # `act.audit` is a function of module `act/audit.py`: loading the module binds it on the package
    # as `audit`, which must stay the function, as `from act.audit import audit` left it.
    code = ("import segmint.agent.act.audit, segmint.agent.query.catalogue\n"
            "from segmint.agent.act import audit\n"
            "from segmint.agent.query import catalogue\n"
            "import segmint.agent.segment as seg, segmint.agent.segment.assign\n"
            "print(audit.__module__, catalogue.__module__, seg.assign.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["segmint.agent.act.audit", "segmint.agent.query.catalogue",
                           "segmint.agent.segment.assign"]


def test_star_import_gives_every_exported_name() -> None:
    namespace: dict[str, object] = {}
    exec("from segmint.agent.ask import *", namespace)
    assert set(importlib.import_module("segmint.agent.ask").__all__) <= set(namespace)
