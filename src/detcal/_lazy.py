"""Step packages that import their science only when a name is first used.

``import detcal.tomo`` (and the command line's ``--help``) must not pay for scipy, dask and
scikit-image: a step package's ``__init__`` declares which submodule defines each public name
and calls :func:`lazy_package`; ``detcal.tomo.recon`` then imports ``detcal.tomo.recon`` (the
module) on first use and gives its function ``recon``. This is PEP 562's module
``__getattr__``/``__dir__``, done by the package's module class so that it also keeps a public
function whose module has the same name (``recon`` in ``detcal/tomo/recon.py``) from being
replaced by that module when some other code imports the module first.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Mapping


class LazyPackage(types.ModuleType):
    """A package module whose public names are imported from their submodules when used."""

    _lazy_names: Mapping[str, str]

    def __getattr__(self, name: str):
        """Import the submodule defining ``name`` (or the submodule ``name``) and return it."""
        names = self.__dict__.get("_lazy_names", {})
        if name in names:
            value = getattr(importlib.import_module(f"{self.__name__}.{names[name]}"), name)
            types.ModuleType.__setattr__(self, name, value)
            return value
        if not name.startswith("__") and importlib.util.find_spec(f"{self.__name__}.{name}"):
            return importlib.import_module(f"{self.__name__}.{name}")
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")

    def __setattr__(self, name: str, value) -> None:
        """Bind ``value``; a submodule named like a public function gives way to the function.

        Importing ``detcal.tomo.recon`` binds the module to ``detcal.tomo.recon``; the public
        name means the function defined in it, as it would after an eager ``from .recon
        import recon``.
        """
        names = self.__dict__.get("_lazy_names", {})
        if (
            isinstance(value, types.ModuleType)
            and names.get(name) == name
            and value.__name__ == f"{self.__name__}.{name}"
        ):
            value = getattr(value, name)
        types.ModuleType.__setattr__(self, name, value)

    def __dir__(self) -> list[str]:
        """List the module's names with the public names not imported yet."""
        return sorted(set(super().__dir__()) | set(self.__dict__.get("_lazy_names", {})))


def lazy_package(package: str, names: Mapping[str, str]) -> None:
    """Make the package ``package`` import each public name from its submodule when used.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names : mapping of str to str
        Public name -> the submodule (relative name) that defines it.

    Examples
    --------
    >>> import detcal.diffraction as diffraction
    >>> "align" in dir(diffraction), diffraction.align.__module__
    (True, 'detcal.diffraction.registration')
    """
    module = sys.modules[package]
    module._lazy_names = dict(names)
    module.__class__ = LazyPackage
