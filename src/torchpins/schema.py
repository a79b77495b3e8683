"""The settings keys of ``[tool.torchpins]``, declared once.

This declaration is the only place a key, its choices, its default or its meaning is written. The
reader (:mod:`torchpins.settings`) takes its known keys ("did you mean"), choices and defaults from
here; :func:`json_schema` turns it into the JSON schema shipped in the package (and served to
validate-pyproject and editors); :func:`reference_markdown` into the docs site's configuration
reference (generated when the site is built). Tests hold the shipped schema and the site to it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from torchpins.facts import FACTS, Kind

#: platform-machine pairs CI can build on, and the GitHub Actions runner for each.
CI_PLATFORMS = {
    "linux-x86_64": "ubuntu-latest",
    "linux-aarch64": "ubuntu-24.04-arm",
    "darwin-arm64": "macos-latest",
    "darwin-x86_64": "macos-13",
    "win32-AMD64": "windows-latest",
}

SCHEMA_ID = "https://github.com/torchpins/torchpins/blob/main/src/torchpins/torchpins.schema.json"


class Type(str, enum.Enum):
    """What a key holds, as TOML writes it."""

    STRING = "string"
    BOOLEAN = "boolean"
    STRINGS = "array of strings"
    REQUIREMENTS = "array of requirement strings"
    NAMES = "array of names"
    EXTRAS = "table of extra = [requirements]"
    PINS = "table of name = specifier"
    CONDITIONS = "table of fact = condition"
    UNLESS = "table of fact = condition, or an array of them"
    TABLE = "table"
    ROWS = "array of tables"
    #: A table whose keys the user names, each holding the table in ``keys`` (or a string).
    NAMED = "table of name = table"


@dataclass(frozen=True)
class Key:
    name: str
    type: Type
    help: str
    choices: tuple[str, ...] = ()
    #: The value used when the key is absent (None: absent means "not set").
    default: str | bool | tuple[str, ...] | None = None
    required: bool = False
    #: The keys of a table, or of each table of an array of tables.
    keys: tuple[Key, ...] = ()
    #: A matrix row action; the row's actions apply in the order they are declared here.
    action: bool = False
    #: Besides its choices, the key takes a value of this form (e.g. "a torch version"), whose
    #: text matches ``pattern`` (for the JSON schema; the reader checks it fully).
    or_else: str | None = None
    pattern: str | None = None

    def child(self, name: str) -> Key:
        for key in self.keys:
            if key.name == name:
                return key
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(key.name for key in self.keys)


_CONDITIONS_HELP = (
    "fact = condition: a PEP 440 specifier set for a version fact, a string or a list of strings "
    "(any of) for a string fact, true or false for a boolean fact"
)

ROW = Key(
    "matrix",
    Type.ROWS,
    "The matrix rows, applied in file order; every row that matches applies.",
    keys=(
        Key(
            "when",
            Type.CONDITIONS,
            "The row applies when every condition holds. " + _CONDITIONS_HELP,
        ),
        Key(
            "unless",
            Type.UNLESS,
            "The row does not apply when every condition of the table holds (of any one table, "
            "for a list of tables).",
        ),
        Key("error", Type.STRING, "The build fails with this message.", action=True),
        Key(
            "remove",
            Type.NAMES,
            "Remove these requirements by name, from the base and every extra.",
            action=True,
        ),
        Key("drop-extras", Type.NAMES, "These extras are not provided at all.", action=True),
        Key("extras", Type.EXTRAS, "Replace (or create) these extras' lists.", action=True),
        Key(
            "extras-add",
            Type.EXTRAS,
            "Append to these extras, providing each that is not provided yet.",
            action=True,
        ),
        Key("add", Type.REQUIREMENTS, "Append these base requirements.", action=True),
        Key(
            "pins",
            Type.PINS,
            "Replace the version specifier of these requirements wherever they appear.",
            action=True,
        ),
    ),
)

TOOL = Key(
    "tool.torchpins",
    Type.TABLE,
    "torchpins' configuration.",
    required=True,
    keys=(
        Key(
            "dependencies",
            Type.REQUIREMENTS,
            "The base requirements (PEP 508; markers are passed through).",
            default=(),
        ),
        Key("optional-dependencies", Type.EXTRAS, "The base extras: extra = [requirements]."),
        Key(
            "markers",
            Type.BOOLEAN,
            "Write the rows' conditions on python, platform and machine as PEP 508 markers, so "
            "that one wheel is right for every Python and platform; false: decide them at build "
            "time and tag the wheel for them.",
            default=True,
        ),
        Key(
            "unmatched",
            Type.STRING,
            "What happens when rows test torch but none matches the torch of this build.",
            choices=("error", "warn", "ignore"),
            default="error",
        ),
        Key(
            "torch",
            Type.TABLE,
            "How the wheel requires torch itself.",
            keys=(
                Key(
                    "pin",
                    Type.STRING,
                    "minor: torch==2.8.*; exact: torch==2.8.0; local: torch==2.8.0+cu128; "
                    "floor: torch>=2.8; none: no torch requirement.",
                    choices=("minor", "exact", "local", "floor", "none"),
                    default="minor",
                    or_else='a specifier template such as ">={torch}"',
                    pattern=r"^\s*[=<>!~]",
                ),
                Key(
                    "missing",
                    Type.STRING,
                    "When no torch is installed: stop (error), build with no torch facts "
                    "(unpinned), or build as if this torch version were installed.",
                    choices=("error", "unpinned"),
                    default="error",
                    or_else="a torch version such as 2.8.0",
                    pattern=r"^\s*[vV]?[0-9]",
                ),
            ),
        ),
        ROW,
        Key(
            "all-extras",
            Type.STRING,
            "After the rows, provide this extra with every requirement of every other provided "
            'extra, duplicates dropped (e.g. "all").',
        ),
        Key(
            "env",
            Type.NAMED,
            'Facts read from environment variables: fact = "VARIABLE", or fact = { variable, '
            "kind, default }.",
            keys=(
                Key("variable", Type.STRING, "The environment variable to read.", required=True),
                Key(
                    "kind",
                    Type.STRING,
                    "How conditions and templates treat the value.",
                    choices=("string", "boolean", "version"),
                    default="string",
                ),
                Key(
                    "default",
                    Type.STRING,
                    "The value when the variable is unset or empty (none: the fact is absent).",
                ),
            ),
        ),
        Key(
            "local-version",
            Type.STRING,
            "A template for the wheel's local version label, e.g. "
            '"{torch-local}.torch{torch|minor|nodot}".',
        ),
        Key(
            "guard",
            Type.TABLE,
            "A module written at build time that checks, at import, that the torch present is "
            "the one the wheel was built for.",
            keys=(
                Key(
                    "file",
                    Type.STRING,
                    "The module to write, relative to the project, e.g. src/mypkg/_torch_guard.py.",
                    required=True,
                ),
                Key(
                    "on-mismatch",
                    Type.STRING,
                    "Raise ImportError, or warn.",
                    choices=("error", "warn"),
                    default="error",
                ),
            ),
        ),
        Key(
            "ci",
            Type.TABLE,
            "The environments torchpins ci-matrix makes CI jobs for.",
            keys=(
                Key("python", Type.STRINGS, "Python versions, e.g. 3.12.", required=True),
                Key(
                    "platforms",
                    Type.STRINGS,
                    "platform-machine pairs.",
                    choices=tuple(CI_PLATFORMS),
                    default=("linux-x86_64",),
                ),
                Key(
                    "torch",
                    Type.ROWS,
                    "The torch releases to build for.",
                    required=True,
                    keys=(
                        Key("version", Type.STRING, "A torch release, e.g. 2.8.0.", required=True),
                        Key(
                            "builds",
                            Type.STRINGS,
                            "Build labels (cpu, cu128, rocm6.3, xpu); none: the index's "
                            "default build.",
                            default=(),
                        ),
                    ),
                ),
            ),
        ),
    ),
)

#: The actions of a matrix row, in the order they apply.
ROW_ACTIONS: tuple[str, ...] = tuple(key.name for key in ROW.keys if key.action)


def lookup(path: str) -> Key:
    """The key at a dotted path below ``tool.torchpins`` (``torch.pin``, ``matrix.when``;
    ``env.*`` for each entry of a named table)."""
    key = TOOL
    for part in path.split(".") if path else ():
        key = key if part == "*" else key.child(part)
    return key


# --------------------------------------------------------------------------------------------
# JSON schema


def json_schema() -> dict[str, Any]:
    """The JSON schema (draft 7) of ``[tool.torchpins]``."""
    schema = _schema(TOOL)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": SCHEMA_ID,
        "title": "torchpins",
        **schema,
    }


def _schema(key: Key) -> dict[str, Any]:
    description = {"description": key.help}
    if key.type == Type.STRING:
        if key.choices and key.or_else is None:
            return {**description, "type": "string", "enum": list(key.choices), **_default(key)}
        if key.choices and key.pattern:
            one_of = [{"enum": list(key.choices)}, {"pattern": key.pattern}]
            return {**description, "type": "string", "anyOf": one_of, **_default(key)}
        return {**description, "type": "string", **_default(key)}
    if key.type == Type.BOOLEAN:
        return {**description, "type": "boolean", **_default(key)}
    if key.type in (Type.STRINGS, Type.REQUIREMENTS, Type.NAMES):
        items: dict[str, Any] = {"type": "string"}
        if key.choices:
            items["enum"] = list(key.choices)
        return {**description, "type": "array", "items": items, **_default(key)}
    if key.type == Type.EXTRAS:
        return {
            **description,
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        }
    if key.type == Type.PINS:
        return {**description, "type": "object", "additionalProperties": {"type": "string"}}
    if key.type == Type.CONDITIONS:
        return {**description, **_conditions_schema()}
    if key.type == Type.UNLESS:
        return {
            **description,
            "oneOf": [_conditions_schema(), {"type": "array", "items": _conditions_schema()}],
        }
    if key.type == Type.NAMED:
        entry = {
            "type": "object",
            "properties": {child.name: _schema(child) for child in key.keys},
            "required": [child.name for child in key.keys if child.required],
            "additionalProperties": False,
        }
        return {
            **description,
            "type": "object",
            "propertyNames": {"pattern": FACT_NAME},
            "additionalProperties": {"oneOf": [{"type": "string"}, entry]},
        }
    table: dict[str, Any] = {
        "type": "object",
        "properties": {child.name: _schema(child) for child in key.keys},
        "additionalProperties": False,
    }
    required = [child.name for child in key.keys if child.required]
    if required:
        table["required"] = required
    if key.type == Type.ROWS:
        return {**description, "type": "array", "items": table}
    return {**description, **table}


#: What a fact's name looks like (built-in or declared in [tool.torchpins.env]).
FACT_NAME = "^[a-z0-9]+(-[a-z0-9]+)*$"


def _conditions_schema() -> dict[str, Any]:
    """Known facts are checked by kind; a project's environment facts (any name) by shape."""
    return {
        "type": "object",
        "properties": {name: _condition_schema(name) for name in FACTS},
        "propertyNames": {"pattern": FACT_NAME},
        "additionalProperties": {
            "oneOf": [
                {"type": "string"},
                {"type": "boolean"},
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
            ]
        },
    }


def _condition_schema(fact: str) -> dict[str, Any]:
    spec = FACTS[fact]
    if spec.kind == Kind.BOOLEAN:
        return {"description": spec.help, "type": "boolean"}
    if spec.kind == Kind.VERSION:
        specifier = {"type": "string", "format": "pep508-versionspec"}
        return {
            "description": spec.help,
            "oneOf": [specifier, {"type": "array", "items": specifier, "minItems": 1}],
        }
    if spec.kind == Kind.VERSION_LIST:
        return {"description": spec.help, "type": "string", "format": "pep508-versionspec"}
    one: dict[str, Any] = {"type": "string"}
    if spec.choices:
        one["enum"] = list(spec.choices)
    return {
        "description": spec.help,
        "oneOf": [one, {"type": "array", "items": one, "minItems": 1}],
    }


def _default(key: Key) -> dict[str, Any]:
    if key.default is None:
        return {}
    return {"default": list(key.default) if isinstance(key.default, tuple) else key.default}


def validate_pyproject_schema(tool_name: str) -> dict[str, Any]:
    """The schema of ``[tool.torchpins]``: the ``validate_pyproject.tool_schema`` entry point, so
    that ``validate-pyproject pyproject.toml`` and editors check it."""
    import json
    from importlib.resources import files

    text = files("torchpins").joinpath("torchpins.schema.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


# --------------------------------------------------------------------------------------------
# The docs site's reference


def reference_markdown() -> str:
    """The configuration reference: one table of every key, derived from the declaration."""
    lines = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for path, key in _walk(TOOL, "tool.torchpins"):
        values = ""
        if key.choices:
            values = " One of " + ", ".join(f"`{choice}`" for choice in key.choices)
            values += f", or {key.or_else}." if key.or_else else "."
        default = "required" if key.required else _shown_default(key)
        lines.append(f"| `{path}` | {key.type.value} | {default} | {key.help}{values} |")
    return "\n".join(lines) + "\n"


def _shown_default(key: Key) -> str:
    if key.default is None:
        return "-"
    if isinstance(key.default, bool):
        return f"`{str(key.default).lower()}`"
    if isinstance(key.default, tuple):
        return "`[" + ", ".join(f'"{item}"' for item in key.default) + "]`"
    return f'`"{key.default}"`'


def _walk(key: Key, path: str) -> Iterator[tuple[str, Key]]:
    for child in key.keys:
        child_path = f"{path}.{child.name}"
        if key.type == Type.NAMED:
            child_path = f"{path}.<fact>.{child.name}"
        shown = f"[[{child_path}]]" if child.type == Type.ROWS else child_path
        yield shown, child
        yield from _walk(child, child_path)
