"""One registry class for datasets, importers, protocols, models and their components (as timm and
lm-evaluation-harness do).

Entries can be registered eagerly (a decorator on the object) or lazily: a *family* of entries is declared
with the module (or package) that registers it, and that module is imported only when a name of the family is
asked for, so a classical-only run never imports torch. A package declared as a family has every module in
it imported, so adding a component is adding one file.

A family whose import fails is not marked loaded: the failure is kept and reported, with the family and the
module, every time the family is asked for (importing it again would only meet the half-registered entries
of the first attempt).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from bench.core.errors import ConfigError, did_you_mean

T = TypeVar("T")


@dataclass
class Entry(Generic[T]):
    name: str
    obj: T
    family: str = ""
    tags: dict[str, Any] = field(default_factory=dict)


class FamilyImportError(ConfigError):
    """A declared family's module raised while it was imported."""


def import_family(module: str) -> None:
    """Import ``module``; when it is a package, also every module in it (sorted, so the order is stable)."""
    mod = importlib.import_module(module)
    for info in sorted(pkgutil.iter_modules(getattr(mod, "__path__", [])), key=lambda i: i.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{module}.{info.name}")


class Registry(Generic[T]):
    """Name -> object, with lazily imported families, duplicate checks and did-you-mean errors."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        self._families: dict[str, str] = {}  # family -> module that registers it
        self._loaded: set[str] = set()
        self._failed: dict[str, FamilyImportError] = {}

    # --------------------------------------------------------------- declaring
    def declare_family(self, family: str, module: str) -> None:
        """Say that importing ``module`` (a module, or a package whose modules are all imported) registers
        the entries of ``family``."""
        self._families[family] = module

    def register(self, name: str | None = None, *, family: str = "", **tags: Any) -> Callable[[T], T]:
        """Decorator: the decorated object is registered under ``name`` (default: its ``__name__``)."""

        def deco(obj: T) -> T:
            self.add(name or obj.__name__.replace("_", "-"), obj, family=family, **tags)
            return obj

        return deco

    def add(self, name: str, obj: T, *, family: str = "", **tags: Any) -> None:
        if not name or not isinstance(name, str):
            raise ConfigError(f"a {self.kind} needs a non-empty name, got {name!r}")
        if name in self._entries:
            raise ConfigError(f"{self.kind} '{name}' is registered twice; pick another name")
        self._entries[name] = Entry(name, obj, family, tags)

    def remove(self, name: str) -> None:
        """Forget one entry (tests and ``--include`` clean-up)."""
        self._entries.pop(name, None)

    # --------------------------------------------------------------- loading families
    def load(self, family: str | None = None) -> None:
        """Import the module(s) of one family, or of all declared families; a failed one raises every time."""
        for fam in list(self._families):
            if family is None or fam == family:
                self._load_one(fam)

    def _load_one(self, family: str) -> None:
        if family in self._loaded:
            return
        if family in self._failed:
            raise self._failed[family]
        module = self._families[family]
        try:
            import_family(module)
        except Exception as exc:  # noqa: BLE001 - any import failure is reported as the family's, every time
            detail = " ".join(str(exc).split())
            error = FamilyImportError(f"the {self.kind} family '{family}' failed to load ({module}: "
                                      f"{type(exc).__name__}: {detail})")
            self._failed[family] = error
            raise error from exc
        self._loaded.add(family)

    def failures(self) -> dict[str, FamilyImportError]:
        return dict(self._failed)

    def families(self) -> list[str]:
        return list(self._families)

    # --------------------------------------------------------------- looking up
    def entry(self, name: str) -> Entry[T]:
        # Families load one at a time, in declared order, until the name turns up: asking for a classical
        # model must not import torch (860 MB of resident memory and seconds of start-up). A family that fails
        # to load may hold the name, so its failure is the answer when the name is found nowhere else.
        failed: list[FamilyImportError] = []
        for family in self._families:
            if name in self._entries:
                break
            try:
                self._load_one(family)
            except FamilyImportError as exc:
                failed.append(exc)
        if name not in self._entries:
            if failed:
                raise ConfigError(f"{self.kind} '{name}' is not registered, and " + "; ".join(map(str, failed)))
            raise ConfigError(
                f"unknown {self.kind} '{name}';{did_you_mean(name, list(self._entries))} "
                f"available: {', '.join(self._entries) or 'none'}"
            )
        return self._entries[name]

    def get(self, name: str) -> T:
        return self.entry(name).obj

    def names(self, family: str | None = None) -> list[str]:
        self.load(family)
        return [n for n, e in self._entries.items() if family is None or e.family == family]

    def entries(self, family: str | None = None) -> Iterator[Entry[T]]:
        self.load(family)
        return (e for e in list(self._entries.values()) if family is None or e.family == family)

    def __contains__(self, name: str) -> bool:
        try:
            self.entry(name)
        except ConfigError:
            return False
        return True
