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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Generic, Literal, TypeVar, cast

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
from packaging.utils import InvalidName, NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from torchpins import schema
from torchpins.errors import (
    ConfigError,
    TorchpinsError,
    did_you_mean,
    has_control_characters,
    shorten,
)
from torchpins.facts import (
    FACTS,
    EnvFact,
    FactSpec,
    FactValue,
    Kind,
    is_build_label,
    misspelt,
    parse_version,
    registry,
)
from torchpins.templates import PROJECT_NAMES, Template, TemplateError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

PinPolicy = Literal["minor", "exact", "local", "floor", "none"]
Unmatched = Literal["error", "warn", "ignore"]

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


#: (a version condition's text, a version) -> whether it holds; the text names the specifiers.
_VERSION_ANSWERS: dict[tuple[str, str], bool] = {}


@dataclass(frozen=True)
class Condition:
    """One ``fact = value`` entry of a ``when`` or ``unless`` table."""

    fact: str
    kind: Kind
    text: str
    #: For a version fact: the specifier sets, any of which must hold.
    specifiers: tuple[SpecifierSet, ...] = ()
    strings: tuple[str, ...] = ()
    boolean: bool | None = None

    def holds(self, value: FactValue) -> bool:
        if value is None:
            return False  # an absent fact makes its condition false, never an error
        if self.kind == Kind.VERSION:
            assert isinstance(value, str)
            # check and table ask the same few questions of thousands of environments
            key = (self.text, value)
            answer = _VERSION_ANSWERS.get(key)
            if answer is None:
                answer = any(version_matches(specifier, value) for specifier in self.specifiers)
                if len(_VERSION_ANSWERS) < 1 << 16:
                    _VERSION_ANSWERS[key] = answer
            return answer
        if self.kind == Kind.VERSION_LIST:
            assert isinstance(value, tuple)
            return any(
                version_matches(specifier, item) for specifier in self.specifiers for item in value
            )
        if self.kind == Kind.BOOLEAN:
            return value is self.boolean
        if self.kind == Kind.STRING_LIST:
            assert isinstance(value, tuple)
            return any(item in self.strings for item in value)
        return value in self.strings

    def __str__(self) -> str:
        return f"{self.fact} {self.text}"


T = TypeVar("T")


@dataclass(frozen=True)
class Templated(Generic[T]):
    """A value as written: parsed when the project loads, or, when it holds placeholders, when
    the row that holds it applies (:meth:`fill`)."""

    template: Template
    #: The parsed value of a template without placeholders.
    value: T | None
    parse: Callable[[str, str], T]

    @property
    def key(self) -> str:
        return self.template.key

    def fill(self, values: Mapping[str, FactValue]) -> T:
        if self.value is not None:
            return self.value
        text = self.template.render(values)
        try:
            return self.parse(text, self.key)
        except ConfigError as error:
            raise TemplateError(
                f"{error} (filled in from {shorten(self.template.text)} for this build)", self.key
            ) from None


Requirements = tuple[Templated[Requirement], ...]
ExtrasTable = tuple[tuple[NormalizedName, Requirements], ...]


@dataclass(frozen=True)
class Row:
    """One ``[[tool.torchpins.matrix]]`` row. Actions apply in the order of the fields below
    (``schema.ROW_ACTIONS``)."""

    index: int
    when: tuple[Condition, ...]
    #: Tables of conditions: the row is excluded when every condition of any one holds.
    unless: tuple[tuple[Condition, ...], ...]
    error: Template | None
    remove: tuple[Templated[NormalizedName], ...]
    drop_extras: tuple[NormalizedName, ...]
    extras: ExtrasTable
    extras_add: ExtrasTable
    add: Requirements
    pins: tuple[tuple[Templated[NormalizedName], Templated[SpecifierSet]], ...]

    @property
    def key(self) -> str:
        return f"tool.torchpins.matrix[{self.index}]"

    @property
    def names_torch(self) -> bool:
        return any(condition.fact == "torch" for condition in self.when)

    @property
    def conditions(self) -> tuple[Condition, ...]:
        """Every condition of ``when`` and of each ``unless`` table."""
        return (*self.when, *(c for table in self.unless for c in table))

    def facts_used(self) -> set[str]:
        return {condition.fact for condition in self.conditions}

    def templates(self) -> list[Template]:
        found: list[Template] = [self.error] if self.error is not None else []
        found += [item.template for item in self.remove]
        found += [item.template for item in self.add]
        for _, requirements in (*self.extras, *self.extras_add):
            found += [item.template for item in requirements]
        for name, specifier in self.pins:
            found += [name.template, specifier.template]
        return found

    def matches(self, facts: Mapping[str, FactValue]) -> bool:
        if not all(condition.holds(facts.get(condition.fact)) for condition in self.when):
            return False
        return not any(
            all(condition.holds(facts.get(condition.fact)) for condition in table)
            for table in self.unless
        )

    def describe(self) -> str:
        if not self.when:
            return "always"
        return ", ".join(str(condition) for condition in self.when)


@dataclass(frozen=True)
class TorchSettings:
    #: A named policy, or a specifier template (``">={torch}"``).
    pin: PinPolicy | Templated[SpecifierSet] = "minor"
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

    dependencies: Requirements
    optional_dependencies: ExtrasTable
    unmatched: Unmatched
    torch: TorchSettings
    matrix: tuple[Row, ...]
    #: A template for the wheel's local version label (CI wheel builds), or None.
    local_version: Template | None = None
    guard: GuardSettings | None = None
    ci: CiSettings | None = None
    #: The facts the project reads from environment variables ([tool.torchpins.env]).
    env: tuple[EnvFact, ...] = ()
    #: The extra that collects every other extra's requirements, or None.
    all_extras: NormalizedName | None = None
    #: Installer facts become PEP 508 markers (SPEC section 8).
    markers: bool = True

    @property
    def has_extras(self) -> bool:
        return (
            bool(self.optional_dependencies)
            or self.all_extras is not None
            or any(row.extras or row.extras_add for row in self.matrix)
        )

    @property
    def facts(self) -> dict[str, FactSpec]:
        """The facts there are for this project: the built-in ones and its environment facts."""
        return registry(self.env)

    def facts_used(self) -> set[str]:
        """The facts the rows' conditions test."""
        used: set[str] = set()
        for row in self.matrix:
            used |= row.facts_used()
        return used

    def templates(self) -> list[Template]:
        found = [item.template for item in self.dependencies]
        for _, requirements in self.optional_dependencies:
            found += [item.template for item in requirements]
        for row in self.matrix:
            found += row.templates()
        if isinstance(self.torch.pin, Templated):
            found.append(self.torch.pin.template)
        if self.local_version is not None:
            found.append(self.local_version)
        return found

    def facts_in_templates(self) -> set[str]:
        """The facts the templates name (a lazy one named only there still counts as needed)."""
        return set(self._template_facts) - set(PROJECT_NAMES)

    @cached_property
    def _template_facts(self) -> frozenset[str]:
        named: set[str] = set()
        for template in self.templates():
            named |= template.facts
        return frozenset(named)

    def declared_names(self) -> set[NormalizedName]:
        """Every requirement name the base lists or any row's ``add``/``extras``/``extras-add``
        declare (as written: a templated name is known only when it applies), and torch unless
        ``pin = "none"``."""
        items = [*self.dependencies]
        for _, requirements in self.optional_dependencies:
            items += requirements
        for row in self.matrix:
            items += row.add
            for _, requirements in (*row.extras, *row.extras_add):
                items += requirements
        declared = {canonicalize_name(item.value.name) for item in items if item.value}
        if self.torch.pin != "none":
            declared.add(canonicalize_name("torch"))
        return declared

    def declared_extras(self) -> set[NormalizedName]:
        extras = {name for name, _ in self.optional_dependencies}
        for row in self.matrix:
            extras |= {name for name, _ in (*row.extras, *row.extras_add)}
        return extras

    def facts_needed(self) -> set[str]:
        """The facts a build must know: those the rows test and the templates name, and torch
        unless nothing uses it."""
        needed = self.facts_used() | self.facts_in_templates()
        if self.torch.pin != "none" or self.torch.missing == "error":
            needed.add("torch")
        return needed

    def uses_version(self) -> bool:
        return "version" in self._template_facts

    def matching(self, values: Mapping[str, FactValue]) -> list[Row]:
        """The rows that match these facts, in file order: :meth:`Row.matches` for every row,
        answered through an index that asks each distinct condition once (check and table ask
        it of thousands of environments; a build of a large matrix gains too)."""
        index = self._index
        failing = 0
        for condition, mask in index.masks:
            if not condition.holds(values.get(condition.fact)):
                failing |= mask
        candidates = index.every & ~failing
        found = []
        while candidates:
            lowest = candidates & -candidates
            row = self.matrix[lowest.bit_length() - 1]
            candidates ^= lowest
            if not row.unless or row.matches(values):
                found.append(row)
        return found

    @cached_property
    def torch_conditions(self) -> tuple[Condition, ...]:
        """The distinct torch conditions of the rows' ``when`` (what ``unmatched`` tests)."""
        found = {c.text: c for row in self.matrix for c in row.when if c.fact == "torch"}
        return tuple(found.values())

    @cached_property
    def conditions_by_fact(self) -> dict[str, tuple[Condition, ...]]:
        """Each fact's distinct conditions, ``when`` and ``unless`` alike, in file order."""
        found: dict[str, dict[str, Condition]] = {}
        for row in self.matrix:
            for condition in row.conditions:
                found.setdefault(condition.fact, {}).setdefault(condition.text, condition)
        return {fact: tuple(texts.values()) for fact, texts in found.items()}

    @cached_property
    def _index(self) -> _RowIndex:
        masks: dict[tuple[str, str], tuple[Condition, int]] = {}
        for position, row in enumerate(self.matrix):
            for condition in row.when:
                key = (condition.fact, condition.text)
                held, mask = masks.get(key, (condition, 0))
                masks[key] = (held, mask | 1 << position)
        return _RowIndex(tuple(masks.values()), (1 << len(self.matrix)) - 1)


@dataclass(frozen=True)
class _RowIndex:
    #: Each distinct ``when`` condition, and the rows (bits by position) that hold it.
    masks: tuple[tuple[Condition, int], ...]
    every: int


@dataclass(frozen=True)
class Project:
    """A project directory whose ``pyproject.toml`` configures torchpins."""

    directory: str
    name: str
    settings: Settings
    #: [project].version when it is static; None when dynamic.
    version: str | None = None
    #: build-system.build-backend, and whether it is torchpins' (itself, or an in-tree module
    #: on backend-path that imports it): another backend builds without the pins.
    build_backend: str | None = None
    backend_is_torchpins: bool = True
    #: The requirement arguments setup.py passes, which a build refuses (install_requires...).
    setup_py_arguments: tuple[str, ...] = ()


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
            "pin (the docs: Using it in a project), or use setuptools.build_meta for a project "
            "without torch pins"
        )
    settings = parse_settings(table)
    name = _check_project_table(document, settings)
    version = document["project"].get("version")
    backend, is_torchpins = _backend(directory, document)
    return Project(
        directory=directory,
        name=name,
        settings=settings,
        version=version if isinstance(version, str) else None,
        build_backend=backend,
        backend_is_torchpins=is_torchpins,
        setup_py_arguments=setup_py_arguments(directory),
    )


def _backend(directory: str, document: Mapping[str, Any]) -> tuple[str | None, bool]:
    """build-system.build-backend, and whether it builds with torchpins."""
    system = document.get("build-system")
    system = system if isinstance(system, dict) else {}
    backend = system.get("build-backend")
    if not isinstance(backend, str):
        return None, False
    if backend.split(":")[0] == "torchpins.build_meta":
        return backend, True
    paths = system.get("backend-path", [])
    module = backend.split(":")[0].replace(".", os.sep) + ".py"
    for path in paths if isinstance(paths, list) else []:
        try:
            with open(os.path.join(directory, str(path), module), encoding="utf-8") as file:
                if "torchpins" in file.read(1 << 16):
                    return backend, True
        except (OSError, UnicodeDecodeError):
            continue
    return backend, False


def setup_py_arguments(directory: str) -> tuple[str, ...]:
    import re

    try:
        with open(os.path.join(directory, "setup.py"), encoding="utf-8") as file:
            text = file.read(1 << 20)
    except (OSError, UnicodeDecodeError):
        return ()
    return tuple(
        name for name in ("install_requires", "extras_require") if re.search(rf"\b{name}\s*=", text)
    )


def computed_version(project: Project) -> str:
    """The version setuptools computes for a project whose ``project.version`` is dynamic
    (``tool.setuptools.dynamic.version``: an attribute or a file), read through setuptools' own
    configuration reader, as the build will. Only needed when a template names ``{version}``."""
    from setuptools.config.pyprojecttoml import read_configuration

    path = os.path.join(project.directory, "pyproject.toml")
    here = os.getcwd()
    try:
        os.chdir(project.directory)  # setuptools resolves attr: and file: from the project
        version = read_configuration(path, expand=True).get("project", {}).get("version")
    except Exception as error:  # setuptools' own errors: a missing attribute or file
        raise ConfigError(
            f"a template names {{version}}, but the version setuptools computes for "
            f"{project.name} cannot be read ({type(error).__name__}: {error}); check "
            "tool.setuptools.dynamic.version"
        ) from None
    finally:
        os.chdir(here)
    if not isinstance(version, str) or not version:
        raise ConfigError(
            f"a template names {{version}}, but {project.name} has no version: set "
            "project.version, or tool.setuptools.dynamic.version"
        )
    return version


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
    for field in ("dependencies", "optional-dependencies"):
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
    env = _env(table.get("env", {}), f"{key}.env")
    read = _Reader({name: spec.kind for name, spec in registry(env).items()})
    dependencies = read.requirements(table.get("dependencies", []), f"{key}.dependencies")
    optional = read.extras(table.get("optional-dependencies", {}), f"{key}.optional-dependencies")
    unmatched = _choice(table, schema.lookup("unmatched"), key)
    torch = read.torch_settings(table.get("torch", {}), f"{key}.torch")
    raw_matrix = table.get("matrix", [])
    if isinstance(raw_matrix, dict):
        raise ConfigError(
            f"{key}.matrix: expected an array of tables ([[tool.torchpins.matrix]], double "
            "brackets), got a single table"
        )
    if not isinstance(raw_matrix, list):
        raise ConfigError(f"{key}.matrix: expected an array of tables, got {_type(raw_matrix)}")
    matrix = tuple(read.row(raw, index) for index, raw in enumerate(raw_matrix))
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_matrix):
        earlier = seen.setdefault(json.dumps(raw, sort_keys=True, default=str), index)
        if earlier != index:
            raise ConfigError(
                f"{key}.matrix[{index}] repeats {key}.matrix[{earlier}] exactly; remove one"
            )
    markers = _boolean(table, schema.lookup("markers"), key)
    all_extras = None
    if "all-extras" in table:
        all_extras = _name(table["all-extras"], f"{key}.all-extras")
    settings = Settings(
        dependencies=dependencies,
        optional_dependencies=optional,
        unmatched=cast(Unmatched, unmatched),
        torch=torch,
        matrix=matrix,
        local_version=read.local_version(table["local-version"])
        if "local-version" in table
        else None,
        guard=_guard(table["guard"], f"{key}.guard") if "guard" in table else None,
        ci=_ci(table["ci"], f"{key}.ci") if "ci" in table else None,
        env=env,
        all_extras=all_extras,
        markers=markers,
    )
    _check_pins_are_declared(settings)
    _check_all_extras(settings)
    return settings


_ENV_NAME = r"[a-z0-9]+(?:-[a-z0-9]+)*"
_ENV_KINDS = {"string": Kind.STRING, "boolean": Kind.BOOLEAN, "version": Kind.VERSION}


def _env(raw: Any, key: str) -> tuple[EnvFact, ...]:
    """``[tool.torchpins.env]``: fact = "VARIABLE" or { variable, kind, default }."""
    import re

    from torchpins.facts import parse_fact_value

    table = _table(raw, key)
    found = []
    for name, value in table.items():
        item_key = _child(key, name)
        if not re.fullmatch(_ENV_NAME, name) or name in FACTS or name in PROJECT_NAMES:
            why = (
                "is a built-in fact"
                if name in FACTS
                else "is the project's own"
                if name in PROJECT_NAMES
                else "must be lower-case letters, digits and '-'"
            )
            raise ConfigError(f"{item_key}: the fact name {shorten(name)} {why}; choose another")
        entry = {"variable": value} if isinstance(value, str) else _table(value, item_key)
        _reject_unknown(entry, schema.lookup("env.*"), item_key)
        if "variable" not in entry:
            raise ConfigError(f'{item_key}.variable is missing; e.g. variable = "DS_ACCELERATOR"')
        variable = _string(entry["variable"], f"{item_key}.variable")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", variable):
            raise ConfigError(
                f"{item_key}.variable: {shorten(variable)} is not an environment variable name"
            )
        if variable.upper().startswith("TORCHPINS_"):
            raise ConfigError(
                f"{item_key}.variable: {variable} is torchpins' own override of a fact; name "
                "the variable the project reads (TORCHPINS_<FACT> overrides it anyway)"
            )
        kind = _ENV_KINDS[_choice(entry, schema.lookup("env.*.kind"), item_key)]
        default = entry.get("default")
        if default is not None:
            default = _string(default, f"{item_key}.default")
            spec = {name: EnvFact(name, variable, kind).spec}
            try:
                parse_fact_value(name, default, f"{item_key}.default", spec)
            except TorchpinsError as error:
                raise ConfigError(str(error)) from None
        found.append(EnvFact(name, variable, kind, default))
    return tuple(found)


class _Reader:
    """The readers of what may hold templates, which know the project's facts."""

    def __init__(self, kinds: Mapping[str, Kind]) -> None:
        self.kinds = kinds

    def template(self, value: Any, key: str) -> Template:
        from torchpins.templates import parse

        return parse(_string(value, key), key, self.kinds)

    def templated(self, value: Any, key: str, parse: Callable[[str, str], T]) -> Templated[T]:
        template = self.template(value, key)
        return Templated(
            template, parse(template.literal(), key) if template.is_literal else None, parse
        )

    def requirements(self, value: Any, key: str) -> Requirements:
        strings = _list_of_strings(value, key, "requirement strings")
        return tuple(
            self.templated(text, f"{key}[{index}]", _requirement)
            for index, text in enumerate(strings)
        )

    def extras(self, value: Any, key: str) -> ExtrasTable:
        table = _table(value, key)
        seen: dict[NormalizedName, str] = {}
        extras = []
        for extra, requirements in table.items():
            name = _name(extra, _child(key, extra))
            if name in seen:
                raise ConfigError(
                    f"{_child(key, extra)}: {shorten(extra)} and {shorten(seen[name])} are the "
                    "same extra (PEP 685)"
                )
            seen[name] = extra
            extras.append((name, self.requirements(requirements, _child(key, extra))))
        return tuple(extras)

    def local_version(self, raw: Any) -> Template:
        from torchpins.label import KEY, check_template

        return check_template(self.template(raw, KEY))

    def torch_settings(self, raw: Any, key: str) -> TorchSettings:
        table = _table(raw, key)
        _reject_unknown(table, schema.lookup("torch"), key)
        declared = schema.lookup("torch.pin")
        text = _string(table.get("pin", declared.default), f"{key}.pin")
        pin: PinPolicy | Templated[SpecifierSet]
        if text in declared.choices:
            pin = cast(PinPolicy, text)
        elif any(text.lstrip().startswith(op) for op in ("=", ">", "<", "~", "!")):
            pin = self.templated(text, f"{key}.pin", _pin_specifier)
        else:
            raise ConfigError(
                f"{key}.pin: {shorten(text)} is not one of "
                f"{', '.join(repr(c) for c in declared.choices)}, nor a specifier such as "
                f"'>={{torch}}'{did_you_mean(text, declared.choices)}"
            )
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
                parse_version(missing)
            except InvalidVersion:
                raise ConfigError(
                    f"{key}.missing: {shorten(missing)} is neither {', '.join(map(repr, words))} "
                    f'nor a torch version such as "2.8.0"{did_you_mean(missing, words)}'
                ) from None
        return TorchSettings(pin=pin, missing=missing)

    def row(self, raw: Any, index: int) -> Row:
        key = f"tool.torchpins.matrix[{index}]"
        table = _table(raw, key)
        _reject_unknown(table, schema.ROW, key)
        when = self.conditions(table.get("when", {}), f"{key}.when")
        unless = self.unless(table, f"{key}.unless")
        error = None
        if "error" in table:
            error = self.template(table["error"], f"{key}.error")
            if not error.text.strip():
                raise ConfigError(f"{key}.error: the message is empty; say what the user should do")
        if not any(action in table for action in schema.ROW_ACTIONS):
            raise ConfigError(
                f"{key} has no action, so it does nothing; give it one of "
                f"{', '.join(schema.ROW_ACTIONS)}, or remove the row"
            )
        pins = []
        for name, value in _table(table.get("pins", {}), f"{key}.pins").items():
            pin_key = _child(f"{key}.pins", name)
            pins.append(
                (self.templated(name, pin_key, _name), self.templated(value, pin_key, _specifier))
            )
        removes = _list_of_strings(table.get("remove", []), f"{key}.remove", "names")
        return Row(
            index=index,
            when=when,
            unless=unless,
            error=error,
            remove=tuple(
                self.templated(text, f"{key}.remove[{i}]", _name) for i, text in enumerate(removes)
            ),
            drop_extras=_names(table.get("drop-extras", []), f"{key}.drop-extras"),
            extras=self.extras(table.get("extras", {}), f"{key}.extras"),
            extras_add=self.extras(table.get("extras-add", {}), f"{key}.extras-add"),
            add=self.requirements(table.get("add", []), f"{key}.add"),
            pins=tuple(pins),
        )

    def unless(self, table: Mapping[str, Any], key: str) -> tuple[tuple[Condition, ...], ...]:
        if "unless" not in table:
            return ()
        raw = table["unless"]
        tables = raw if isinstance(raw, list) else [raw]
        if not tables:
            raise ConfigError(f"{key} is empty, which would exclude the row never; remove it")
        found = []
        for index, item in enumerate(tables):
            item_key = f"{key}[{index}]" if isinstance(raw, list) else key
            conditions = self.conditions(item, item_key)
            if not conditions:
                raise ConfigError(
                    f"{item_key} is empty, which would exclude the row always; remove it"
                )
            found.append(conditions)
        return tuple(found)

    def conditions(self, raw: Any, key: str) -> tuple[Condition, ...]:
        table = _table(raw, key)
        conditions = []
        for fact, value in table.items():
            if fact not in self.kinds:
                raise ConfigError(
                    f"{_child(key, fact)}: {shorten(fact)} is not a fact"
                    f"{did_you_mean(fact, self.kinds)}; the facts are {', '.join(self.kinds)}"
                )
            conditions.append(_condition(fact, self.kinds[fact], value, f"{key}.{fact}"))
        return tuple(conditions)


def _pin_specifier(text: str, key: str) -> SpecifierSet:
    return _specifier(text, key, allow_empty=False)


def _check_all_extras(settings: Settings) -> None:
    """``all-extras`` names an extra torchpins writes itself: nothing else may write it."""
    name = settings.all_extras
    if name is None:
        return
    writers = [
        "tool.torchpins.optional-dependencies"
        for extra, _ in settings.optional_dependencies
        if extra == name
    ]
    for row in settings.matrix:
        for field, table in (("extras", row.extras), ("extras-add", row.extras_add)):
            writers += [f"{row.key}.{field}" for extra, _ in table if extra == name]
        if name in row.drop_extras:
            writers.append(f"{row.key}.drop-extras")
    if writers:
        raise ConfigError(
            f"tool.torchpins.all-extras: {name!r} is written by torchpins after the rows (every "
            f"other extra's requirements), but {writers[0]} writes it too; rename one"
        )


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
            version = parse_version(text)
        except InvalidVersion:
            version = None
        if version is None or len(version.release) != 2 or version.local or version.pre:
            raise ConfigError(
                f"{key}.python[{index}]: {shorten(text)} is not a Python version like 3.12"
            )
    platforms_key = schema.lookup("ci.platforms")
    platforms = _string_list(
        table.get("platforms", _default_list(platforms_key)), f"{key}.platforms"
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
            version = parse_version(text)
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


def _condition(fact: str, kind: Kind, value: Any, key: str) -> Condition:
    if kind in (Kind.VERSION, Kind.VERSION_LIST):
        texts = value if isinstance(value, list) and kind == Kind.VERSION else [value]
        if not texts or not all(isinstance(text, str) for text in texts):
            many = " or a list of them (any of)" if kind == Kind.VERSION else ""
            raise ConfigError(
                f'{key}: expected a version specifier string such as ">=2.6"{many}, '
                f"got {_type(value)}"
            )
        specifiers = tuple(_version_condition(fact, text, key) for text in texts)
        shown = [str(specifier) or text for specifier, text in zip(specifiers, texts, strict=True)]
        text = shown[0] if len(shown) == 1 else "any of [" + "; ".join(shown) + "]"
        return Condition(fact, kind, text, specifiers=specifiers)
    if kind == Kind.BOOLEAN:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {_type(value)}")
        return Condition(fact, kind, "true" if value else "false", boolean=value)
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        raise ConfigError(f"{key}: expected a string or a non-empty list of strings")
    choices = FACTS[fact].choices if fact in FACTS else ()
    for item in items:
        _string(item, key)
        wrong = misspelt(fact, item)
        if wrong is not None:
            raise ConfigError(f"{key}: {wrong}")
        if choices and item not in choices:
            raise ConfigError(
                f"{key}: {shorten(item)} is not one of {', '.join(choices)}"
                f"{did_you_mean(item, choices)}"
            )
    text = items[0] if len(items) == 1 else "in [" + ", ".join(items) + "]"
    return Condition(fact, kind, text, strings=tuple(items))


def _version_condition(fact: str, value: str, key: str) -> SpecifierSet:
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
    return specifier


def _check_pins_are_declared(settings: Settings) -> None:
    """A typo guard: a ``pins`` name must be declared somewhere (SPEC section 2); a name filled
    in from a template is known only when it applies."""
    declared = settings.declared_names()
    for row in settings.matrix:
        for name, _ in row.pins:
            if name.value is not None and name.value not in declared:
                raise ConfigError(
                    f"{name.key}: {shorten(name.value)} is not declared in tool.torchpins."
                    "dependencies, optional-dependencies or any row's add, extras or extras-add"
                    f"{did_you_mean(name.value, declared)}; declare it, or fix the name"
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


def _default_list(declared: schema.Key) -> list[str]:
    default = declared.default
    return list(default) if isinstance(default, tuple) else []


def _boolean(table: Mapping[str, Any], declared: schema.Key, key: str) -> bool:
    """The value of a true/false key (its default when absent)."""
    value = table.get(declared.name, declared.default)
    if not isinstance(value, bool):
        shown = f"the string {shorten(value)}" if isinstance(value, str) else _type(value)
        raise ConfigError(
            f"{key}.{declared.name}: expected true or false (TOML booleans, unquoted), got {shown}"
        )
    return value


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
    if requirement.marker is not None and tests_extra(requirement.marker):
        raise ConfigError(
            f"{key}: {shorten(text)} tests 'extra' in its marker; list it under "
            "optional-dependencies"
        )
    return requirement


def tests_extra(marker: Marker) -> bool:
    """Whether a marker tests the ``extra`` variable (not merely holds the word in a value)."""
    import re

    unquoted = re.sub(r"'[^']*'|\"[^\"]*\"", '""', str(marker))
    return re.search(r"\bextra\b", unquoted) is not None


def _name(text: Any, key: str) -> NormalizedName:
    text = _string(text, key)
    try:
        return canonicalize_name(text, validate=True)
    except InvalidName:
        raise ConfigError(f"{key}: {shorten(text)} is not a valid project or extra name") from None


def _names(value: Any, key: str) -> tuple[NormalizedName, ...]:
    strings = _list_of_strings(value, key, "names")
    return tuple(_name(text, f"{key}[{index}]") for index, text in enumerate(strings))


def _specifier(value: Any, key: str, *, allow_empty: bool = True) -> SpecifierSet:
    text = _string(value, key)
    hint = ""
    try:
        specifier = SpecifierSet(text)
        for spec in specifier:  # a version packaging cannot compare (=== takes any text)
            if spec.operator != "===":
                parse_version(spec.version.removesuffix(".*"))
    except (InvalidSpecifier, InvalidVersion):
        stripped = text.strip().lstrip("=").strip()
        try:
            parse_version(stripped)
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
