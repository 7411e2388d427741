"""Registries: one name -> factory table per swappable family (encoders, reducers, clusterers...).

A step is chosen by the name a user gives (`--reducer pca`, `--engine ray`, `--llm openai:...`); the
registry turns that name into a configured object and, for an unknown name, into one clear error
that lists the names it knows. Plugins add an entry with `register`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from segmint.agent.core.errors import UsageError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Factories of one family by name.

    Args:
        family: what the entries are, for messages ("reducer", "engine").
        option: the command-line option that picks one, for messages ("--reducer").
    """

    def __init__(self, family: str, option: str) -> None:
        self.family = family
        self.option = option
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator: add a factory under `name` (a later registration replaces an earlier one)."""

        def add(factory: Callable[..., T]) -> Callable[..., T]:
            self._factories[name] = factory
            return factory

        return add

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order."""
        return tuple(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def __iter__(self) -> Iterator[str]:
        return iter(self._factories)

    def create(self, name: str, **kwargs: Any) -> T:
        """Build the entry called `name` with its factory's keyword arguments.

        Raises:
            UsageError: no entry has that name (the message lists the known ones).
        """
        factory = self._factories.get(name)
        if factory is None:
            raise UsageError(f"unknown {self.family} {name!r}; use one of: {', '.join(self._factories)}")
        return factory(**kwargs)
