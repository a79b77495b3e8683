"""Templates: ``{fact|filter|filter(N)}`` placeholders filled in from the facts (SPEC section 7.1).

One engine for every place that takes a template: requirements (base, ``add``, ``extras``,
``extras-add``), ``remove`` names, ``pins`` keys and values, ``error`` messages, the torch ``pin``
and ``local-version``. A template is checked when the project loads (unknown facts and filters,
filters that cannot apply to a fact's kind); it is filled in when a row applies, where an absent
fact is a build error naming the key.

Filters, left to right: ``major`` and ``part(N)`` give integers; ``minor``, ``release`` and
``public`` give versions; ``add(N)`` needs an integer; ``nodot``, ``upper`` and ``lower`` take any
text. ``{{`` and ``}}`` are literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from torchpins.errors import ConfigError, ResolveError, did_you_mean, shorten
from torchpins.facts import FactValue, Kind, env_var, format_value, parse_version

#: What a value is while filters run.
VERSION, INTEGER, TEXT = "a version", "an integer", "text"

#: filter -> (the kinds it takes, the kind it gives, whether it takes an argument)
FILTERS: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "major": ((VERSION,), INTEGER, False),
    "minor": ((VERSION,), VERSION, False),
    "release": ((VERSION,), VERSION, False),
    "public": ((VERSION,), VERSION, False),
    "part": ((VERSION,), INTEGER, True),
    "add": ((INTEGER,), INTEGER, True),
    "nodot": ((VERSION, INTEGER, TEXT), TEXT, False),
    "upper": ((VERSION, INTEGER, TEXT), TEXT, False),
    "lower": ((VERSION, INTEGER, TEXT), TEXT, False),
}
FILTER_NAMES = ", ".join(f"{name}(N)" if FILTERS[name][2] else name for name in FILTERS)
#: Names a template may use besides the facts: the distribution being built.
PROJECT_NAMES = {"version": Kind.VERSION, "name": Kind.STRING}

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_FILTER = re.compile(r"([a-z]+)(?:\((-?\d+)\))?")


class TemplateError(ResolveError):
    """A template cannot be filled in for this build: a fact it names is absent, or the text
    it makes is not what its key takes."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class Placeholder:
    source: str  # the text between the braces, for messages
    fact: str
    filters: tuple[tuple[str, int | None], ...]


@dataclass(frozen=True)
class Template:
    """A checked template: literal text and placeholders, in order."""

    text: str
    parts: tuple[str | Placeholder, ...]
    key: str

    @property
    def facts(self) -> set[str]:
        return {part.fact for part in self.parts if isinstance(part, Placeholder)}

    @property
    def is_literal(self) -> bool:
        return not self.facts

    def literal(self) -> str:
        """The text of a template without placeholders (``{{`` already made ``{``)."""
        return "".join(part for part in self.parts if isinstance(part, str))

    def render(self, values: Mapping[str, FactValue]) -> str:
        """The text for these facts; a :class:`ResolveError` naming the key and the fact when a
        fact it names is absent."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = values.get(part.fact)
            if value is None:
                how = (
                    f"set it ({env_var(part.fact)}=...)"
                    if part.fact not in PROJECT_NAMES
                    else "give the project a version"
                )
                raise TemplateError(
                    f"{self.key} uses {{{part.source}}}, but {part.fact} is absent in this build; "
                    f"{how}, or make the row that uses it apply only where {part.fact} is known",
                    self.key,
                )
            out.append(_apply(part, value))
        return "".join(out)


def parse(text: str, key: str, kinds: Mapping[str, Kind]) -> Template:
    """Check ``text`` as a template whose placeholders name the facts in ``kinds`` (and
    ``version`` and ``name``); a :class:`ConfigError` naming ``key`` when it is not one."""
    parts: list[str | Placeholder] = []
    literal = ""
    position = 0
    for match in _TOKEN.finditer(text):
        literal += text[position : match.start()]
        position = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            literal += token[0]
        elif token in ("{", "}"):
            raise ConfigError(
                f"{key}: {shorten(text)} has an unmatched brace {token!r}; write {token * 2} for "
                "a literal brace"
            )
        else:
            if literal:
                parts.append(literal)
                literal = ""
            parts.append(_placeholder(match.group(1), key, kinds))
    literal += text[position:]
    if literal:
        parts.append(literal)
    return Template(text, tuple(parts), key)


def _placeholder(inner: str, key: str, kinds: Mapping[str, Kind]) -> Placeholder:
    fact, *chain = (piece.strip() for piece in inner.split("|"))
    known = {**kinds, **PROJECT_NAMES}
    if fact not in known:
        raise ConfigError(
            f"{key}: {{{inner}}} names no fact{did_you_mean(fact, known)}; the facts are "
            f"{', '.join(known)} (a literal brace is written {{{{ or }}}})"
        )
    kind = known[fact]
    if kind in (Kind.VERSION_LIST, Kind.STRING_LIST):
        raise ConfigError(
            f"{key}: {{{inner}}}: {fact} is a list, which a template cannot hold; test it in a "
            "row's when instead"
        )
    current = VERSION if kind == Kind.VERSION else TEXT
    filters: list[tuple[str, int | None]] = []
    for piece in chain:
        match = _FILTER.fullmatch(piece)
        name = match.group(1) if match else piece
        if match is None or name not in FILTERS:
            raise ConfigError(
                f"{key}: {{{inner}}} uses the filter {shorten(piece)}"
                f"{did_you_mean(name, FILTERS)}; the filters are {FILTER_NAMES}"
            )
        takes, gives, has_argument = FILTERS[name]
        argument = match.group(2)
        if has_argument != (argument is not None):
            shape = f"{name}(N)" if has_argument else name
            raise ConfigError(f"{key}: {{{inner}}}: write the filter as {shape}")
        if current not in takes:
            hint = " (use part(N) or major first)" if name == "add" else ""
            so_far = "|".join([fact, *chain[: chain.index(piece)]])
            raise ConfigError(
                f"{key}: {{{inner}}}: {name} takes {' or '.join(takes)}, but {{{so_far}}} is "
                f"{current}{hint}"
            )
        if name == "part" and argument is not None and int(argument) < 1:
            raise ConfigError(f"{key}: {{{inner}}}: part(N) counts from 1")
        filters.append((name, int(argument) if argument is not None else None))
        current = gives
    return Placeholder(inner, fact, tuple(filters))


def _apply(placeholder: Placeholder, value: FactValue) -> str:
    """The text of one placeholder for ``value`` (checked at load: the filters fit its kind)."""
    current: object = value if isinstance(value, str) else format_value(value)
    for name, argument in placeholder.filters:
        if name in ("major", "part", "minor", "release", "public"):
            version = parse_version(str(current))
            release = version.release
            if name == "major":
                current = release[0]
            elif name == "part":
                assert argument is not None
                current = release[argument - 1] if argument <= len(release) else 0
            elif name == "minor":
                current = f"{release[0]}.{release[1] if len(release) > 1 else 0}"
            elif name == "release":
                current = ".".join(map(str, release))
            else:
                current = version.public
        elif name == "add":
            assert isinstance(current, int)
            assert argument is not None
            current = current + argument
        elif name == "nodot":
            current = str(current).replace(".", "")
        elif name == "upper":
            current = str(current).upper()
        else:
            current = str(current).lower()
    return str(current)
