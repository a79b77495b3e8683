"""Local version labels for CI wheel builds: ``[tool.torchpins] local-version``.

A template over facts (:mod:`torchpins.templates`), ``"{torch-local}.torch{torch|minor|nodot}"``,
becomes the label of the wheel's version (``1.4.0+cu128.torch28``), which setuptools writes into
both the file name and METADATA (through ``egg_info.tag_build``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from packaging.version import InvalidVersion

from torchpins.errors import ConfigError, ResolveError
from torchpins.facts import FactValue, parse_version
from torchpins.templates import Template

KEY = "tool.torchpins.local-version"


def check_template(template: Template) -> Template:
    """The template, or a :class:`ConfigError` naming what is wrong with it."""
    if not template.text.strip():
        raise ConfigError(f'{KEY} is empty; write a template such as "{{torch-local}}"')
    if template.is_literal:
        raise ConfigError(
            f"{KEY}: {template.text!r} names no fact, so every wheel would get the same label; "
            'use placeholders such as "{torch-local}.torch{torch|minor|nodot}"'
        )
    literal = "".join(part if isinstance(part, str) else "x" for part in template.parts)
    if not re.fullmatch(r"[A-Za-z0-9]+([._-][A-Za-z0-9]+)*", literal):
        raise ConfigError(
            f"{KEY}: {template.text!r} cannot make a version label (letters, digits and . - _ "
            'between them only), e.g. "{torch-local}.torch{torch|minor|nodot}"'
        )
    return template


def render(template: Template, values: Mapping[str, FactValue]) -> str:
    """The label for these facts, as packaging (and so the wheel's file name and METADATA)
    spells it; a :class:`ResolveError` when a fact it names is absent or the text is no label."""
    text = template.render(values)
    try:
        label = parse_version(f"0+{text}").local
    except InvalidVersion:
        label = None
    if label is None:
        raise ResolveError(f"{KEY} makes {text!r} here, which is not a valid version label")
    return label
