"""Matching request paths against HTTP-trigger route templates.

Templates follow ASP.NET routing as the Functions host uses it: literal segments match
case-insensitively, ``{name}`` captures a segment, ``{name?}`` is optional, ``{name:int}`` adds a
constraint (``int``, ``long``, ``bool``, ``guid``, ``alpha``; others are accepted unchecked),
and ``{*name}`` captures the rest of the path. When several templates match, the one with more
literal segments earlier wins, as in ASP.NET.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import unquote

_PARAMETER = re.compile(
    r"^\{(?P<star>\*{1,2})?(?P<name>[^}:?=]+)(?::(?P<constraint>[^}?=]+))?(?P<optional>\?)?(?:=(?P<default>[^}]*))?\}$"
)


@dataclass(frozen=True)
class _Segment:
    literal: str | None
    name: str | None = None
    constraint: str | None = None
    optional: bool = False
    catch_all: bool = False
    default: str | None = None

    @property
    def rank(self) -> int:
        if self.literal is not None:
            return 0
        if self.catch_all:
            return 4
        if self.optional:
            return 3
        return 1 if self.constraint else 2


def _constraint_ok(constraint: str | None, value: str) -> bool:
    if constraint is None:
        return True
    kind = constraint.split("(")[0].lower()
    if kind in ("int", "long"):
        return re.fullmatch(r"-?\d+", value) is not None
    if kind == "bool":
        return value.lower() in ("true", "false")
    if kind == "alpha":
        return value.isalpha()
    if kind == "guid":
        try:
            uuid.UUID(value)
        except ValueError:
            return False
        return True
    return True


@dataclass(frozen=True)
class RouteTemplate:
    """A parsed route template."""

    text: str
    segments: tuple[_Segment, ...]

    @classmethod
    def parse(cls, template: str) -> RouteTemplate:
        """Parse ``template`` (leading/trailing slashes ignored)."""
        segments: list[_Segment] = []
        for part in [p for p in template.strip("/").split("/") if p]:
            match = _PARAMETER.match(part)
            if match is None:
                segments.append(_Segment(literal=part))
                continue
            segments.append(
                _Segment(
                    literal=None,
                    name=match["name"],
                    constraint=match["constraint"],
                    optional=bool(match["optional"]) or match["default"] is not None,
                    catch_all=bool(match["star"]),
                    default=match["default"],
                )
            )
        return cls(template, tuple(segments))

    @property
    def precedence(self) -> tuple[int, ...]:
        """Sort key: smaller sorts first (more specific)."""
        return tuple(segment.rank for segment in self.segments)

    def match(self, path: str) -> dict[str, str] | None:
        """Return the route parameters if ``path`` (without prefix) matches, else None."""
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        values: dict[str, str] = {}
        for position, segment in enumerate(self.segments):
            if segment.catch_all:
                assert segment.name is not None
                rest = "/".join(parts[position:])
                if rest:
                    values[segment.name] = rest
                elif segment.default is not None:
                    values[segment.name] = segment.default
                return values
            if position >= len(parts):
                if segment.optional:
                    if segment.name and segment.default is not None:
                        values[segment.name] = segment.default
                    continue
                return None
            value = parts[position]
            if segment.literal is not None:
                if segment.literal.casefold() != value.casefold():
                    return None
                continue
            assert segment.name is not None
            if not _constraint_ok(segment.constraint, value):
                return None
            values[segment.name] = value
        if len(parts) > len(self.segments):
            return None
        return values
