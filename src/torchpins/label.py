"""Local version labels for CI wheel builds: ``[tool.torchpins] local-version``.

A template over facts, ``"{torch-local}.torch{torch|minor|nodot}"``, becomes the label of the
wheel's version (``1.4.0+cu128.torch28``), which setuptools writes into both the file name and
METADATA (through ``egg_info.tag_build``). Placeholders are ``{fact}`` with optional filters:
``|minor`` (``2.8.0`` -> ``2.8``), ``|major`` (``2``), ``|nodot`` (``12.8`` -> ``128``).
"""

from __future__ import annotations

import re

from torchpins.errors import ConfigError, ResolveError
from torchpins.facts import FACTS, FactValue, format_value

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
FILTERS = ("minor", "major", "nodot")
KEY = "tool.torchpins.local-version"


def check_template(template: str) -> str:
    """The template, or a :class:`ConfigError` naming what is wrong with it."""
    if not template.strip():
        raise ConfigError(f'{KEY} is empty; write a template such as "{{torch-local}}"')
    outside = _PLACEHOLDER.sub("", template)
    if "{" in outside or "}" in outside:
        raise ConfigError(f"{KEY}: {template!r} has an unmatched brace")
    if not _PLACEHOLDER.search(template):
        raise ConfigError(
            f"{KEY}: {template!r} names no fact, so every wheel would get the same label; "
            'use placeholders such as "{torch-local}.torch{torch|minor|nodot}"'
        )
    for inner in _PLACEHOLDER.findall(template):
        fact, *filters = (part.strip() for part in inner.split("|"))
        if fact not in FACTS:
            from torchpins.errors import did_you_mean

            raise ConfigError(
                f"{KEY}: {{{inner}}} names no fact{did_you_mean(fact, FACTS)}; "
                f"the facts are {', '.join(FACTS)}"
            )
        for name in filters:
            if name not in FILTERS:
                raise ConfigError(
                    f"{KEY}: {{{inner}}} uses the filter {name!r}; the filters are "
                    f"{', '.join(FILTERS)}"
                )
    literal = _PLACEHOLDER.sub("x", template)
    if not re.fullmatch(r"[A-Za-z0-9]+([._-][A-Za-z0-9]+)*", literal):
        raise ConfigError(
            f"{KEY}: {template!r} cannot make a version label (letters, digits and . - _ "
            'between them only), e.g. "{torch-local}.torch{torch|minor|nodot}"'
        )
    return template


def facts_in(template: str) -> set[str]:
    return {inner.split("|")[0].strip() for inner in _PLACEHOLDER.findall(template)}


def render(template: str, facts: dict[str, FactValue]) -> str:
    """The label for these facts; a :class:`ResolveError` when a fact it names is absent."""

    def one(match: re.Match[str]) -> str:
        fact, *filters = (part.strip() for part in match.group(1).split("|"))
        value = facts.get(fact)
        if value is None or value == ():
            raise ResolveError(
                f"{KEY} uses {{{match.group(1)}}}, but {fact} is absent in this build; set it "
                f"(TORCHPINS_{fact.upper().replace('-', '_')}=...) or leave it out of the template"
            )
        text = format_value(value)
        for name in filters:
            parts = text.split(".")
            if name == "minor":
                text = ".".join(parts[:2])
            elif name == "major":
                text = parts[0]
            else:
                text = text.replace(".", "")
        return text

    label = _PLACEHOLDER.sub(one, template).lower()
    from packaging.version import InvalidVersion, Version

    try:
        Version(f"0+{label}")
    except InvalidVersion:
        raise ResolveError(
            f"{KEY} makes {label!r} here, which is not a valid version label"
        ) from None
    return label
