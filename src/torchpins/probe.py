"""Probing: the facts of this environment, and where each came from.

All I/O lives here, behind :func:`gather_facts`, which returns a frozen :class:`Facts`. torch is
never imported: its version comes from its ``*.dist-info`` folder and its build from
``torch/version.py`` read as text (importing torch takes seconds).

Precedence for every fact (SPEC section 4): ``-C torchpins.<fact>`` / ``--set``, then
``TORCHPINS_<FACT>``, then probing. When torch itself is overridden, the facts that describe its
build (``torch-local``, ``cuda``, ``rocm``, ``accelerator``) are *assumed* from its local label
instead of being probed from whatever torch happens to be installed.
"""

from __future__ import annotations

import ast
import os
import platform
import re
import sys
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from packaging.version import InvalidVersion, Version

from torchpins.errors import OverrideError, ResolveError, did_you_mean
from torchpins.facts import (
    CORE_FACTS,
    FACTS,
    TORCH_FACTS,
    FactValue,
    assumed_from_label,
    env_var,
    fact_spec,
    parse_fact_value,
    split_torch_version,
)

SourceKind = Literal["probed", "override", "assumed"]


@dataclass(frozen=True)
class Source:
    kind: SourceKind
    #: Human detail: the file probed, the variable read, or why the fact is absent.
    detail: str


@dataclass(frozen=True)
class Facts:
    values: Mapping[str, FactValue]
    sources: Mapping[str, Source]

    def with_values(self, updates: Mapping[str, tuple[FactValue, Source]]) -> Facts:
        values = dict(self.values)
        sources = dict(self.sources)
        for name, (value, source) in updates.items():
            values[name] = value
            sources[name] = source
        return Facts(values, sources)


@dataclass(frozen=True)
class InstalledTorch:
    """What the installed torch says about itself, read without importing it."""

    version: str
    metadata_path: str | None
    version_py: str | None
    build: Mapping[str, str | None] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Overrides


def read_overrides(
    settings: Mapping[str, str | list[str]] | None,
    environ: Mapping[str, str],
    setting_name: str = "-C torchpins.{fact}",
) -> dict[str, tuple[FactValue, str]]:
    """Fact -> (value, where it came from) for every override given. ``settings`` are the
    ``torchpins.*`` config settings (or ``--set`` pairs, keyed the same way)."""
    found: dict[str, tuple[FactValue, str]] = {}
    for variable, text in environ.items():
        if not variable.startswith("TORCHPINS_"):
            continue
        fact = variable[len("TORCHPINS_") :].lower().replace("_", "-")
        if fact not in FACTS:
            variables = [env_var(name) for name in FACTS]
            raise OverrideError(
                f"{variable} is not a torchpins variable{did_you_mean(variable, variables)}; "
                f"the variables are TORCHPINS_<FACT> for the facts {', '.join(FACTS)}"
            )
        found[fact] = (parse_fact_value(fact, text, variable), variable)
    for key, raw in (settings or {}).items():
        if not key.startswith("torchpins."):
            continue
        fact = key[len("torchpins.") :]
        origin = setting_name.format(fact=fact)
        fact_spec(fact, origin)
        if not isinstance(raw, str):
            raise OverrideError(f"{origin} is given more than once; give it once")
        found[fact] = (parse_fact_value(fact, raw, origin), origin)
    return found


# --------------------------------------------------------------------------------------------
# Probing


def gather_facts(
    config_settings: Mapping[str, str | list[str]] | None = None,
    environ: Mapping[str, str] | None = None,
    needed: Collection[str] = (),
    setting_name: str = "-C torchpins.{fact}",
) -> Facts:
    """The core facts, plus the lazy facts in ``needed``, with their sources."""
    overrides = read_overrides(
        config_settings, os.environ if environ is None else environ, setting_name
    )
    for name in FACTS:
        if FACTS[name].lazy and name in needed and name not in overrides:
            raise ResolveError(
                f"the matrix tests the fact {name!r}, which this version of torchpins cannot "
                f"probe yet; set it for this build with {env_var(name)}=<value> or "
                f"-C torchpins.{name}=<value>"
            )
    probed = {**_torch_facts(overrides), **_platform_facts()}
    values = {name: value for name, (value, _) in probed.items()}
    sources = {name: source for name, (_, source) in probed.items()}
    for name, (value, variable) in overrides.items():
        if name != "torch":  # _torch_facts already took torch's override, split from its label
            values[name], sources[name] = value, Source("override", variable)
    return Facts(values, sources)


def _torch_facts(
    overrides: Mapping[str, tuple[FactValue, str]],
) -> dict[str, tuple[FactValue, Source]]:
    if "torch" in overrides:
        value, variable = overrides["torch"]
        return torch_facts_assumed(
            value if isinstance(value, str) else None, f"from {variable}", "override", variable
        )
    installed = find_torch()
    if installed is None:
        reason = f"no torch distribution on the path of {sys.executable}"
        return {name: (None, Source("probed", reason)) for name in TORCH_FACTS}
    public, label = split_torch_version(installed.version)
    where = installed.metadata_path or installed.version_py or "torch"
    facts: dict[str, tuple[FactValue, Source]] = {
        "torch": (public, Source("probed", where)),
        "torch-local": (label, Source("probed", where)),
    }
    if installed.version_py is None:
        why = "torch/version.py not found next to the torch distribution"
        facts.update({name: (None, Source("probed", why)) for name in TORCH_FACTS[2:]})
        return facts
    build = installed.build
    where = installed.version_py
    cuda = _leading_version(build.get("cuda"))
    rocm = _leading_version(build.get("rocm") or build.get("hip"))
    xpu = build.get("xpu")
    accelerator = "cuda" if cuda else "rocm" if rocm else "xpu" if xpu else "cpu"
    facts["cuda"] = (cuda, Source("probed", where))
    facts["rocm"] = (rocm, Source("probed", where))
    facts["accelerator"] = (accelerator, Source("probed", where))
    return facts


def torch_facts_assumed(
    version: str | None, why: str, kind: SourceKind, torch_detail: str
) -> dict[str, tuple[FactValue, Source]]:
    """The torch facts for a torch that is named (by an override or ``missing``), not probed."""
    if version is None:
        facts: dict[str, tuple[FactValue, Source]] = {"torch": (None, Source(kind, torch_detail))}
        facts.update({name: (None, Source("assumed", why)) for name in TORCH_FACTS[1:]})
        return facts
    public, label = split_torch_version(version)
    facts = {
        "torch": (public, Source(kind, torch_detail)),
        "torch-local": (label, Source("assumed", f"label of the torch version {why}")),
    }
    for name, value in assumed_from_label(label).items():
        facts[name] = (value, Source("assumed", f"label of the torch version {why}"))
    return facts


def _platform_facts() -> dict[str, tuple[FactValue, Source]]:
    python = platform.python_version()
    facts: dict[str, tuple[FactValue, Source]] = {
        "python": (python, Source("probed", "platform.python_version()")),
        "platform": (sys.platform, Source("probed", "sys.platform")),
        "machine": (platform.machine(), Source("probed", "platform.machine()")),
    }
    glibc: str | None = None
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        libc = ""
    match = re.fullmatch(r"glibc (\d+\.\d+)", libc.strip())
    if match:
        glibc = match.group(1)
    detail = "os.confstr('CS_GNU_LIBC_VERSION')" if glibc else "not a glibc system"
    facts["glibc"] = (glibc, Source("probed", detail))
    assert set(facts) | set(TORCH_FACTS) == set(CORE_FACTS)
    return facts


def _leading_version(text: str | None) -> str | None:
    """``"12.8"`` -> ``"12.8"``; ``"6.3.42131-fa1d09cbd"`` (a HIP version) -> ``"6.3.42131"``."""
    if not text:
        return None
    match = re.match(r"\d+(?:\.\d+)*", text.strip())
    return match.group(0) if match else None


def find_torch(path: Iterable[str] | None = None) -> InstalledTorch | None:
    """The first torch distribution on ``path`` (default ``sys.path``), as importlib.metadata
    would find it, plus its ``torch/version.py``. Reads two small files; imports nothing."""
    for entry in sys.path if path is None else path:
        directory = entry or "."
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in sorted(names):
            stem, dot, suffix = name.rpartition(".")
            if suffix not in ("dist-info", "egg-info") or not dot:
                continue
            project, _, rest = stem.partition("-")
            if project.lower() != "torch":
                continue
            metadata_path = os.path.join(directory, name)
            # torch-2.8.0+cu128.dist-info, legacy torch-2.1.0-py3.11.egg-info, torch.egg-info
            found = _valid_version(rest.split("-")[0]) or _version_from_metadata(metadata_path)
            if found:
                return _with_version_py(found, metadata_path, directory)
    # A torch without dist-info (a source checkout on sys.path): its version.py still tells.
    return _torch_without_metadata(path)


def _valid_version(text: str | None) -> str | None:
    if not text:
        return None
    try:
        Version(text)
    except InvalidVersion:
        return None
    return text


def _version_from_metadata(metadata_path: str) -> str | None:
    from email.parser import HeaderParser

    for filename in ("METADATA", "PKG-INFO"):
        candidate = os.path.join(metadata_path, filename)
        if os.path.isfile(candidate):
            with open(candidate, encoding="utf-8", errors="replace") as file:
                version = HeaderParser().parse(file).get("Version")
            return _valid_version(version.strip() if version else None)
    return None


def _with_version_py(version: str, metadata_path: str, directory: str) -> InstalledTorch:
    version_py = os.path.join(directory, "torch", "version.py")
    if not os.path.isfile(version_py):
        version_py = _version_py_from_spec() or ""
    if not version_py:
        return InstalledTorch(version, metadata_path, None)
    return InstalledTorch(version, metadata_path, version_py, read_version_py(version_py))


def _torch_without_metadata(path: Iterable[str] | None) -> InstalledTorch | None:
    version_py = _version_py_from_spec(path)
    if version_py is None:
        return None
    build = read_version_py(version_py)
    version = _valid_version(build.get("__version__"))
    if not version:
        return None
    return InstalledTorch(version, None, version_py, build)


def _version_py_from_spec(path: Iterable[str] | None = None) -> str | None:
    from importlib.machinery import PathFinder
    from importlib.util import find_spec

    try:
        spec = find_spec("torch") if path is None else PathFinder.find_spec("torch", list(path))
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = os.path.join(location, "version.py")
        if os.path.isfile(candidate):
            return candidate
    return None


def read_version_py(path: str) -> dict[str, str | None]:
    """The plain ``name = 'value'`` assignments of ``torch/version.py``, parsed, not executed."""
    try:
        with open(path, encoding="utf-8") as file:
            tree = ast.parse(file.read(), path)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return {}
    values: dict[str, str | None] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        constant = isinstance(value, ast.Constant) and (
            value.value is None or isinstance(value.value, str)
        )
        if isinstance(target, ast.Name) and constant:
            values[target.id] = value.value  # type: ignore[attr-defined]
    return values
