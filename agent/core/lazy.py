"""Packages whose re-exported names load their module on first use (PEP 562).

Every subpackage re-exports its public names (`from segmint.agent.ask import Answerer`). Importing
them all eagerly made any import of a package's one light module (`segmint.agent.core.errors`) run
the whole package, and a read command pay for the pipeline (bench/RESULTS.md "Cold start"). A
package instead calls `lazy_package(__name__, {"module": ("Name", ...)})` at its end and keeps the
same names under `if TYPE_CHECKING:` imports for type checkers; `__all__` stays as it was.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any


class LazyPackage(ModuleType):
    """A package module whose exported names import their submodule when first read."""

    _exports: dict[str, str]  # exported name -> the submodule (relative name) defining it

    def __getattr__(self, name: str) -> Any:
        # Called only when ordinary lookup fails: the name is not loaded yet.
        module = self._exports.get(name)
        if module is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{self.__name__}.{module}"), name)
        super().__setattr__(name, value)  # later reads are plain attribute reads
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        # Loading submodule `act.audit` binds the module on its package as `audit`; where the
        # package exports that submodule's function `audit`, the function keeps the name, as an
        # eager `from segmint.agent.act.audit import audit` left it.
        if (isinstance(value, ModuleType) and self._exports.get(name) == name
                and value.__name__ == f"{self.__name__}.{name}"):
            value = getattr(value, name)
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._exports})


def lazy_package(package: str, exports: Mapping[str, Sequence[str]]) -> None:
    """Make `package` load each exported name from its submodule on first use.

    Args:
        package: the package's `__name__`, called from the end of its `__init__.py`.
        exports: submodule (relative name, e.g. "answer") -> the names the package re-exports from it.
    """
    module = sys.modules[package]
    where = {name: sub for sub, names in exports.items() for name in names}
    # Submodules loaded before the switch (by the package's own imports) are bound already: an
    # exported function named like its module is put back in the module's place.
    for name, sub in where.items():
        bound = module.__dict__.get(name)
        if sub == name and isinstance(bound, ModuleType):
            module.__dict__[name] = getattr(bound, name)
    module.__dict__["_exports"] = where
    module.__class__ = LazyPackage
