"""Registries that find their members: a new selector or benchmark is one new file.

A member registers itself with a decorator in its own module; a registry tied to a package
imports every module of that package the first time it is asked for a name, so nothing
else (no import list, no set of names) has to be kept by hand.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from codesift import CodesiftError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    obj: T
    needs: tuple[str, ...] = ()  # inputs the member reads (e.g. "embeddings", "ifd")
    options: type | None = None  # its own knobs' dataclass (params: `<section>.<name>`)


class Registry(Generic[T]):
    def __init__(self, kind: str, package: str | None = None) -> None:
        self.kind, self.package = kind, package
        self._entries: dict[str, Entry[T]] = {}
        self._found = package is None

    def register(self, name: str, needs: tuple[str, ...] = (), options: type | None = None
                 ) -> Callable[[T], T]:
        def wrap(obj: T) -> T:
            if name in self._entries and self._entries[name].obj is not obj:
                raise CodesiftError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = Entry(name, obj, tuple(needs), options)
            return obj
        return wrap

    def _discover(self) -> None:
        """Import every module of the package once, so each @register runs."""
        if self._found:
            return
        self._found = True
        pkg = importlib.import_module(self.package)
        for info in pkgutil.iter_modules(pkg.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{self.package}.{info.name}")

    def names(self) -> list[str]:
        self._discover()
        return sorted(self._entries)

    def get(self, name: str) -> Entry[T]:
        self._discover()
        if name not in self._entries:
            raise CodesiftError(f"unknown {self.kind} {name!r}; known: "
                                f"{', '.join(sorted(self._entries))}")
        return self._entries[name]

    def __contains__(self, name: Any) -> bool:
        self._discover()
        return name in self._entries
