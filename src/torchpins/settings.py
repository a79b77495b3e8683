"""The typed settings model: ``pyproject.toml`` -> :class:`Project`, validated once, frozen.

Every problem is a :class:`~torchpins.errors.ConfigError` whose message starts with the dotted key
(``tool.torchpins.matrix[3].pins.xformers``) and says how to fix it. Unknown keys are errors with a
"did you mean" hint. Nothing here probes or resolves: see :mod:`torchpins.probe` and
:mod:`torchpins.resolve`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
from packaging.utils import InvalidName, NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from torchpins import schema
from torchpins.errors import ConfigError, did_you_mean, has_control_characters, shorten
from torchpins.facts import FACTS, FactValue, Kind, is_build_label

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

PinPolicy = Literal["minor", "exact", "local", "floor", "none"]
Unmatched = Literal["error", "warn", "ignore"]

#: Spellings people reach for that ``sys.platform`` never has.
_PLATFORM_ALIASES = {
    "macos": "darwin",
    "mac": "darwin",
    "osx": "darwin",
    "macosx": "darwin",
    "windows": "win32",
    "win": "win32",
    "win64": "win32",
    "Linux": "linux",
    "Darwin": "darwin",
    "Windows": "win32",
}


# --------------------------------------------------------------------------------------------
# The model


def version_matches(specifier: SpecifierSet, value: str) -> bool:
    """Whether a version fact satisfies a specifier set.

    The local label is ignored. A pre-release, dev or post build counts as its release
    (``2.9.0.dev20250801`` satisfies ``~=2.9.0`` and not ``<2.9``), except against a specifier
    that itself names such a build (``>=2.9.0.dev20250801``), which compares exactly.
    """
    version = Version(value)
    public = Version(version.public)
    release = Version(version.base_version)
    return all(
        spec.contains(public if _names_a_prerelease(spec) else release, prereleases=True)
        for spec in specifier
    )


def _names_a_prerelease(spec: Specifier) -> bool:
    version = Version(spec.version.removesuffix(".*"))
    return version.is_prerelease or version.is_postrelease


@dataclass(frozen=True)
class Condition:
    """One ``fact = value`` entry of a ``when`` or ``unless`` table."""

    fact: str
    kind: str  # a Kind
    text: str
    specifier: SpecifierSet | None = None
    strings: tuple[str, ...] = ()
    boolean: bool | None = None

    def holds(self, value: FactValue) -> bool:
        if value is None:
            return False  # an absent fact makes its condition false, never an error
        if self.kind == Kind.VERSION:
            assert self.specifier is not None
            assert isinstance(value, str)
            return version_matches(self.specifier, value)
        if self.kind == Kind.VERSION_LIST:
            assert self.specifier is not None
            assert isinstance(value, tuple)
            specifier = self.specifier
            return any(version_matches(specifier, item) for item in value)
        if self.kind == Kind.BOOLEAN:
            return value is self.boolean
        return value in self.strings

    def __str__(self) -> str:
        return f"{self.fact} {self.text}"


@dataclass(frozen=True)
class Row:
    """One ``[[tool.torchpins.matrix]]`` row. Actions apply in the order of the fields below."""

    index: int
    when: tuple[Condition, ...]
    unless: tuple[Condition, ...]
    error: str | None
    remove: tuple[NormalizedName, ...]
    drop_extras: tuple[NormalizedName, ...]
    extras: tuple[tuple[NormalizedName, tuple[Requirement, ...]], ...]
    add: tuple[Requirement, ...]
    pins: tuple[tuple[NormalizedName, SpecifierSet], ...]

    @property
    def key(self) -> str:
        return f"tool.torchpins.matrix[{self.index}]"

    @property
    def names_torch(self) -> bool:
        return any(condition.fact == "torch" for condition in self.when)

    def facts_used(self) -> set[str]:
        return {condition.fact for condition in (*self.when, *self.unless)}

    def matches(self, facts: Mapping[str, FactValue]) -> bool:
        if not all(condition.holds(facts.get(condition.fact)) for condition in self.when):
            return False
        return not (
            self.unless
            and all(condition.holds(facts.get(condition.fact)) for condition in self.unless)
        )

    def describe(self) -> str:
        if not self.when:
            return "always"
        return ", ".join(str(condition) for condition in self.when)


@dataclass(frozen=True)
class TorchSettings:
    pin: PinPolicy = "minor"
    #: "error", "unpinned", or a torch version to assume when none is installed.
    missing: str = "error"


@dataclass(frozen=True)
class GuardSettings:
    """``[tool.torchpins.guard]``: a module written at build time that checks, when the package
    is imported, that the torch present is the one it was built for."""

    file: str  # relative to the project directory, with "/" separators
    on_mismatch: Literal["error", "warn"] = "error"


@dataclass(frozen=True)
class CiTorch:
    version: str
    builds: tuple[str, ...]  # local labels; empty: the default build of the index


@dataclass(frozen=True)
class CiSettings:
    """``[tool.torchpins.ci]``: the environments to build wheels for in CI."""

    python: tuple[str, ...]
    platforms: tuple[str, ...]
    torch: tuple[CiTorch, ...]


@dataclass(frozen=True)
class Settings:
    """``[tool.torchpins]``, validated."""

    dependencies: tuple[Requirement, ...]
    optional_dependencies: tuple[tuple[NormalizedName, tuple[Requirement, ...]], ...]
    unmatched: Unmatched
    torch: TorchSettings
    matrix: tuple[Row, ...]
    #: A template for the wheel's local version label (CI wheel builds), or None.
    local_version: str | None = None
    guard: GuardSettings | None = None
    ci: CiSettings | None = None

    @property
    def has_extras(self) -> bool:
        return bool(self.optional_dependencies) or any(row.extras for row in self.matrix)

    def facts_used(self) -> set[str]:
        used: set[str] = set()
        for row in self.matrix:
            used |= row.facts_used()
        return used

    def facts_needed_for_label(self) -> set[str]:
        from torchpins.label import facts_in

        return facts_in(self.local_version) if self.local_version else set()

    def declared_names(self) -> set[NormalizedName]:
        """Every requirement name the base lists or any row's ``add``/``extras`` declare, and
        torch unless ``pin = "none"``."""
        declared = {canonicalize_name(req.name) for req in self.dependencies}
        for _, requirements in self.optional_dependencies:
            declared |= {canonicalize_name(req.name) for req in requirements}
        for row in self.matrix:
            declared |= {canonicalize_name(req.name) for req in row.add}
            for _, requirements in row.extras:
                declared |= {canonicalize_name(req.name) for req in requirements}
        if self.torch.pin != "none":
            declared.add(canonicalize_name("torch"))
        return declared

    def declared_extras(self) -> set[NormalizedName]:
        extras = {name for name, _ in self.optional_dependencies}
        for row in self.matrix:
            extras |= {name for name, _ in row.extras}
        return extras

    def facts_needed(self) -> set[str]:
        """The facts a build must know: those the rows test, and torch unless nothing uses it."""
        needed = self.facts_used() | self.facts_needed_for_label()
        if self.torch.pin != "none" or self.torch.missing == "error":
            needed.add("torch")
        return needed


@dataclass(frozen=True)
class Project:
    """A project directory whose ``pyproject.toml`` configures torchpins."""

    directory: str
    name: str
    settings: Settings
    #: [project].version when it is static; None when dynamic.
    version: str | None = None


# --------------------------------------------------------------------------------------------
# Loading


def load_project(directory: str | os.PathLike[str] = ".") -> Project:
    """Read and check ``pyproject.toml`` in ``directory``: ``[tool.torchpins]`` and what it needs
    of ``[project]`` and ``[tool.setuptools]``."""
    directory = os.fspath(directory)
    path = os.path.join(directory, "pyproject.toml")
    document = read_toml(path)
    tool = _table(document.get("tool", {}), "tool")
    table = tool.get("torchpins")
    if table is None:
        raise ConfigError(
            f"{path} has no [tool.torchpins] table; torchpins.build_meta needs one to know what to "
            "pin (see the README), or use setuptools.build_meta for a project without torch pins"
        )
    settings = parse_settings(table)
    name = _check_project_table(document, settings)
    version = document["project"].get("version")
    return Project(
        directory=directory,
        name=name,
        settings=settings,
        version=version if isinstance(version, str) else None,
    )


def read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist; run torchpins in a project directory") from None
    except OSError as error:
        raise ConfigError(f"{path} cannot be read: {error.strerror}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        raise ConfigError(f"{path} starts with a byte-order mark; save it as UTF-8 without one")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path} is not valid UTF-8 (byte {error.start}); TOML files must be UTF-8"
        ) from None
    try:
        document: dict[str, Any] = tomllib.loads(text)
        return document
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    except RecursionError:
        raise ConfigError(f"{path} nests tables or arrays too deeply to be read") from None


def _check_project_table(document: Mapping[str, Any], settings: Settings) -> str:
    """The checks setuptools would only warn about, or silently get wrong (FIELD-NOTES)."""
    project = document.get("project")
    if not isinstance(project, dict):
        raise ConfigError(
            "[project] is missing from pyproject.toml; torchpins needs at least name, version and "
            'dynamic = ["dependencies"]'
        )
    name = project.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError("project.name is missing; every project needs a name")
    dynamic = project.get("dynamic", [])
    if not isinstance(dynamic, list) or not all(isinstance(item, str) for item in dynamic):
        raise ConfigError("project.dynamic must be a list of field names")
    want = ["dependencies", "optional-dependencies"] if settings.has_extras else ["dependencies"]
    for field in want:
        if field in project:
            raise ConfigError(
                f"project.{field} is set statically, so setuptools would ignore the pins torchpins "
                f"computes; move it to tool.torchpins.{field} and list {field!r} in project.dynamic"
            )
    missing = [field for field in want if field not in dynamic]
    if missing:
        why = " (tool.torchpins declares extras)" if "optional-dependencies" in missing else ""
        fields = ", ".join(f'"{field}"' for field in [*dynamic, *missing])
        raise ConfigError(
            f"project.dynamic must list {' and '.join(map(repr, missing))}{why}, or setuptools "
            f"drops the requirements torchpins computes; write dynamic = [{fields}]"
        )
    setuptools = _table(document["tool"].get("setuptools", {}), "tool.setuptools")
    setuptools_dynamic = setuptools.get("dynamic", {})
    if isinstance(setuptools_dynamic, dict):
        for field in ("dependencies", "optional-dependencies"):
            if field in setuptools_dynamic:
                raise ConfigError(
                    f"tool.setuptools.dynamic.{field} competes with tool.torchpins; "
                    f"declare the requirements in tool.torchpins.{field} only"
                )
    return name


def parse_settings(table: Any) -> Settings:
    """``[tool.torchpins]`` as a :class:`Settings`."""
    key = "tool.torchpins"
    table = _table(table, key)
    _reject_unknown(table, schema.TOOL, key)
    dependencies = _requirements(table.get("dependencies", []), f"{key}.dependencies")
    optional = _extras_table(table.get("optional-dependencies", {}), f"{key}.optional-dependencies")
    unmatched = _choice(table, schema.lookup("unmatched"), key)
    torch = _torch_settings(table.get("torch", {}), f"{key}.torch")
    raw_matrix = table.get("matrix", [])
    if isinstance(raw_matrix, dict):
        raise ConfigError(
            f"{key}.matrix: expected an array of tables ([[tool.torchpins.matrix]], double "
            "brackets), got a single table"
        )
    if not isinstance(raw_matrix, list):
        raise ConfigError(f"{key}.matrix: expected an array of tables, got {_type(raw_matrix)}")
    matrix = tuple(_row(raw, index) for index, raw in enumerate(raw_matrix))
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_matrix):
        earlier = seen.setdefault(json.dumps(raw, sort_keys=True, default=str), index)
        if earlier != index:
            raise ConfigError(
                f"{key}.matrix[{index}] repeats {key}.matrix[{earlier}] exactly; remove one"
            )
    settings = Settings(
        dependencies=dependencies,
        optional_dependencies=optional,
        unmatched=cast(Unmatched, unmatched),
        torch=torch,
        matrix=matrix,
        local_version=_local_version(table["local-version"]) if "local-version" in table else None,
        guard=_guard(table["guard"], f"{key}.guard") if "guard" in table else None,
        ci=_ci(table["ci"], f"{key}.ci") if "ci" in table else None,
    )
    _check_pins_are_declared(settings)
    return settings


def _local_version(raw: Any) -> str:
    from torchpins.label import KEY, check_template

    return check_template(_string(raw, KEY))


def _guard(raw: Any, key: str) -> GuardSettings:
    table = _table(raw, key)
    _reject_unknown(table, schema.lookup("guard"), key)
    if "file" not in table:
        raise ConfigError(
            f'{key}.file is missing; name the module to write, e.g. "src/mypkg/_torch_guard.py"'
        )
    file = _string(table["file"], f"{key}.file").replace("\\", "/")
    parts = file.split("/")
    if (
        not file.endswith(".py")
        or file.startswith("/")
        or ":" in file
        or ".." in parts
        or any(not part for part in parts)
    ):
        raise ConfigError(
            f"{key}.file: {shorten(file)} must be a relative path to a .py file inside the "
            "project, "
            'e.g. "src/mypkg/_torch_guard.py"'
        )
    on_mismatch = _choice(table, schema.lookup("guard.on-mismatch"), key)
    return GuardSettings(file, cast(Literal["error", "warn"], on_mismatch))


def _ci(raw: Any, key: str) -> CiSettings:
    table = _table(raw, key)
    _reject_unknown(table, schema.lookup("ci"), key)
    python = _string_list(table.get("python", []), f"{key}.python")
    for index, text in enumerate(python):
        try:
            version = Version(text)
        except InvalidVersion:
            version = None
        if version is None or len(version.release) != 2 or version.local or version.pre:
            raise ConfigError(
                f"{key}.python[{index}]: {shorten(text)} is not a Python version like 3.12"
            )
    platforms_key = schema.lookup("ci.platforms")
    platforms = _string_list(
        table.get("platforms", list(platforms_key.default or ())), f"{key}.platforms"
    )
    for index, text in enumerate(platforms):
        if text not in platforms_key.choices:
            raise ConfigError(
                f"{key}.platforms[{index}]: {shorten(text)} is not one of "
                f"{', '.join(platforms_key.choices)}{did_you_mean(text, platforms_key.choices)}"
            )
    raw_torch = table.get("torch")
    if not isinstance(raw_torch, list) or not raw_torch:
        raise ConfigError(
            f"{key}.torch: expected an array of tables ([[{key}.torch]] with version and builds)"
        )
    entries = []
    for index, item in enumerate(raw_torch):
        item_key = f"{key}.torch[{index}]"
        entry = _table(item, item_key)
        _reject_unknown(entry, schema.lookup("ci.torch"), item_key)
        if "version" not in entry:
            raise ConfigError(f'{item_key}.version is missing; e.g. version = "2.8.0"')
        text = _string(entry["version"], f"{item_key}.version")
        try:
            version = Version(text)
        except InvalidVersion:
            raise ConfigError(
                f"{item_key}.version: {shorten(text)} is not a valid version"
            ) from None
        if version.local:
            raise ConfigError(
                f"{item_key}.version: {shorten(text)} has a label; put the build in builds "
                f'(builds = ["{version.local}"])'
            )
        builds = _string_list(entry.get("builds", []), f"{item_key}.builds")
        for build_index, build in enumerate(builds):
            if not is_build_label(build):
                raise ConfigError(
                    f"{item_key}.builds[{build_index}]: {shorten(build)} is not a torch build "
                    "label such as cpu, cu128, rocm6.3 or xpu"
                )
        entries.append(CiTorch(text, tuple(builds)))
    if not python:
        raise ConfigError(f'{key}.python is missing or empty; e.g. python = ["3.11", "3.12"]')
    return CiSettings(tuple(python), tuple(platforms), tuple(entries))


def _string_list(raw: Any, key: str) -> tuple[str, ...]:
    values = _list_of_strings(raw, key, "strings")
    if len(set(values)) != len(values):
        raise ConfigError(f"{key}: lists a value twice")
    return tuple(values)


def _torch_settings(raw: Any, key: str) -> TorchSettings:
    table = _table(raw, key)
    _reject_unknown(table, schema.lookup("torch"), key)
    pin = _choice(table, schema.lookup("torch.pin"), key)
    declared = schema.lookup("torch.missing")
    words = declared.choices
    missing = table.get("missing", declared.default)
    if not isinstance(missing, str):
        raise ConfigError(
            f"{key}.missing: expected {' or '.join(map(repr, words))} or a torch version, "
            f"got {_type(missing)}"
        )
    if missing not in words:
        _string(missing, f"{key}.missing")
        try:
            Version(missing)
        except InvalidVersion:
            raise ConfigError(
                f"{key}.missing: {shorten(missing)} is neither {', '.join(map(repr, words))} nor "
                f'a torch version such as "2.8.0"{did_you_mean(missing, words)}'
            ) from None
    return TorchSettings(pin=cast(PinPolicy, pin), missing=missing)


def _row(raw: Any, index: int) -> Row:
    key = f"tool.torchpins.matrix[{index}]"
    table = _table(raw, key)
    _reject_unknown(table, schema.ROW, key)
    when = _conditions(table.get("when", {}), f"{key}.when")
    unless = _conditions(table.get("unless", {}), f"{key}.unless")
    if "unless" in table and not unless:
        raise ConfigError(f"{key}.unless is empty, which would exclude the row always; remove it")
    error = table.get("error")
    if error is not None:
        error = _string(error, f"{key}.error")
        if not error.strip():
            raise ConfigError(f"{key}.error: the message is empty; say what the user should do")
    if not any(action in table for action in schema.ROW_ACTIONS):
        raise ConfigError(
            f"{key} has no action, so it does nothing; give it one of "
            f"{', '.join(schema.ROW_ACTIONS)}, or remove the row"
        )
    extras = _extras_table(table.get("extras", {}), f"{key}.extras")
    pins: list[tuple[NormalizedName, SpecifierSet]] = []
    for name, value in _table(table.get("pins", {}), f"{key}.pins").items():
        pin_key = _child(f"{key}.pins", name)
        pins.append((_name(name, pin_key), _specifier(value, pin_key)))
    return Row(
        index=index,
        when=when,
        unless=unless,
        error=error,
        remove=_names(table.get("remove", []), f"{key}.remove"),
        drop_extras=_names(table.get("drop-extras", []), f"{key}.drop-extras"),
        extras=extras,
        add=_requirements(table.get("add", []), f"{key}.add"),
        pins=tuple(pins),
    )


def _conditions(raw: Any, key: str) -> tuple[Condition, ...]:
    table = _table(raw, key)
    conditions = []
    for fact, value in table.items():
        if fact not in FACTS:
            raise ConfigError(
                f"{_child(key, fact)}: {shorten(fact)} is not a fact{did_you_mean(fact, FACTS)}; "
                f"the facts are {', '.join(FACTS)}"
            )
        conditions.append(_condition(fact, value, f"{key}.{fact}"))
    return tuple(conditions)


def _condition(fact: str, value: Any, key: str) -> Condition:
    kind = FACTS[fact].kind
    if kind in (Kind.VERSION, Kind.VERSION_LIST):
        if not isinstance(value, str):
            raise ConfigError(
                f'{key}: expected a version specifier string such as ">=2.6", got {_type(value)}'
            )
        specifier = _specifier(value, key, allow_empty=False)
        if any(spec.operator == "===" for spec in specifier):
            raise ConfigError(
                f"{key}: {shorten(value)} uses arbitrary equality (===), which cannot order "
                "versions; use == or a range"
            )
        if any(Version(spec.version.removesuffix(".*")).local for spec in specifier):
            hint = " (test torch-local for the build label)" if fact == "torch" else ""
            raise ConfigError(
                f"{key}: {shorten(value)} names a local label; version facts ignore it{hint}"
            )
        return Condition(fact, kind, str(specifier) or value, specifier=specifier)
    if kind == Kind.BOOLEAN:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {_type(value)}")
        return Condition(fact, kind, "true" if value else "false", boolean=value)
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        raise ConfigError(f"{key}: expected a string or a non-empty list of strings")
    for item in items:
        _string(item, key)
        choices = FACTS[fact].choices
        if choices and item not in choices:
            raise ConfigError(
                f"{key}: {shorten(item)} is not one of {', '.join(choices)}"
                f"{did_you_mean(item, choices)}"
            )
        if fact == "platform" and item in _PLATFORM_ALIASES:
            raise ConfigError(
                f"{key}: {shorten(item)} is never a value of sys.platform "
                f"(did you mean {_PLATFORM_ALIASES[item]!r}?)"
            )
    text = items[0] if len(items) == 1 else "in [" + ", ".join(items) + "]"
    return Condition(fact, kind, text, strings=tuple(items))


def _check_pins_are_declared(settings: Settings) -> None:
    """A typo guard: a ``pins`` name must be declared somewhere (SPEC section 2)."""
    declared = settings.declared_names()
    for row in settings.matrix:
        for name, _ in row.pins:
            if name not in declared:
                raise ConfigError(
                    f"{row.key}.pins.{name}: {shorten(name)} is not declared in tool.torchpins."
                    f"dependencies, optional-dependencies or any row's add or extras"
                    f"{did_you_mean(name, declared)}; declare it, or fix the name"
                )


# --------------------------------------------------------------------------------------------
# Small typed readers; each names the key in its error


def _child(key: str, name: str) -> str:
    """``key.name`` for messages; a name that is not plain text is quoted, so that a message stays
    one line whatever the TOML key holds."""
    if has_control_characters(name) or not name:
        return f"{key}.{shorten(name)}"
    return f"{key}.{name}"


def _type(value: Any) -> str:
    names = {str: "a string", bool: "a boolean", int: "an integer", float: "a number"}
    names.update({list: "a list", dict: "a table"})
    return names.get(type(value), type(value).__name__)


def _table(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a table, got {_type(value)}")
    return value


def _reject_unknown(table: Mapping[str, Any], declared: schema.Key, key: str) -> None:
    known = declared.names
    for name in table:
        if name not in known:
            raise ConfigError(
                f"{_child(key, name)}: unknown key{did_you_mean(name, known)}; "
                f"the keys here are {', '.join(known)}"
            )


def _string(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected a string, got {_type(value)}")
    if has_control_characters(value):
        raise ConfigError(f"{key}: {shorten(value)} holds a control character or newline")
    return value


def _choice(table: Mapping[str, Any], declared: schema.Key, key: str) -> str:
    """The value of a key with a closed set of choices (its default when absent)."""
    key = f"{key}.{declared.name}"
    text = _string(table.get(declared.name, declared.default), key)
    choices = declared.choices
    if text not in choices:
        raise ConfigError(
            f"{key}: {shorten(text)} is not one of "
            f"{', '.join(repr(c) for c in choices)}{did_you_mean(text, choices)}"
        )
    return text


def _list_of_strings(value: Any, key: str, what: str) -> list[str]:
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list of {what}, got {_type(value)}")
    return [_string(item, f"{key}[{index}]") for index, item in enumerate(value)]


def _requirement(text: str, key: str) -> Requirement:
    try:
        requirement = Requirement(text)
    except InvalidRequirement as error:
        reason = str(error).splitlines()[0]
        raise ConfigError(f"{key}: {shorten(text)} is not a valid requirement: {reason}") from None
    if requirement.marker is not None and "extra" in str(requirement.marker):
        raise ConfigError(
            f"{key}: {shorten(text)} tests 'extra' in its marker; list it under "
            "optional-dependencies"
        )
    return requirement


def _requirements(value: Any, key: str) -> tuple[Requirement, ...]:
    strings = _list_of_strings(value, key, "requirement strings")
    return tuple(_requirement(text, f"{key}[{index}]") for index, text in enumerate(strings))


def _name(text: Any, key: str) -> NormalizedName:
    text = _string(text, key)
    try:
        return canonicalize_name(text, validate=True)
    except InvalidName:
        raise ConfigError(f"{key}: {shorten(text)} is not a valid project or extra name") from None


def _names(value: Any, key: str) -> tuple[NormalizedName, ...]:
    strings = _list_of_strings(value, key, "names")
    return tuple(_name(text, f"{key}[{index}]") for index, text in enumerate(strings))


def _extras_table(
    value: Any, key: str
) -> tuple[tuple[NormalizedName, tuple[Requirement, ...]], ...]:
    table = _table(value, key)
    seen: dict[NormalizedName, str] = {}
    extras = []
    for extra, requirements in table.items():
        name = _name(extra, _child(key, extra))
        if name in seen:
            raise ConfigError(
                f"{_child(key, extra)}: {shorten(extra)} and {shorten(seen[name])} are the same "
                "extra (PEP 685)"
            )
        seen[name] = extra
        extras.append((name, _requirements(requirements, _child(key, extra))))
    return tuple(extras)


def _specifier(value: Any, key: str, *, allow_empty: bool = True) -> SpecifierSet:
    text = _string(value, key)
    hint = ""
    try:
        specifier = SpecifierSet(text)
    except InvalidSpecifier:
        stripped = text.strip().lstrip("=").strip()
        try:
            Version(stripped)
            hint = f" (did you mean '=={stripped}'?)"
        except InvalidVersion:
            pass
        raise ConfigError(
            f"{key}: {shorten(text)} is not a valid version specifier{hint}; write e.g. '==0.0.31' "
            "or '>=2.6,<2.8'"
        ) from None
    if not allow_empty and not str(specifier):
        raise ConfigError(f"{key}: the specifier is empty; write e.g. '>=2.6'")
    return specifier
