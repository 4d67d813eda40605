"""Pure HTTP-trigger rules: route templates, route precedence and function keys.

Route templates follow ASP.NET routing as the host uses it: ``{name}``, ``{name:int}`` (and
``long``, ``alpha``, ``guid``, ``bool``, ``double``, ``float``, ``decimal``, ``datetime``),
optional ``{name?}``, catch-all ``{*rest}``; matching is case-insensitive and literal segments win
over parameters.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from enum import StrEnum

_CONSTRAINTS = {
    "int": r"-?\d+",
    "long": r"-?\d+",
    "alpha": r"[A-Za-z]+",
    "guid": r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}",
    "bool": r"(?i:true|false)",
    "double": r"-?\d+(?:\.\d+)?",
    "float": r"-?\d+(?:\.\d+)?",
    "decimal": r"-?\d+(?:\.\d+)?",
    "datetime": r"\d{4}-\d{2}-\d{2}(?:T[0-9:.]+Z?)?",
}
_PARAM = re.compile(r"^\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?(\?)?\}$")


class RouteError(ValueError):
    """A route template the local runner cannot (or the host would not) accept."""


@dataclass(frozen=True)
class RouteTemplate:
    """A compiled route template; ``precedence`` orders candidates (lower is tried first)."""

    template: str
    pattern: re.Pattern[str]
    params: tuple[str, ...]
    precedence: tuple[int, ...]

    def match(self, path: str) -> dict[str, str] | None:
        """Route parameters when ``path`` (without prefix, no leading slash) matches, else None."""
        trimmed = path.strip("/")
        m = self.pattern.fullmatch("/" + trimmed if trimmed else "")
        if m is None:
            return None
        return {k: v for k, v in m.groupdict().items() if v is not None}


def compile_route(template: str) -> RouteTemplate:
    """Compile ``items/{id:int}/{*rest}`` into a case-insensitive regular expression."""
    segments = [s for s in template.strip("/").split("/") if s] if template.strip("/") else []
    parts: list[str] = []
    params: list[str] = []
    ranks: list[int] = []
    for i, seg in enumerate(segments):
        m = _PARAM.match(seg)
        if m is None:
            if "{" in seg or "}" in seg:
                raise RouteError(f"unsupported route segment {seg!r} in {template!r}")
            parts.append("/" + re.escape(seg))
            ranks.append(0)
            continue
        star, name, constraint, optional = m.groups()
        if name in params:
            raise RouteError(f"route parameter {name!r} repeats in {template!r}")
        params.append(name)
        if star:
            if i != len(segments) - 1:
                raise RouteError(f"catch-all must be the last segment of {template!r}")
            parts.append(f"(?:/(?P<{name}>.*))?")
            ranks.append(3)
            continue
        if constraint and constraint not in _CONSTRAINTS:
            raise RouteError(f"unsupported route constraint {constraint!r} in {template!r}")
        body = _CONSTRAINTS[constraint] if constraint else r"[^/]+"
        part = f"/(?P<{name}>{body})"
        parts.append(f"(?:{part})?" if optional else part)
        ranks.append(1 if constraint else 2)
    regex = "".join(parts)
    return RouteTemplate(template, re.compile(regex, re.IGNORECASE), tuple(params), tuple(ranks))


def route_sort_key(route: RouteTemplate) -> tuple[tuple[int, ...], int]:
    """ASP.NET-style precedence: literals before constrained before plain parameters before catch-all."""
    return (route.precedence, -len(route.precedence))


class KeyKind(StrEnum):
    FUNCTION = "function"
    HOST = "host"
    MASTER = "master"


@dataclass(frozen=True)
class Keys:
    """The local keys (one function key shared by every function, as ``func start`` does by default)."""

    function: str
    host: str
    master: str

    def kind_of(self, presented: str | None) -> KeyKind | None:
        if not presented:
            return None
        for kind, key in ((KeyKind.MASTER, self.master), (KeyKind.HOST, self.host),
                          (KeyKind.FUNCTION, self.function)):
            if key and hmac.compare_digest(presented.encode(), key.encode()):
                return kind
        return None


def authorized(level: str, presented: str | None, keys: Keys) -> bool:
    """anonymous: anyone; function: function, host or master key; admin: master key only."""
    if level == "anonymous":
        return True
    kind = keys.kind_of(presented)
    if level == "admin":
        return kind is KeyKind.MASTER
    return kind is not None
