"""The options of a conditional branch: an immutable mapping of option name to sub-space.

A :class:`~spaces.Categorical` whose choices are a :class:`Branches` is a conditional branch.
The mapping is generic in the sub-space it holds (a :class:`~spaces.Space`), whose equality,
hash and ``repr`` are all it asks of one, so it needs nothing from :mod:`spaces._space`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

S = TypeVar("S")


class Branches(Mapping[str, S]):
    """The options of a conditional branch: an immutable mapping of option name to sub-space."""

    __slots__ = ("_items", "_index")

    _items: tuple[tuple[str, S], ...]
    _index: dict[str, S]

    def __init__(self, items: Sequence[tuple[str, S]]) -> None:
        object.__setattr__(self, "_items", tuple(items))
        object.__setattr__(self, "_index", dict(self._items))

    def __getitem__(self, option: str) -> S:
        return self._index[option]

    def __iter__(self) -> Iterator[str]:
        return (option for option, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Branches):
            return NotImplemented
        return self._items == other._items

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{option!r}: {space!r}" for option, space in self._items) + "}"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Branches, (self._items,))
