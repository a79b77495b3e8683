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

import _ast
import os
import sys
from collections.abc import Collection, Iterable, Mapping

from torchpins._value import Value
from torchpins.errors import OverrideError, ResolveError, did_you_mean
from torchpins.facts import (
    CORE_FACTS,
    FACTS,
    TORCH_FACTS,
    FactValue,
    assumed_from_label,
    env_var,
    fact_spec,
    is_plain_release,
    is_plain_version,
    parse_fact_value,
    split_torch_version,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal

    from torchpins.hardware import NvidiaProbe

    SourceKind = Literal["probed", "override", "assumed"]


class Source(Value):
    """Where a fact came from."""

    __slots__ = ("detail", "kind", "problem")

    def __init__(self, kind: SourceKind, detail: str, problem: str | None = None) -> None:
        self.kind = kind
        #: Human detail: the file probed, the variable read, or why the fact is absent.
        self.detail = detail
        #: Set when the fact could not be determined (a broken torch install): the message, with
        #: the fix, that stops a build whose matrix needs this fact.
        self.problem = problem


class Facts(Value):
    __slots__ = ("sources", "torch_hint", "values", "warnings")

    def __init__(
        self,
        values: Mapping[str, FactValue],
        sources: Mapping[str, Source],
        warnings: tuple[str, ...] = (),
        torch_hint: TorchHint | None = None,
    ) -> None:
        self.values = values
        self.sources = sources
        #: Things worth saying that do not stop a build (a shadowed torch, a hung nvidia-smi).
        self.warnings = warnings
        #: When no torch was found: what the isolated build environment hides, if that can be
        #: told.
        self.torch_hint = torch_hint

    def with_values(self, updates: Mapping[str, tuple[FactValue, Source]]) -> Facts:
        values = dict(self.values)
        sources = dict(self.sources)
        for name, (value, source) in updates.items():
            values[name] = value
            sources[name] = source
        return Facts(values, sources, self.warnings, self.torch_hint)


class InstalledTorch(Value):
    """What the installed torch says about itself, read without importing it."""

    __slots__ = (
        "build",
        "metadata_path",
        "problem",
        "version",
        "version_py",
        "version_py_problem",
        "warnings",
    )

    def __init__(
        self,
        version: str,
        metadata_path: str | None,
        version_py: str | None,
        build: Mapping[str, str | None] | None = None,
        version_py_problem: str | None = None,
        problem: str | None = None,
        warnings: tuple[str, ...] = (),
    ) -> None:
        self.version = version
        self.metadata_path = metadata_path
        self.version_py = version_py
        self.build: Mapping[str, str | None] = build or {}
        #: Why ``torch/version.py`` could not be read (missing, or does not parse).
        self.version_py_problem = version_py_problem
        #: Why the torch version itself is in doubt (two distributions in one directory).
        self.problem = problem
        self.warnings = warnings

    @property
    def package(self) -> str | None:
        """The ``torch`` package directory."""
        if self.version_py:
            return os.path.dirname(self.version_py)
        if self.metadata_path:
            candidate = os.path.join(os.path.dirname(self.metadata_path), "torch")
            return candidate if os.path.isdir(candidate) else None
        return None


class TorchHint(Value):
    """Why a build sees no torch: a sentence, and the torch it cannot see, when one was found."""

    __slots__ = ("hidden_version", "sentence")

    def __init__(self, sentence: str, hidden_version: str | None = None) -> None:
        self.sentence = sentence
        self.hidden_version = hidden_version


class VersionPyError(Exception):
    """``torch/version.py`` cannot be read or parsed."""


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

#: Established override names that mean the same as a torchpins fact (conda's virtual packages);
#: read after TORCHPINS_<FACT>, and only for a fact that is needed.
CONDA_OVERRIDES = {"cuda-driver": "CONDA_OVERRIDE_CUDA", "gpu-arch": "CONDA_OVERRIDE_CUDA_ARCH"}


def gather_facts(
    config_settings: Mapping[str, str | list[str]] | None = None,
    environ: Mapping[str, str] | None = None,
    needed: Collection[str] = (),
    setting_name: str = "-C torchpins.{fact}",
    *,
    probe_all: bool = False,
) -> Facts:
    """The core facts, plus the lazy facts in ``needed`` (all of them with ``probe_all``), with
    their sources. A needed fact that cannot be determined (a broken torch install) is an error;
    with ``probe_all`` it is reported in its source instead."""
    environ = os.environ if environ is None else environ
    overrides = read_overrides(config_settings, environ, setting_name)
    installed, torch_facts = _torch_facts(overrides)
    probed = {**torch_facts, **_platform_facts()}
    values = {name: value for name, (value, _) in probed.items()}
    sources = {name: source for name, (_, source) in probed.items()}
    for name, (value, variable) in overrides.items():
        if name != "torch":  # _torch_facts already took torch's override, split from its label
            values[name], sources[name] = value, Source("override", variable)
    lazy = [name for name, spec in FACTS.items() if spec.lazy and (probe_all or name in needed)]
    warnings = list(installed.warnings) if installed else []
    if lazy:  # imported only here: a build that needs no lazy fact loads none of this
        from torchpins.hardware import NvidiaProbe, probe_nvcc
    nvidia: NvidiaProbe | None = None
    for name in lazy:
        if name in overrides:
            continue
        conda = CONDA_OVERRIDES.get(name)
        if conda and conda in environ:
            values[name] = parse_fact_value(name, environ[conda], conda)
            sources[name] = Source("override", conda)
            continue
        if name == "cxx11abi":
            values[name], sources[name] = _cxx11abi(installed, values, sources)
            continue
        if name == "nvcc":
            reading = probe_nvcc(environ)
        else:
            nvidia = nvidia or NvidiaProbe(environ)
            reading = nvidia.cuda_driver() if name == "cuda-driver" else nvidia.gpu_arch()
        values[name], sources[name] = reading.value, Source("probed", reading.detail)
        if reading.warning and reading.warning not in warnings:
            warnings.append(f"{name}: {reading.warning}; treating {name} as absent")
    if not probe_all:
        for name in needed:
            problem = sources[name].problem if name in sources else None
            if problem:
                raise ResolveError(problem)
    hint = None if values.get("torch") or "torch" in overrides else torch_elsewhere(environ)
    return Facts(values, sources, tuple(warnings), hint)


def _torch_facts(
    overrides: Mapping[str, tuple[FactValue, str]],
) -> tuple[InstalledTorch | None, dict[str, tuple[FactValue, Source]]]:
    if "torch" in overrides:
        value, variable = overrides["torch"]
        return None, torch_facts_assumed(
            value if isinstance(value, str) else None, f"from {variable}", "override", variable
        )
    installed = find_torch()
    if installed is None:
        reason = f"no torch distribution on the path of {sys.executable}"
        return None, {name: (None, Source("probed", reason)) for name in TORCH_FACTS}
    if installed.problem:
        unknown = Source("probed", installed.problem, problem=installed.problem)
        return installed, dict.fromkeys(TORCH_FACTS, (None, unknown))
    public, label = split_torch_version(installed.version)
    where = installed.metadata_path or installed.version_py or "torch"
    facts: dict[str, tuple[FactValue, Source]] = {
        "torch": (public, Source("probed", where)),
        "torch-local": (label, Source("probed", where)),
    }
    if installed.version_py_problem:
        # A broken install: the label may still tell the build (cu128); otherwise it is unknown.
        assumed = assumed_from_label(label)
        why = installed.version_py_problem
        for name in TORCH_FACTS[2:]:
            if assumed["accelerator"] is not None:
                detail = f"{why}; assumed from the label {label!r} of torch {installed.version}"
                facts[name] = (assumed[name], Source("assumed", detail))
            else:
                fix = (
                    f"{why}. Reinstall torch (pip install --force-reinstall torch=={public}), "
                    f"or state its build with {env_var(name)}=<value> (empty for none)"
                )
                facts[name] = (None, Source("probed", why, problem=fix))
        return installed, facts
    build = installed.build
    where = installed.version_py or where
    cuda = _leading_version(build.get("cuda"))
    rocm = _leading_version(build.get("rocm") or build.get("hip"))
    if not rocm and label and label.startswith("rocm"):
        rocm = assumed_from_label(label)["rocm"]  # type: ignore[assignment]
    xpu = build.get("xpu")
    accelerator = "cuda" if cuda else "rocm" if rocm else "xpu" if xpu else "cpu"
    facts["cuda"] = (cuda, Source("probed", where))
    facts["rocm"] = (rocm, Source("probed", where))
    facts["accelerator"] = (accelerator, Source("probed", where))
    return installed, facts


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


def cxx11abi_assumed(torch: str | None, platform: FactValue, why: str) -> tuple[FactValue, Source]:
    """``cxx11abi`` for a torch that is named, not installed: Linux wheels of torch 2.7 and newer
    all use the C++11 ABI; for anything else it cannot be known and must be stated."""
    if torch is None:
        return None, Source("assumed", f"no torch ({why})")
    from packaging.version import Version

    if platform == "linux" and Version(torch) >= Version("2.7.0.dev0"):
        detail = f"Linux builds of torch 2.7 and newer use the C++11 ABI (torch {torch} {why})"
        return True, Source("assumed", detail)
    message = (
        f"the matrix tests cxx11abi, which cannot be known for torch {torch} {why} "
        f"on {platform}; state it with TORCHPINS_CXX11ABI=1 or 0 (or -C torchpins.cxx11abi=...)"
    )
    return None, Source("assumed", message, problem=message)


def _cxx11abi(
    installed: InstalledTorch | None,
    values: Mapping[str, FactValue],
    sources: Mapping[str, Source],
) -> tuple[FactValue, Source]:
    torch = values.get("torch")
    if sources["torch"].kind != "probed":
        return cxx11abi_assumed(
            torch if isinstance(torch, str) else None,
            values.get("platform"),
            f"from {sources['torch'].detail}",
        )
    if installed is None or installed.package is None:
        return None, Source("probed", sources["torch"].detail or "no torch installed")
    from torchpins.hardware import probe_cxx11abi

    reading = probe_cxx11abi(installed.package)
    if reading.value is None:
        fix = f"{reading.detail}. State it with TORCHPINS_CXX11ABI=1 or 0"
        return None, Source("probed", reading.detail, problem=fix)
    return reading.value, Source("probed", reading.detail)


def torch_elsewhere(environ: Mapping[str, str]) -> TorchHint | None:
    """When no torch is on the path: is this an isolated build environment that hides one? Looks
    in the environments a frontend may have hidden: the interpreter's own site-packages when it
    is not on ``sys.path`` (pip's isolation), ``$VIRTUAL_ENV`` and ``$CONDA_PREFIX``."""
    import sysconfig

    on_path = {os.path.realpath(entry) for entry in sys.path if entry}
    places: list[tuple[str, list[str]]] = []
    own = [sysconfig.get_paths()[key] for key in ("purelib", "platlib")]
    places.append((sys.prefix, own))
    for variable in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        prefix = environ.get(variable, "")
        if prefix and os.path.realpath(prefix) != os.path.realpath(sys.prefix):
            places.append((prefix, _site_packages(prefix)))
    for prefix, sites in places:
        hidden = [site for site in sites if os.path.realpath(site) not in on_path]
        if not hidden:
            continue
        installed = find_torch(hidden)
        if installed is not None and installed.problem is None:
            sentence = (
                f"this build runs in an isolated environment ({sys.prefix}), which does not see "
                f"the environment at {prefix}, where torch {installed.version} is installed"
            )
            return TorchHint(sentence, installed.version)
    if sys.prefix != sys.base_prefix and _looks_isolated(sys.prefix):
        return TorchHint(f"this build runs in an isolated environment ({sys.prefix})")
    return None


def _looks_isolated(prefix: str) -> bool:
    """The temporary environments build frontends make: pip-build-env-*, build-env-*, uv's
    builds-v0 cache."""
    text = prefix.replace("\\", "/")
    return any(part in text for part in ("pip-build-env-", "/build-env-", "/builds-v0/"))


def _site_packages(prefix: str) -> list[str]:
    import glob

    found = glob.glob(os.path.join(prefix, "lib", "python3*", "site-packages"))
    found += glob.glob(os.path.join(prefix, "lib64", "python3*", "site-packages"))
    found += glob.glob(os.path.join(prefix, "Lib", "site-packages"))
    return sorted(found)


def _platform_facts() -> dict[str, tuple[FactValue, Source]]:
    python = sys.version.split()[0]  # what platform.python_version() reads, without platform
    facts: dict[str, tuple[FactValue, Source]] = {
        "python": (python, Source("probed", "platform.python_version()")),
        "platform": (sys.platform, Source("probed", "sys.platform")),
        "machine": (_machine(), Source("probed", "platform.machine()")),
    }
    glibc: str | None = None
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        libc = ""
    name, _, version = libc.strip().partition(" ")
    if name == "glibc" and is_plain_release(version) and version.count(".") == 1:
        glibc = version
    detail = "os.confstr('CS_GNU_LIBC_VERSION')" if glibc else "not a glibc system"
    facts["glibc"] = (glibc, Source("probed", detail))
    assert set(facts) | set(TORCH_FACTS) == set(CORE_FACTS)
    return facts


def _machine() -> str:
    """``platform.machine()``; on POSIX it is ``os.uname().machine``, which skips importing
    :mod:`platform`."""
    if hasattr(os, "uname"):
        return os.uname().machine
    import platform

    return platform.machine()


def _leading_version(text: str | None) -> str | None:
    """``"12.8"`` -> ``"12.8"``; ``"6.3.42131-fa1d09cbd"`` (a HIP version) -> ``"6.3.42131"``."""
    if not text:
        return None
    leading = ""
    for character in text.strip():
        if not (character.isdigit() or character == "."):
            break
        leading += character
    leading = leading.split("..")[0].strip(".")
    return leading or None


def find_torch(path: Iterable[str] | None = None) -> InstalledTorch | None:
    """The torch distribution on ``path`` (default ``sys.path``) that ``import torch`` would use:
    the first directory holding one, as importlib.metadata finds it, plus its
    ``torch/version.py``. Reads a few small files; imports nothing. Two torch distributions in
    one directory (an upgrade that went wrong) are told apart by ``version.py``, or reported as a
    problem; a torch in a later directory is shadowed, which is reported as a warning."""
    entries = list(sys.path if path is None else path)
    found: list[tuple[str, list[tuple[str, str]]]] = []
    for entry in entries:
        directory = entry or "."
        distributions = _torch_distributions(directory)
        if distributions:
            found.append((directory, distributions))
    if not found:
        # A torch without dist-info (a source checkout on sys.path): its version.py still tells.
        return _torch_without_metadata(entries)
    directory, distributions = found[0]
    first = os.path.realpath(directory)
    warnings = [
        f"torch {later[0][0]} in {where} is shadowed by torch {distributions[0][0]} in "
        f"{directory}, which the build uses"
        for where, later in found[1:]
        if os.path.realpath(where) != first
    ]
    installed = _with_version_py(distributions[0][0], distributions[0][1], directory)
    if len({version for version, _ in distributions}) > 1:
        installed = _pick_among(installed, distributions, directory)
    return installed.replace(warnings=(*installed.warnings, *warnings))


def _torch_distributions(directory: str) -> list[tuple[str, str]]:
    """(version, metadata folder) of every torch distribution in ``directory``."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    found: list[tuple[str, str]] = []
    for name in sorted(names):
        stem, dot, suffix = name.rpartition(".")
        if suffix not in ("dist-info", "egg-info") or not dot:
            continue
        project, _, rest = stem.partition("-")
        if project.lower() != "torch":
            continue
        metadata_path = os.path.join(directory, name)
        # torch-2.8.0+cu128.dist-info, legacy torch-2.1.0-py3.11.egg-info, torch.egg-info
        version = _valid_version(rest.split("-")[0]) or _version_from_metadata(metadata_path)
        if version:
            found.append((version, metadata_path))
    return found


def _pick_among(
    installed: InstalledTorch, distributions: list[tuple[str, str]], directory: str
) -> InstalledTorch:
    names = ", ".join(os.path.basename(path) for _, path in distributions)
    code_version = installed.build.get("__version__")
    for version, metadata_path in distributions:
        if code_version and _same_version(version, code_version):
            stale = ", ".join(
                os.path.basename(path) for _, path in distributions if path != metadata_path
            )
            warning = (
                f"{directory} holds several torch distributions ({names}); torch/version.py "
                f"says {code_version}, so the build uses that one; remove the stale {stale}"
            )
            return installed.replace(
                version=version, metadata_path=metadata_path, warnings=(warning,)
            )
    problem = (
        f"{directory} holds several torch distributions ({names}) and torch/version.py does not "
        "say which one is installed; reinstall torch (pip install --force-reinstall torch==...) "
        "or name it with TORCHPINS_TORCH=<version>"
    )
    return installed.replace(problem=problem, warnings=())


def _same_version(one: str, other: str) -> bool:
    if is_plain_version(one) and is_plain_version(other):  # the usual case, without packaging
        return _plain_key(one) == _plain_key(other)
    from packaging.version import InvalidVersion, Version

    try:
        return Version(one) == Version(other)
    except InvalidVersion:
        return False


def _plain_key(text: str) -> tuple[tuple[int, ...], str]:
    """What packaging compares of a plain version: the release without trailing zeros (2.8 ==
    2.8.0), and the label."""
    release, _, label = text.partition("+")
    numbers = [int(part) for part in release.split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers), label


def _valid_version(text: str | None) -> str | None:
    if not text:
        return None
    if is_plain_version(text):
        return text  # the usual case, checked without importing packaging
    from packaging.version import InvalidVersion, Version

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
        problem = f"{metadata_path} has no torch/version.py beside it (a broken torch install)"
        return InstalledTorch(version, metadata_path, None, version_py_problem=problem)
    try:
        build = read_version_py(version_py)
    except VersionPyError as error:
        problem = f"{error} (a broken torch install)"
        return InstalledTorch(version, metadata_path, version_py, version_py_problem=problem)
    installed = InstalledTorch(version, metadata_path, version_py, build)
    code_version = build.get("__version__")
    if code_version and not _same_version(code_version, version):
        warning = (
            f"{metadata_path} says torch {version} but {version_py} says {code_version}: the "
            "install is mixed up; reinstall torch (pip install --force-reinstall torch==...)"
        )
        installed = installed.replace(warnings=(warning,))
    return installed


def _torch_without_metadata(path: Iterable[str] | None) -> InstalledTorch | None:
    version_py = _version_py_from_spec(path)
    if version_py is None:
        return None
    try:
        build = read_version_py(version_py)
    except VersionPyError:
        return None
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
    """The plain ``name = 'value'`` assignments of ``torch/version.py``, parsed, not executed.
    (The compiler's own ``_ast`` nodes: the :mod:`ast` module costs more to import than the whole
    probe.)
    :class:`VersionPyError` says why when the file cannot be read or parsed."""
    try:
        with open(path, "rb") as file:
            tree = compile(file.read(), path, "exec", _ast.PyCF_ONLY_AST)
    except OSError as error:
        raise VersionPyError(f"{path} cannot be read ({error.strerror or error})") from None
    except SyntaxError as error:
        raise VersionPyError(f"{path} does not parse ({error.msg}, line {error.lineno})") from None
    except ValueError as error:  # null bytes
        raise VersionPyError(f"{path} does not parse ({error})") from None
    values: dict[str, str | None] = {}
    for node in tree.body if isinstance(tree, _ast.Module) else []:
        if isinstance(node, _ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, _ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        constant = isinstance(value, _ast.Constant) and (
            value.value is None or isinstance(value.value, str)
        )
        if isinstance(target, _ast.Name) and constant:
            values[target.id] = value.value  # type: ignore[attr-defined]
    return values
