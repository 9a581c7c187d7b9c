"""One registry class for datasets, protocols, models and metrics (in the spirit of timm / lm-eval-harness).

Entries can be registered eagerly (a decorator on the function) or lazily: a family of entries is declared by
the module that defines it, and that module is imported only when a name of the family is asked for. This keeps
torch out of classical-only runs.
"""

from __future__ import annotations

import importlib
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


class Registry(Generic[T]):
    """Name -> object, with lazily imported families, duplicate checks and did-you-mean errors."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        self._families: dict[str, str] = {}  # family -> module that registers it
        self._loaded: set[str] = set()

    # --------------------------------------------------------------- declaring
    def declare_family(self, family: str, module: str) -> None:
        """Say that importing ``module`` registers the entries of ``family``."""
        self._families[family] = module

    def register(self, name: str | None = None, *, family: str = "", **tags: Any) -> Callable[[T], T]:
        """Decorator: the decorated object is registered under ``name`` (default: its ``__name__``)."""

        def deco(obj: T) -> T:
            self.add(name or obj.__name__.replace("_", "-"), obj, family=family, **tags)
            return obj

        return deco

    def add(self, name: str, obj: T, *, family: str = "", **tags: Any) -> None:
        if name in self._entries:
            raise ConfigError(f"{self.kind} '{name}' is registered twice; pick another name")
        self._entries[name] = Entry(name, obj, family, tags)

    # --------------------------------------------------------------- looking up
    def load(self, family: str | None = None) -> None:
        """Import the module(s) of one family, or of all declared families."""
        for fam, module in self._families.items():
            if (family is None or fam == family) and fam not in self._loaded:
                self._loaded.add(fam)
                importlib.import_module(module)

    def families(self) -> list[str]:
        return list(self._families)

    def entry(self, name: str) -> Entry[T]:
        # Families load one at a time, in declared order, until the name turns up: asking for a classical
        # model must not import torch (860 MB of resident memory and seconds of start-up).
        for family in self._families:
            if name in self._entries:
                break
            self.load(family)
        if name not in self._entries:
            raise ConfigError(
                f"unknown {self.kind} '{name}';{did_you_mean(name, self.names())} "
                f"available: {', '.join(self.names()) or 'none'}"
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
        self.load()
        return name in self._entries
